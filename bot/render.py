"""Pure functions that turn answers, passages and index figures into Telegram HTML.

Everything that comes from an article or a user goes through :func:`esc`, so no article
can break Telegram's HTML parser. The output may be longer than one message: send it
through :func:`bot.split.split_html`.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from typing import Any, Iterable, Sequence

from index.answer import Answer, Citation
from index.search import Hit

SNIPPET_CHARS = 220
TEXT_ONLY = "I answer text questions about the news. Please type your question as a message."
REFUSED = ("Sorry, this bot is private. Ask its owner to add your id <code>{user_id}</code> "
           "to TELEGRAM_ALLOWED_IDS.")
BUTTON_GONE = "This button no longer works; please ask again."
SOURCE_GONE = "This source has been updated since I answered. Please ask your question again."
APOLOGY = "Sorry, something went wrong on my side. Please try again in a minute."
ADMIN_ONLY = "This command is for the bot's admins."
ASK_USAGE = "Put your question after the command, e.g. <code>/ask {example}</code>"


def clean(text: str) -> str:
    """Text Telegram accepts: lone surrogates (invalid UTF-8) become U+FFFD."""
    return text.encode("utf-8", "replace").decode("utf-8", "replace") if text else ""


def esc(text: str | None) -> str:
    """Escape text for Telegram HTML (only <, > and & matter outside attributes)."""
    return html.escape(clean(text or ""), quote=False)


def link(url: str | None, label_html: str) -> str:
    """``label_html`` as a link when ``url`` is a plain http(s) URL, else as it is."""
    if url and re.match(r"https?://[^\s<>\"]+$", url):
        return f'<a href="{html.escape(clean(url), quote=True)}">{label_html}</a>'
    return label_html


def format_date(published: str | None, date_text: str | None) -> str | None:
    """``3 December 2015`` from an ISO date; a partial date says that the year is unknown."""
    if published:
        try:
            d = date.fromisoformat(published[:10])
        except ValueError:
            return published
        return f"{d.day} {d:%B %Y}"
    if date_text:
        return f"{date_text} (year not stated)"
    return None


def source_line(title: str, source: str | None, published: str | None, date_text: str | None,
                url: str | None = None) -> str:
    """``<b>Title</b> — Source, date`` with only the parts the article states."""
    bits = [esc(source) if source else "source not stated"]
    when = format_date(published, date_text)
    if when:
        bits.append(esc(when))
    label = f"<b>{esc(title) or 'Untitled'}</b>"
    return f"{link(url, label)} — {', '.join(bits)}"


def citation_source(c: Citation) -> str:
    return f"[{c.n}] " + source_line(c.title, c.source, c.published, c.date_text, c.url)


def answer_html(result: Answer) -> str:
    """The quoted answer with bold [n] markers, then the numbered sources it cites.

    An unanswered question lists no sources: never cite noise."""
    notes = [f"<i>{esc(note)}</i>" for note in result.notes()]
    if not result.found:
        return "\n".join(notes + [esc(result.answer)])
    body = re.sub(r"” \[(\d+)\]", r"” <b>[\1]</b>", esc(result.answer))
    lines = notes + [body, "", "<b>Sources</b>"]
    by_article: dict[str, list[Citation]] = {}
    for c in result.citations:
        if c.cited:
            by_article.setdefault(c.article_id, []).append(c)
    for group in by_article.values():  # two quotes from one article share one line
        c = group[0]
        marks = "".join(f"[{g.n}]" for g in group)
        lines.append(f"{marks} " + source_line(c.title, c.source, c.published, c.date_text, c.url))
    return "\n".join(lines)


def quote_html(result: Answer, c: Citation) -> str:
    """One cited passage's quoted sentences with their source (an inline-mode result)."""
    parts = [f"“{esc(c.text[s:e].strip())}”" for s, e in c.highlights]
    return f"{' … '.join(parts)}\n\n{citation_source(c)}\n\n<i>{esc(result.question)}</i>"


def mark(text: str, spans: Iterable[Sequence[int]]) -> str:
    """Escape ``text``, with the given ``[start, end)`` spans bold and underlined."""
    out, at = [], 0
    for s, e in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if s < at or s >= e:
            continue
        out.append(esc(text[at:s]))
        out.append(f"<b><u>{esc(text[s:e])}</u></b>")
        at = e
    out.append(esc(text[at:]))
    return "".join(out)


