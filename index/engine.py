"""The engine every front end stands on: questions in, cited answers out.

An :class:`Engine` serves one :class:`Snapshot` of the index at a time: a build folder at one
generation. Each question reads the database inside read transactions that are checked to be
at the snapshot's generation, so its vector search and its rows always agree. When a full
re-index publishes a new folder, the next question picks it up (within ``reload_seconds``);
when an update commits a new generation in place, the next question sees it at once and
reopens the snapshot. Questions already running finish on the snapshot they started with.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from index import answer as answer_mod
from index import layout, reader, store, vectors
from index.answer import Answer
from index.embedding import Embedder
from index.errors import BadQuestion, IndexBusy, IndexDamaged, IndexMismatch, IndexMissing
from index.followup import points_to_person, resolve_followup
from index.query import Query, analyse, cased_form, lower_case_rare_words, namesakes, surface_form
from index.search import Hit, depth_for, hybrid_search, keyword_candidates
from index.terms import PERSON, persons, script, text_keys, word_keys
from index.text import normalise_question

log = logging.getLogger(__name__)

MAX_K = 50
MAX_OFFSET = 1000
MAX_CASED_WORDS = 4  # rare lower-case words looked up for their capitalised form, per question
STALE_RETRIES = 3  # a question restarted on the new generation after an update committed under it

_reading = threading.local()  # this thread's connections inside a read transaction


class _Stale(Exception):
    """The database has moved on to a newer generation than the snapshot's vector index."""


def _end_reads() -> None:
    """End this thread's read transactions: the next question sees the latest committed index."""
    for conn in getattr(_reading, "conns", ()):
        if conn.in_transaction:
            conn.commit()
    _reading.conns = []


