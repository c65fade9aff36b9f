"""Hybrid retrieval: FTS5 BM25 and dense FAISS results fused, near-duplicates collapsed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from index import store, vectors
from index.text import tokens

CANDIDATES = 50
RRF_K = 60
# Measured on XQuAD English with the bundled model (``newsqa eval``): see README.
KEYWORD_WEIGHT = 1.0
VECTOR_WEIGHT = 0.4
DUPLICATE_JACCARD = 0.8
FUSION = "score"


@dataclass
class Hit:
    """One retrieved passage, with why it ranked where it did."""

    passage_id: int
    article_id: str
    score: float
    keyword_rank: int | None
    keyword_score: float | None
    vector_rank: int | None
    vector_score: float | None
    text: str
    start: int
    end: int
    title: str
    source: str | None
    published: str | None
    date_text: str | None
    url: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rrf(rankings: list[list[int]], weights: list[float], k: int = RRF_K) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of id lists (best first); returns ``(id, score)`` best first."""
    if len(rankings) != len(weights):
        raise ValueError("one weight per ranking")
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, pid in enumerate(ranking):
            scores[pid] = scores.get(pid, 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def score_fusion(runs: list[list[tuple[int, float]]], weights: list[float]) -> list[tuple[int, float]]:
    """Weighted sum of each run's scores scaled to [0, 1] by its best score (a missing id scores 0)."""
    if len(runs) != len(weights):
        raise ValueError("one weight per run")
    scores: dict[int, float] = {}
    for run, weight in zip(runs, weights):
        if not run:
            continue
        top = max(s for _, s in run)
        low = min(min(s for _, s in run), 0.0)
        span = (top - low) or 1.0
        for pid, s in run:
            scores[pid] = scores.get(pid, 0.0) + weight * (s - low) / span
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _shingles(text: str) -> set[tuple[str, ...]]:
    toks = tokens(text)
    return {tuple(toks[i : i + 3]) for i in range(max(1, len(toks) - 2))}


def collapse_duplicates(texts: list[str], threshold: float = DUPLICATE_JACCARD, limit: int | None = None) -> list[int]:
    """Indexes of ``texts`` to keep: a text too similar to an earlier kept one is dropped.

    With ``limit``, stop once that many are kept (the rest would not be shown anyway).
    """
    kept: list[int] = []
    sigs: list[set[tuple[str, ...]]] = []
    for i, text in enumerate(texts):
        if limit is not None and len(kept) >= limit:
            break
        sig = _shingles(text)
        if any(len(sig & s) / max(1, len(sig | s)) >= threshold for s in sigs):
            continue
        kept.append(i)
        sigs.append(sig)
    return kept


def hybrid_search(
    db: Any,
    index: Any,
    query_vector: np.ndarray,
    terms: list[str],
    k: int,
    *,
    offset: int = 0,
    keyword_weight: float | None = None,
    vector_weight: float | None = None,
) -> list[Hit]:
    """Up to ``k`` passages (after skipping ``offset``), best first."""
    keyword_weight = KEYWORD_WEIGHT if keyword_weight is None else keyword_weight
    vector_weight = VECTOR_WEIGHT if vector_weight is None else vector_weight
    depth = max(CANDIDATES, 2 * (k + offset))
    keyword = store.keyword_search(db, terms, depth)
    dense: list[tuple[int, float]] = []
    if index.ntotal:
        scores, ids = vectors.search(index, query_vector.reshape(1, -1), depth)
        dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
    if FUSION == "score":
        fused = score_fusion([keyword, dense], [keyword_weight, vector_weight])
    else:
        fused = rrf([[p for p, _ in keyword], [p for p, _ in dense]], [keyword_weight, vector_weight])
    kw_pos = {p: (r + 1, s) for r, (p, s) in enumerate(keyword)}
    dn_pos = {p: (r + 1, s) for r, (p, s) in enumerate(dense)}
    rows = store.passages_by_id(db, [p for p, _ in fused[: depth]])
    ordered = [(pid, score) for pid, score in fused if pid in rows]
    keep = collapse_duplicates([rows[pid]["text"] for pid, _ in ordered], limit=offset + k)
    hits: list[Hit] = []
    for i in keep[offset : offset + k]:
        pid, score = ordered[i]
        r = rows[pid]
        kr, ks = kw_pos.get(pid, (None, None))
        vr, vs = dn_pos.get(pid, (None, None))
        hits.append(Hit(
            passage_id=pid, article_id=r["article_id"], score=round(score, 6), keyword_rank=kr,
            keyword_score=None if ks is None else round(ks, 4), vector_rank=vr,
            vector_score=None if vs is None else round(vs, 4), text=r["text"], start=r["start"], end=r["end"],
            title=r["title"], source=r["source"], published=r["published"], date_text=r["date_text"],
            url=r["url"],
        ))
    return hits
