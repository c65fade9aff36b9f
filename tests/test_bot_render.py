"""Rendering, splitting, callback data, quota and feedback store: pure functions, nasty inputs."""

from __future__ import annotations

import io
import logging
from html.parser import HTMLParser

import pytest

from bot import callbacks, render
from bot.app import RedactToken
from bot.feedback import FeedbackStore
from bot.limits import Quota, is_allowed, quota_key
from bot.split import split_html, utf16_len
from index.answer import Answer, Citation

TELEGRAM_TAGS = {"b", "i", "u", "s", "a", "code", "pre", "blockquote", "tg-spoiler", "span"}


class TagChecker(HTMLParser):
    """Fails on unbalanced or unknown tags, like Telegram's parser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        assert tag in TELEGRAM_TAGS, f"tag <{tag}> would be rejected by Telegram"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def well_formed(html: str) -> str:
    """The visible text of ``html``, after checking that its tags balance."""
    p = TagChecker()
    p.feed(html)
    p.close()
    assert not p.stack, f"unclosed tags {p.stack}"
    return "".join(p.text)


NASTY = ("<script>alert(1)</script> Tom & Jerry </b><i>unclosed <a href='x'>link & co "
         "“Кремль заявил, что 12 человек задержаны.” 👍🏽 👨‍👩‍👧 🇷🇺 𝄞 e\u0301 \ud800 ")


def citation(n: int, text: str, cited: bool = True, **kw) -> Citation:
    fields = dict(n=n, article_id=f"a{n}", title=kw.pop("title", "Title <b>&"), source=kw.pop("source", "TASS"),
                  published=kw.pop("published", "2015-12-03"), date_text=None, url=kw.pop("url", None), text=text,
                  start=0, end=len(text), score=1.0, passage_id=n, cited=cited, highlights=[[0, min(20, len(text))]])
    return Citation(**fields, **kw)


def test_answer_escapes_article_text_and_lists_only_cited_sources() -> None:
    c1, c2 = citation(1, NASTY), citation(2, "noise passage", cited=False, title="Noise")
    html = render.answer_html(Answer("q?", True, f"“{NASTY}” [1]", [c1, c2]))
    text = well_formed(html)
    assert "<script>" in text and "Tom & Jerry" in text  # shown as text, not markup
    assert "&lt;script&gt;" in html and "<script>" not in html
    assert "<b>[1]</b>" in html and "Noise" not in text
    assert "TASS, 3 December 2015" in text


def test_not_found_cites_nothing() -> None:
    html = render.answer_html(Answer("q?", False, "I could not find this. Try rephrasing.", [citation(1, "noise")]))
    assert well_formed(html) == "I could not find this. Try rephrasing." and "Sources" not in html


def test_links_only_for_http_urls_and_attributes_are_escaped() -> None:
    assert render.link("javascript:alert(1)", "x") == "x"
    good = render.link('https://example.com/a?b=1&c="2"', "x")
    assert good == "x"  # a quote makes it no plain URL
    assert render.link("https://example.com/a?b=1&c=2", "x") == '<a href="https://example.com/a?b=1&amp;c=2">x</a>'


def test_passage_marks_cited_sentence_in_expandable_blockquote() -> None:
    text = "First <b>sentence</b>. The 12 detained & co. Last one."
    html = render.passage_html({"title": "T & T", "source": None, "published": None, "date_text": "October 21",
                                "text": text}, [(23, 44)], n=1)
    assert "<blockquote expandable>" in html
    assert "<b><u>The 12 detained &amp; co.</u></b>" in html
    assert "October 21 (year not stated)" in well_formed(html)


@pytest.mark.parametrize("spans", [[(-5, 3)], [(10, 5)], [(0, 10_000)], [(2, 6), (4, 8)]])
def test_bad_spans_from_old_buttons_never_break_html(spans) -> None:
    well_formed(render.mark("a < b & c > d", spans))


def test_help_says_what_the_bot_knows() -> None:
    stats = {"articles": 5, "earliest": "2015-12-03", "latest": "2016-01-02", "partial_dates": ["October 21"],
             "built_at": "2026-01-02T03:04:05+00:00"}
    text = well_formed(render.help_html(stats, "newsqa_bot"))
    assert "5 articles" in text and "3 December 2015 to 2 January 2016" in text
    assert "October 21" in text and "02 January 2026" in text and "@newsqa_bot" in text


def _long(unit: str, n: int) -> str:
    return "".join(unit for _ in range(n))


@pytest.mark.parametrize("html", [
    _long("Кремль заявил о задержании. ", 400),
    _long("😀", 5000),  # astral: two UTF-16 units each, no spaces at all
    _long("👨‍👩‍👧 🇷🇺🇺🇦 ", 900),
    "<b>" + _long("word &amp; word ", 700) + "</b>",
    "<blockquote expandable>" + _long("<b><u>Bold & under.</u></b> plain 𝄞 text.\n", 300) + "</blockquote>",
    '<a href="https://e.com/?a=1&amp;b=2">' + _long("x", 9000) + "</a>",
    _long("line\n", 2000) + _long("para\n\n", 1000),
    render.answer_html(Answer("q", True, "“" + _long(NASTY, 60) + "” [1]", [citation(1, _long(NASTY, 60))])),
])
def test_split_chunks_fit_telegram_and_stay_well_formed(html: str) -> None:
    chunks = split_html(html)
    assert len(chunks) > 1
    for chunk in chunks:
        assert utf16_len(chunk) <= 4096
        well_formed(chunk)
        chunk.encode("utf-8")  # no half surrogate pair
    joined = "".join(well_formed(c) for c in chunks)
    assert "".join(joined.split()) == "".join(well_formed(html).split())  # nothing lost but whitespace


def test_split_prefers_sentence_and_line_boundaries() -> None:
    sentences = _long("This is one sentence of the article. ", 200)
    chunks = split_html(sentences)
    assert all(c.rstrip().endswith(".") for c in chunks)
    lines = _long("a line of sources without a full stop\n", 200)
    assert all(c.rstrip().endswith("stop") for c in split_html(lines))


def test_split_keeps_zwj_emoji_and_flags_whole() -> None:
    family, flag = "👨‍👩‍👧", "🇷🇺"
    for chunk in split_html(_long(family + flag, 1500)):
        body = chunk
        while body.startswith(family + flag):
            body = body[len(family + flag):]
        assert body == "", "a cut fell inside an emoji sequence"


def test_short_text_is_one_chunk_and_empty_is_none() -> None:
    assert split_html("<b>hi</b>") == ["<b>hi</b>"]
    assert split_html("") == []


def test_callback_data_round_trips_and_fits_64_bytes() -> None:
    actions = [callbacks.OpenPassage(123456789, "abcdef", ((1, 2), (30000, 40000)), 3),
               callbacks.MoreResults(99999999, 45, edit=True), callbacks.Vote(7, -1),
               callbacks.AskExample("Who was detained in Moscow in October?")]
    for a in actions:
        data = callbacks.encode(a)
        assert len(data.encode()) <= 64 and callbacks.decode(data) == a
    many = callbacks.OpenPassage(1, "abcdef", tuple((i * 10000, i * 10000 + 9999) for i in range(10)))
    data = callbacks.encode(many)
    assert len(data.encode()) <= 64 and callbacks.decode(data).spans == many.spans[: len(callbacks.decode(data).spans)]
    assert callbacks.decode("garbage") is None and callbacks.decode("p:1:zz:0") is None
    with pytest.raises(ValueError):
        callbacks.encode(callbacks.AskExample("x" * 70))


def test_quota_refuses_then_forgives() -> None:
    now = [0.0]
    q = Quota(2, 60, clock=lambda: now[0])
    assert q.take(1) == 0 and q.take(1) == 0
    assert q.take(1) == pytest.approx(60) and q.take(2) == 0
    now[0] = 61
    assert q.take(1) == 0


def test_allow_list() -> None:
    assert is_allowed(frozenset(), frozenset(), 5, 5)
    assert is_allowed(frozenset({-100}), frozenset(), 5, -100)  # a listed group lets its members in
    assert not is_allowed(frozenset({7}), frozenset(), 5, 5)
    assert is_allowed(frozenset({7}), frozenset({5}), 5, 5)  # admins always


def test_feedback_survives_reopen(tmp_path) -> None:
    store = FeedbackStore(tmp_path / "fb" / "feedback.db")
    store.setup()
    qid = store.record_question("Who?", True, "“x” [1]", [10, 11], [10], user_id=1, chat_id=1)
    assert store.vote(qid, 1, 1, 1) and store.vote(qid, 1, -1, 1) and not store.vote(qid + 1, 1, 1, 1)
    assert not store.vote(qid, 2, 1, 2)  # a button from another chat
    again = FeedbackStore(tmp_path / "fb" / "feedback.db")
    assert again.question(qid)["cited_ids"] == [10]
    assert again.votes()[0]["question"] == "Who?" and again.votes()[0]["vote"] == -1
    assert again.counts() == {"questions": 1, "answered": 1, "up": 0, "down": 1}


def test_token_is_redacted_from_logs(caplog) -> None:
    logger = logging.getLogger("test.redact")
    with caplog.at_level(logging.INFO):
        caplog.handler.addFilter(RedactToken("123:SECRET"))
        logger.info("POST %s", "https://api.telegram.org/bot123:SECRET/getMe")
    assert "123:SECRET" not in caplog.text and "<token>" in caplog.text


def test_token_is_redacted_from_tracebacks_and_stacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactToken("123:SECRET"))
    logger = logging.getLogger("test.redact.exc")
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("The token `123:SECRET` was rejected by the server.")
        except ValueError:
            logger.exception("start-up failed for %s", "123:SECRET")
        logger.warning("where", stack_info=True, extra={"note": "123:SECRET"})
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "123:SECRET" not in out and "start-up failed for <token>" in out
    assert "Traceback" in out and "ValueError: The token `<token>` was rejected" in out and "Stack (most recent" in out


def test_forged_callback_numbers_decode_to_nothing() -> None:
    for data in ["m:1:99999999999999999999", "m:1:1001", "n:0:0", "f:9223372036854775808:+", "p:1:abcdef:100",
                 "p:99999999999999999999999:abcdef:0", "p:1:abcdef:0:5-1", "p:1:abcdef:0:0-9999999999", "q:" + "x" * 63]:
        assert callbacks.decode(data) is None, data
    assert callbacks.decode("f:9223372036854775807:+") == callbacks.Vote(2**63 - 1, 1)
    assert callbacks.decode("m:3:1000") == callbacks.MoreResults(3, 1000)


def test_anonymous_admins_and_linked_channels_share_their_chats_quota() -> None:
    assert quota_key(5, -100) == 5
    assert quota_key(1087968824, -100) == -100 and quota_key(777000, -200) == -200
