"""Extractive answers: one or two sentences quoted verbatim from the best passages, with [n] markers.

Sentences are scored by how much of the question's (IDF-weighted) content they contain, how
close they are to the question in embedding space, and how well their passage ranked. When
the best sentence covers too little of the question, the answer abstains instead of citing noise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from index.chunking import split_sentences
from index.search import Hit
from index.text import stem, stems

MAX_ANSWER_CHARS = 400
SENTENCE_PASSAGES = 3
DENSE_WEIGHT = 0.35
RANK_WEIGHT = 0.15
# Abstain unless the best sentence covers this share of the question's IDF weight, or is
# close to the question in meaning and covers at least the lower share. Calibrated with
# ``newsqa eval`` (XQuAD questions asked of the news corpus must all abstain).
MIN_COVERAGE = 0.45
MIN_COVERAGE_WITH_DENSE = 0.25
MIN_DENSE = 0.5
# ... or the passage around it covers this much (the answer sentence may use a pronoun).
MIN_PASSAGE_COVERAGE = 0.6
CONTEXT_WEIGHT = 0.2
# Bonus for a sentence holding what the question asks for (a date for "when", a number for "how many").
KIND_WEIGHT = 0.25
# A second sentence must cover at least this share of what the first one covers.
SECOND_MIN_RATIO = 0.3
# ... and score at least this share of the first one's total score.
SECOND_MIN_SCORE = 0.5
SECOND_NEEDS_KIND = True
NOT_FOUND = "I could not find this in the indexed articles. Try rephrasing, or ask about something the articles cover."


@dataclass
class Citation:
    """A numbered source: the passage, its article, and the quoted spans inside the passage."""

    n: int
    article_id: str
    title: str
    source: str | None
    published: str | None
    date_text: str | None
    url: str | None
    text: str
    start: int
    end: int
    score: float
    passage_id: int
    cited: bool = False
    highlights: list[list[int]] = field(default_factory=list)
    keyword_rank: int | None = None
    keyword_score: float | None = None
    vector_rank: int | None = None
    vector_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Answer:
    """What every front end shows: ``to_dict()`` is the JSON contract of ``newsqa ask --json``."""

    question: str
    found: bool
    answer: str
    citations: list[Citation]
    confidence: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "found": self.found, "answer": self.answer,
                "confidence": round(self.confidence, 3), "citations": [c.to_dict() for c in self.citations]}


def idf(df: int, n: int) -> float:
    """BM25's IDF; a term no passage contains weighs the most."""
    return math.log((n - df + 0.5) / (df + 0.5) + 1.0)


