"""Answers with the real bundled model: quotes are verbatim, citations exact, noise is not cited."""

import pytest

from index.answer import MAX_ANSWER_CHARS, SECOND_MAX_CHARS, clip
from index.terms import word_keys
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
    assert len(result.answer) <= MAX_ANSWER_CHARS + SECOND_MAX_CHARS + 40  # quotes, markers, "…" around the text
    _check_quotes(result)


def test_a_second_sentence_when_the_first_may_miss_or_the_next_is_about_as_likely():
    """Two sentences about as likely (two detentions in Moscow in October) are both quoted; a confident
    first stands alone; an unsure first brings the next when that one might hold the answer."""
    from index.answer import _Candidate, _second

    def cands(*scores):
        return [_Candidate(0, 10 * i, 10 * i + 9, f"sentence {i}", 0.0, 0.0, 0.0, score=p) for i, p in enumerate(scores)]

    tied = cands(0.8, 0.75, 0.1)
    assert _second(tied[0], tied, 300) is tied[1]
    sure = cands(0.8, 0.5)
    assert _second(sure[0], sure, 300) is None
    unsure = cands(0.6, 0.2)
    assert _second(unsure[0], unsure, 300) is unsure[1]
    hopeless = cands(0.6, 0.05)
    assert _second(hopeless[0], hopeless, 300) is None


def _passages(*spans: tuple[str, int]):
    """Citations for passages given as (article id, start in the article)."""
    from index.answer import Citation

    return [Citation(n=i + 1, article_id=a, title="t", source=None, published=None, date_text=None, url=None,
                     text="", start=start, end=start + 500, score=1.0, passage_id=i) for i, (a, start) in enumerate(spans)]


def test_the_sentence_after_one_lacking_the_asked_kind_comes_with_it_when_it_holds_that_kind():
    """News restates the question in one sentence and answers it in the next: "How long was the video?"
    quoting "A video ... has been released" brings "In the 42-second video ..." after it, and only that one."""
    from index.answer import _MEASURE, _Candidate, _continuation

    lead = _Candidate(0, 0, 50, "A video showing two captives has been released.", 0.9, 0.9, 0.0, score=0.6)
    follow = _Candidate(0, 51, 90, "In the 42-second video, two men appeared.", 0.2, 0.5, 1.0, score=0.05)
    other_article = _Candidate(1, 51, 90, "The video lasted 42 seconds.", 0.2, 0.5, 1.0, score=0.3)
    cites = _passages(("a", 0), ("b", 0))
    assert _continuation(lead, [lead, other_article, follow], _MEASURE, 300, cites) is follow
    assert _continuation(lead, [lead, follow], None, 300, cites) is None  # no kind asked
    assert _continuation(lead, [lead, follow], _MEASURE, 20, cites) is None  # no room
    holds = _Candidate(0, 0, 50, "A two-minute video has been released.", 0.9, 0.9, 1.0, score=0.6)
    assert _continuation(holds, [holds, follow], _MEASURE, 300, cites) is None  # the first holds it already
    plain = _Candidate(0, 51, 90, "Two men appeared in it.", 0.2, 0.5, 0.0, score=0.05)
    assert _continuation(lead, [lead, plain], _MEASURE, 300, cites) is None  # the next one does not either
    # The sentence after may open the article's next retrieved passage (here starting at article offset 51).
    next_passage = _Candidate(1, 0, 39, "In the 42-second video, two men appeared.", 0.2, 0.5, 1.0, score=0.05)
    assert _continuation(lead, [lead, next_passage], _MEASURE, 300, _passages(("a", 0), ("a", 51))) is next_passage


