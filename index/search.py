"""Hybrid retrieval: BM25 over the keyword postings and dense FAISS results fused, near-duplicates collapsed."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from index import postings, store, vectors
from index.query import Query
from index.terms import PUBLISHED, QueryTerm, fts_expression
from index.text import tokens

CANDIDATES = 50
RRF_K = 60
# Measured on XQuAD English with the bundled model (``newsqa eval``): see README.
KEYWORD_WEIGHT = 1.0
VECTOR_WEIGHT = 1.0
DUPLICATE_JACCARD = 0.8
FUSION = "score"
# Postings (passages per term, summed) the keyword search may rank; see bounded_terms.
KEYWORD_POSTINGS = 300_000
# Added to the fused score of a passage that states the question's date (or whose article is of that date).
DATE_BOOST = 0.3
# A passage's dense score: its own similarity plus this share of its best sentence's (finer-grained,
# and what carries a Russian question over English text).
SENTENCE_WEIGHT = 0.5
# Scale each run to [0, 1] between its worst and best candidate ("minmax"), or by its best only ("max").
NORMALISE = "minmax"


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
    date_match: bool = False          # the passage states the question's date, or its article is of that date
    article_date_match: bool = False  # its article is of that date (published, or the partial date it gives)

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


def score_fusion(runs: list[list[tuple[int, float]]], weights: list[float],
                 normalise: str | None = None) -> list[tuple[int, float]]:
    """Weighted sum of each run's scores scaled to [0, 1] by its best score (a missing id scores 0)."""
    if len(runs) != len(weights):
        raise ValueError("one weight per run")
    normalise = normalise or NORMALISE
    scores: dict[int, float] = {}
    for run, weight in zip(runs, weights):
        if not run:
            continue
        top = max(s for _, s in run)
        low = min(min(s for _, s in run), 0.0) if normalise == "max" else min(s for _, s in run)
        span = (top - low) or 1.0
        for pid, s in run:
            scores[pid] = scores.get(pid, 0.0) + weight * (s - low) / span
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _shingles(text: str) -> set[tuple[str, ...]]:
    """The text's runs of three tokens (a shorter text: its tokens, as one)."""
    toks = tokens(text)
    return set(zip(toks, toks[1:], toks[2:])) if len(toks) >= 3 else {tuple(toks)}


def _jaccard(a: set, b: set) -> float:
    both = len(a & b)
    return both / max(1, len(a) + len(b) - both)


def collapse_duplicates(texts: Iterable[str], threshold: float = DUPLICATE_JACCARD, limit: int | None = None
                        ) -> list[int]:
    """Indexes of ``texts`` to keep: a text too similar to an earlier kept one is dropped.

    With ``limit``, stop once that many are kept (the rest would not be shown anyway, and are not
    read from ``texts``).
    """
    kept: list[int] = []
    sigs: list[set[tuple[str, ...]]] = []
    if limit is not None and limit <= 0:
        return kept
    for i, text in enumerate(texts):
        sig = _shingles(text)
        if any(_jaccard(sig, s) >= threshold for s in sigs):
            continue
        kept.append(i)
        sigs.append(sig)
        if limit is not None and len(kept) >= limit:
            break
    return kept


def bounded_terms(db: Any, terms: list[QueryTerm], budget: int | None = None,
                  frequencies: dict[str, int] | None = None) -> list[QueryTerm]:
    """The terms FTS5 ranks: rarest first, until their passages add up to ``KEYWORD_POSTINGS``.

    Ranking an OR of question words costs a BM25 score for every passage holding any of them;
    at a million passages one common word ("first", "year") is 100,000 of them. The rarest
    term is always kept; below the budget (any corpus up to tens of thousands of passages)
    every term is. Frequencies come from the FTS5 vocabulary, a lookup rather than a scan (or
    from ``frequencies``, when the question's analysis already read them).
    """
    budget = KEYWORD_POSTINGS if budget is None else budget
    keys = [k for t in terms for k in t.keys]
    if frequencies is not None and all(k in frequencies for k in keys):
        dfs = frequencies
    else:
        dfs = store.key_frequencies(db, keys)
    cost = {t: sum(dfs.get(k, 0) for k in t.keys) for t in terms}
    kept: set[QueryTerm] = set()
    total = 0
    for t in sorted((t for t in terms if cost[t] > 0), key=lambda t: (cost[t], t.keys)):
        if kept and total + cost[t] > budget:
            break
        kept.add(t)
        total += cost[t]
    return [t for t in terms if t in kept]


