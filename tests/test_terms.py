"""Keyword terms by script, dates found in text, question terms and corrections: pure functions."""

import pytest

from index.dates import find_dates
from index.followup import is_followup, points_to_person, resolve_followup
from index.query import analyse, correct, parse_terms, transliterate
from index.terms import QueryTerm, index_terms, text_keys, word_keys


def test_russian_word_forms_meet():
    assert text_keys("Дмитрия Пегова") & text_keys("Дмитрий Пегов") >= {word_keys("Пегова")[0]}
    assert set(word_keys("задержали")) & set(word_keys("задержан"))
    assert word_keys("Москве") == word_keys("Москва")[:1] or set(word_keys("Москве")) & set(word_keys("Москва"))
    assert word_keys("ёлка") == word_keys("елка")


def test_english_word_forms_meet_including_irregular_ones():
    assert word_keys("detained") == word_keys("detain")
    assert word_keys("lost") == word_keys("lose")
    assert word_keys("supporters") == word_keys("supporter")
    assert word_keys("Peskov's") == word_keys("Peskov")
    assert word_keys("Zürich") == word_keys("Zurich")


@pytest.mark.parametrize("text, expected", [
    ("Russia on Sept. 30 launched airstrikes", [(None, 9, 30)]),
    ("19 October in Moscow detained 22", [(None, 10, 19)]),
    ("on 19.10.2015 and 2015-10-21", [(2015, 10, 19), (2015, 10, 21)]),
    ("МОСКВА, 24 октября. /ТАСС/.", [(None, 10, 24)]),
    ("в октябре 2015 года", [(2015, 10, None)]),
    ("What happened in October?", [(None, 10, None)]),
    ("What happened in 2015?", [(2015, None, None)]),
    ("Oct. 19th, 2015", [(2015, 10, 19)]),
    ("May I ask what happened in May?", [(None, 5, None)]),
    ("31 February: no such day, the month stays", [(None, 2, None)]),
    ("on 2015/10/19 and 2015.10.21", [(2015, 10, 19), (2015, 10, 21)]),
    ("19.10.15, not version 1.2.3", [(2015, 10, 19)]),
    ("19 окт. и 3 сент. 2015 г.", [(None, 10, 19), (2015, 9, 3)]),
    # both days of a range or pair, each with the month
    ("19-20 октября", [(None, 10, 19), (None, 10, 20)]),
    ("с 11 по 19 октября", [(None, 10, 11), (None, 10, 19)]),
    ("between 11 and 19 October 2015", [(2015, 10, 11), (2015, 10, 19)]),
    ("October 11-19", [(None, 10, 11), (None, 10, 19)]),
    ("Room 5 - 19 October", [(None, 10, 19)]),
    # a year is four digits alone: not the start of a longer number or code, nor a season's "2015-16"
    ("Report 20151, case 120151, id 56d20650e7, in 2015.", [(2015, None, None)]),
    ("the 2015-16 season, the 1990s", [(1990, None, None)]),
])
def test_dates_in_every_common_form(text, expected):
    got = [(m.date.year, m.date.month, m.date.day) for m in find_dates(text)]
    assert got == expected


def test_a_partial_date_never_gets_a_year():
    (mention,) = find_dates("on 19 October")
    assert mention.date.year is None and mention.label() == "19 October"


def test_passage_terms_carry_date_tokens_and_the_article_date():
    terms = index_terms("19 October in Moscow detained 22 people", published=None, date_text="October 21").split()
    assert "dm1019" in terms and "m10" in terms and "pdm1021" in terms
    assert "y2015" not in terms, "a year the article does not state is not invented"
    assert "mu10" in terms and "pmu10" in terms, "an October of a year unknown"


def test_a_month_without_a_year_takes_it_from_the_article_date():
    """The October an article of 3 December 2015 speaks of is October 2015; the December of an article of
    3 July 2015 is December 2014. A question about a month and year matches those, and months the articles
    give no year for (they may be that one), not the same month of another stated year."""
    from index.terms import date_query_tokens

    terms = set(index_terms("A plane was bombed in mid-October; in December it began", "2015-12-03", None).split())
    assert {"ym201510", "ym201512", "y2015"} <= terms and not any(t.startswith("mu") for t in terms)
    terms = set(index_terms("In December it began, in May it ended", "2015-07-03", None).split())
    assert {"ym201412", "ym201505"} <= terms
    (asked,) = find_dates("What happened in October 2015?")
    keys = set(date_query_tokens(asked))
    assert keys & set(index_terms("It was bombed in mid-October.", "2015-12-03", None).split())
    assert keys & set(index_terms("On 11 October they were detained.", None, "October 21").split())
    assert not keys & set(index_terms("In October 2014 they were detained.", None, None).split())
    assert not keys & set(index_terms("In October they were detained.", "2016-12-01", None).split())