def test_a_who_question_reads_on_to_the_sentence_that_names_someone():
    """News tells what happened before naming whom it happened to: a "who" question whose quoted sentence names
    nobody takes the first of the next few sentences that names a person and speaks of the same thing."""
    from index.answer import _PERSON, NAME_REACH, _Candidate, _continuation

    def sent(i: int, text: str, kind: float, ci: int = 0) -> _Candidate:
        return _Candidate(ci, i * 100, i * 100 + 90, text, 0.2, 0.5, kind, score=0.05)

    lead = sent(0, "A video showing two Russian captives has been released; the men were captured in battle.", 0.0)
    filler = [sent(i, "The footage shows a room with grey walls.", 0.0) for i in range(1, NAME_REACH)]
    named = sent(NAME_REACH, "In the video, a man identifies himself as Roman Zabolotny.", 1.0)
    cites = _passages(("a", 0), ("b", 0))
    assert _continuation(lead, [lead, named, *filler], _PERSON, 300, cites) is named
    # Someone named in the same words' neighbourhood but not as the man or the captives is not them.
    unrelated = sent(NAME_REACH, "Critics say Russia backs Syrian President Bashar Assad in the captured city.", 1.0)
    assert _continuation(lead, [lead, *filler, unrelated], _PERSON, 300, cites) is None
    too_far = sent(NAME_REACH + 1, named.text, 1.0)
    assert _continuation(lead, [lead, *filler, sent(NAME_REACH, filler[0].text, 0.0), too_far], _PERSON, 300,
                         cites) is None
    elsewhere = sent(1, named.text, 1.0, ci=1)
    assert _continuation(lead, [lead, elsewhere], _PERSON, 300, cites) is None  # another article
    from index.answer import _MEASURE
    assert _continuation(lead, [lead, *filler, named], _MEASURE, 300, cites) is None  # only "who" reads on
    ru_lead = sent(0, "В Москве задержан мужчина, подозреваемый в вербовке.", 0.0)
    ru_named = sent(2, "Задержанным оказался Иван Петров из Казани.", 1.0)
    assert _continuation(ru_lead, [ru_lead, sent(1, "Его доставили в отдел.", 0.0), ru_named], _PERSON, 300,
                         cites) is ru_named


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


@pytest.mark.parametrize("question, quoted", [
    ("What happened on October 13?", "Bortnikov"),
    ("What happened on 21 October?", "Russian security services are taking"),
    ("Что произошло 16.10.2015?", "Krasnodar"),
])
def test_a_question_asking_only_about_a_day_quotes_what_the_articles_say_of_it(corpus_engine, question, quoted):
    result = corpus_engine.ask(question)
    assert result.found and quoted in result.answer


def test_a_day_no_sentence_states_is_answered_from_an_article_of_that_day(corpus_engine):
    result = corpus_engine.ask("What happened on 3 December 2015?")  # 004 is dated 03/12/2015
    assert result.found and result.citations[0].article_id == "004_d046a75599c10844"
    assert not corpus_engine.ask("What happened on 4 December 2015?").found


def test_a_sentence_shared_by_overlapping_passages_is_one_candidate(corpus_engine):
    """Passages overlap by a sentence; counted twice, the sentence was its own runner-up and the
    confidence fell below the threshold."""
    from index import answer, store
    from index.query import analyse
    from index.search import hybrid_search

    result = corpus_engine.ask("Who is Alexander Bortnikov?")
    assert result.found and "FSB Director Alexander Bortnikov" in result.answer
    snap = corpus_engine.snapshot()
    db = snap.db()
    query = analyse("Who is Alexander Bortnikov?", lambda keys: store.key_frequencies(db, keys), snap.passage_count,
                    snap.vocabulary)
    qvec = corpus_engine.embedder.encode_queries(["Who is Alexander Bortnikov?"])[0]
    hits = hybrid_search(db, snap.index, qvec, query, 10)
    citations = [answer.Citation(n=i + 1, article_id=h.article_id, title=h.title, source=h.source, published=h.published,
                                 date_text=h.date_text, url=h.url, text=h.text, start=h.start, end=h.end, score=h.score,
                                 passage_id=h.passage_id) for i, h in enumerate(hits)]
    sentences = store.sentences_of(db, [h.passage_id for h in hits[: answer.SENTENCE_PASSAGES]])
    cands = answer._candidates(query, citations, sentences, qvec, corpus_engine.embedder.encode_documents, None)
    where = [(citations[c.ci].article_id, citations[c.ci].start + c.start) for c in cands]
    assert len(where) == len(set(where))


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


