"""Metadata and boilerplate from plain text: small literal inputs."""

from index.cleaning import clean_body, is_boilerplate, parse_plain
from index.dates import PartialDate, parse_date


def test_tass_dateline_gives_place_source_and_date_without_inventing_a_year():
    text = "Refugee crisis used by Islamic State to send people\n\nTASHKENT, September 18. /TASS/. The Islamic State takes advantage."
    p = parse_plain(text)
    assert p.title == "Refugee crisis used by Islamic State to send people"
    assert (p.place, p.source) == ("Tashkent", "TASS")
    assert p.date == PartialDate(None, 9, 18)
    assert p.date.iso() is None and p.date.text() == "September 18"
    assert p.body.startswith("TASHKENT, September 18. /TASS/. The Islamic State")


def test_moscow_dateline_without_agency():
    p = parse_plain("Services take measures on returning\n\nMOSCOW, October 21. Russian security services are acting.")
    assert p.place == "Moscow" and p.source is None and p.date == PartialDate(None, 10, 21)


def test_byline_date_is_read_day_first_and_removed_and_agency_tail_becomes_source():
    text = "\n\nIslamic State claims to behead alleged spy\n\n03/12/2015 19:02 by admin\n\nMoscow: The group released a video.\n\n- AP"
    p = parse_plain(text)
    assert p.date.iso() == "2015-12-03"
    assert p.source == "AP"
    assert p.body == "Moscow: The group released a video."


def test_site_furniture_and_author_box_are_stripped_but_story_is_verbatim():
    text = (
        "Middle East\n\nISIS Releases Video of 2 Russian Soldiers\n\nA video showing two captives, “quoted” — exactly.\n\n"
        "Eric Sof\nthe authorEric Sof\n\nI’m the active duty officer. My hobby’s are skiing.\n\nLeave a Reply"
    )
    p = parse_plain(text)
    assert p.title == "ISIS Releases Video of 2 Russian Soldiers"
    assert p.body == "A video showing two captives, “quoted” — exactly."


def test_russian_widget_lines_and_inline_more_marker_are_removed():
    text = "A long enough headline for the story\n\nHe found a release... Еще from his pain.\n\nСамое интересное\n\nНовости партнеров\n\nТемыВсе темы"
    p = parse_plain(text)
    assert p.body == "He found a release from his pain."
    assert is_boilerplate("Новости партнеров") and not is_boilerplate("Moscow denies ISIL captives are Russian soldiers")


def test_clean_body_keeps_paragraphs_and_folds_blank_runs():
    assert clean_body("One.\r\n\r\n\r\n\r\nTwo.\n\nShare this\n") == "One.\n\nTwo."


def test_dates_in_many_forms():
    assert parse_date("Sept. 30, 2015") == PartialDate(2015, 9, 30)
    assert parse_date("on 29 December 2014 it was") == PartialDate(2014, 12, 29)
    assert parse_date("2015-12-03T10:00") == PartialDate(2015, 12, 3)
    assert parse_date("12/25/2015") == PartialDate(2015, 12, 25)  # 25 cannot be a month
    assert parse_date("16 October") == PartialDate(None, 10, 16)
    assert parse_date("February 30") is None
    assert parse_date("no date here") is None


def test_boilerplate_lines_are_dropped_in_any_case_and_paragraphs_that_open_like_them_kept():
    from index.cleaning import clean_body

    body = "  SHARE THIS ARTICLE:  \nShare this story with friends: the talks resumed on Tuesday.\nRead More\nПоделиться"
    assert clean_body(body) == "Share this story with friends: the talks resumed on Tuesday."
