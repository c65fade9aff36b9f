"""Keyword ranking of our own: BM25 over one postings row per index key, scored with numpy.

FTS5 finds passages by key, but ranking an OR of question words with ``bm25()`` walks and
scores every match inside SQLite: at 100,000 passages that was 16 of a question's 24 ms, and
FTS5 matching alone, unranked, 7.6 ms. Here each key's postings are one row of the
``postings`` table: the passage ids in ascending order (``uint32``), the key's count in the
passage's own terms and in its article's title (``uint8`` each), and the passage's length in
keys (``uint16``): 8 bytes a posting. A question reads one row per key and scores them all in
a few vector operations, the same formula and column weights as FTS5's ``bm25()``.

Builds collect the postings of the passages they add (:class:`Collector`) in bucket files
beside the database, by key, and write them once at the end, in the build's transaction: an
update rewrites only the keys its added and removed passages hold (the ids of new passages
are above every surviving one, so new postings are appended). FTS5 stays the index of record
for matching single keys, the vocabulary and keys' passage counts.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

TABLE = "postings"
TOKENS_KEY = "postings_tokens"  # meta: the keys of every passage, summed (for the average length)
K1 = 1.2  # FTS5's bm25() constants
B = 0.75
# Sum a question's postings by sorting them when they are fewer than 1/16 of the largest id, else
# into an array of one slot per id (at 300,000 postings over a million passages: 10 ms against 26).
DENSE_SUM_SHARE = 16
BUCKETS = 16  # bucket files a build spreads its postings over, by key (each is sorted in memory alone)
_UPSERT = f"insert or replace into {TABLE} (key, df, ids, freqs, lengths) values (?, ?, ?, ?, ?)"
# One posting parked on disk during a build: key number, passage id, count in text and title, length.
_PARKED = np.dtype([("key", "<u4"), ("pid", "<u4"), ("tf", "u1"), ("title_tf", "u1"), ("length", "<u2")])


def create_table(db: Any) -> None:
    db[TABLE].create({"key": str, "df": int, "ids": bytes, "freqs": bytes, "lengths": bytes}, pk="key")


def exists(db: Any) -> bool:
    return db[TABLE].exists()


@dataclass
class BatchPostings:
    """The postings of one batch of passages, numbered from 0 in batch order."""

    vocab: list[str]     # the batch's keys
    keys: np.ndarray     # key numbers (into ``vocab``)
    rows: np.ndarray     # passage number inside the batch
    tf: np.ndarray
    title_tf: np.ndarray
    lengths: np.ndarray  # per passage of the batch

    @property
    def tokens(self) -> int:
        return int(self.lengths.sum())


def _counts(numbers: list[int], owners: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(owner << 32 | key, count)`` for each distinct (passage, key) pair, sorted."""
    if not numbers:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = (np.asarray(owners, np.int64) << 32) | np.asarray(numbers, np.int64)
    return np.unique(pairs, return_counts=True)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted distinct values of two sorted arrays: ``np.union1d``, which took 0.5 s where this takes
    2.5 ms on 600,000 values (a stable sort finds the two runs and merges them)."""
    both = np.concatenate((a, b))
    both.sort(kind="stable")
    if len(both) < 2:
        return both
    keep = np.empty(len(both), bool)
    keep[0] = True
    np.not_equal(both[1:], both[:-1], out=keep[1:])
    return both[keep]


def _numbering() -> defaultdict[str, int]:
    """A dict that numbers a new key as it is first looked up (0, 1, 2, ...), all in C."""
    numbers: defaultdict[str, int] = defaultdict()
    numbers.default_factory = numbers.__len__
    return numbers


def count(terms: list[str], title_terms: list[str]) -> BatchPostings:
    """Count the keys of each passage (its ``terms`` and its article's ``title_terms``, as stored).
    Depends on nothing but its arguments: a build runs it in worker processes."""
    vocab = _numbering()
    number = vocab.__getitem__
    text_keys: list[int] = []
    text_rows: list[int] = []
    title_keys: list[int] = []
    title_rows: list[int] = []
    lengths = np.zeros(len(terms), np.int64)
    for row, (own, title) in enumerate(zip(terms, title_terms)):
        a = own.split()
        b = title.split() if title else []
        text_keys.extend(map(number, a))
        text_rows.extend([row] * len(a))
        title_keys.extend(map(number, b))
        title_rows.extend([row] * len(b))
        lengths[row] = len(a) + len(b)
    text_pairs, text_n = _counts(text_keys, text_rows)
    title_pairs, title_n = _counts(title_keys, title_rows)
    pairs = _union(text_pairs, title_pairs)
    tf = np.zeros(len(pairs), np.int64)
    title_tf = np.zeros(len(pairs), np.int64)
    tf[np.searchsorted(pairs, text_pairs)] = text_n
    title_tf[np.searchsorted(pairs, title_pairs)] = title_n
    return BatchPostings(vocab=list(vocab), keys=(pairs & 0xFFFFFFFF).astype(np.uint32),
                         rows=(pairs >> 32).astype(np.int64), tf=np.minimum(tf, 255).astype(np.uint8),
                         title_tf=np.minimum(title_tf, 255).astype(np.uint8), lengths=lengths)


class Collector:
    """The postings a build adds and the passages it removes, applied to the table by :meth:`write`.

    Added postings wait in ``BUCKETS`` files (by key number) in a temporary folder inside
    ``folder``, so a build of millions of passages holds one bucket in memory at a time.
    """

    def __init__(self, folder: Path | None = None) -> None:
        if folder is not None:
            for left in folder.glob(".postings-*"):  # by a build that was killed (one writer at a time)
                shutil.rmtree(left, ignore_errors=True)
        self._dir = Path(tempfile.mkdtemp(prefix=".postings-", dir=folder))
        self._files = [open(self._dir / f"{b:02d}.bin", "wb") for b in range(BUCKETS)]
        self.vocab = _numbering()
        self.added_tokens = 0
        self.removed_tokens = 0
        self._removed_ids: list[np.ndarray] = []
        self._removed_keys: set[str] = set()

    def add(self, batch: BatchPostings, ids: np.ndarray) -> None:
        """Park a written batch's postings; ``ids``: the passage id each of its rows got (ascending,
        and above every id already parked)."""
        mine = np.fromiter(map(self.vocab.__getitem__, batch.vocab), np.uint32, len(batch.vocab))
        keys = mine[batch.keys] if len(batch.keys) else np.zeros(0, np.uint32)
        parked = np.empty(len(keys), _PARKED)
        parked["key"] = keys
        parked["pid"] = np.asarray(ids, np.int64)[batch.rows]
        parked["tf"] = batch.tf
        parked["title_tf"] = batch.title_tf
        parked["length"] = np.minimum(batch.lengths[batch.rows], 65535)
        bucket = keys % BUCKETS
        for b in np.unique(bucket).tolist():
            parked[bucket == b].tofile(self._files[b])
        self.added_tokens += batch.tokens

    def remove(self, rows: Iterable[tuple[int, str | None, str | None]]) -> None:
        """Passages about to be deleted, as ``(id, terms, title_terms)``: their keys are rewritten without them."""
        ids = []
        for pid, own, title in rows:
            ids.append(pid)
            a = (own or "").split()
            b = (title or "").split()
            self._removed_keys.update(a)
            self._removed_keys.update(b)
            self.removed_tokens += len(a) + len(b)
        if ids:
            self._removed_ids.append(np.asarray(ids, np.uint32))

    def write(self, db: Any) -> None:
        """Apply everything collected to the ``postings`` table (inside the caller's transaction)."""
        for f in self._files:
            f.flush()
        removed = np.unique(np.concatenate(self._removed_ids)) if self._removed_ids else np.zeros(0, np.uint32)
        names = list(self.vocab)
        fresh = not db.execute(f"select 1 from {TABLE} limit 1").fetchone()
        done: set[str] = set()
        for b in range(BUCKETS):
            parked = np.fromfile(self._dir / f"{b:02d}.bin", dtype=_PARKED)
            if not len(parked):
                continue
            # Gathered as plain 12-byte items: numpy's gather of a structured type was 5x slower.
            parked = parked.view(f"V{_PARKED.itemsize}")[_by_key(parked["key"])].view(_PARKED)
            bounds = np.flatnonzero(np.r_[True, parked["key"][1:] != parked["key"][:-1], True])
            keys = [names[k] for k in parked["key"][bounds[:-1]].tolist()]
            done.update(keys)
            if fresh:  # every key's row is its slice of the bucket's: columns converted once, then cut
                rows = zip(keys, bounds[:-1].tolist(), bounds[1:].tolist())
                ids, freqs, lengths = _columns(parked)
                out = [(key, hi - lo, ids[4 * lo : 4 * hi], freqs[2 * lo : 2 * hi], lengths[2 * lo : 2 * hi])
                       for key, lo, hi in rows]
            else:
                out = [_row(key, _merged(_read(db, key), removed, parked[lo:hi]))
                       for key, lo, hi in zip(keys, bounds[:-1].tolist(), bounds[1:].tolist())]
            db.conn.executemany(_UPSERT, out)
        for key in sorted(self._removed_keys - done):  # keys whose passages went and got none new
            group = _merged(_read(db, key), removed, np.zeros(0, _PARKED))
            if len(group):
                db.execute(_UPSERT,
                           _row(key, group))
            else:
                db.execute(f"delete from {TABLE} where key = ?", [key])
        from index import store

        before = int(store.get_meta_value(db, TOKENS_KEY) or 0)
        store.set_meta(db, {TOKENS_KEY: str(max(0, before + self.added_tokens - self.removed_tokens))})

    def close(self) -> None:
        for f in self._files:
            f.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def _by_key(keys: np.ndarray) -> np.ndarray:
    """The order that groups one bucket's postings by key, keeping each key's in the order parked (ids
    ascending). A bucket's keys are ``b``, ``b + BUCKETS``, ...: divided by ``BUCKETS`` they fit 16 bits
    up to a million keys, and a stable sort of 16-bit numbers is a radix sort, 5x faster."""
    rank = keys // BUCKETS
    if len(rank) and int(rank.max()) < 1 << 16:
        rank = rank.astype(np.uint16)
    return np.argsort(rank, kind="stable")


def rebuild(db: Any, folder: Path | None = None, chunk: int = 10_000) -> None:
    """Write every key's postings anew from the stored passages' terms (inside the caller's transaction)."""
    db.execute(f"delete from {TABLE}")
    db.execute("delete from meta where key = ?", [TOKENS_KEY])
    collector = Collector(folder)
    try:
        last = 0
        while True:
            rows = db.execute("select id, terms, title_terms from passages where id > ? order by id limit ?",
                              [last, chunk]).fetchall()
            if not rows:
                break
            batch = count([r[1] or "" for r in rows], [r[2] or "" for r in rows])
            collector.add(batch, np.asarray([r[0] for r in rows], np.int64))
            last = rows[-1][0]
        collector.write(db)
    finally:
        collector.close()


def _columns(group: np.ndarray) -> tuple[bytes, bytes, bytes]:
    """Parked postings as stored: ids (4 bytes each), frequencies in text and title (2), lengths (2)."""
    freqs = np.empty((len(group), 2), np.uint8)
    freqs[:, 0] = group["tf"]
    freqs[:, 1] = group["title_tf"]
    return group["pid"].astype("<u4").tobytes(), freqs.tobytes(), group["length"].astype("<u2").tobytes()


def _row(key: str, group: np.ndarray) -> tuple[str, int, bytes, bytes, bytes]:
    return (key, len(group), *_columns(group))


def _read(db: Any, key: str) -> np.ndarray:
    row = db.execute(f"select ids, freqs, lengths from {TABLE} where key = ?", [key]).fetchone()
    if row is None:
        return np.zeros(0, _PARKED)
    ids = np.frombuffer(row[0], "<u4")
    out = np.empty(len(ids), _PARKED)
    out["key"] = 0
    out["pid"] = ids
    freqs = np.frombuffer(row[1], np.uint8).reshape(-1, 2)
    out["tf"], out["title_tf"] = freqs[:, 0], freqs[:, 1]
    out["length"] = np.frombuffer(row[2], "<u2")
    return out


def _merged(old: np.ndarray, removed: np.ndarray, new: np.ndarray) -> np.ndarray:
    """A key's stored postings without the removed passages, then the new ones (ids ascending).

    A removed id may come back as a new passage (ids continue from the largest left), so only
    the stored postings are filtered.
    """
    kept = old[~np.isin(old["pid"], removed)] if len(removed) and len(old) else old
    merged = np.concatenate([kept, new]) if len(new) else kept
    if len(merged) > 1 and not (np.diff(merged["pid"].astype(np.int64)) > 0).all():
        merged = merged[np.argsort(merged["pid"], kind="stable")]
    return merged


def frequencies(db: Any, keys: list[str]) -> dict[str, int]:
    """How many passages hold each key (0 for a key no passage holds)."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    marks = ",".join("?" * len(keys))
    found = dict(db.execute(f"select key, df from {TABLE} where key in ({marks})", keys).fetchall())
    return {k: int(found.get(k, 0)) for k in keys}


def rank(db: Any, keys: list[str], limit: int, passages: int, weights: tuple[float, float]) -> list[tuple[int, float]]:
    """``(passage id, BM25 score)`` best first, for passages holding any of ``keys``.

    The score is FTS5's ``bm25()`` with column weights: per key, ``idf * f * (K1 + 1) /
    (f + K1 * (1 - B + B * length / average length))``, where ``f`` is the weighted count
    of the key in the passage's text and title and ``idf = ln((N - df + 0.5) / (df + 0.5))``
    (at least 1e-6), summed over the keys.
    """
    keys = sorted(set(keys))
    if not keys or not passages or limit <= 0:
        return []
    from index import store

    tokens = int(store.get_meta_value(db, TOKENS_KEY) or 0)
    average = tokens / passages if tokens else 1.0
    marks = ",".join("?" * len(keys))
    ids_parts, score_parts = [], []
    for df, ids, freqs, lengths in db.execute(f"select df, ids, freqs, lengths from {TABLE} where key in ({marks})",
                                              keys):
        idf = max(math.log((passages - df + 0.5) / (df + 0.5)), 1e-6)
        counts = np.frombuffer(freqs, np.uint8).reshape(-1, 2).astype(np.float32)
        f = counts[:, 0] * weights[0] + counts[:, 1] * weights[1]
        norm = K1 * (1 - B + B * np.frombuffer(lengths, "<u2").astype(np.float32) / average)
        ids_parts.append(np.frombuffer(ids, "<u4"))
        score_parts.append(idf * f * (K1 + 1) / (f + norm))
    if not ids_parts:
        return []
    if len(ids_parts) == 1:
        ids, scores = ids_parts[0], score_parts[0]
    else:
        ids, scores = np.concatenate(ids_parts), np.concatenate(score_parts)
        if len(ids) * DENSE_SUM_SHARE < int(ids.max()):  # few postings: sort them
            ids, where = np.unique(ids, return_inverse=True)
            scores = np.bincount(where, weights=scores)
        else:  # many: sum into one slot per passage id, then read each posting's passage total back
            summed = np.bincount(ids, weights=scores)
            # A passage's postings are one per key at most: the best ``limit`` passages are among the
            # postings of the ``limit * keys`` best totals (scanning every slot for the ids that got any
            # took longer than all the rest).
            totals = summed[ids]
            if len(ids) > limit * len(ids_parts):
                best = np.argpartition(-totals, limit * len(ids_parts) - 1)[: limit * len(ids_parts)]
                ids = ids[best]
            ids = np.unique(ids)
            scores = summed[ids]
    if len(ids) > limit:
        top = np.argpartition(-scores, limit - 1)[:limit]
        ids, scores = ids[top], scores[top]
    order = np.lexsort((ids, -scores))
    return [(int(i), float(s)) for i, s in zip(ids[order], scores[order])]