def test_a_question_none_of_whose_words_occur_suggests_the_articles_language(corpus_engine):
    """A Russian question about something the English articles never mention: nothing matches by word or meaning."""
    result = corpus_engine.ask("Как зовут президента Франции?")
    assert not result.found and not [c for c in result.citations if c.cited]
    assert "None of the words" in result.answer and "language the articles are written in" in result.answer


def test_expected_answer_kind_from_the_question_word():
    from index.answer import expected_kind, kind_bonus

    when = expected_kind("When did Russia launch airstrikes?")
    assert kind_bonus(when, "Russia on Sept. 30 launched airstrikes.", "When did Russia launch airstrikes?") == 1.0
    assert kind_bonus(when, "Russia launched airstrikes in Syria.", "When did Russia launch airstrikes?") == 0.0
    many = expected_kind("How many people were killed?")
    assert kind_bonus(many, "It killed all 224 people aboard.", "How many people were killed?") == 1.0
    assert kind_bonus(many, "in 2015 there were 2015 deaths", "How many deaths in 2015?") == 0.0
    assert expected_kind("Why did he leave?") is None
    long_q = "How long was the video of the Russian captives?"
    length = expected_kind(long_q)
    assert kind_bonus(length, "In the 42-second video, two men appeared.", long_q) == 1.0
    assert kind_bonus(length, "A video showing two Russian captives was released.", long_q) < 1.0
    ru = "Сколько длилось видео с пленными?"
    assert kind_bonus(expected_kind(ru), "Видео длилось 42 секунды.", ru) == 1.0
    assert kind_bonus(expected_kind("How long is the Rhine?"), "The Rhine is 1,230 km long.", "How long is the Rhine?") == 1.0


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


def _features(question, sentences, frequencies):
    from index.answer import _Candidate, coverage, sentence_features
    from index.query import analyse
    from index.search import Hit

    query = analyse(question, lambda keys: {k: frequencies.get(k, 1) for k in keys}, 1000)
    text = " ".join(sentences)
    cands, at = [], 0
    for s in sentences:
        start = text.index(s, at)
        at = start + len(s)
        cands.append(_Candidate(0, start, at, s, coverage(query, s), 0.5, 0.0))
    hit = Hit(1, "a", 1.0, 1, 1.0, 1, 1.0, text, 0, len(text), "t", None, None, None, None)
    return sentence_features(query, cands, [coverage(query, text)], [hit], None)


def test_sentence_features_weigh_the_words_that_tell_the_sentences_apart():
    """The article's topic ("Black Death", in every sentence) weighs less than the word only one
    sentence holds ("blamed"), although the topic words are rarer in the whole index."""
    sentences = ["The Black Death ravaged much of the Islamic world.",
                 "The Black Death reached Paris, where a report blamed the heavens.",
                 "The Black Death killed a third of Europe."]
    rows = _features("What was the Black Death blamed on?", sentences, {"black": 5, "death": 5, "blame": 40})
    assert rows[1]["lcov"] > rows[0]["lcov"] + 0.3
    assert rows[0]["cnorm"] < 1.0 and rows[1]["cnorm"] == 1.0 and rows[1]["lnorm"] == 1.0
    assert [r["first"] for r in rows] == [1.0, 0.0, 0.0]
    assert rows[1]["prevcov"] > 0 and rows[2]["nextcov"] == 0.0


def test_sentence_features_count_question_word_pairs_that_stand_together():
    sentences = ["Venom formed in Newcastle in 1979 and is reckoned the first black metal band.",
                 "Black clouds and heavy metal music filled the first night."]
    rows = _features("Which band was the first black metal band?", sentences, {})
    assert rows[0]["pairs"] > rows[1]["pairs"]
    assert rows[0]["pairs"] == 0.75  # "band ... first" is the one pair not in that order


