"""The same story under two ids: MinHash signatures over word shingles, LSH banding for candidates.

Signatures are stored with each indexed article, so an incremental build only signs what
changed; comparing 10,000 signatures by banding takes milliseconds.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from itertools import islice
from typing import Iterable

import numpy as np

NUM_PERM = 64
BANDS = 16
SHINGLE = 5
THRESHOLD = 0.9
_rng = np.random.default_rng(20151021)
# Odd multipliers: h -> a*h + b wrapping modulo 2**64 (multiply-shift hashing; comparing the results compares
# their well-mixed high bits first). A modulo-prime family measured twice as slow (numpy divides slowly).
_A = _rng.integers(1, 1 << 63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _rng.integers(0, 1 << 63, NUM_PERM, dtype=np.uint64)
_RUN_BASE = np.uint64(0x100000001B3)  # odd: a run's hash mixes every word's
_CHAR_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd, so invertible modulo 2**64: a word's hash from prefix sums
HASH_CHARS = 1 << 20  # characters hashed at a time (their powers of _CHAR_BASE are computed once)


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(word, powers, inverses)``: which characters of the Basic Multilingual Plane are word characters
    (what ``\\w`` matches), and ``_CHAR_BASE`` to the powers 0..HASH_CHARS and their inverses."""
    word = np.zeros(0x10000, dtype=bool)
    word[[m.start() for m in re.finditer(r"\w", "".join(map(chr, range(0x10000))))]] = True
    powers = np.empty(HASH_CHARS + 1, dtype=np.uint64)
    inverses = np.empty(HASH_CHARS + 1, dtype=np.uint64)
    powers[0] = inverses[0] = 1
    np.cumprod(np.full(HASH_CHARS, _CHAR_BASE), out=powers[1:])
    np.cumprod(np.full(HASH_CHARS, pow(int(_CHAR_BASE), -1, 1 << 64), dtype=np.uint64), out=inverses[1:])
    return word, powers, inverses


def _mix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, in place: every bit of a word's hash depends on every bit of its sum."""
    for shift, factor in ((33, 0xFF51AFD7ED558CCD), (33, 0xC4CEB9FE1A85EC53), (33, 0)):
        h ^= h >> np.uint64(shift)
        if factor:
            h *= np.uint64(factor)
    return h