def coverage(term_stems: dict[str, str], weights: dict[str, float], sentence: str) -> float:
    """Share of the question's IDF weight whose terms occur in ``sentence``."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    have = stems(sentence)
    return sum(w for t, w in weights.items() if term_stems[t] in have) / total


def clip(text: str, start: int, end: int, focus: dict[str, float] | set[str],
         limit: int = MAX_ANSWER_CHARS) -> tuple[int, int]:
    """A span of at most ``limit`` characters inside ``[start, end)``, cut at spaces, holding the
    most question weight (rare words count most), so an over-long sentence still quotes verbatim."""
    if end - start <= limit:
        return start, end
    weights = focus if isinstance(focus, dict) else {f: 1.0 for f in focus}
    words = _word_spans(text, start, end)
    best, best_lo = -1.0, start
    j = 0
    for i, (lo, _) in enumerate(words):
        while j < len(words) and words[j][0] + len(words[j][1]) - lo <= limit:
            j += 1
        inside = {stem(w.strip(".,;:!?\"'«»“”()[]")) for _, w in words[i:j]}
        score = sum(weights.get(t, 0.0) for t in inside)
        if score > best:
            best, best_lo = score, lo
    hi = min(end, best_lo + limit)
    if hi < end:
        sp = text.rfind(" ", best_lo, hi)
        hi = sp if sp > best_lo else hi
    return best_lo, hi


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, str]]:
    out, i = [], start
    for w in text[start:end].split(" "):
        if w:
            out.append((i, w))
        i += len(w) + 1
    return out


def _marked(quote: str, cut: tuple[bool, bool] | None) -> str:
    """Show where an over-long sentence was cut."""
    if not cut:
        return quote
    return ("… " if cut[0] else "") + quote + (" …" if cut[1] else "")


def _owner(citations: list[Citation], cited: list[int], ci: int, s: int, e: int) -> tuple[int, int, int]:
    """Move a sentence span of citation ``ci`` to the same text inside an already-cited passage."""
    quote = citations[ci].text[s:e]
    for other in cited:
        at = citations[other].text.find(quote)
        if other != ci and at >= 0:
            return other, at, at + len(quote)
    return ci, s, e


_YEAR_OR_DATE = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b\.?|\bcentur(y|ies)\b|\b\d{1,2}(st|nd|rd|th)\b"
)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|hundred|thousand|"
                     r"million|billion|dozens?|half)\b", re.I)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+")


def expected_kind(question: str) -> re.Pattern[str] | None:
    """What the answer to a wh-question looks like: a date, a number or a name."""
    q = question.lower()
    if re.match(r"\s*(when|what year|in what year|what date|which year|what century|in which year)\b", q):
        return _YEAR_OR_DATE
    if re.match(r"\s*(how (many|much|long|old|far|large|big|tall|high)|what (percentage|percent|number|amount))\b", q):
        return _NUMBER
    if re.match(r"\s*(who|whom|whose|where|which (person|company|team|country|city))\b", q):
        return _NAME
    return None


def kind_bonus(kind: re.Pattern[str] | None, sentence: str, question: str) -> float:
    """1.0 when the sentence holds something of the expected kind that the question does not."""
    if kind is None:
        return 0.0
    q = question.lower()
    return 1.0 if any(m.group(0).lower() not in q for m in kind.finditer(sentence)) else 0.0


def compose(
    question: str,
    hits: list[Hit],
    weights: dict[str, float],
    query_vector: np.ndarray,
    encode: Callable[[list[str]], np.ndarray],
) -> Answer:
    """The answer to ``question`` from ``hits`` (best first)."""
    citations = [Citation(n=i + 1, article_id=h.article_id, title=h.title, source=h.source,
                          published=h.published, date_text=h.date_text, url=h.url, text=h.text,
                          start=h.start, end=h.end, score=h.score, passage_id=h.passage_id,
                          keyword_rank=h.keyword_rank, keyword_score=h.keyword_score,
                          vector_rank=h.vector_rank, vector_score=h.vector_score) for i, h in enumerate(hits)]
    if not hits or not weights:
        return Answer(question, False, NOT_FOUND, citations)
    term_stems = {t: stem(t) for t in weights}
    cands: list[tuple[int, int, int]] = []  # (citation index, start, end) within passage text
    for ci, c in enumerate(citations[:SENTENCE_PASSAGES]):
        for s in split_sentences(c.text):
            cands.append((ci, s.start, s.end))
    texts = [citations[ci].text[s:e] for ci, s, e in cands]
    dense = encode(texts) @ query_vector if texts else np.zeros(0)
    passage_cov = [coverage(term_stems, weights, c.text) for c in citations[:SENTENCE_PASSAGES]]
    kind = expected_kind(question)
    scored = []
    for (ci, s, e), text, d in zip(cands, texts, dense):
        cov = coverage(term_stems, weights, text)
        score = (cov + CONTEXT_WEIGHT * passage_cov[ci] + DENSE_WEIGHT * float(d) + RANK_WEIGHT / (1 + ci)
                 + KIND_WEIGHT * kind_bonus(kind, text, question))
        scored.append((score, cov, float(d), ci, s, e))
    scored.sort(key=lambda x: -x[0])
    best = scored[0]
    _, cov, d, ci, s, e = best
    # Relevance is judged on the strongest evidence, whichever sentence is quoted first.
    found = any(c2 >= MIN_COVERAGE or (c2 >= MIN_COVERAGE_WITH_DENSE and d2 >= MIN_DENSE)
                or passage_cov[ci2] >= MIN_PASSAGE_COVERAGE for _, c2, d2, ci2, _, _ in scored)
    if not found:
        return Answer(question, False, NOT_FOUND, citations, confidence=cov)
    focus: dict[str, float] = {}
    for t, w in weights.items():
        focus[term_stems[t]] = focus.get(term_stems[t], 0.0) + w
    picked = [(ci, *clip(citations[ci].text, s, e, focus, MAX_ANSWER_CHARS - 12))]
    clipped = {picked[0]: (picked[0][1] > s, picked[0][2] < e)}  # cut at the start / at the end
    used = picked[0][2] - picked[0][1]
    for score2, cov2, d2, ci2, s2, e2 in scored[1:]:
        if len(picked) == 2:
            break
        if score2 < SECOND_MIN_SCORE * scored[0][0]:
            break
        if SECOND_NEEDS_KIND and kind is not None and not kind_bonus(kind, citations[ci2].text[s2:e2], question):
            continue  # a "when" question gains nothing from a second sentence without a date
        if cov2 < SECOND_MIN_RATIO * cov or cov2 <= 0 or (ci2 == ci and (s2, e2) == (s, e)) or used + (e2 - s2) + 16 > MAX_ANSWER_CHARS:
            continue
        if citations[ci2].text[s2:e2].strip() == citations[ci].text[s:e].strip():
            continue
        picked.append((ci2, s2, e2))
        used += e2 - s2
    # A sentence that an already-cited passage also contains is cited to that passage.
    if len(picked) == 2:
        picked[1] = _owner(citations, [picked[0][0]], *picked[1])
    # Same passage: keep reading order. Otherwise best first.
    if len(picked) == 2 and picked[0][0] == picked[1][0]:
        picked.sort(key=lambda p: p[1])
    parts: list[str] = []
    j = 0
    while j < len(picked):
        pci, ps, pe = picked[j]
        c = citations[pci]
        quote = _marked(c.text[ps:pe], clipped.get((pci, ps, pe)))
        c.cited = True
        c.highlights.append([ps, pe])
        if j + 1 < len(picked) and picked[j + 1][0] == pci:
            _, ns, ne = picked[j + 1]
            c.highlights.append([ns, ne])
            gap = c.text[pe:ns]
            quote += (gap if not gap.strip() else " … ") + _marked(c.text[ns:ne], clipped.get((pci, ns, ne)))
            j += 1
        parts.append(f"“{quote}” [{c.n}]")
        j += 1
    return Answer(question, True, " ".join(parts), citations, confidence=cov)
