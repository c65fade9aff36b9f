"""Pure text work on raw articles: strip site boilerplate, find title, dateline, source and date.

The story text itself is kept exactly as written so that every quote is verbatim; only whole
lines of site furniture (menus, widgets, author boxes, bylines) are removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.dates import PartialDate, parse_date

# Whole lines that are site furniture, never part of a story (compared case-insensitively).
BOILERPLATE_LINES = {
    "leave a reply", "leave a comment", "all news", "share", "share this", "share this article",
    "related", "related articles", "related posts", "read more", "read also", "comments",
    "subscribe", "advertisement", "print", "email", "tweet", "facebook", "twitter", "whatsapp",
    "most read", "most popular", "trending", "top stories", "more news", "you may also like",
    "самое интересное", "новости партнеров", "новости партнёров", "темывсе темы", "все темы",
    "читайте также", "все новости", "реклама", "поделиться",
}
_LONGEST_BOILERPLATE = max(map(len, BOILERPLATE_LINES))
_BOILERPLATE_PATTERNS = [
    re.compile(p, re.I)
    for p in (
        r"^\d+\s+comments?$",
        r"^(posted|filed) (in|under)\b.{0,80}$",
        r"^tags?:.{0,200}$",
        r"^(photo|image)\s*(credit)?:.{0,80}$",
        r"^(click|tap) here\b.{0,80}$",
        r"^you must be logged in\b.*$",
    )
]
# "Still shot ... (Photo/DailyMail)" style captions are kept: they are short but carry content.
_INLINE_MORE = re.compile(r"(?:\.\.\.|…)\s*(?:Еще|Ещё|Read more|More)\s+(?=\w)")
_AUTHOR_BOX = re.compile(r"^(the author|about the author|об авторе)", re.I)
_BIO_START = re.compile(r"^(I'm|I’m|I am|My |He is|She is|[A-Z][a-z]+ is an? )")
_BYLINE = re.compile(
    r"^(?:(?:published|posted|updated|date)\s*:?\s*)?"
    r"(?P<date>\d{1,2}[/.]\d{1,2}[/.](?:19|20)\d\d|(?:19|20)\d\d-\d\d-\d\d)"
    r"(?:,?\s+\d{1,2}:\d\d(?::\d\d)?)?(?:\s+by\s+(?P<author>.{1,60}))?$",
    re.I,
)
_AUTHOR_LINE = re.compile(r"^by\s+[A-Z][\w.'\- ]{1,60}$")
# "TASHKENT, September 18. /TASS/." and "MOSCOW, October 21." and "LONDON (Reuters) -"
_DATELINE = re.compile(
    r"^(?P<place>[A-ZА-ЯЁ][A-ZА-ЯЁ.'\- ]{1,40}?),\s+(?P<date>[A-Za-z]+\.?\s+\d{1,2}(?:,\s*\d{4})?)\.?"
    r"(?:\s*/(?P<agency>[A-Za-z][\w\- ]{1,20})/)?"
)
_PAREN_AGENCY = re.compile(r"^(?P<place>[A-Z][A-Z .'\-]{1,40})\s*\((?P<agency>[A-Z][\w ]{1,20})\)\s*[-–—]")
_SOURCE_TAIL = re.compile(r"^(?:[-–—]\s*|source:\s*|\()(?P<source>[A-Z][\w&.'/\- ]{0,30}?)\)?$", re.I)


@dataclass
class ParsedArticle:
    """What plain text reveals about an article; ``body`` is the story text to index."""

    title: str | None
    body: str
    source: str | None = None
    place: str | None = None
    date: PartialDate | None = None


def is_boilerplate(line: str) -> bool:
    """A whole line of site furniture (menu, widget, share bar)."""
    s = line.strip().rstrip(":").strip()
    if not s:
        return False
    # A paragraph is not lowered for nothing: lowering never shortens a line, so a longer one is none of them.
    if len(s) <= _LONGEST_BOILERPLATE and s.lower() in BOILERPLATE_LINES:
        return True
    return any(p.match(s) for p in _BOILERPLATE_PATTERNS)


def _looks_like_title(line: str) -> bool:
    s = line.strip()
    return len(s.split()) >= 4 and len(s) <= 300 and not s.endswith((".", ",", ";"))


def _drop_author_box(lines: list[str]) -> list[str]:
    """Remove an author box (name, 'the author…', a first-person bio) near the end."""
    for i in range(len(lines) - 1, max(len(lines) - 12, -1), -1):
        if _AUTHOR_BOX.match(lines[i].strip()):
            start = i
            if i > 0 and 0 < len(lines[i - 1].split()) <= 4 and not lines[i - 1].strip().endswith("."):
                start = i - 1
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or _BIO_START.match(lines[end].strip())):
                end += 1
            return lines[:start] + lines[end:]
    return lines


def _tidy(lines: list[str]) -> str:
    """Join lines, dropping leading/trailing blank lines and runs of more than one blank line."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
            continue
        out.append(line.rstrip())
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)


def normalise_newlines(text: str) -> str:
    """Unix newlines, no BOM, no NUL or other C0 controls besides tab and newline."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text)


def clean_body(text: str) -> str:
    """Strip boilerplate lines, author boxes and inline 'more' widgets; keep everything else."""
    lines = [ln for ln in normalise_newlines(text).split("\n") if not is_boilerplate(ln)]
    lines = _drop_author_box(lines)
    return _INLINE_MORE.sub(" ", _tidy(lines))


def parse_plain(text: str) -> ParsedArticle:
    """Read title, byline date, dateline, source and body from a plain-text article."""
    lines = [ln for ln in normalise_newlines(text).split("\n") if not is_boilerplate(ln)]
    lines = _drop_author_box(lines)
    source: str | None = None
    date: PartialDate | None = None
    place: str | None = None

    # Title: the first headline-like line; short lines before it are section labels.
    title = None
    nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
    for i in nonblank[:4]:
        if _looks_like_title(lines[i]):
            title = lines[i].strip()
            lines = lines[i + 1 :]
            break
    if title is None and nonblank:
        first = nonblank[0]
        title = lines[first].strip()[:200]
        if not title.endswith((".", "!", "?")) and len(nonblank) > 1:
            lines = lines[first + 1 :]

    # Byline lines right under the title: "03/12/2015 19:02 by admin", "By Jane Doe".
    kept: list[str] = []
    for j, line in enumerate(lines):
        s = line.strip()
        head = sum(1 for ln in kept if ln.strip()) < 3
        m = _BYLINE.match(s) if head else None
        if m:
            date = date or parse_date(m["date"])
            continue
        if head and _AUTHOR_LINE.match(s):
            continue
        kept.append(line)
    lines = kept

    # Source stated as the last line: "- AP", "Source: Reuters", "(AFP)".
    tail = [i for i, ln in enumerate(lines) if ln.strip()]
    if tail:
        m = _SOURCE_TAIL.match(lines[tail[-1]].strip())
        if m and len(m["source"].split()) <= 3:
            source = m["source"].strip()
            lines = lines[: tail[-1]]

    body = _INLINE_MORE.sub(" ", _tidy(lines))

    # Dateline at the start of a paragraph near the top: place, date and agency.
    for para in body.split("\n")[:6]:
        m = _DATELINE.match(para.strip()) or _PAREN_AGENCY.match(para.strip())
        if m:
            place = m["place"].strip().title()
            agency = m.groupdict().get("agency")
            source = source or (agency.strip() if agency else None)
            if "date" in m.groupdict() and m["date"]:
                date = date or parse_date(m["date"])
            break
    return ParsedArticle(title=title, body=body, source=source, place=place, date=date)