def test_question_terms_drop_stop_words_and_framing_in_both_languages():
    terms, dates = parse_terms("What happened on 30 September?")
    assert [t.keys for t in terms] == [("dm0930", "pdm0930")] and dates
    terms, _ = parse_terms("Кто был задержан в Москве?")
    assert [t.text for t in terms] == ["задержан", "Москве"]


def _vocab(words):
    from index.terms import script

    by = {}
    for w, df in words:
        by.setdefault(script(w), []).append((word_keys(w)[0], df))
    return lambda kind: by.get(kind, [])


def test_misspelt_names_are_corrected_to_index_words():
    vocab = _vocab([("Khasayev", 1), ("Peskov", 3), ("Baysultanov", 1), ("Balakshin", 4), ("people", 9)])
    for typed, want in [("Khasaev", "Khasayev"), ("Peskof", "Peskov"), ("Baisultanov", "Baysultanov"),
                        ("Balakshyn", "Balakshin")]:
        c = correct(QueryTerm(typed, word_keys(typed)), vocab)
        assert c is not None and c.key == word_keys(want)[0], typed
    assert correct(QueryTerm("Pes", word_keys("Pes")), vocab) is None, "short words are never corrected"
    assert correct(QueryTerm("Ivanov", word_keys("Ivanov")), vocab) is None, "nothing close enough"


def test_russian_spelling_of_a_latin_name_is_found():
    assert transliterate("Хасаев") == "khasayev" and transliterate("Заболотный") == "zabolotny"
    vocab = _vocab([("Khasayev", 1)])
    c = correct(QueryTerm("Хасаева", word_keys("Хасаева")), vocab)
    assert c is not None and c.key == word_keys("Khasayev")[0]


def test_analyse_weights_and_corrections():
    dfs = {"khasayev": 1, "magom": 1}
    query = analyse("Who is Magomed Khasaev?", lambda keys: {k: dfs.get(k, 0) for k in keys}, 100,
                    _vocab([("Khasayev", 1), ("Magomed", 1)]))
    assert [c.typed for c in query.corrections] == ["Khasaev"]
    assert query.matched_share == 1.0
    unknown = analyse("Кто такой Иван?", lambda keys: {k: 0 for k in keys}, 100)
    assert unknown.matched_share == 0.0 and unknown.script == "cyrillic"


@pytest.mark.parametrize("question, previous, expected", [
    ("Where is he from?", "Who is Roman Zabolotny?", "Where is he from (Roman Zabolotny)?"),
    ("And on 19 October?", "Who was detained in Moscow on 11 October?", "Who was detained in Moscow on 19 October?"),
    ("А откуда он?", "Кто такой Роман Заболотный?", "откуда он (Роман Заболотный)?"),
    ("Who heads the FSB?", "Who is Roman Zabolotny?", None),
    ("Why?", "What did Turkey shoot down?", "Why (Turkey shoot)?"),
    ("Когда?", "Кто сбил российский самолёт?", "Когда (сбил российский самолёт)?"),
    # "And X?" swaps X for the part of the previous question it stands for, else adds it.
    ("And in Nalchik?", "Who was detained in Moscow in October?", "Who was detained in Nalchik in October?"),
    ("А в Нальчике?", "Кого задержали в Москве в октябре?", "Кого задержали в Нальчике в октябре?"),
    ("And citizens of Central Asian countries?", "How many Russians take part in IS activities?",
     "How many citizens of Central Asian countries take part in IS activities?"),
    ("А граждан Средней Азии?", "Сколько россиян воюет за ИГ?", "Сколько граждан Средней Азии воюет за ИГ?"),
    ("And the newspaper?", "Which agency released the video?", "Which newspaper released the video?"),
    ("And in 2014?", "How many were detained in 2015?", "How many were detained in 2014?"),
    ("And in Nalchik?", "Who was detained in October?", "Who was detained in October in Nalchik?"),
    ("And Peskov?", "What did Putin say about the plane?", "What did Putin say about the plane Peskov?"),
    # the previous question's date stays a date, whatever its form
    ("Where is he from?", "Who was detained in Moscow on 19.10.15?", "Where is he from (detained Moscow 19 October 2015)?"),
    ("Откуда он?", "Кого задержали в Москве 19.10.2015?", "Откуда он (задержали Москве 19 октября 2015)?"),
])
def test_follow_ups_are_resolved_against_the_previous_question(question, previous, expected):
    assert resolve_followup(question, previous) == expected


