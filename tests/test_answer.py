"""Answers with the real bundled model: quotes are verbatim, citations exact, noise is not cited."""

import pytest

from index.answer import MAX_ANSWER_CHARS, clip
from index.errors import BadQuestion

from tests.conftest import MOSCOW_ARTICLE, MOSCOW_Q

pytestmark = pytest.mark.model


def _check_quotes(result):
    """Every quoted sentence is a verbatim slice of a cited passage, at its highlight offsets."""
    cited = [c for c in result.citations if c.cited]
    assert cited
    for c in cited:
        assert f"[{c.n}]" in result.answer
        for start, end in c.highlights:
            assert c.text[start:end] in result.answer


def test_moscow_question_quotes_the_detained_supporters(corpus_engine):
    result = corpus_engine.ask(MOSCOW_Q)
    assert result.found
    assert "12 citizens of Russia" in result.answer and "supporters of the IG" in result.answer
    first = next(c for c in result.citations if c.cited)
    assert first.article_id == MOSCOW_ARTICLE and first.n == 1
    assert first.published is None and first.date_text == "October 21"
    article = corpus_engine.article(first.article_id)
    assert article["text"][first.start : first.end] == first.text
    assert len(result.answer) <= MAX_ANSWER_CHARS + 20  # quotes and markers around at most 400 chars of text
    _check_quotes(result)


@pytest.mark.parametrize("question", [
    "What is the capital of Australia?",
    "Who won the 2018 football World Cup?",
    "How do I bake sourdough bread?",
])
def test_unanswerable_questions_abstain_and_cite_nothing(corpus_engine, question):
    result = corpus_engine.ask(question)
    assert not result.found
    assert "could not find" in result.answer.lower() or "none of the words" in result.answer.lower()
    assert not any(c.cited for c in result.citations)


def test_question_in_russian_is_answered_from_the_english_articles(corpus_engine):
    result = corpus_engine.ask("Кто был задержан в Москве в октябре?")
    assert result.found and "12 citizens of Russia" in result.answer
    assert result.dates == ["October"]


def test_citations_are_numbered_in_the_order_the_answer_quotes_them(corpus_engine):
    for question in ["Which arrests took place on October 19?", "What did Peskov say about the captives?",
                     "How many Russian citizens take part in the activities of the Islamic State?"]:
        result = corpus_engine.ask(question)
        assert result.found
        markers = [int(n) for n in __import__("re").findall(r"\[(\d+)\]", result.answer)]
        assert markers[0] == 1 and markers == sorted(markers)
        assert [c.n for c in result.citations] == list(range(1, len(result.citations) + 1))
        assert all(c.cited for c in result.citations[: len(set(markers))])


def test_not_found_lists_no_sources_and_says_which_date_is_missing(corpus_engine):
    result = corpus_engine.ask("What happened in Paris on 14 July?")
    assert not result.found and result.citations == []
    assert "14 July" in result.answer and result.dates == ["14 July"]


def test_confidence_separates_answers_from_declines(corpus_engine):
    good = corpus_engine.ask("Who was detained in Moscow in October?")
    bad = corpus_engine.ask("What is the capital of Australia?")
    assert good.found and not bad.found and good.confidence > 0.5 > bad.confidence


@pytest.mark.parametrize("question, message", [
    ("", "empty"), ("   \n\t ", "empty"), ("x" * 100_000, "100,000 characters"), ("\x00\x07\x1b", "empty"), ("?!...", "no words"),
])
def test_bad_questions_get_a_clear_message(corpus_engine, question, message):
    with pytest.raises(BadQuestion, match=message):
        corpus_engine.ask(question)


def test_control_characters_inside_a_real_question_are_ignored(corpus_engine):
    result = corpus_engine.ask("Who was\x00 detained in\x1b Moscow\u200b in October?")
    assert result.found and "12 citizens" in result.answer


def test_k_out_of_range_is_refused(corpus_engine):
    with pytest.raises(BadQuestion, match="k must be"):
        corpus_engine.ask(MOSCOW_Q, k=0)


def test_clip_keeps_an_overlong_sentence_verbatim_around_the_question_words():
    text = ("filler " * 100) + "the detained supporters were twelve " + ("filler " * 100)
    start, end = clip(text, 0, len(text), {"detain": 2.0, "support": 1.0}, limit=120)
    assert end - start <= 120 and "detained supporters" in text[start:end]
    assert text[start:end] in text and not text[start:end].startswith(" ")


def test_a_question_with_nothing_to_look_up_asks_for_specifics(corpus_engine):
    result = corpus_engine.ask("Who is he?")
    assert not result.found and "too vague" in result.answer


def test_expected_answer_kind_from_the_question_word():
    from index.answer import expected_kind, kind_bonus

    when = expected_kind("When did Russia launch airstrikes?")
    assert kind_bonus(when, "Russia on Sept. 30 launched airstrikes.", "When did Russia launch airstrikes?") == 1.0
    assert kind_bonus(when, "Russia launched airstrikes in Syria.", "When did Russia launch airstrikes?") == 0.0
    many = expected_kind("How many people were killed?")
    assert kind_bonus(many, "It killed all 224 people aboard.", "How many people were killed?") == 1.0
    assert kind_bonus(many, "in 2015 there were 2015 deaths", "How many deaths in 2015?") == 0.0
    assert expected_kind("Why did he leave?") is None


def test_clip_prefers_the_rare_question_words_and_marks_the_cut(corpus_copy, tmp_path, real_embedder):
    from index.build import build_index
    from index.engine import Engine

    groups = ", ".join(f"volunteer group number {i} from the western suburbs arrived" for i in range(12))
    (corpus_copy / "long.txt").write_text(
        "A very long sentence about the volunteer groups\n\n"
        f"The relief effort began when {groups}, and the whole work was completed in March by the Zebulon brigade.\n")
    build_index(corpus_copy, tmp_path / "data", real_embedder)
    result = Engine(tmp_path / "data", real_embedder).ask("Which brigade completed the relief work?")
    assert result.found and "Zebulon brigade" in result.answer
    assert result.answer.startswith("“… ")
    cited = next(c for c in result.citations if c.cited)
    start, end = cited.highlights[0]
    assert cited.text[start:end] in result.answer