def test_sentence_features_mark_the_sentence_stating_the_asked_date():
    sentences = ["On 16 October a man was arrested in Krasnodar.",
                 "On 19 October police detained 22 participants of a rally."]
    rows = _features("Which arrests took place on October 19?", sentences, {})
    assert [r["sdate"] for r in rows] == [0.0, 1.0]
    assert _features("Which arrests took place in Krasnodar?", sentences, {})[0]["sdate"] == 0.0


def test_sentence_features_let_a_pronoun_stand_for_the_name_said_before_it():
    """"He spent three months in custody" answers "Why was Balakshin released?" although it does not
    repeat the name: the passage named him before. A sentence with no pronoun, or a name only after it,
    inherits nothing."""
    sentences = ["Balakshin turned to Islam and went to Syria.",
                 "He spent three months in custody but was released as there was no evidence.",
                 "The investigation was released to the press.",
                 "Police released Petrov, and his lawyer spoke."]
    rows = _features("Why was Balakshin released?", sentences, {"balakshin": 2, "releas": 3})
    assert rows[1]["coref"] > 0.3
    assert rows[0]["coref"] == 0.0 and rows[2]["coref"] == 0.0
    assert rows[3]["coref"] > 0.3  # "his" may mean Balakshin, named earlier in the passage
    assert _features("Why was Balakshin released?", sentences[1:], {})[0]["coref"] == 0.0  # nobody named before


def test_a_pronoun_stands_for_a_name_an_earlier_passage_of_the_article_gave():
    from index.answer import _Candidate, coverage, sentence_features
    from index.query import analyse
    from index.search import Hit

    query = analyse("Why was Balakshin released?", lambda keys: {k: 2 for k in keys}, 1000)
    first = "Balakshin explained how he was offered to conduct a suicide bombing."
    later = "He spent three months in custody but was released as there was no evidence."
    other = "He was released on bail in Moscow."

    def hit(pid, article, text, start):
        return Hit(pid, article, 1.0, 1, 1.0, 1, 1.0, text, start, start + len(text), "t", None, None, None, None)

    hits = [hit(2, "a", later, 200), hit(3, "b", other, 0), hit(1, "a", first, 0)]
    cands = [_Candidate(i, 0, len(h.text), h.text, coverage(query, h.text), 0.5, 0.0) for i, h in enumerate(hits)]
    rows = sentence_features(query, cands, [c.cov for c in cands], hits, None)
    assert rows[0]["coref"] > 0.3   # article "a" named Balakshin in the passage before
    assert rows[1]["coref"] == 0.0  # article "b" never did


def test_sentence_features_mark_the_noun_a_which_question_asks_for():
    from index.answer import question_head

    assert question_head("Which agency released the video?") == {"agenc"}
    assert question_head("What type of drugs are used?") == {"drug"}
    assert question_head("В какой стране он родился?") == {"стран"}
    assert question_head("What is the name of the castle?") == set()
    assert question_head("Who released the video?") == set()
    sentences = ["A video of two captives was released by the group.",
                 "It was released on the group's Amaq news agency."]
    rows = _features("Which agency released the video?", sentences, {})
    assert [r["head"] for r in rows] == [0.0, 1.0]


def test_a_sentence_opening_with_a_discourse_link_brings_the_one_before():
    from index.answer import PRONOUN_START

    for text in ["At this point he decided to escape.", "For this reason, the talks failed.",
                 "That is why he left.", "Тогда он решил бежать.", "В ответ Россия ввела санкции."]:
        assert PRONOUN_START.match(text), text
    for text in ["Atlanta is a large city.", "Тогдашний мэр ушёл.", "Thereafter the city grew."]:
        assert not PRONOUN_START.match(text), text


