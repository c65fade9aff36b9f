"""FAISS side of an index: inner product over normalised vectors, ids are passage rowids.

Exact (flat) search below ``APPROXIMATE_FROM`` vectors; an HNSW graph above, where exact
search would cost too much per question.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

APPROXIMATE_FROM = 200_000


def _faiss():  # noqa: ANN202 - lazy import keeps CLI start-up fast
    import faiss

    return faiss


def build(vectors: np.ndarray, ids: np.ndarray) -> object:
    """An ID-mapped inner-product index over ``vectors`` (rows already L2-normalised)."""
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"need one id per vector row, got {vectors.shape} vectors and {len(ids)} ids")
    faiss = _faiss()
    dim = vectors.shape[1]
    if len(vectors) >= APPROXIMATE_FROM:
        inner = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efSearch = 128
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    if len(vectors):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))
    return index


def search(index: object, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, ids)`` for each query row, best first; missing slots have id -1."""
    if queries.ndim != 2:
        raise ValueError("queries must be a 2-D array")
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    if index.ntotal == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def save(index: object, path: Path) -> None:
    """Write the index and flush it to disk before anyone may switch to it."""
    from index.layout import fsync_path

    _faiss().write_index(index, str(path))
    fsync_path(path)


def load(path: Path) -> object:
    return _faiss().read_index(str(path))


def ids(index: object) -> np.ndarray:
    """Every id stored in an ID-mapped index."""
    return _faiss().vector_to_array(index.id_map).astype(np.int64)
