"""The text work of a build: reading and signing the corpus, and articles into passage rows,
their sentences and their keyword postings.

It depends on nothing but the files and the articles, so a big build runs it in worker
processes, one per core, a few items ahead of the process that plans, embeds and writes:
parsing JSONL, signing, turning text into terms, dates and sentence spans is pure Python, about
a millisecond a passage, and one process spent most of a build on it while the other core idled.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple, TypeVar

import numpy as np

from index import dedupe, postings
from index.chunking import chunk_sentences
from index.ingest import Article, Piece, PieceRead, read_piece
from index.store import text_hash
from index.terms import index_terms

log = logging.getLogger(__name__)

AHEAD = 1  # items handed out ahead of the caller, beyond one per worker (each holds one in memory)
# The cyclic garbage collector's thresholds while a build runs: a pass every 50,000 new objects, not 700.
# Text work makes and drops millions of lists and tuples, few of them in cycles, and each pass walked
# the caches a build keeps (words' keys, their tokens): 3-5% of the workers' time (read_signed 1.30 ->
# 1.21-1.24 s, prepare 4.12-4.19 -> 3.96-4.06 s for 20,000 articles).
BUILD_GC_THRESHOLD = (50_000, 20, 100)
_END = object()
_FAILED = object()
R = TypeVar("R")


class Passage(NamedTuple):
    """A passage row as a build inserts it (its vector aside)."""

    article_id: str
    seq: int
    start: int
    end: int
    text: str
    text_hash: str
    terms: str
    title_terms: str


@dataclass
class Prepared:
    """One batch of articles, chunked: passage rows and sentence spans, ready to embed and insert.
    Kept in columns, not a dict a row: it crosses from a worker process, and the build's process
    unpickles it (a dict a sentence was 600,000 dicts at 100,000 passages)."""

    articles: list[tuple[Article, bytes]]  # with their MinHash signatures (set by the caller: a worker
                                           # does not send back a copy of what it was given)
    replaced: list[str]  # ids whose old versions this batch's write deletes first
    passages: list[Passage]
    sentences: np.ndarray  # (n, 3) int64 rows: passage (index into ``passages``), start, end (offsets in it)
    sentence_hashes: list[str]  # their texts' hashes (index.store.text_hash)
    keys: postings.BatchPostings  # the passages' keyword postings (numbered from 0)
    to_embed: int = 0  # texts the index holds no vector for (set when they are looked up)

    def sentence_text(self, i: int) -> str:
        p, start, end = self.sentences[i].tolist()
        return self.passages[p].text[start:end]

    def only(self, ids: set[str]) -> "Prepared":
        """This batch without the articles whose ids are not in ``ids``: a new build prepares its
        first batches while it still looks for duplicate stories, and drops them here."""
        if all(a.id in ids for a, _ in self.articles):
            return self
        kept = np.fromiter((p.article_id in ids for p in self.passages), bool, len(self.passages))
        number = np.cumsum(kept) - 1  # a kept passage's place among the kept
        with_sentence = kept[self.sentences[:, 0]]
        sentences = self.sentences[with_sentence]
        sentences[:, 0] = number[sentences[:, 0]]
        k = self.keys
        posted = kept[k.rows]
        keys = postings.BatchPostings(vocab=k.vocab, keys=k.keys[posted], rows=number[k.rows[posted]],
                                      tf=k.tf[posted], title_tf=k.title_tf[posted], lengths=k.lengths[kept])
        return Prepared([(a, sig) for a, sig in self.articles if a.id in ids], [r for r in self.replaced if r in ids],
                        [p for p, keep in zip(self.passages, kept) if keep], sentences,
                        [h for h, keep in zip(self.sentence_hashes, with_sentence) if keep], keys)


def prepare(job: tuple[list[tuple[Article, bytes]], list[str]], chunk_chars: int) -> Prepared:
    """Chunk one batch of articles: each passage gets its keyword terms (script-aware stems and
    date tokens, counted into postings) and its sentences' spans, so that answering a question
    embeds nothing but the question. ``job``: the articles (with their MinHash signatures) and
    the ids whose old versions the batch replaces."""
    batch, replaced = job
    passages: list[Passage] = []
    spans: list[tuple[int, int, int]] = []
    hashes: list[str] = []
    for a, _ in batch:
        title_terms = index_terms(a.title)
        for seq, (span, sentences) in enumerate(chunk_sentences(a.text, max_chars=chunk_chars)):
            text = a.text[span.start : span.end]
            passages.append(Passage(a.id, seq, span.start, span.end, text, text_hash(text),
                                    index_terms(text, a.published, a.date_text), title_terms))
            for s in sentences:  # the article's sentences, as offsets into the passage
                start, end = s.start - span.start, s.end - span.start
                spans.append((len(passages) - 1, start, end))
                hashes.append(text_hash(text[start:end]))
    return Prepared([], replaced, passages, np.array(spans, dtype=np.int64).reshape(-1, 3), hashes,
                    postings.count([p.terms for p in passages], [p.title_terms for p in passages]))


def read_signed(group: list[Piece]) -> list[PieceRead]:
    """Read pieces of the corpus and sign their articles (MinHash, for finding the same story twice),
    except those whose content the index already holds (``Piece.known``)."""
    reads = [read_piece(piece) for piece in group]
    unsigned = [a for piece, got in zip(group, reads) for a in got.items
                if isinstance(a, Article) and a.content_hash not in piece.known]
    for a, signature in zip(unsigned, dedupe.signatures([a.text for a in unsigned])):
        a.signature = signature.tobytes()
    return reads


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Workers:
    """An in-order map over ``workers`` processes, a few items ahead of the caller, or (``workers``
    <= 1) over nothing but the caller's own process.

    Workers are spawned, not forked: the build's process runs threads (the model's) that a fork
    would copy mid-flight. A spawned worker would import the parent's ``__main__`` script again
    (and a script without a ``__main__`` guard would run its build again inside it), so the
    script is hidden while workers start (:func:`_main_hidden`). If they cannot start, the
    items are done in this process instead, with a warning.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_worker_start, initargs=(os.getpid(),))

    def map(self, fn: Callable[..., R], items: Iterable[Any], *args: Any) -> Iterator[tuple[Any, R]]:
        """``(item, fn(item, *args))`` for each item, in order (``fn`` must be importable by name:
        a module's function). The first items go to the workers at once, before a result is asked for."""
        if self._pool is None:
            return ((item, fn(item, *args)) for item in items)
        waiting: deque[tuple[Future, Any]] = deque()
        source = iter(items)
        self._hand_out(waiting, source, fn, args)
        return self._results(waiting, source, fn, args)

    def _hand_out(self, waiting: deque[tuple[Future, Any]], source: Iterator[Any], fn: Callable[..., R],
                  args: tuple) -> None:
        """Submit items until ``workers + AHEAD`` are out."""
        while self._pool is not None and len(waiting) < self.workers + AHEAD:
            item = next(source, _END)
            if item is _END:
                return
            try:
                with _main_hidden():  # a submit may start a worker
                    waiting.append((self._pool.submit(fn, item, *args), item))
            except (BrokenProcessPool, RuntimeError) as e:
                self._broken(e)
                waiting.append((_done(_FAILED), item))

    def _results(self, waiting: deque[tuple[Future, Any]], source: Iterator[Any], fn: Callable[..., R],
                 args: tuple) -> Iterator[tuple[Any, R]]:
        while True:
            self._hand_out(waiting, source, fn, args)
            if not waiting:
                for item in source:  # the workers broke: what is left, in this process
                    yield item, fn(item, *args)
                return
            future, item = waiting.popleft()
            try:
                result = future.result()
            except BrokenProcessPool as e:
                self._broken(e)
                result = _FAILED
            yield item, (fn(item, *args) if result is _FAILED else result)

    def _broken(self, error: BaseException) -> None:
        log.warning("build workers failed (%s); going on in this process", error)
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _worker_start(parent: int) -> None:
    gc.set_threshold(*BUILD_GC_THRESHOLD)  # the process does nothing but a build's text work
    _follow_parent(parent)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """:data:`BUILD_GC_THRESHOLD` in this process while the block lasts (a build in a long-lived one,
    a bot's or a watcher's: its own thresholds come back after)."""
    before = gc.get_threshold()
    gc.set_threshold(*BUILD_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _follow_parent(parent: int) -> None:
    """In a worker: end when the build's process ends, even by ``kill -9`` (the pool's queues would
    otherwise keep a worker waiting for work forever). Linux tells it at once; elsewhere a thread
    looks every half second."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="newsqa-follow-parent", daemon=True).start()


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """While this lasts, a spawned process does not import the parent's ``__main__``: multiprocessing
    finds it by ``__main__.__spec__`` and ``__main__.__file__``. The workers need nothing from it
    (what they run lives in this module)."""
    main = sys.modules.get("__main__")
    saved = {k: v for k, v in vars(main).items() if k in ("__file__", "__spec__")} if main is not None else {}
    try:
        if "__spec__" in saved:
            main.__spec__ = None
        if "__file__" in saved:
            del main.__file__
        yield
    finally:
        if main is not None:
            for k, v in saved.items():
                setattr(main, k, v)


def _done(value: Any) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future