def test_cased_form_follows_how_the_articles_write_a_word_inside_sentences():
    from index.query import cased_form

    texts = ["He identifies him as Grigory Tsurkanu from Domodedovo. Tsurkanu was shown captive.",
             "Reports on Tsurkanu vary."]
    assert cased_form("tsurkanu", texts) == "Tsurkanu"
    assert cased_form("captive", texts) is None               # written in lower case there
    assert cased_form("reports", texts) is None               # capital only where a sentence opens
    assert cased_form("zabolotny", texts) is None             # not in these passages


def test_rare_lower_case_names_are_embedded_as_the_articles_write_them(corpus_engine):
    """A question typed in lower case is embedded like the same question with its names capitalised;
    common words and words typed with capitals are left as typed."""
    query, *_ = corpus_engine._prepare("where is grigory tsurkanu from")
    assert query.dense_text() == "where is Grigory Tsurkanu from"
    query, *_ = corpus_engine._prepare("who was detained in moscow")
    assert "who was detained in" in query.dense_text()        # "detained" is no name
    query, *_ = corpus_engine._prepare("Where is Grigory Tsurkanu from?")
    assert query.cased == {}


def test_a_russian_first_name_is_found_in_latin_letters_whole_not_by_its_stem(corpus_engine):
    query, *_ = corpus_engine._prepare("Кто такой Сергей Смирнов?")
    assert {c.to_dict()["used"] for c in query.corrections} == {"Sergey", "Smirnov"}
    assert query.matched_share == 1.0


def test_a_long_first_sentence_still_leaves_room_for_the_runner_up(monkeypatch, fake_embedder):
    """When the sentence model is unsure of a long first sentence, the runner-up is quoted too: it has
    room of its own instead of what the first left of one shared budget."""
    from index import answer, calibration
    from index.query import analyse
    from index.search import Hit

    long_first = ("The treaty that the delegates debated for many weeks in the old city hall was finally signed "
                  "after a long series of meetings, " + "consultations and amendments, " * 8 + "by all parties.")
    runner_up = "The treaty was signed in 1992."
    text = long_first + " " + runner_up
    assert MAX_ANSWER_CHARS - 40 < len(long_first) <= MAX_ANSWER_CHARS - 12  # quoted whole, little left over
    hit = Hit(passage_id=1, article_id="a", score=1.0, keyword_rank=1, keyword_score=1.0, vector_rank=1,
              vector_score=1.0, text=text, start=0, end=len(text), title="T", source=None, published=None,
              date_text=None, url=None)
    query = analyse("When was the treaty signed?", lambda keys: {k: 1 for k in keys}, 10)
    chance = {long_first: 0.5, runner_up: 0.4}  # the model's P(holds the answer): unsure of the first
    monkeypatch.setattr(answer, "sentence_features", lambda q, cands, *a: [{"p": chance[c.text]} for c in cands])
    monkeypatch.setattr(calibration, "score", lambda entry, x: x.get("p", 0.9))
    monkeypatch.setattr(calibration, "threshold", lambda model: 0.2)
    result = answer.compose(query, [hit], fake_embedder.encode_queries(["q"])[0], fake_embedder.encode_documents)
    assert result.found and long_first in result.answer and runner_up in result.answer
    assert result.citations[0].highlights == [[0, len(long_first)], [len(long_first) + 1, len(text)]]


def test_a_number_the_question_gives_is_not_the_answer_to_how_many_or_how_long():
    from index.answer import expected_kind, kind_bonus, number_values

    assert number_values("с двумя пленными, 42-second, 1,5 тысячи") == {2.0, 42.0, 1.5, 1000.0}
    q = "Сколько длилось видео с двумя российскими пленными?"
    kind = expected_kind(q)
    assert kind_bonus(kind, "A video showing two Russian captives has been released.", q) == 0.0
    assert kind_bonus(kind, "In the 42-second video, two men appeared briefly.", q) == 1.0


