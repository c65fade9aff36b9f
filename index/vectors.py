"""FAISS side of an index: inner product over normalised vectors, ids are passage rowids.

The kind of index follows the size (see the README's "Limits and knobs"):

- below ``EXACT_BELOW`` vectors, exact search (``IndexFlatIP`` under an id map, float32);
- from there on, an inverted file of ``nlist_for(n)`` lists with 8-bit scalar-quantised codes
  (``IVF{nlist},SQ8``: 256 bytes a 256-dim vector instead of 1,024), searched in ``NPROBE``
  lists. Its recall against exact search is tested on seeded data and measured by
  ``scripts/bench_scale.py``.

A served index is read into memory up to ``MAP_ABOVE_BYTES`` (128 MB, about 500,000 passages)
and memory-mapped (``IO_FLAG_MMAP``) beyond: a mapped index starts at once and holds only the lists
its questions probed, but FAISS reads mapped lists about 1.3 ms a question slower. An update loads the live
file, removes and adds only what changed, and is written beside it: nothing is retrained
unless the index changes kind or outgrows its lists fourfold.
"""

from __future__ import annotations

import math
import os
import platform
import sys
from pathlib import Path

import numpy as np

EXACT_BELOW = 20_000
NPROBE = 24
TRAIN_PER_LIST = 64
# k-means rounds for the lists (FAISS's default: 10). At 100k passages 6 rounds took 3.4 s against 5.6 s
# on one thread, and found the same neighbours: recall@10 against exact search 0.829 against 0.831,
# top-1 0.903 against 0.901 (1,000 XQuAD questions; k-means' own seed moves these by as much).
# 4 rounds: 2.3 s against 3.5 s, the last step of a new build; recall@10 against exact search 0.821
# against 0.823 over the 1,190 XQuAD questions, 0.731 against 0.736 over 2,000 passages' second
# sentences (means of 4 k-means seeds, each +-0.002).
TRAIN_ITERATIONS = 4
SQ_TRAIN = 20_000  # of those training vectors, how many the 8-bit ranges are fitted on
# An inverted file is rebuilt when the size it would be given is this many times its own.
REBUILD_GROWTH = 2.0
# A served index file up to this size is read into memory (about 500,000 passages: 27.7 MB at 100,000);
# a bigger one is memory-mapped, so that it starts at once and holds only the lists questions probed.
MAP_ABOVE_BYTES = 128 << 20


def _faiss():  # noqa: ANN202 - lazy import keeps CLI start-up fast
    if "faiss" not in sys.modules:
        name_blas_kernel()
    import faiss

    return faiss


# OpenBLAS kernels by the x86 instruction sets they need, best first.
_KERNELS = (("SkylakeX", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}), ("Haswell", {"avx2", "fma"}))


def blas_kernel(flags: set[str]) -> str | None:
    """The OpenBLAS kernel for an x86 CPU with these feature flags (None: leave it to OpenBLAS)."""
    return next((name for name, needs in _KERNELS if needs <= flags), None)


def name_blas_kernel() -> None:
    """Tell the OpenBLAS inside FAISS's wheel which kernel fits this CPU, before it loads.

    That OpenBLAS (0.3.15 in faiss-cpu 1.13.2 and 1.15.1; 1.12.0 was as slow) does not recognise
    recent x86 CPUs and falls back to its oldest kernel ("Prescott"). Measured on a 2.8 GHz Xeon
    with AVX-512, one thread: training the 100k-passage index's lists took 15.7 s instead of 3.6 s,
    and adding the vectors 3.2 s instead of 0.8 s. The kernel is named from the CPU's flags (Linux,
    x86), and only when ``OPENBLAS_CORETYPE`` is not set already.
    """
    if "OPENBLAS_CORETYPE" in os.environ or platform.machine().lower() not in ("x86_64", "amd64"):
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return
    kernel = blas_kernel(set(flags))
    if kernel:
        os.environ["OPENBLAS_CORETYPE"] = kernel


def search_single_threaded() -> None:
    """For serving: one question is one small search, and OpenMP threads only add waiting for a
    core (p95 of a flat search on a busy 2-core machine: 4.1 ms with two threads, 0.06 ms with one).

    OpenMP's thread count belongs to the thread that sets it, and questions arrive on many (the
    API's and the bot's worker threads), so :func:`search` sets it on each thread it runs on."""
    global _single_threaded
    _single_threaded = True


_single_threaded = False


