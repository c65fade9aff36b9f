"""Button data and keyboards.

Callback data must fit Telegram's 64 bytes and keep working after a restart, so it carries
ids, never in-memory state: ``p:<passage id>:<checksum>:<spans>`` opens a passage (the
checksum detects a passage id reused by a re-index), ``m:``/``n:<question id>:<offset>``
pages through further results of a question stored in SQLite, ``f:<question id>:<+|->``
records a vote and ``q:<question>`` asks an example question. Question ids are guessable, so
the handlers honour ``m:``/``n:``/``f:`` only in the chat where the question was asked, and
:func:`decode` rejects numbers no button of ours carries.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Sequence, Union

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from index.answer import Answer
from index.engine import MAX_OFFSET
from index.search import Hit

MAX_DATA_BYTES = 64
PAGE_SIZE = 5
MAX_ID = 2**63 - 1  # SQLite's largest rowid; larger numbers overflow deep in sqlite3
MAX_CITATION = 99
MAX_SPAN = 2**31  # character offsets inside one passage


@dataclass(frozen=True)
class OpenPassage:
    """Show passage ``passage_id`` with ``spans`` marked; ``check`` guards against a re-index."""

    passage_id: int
    check: str
    spans: tuple[tuple[int, int], ...] = ()
    n: int | None = None


@dataclass(frozen=True)
class MoreResults:
    """Page of further passages for a stored question; ``edit`` pages in place."""

    question_id: int
    offset: int
    edit: bool = False


@dataclass(frozen=True)
class Vote:
    """👍 (+1) or 👎 (-1) for a stored question."""

    question_id: int
    vote: int


@dataclass(frozen=True)
class AskExample:
    """Ask this question (an example from /start)."""

    question: str


Action = Union[OpenPassage, MoreResults, Vote, AskExample]


def checksum(text: str) -> str:
    """Six hex digits that change when a passage's text does."""
    return f"{zlib.crc32(text.encode('utf-8', 'replace')) & 0xFFFFFF:06x}"


def fits(data: str) -> bool:
    return 0 < len(data.encode("utf-8")) <= MAX_DATA_BYTES


def encode(action: Action) -> str:
    """Callback data for ``action``; spans are dropped, then shortened, to fit 64 bytes."""
    if isinstance(action, OpenPassage):
        base = f"p:{action.passage_id}:{action.check}:{action.n or 0}"
        spans = [f"{s}-{e}" for s, e in action.spans]
        while spans and not fits(f"{base}:{','.join(spans)}"):
            spans.pop()
        return f"{base}:{','.join(spans)}" if spans else base
    if isinstance(action, MoreResults):
        return f"{'n' if action.edit else 'm'}:{action.question_id}:{action.offset}"
    if isinstance(action, Vote):
        return f"f:{action.question_id}:{'+' if action.vote > 0 else '-'}"
    data = f"q:{action.question}"
    if not fits(data):
        raise ValueError(f"example question is longer than {MAX_DATA_BYTES - 2} bytes: {action.question!r}")
    return data


def _id(text: str) -> int | None:
    """A row id from callback data, or None when no SQLite rowid could be that large."""
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def decode(data: str | None) -> Action | None:
    """The action behind some callback data, or None for data this version does not know or
    that no button of ours carries (forged: out-of-range ids, offsets or spans)."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_DATA_BYTES:
        return None
    if data.startswith("q:") and len(data) > 2:
        return AskExample(data[2:])
    m = re.fullmatch(r"p:(\d+):([0-9a-f]{6}):(\d+)(?::((?:\d+-\d+)(?:,\d+-\d+)*))?", data)
    if m:
        spans = tuple(tuple(int(x) for x in s.split("-")) for s in m.group(4).split(",")) if m.group(4) else ()
        pid, n = _id(m.group(1)), int(m.group(3))
        if pid is None or n > MAX_CITATION or any(not 0 <= s <= e <= MAX_SPAN for s, e in spans):
            return None
        return OpenPassage(pid, m.group(2), spans, n or None)  # type: ignore[arg-type]
    m = re.fullmatch(r"([mn]):(\d+):(\d+)", data)
    if m:
        qid, offset = _id(m.group(2)), int(m.group(3))
        if qid is None or offset > MAX_OFFSET:
            return None
        return MoreResults(qid, offset, m.group(1) == "n")
    m = re.fullmatch(r"f:(\d+):([+-])", data)
    if m:
        qid = _id(m.group(1))
        return Vote(qid, 1 if m.group(2) == "+" else -1) if qid is not None else None
    return None


def _button(text: str, action: Action) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=encode(action))


def answer_keyboard(result: Answer, question_id: int | None, offset: int, voted: int = 0) -> InlineKeyboardMarkup | None:
    """A button per cited source, then More results and 👍 / 👎 (those need a stored question)."""
    rows: list[list[InlineKeyboardButton]] = []
    sources = [_button(f"📄 [{c.n}]", OpenPassage(c.passage_id, checksum(c.text),
                                                  tuple((s, e) for s, e in c.highlights), c.n))
               for c in result.citations if c.cited]
    rows += [sources[i:i + 4] for i in range(0, len(sources), 4)]
    if question_id is not None:
        rows.append([_button("More results", MoreResults(question_id, offset))])
        rows.append([_button("👍" + (" ✓" if voted > 0 else ""), Vote(question_id, 1)),
                     _button("👎" + (" ✓" if voted < 0 else ""), Vote(question_id, -1))])
    return InlineKeyboardMarkup(rows) if rows else None


def results_keyboard(hits: Sequence[Hit], question_id: int, offset: int, first_offset: int) -> InlineKeyboardMarkup:
    """Open buttons for a page of results, with Previous / Next that edit the page in place."""
    opens = [_button(f"📄 {offset + i + 1}", OpenPassage(h.passage_id, checksum(h.text)))
             for i, h in enumerate(hits)]
    rows = [opens[i:i + 5] for i in range(0, len(opens), 5)]
    nav = []
    if offset - PAGE_SIZE >= first_offset:
        nav.append(_button("◀ Previous", MoreResults(question_id, offset - PAGE_SIZE, edit=True)))
    if len(hits) == PAGE_SIZE and offset + PAGE_SIZE <= MAX_OFFSET:
        nav.append(_button("Next ▶", MoreResults(question_id, offset + PAGE_SIZE, edit=True)))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows)


def examples_keyboard(examples: Sequence[str]) -> InlineKeyboardMarkup | None:
    """One tappable button per example question that fits in callback data."""
    rows = [[_button(q, AskExample(q))] for q in examples if fits(f"q:{q}")]
    return InlineKeyboardMarkup(rows) if rows else None