def test_a_sure_first_sentence_lacking_the_asked_kind_brings_the_likeliest_one_holding_it():
    """"When was the video released?" quoting "A video ... has been released" (sure, but no date) brings the
    sentence saying "on Tuesday" when it is likely enough; one holding the kind needs no help."""
    from index.answer import SECOND_MIN_P, _YEAR_OR_DATE, _Candidate, _kind_runner

    lead = _Candidate(0, 0, 50, "A video showing two captives has been released.", 0.9, 0.9, 0.0, score=0.75)
    plain = _Candidate(0, 51, 90, "Two men appeared in it.", 0.5, 0.5, 0.0, score=0.2)
    dated = _Candidate(1, 0, 60, "The video was released on Tuesday.", 0.7, 0.8, 1.0, score=0.15)
    assert _kind_runner(lead, [lead, plain, dated], _YEAR_OR_DATE, 300) is dated
    assert _kind_runner(lead, [lead, plain, dated], None, 300) is None
    unlikely = _Candidate(1, 0, 60, "The video was released on Tuesday.", 0.7, 0.8, 1.0, score=SECOND_MIN_P / 2)
    assert _kind_runner(lead, [lead, plain, unlikely], _YEAR_OR_DATE, 300) is None
    holds = _Candidate(0, 0, 50, "A video was released on Monday.", 0.9, 0.9, 1.0, score=0.75)
    assert _kind_runner(holds, [holds, dated], _YEAR_OR_DATE, 300) is None


def test_how_many_wants_a_count_not_a_date_nor_a_digit_of_the_question():
    from index.answer import expected_kind, kind_bonus

    q = "How much oil does ISIS sell per day?"
    assert kind_bonus(expected_kind(q), "Russia on Sept. 30 launched airstrikes on the oil trade.", q) == 0.0
    assert kind_bonus(expected_kind(q), "It sells 40,000 barrels a day.", q) == 1.0
    q = "How much can ctenophores eat in one day?"  # "ten" is not the "ten" inside "ctenophores"
    assert kind_bonus(expected_kind(q), "Ctenophores can eat ten times their own weight in a day.", q) == 1.0
    q = "How many viewers did the networks have in 1980?"  # nor a digit of the question's year
    assert kind_bonus(expected_kind(q), "By 1980 the networks had 90% of all viewers.", q) == 1.0
    assert kind_bonus(expected_kind(q), "By 1980 the networks had most viewers.", q) == 0.0


@pytest.mark.parametrize("sentence", [
    "Interest has grown since the 1990s.", "The statement came on Wednesday.", "The ice retreated 22,000 years ago.",
    "Заявление прозвучало в среду.", "Банк создан три года назад."])
def test_when_is_answered_by_decades_weekdays_and_relative_dates(sentence):
    from index.answer import expected_kind, kind_bonus

    assert kind_bonus(expected_kind("When was it said?"), sentence, "When was it said?") == 1.0


def test_who_questions_want_a_person_not_an_institution():
    from index.answer import expected_kind, kind_bonus

    q = "What are the names of the two Russians shown captive?"
    kind = expected_kind(q)
    assert kind_bonus(kind, "A video has been released by the Islamic State group on Wednesday.", q) == 0.0
    assert kind_bonus(kind, "A man identifies himself as Roman Zabolotny.", q) == 1.0


def test_a_question_word_is_held_in_translation():
    """A Russian question word meets its English translation, to the degree the words are close; words
    in the question's own script are left to stemming."""
    from index.bridge import bundled
    from index.terms import QueryTerm

    terms = [QueryTerm(w, word_keys(w)) for w in ("потерял", "ногу", "склад")]
    held = bundled().held(terms, ["As a result he lost his leg.", "The video was released on Wednesday.",
                                  "Он потерял ногу."])
    assert held[0][terms[0]] > 0.8 and held[0][terms[1]] > 0.8 and terms[2] not in held[0]
    assert held[1] == {}
    assert held[2] == {}, "same-script words are matched by their stems, not here"