def keyword_trust(query: Query) -> float:
    """How far to trust keyword matches: by the share of the question the index holds at all.

    A Russian question over English articles matches almost no index word, and the few it
    does match (a number, a name) would otherwise outweigh the meaning the dense side found.
    """
    return query.matched_share


def widen_half(blob: bytes) -> np.ndarray:
    """Little-endian float16 numbers, end to end, as a float32 array (the same values: each half float is
    one). numpy widens them one at a time in software, 230 us for a question's 600 sentence vectors; torch
    with the CPU's conversion instructions, in a tenth of that. Torch only when it is loaded already (by
    sentence-transformers, for any real model): importing it takes seconds, not for a question to wait."""
    torch = sys.modules.get("torch")
    if torch is None or sys.byteorder != "little" or not blob:
        return np.frombuffer(blob, dtype="<f2").astype(np.float32)
    return torch.frombuffer(bytearray(blob), dtype=torch.float16).float().numpy()


def best_sentences(db: Any, query_vector: np.ndarray, passage_ids: list[int]) -> dict[int, float]:
    """``{passage id: similarity of its best sentence}`` for those of these passages that have sentence vectors."""
    stored = store.sentence_vectors_of(db, passage_ids)
    if not stored:
        return {}
    # Every sentence in one product; each passage's rows follow one another.
    owners = list(stored)
    counts = [len(blob) // (2 * len(query_vector)) for blob in stored.values()]
    scores = widen_half(b"".join(stored.values())).reshape(sum(counts), -1) @ query_vector
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    return dict(zip(owners, np.maximum.reduceat(scores, starts).tolist()))


def sentence_rerank(db: Any, query_vector: np.ndarray, dense: list[tuple[int, float]],
                    extra: list[int], known: dict[int, float] | None = None) -> list[tuple[int, float]]:
    """Dense scores for every candidate (the vector search's and the keyword search's): the passage's
    similarity plus ``SENTENCE_WEIGHT`` times its best sentence's, best first.

    ``known``: :func:`best_sentences` of the vector search's candidates, when already computed.
    """
    own = dict(dense)
    missing = [p for p in dict.fromkeys(extra) if p not in own]
    for pid, vec in store.passage_vectors(db, missing).items():
        own[pid] = float(vec @ query_vector)
    best = dict(known) if known is not None else {}
    best.update(best_sentences(db, query_vector, [p for p in own if known is None or p not in known]))
    out = [(pid, s + SENTENCE_WEIGHT * best.get(pid, s)) for pid, s in own.items()]
    return sorted(out, key=lambda kv: (-kv[1], kv[0]))


def depth_for(k: int, offset: int = 0) -> int:
    """How many candidates each retriever returns for ``k`` results after ``offset``."""
    return max(CANDIDATES, 2 * (k + offset))


def keyword_candidates(db: Any, query: Query, depth: int, passages: int) -> list[tuple[int, float]]:
    """The keyword side: ``(passage id, bm25 score)`` best first, over the question's bounded terms
    (ranked from the postings; by FTS5 in an index built before them)."""
    kept = bounded_terms(db, query.terms, frequencies=query.frequencies)
    if postings.exists(db):
        return postings.rank(db, [k for t in kept for k in t.keys], depth, passages, store.COLUMN_WEIGHTS)
    return store.keyword_search(db, fts_expression(kept), depth)


def _read_in_order(db: Any, ranked: list[tuple[int, float]], first: int) -> Iterator[tuple[int, float, dict[str, Any]]]:
    """``(passage id, score, row)`` of ``ranked`` in its order, read ``first`` at a time, then twice as many
    each time more are wanted (a passage no longer in the index is skipped)."""
    at, size = 0, max(1, first)
    while at < len(ranked):
        chunk = ranked[at : at + size]
        rows = store.passages_by_id(db, [p for p, _ in chunk])
        yield from ((pid, score, rows[pid]) for pid, score in chunk if pid in rows)
        at, size = at + size, 2 * size


def hybrid_search(
    db: Any,
    index: Any,
    query_vector: np.ndarray,
    query: Query,
    k: int,
    *,
    offset: int = 0,
    keyword_weight: float | None = None,
    vector_weight: float | None = None,
    keyword: list[tuple[int, float]] | Callable[[], list[tuple[int, float]]] | None = None,
) -> list[Hit]:
    """Up to ``k`` passages (after skipping ``offset``), best first.

    ``keyword``: the :func:`keyword_candidates` at :func:`depth_for` ``(k, offset)``, or a callable
    that waits for them, when the caller runs them itself (the engine runs them in another thread
    while the question is embedded and the vector side is searched and scored).
    """
    keyword_weight = (KEYWORD_WEIGHT if keyword_weight is None else keyword_weight) * keyword_trust(query)
    vector_weight = VECTOR_WEIGHT if vector_weight is None else vector_weight
    depth = depth_for(k, offset)
    dense: list[tuple[int, float]] = []
    if index.ntotal:
        scores, ids = vectors.search(index, query_vector.reshape(1, -1), depth)
        dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
    known = best_sentences(db, query_vector, [p for p, _ in dense]) if SENTENCE_WEIGHT else None
    if keyword is None:
        keyword = keyword_candidates(db, query, depth, index.ntotal)
    elif callable(keyword):
        keyword = keyword()
    if SENTENCE_WEIGHT:
        dense = sentence_rerank(db, query_vector, dense, [p for p, _ in keyword], known)
    if FUSION == "score":
        fused = score_fusion([keyword, dense], [keyword_weight, vector_weight])
    else:
        fused = rrf([[p for p, _ in keyword], [p for p, _ in dense]], [keyword_weight, vector_weight])
    kw_pos = {p: (r + 1, s) for r, (p, s) in enumerate(keyword)}
    dn_pos = {p: (r + 1, s) for r, (p, s) in enumerate(dense)}
    wanted = query.date_tokens
    dated: set[int] = set()
    by_article: set[int] = set()
    if wanted:  # the date boost may lift any of the candidates: all are read
        rows = store.passages_by_id(db, [p for p, _ in fused[:depth]])
        held = {pid: wanted & set((r.get("terms") or "").split()) for pid, r in rows.items()}
        dated = {pid for pid, keys in held.items() if keys}
        by_article = {pid for pid, keys in held.items() if any(k.startswith(PUBLISHED) for k in keys)}
        boosted = sorted(((pid, score + (DATE_BOOST if pid in dated else 0.0)) for pid, score in fused if pid in rows),
                         key=lambda kv: (-kv[1], kv[0]))
        candidates: Iterable[tuple[int, float, dict[str, Any]]] = ((pid, score, rows[pid]) for pid, score in boosted)
    else:  # in fused order: read as far as collapsing duplicates needs
        candidates = _read_in_order(db, fused[:depth], 2 * (offset + k))
    seen: list[tuple[int, float, dict[str, Any]]] = []  # the candidates collapsing has read, in order

    def texts() -> Iterator[str]:
        for candidate in candidates:
            seen.append(candidate)
            yield candidate[2]["text"]

    keep = collapse_duplicates(texts(), limit=offset + k)
    hits: list[Hit] = []
    for i in keep[offset : offset + k]:
        pid, score, r = seen[i]
        kr, ks = kw_pos.get(pid, (None, None))
        vr, vs = dn_pos.get(pid, (None, None))
        hits.append(Hit(
            passage_id=pid, article_id=r["article_id"], score=round(score, 6), keyword_rank=kr,
            keyword_score=None if ks is None else round(ks, 4), vector_rank=vr,
            vector_score=None if vs is None else round(vs, 4), text=r["text"], start=r["start"], end=r["end"],
            title=r["title"], source=r["source"], published=r["published"], date_text=r["date_text"],
            url=r["url"], date_match=pid in dated, article_date_match=pid in by_article,
        ))
    return hits