@pytest.mark.parametrize("question, previous, person, expected", [
    ("Where is he from?", "Who heads the FSB?", "Alexander Bortnikov", "Where is Alexander Bortnikov from (heads FSB)?"),
    ("What is his position?", "Who said the reports should be viewed with caution?", "Dmitry Peskov",
     "What is Dmitry Peskov's position (reports viewed caution)?"),
    # Russian pronouns change with case, so the name is added, not put in their place; so is English "her".
    ("Откуда он?", "Кто возглавляет ФСБ?", "Alexander Bortnikov", "Откуда он (Alexander Bortnikov; возглавляет ФСБ)?"),
    ("What did her lawyer say?", "Who was arrested?", "Anna Ivanova", "What did her lawyer say (Anna Ivanova; arrested)?"),
])
def test_a_pronoun_follow_up_means_the_person_the_previous_answer_named(question, previous, person, expected):
    assert points_to_person(question)
    assert resolve_followup(question, previous, person) == expected


def test_only_a_follow_up_about_one_person_asks_whom_the_answer_named():
    assert not points_to_person("Where did they go?")  # more than one person
    assert not points_to_person("Where was Alexander Bortnikov born, and when did he join the FSB?")  # stands alone


def test_standalone_questions_are_not_follow_ups():
    assert not is_followup("How many Russians fight for IS according to Smirnov?")
    assert is_followup("And in Nalchik?")
    assert is_followup("How many?") and not is_followup("How many died?")


def test_date_patterns_tried_at_their_anchors_find_what_a_full_scan_finds():
    from index import dates

    samples = [
        "On 19 October 2015 (19.10.2015, 2015-10-19) and Oct. 19th, in May 2015 and may 20, a2015 x19 October",
        "В мае 2015 года, 19-го октября, в марте 2014 г. машина; декабрь; 31/12/2015 and 12/31/2015, 1,2015",
        "Sept. 30, 2015: nothing on 3.14.2015, 1999 or 20155; MARCH 3; march; Jan 1 2020; 1 jan",
        "2015/10/19, 2015.10.19, 2015-10/19, 19.10.15, 1.2.3, 19 окт., 3 сент. 2015 г., сенат 19 сент",
    ]
    for text in samples:
        starts = dates._starts(text)
        for _, anchor, pattern in dates._DATE_PATTERNS:
            full = [(m.start(), m.end()) for m in pattern.finditer(text)]
            anchored = [(m.start(), m.end()) for m in dates._matches(pattern, text, starts[anchor])]
            assert anchored == full, (pattern.pattern, text)


def test_office_and_arrest_words_meet_the_words_articles_use():
    from index.terms import synonym_keys

    heads = synonym_keys(word_keys("heads"))
    assert {"director", "chief", "chairman", "глав", "директор"} <= set(heads) and heads[0] == "head"
    assert "detain" in synonym_keys(word_keys("arrested")) and "arrest" in synonym_keys(word_keys("задержали"))
    assert "chair" not in synonym_keys(word_keys("director")), "the verb is not added: 'a chair' is no office"
    assert synonym_keys(word_keys("led")) == ("lead",), "'What led to ...?' asks for no office"
    assert synonym_keys(word_keys("video")) == word_keys("video")


def test_person_names_are_told_from_institutions_places_and_days():
    from index.terms import persons

    assert persons("its Chairman, FSB Director Alexander Bortnikov said") == ["Alexander Bortnikov"]  # a title is not a name
    assert persons("released by the Islamic State group on Wednesday October 14") == []
    assert persons("Russian President Vladimir Putin met Roman Zabolotny") == ["Vladimir Putin", "Roman Zabolotny"]
    assert persons("Министерство обороны и Дмитрий Песков") == ["Дмитрий Песков"]