def nlist_for(n: int) -> int:
    """Lists for ``n`` vectors: 4 sqrt(n), with at least 39 vectors a list to train on."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


def is_exact(index: object) -> bool:
    return not hasattr(index, "nprobe")


def training_rows(n: int, *, exact: bool | None = None) -> np.ndarray:
    """Sorted positions, among ``n`` vectors in id order, of those an index for them is trained on
    (none for an exact index): a build can fetch just these before adding the rest a batch at a time."""
    if exact if exact is not None else n < EXACT_BELOW:
        return np.zeros(0, np.int64)
    return np.sort(np.random.default_rng(0).permutation(n)[: nlist_for(n) * TRAIN_PER_LIST])


def new(dim: int, n: int, train: np.ndarray | None = None, *, exact: bool | None = None) -> object:
    """An empty inner-product index of the kind ``n`` vectors call for; an inverted file is trained
    on ``train``, the vectors at :func:`training_rows` (rows already L2-normalised)."""
    faiss = _faiss()
    if exact if exact is not None else n < EXACT_BELOW:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    train = np.ascontiguousarray(train, dtype=np.float32)
    index = faiss.index_factory(dim, f"IVF{nlist_for(n)},SQ8", faiss.METRIC_INNER_PRODUCT)
    # The lists, exactly as index.train would make them; then the 8-bit ranges alone, on a subsample:
    # fitting them copies the vectors twice over (FAISS's own subsample, then residuals).
    index.cp.niter = TRAIN_ITERATIONS
    faiss.Clustering(dim, index.nlist, index.cp).train(train, index.quantizer)
    index.train(train[np.sort(np.random.default_rng(0).permutation(len(train))[:SQ_TRAIN])])
    index.nprobe = NPROBE
    return index


def build(vectors: np.ndarray, ids: np.ndarray, *, exact: bool | None = None) -> object:
    """An inner-product index over ``vectors`` (rows already L2-normalised), its kind chosen by size."""
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"need one id per vector row, got {vectors.shape} vectors and {len(ids)} ids")
    n, dim = vectors.shape
    index = new(dim, n, vectors[training_rows(n, exact=exact)], exact=exact)
    add(index, vectors, ids)
    return index


def add(index: object, vectors: np.ndarray, ids: np.ndarray) -> None:
    """Add vectors under their ids (a batch at a time is fine: nothing is retrained)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, index.d)
    ids = np.asarray(ids, dtype=np.int64)
    if len(vectors) != len(ids):
        raise ValueError(f"need one id per vector row, got {len(vectors)} vectors and {len(ids)} ids")
    if len(ids):
        if not is_exact(index):
            index.set_direct_map_type(_faiss().DirectMap.NoMap)
        index.add_with_ids(vectors, ids)


def remove(index: object, remove_ids: np.ndarray) -> None:
    """Remove these ids (loaded without mmap)."""
    faiss = _faiss()
    remove_ids = np.asarray(remove_ids, dtype=np.int64)
    if len(remove_ids):
        if not is_exact(index):
            index.set_direct_map_type(faiss.DirectMap.NoMap)  # removal keeps no hash table in step
        index.remove_ids(faiss.IDSelectorBatch(len(remove_ids), faiss.swig_ptr(remove_ids)))


def fits(index: object, n: int) -> bool:
    """Whether ``index`` can hold ``n`` vectors as it is: same kind, and not outgrown its lists."""
    want_exact = n < EXACT_BELOW
    return want_exact == is_exact(index) and (want_exact or nlist_for(n) < REBUILD_GROWTH * index.nlist)


def one_thread() -> None:
    """FAISS work started on the calling thread from now on runs on one OpenMP thread (other threads
    keep their own setting)."""
    _faiss().omp_set_num_threads(1)


def search(index: object, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, ids)`` for each query row, best first; missing slots have id -1."""
    if queries.ndim != 2:
        raise ValueError("queries must be a 2-D array")
    if index.ntotal == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    k = max(1, min(k, index.ntotal))
    if _single_threaded:
        one_thread()  # this thread's setting: OpenMP keeps one per thread
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def save(index: object, path: Path) -> None:
    """Write the index and flush it (and its folder's entry) to disk before anyone may switch to it."""
    from index.layout import fsync_path

    _faiss().write_index(index, str(path))
    fsync_path(path)
    fsync_path(path.parent)


def load_for_serving(path: Path) -> object:
    """The index in ``path`` as questions use it: read into memory up to ``MAP_ABOVE_BYTES``, mapped
    beyond (see :func:`load`)."""
    try:
        big = path.stat().st_size > MAP_ABOVE_BYTES
    except OSError:
        big = False  # reading it says what is wrong
    return load(path, mmap=big)


def load(path: Path, *, mmap: bool = False) -> object:
    """The index in ``path``; ``mmap`` maps an inverted file's lists instead of reading them (read-only).
    FAISS serves mapped lists through its on-disk lists, which cost about 1.3 ms a question more:
    one search at 100,000 passages took 1.5-1.9 ms mapped against 0.2 ms read into memory."""
    faiss = _faiss()
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0)
    if not is_exact(index):
        index.nprobe = NPROBE
    return index


def ids(index: object) -> np.ndarray:
    """Every id stored in the index."""
    faiss = _faiss()
    if is_exact(index):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    lists = index.invlists
    parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
             for i in range(index.nlist) if lists.list_size(i)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def reconstruct(index: object, wanted: np.ndarray) -> np.ndarray:
    """The stored vectors of ``wanted`` ids (decoded from 8 bits for an inverted file)."""
    wanted = np.asarray(wanted, dtype=np.int64)
    if len(wanted) == 0:
        return np.zeros((0, index.d), np.float32)
    if not is_exact(index) and index.direct_map.type != _faiss().DirectMap.Hashtable:
        index.set_direct_map_type(_faiss().DirectMap.Hashtable)
    return np.vstack([index.reconstruct(int(i)) for i in wanted]).astype(np.float32)


def update(index: object, add_vectors: np.ndarray, add_ids: np.ndarray, remove_ids: np.ndarray) -> object:
    """``index`` (loaded without mmap) less ``remove_ids`` plus the new vectors.

    Only what changed is touched; the index is rebuilt from its own vectors when it must
    change kind (exact below ``EXACT_BELOW``, an inverted file above) or has outgrown its lists.
    """
    add_vectors = np.ascontiguousarray(add_vectors, dtype=np.float32).reshape(-1, index.d)
    add_ids = np.asarray(add_ids, dtype=np.int64)
    if len(add_vectors) != len(add_ids):
        raise ValueError(f"need one id per vector row, got {len(add_vectors)} vectors and {len(add_ids)} ids")
    remove(index, remove_ids)
    if fits(index, index.ntotal + len(add_ids)):
        add(index, add_vectors, add_ids)
        return index
    old_ids = ids(index)
    old = reconstruct(index, old_ids)
    return build(np.vstack([old, add_vectors]), np.concatenate([old_ids, add_ids]))