def test_a_long_sentence_in_another_language_is_clipped_around_the_words_held_in_translation():
    """A Russian question quoting a 500-character English sentence keeps the part with the English word for
    the question's word ("беженцах": "refugees"), not just its opening."""
    from index.answer import MAX_ANSWER_CHARS, _Candidate, _focus, clip
    from index.bridge import bundled
    from index.query import analyse

    text = ("October 13, at the visiting session of the National antiterrorist Committee in Nalchik its Chairman, "
            "FSB Director Alexander Bortnikov said that due to successful actions of Syrian government forces "
            "with the support of the Armed forces of Russia, which led to the dispersion of a number of large "
            "gatherings of militants, there is information on the efforts of terrorists trying to leave the "
            "combat zone and using established corridors transporting refugees to infiltrate Europe and Asia, "
            "as well as in Russia, for the purpose of conducting terrorist attacks.")
    query = analyse("Что говорили о беженцах?", lambda keys: {k: 1 for k in keys}, 10)
    (found,) = bundled().matches(list(query.weights), [text])
    assert [w for w, _ in found.values()] == ["refugees"]
    best = _Candidate(0, 0, len(text), text, 0.3, 0.5, 0.0, via={t: st for t, (_, st) in found.items()})
    lo, hi = clip(text, 0, len(text), _focus(query, best, MAX_ANSWER_CHARS), MAX_ANSWER_CHARS)
    assert "refugees" in text[lo:hi]
    lo, hi = clip(text, 0, len(text), _focus(query, _Candidate(0, 0, len(text), text, 0.3, 0.5, 0.0), 400), 400)
    assert "refugees" not in text[lo:hi], "without the words held in translation the opening is kept"


def test_an_article_of_the_asked_day_is_told_from_its_lead():
    """"What happened on 3 December?": every passage of an article published that day matches the day alike,
    so the article's passages go in reading order, where its best one stood; other articles keep theirs."""
    from index.answer import _leads_first
    from index.search import Hit

    def hit(article, start, dated):
        return Hit(start, article, 1.0, 1, 1.0, 1, 1.0, "x", start, start + 100, "t", None, None, None, None,
                   date_match=True, article_date_match=dated)

    hits = [hit("day", 900, True), hit("other", 500, False), hit("day", 0, True), hit("other", 0, False)]
    assert [(h.article_id, h.start) for h in _leads_first(hits)] == [("day", 0), ("day", 900), ("other", 500),
                                                                     ("other", 0)]


@pytest.mark.parametrize("question", ["What happened on 3 December 2015?", "What happened on 2015/12/03?",
                                      "What happened on 03.12.15?", "Что произошло 3 дек. 2015 г.?"])
def test_every_form_of_a_day_gets_the_lead_of_that_days_article(corpus_engine, question, monkeypatch):
    def no_live_encoding(texts):
        raise AssertionError(f"sentences embedded while answering, not read from the index: {texts[:2]}")

    monkeypatch.setattr(corpus_engine.embedder, "encode_documents", no_live_encoding)
    result = corpus_engine.ask(question)
    assert result.found and result.dates == ["3 December 2015"]
    assert "released a video in which a Russian-speaking man confesses" in result.answer


def test_someone_the_articles_do_not_name_is_declined_with_whom_they_do(corpus_engine):
    result = corpus_engine.ask("Who is Magomed Petrov?")
    assert not result.found and not result.citations
    assert "Magomed Petrov" in result.answer and "Magomed Khasayev" in result.answer
    assert corpus_engine.ask("Who is Magomed Khasaev?").found


def test_where_questions_want_a_place_not_an_institution_or_a_people():
    from index.answer import expected_kind, kind_bonus

    q = "Where were the two captives said to have been captured?"
    kind = expected_kind(q)
    assert kind_bonus(kind, "A video showing two Russian captives was released by the Islamic State group.", q) == 0.0
    assert kind_bonus(kind, "Two Russian men were captured in al-Shalo village in Deir Az Zor province.", q) == 1.0
    q = "Which agency released the video?"
    assert kind_bonus(expected_kind(q), "It was released by the Islamic State's news agency.", q) == 1.0
