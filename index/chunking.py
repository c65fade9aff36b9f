"""Sentence splitting and sentence-aware passages, each with its exact character span."""

from __future__ import annotations

import re
from dataclasses import dataclass

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "sen", "rep", "st", "jr", "sr", "inc", "ltd", "co",
    "corp", "vs", "etc", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "no", "gov", "lt", "col", "capt", "sgt", "mt", "ft", "approx", "e.g", "i.e",
    "fig", "vol", "pp", "cf", "al", "u.s", "u.k", "u.n", "a.m", "p.m", "adm", "maj", "pres",
}
# End punctuation, optional closing quotes/brackets, then space and a sentence start.
_BOUNDARY = re.compile(r"[.!?…]+[\"'»”’)\]]*(?=\s+[\"'«“‘(\[\-–—]?[A-ZА-ЯЁ0-9])")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
# How far back from a full stop the word before it is looked for: longer than any abbreviation, so a
# longer run reads as no abbreviation either way, and a long line costs one short look per full stop
# instead of a scan from its start (which made splitting an article quadratic in its length).
_LOOKBACK = 40


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` of an article's text."""

    start: int
    end: int


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the full stop at ``dot`` ends an abbreviation or an initial, not a sentence."""
    m = _WORD_BEFORE.search(text, max(0, dot - _LOOKBACK), dot)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    if word in ABBREVIATIONS:
        return True
    return len(word) == 1 and word.isalpha() and text[dot] == "."


# A dateline ("MOSCOW, October 21." / "TASHKENT, September 18. /TASS/.") opens the sentence after it.
_DATELINE = re.compile(r"^[A-ZА-ЯЁ][A-ZА-ЯЁ .'\-]{1,40},\s+[A-Za-z]+\.?\s+\d{1,2}(?:,\s*\d{4})?\.(?:\s*/[\w\- ]{1,20}/\.?)?$")


def split_sentences(text: str) -> list[Span]:
    """Sentence spans; every line break ends a sentence (headlines have no full stop), and a
    dateline stays with the sentence it opens."""
    spans = _split(text)
    out: list[Span] = []
    for span in spans:
        if out and out[-1].end < span.start and "\n" not in text[out[-1].end : span.start] \
                and _DATELINE.match(text[out[-1].start : out[-1].end]):
            out[-1] = Span(out[-1].start, span.end)
        else:
            out.append(span)
    return out


def _split(text: str) -> list[Span]:
    spans: list[Span] = []
    for line in re.finditer(r"[^\n]+", text):
        base, chunk = line.start(), line.group()
        start = 0
        for m in _BOUNDARY.finditer(chunk):
            if _is_abbreviation(chunk, m.start()):
                continue
            spans.append(Span(base + start, base + m.end()))
            start = m.end()
            while start < len(chunk) and chunk[start].isspace():
                start += 1
        spans.append(Span(base + start, base + len(chunk)))
    return [_strip(text, s) for s in spans if text[s.start : s.end].strip()]


def _strip(text: str, span: Span) -> Span:
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)


def _hard_split(text: str, span: Span, max_chars: int) -> list[Span]:
    """Cut one over-long sentence at word boundaries."""
    out: list[Span] = []
    start = span.start
    while span.end - start > max_chars:
        cut = text.rfind(" ", start + max_chars // 2, start + max_chars)
        cut = cut if cut > start else start + max_chars
        out.append(_strip(text, Span(start, cut)))
        start = cut
    out.append(_strip(text, Span(start, span.end)))
    return [s for s in out if s.end > s.start]


def chunk_text(text: str, max_chars: int = 900, overlap: int = 1) -> list[Span]:
    """Passages of whole sentences up to ``max_chars``; consecutive passages share ``overlap`` sentences."""
    return [passage for passage, _ in chunk_sentences(text, max_chars, overlap)]


def chunk_sentences(text: str, max_chars: int = 900, overlap: int = 1) -> list[tuple[Span, list[Span]]]:
    """:func:`chunk_text`'s passages, each with its sentences (spans of ``text``, an over-long
    sentence cut as the passages cut it): the article is split into sentences once."""
    if max_chars < 50:
        raise ValueError("max_chars must be at least 50")
    sentences: list[Span] = []
    for s in split_sentences(text):
        sentences.extend(_hard_split(text, s, max_chars) if s.end - s.start > max_chars else [s])
    chunks: list[tuple[Span, list[Span]]] = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j].end - sentences[i].start <= max_chars:
            j += 1
        chunks.append((Span(sentences[i].start, sentences[j - 1].end), sentences[i:j]))
        if j >= len(sentences):
            break
        i = max(j - overlap, i + 1)
    return chunks
