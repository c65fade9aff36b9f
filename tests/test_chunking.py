"""Sentences and passages: every span is exactly the article text at its offsets."""


from index.chunking import chunk_text, split_sentences
from index.ingest import read_corpus

from tests.conftest import CORPUS


def _texts(text, spans):
    return [text[s.start : s.end] for s in spans]


def test_sentences_respect_abbreviations_initials_and_quotes():
    text = "Russia on Sept. 30 launched strikes. Mr. Smith met J. R. Doe in the U.S. today! «Is it?» he asked.\nA headline"
    assert _texts(text, split_sentences(text)) == [
        "Russia on Sept. 30 launched strikes.",
        "Mr. Smith met J. R. Doe in the U.S. today!",
        "«Is it?» he asked.",
        "A headline",
    ]


def test_chunks_are_exact_spans_with_overlap_and_size_limit():
    text = " ".join(f"Sentence number {i} says something about item {i}." for i in range(40))
    chunks = chunk_text(text, max_chars=200)
    assert len(chunks) > 5
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "consecutive passages share a sentence"
    assert all(c.end - c.start <= 200 for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_overlong_sentence_is_cut_at_word_boundaries():
    text = "word " * 500
    chunks = chunk_text(text.strip(), max_chars=120)
    assert all(0 < c.end - c.start <= 120 for c in chunks)
    assert all(not text[c.start : c.end].startswith(" ") for c in chunks)


def test_every_passage_of_the_shipped_corpus_maps_back_to_its_article():
    articles, problems = read_corpus(CORPUS)
    assert not problems and len(articles) == 5
    for a in articles:
        spans = chunk_text(a.text)
        covered = set()
        for s in spans:
            assert a.text[s.start : s.end].strip() == a.text[s.start : s.end]
            covered.update(range(s.start, s.end))
        words = [i for i, ch in enumerate(a.text) if not ch.isspace()]
        assert all(i in covered for i in words), f"{a.id}: some text is in no passage"


def test_a_dateline_stays_with_the_sentence_it_opens():
    text = "TASHKENT, September 18. /TASS/. The Islamic State takes advantage. Next.\nMOSCOW, October 21. Services act."
    assert _texts(text, split_sentences(text)) == [
        "TASHKENT, September 18. /TASS/. The Islamic State takes advantage.",
        "Next.",
        "MOSCOW, October 21. Services act.",
    ]


def test_abbreviations_are_read_the_same_deep_into_a_long_line():
    # One line of many sentences (JSONL exports often have no line breaks): the word before each
    # full stop is looked for close by, and reads as it would at the start of the line.
    sentence = "Mr. Smith met Dr. J. Brown of Acme Inc. in the U.S. on Monday. "
    text = sentence * 400 + "A very long run xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.etc. Next one."
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans[:2]] == [sentence.strip()] * 2
    assert len(spans) == 400 + 2
    assert text[spans[-1].start : spans[-1].end] == "Next one."


def test_passages_carry_the_sentences_a_split_of_their_own_text_gives():
    from index.chunking import chunk_sentences

    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.iterdir()) if p.is_file()]
    texts.append("MOSCOW, October 21. Police detained two men. " + "A long clause without an end " * 60
                 + "went on. Mr. Smith said no.\nHeadline without stop\nNext line here.")
    checked = 0
    for text in texts:
        for passage, sentences in chunk_sentences(text, 300):
            own = text[passage.start : passage.end]
            assert [(s.start - passage.start, s.end - passage.start) for s in sentences] == \
                [(s.start, s.end) for s in split_sentences(own)], own
            checked += 1
    assert checked > 20