def word_hashes(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``(hashes, starts)`` of the words of ``text`` (runs of word characters, case folded by
    ``str.lower``; outside the Basic Multilingual Plane, nothing is a word character): each word's
    polynomial in its characters, modulo 2**64, mixed. All in numpy, a million characters at a
    time: hashing words one by one in Python was most of a build's signing."""
    word, powers, inverses = _tables()
    codes = np.frombuffer(text.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if len(codes) != len(text):  # a character whose lower case is longer ("İ"): count in the original's
        codes = np.frombuffer("".join(ch.lower()[:1] for ch in text).encode("utf-32-le", "surrogatepass"),
                              dtype=np.uint32)
    edges = np.diff(word[np.minimum(codes, 0xFFFF)].view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    hashes = np.empty(len(starts), dtype=np.uint64)
    done = 0  # words hashed
    while done < len(starts):
        base = int(starts[done])  # each slice begins at a word, and ends before the first word it cannot hold
        upto = done + int(np.searchsorted(ends[done:], base + HASH_CHARS, side="right"))
        if upto == done:  # one word of more than HASH_CHARS characters: its first ones
            upto, ends[done] = done + 1, base + HASH_CHARS
        stop = int(ends[upto - 1])
        sums = np.zeros(stop - base + 1, dtype=np.uint64)
        np.cumsum(codes[base:stop] * powers[: stop - base], out=sums[1:])
        s, e = starts[done:upto] - base, ends[done:upto] - base
        hashes[done:upto] = (sums[e] - sums[s]) * inverses[s]
        done = upto
    return _mix(hashes), starts


def _run_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """One 61-bit hash per run of ``SHINGLE`` words starting at ``0..n-1`` (the whole text when it is
    shorter): a polynomial of its words' hashes (wrapping modulo 2**64), computed for every run at once."""
    runs = np.zeros(n, dtype=np.uint64)
    for j in range(min(SHINGLE, len(word_hashes))):
        runs = runs * _RUN_BASE + word_hashes[j : j + n]
    return runs >> np.uint64(3)


def _min_hash(h: np.ndarray, starts: np.ndarray, work: np.ndarray) -> np.ndarray:
    """``(len(starts), NUM_PERM)``: each slice of ``h`` from its start to the next one's, min-hashed.
    ``work``: at least ``(NUM_PERM, len(h))`` uint64 to compute in (not allocated per call: a fresh 2 MB
    array is fresh pages, and faulting them in was most of the time). A permutation a row: the
    minima run along memory, four times faster than down its columns."""
    out = work[:, : len(h)]
    np.multiply(_A[:, None], h[None, :], out=out)
    out += _B[:, None]
    return np.minimum.reduceat(out, starts, axis=1).T


def signature(text: str) -> np.ndarray:
    """A MinHash signature: the share of equal slots estimates the Jaccard similarity of shingles."""
    return signatures([text])[0]


SIGN_SHINGLES = 4_096  # shingles min-hashed at a time by :func:`signatures`: a 2 MB product stays in cache (a
# 32 MB one made signing 1.4x slower, waiting on memory)


def signatures(texts: list[str]) -> np.ndarray:
    """``(len(texts), NUM_PERM)`` MinHash signatures, as :func:`signature` gives one at a time,
    computed for many texts at once (``HASH_CHARS`` of text at a time): the per-call cost of numpy
    was most of a text's."""
    out = np.empty((len(texts), NUM_PERM), dtype=np.uint64)
    work = np.empty((NUM_PERM, SIGN_SHINGLES), dtype=np.uint64)
    at = 0
    while at < len(texts):
        end, size = at + 1, len(texts[at])
        while end < len(texts) and size + len(texts[end]) < HASH_CHARS:
            size += len(texts[end]) + 1
            end += 1
        runs, counts = _runs_of(texts[at:end])
        _sign(runs, counts, out[at:end], work)
        at = end
    return out


def _runs_of(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The shingle hashes of these texts, end to end, and how many each has (at least one: a text of
    fewer than ``SHINGLE`` words has one run, of all its words, and a text without words one of nothing)."""
    hashes, starts = word_hashes("\n".join(texts))  # the line break is no word character
    bounds = np.cumsum([len(t) + 1 for t in texts])
    words = np.diff(np.searchsorted(starts, bounds), prepend=0)  # each text's words
    first = np.cumsum(words) - words
    counts = np.maximum(words - SHINGLE + 1, 1)
    every = _run_hashes(hashes, max(len(hashes) - SHINGLE + 1, 0))  # a run from each word, across texts too
    offsets = np.cumsum(counts) - counts
    at = np.arange(int(counts.sum())) - np.repeat(offsets - first, counts)  # each text's own runs
    runs = every[np.minimum(at, max(len(every) - 1, 0))] if len(every) else np.zeros(len(at), dtype=np.uint64)
    for i in np.flatnonzero(words < SHINGLE):  # short texts: one run of what they have
        runs[offsets[i]] = _run_hashes(hashes[first[i] : first[i] + words[i]], 1)[0]
    return runs, counts


def _sign(runs: np.ndarray, counts: np.ndarray, out: np.ndarray, work: np.ndarray) -> None:
    """Min-hash each text's runs into its row of ``out``, at most ``SIGN_SHINGLES`` shingles at a time."""
    offsets = np.r_[0, np.cumsum(counts)]
    at = 0
    while at < len(counts):  # groups of texts of at most SIGN_SHINGLES shingles (a longer text alone)
        end = max(at + 1, int(np.searchsorted(offsets, offsets[at] + SIGN_SHINGLES, side="right")) - 1)
        h = runs[offsets[at] : offsets[end]]
        if len(h) > SIGN_SHINGLES:  # one long text: its shingles a slice at a time
            out[at] = np.min([_min_hash(h[i : i + SIGN_SHINGLES], np.zeros(1, np.int64), work)[0]
                              for i in range(0, len(h), SIGN_SHINGLES)], axis=0)
        else:
            out[at:end] = _min_hash(h, offsets[at:end] - offsets[at], work)
        at = end


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5], dtype=np.uint64)


def _band_keys(part: np.ndarray) -> np.ndarray:
    """One uint64 per row of a band; equal bands give equal keys (a collision only adds a candidate)."""
    key = np.zeros(len(part), dtype=np.uint64)
    for j in range(part.shape[1]):
        key ^= part[:, j] * _MIX[j % len(_MIX)]
    return key


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """``(n, BANDS)`` int64 keys of signature rows, one per band: equal band, equal key. Stored in the
    index (``minhash_bands``), so a new article's candidates are looked up, not scanned for."""
    sig = np.asarray(signatures, dtype=np.uint64).reshape(-1, NUM_PERM)
    rows = NUM_PERM // BANDS
    return np.stack([_band_keys(sig[:, b * rows : (b + 1) * rows]) for b in range(BANDS)], axis=1).view(np.int64)


def find_duplicates(signatures: dict[str, np.ndarray], order: list[str], threshold: float = THRESHOLD,
                    fresh: set[str] | None = None) -> dict[str, tuple[str, float]]:
    """``{duplicate id: (kept id, similarity)}``; of a group, the id earliest in ``order`` is kept.

    With ``fresh``, only buckets holding a fresh id are compared (the rest were checked before).
    Buckets are found with numpy (a million articles in seconds); only those of two or more
    members are looked at in Python.
    """
    rank = {aid: i for i, aid in enumerate(order)}
    ids = sorted(signatures, key=lambda a: rank.get(a, len(rank)))
    if len(ids) < 2 or (fresh is not None and not fresh):
        return {}
    matrix = np.stack([signatures[a] for a in ids]).astype(np.uint64, copy=False)
    is_fresh = None if fresh is None else np.fromiter((a in fresh for a in ids), bool, len(ids))
    all_fresh = is_fresh is None or bool(is_fresh.all())  # a new build: every bucket is looked at
    rows = NUM_PERM // BANDS
    buckets: list[tuple[int, int, list[int]]] = []  # (first member, band, members), members in rank order
    for band in range(BANDS):
        part = matrix[:, band * rows : (band + 1) * rows]
        key = _band_keys(part)
        pos = np.arange(len(ids)) if all_fresh else np.flatnonzero(np.isin(key, key[is_fresh]))
        sub = key[pos]
        by_key = np.argsort(sub, kind="stable")
        sorted_keys = sub[by_key]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], len(sorted_keys)]
        for s, e in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
            exact: dict[bytes, list[int]] = defaultdict(list)
            for m in pos[by_key[s:e]]:
                exact[part[m].tobytes()].append(int(m))
            for members in exact.values():
                if len(members) > 1 and (is_fresh is None or is_fresh[members].any()):
                    buckets.append((members[0], band, members))
    buckets.sort()  # the order a scan over ids, band by band, would meet them in
    dupes: dict[str, tuple[str, float]] = {}
    is_dup = np.zeros(len(ids), dtype=bool)
    for members in _close_enough(matrix, [members for _, _, members in buckets], threshold):
        group = np.array(members)
        for i in range(1, len(group)):
            later = group[i]
            if is_dup[later]:
                continue
            earlier = group[:i][~is_dup[group[:i]]]  # the first similar enough one, in rank order
            if not len(earlier):
                continue
            sims = (matrix[earlier] == matrix[later]).mean(axis=1)
            hit = np.flatnonzero(sims >= threshold)
            if len(hit):
                is_dup[later] = True
                dupes[ids[later]] = (ids[earlier[hit[0]]], float(sims[hit[0]]))
    return dupes