def passage_html(p: dict[str, Any], spans: Iterable[Sequence[int]] = (), n: int | None = None) -> str:
    """A passage in context: its article's title, source and date, then the passage
    (cited sentences marked) in an expandable blockquote."""
    head = (f"[{n}] " if n else "") + source_line(p.get("title") or "", p.get("source"), p.get("published"),
                                                   p.get("date_text"), p.get("url"))
    place = f"\n{esc(p['place'])}" if p.get("place") else ""
    return f"{head}{place}\n<blockquote expandable>{mark(p.get('text') or '', spans)}</blockquote>"


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The start of ``text``, cut at a space, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"


def results_html(question: str, hits: Sequence[Hit], offset: int) -> str:
    """A page of further passages for a question, numbered from ``offset + 1``."""
    if not hits:
        return f"No more passages match <i>{esc(question)}</i>."
    first, last = offset + 1, offset + len(hits)
    lines = [f"<b>More results</b> for <i>{esc(question)}</i> ({first}–{last})"]
    for i, h in enumerate(hits, start=first):
        lines += ["", f"<b>{i}.</b> " + source_line(h.title, h.source, h.published, h.date_text, h.url),
                  f"<i>{esc(snippet(h.text))}</i>"]
    return "\n".join(lines)


def _date_range(stats: dict[str, Any]) -> str:
    earliest, latest = format_date(stats.get("earliest"), None), format_date(stats.get("latest"), None)
    partial = list(stats.get("partial_dates") or [])
    bits = []
    if earliest and earliest == latest:
        bits.append(f"dated {earliest}")
    elif earliest:
        bits.append(f"dated from {earliest} to {latest}")
    if partial:
        shown = ", ".join(esc(p) for p in partial[:5]) + (", …" if len(partial) > 5 else "")
        bits.append(f"some give only a day and month ({shown})")
    return "; ".join(bits) if bits else "with no dates stated"


def built_at(stats: dict[str, Any]) -> str:
    raw = stats.get("built_at")
    try:
        return f"{datetime.fromisoformat(raw):%d %B %Y, %H:%M %Z}".strip(" ,") if raw else "unknown"
    except ValueError:
        return esc(raw)


def help_html(stats: dict[str, Any], bot_username: str | None) -> str:
    """What the bot knows and how to ask it."""
    n = stats.get("articles", 0)
    inline = (f"\n• in any chat, type <code>@{esc(bot_username)} your question</code> to share an answer"
              if bot_username else "")
    return (
        "<b>NewsQA</b> answers questions about the news by quoting the articles, with numbered sources.\n\n"
        f"I know <b>{n:,}</b> article{'s' if n != 1 else ''} ({_date_range(stats)}). "
        f"Index built {esc(built_at(stats))}.\n\n"
        "How to ask:\n"
        "• here, just type a question, or tap an example below\n"
        "• in a group, mention me, reply to me or use <code>/ask your question</code>"
        f"{inline}\n\n"
        "Under each answer: a button per source to read it in context, <b>More results</b>, and 👍 / 👎."
    )


def stats_html(stats: dict[str, Any], feedback: dict[str, int]) -> str:
    """The admin's view of the index and of the feedback so far."""
    size_kb = int(stats.get("index_bytes", 0)) // 1024
    sources = ", ".join(esc(s) for s in (stats.get("sources") or [])[:10]) or "none stated"
    return "\n".join([
        "<b>Index</b>",
        f"articles: {stats.get('articles', 0):,}, passages: {stats.get('passages', 0):,}",
        f"dates: {_date_range(stats)}",
        f"sources: {sources}",
        f"model: {esc(str(stats.get('model')))} (dimension {stats.get('dimension')}), {size_kb:,} KB",
        f"built: {esc(built_at(stats))}",
        "",
        "<b>Questions and feedback</b>",
        f"questions: {feedback.get('questions', 0):,} (answered: {feedback.get('answered', 0):,})",
        f"👍 {feedback.get('up', 0):,}  👎 {feedback.get('down', 0):,}",
    ])


def quota_html(limit: int, window: int, wait: float) -> str:
    return (f"You have asked {limit} questions in the last {window} seconds, which is as many as I can take. "
            f"Please ask again in {max(1, round(wait))} seconds.")


def plain(html_text: str) -> str:
    """The text of some Telegram HTML, for a plain-text fallback or an inline description."""
    return html.unescape(re.sub(r"<[^>]*>", "", html_text))