class Snapshot:
    """One published build: its meta, its FAISS index and one read-only SQLite connection per thread."""

    def __init__(self, folder: Path, embedder: Embedder) -> None:
        self.folder = folder
        self._local = threading.local()
        self._vocab: dict[str, list[tuple[str, int]]] | None = None
        self._vocab_lock = threading.Lock()
        try:
            self._open(embedder)
        except (sqlite3.DatabaseError, RuntimeError, OSError, ValueError) as e:
            raise IndexDamaged(
                f"the index at {folder} cannot be read ({e}); rebuild it with: newsqa index --rebuild"
            ) from e

    def _open(self, embedder: Embedder) -> None:
        self.generation: str | None = None  # the first read pins it
        self.stale = False
        try:
            db = self.db()
            self.meta = store.get_meta(db)
            # Same name, same model: a lazily loaded model's dimension is checked when it loads.
            same_dim = not getattr(embedder, "loaded", True) or self.meta.get("dimension") == str(embedder.dim)
            if self.meta.get("model") != embedder.name or not same_dim:
                raise IndexMismatch(
                    f"the index was built with model {self.meta.get('model')!r} "
                    f"(dimension {self.meta.get('dimension')}), but NEWSQA_EMBEDDING_MODEL is {embedder.name!r} "
                    f"(dimension {embedder.dim}). Re-index with: newsqa index --rebuild"
                )
            self.index = vectors.load_for_serving(layout.vectors_path(self.folder, self.meta))
            self.passage_count = int(db.execute("select count(*) from passages").fetchone()[0])
        finally:
            _end_reads()
        if self.index.ntotal != self.passage_count:
            raise IndexMismatch(
                f"index at {self.folder} is inconsistent ({self.passage_count} passages, {self.index.ntotal} vectors); "
                "re-index with: newsqa index --rebuild"
            )

    def vocabulary(self, kind: str) -> list[tuple[str, int]]:
        """The index's words in one script (``latin``, ``cyrillic``), read once per snapshot."""
        with self._vocab_lock:
            if self._vocab is None:
                buckets: dict[str, list[tuple[str, int]]] = {}
                for term, df in store.vocabulary(self.db()):
                    buckets.setdefault(script(term), []).append((term, df))
                self._vocab = buckets
        return self._vocab.get(kind, [])

    def db(self) -> Any:
        """This thread's read-only connection to the snapshot's database, inside a read transaction
        at the snapshot's generation (:class:`_Stale` if the index has moved on). The transaction
        lasts until :func:`_end_reads`, which every engine call runs when it ends."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = store.open_db(self.folder / layout.DB_NAME, readonly=True)
            self._local.db = db
        conn = db.conn
        if not conn.in_transaction:
            conn.execute("begin")
            if not hasattr(_reading, "conns"):
                _reading.conns = []
            _reading.conns.append(conn)
            row = conn.execute("select value from meta where key = 'generation'").fetchone()
            generation = row[0] if row else ""
            if self.generation is None:
                self.generation = generation
            elif generation != self.generation:
                conn.commit()
                self.stale = True
                raise _Stale(f"{self.folder.name} is at generation {generation}, the snapshot at {self.generation}")
        return db

    def read(self, fn: Any, *args: Any) -> Any:
        """``fn(db, *args)`` on this thread's connection, its read transaction ended afterwards
        (for work handed to another thread)."""
        try:
            return fn(self.db(), *args)
        finally:
            _end_reads()


def _on_current_snapshot(method: Any) -> Any:
    """Run an engine call on one generation of the index, again on the new one if an update
    committed under it, and end its read transactions when it returns."""
    @functools.wraps(method)
    def run(self: "Engine", *args: Any, **kwargs: Any) -> Any:
        for attempt in range(STALE_RETRIES + 1):
            try:
                return method(self, *args, **kwargs)
            except _Stale:
                if attempt == STALE_RETRIES:
                    raise IndexBusy("the index is being updated faster than a question can be answered; "
                                    "try again in a moment") from None
                log.info("index updated during a question; answering on the new one")
            finally:
                _end_reads()
        raise AssertionError("unreachable")
    return run


class Engine:
    """Answers and searches over the live index in ``data_dir``."""

    def __init__(self, data_dir: Path, embedder: Embedder, *, max_question_chars: int = 1000,
                 reload_seconds: float = 1.0, min_confidence: float | None = None) -> None:
        self.data_dir = Path(data_dir)
        # None: the calibrated threshold of the index's model; 0.0 answers everything (calibration runs).
        self.min_confidence = min_confidence
        self.embedder = embedder
        self.reader = reader.bundled()  # loaded now, so the first question does not wait for it
        self.max_question_chars = max_question_chars
        self.reload_seconds = reload_seconds
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._target: str | None = None
        self._checked = 0.0
        # The keyword search runs here while the question is embedded (SQLite and torch both let go
        # of the GIL); each worker thread has its own read-only connection per snapshot.
        self._keyword_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newsqa-keyword")
        vectors.search_single_threaded()
        self.snapshot()

    def snapshot(self) -> Snapshot:
        """The live snapshot, reopened when a new build has been published."""
        now = time.monotonic()
        if self._snapshot is not None and not self._snapshot.stale and now - self._checked < self.reload_seconds:
            return self._snapshot
        with self._lock:
            self._checked = now
            try:
                target = os.readlink(self.data_dir / layout.CURRENT)
            except OSError:
                target = None
            if self._snapshot is not None and target == self._target and not self._snapshot.stale:
                return self._snapshot
            folder = layout.current_build(self.data_dir)
            if folder is None:
                if self._snapshot is not None:
                    return self._snapshot
                raise IndexMissing(f"no index in {self.data_dir}; build it with: newsqa index")
            try:
                snap = Snapshot(folder, self.embedder)
            except IndexMismatch:
                if self._snapshot is None:
                    raise
                log.exception("new index at %s cannot be served; still serving the previous one", folder)
                self._target = target
                return self._snapshot
            if self._snapshot is not None:
                log.info("now serving index %s, generation %s", folder.name, snap.generation)
            self._snapshot, self._target = snap, target
            return snap

    def check_question(self, question: str) -> str:
        """The question, normalised, or a :class:`BadQuestion` saying what is wrong with it."""
        if not isinstance(question, str):
            raise BadQuestion("the question must be text")
        if len(question) > self.max_question_chars:
            raise BadQuestion(
                f"the question is {len(question):,} characters long; please keep it under "
                f"{self.max_question_chars:,} characters"
            )
        text = normalise_question(question)
        if not text:
            raise BadQuestion("the question is empty; type a question about the news")
        if not any(ch.isalnum() for ch in text):
            raise BadQuestion("the question has no words in it; type a question about the news")
        return text

    def _prepare(self, question: str, previous: str | None = None, depth: int | None = None
                 ) -> tuple[Query, Snapshot, np.ndarray, str | None, Future]:
        """The analysed question, the snapshot it runs on, its vector, the resolved follow-up, and
        its keyword candidates (``depth`` of them) still being searched."""
        depth = depth or depth_for(MAX_K)
        text = self.check_question(question)
        resolved = None
        if previous:
            try:
                prev = self.check_question(previous)
            except BadQuestion:
                prev = None
            if prev:
                person = self._person_answered(prev) if points_to_person(text) else None
                resolved = resolve_followup(text, prev, person)
                text = resolved or text
        snap = self.snapshot()
        db = snap.db()
        query = analyse(text, lambda keys: store.key_frequencies(db, keys), snap.passage_count, snap.vocabulary)
        for c in query.corrections:
            c.shown = surface_form(c.key, store.texts_holding(db, [c.key], 1))
        self._restore_case(db, query, snap.passage_count)
        self._check_unknown_names(db, query)
        keyword = self._keyword_pool.submit(snap.read, keyword_candidates, query, depth, snap.passage_count)
        try:
            qvec = self.embedder.encode_queries([query.dense_text()])[0]
        except BaseException:
            keyword.cancel()
            raise
        return query, snap, qvec, resolved, keyword

    def _person_answered(self, previous: str) -> str | None:
        """Whom the answer to ``previous`` names, when it asked who without naming anyone ("Who heads the
        FSB?" -> "Alexander Bortnikov"): the person a "he" or "she" of the next question means. Asks it again
        (the API and the chats keep only the question; an answer costs tens of milliseconds)."""
        if answer_mod.expected_kind(previous) is not PERSON or persons(previous):
            return None
        result = self.ask(previous)
        if not result.found:
            return None
        asked = text_keys(previous)
        return next((p for p in persons(result.answer) if not text_keys(p) <= asked), None)

    @staticmethod
    def _check_unknown_names(db: Any, query: Query) -> None:
        """Keep an unknown name only when the articles name someone else with a word of it ("Magomed
        Khasayev" for "Magomed Petrov"), and say whom; a name they give only in part is not unknown."""
        for unknown in query.unknown_names:
            keys = [k for w in unknown.name.split() if w not in unknown.lacking for k in word_keys(w)]
            unknown.others = namesakes(unknown.name, store.texts_holding(db, keys, 20), unknown.lacking)

    @staticmethod
    def _restore_case(db: Any, query: Query, passages: int) -> None:
        """Write rare lower-case question words as the articles do, for the embedding model."""
        rare = lower_case_rare_words(query, query.frequencies, passages)
        for word in rare[:MAX_CASED_WORDS]:
            term = next(t for t in query.terms if t.text == word)
            form = cased_form(word, store.texts_holding(db, term.keys, 3))
            if form:
                query.cased[word] = form

    @_on_current_snapshot
    def search(self, question: str, k: int = 10, offset: int = 0, previous: str | None = None) -> list[Hit]:
        """Ranked passages with each retriever's rank and score."""
        k = _check_k(k)
        if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise BadQuestion(f"offset must be a whole number from 0 to {MAX_OFFSET}")
        query, snap, qvec, _, keyword = self._prepare(question, previous, depth_for(k, offset))
        return hybrid_search(snap.db(), snap.index, qvec, query, k, offset=offset, keyword=keyword.result)

    @_on_current_snapshot
    def ask(self, question: str, k: int = 5, previous: str | None = None) -> Answer:
        """An extractive answer with numbered citations, or ``found=False`` (and no citations) when nothing fits.

        ``previous``: the question asked just before in the same conversation, against which a
        follow-up such as "Where is he from?" or "And on 19 October?" is resolved.
        """
        k = _check_k(k)
        query, snap, qvec, resolved, keyword = self._prepare(question, previous, depth_for(k))
        db = snap.db()
        hits = hybrid_search(db, snap.index, qvec, query, k, keyword=keyword.result)
        # Every hit's stored sentences: the answer reads the first SENTENCE_PASSAGES after it may have put an
        # article's passages in reading order (a question asking only what happened on its day).
        sentences = store.sentences_of(db, [h.passage_id for h in hits])
        result = answer_mod.compose(query, hits, qvec, self.embedder.encode_documents, sentences,
                                    model=str(snap.meta.get("model", "")), min_confidence=self.min_confidence,
                                    read=self.reader.score)
        result.question = normalise_question(question)
        result.resolved = resolved
        result.corrections = [c.to_dict() for c in query.corrections]
        result.dates = [d.label() for d in query.dates]
        if not query.terms:
            result.answer = ("This question is too vague to look up: add a name, place, event or topic, "
                             "for example 'Who was detained in Moscow in October?'")
        elif not result.found and not query.matched_share and not query.corrections and not answer_mod.unknown_people(query):
            # A Russian question over English articles lands here too: it was searched by meaning alone.
            result.answer = ("None of the words in this question occur in the indexed articles, and nothing "
                             "close in meaning answered it with confidence. Try other words, or the language "
                             "the articles are written in.")
        return result

    @_on_current_snapshot
    def stats(self) -> dict[str, Any]:
        """Counts, date range, sources, model and build time of the live index."""
        snap = self.snapshot()
        db = snap.db()
        articles = db.execute("select count(*) from articles").fetchone()[0]
        dates = db.execute("select min(published), max(published) from articles where published is not null").fetchone()
        undated = db.execute("select date_text from articles where published is null and date_text is not null").fetchall()
        sources = [r[0] for r in db.execute(
            "select source from articles where source is not null group by source order by count(*) desc, source")]
        size = sum(p.stat().st_size for p in snap.folder.iterdir() if p.is_file())
        return {
            "articles": articles, "passages": snap.passage_count, "earliest": dates[0], "latest": dates[1],
            "partial_dates": sorted({r[0] for r in undated}), "sources": sources,
            "model": snap.meta.get("model"), "dimension": int(snap.meta.get("dimension", 0)),
            "built_at": snap.meta.get("built_at"), "index_bytes": size, "index_path": str(snap.folder),
        }

    @_on_current_snapshot
    def article(self, article_id: str) -> dict[str, Any] | None:
        """An article's metadata and full text, or None."""
        row = self.snapshot().db().execute(
            "select id, path, title, source, published, date_text, place, url, text from articles where id = ?",
            [article_id],
        ).fetchone()
        cols = ["id", "path", "title", "source", "published", "date_text", "place", "url", "text"]
        return dict(zip(cols, row)) if row else None

    @_on_current_snapshot
    def article_passages(self, article_id: str) -> list[dict[str, Any]]:
        """An article's passages in reading order, with their spans."""
        rows = self.snapshot().db().execute(
            "select id, seq, start, end, text from passages where article_id = ? order by seq", [article_id]
        ).fetchall()
        return [dict(zip(["passage_id", "seq", "start", "end", "text"], r)) for r in rows]

    @_on_current_snapshot
    def passage(self, passage_id: int) -> dict[str, Any] | None:
        """One passage with its article's metadata, or None (e.g. gone after a re-index)."""
        return store.passages_by_id(self.snapshot().db(), [int(passage_id)]).get(int(passage_id))


def _check_k(k: int) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise BadQuestion(f"k must be a whole number from 1 to {MAX_K}")
    return k
