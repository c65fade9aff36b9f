"""Split Telegram HTML into messages of at most 4,096 UTF-16 code units.

Telegram counts UTF-16 code units, so an emoji or any other astral character weighs two.
Cuts prefer paragraph breaks, then line breaks, then sentence ends, then spaces; a tag open
at the cut is closed at the end of one chunk and reopened (with its attributes) at the start
of the next, so every chunk is well-formed HTML on its own. Entities are never cut, and
neither are surrogate pairs, ZWJ emoji sequences or combining marks.
"""

from __future__ import annotations

import re
import unicodedata

TELEGRAM_LIMIT = 4096
_TOKEN = re.compile(r"<[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);|[^<&]+|[<&]")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
_SENTENCE_END = ".!?…;:"
_CLOSERS_AFTER_SENTENCE = "\"')]»”’"
# Priority of a cut: paragraph > line > sentence > word > anywhere.
PARAGRAPH, LINE, SENTENCE, WORD, ANYWHERE = 4, 3, 2, 1, 0


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _joins(prev: str, nxt: str) -> bool:
    """True when a cut between ``prev`` and ``nxt`` would break one visible character."""
    if nxt == "\u200d" or prev == "\u200d" or "\ufe00" <= nxt <= "\ufe0f" or "\U0001f3fb" <= nxt <= "\U0001f3ff":
        return True
    if unicodedata.combining(nxt) or "\U000e0020" <= nxt <= "\U000e007f":
        return True
    regional = "\U0001f1e6" <= prev <= "\U0001f1ff" and "\U0001f1e6" <= nxt <= "\U0001f1ff"
    return regional


def _priority(before: str, nxt: str) -> int:
    """How good a cut is after the text ``before`` when ``nxt`` comes next."""
    if before.endswith("\n\n"):
        return PARAGRAPH
    if before.endswith("\n"):
        return LINE
    if before[-1:].isspace():
        core = before.rstrip().rstrip(_CLOSERS_AFTER_SENTENCE)
        return SENTENCE if core[-1:] in _SENTENCE_END else WORD
    if not before or _joins(before[-1], nxt):
        return -1
    return ANYWHERE


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _cut(html: str, limit: int) -> tuple[str, str]:
    """The longest good first chunk of ``html`` and the rest (with open tags reopened)."""
    stack: list[tuple[str, str]] = []
    used = 0
    visible = ""  # visible text so far, only its tail matters for priorities
    seen_text = False
    cands: list[tuple[int, int, int, list[tuple[str, str]]]] = []  # (priority, offset, used, stack)
    pending: tuple[int, int] | None = None  # a cut after text, confirmed once we know the next char

    def consider(prio: int, offset: int) -> None:
        if prio >= 0 and seen_text and used + utf16_len(_closers(stack)) <= limit:
            cands.append((prio, offset, used, list(stack)))

    for m in _TOKEN.finditer(html):
        tok = m.group()
        tag = _TAG.match(tok)
        if tag:
            if pending is not None:
                consider(_priority(visible, " "), pending[1])
                pending = None
            used += utf16_len(tok)
            if used > limit:
                break
            name = tag.group(2).lower()
            if tag.group(1):
                while stack and stack.pop()[0] != name:
                    pass
                consider(_priority(visible, " ") if visible else -1, m.end())
            else:
                stack.append((name, tok))
            continue
        chars = [tok] if tok.startswith("&") and len(tok) > 1 else list(tok)
        offset = m.start()
        stop = False
        for ch in chars:
            if pending is not None:
                consider(_priority(visible, ch[0]), pending[1])
                pending = None
            used += utf16_len(ch)
            offset += len(ch)
            if used > limit:
                stop = True
                break
            visible = (visible + ("x" if len(ch) > 1 else ch))[-8:]
            seen_text = seen_text or not ch.isspace()
            pending = (used, offset)
        if stop:
            break
    else:
        return html, ""
    if not cands:
        raise ValueError(f"cannot split this HTML into chunks of {limit} UTF-16 units")
    floor = limit // 2
    chosen = None
    for prio in (PARAGRAPH, LINE, SENTENCE, WORD):
        good = [c for c in cands if c[0] == prio and c[2] >= floor]
        if good:
            chosen = good[-1]
            break
    if chosen is None:
        chosen = max(cands, key=lambda c: (c[1], c[0]))
    _, offset, _, at_stack = chosen
    head = html[:offset].rstrip() + _closers(at_stack)
    tail = "".join(raw for _, raw in at_stack) + html[offset:].lstrip()
    return head, tail


def visible_text(html: str) -> str:
    """The text a chunk shows (tags dropped, entities left as they are)."""
    return re.sub(r"<[^>]*>", "", html)


def split_html(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Chunks of at most ``limit`` UTF-16 units, each well-formed; empty chunks are dropped."""
    if limit < 64:
        raise ValueError("limit must be at least 64 UTF-16 units")
    chunks: list[str] = []
    rest = html
    while rest:
        if utf16_len(rest) <= limit:
            head, rest = rest, ""
        else:
            head, rest = _cut(rest, limit)
        if visible_text(head).strip():
            chunks.append(head)
        if rest and not visible_text(rest).strip():
            break
    return chunks