def test_a_name_the_articles_lack_is_noted_only_against_a_namesake():
    from index.query import namesakes

    dfs = {"magom": 1, "khasayev": 1}
    query = analyse("Who is Magomed Petrov?", lambda keys: {k: dfs.get(k, 0) for k in keys}, 100,
                    _vocab([("Khasayev", 1), ("Magomed", 1)]))
    assert [(u.name, u.lacking) for u in query.unknown_names] == [("Magomed Petrov", ["Petrov"])]
    assert namesakes("Magomed Petrov", ["He identifies himself as Magomed Khasayev."]) == ["Magomed Khasayev"]
    # An article that gives the surname alone names nobody else: "Graham" may simply be left out.
    assert namesakes("Graham Twigg", ["Twigg proposes that the disease was anthrax."]) == []
    # Another spelling of a name the articles give is not another person.
    assert namesakes("Deir Ezzor", ["a siege in Deir Az Zor province"], ["Ezzor"]) == []
    assert namesakes("Magomed Petrov", ["as Magomed Khasayev."], ["Petrov"]) == ["Magomed Khasayev"]
    # A question that opens with an unknown capitalised word has no name there ("Кого Нобл назначил ...").
    opening = analyse("Кого Нобл назначил президентом?", lambda keys: {k: int(k == "нобл") for k in keys}, 100,
                      _vocab([("Нобл", 1)]))
    assert opening.unknown_names == []


def test_more_irregular_english_forms_meet():
    for a, b in [("shown", "show"), ("drew", "draw"), ("withdrawn", "withdraw"), ("knelt", "kneel"),
                 ("overthrown", "overthrow"), ("forbidden", "forbid")]:
        assert word_keys(a) == word_keys(b), (a, b)


def test_date_patterns_tried_at_their_starts_find_what_a_scan_of_every_place_finds():
    """Date patterns are tried only where a date may start (a digit run of a day's or a year's length,
    a whole month word); that must find every match a scan of every position finds."""
    from index import dates

    texts = ["On 19 October and in Oct. 2015, the March march; MAY 5, may, mayor, _mar, dec-jan",
             "Задержан 21 октября, в Марте и в мае — мама, МАЯ, ма-ма; июнь/июль; Август", "İstanbul, 5 May 2016",
             "", "no months here at all", "Декабрь 2015 и январь 2016; Sept 3 and Nov-Dec",
             "2015-10-19, 19.10.2015, 3/4/1999, 19.10.15, 1.2.3, 123 4567 20151 201512 1990s 5th of May 2001",
             "19-го октября 2015 года, 3 сент. 2015 г., 19 окт., 7th June, June 7th, 2020/01/02 and 12345",
             "марта2015 2015марта market decimal separate octopus novel janitor augment junior julep Sept.30",
             "٢٠١٥ digits of other scripts, 19 October\u00a02015, 19\tOctober, Oct\n19, ОКТЯБРЯ 2015 ГОДА"]
    for text in texts:
        starts = dates._starts(text)
        for _, anchor, pattern in dates._DATE_PATTERNS:
            expected = [(m.start(), m.end()) for m in pattern.finditer(text)]
            assert [(m.start(), m.end()) for m in dates._matches(pattern, text, starts[anchor])] == expected, \
                (text, pattern.pattern)
        assert not any(text[at : at + 3].lower() in ("mar", "dec", "sep", "oct", "nov", "jan", "aug", "jun")
                       and text[at : at + 6].lower() in ("market", "decima", "separa", "octopu", "novel ", "janito",
                                                         "augmen", "junior") for at in starts["en"])


def test_passage_terms_are_each_words_keys_in_order_with_a_small_word_memory(monkeypatch):
    from itertools import chain

    from index import terms

    monkeypatch.setattr(terms, "KEYS_TEXT_WORDS", 3)  # forgets all it holds every few new words
    monkeypatch.setattr(terms, "_KEYS_TEXT", {})
    texts = ["Дмитрия Пегова задержали, it's said; ___ ' x’y", "The talks resumed: talks, TALKS and Talks.", ""]
    for _ in range(2):
        for text in texts:
            expected = " ".join(chain.from_iterable(map(terms.word_keys, terms.words(text))))
            assert terms.index_terms(text) == expected
    assert len(terms._KEYS_TEXT) <= 3 + len(terms.words(texts[0]))