PAIRS_AT_ONCE = 16_384  # member pairs of buckets compared in one numpy operation by _close_enough


def _close_enough(matrix: np.ndarray, buckets: list[list[int]], threshold: float) -> list[list[int]]:
    """The buckets (in order) holding a pair of members at least ``threshold`` similar: only they can
    make a duplicate, whichever of their members earlier buckets took. Every pair of every bucket
    is compared in a few large operations (a 100k-article build met 27,000 buckets, nearly all
    of unrelated articles that share a band, and compared them one small operation at a time)."""
    hit = np.zeros(len(buckets), dtype=bool)
    by_size: dict[int, list[int]] = defaultdict(list)
    for b, members in enumerate(buckets):
        by_size[len(members)].append(b)
    for size, which in by_size.items():
        first, second = np.triu_indices(size, 1)
        members = np.array([buckets[b] for b in which], dtype=np.int64)  # (buckets, size)
        pairs_of = len(first)
        close = np.zeros(len(which) * pairs_of, dtype=bool)
        left, right = members[:, first].ravel(), members[:, second].ravel()
        for at in range(0, len(left), PAIRS_AT_ONCE):
            a, b = left[at : at + PAIRS_AT_ONCE], right[at : at + PAIRS_AT_ONCE]
            close[at : at + len(a)] = (matrix[a] == matrix[b]).mean(axis=1) >= threshold
        hit[which] = close.reshape(len(which), pairs_of).any(axis=1)
    return [members for members, h in zip(buckets, hit) if h]


def duplicates_of_fresh(fresh: dict[str, np.ndarray], indexed: Iterable[tuple[str, bytes | None]],
                        threshold: float = THRESHOLD, chunk: int = 50_000) -> dict[str, tuple[str, float]]:
    """What :func:`find_duplicates` gives for a few ``fresh`` articles ranked after every ``indexed``
    one (``(id, stored signature)``, already free of duplicates among themselves), without holding
    the indexed signatures: they are streamed ``chunk`` at a time and only rows sharing a band with
    a fresh one are compared. Of several originals the smallest id is named (the first in order).
    """
    if not fresh:
        return {}
    ids = sorted(fresh)
    matrix = np.stack([fresh[a] for a in ids]).astype(np.uint64, copy=False)
    rows = NUM_PERM // BANDS
    keys = [_band_keys(matrix[:, b * rows : (b + 1) * rows]) for b in range(BANDS)]
    best: dict[int, tuple[str, float]] = {}
    stream = iter(indexed)
    while batch := [(aid, blob) for aid, blob in islice(stream, chunk) if blob]:
        old = np.frombuffer(b"".join(blob for _, blob in batch), dtype=np.uint64).reshape(len(batch), NUM_PERM)
        candidate = np.zeros(len(batch), dtype=bool)
        for b in range(BANDS):
            candidate |= np.isin(_band_keys(old[:, b * rows : (b + 1) * rows]), keys[b])
        for m in np.flatnonzero(candidate):
            sims = (matrix == old[m]).mean(axis=1)
            for i in np.flatnonzero(sims >= threshold):
                aid = batch[m][0]
                if i not in best or aid < best[i][0]:
                    best[int(i)] = (aid, float(sims[i]))
    dupes = {ids[i]: hit for i, hit in best.items()}
    rest = {a: fresh[a] for a in ids if a not in dupes}
    dupes.update(find_duplicates(rest, sorted(rest)))  # and among the fresh ones
    return dupes
