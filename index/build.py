"""Build or update an index from a corpus folder: only what changed is chunked and embedded.

A full build is written beside the live index and swapped in atomically; an update is written
into the live index in one SQLite transaction, with the vector index saved as the next
generation's file before it commits (see :mod:`index.layout`). Either way a crash at any
moment leaves the previous index whole, and an update costs what changed, not the size of
the index.

Memory does not grow with the corpus: planning remembers ids, hashes and signatures only, and
parks the articles to embed (with their signatures) in a file inside the new build; they are
read back, chunked, embedded and written a batch at a time (at most ``BATCH_CHARS`` of article
text), and the vector index is filled a batch at a time too: an update's from the database, a new
build's from the vectors it parked in a file as it wrote them (:class:`_VectorSpool`).
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import gc
import json
import logging
import pickle
import shutil
import sqlite3
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from index import layout, postings, store, vectors
from index.changes import BuildReport, Plan, load_problems, old_files, old_meta, plan_changes, save_problems
from index.embedding import Embedder
from index.errors import TooManyRemovals
from index.ingest import Article, file_hashes, file_size, fingerprint, unsupported_files, unsupported_problem
from index.prepare import Prepared, Workers, default_workers, fewer_collections, prepare, read_signed

log = logging.getLogger(__name__)

# 2: script-aware terms, date tokens, sentence vectors; 3: half-precision sentences;
# 4: an 8-bit inverted file from 20,000 passages, updated in place of a rebuild;
# 5: MinHash signatures from word hashes (the stored ones of format 4 do not compare with them);
# 6: WAL databases updated in place, vector files named by generation; 7: stored MinHash band keys;
# 8: keyword postings ranked by index.postings; 9: more English irregular forms joined ("shown" -> show);
# 10: a month named without a year dated from its article, more date forms, multiply-shift MinHash;
# 11: a passage's sentence spans and vectors on its own row, not a row a sentence;
# 12: MinHash words hashed from their characters in numpy (the stored signatures of format 11 do not compare);
# 13: no year read inside a longer run of digits ("Report 20151" is not 2015)
INDEX_FORMAT = "13"
CHUNK_CHARS = 900
EMBED_BATCH = 1024
BATCH_CHARS = 2_000_000  # article text chunked, embedded and written at a time (a longer article: alone)
VECTOR_BATCH = 10_000  # passage vectors read back from the database at a time into the vector index
BULK_CACHE_KIB = 65_536  # SQLite page cache while writing batches (the file itself stays in the OS page cache)
SMALL_CACHE_KIB = 8_192  # and once they are written: the rest reads and writes in sequence
WAL_LIMIT_BYTES = 64 << 20  # the write-ahead log is cut back to this after a big update is checkpointed
SPOOL_NAME = "articles.spool"  # the articles to embed, parked in the build folder while it is written
VECTOR_SPOOL_NAME = "vectors.spool"  # a new build's passage vectors, parked beside them (see _VectorSpool)
PARALLEL_BATCHES = 3  # batches of text from which a build prepares passages in worker processes
RECENT_SENTENCE_BYTES = 64 << 20  # sentence vectors of the last batches a build keeps at hand for the next ones
TAIL_BATCHES = 3  # the last this many batches' worth of a build's text...
TAIL_SPLIT = 4  # ...goes in batches this many times smaller (see _batches)


def build_index(
    corpus_dir: Path,
    data_dir: Path,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: bool = False,
    chunk_chars: int = CHUNK_CHARS,
    forget: set[str] = frozenset(),
    max_remove_share: float | None = None,
    batch_chars: int = BATCH_CHARS,
    workers: int | None = None,
) -> BuildReport:
    """Bring the index in ``data_dir`` up to date with ``corpus_dir``.

    ``forget``: ids removed on purpose, never kept even if their file has problems.
    ``max_remove_share``: refuse (:class:`TooManyRemovals`) a build that would drop more than
    this share of the live index's articles, ``forget`` aside: an empty or wrong folder must
    not wipe the index. None: no limit.
    ``batch_chars``: article text chunked, embedded and written at a time; it bounds the build's memory.
    ``workers``: processes that sign articles and turn them into passages (:mod:`index.prepare`);
    None: one per core when the files to read hold ``PARALLEL_BATCHES`` batches of text, else none.
    """
    started = time.monotonic()
    corpus_dir = corpus_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with layout.WriterLock(data_dir), fewer_collections():
        layout.clean_old_builds(data_dir)
        old = layout.current_build(data_dir)
        report = BuildReport(dry_run=dry_run)
        try:
            meta = old_meta(old) if old else {}
            old_index = vectors.load(layout.vectors_path(old, meta), mmap=True) if old else None
        except (sqlite3.DatabaseError, RuntimeError, OSError) as e:
            log.warning("live index %s cannot be read (%s); rebuilding", old, e)
            old, meta, old_index = None, {}, None
            report.reason = f"the live index cannot be read ({e}); rebuilding everything"
        if old and not rebuild:
            same_dim = not getattr(embedder, "loaded", True) or meta.get("dimension") == str(embedder.dim)
            if meta.get("model") != embedder.name or not same_dim:
                rebuild = True
                report.reason = (f"the embedding model changed from {meta.get('model')!r} to {embedder.name!r}; "
                                 "rebuilding everything")
            elif meta.get("format") != INDEX_FORMAT or meta.get("chunk_chars") != str(chunk_chars):
                rebuild = True
                report.reason = "the index format or passage size changed; rebuilding everything"
        unreadable: list = []
        hashes = file_hashes(corpus_dir, unreadable)
        others = unsupported_files(corpus_dir)
        unreadable += [unsupported_problem(rel) for rel in others]
        corpus_print = fingerprint(hashes, others)
        if old and not rebuild and meta.get("corpus_fingerprint") == corpus_print:
            report.up_to_date = True
            report.passages = int(meta.get("passage_count", 0))
            report.path = old
            load_problems(old, report)
            return report
        previous_files = {} if rebuild else old_files(old)
        to_read = [path for rel, (path, sha) in hashes.items() if previous_files.get(rel, ("",))[0] != sha]
        touched = bool(to_read)
        if touched and not dry_run and hasattr(embedder, "preload"):
            embedder.preload()  # new or changed files: overlap the model's import with reading them
        tmp = None if dry_run else layout.new_build_dir(data_dir)
        spool = None if tmp is None else _Spool(tmp / SPOOL_NAME, batch_chars // 4)
        if workers is None:  # a big build spreads its text work over the cores
            big = sum(map(file_size, to_read)) >= PARALLEL_BATCHES * batch_chars
            workers = default_workers() if big and not dry_run else 1
        pool = Workers(workers)  # starts its processes when first given work
        incremental = bool(old and not rebuild)
        early: list[Iterator[tuple[Any, Prepared]]] = []

        def prepare_early() -> None:
            """A new build's batches go to the workers as soon as every article is read, all of them:
            duplicate stories are found meanwhile, and dropped from the batches as they are written
            (a new build replaces nothing)."""
            early.append(_prepared(pool, _batches(spool.articles(), None, batch_chars, spool.chars), set(),
                                   chunk_chars))

        try:
            plan = plan_changes(corpus_dir, hashes, old, previous_files, rebuild, report, unreadable, forget,
                                keep=spool.add if spool else None,
                                read=lambda groups: pool.map(read_signed, groups),
                                all_read=prepare_early if spool is not None and not incremental else None)
            if max_remove_share is not None and report.before and len(report.lost) > max_remove_share * report.before:
                report.seconds = time.monotonic() - started
                raise TooManyRemovals(
                    f"refused: this would remove {len(report.lost)} of the {report.before} indexed articles "
                    f"({len(report.lost) / report.before:.0%}, more than NEWSQA_MAX_REMOVE_SHARE={max_remove_share:g}) "
                    f"from {corpus_dir}; is it the right folder? If this is intended, run again with --force",
                    report)
            if spool is None:  # a dry run
                report.seconds = time.monotonic() - started
                return report

            generation = int(meta.get("generation") or 0) + 1
            if incremental:
                # Written in place, in one transaction: only what changed is read and written.
                report.path = old
                old_index = vectors.load(layout.vectors_path(old, meta))  # read fully: it is changed below
                db = store.open_db(old / layout.DB_NAME)
                _update_settings(db)
            else:
                old_index = None
                db = store.open_db(tmp / layout.DB_NAME)
                _bulk_settings(db)
                store.migrate(db)
            try:
                # An update commits once, at the end; a full build commits batch by batch (its copy is private).
                with db.atomic() if incremental else contextlib.nullcontext():
                    _write(db, plan, spool, embedder, chunk_chars, progress, batch_chars, report, old_index,
                           folder=old if incremental else tmp, generation=generation, corpus_print=corpus_print,
                           corpus_dir=corpus_dir, dim_known=int(meta["dimension"]) if incremental and not plan.todo
                           else None, optimize=not incremental, workers=pool, prepared=early[0] if early else None)
                if not incremental:
                    db.execute("pragma journal_mode = wal")  # persistent: later updates write in place
            except BaseException:
                db.conn.close()
                if incremental:  # the transaction rolled back; the vector file it wrote names no generation
                    (old / layout.vectors_name(generation)).unlink(missing_ok=True)
                raise
            db.conn.close()
            spool.remove()
            if incremental:
                layout.remove_old_vector_files(old, layout.vectors_name(generation))
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                report.path = layout.publish(data_dir, tmp, layout.vectors_name(generation))
        except BaseException:
            if tmp is not None:
                spool.close()
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            pool.close()
        layout.clean_old_builds(data_dir)
    report.seconds = time.monotonic() - started
    return report


def _write(db: Any, plan: Plan, spool: "_Spool", embedder: Embedder, chunk_chars: int, progress: bool,
           batch_chars: int, report: BuildReport, old_index: Any, *, folder: Path, generation: int, corpus_print: str,
           corpus_dir: Path, dim_known: int | None, optimize: bool, workers: Workers,
           prepared: Iterator[tuple[Any, Prepared]] | None = None) -> None:
    """Every change of a build, inside the caller's transaction: articles, files, meta, problems,
    and the vector index saved to ``folder`` as ``generation``'s file (``old_index`` updated, or a
    new one) before the transaction commits.

    ``dim_known``: the live index's dimension when nothing is embedded (the model need not load).
    """
    parked = _VectorSpool(folder / VECTOR_SPOOL_NAME) if optimize else None
    trained: list[Future] = []
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsqa-build-train") as trainer:

            def train(ids: np.ndarray) -> None:
                """Every batch is written: a new build's vector index is trained and filled from the parked
                vectors on the trainer's thread, and its band keys sorted on another, while this one writes
                the keyword postings and SQLite fills the FTS index (all let go of the GIL): seconds of a big
                build on a core that would otherwise wait. The batches' memory is given back first, so the
                training sample does not come on top of it."""
                if len(ids) >= VECTOR_BATCH:
                    _release_memory(db)
                trained.append(trainer.submit(parked.index, ids, dim_known or embedder.dim))
                if bands is not None:
                    bands.start()  # every band key is staged: sorted on a thread of its own from now

            bands: store.BandSort | None = None
            with store.bands_filled_last(db) if optimize else contextlib.nullcontext() as bands, \
                    store.fts_filled_last(db) if optimize else contextlib.nullcontext():  # a new build: no reader yet
                changes = _apply(db, plan, spool.articles(), embedder, chunk_chars, progress, batch_chars=batch_chars,
                                 folder=folder, workers=workers, prepared=prepared, text_chars=spool.chars,
                                 parked=parked, written=train if optimize else None)
            report.embedded = changes.embedded
            _rest(db, plan, changes, report, embedder, chunk_chars, old_index, trained[0] if trained else None,
                  folder=folder, generation=generation, corpus_print=corpus_print, corpus_dir=corpus_dir,
                  dim=dim_known or embedder.dim, optimize=optimize)
    finally:  # after the trainer's thread is done with it
        if parked is not None:
            parked.remove()


def _rest(db: Any, plan: Plan, changes: "Changes", report: BuildReport, embedder: Embedder, chunk_chars: int,
          old_index: Any, trained: Future | None, *, folder: Path, generation: int, corpus_print: str,
          corpus_dir: Path, dim: int, optimize: bool) -> None:
    """What a build writes once its articles are in: files, meta, problems and the vector index
    (``trained``: a new build's, being trained and filled)."""
    for aid, path in plan.moved.items():
        db.execute("update articles set path = ? where id = ?", [path, aid])
    db.execute("delete from files")
    db["files"].insert_all(plan.files, batch_size=1000)
    if not optimize and len(changes.added_ids) >= VECTOR_BATCH:  # a big update: the batches' share, before
        _release_memory(db)                                        # the vector index takes its own
    if optimize:  # one b-tree per FTS index: fewer segments to read per question
        db.execute("insert into passages_fts(passages_fts) values ('optimize')")
    vectors_file = layout.vectors_name(generation)
    passages = _write_vectors(db, folder / vectors_file, dim, old_index, changes,
                              trained.result() if trained is not None else None)
    report.passages = passages
    store.set_meta(db, {
        "format": INDEX_FORMAT, "model": embedder.name, "dimension": str(dim),
        "chunk_chars": str(chunk_chars), "corpus_fingerprint": corpus_print,
        "corpus_dir": str(corpus_dir), "generation": str(generation), "vectors_file": vectors_file,
        "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "article_count": str(db.execute("select count(*) from articles").fetchone()[0]),
        "passage_count": str(passages),
    })
    save_problems(db, report)


@dataclass
class Changes:
    """What :func:`_apply` did to the passages, for the vector index to follow (ids only: the
    vectors are read back from the database)."""

    embedded: int
    added_ids: np.ndarray
    removed_ids: np.ndarray


class _Spool:
    """The articles a build will embed, parked on disk between planning and writing: planning must
    see every article (duplicates, removals) before any is written, and must not hold them all.

    They are written and read in blocks of about ``block_chars`` of text, each one pickled list behind
    its length: one system call a block, not one every few kilobytes. Each such call lets go of the
    GIL, and the build's other threads kept it for milliseconds before this one got it back: pickling
    100,000 articles to and from a file a record at a time took 8 s of a build, 1.4 s alone."""

    def __init__(self, path: Path, block_chars: int = BATCH_CHARS // 4) -> None:
        self.path = path
        self.block_chars = max(1, block_chars)
        self.chars = 0  # of the articles' text
        self._fh: Any = None
        self._block: list[tuple[Article, bytes]] = []
        self._block_chars = 0

    def add(self, article: Article, signature: np.ndarray) -> None:
        self._block.append((article, signature.tobytes()))
        self._block_chars += len(article.text)
        self.chars += len(article.text)
        if self._block_chars >= self.block_chars:
            self._flush()

    def _flush(self) -> None:
        if not self._block:
            return
        if self._fh is None:
            self._fh = open(self.path, "wb")
        blob = pickle.dumps(self._block, protocol=pickle.HIGHEST_PROTOCOL)
        self._fh.write(len(blob).to_bytes(8, "little") + blob)
        self._block, self._block_chars = [], 0

    def articles(self) -> Iterator[tuple[Article, bytes]]:
        """The parked articles and their MinHash signatures, in the order they were read, a block at a time."""
        self.close()
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            while head := fh.read(8):
                block = pickle.loads(fh.read(int.from_bytes(head, "little")))
                block.reverse()
                while block:  # handed on one by one, each let go of as it is
                    yield block.pop()

    def close(self) -> None:
        self._flush()
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def remove(self) -> None:
        self._block = []
        self.close()
        self.path.unlink(missing_ok=True)


class _VectorSpool:
    """A new build's passage vectors, parked in a file beside its database in the order they are
    written (ids ascending): its vector index is trained on and filled from them on another thread,
    while the build's own thread is still writing the database (it read them back from it after)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self.dim = 0
        self._fh: Any = None

    def add(self, batch: np.ndarray) -> None:
        """Park a written batch's vectors (float32, one row a passage, in id order)."""
        if not len(batch):
            return
        if self._fh is None:
            self._fh = open(self.path, "wb")
            self.dim = batch.shape[1]
        np.ascontiguousarray(batch, dtype="<f4").tofile(self._fh)
        self.rows += len(batch)

    def index(self, ids: np.ndarray, dim: int) -> Any:
        """The vector index of every parked vector, under ``ids`` (one each, in the order they were parked):
        trained on :func:`vectors.training_rows` of them, then filled ``VECTOR_BATCH`` at a time.
        On one OpenMP thread (this thread's own setting): it runs beside the build's SQLite work on the
        other core, and two threads spent a third more CPU for the same lists."""
        if len(ids) != self.rows:
            raise RuntimeError(f"{self.rows} vectors parked for {len(ids)} passages")
        self.close()
        vectors.one_thread()
        rows = vectors.training_rows(self.rows)
        sample = np.empty((len(rows), dim), np.float32)
        for at, batch in self._batches():  # filled in place: one copy of the sample
            wanted = rows[(rows >= at) & (rows < at + len(batch))]
            sample[np.searchsorted(rows, wanted)] = batch[wanted - at]
        index = vectors.new(dim, self.rows, sample if len(rows) else None)
        del sample
        for at, batch in self._batches():
            vectors.add(index, batch, ids[at : at + len(batch)])
        return index

    def _batches(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(position of the first, vectors)``, ``VECTOR_BATCH`` at a time, read into memory (a mapped
        file's pages would count in the build's memory as they are read)."""
        if not self.rows:
            return
        with open(self.path, "rb") as fh:
            for at in range(0, self.rows, VECTOR_BATCH):
                count = min(VECTOR_BATCH, self.rows - at)
                yield at, np.fromfile(fh, dtype="<f4", count=count * self.dim).reshape(count, self.dim)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def _update_settings(db: Any) -> None:
    """An update writes the live database, which readers keep reading: write-ahead log, and a
    commit that is on disk when it returns."""
    for pragma in ("journal_mode = wal", "synchronous = full", "busy_timeout = 10000", "temp_store = memory",
                   f"journal_size_limit = {WAL_LIMIT_BYTES}",
                   f"cache_size = -{BULK_CACHE_KIB}"):
        db.execute(f"pragma {pragma}")


def _bulk_settings(db: Any) -> None:
    """A build writes a private copy that is fsynced before it is published, and thrown away
    if anything fails: it needs no rollback journal and no fsync per transaction."""
    for pragma in ("journal_mode = off", "synchronous = off", "temp_store = memory",
                   f"cache_size = -{BULK_CACHE_KIB}"):
        db.execute(f"pragma {pragma}")


def _release_memory(db: Any) -> None:
    """Give back SQLite's page cache and the heap's free pages (glibc's ``malloc_trim``; nothing
    elsewhere), so the memory the batches used is not still held while the vector index is trained."""
    db.execute(f"pragma cache_size = -{SMALL_CACHE_KIB}")
    db.execute("pragma shrink_memory")
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _in_chunks(db: Any, sql: str, values: list[Any], size: int = 500) -> list[tuple]:
    """Rows of ``sql`` (holding one ``({marks})``) for ``values``, ``size`` at a time."""
    out: list[tuple] = []
    for i in range(0, len(values), size):
        chunk = values[i : i + size]
        out.extend(db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk).fetchall())
    return out


def _batches(articles: Iterable[tuple[Article, bytes]], wanted: set[str] | None, batch_chars: int,
             total_chars: int = 0) -> Iterator[list[tuple[Article, bytes]]]:
    """The wanted articles (None: all) with their signatures, in reading order, in batches of at most
    ``batch_chars`` of text (an article longer than that is a batch of its own). The last
    ``TAIL_BATCHES`` batches' worth of the ``total_chars`` the articles hold (0: not known) go in
    batches ``TAIL_SPLIT`` times smaller: the build's pipeline (prepare, embed, write) drains on one
    core, a batch at a time, and a big last batch kept the other core idle for seconds."""
    batch: list[tuple[Article, bytes]] = []
    chars = 0
    left = total_chars  # text not yet in a batch, this article's included
    for a, signature in articles:
        if wanted is not None and a.id not in wanted:
            left -= len(a.text)
            continue
        tail = total_chars and left + chars <= TAIL_BATCHES * batch_chars
        limit = max(1, batch_chars // TAIL_SPLIT) if tail else batch_chars
        if batch and chars + len(a.text) > limit:
            yield batch
            batch, chars = [], 0
        batch.append((a, signature))
        chars += len(a.text)
        left -= len(a.text)
    if batch:
        yield batch


def _apply(db: Any, plan: Plan, articles: Iterable[tuple[Article, bytes]], embedder: Embedder, chunk_chars: int,
           progress: bool, *, batch_chars: int = BATCH_CHARS, folder: Path, workers: Workers,
           prepared: Iterator[tuple[Any, Prepared]] | None = None, text_chars: int = 0,
           parked: "_VectorSpool | None" = None, written: Callable[[np.ndarray], None] | None = None) -> Changes:
    """Write the plan's articles a batch at a time, then delete the articles that went.

    ``articles`` holds at least the plan's ``todo`` (others are skipped). A changed article's old
    rows are deleted in the batch that writes its new ones; removed articles go last, so a
    renamed article still finds their vectors. Any vector whose passage or sentence text is
    already in the index being written is reused, not embedded.
    What changed is returned, so the vector index is updated rather than rebuilt. The keyword
    postings of what was added and removed are collected beside the database (in ``folder``)
    and written last.
    ``workers``: where the articles are turned into passages (:mod:`index.prepare`); ``prepared``: the
    batches already handed to them (:func:`_prepared`; ``articles`` is then not read), which may hold
    articles beyond the plan's. ``text_chars``: the text ``articles`` hold (the last batches are
    smaller: :func:`_batches`). ``parked``: where the written passages' vectors are also parked (a new
    build); ``written``: called with the added passage ids once every batch is written, before the
    removals and the keyword postings are.
    """
    todo = set(plan.todo)
    replaced = todo & set(plan.stale)
    added: list[np.ndarray] = []
    removed: list[np.ndarray] = []
    embedded = 0
    bar = _progress(len(todo), progress)
    # A batch is embedded on a thread of its own while the next one is chunked (the model runs
    # outside the GIL, the text work inside it); batches are still written one after the other.
    pending: tuple[Prepared, "Future[_Vectors]"] | None = None
    keys = postings.Collector(folder)
    recent = _RecentSentences()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsqa-build-embed") as pool:
            if prepared is None:
                prepared = _prepared(workers, _batches(articles, todo, batch_chars, text_chars), replaced, chunk_chars)
            for (batch, _), ready in prepared:
                ready.articles = batch
                ready = ready.only(todo)
                if not ready.articles:
                    continue
                if pending is not None:
                    embedded += _finish(db, *pending, added, removed, keys, recent, parked)
                    bar.update(len(pending[0].articles))
                reusable, unique = _needed(db, ready, recent)
                pending = (ready, pool.submit(_embed, embedder, unique, reusable))
            if pending is not None:
                embedded += _finish(db, *pending, added, removed, keys, recent, parked)
                bar.update(len(pending[0].articles))
        if written is not None:
            written(np.concatenate(added) if added else np.zeros(0, np.int64))
        with db.atomic():
            _delete_articles(db, [aid for aid in plan.stale if aid not in replaced], removed, keys)
            keys.write(db)
    finally:
        bar.close()
        keys.close()
    return Changes(embedded=embedded, added_ids=np.concatenate(added) if added else np.zeros(0, np.int64),
                   removed_ids=np.concatenate(removed) if removed else np.zeros(0, np.int64))


def _prepared(workers: Workers, batches: Iterable[list[tuple[Article, bytes]]], replaced: set[str],
              chunk_chars: int) -> Iterator[tuple[Any, Prepared]]:
    """``((batch, ids it replaces), its Prepared)`` for each batch, in order, the first ones already on
    their way to the workers."""
    jobs = ((batch, [a.id for a, _ in batch if a.id in replaced]) for batch in batches)
    return workers.map(prepare, jobs, chunk_chars)


def _delete_articles(db: Any, ids: list[str], removed: list[np.ndarray], keys: postings.Collector) -> None:
    """Delete these articles with their passages; their passage ids go to ``removed``
    and their keys to ``keys``."""
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        going = db.execute(f"select id, terms, title_terms from passages where article_id in ({marks})",
                           chunk).fetchall()
        keys.remove(going)
        removed.append(np.array([r[0] for r in going], dtype=np.int64))
        signed = db.execute(f"select id, minhash from articles where id in ({marks}) and minhash is not null",
                            chunk).fetchall()
        db.conn.executemany("delete from minhash_bands where band = ? and key = ? and article_id = ?",
                            store.band_rows([r[0] for r in signed],
                                            np.frombuffer(b"".join(r[1] for r in signed), dtype=np.uint64)))
        db.execute(f"delete from passages where article_id in ({marks})", chunk)
        db.execute(f"delete from articles where id in ({marks})", chunk)


class _RecentSentences:
    """The sentence vectors of the last batches a build wrote (whole batches, at most
    ``RECENT_SENTENCE_BYTES`` of vectors), by text hash: a line repeated across articles (a byline, a
    standard closing paragraph) is embedded once, not once a batch. A line that keeps coming back
    stays at hand, as each batch holding it keeps it; the index has no table of sentences to look
    them up in (what an update reuses from it: :func:`_known_vectors`)."""

    def __init__(self) -> None:
        self._batches: deque[tuple[dict[str, np.ndarray], int]] = deque()
        self._held = 0

    def add(self, hashes: list[str], vectors: np.ndarray) -> None:
        """Keep a written batch's sentence vectors (one row per distinct text: a batch of repeated
        lines must not hold every copy)."""
        rows = {h: i for i, h in enumerate(hashes)}
        distinct = vectors[list(rows.values())]  # a copy: the batch's own array is let go
        self._batches.append((dict(zip(rows, distinct)), distinct.nbytes))
        self._held += distinct.nbytes
        while len(self._batches) > 1 and self._held > RECENT_SENTENCE_BYTES:
            self._held -= self._batches.popleft()[1]

    def find(self, hashes: set[str]) -> dict[str, np.ndarray]:
        """The vectors held for these hashes (float16, as stored)."""
        out: dict[str, np.ndarray] = {}
        for batch, _ in self._batches:
            found = batch.keys() & hashes
            out.update(zip(found, map(batch.__getitem__, found)))
        return out


def _needed(db: Any, batch: Prepared, recent: _RecentSentences) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The vectors already at hand for these texts (see :func:`_known_vectors`; looked up after the
    batches before were written), and the texts to embed, by hash."""
    own = {p.text_hash for p in batch.passages}
    reusable = recent.find(set(batch.sentence_hashes))
    reusable.update(_known_vectors(db, own, set(batch.sentence_hashes) - set(reusable), batch.replaced))
    unique: dict[str, str] = {}
    for p in batch.passages:
        if p.text_hash not in reusable:
            unique.setdefault(p.text_hash, p.text)
    for i, h in enumerate(batch.sentence_hashes):
        if h not in reusable and h not in unique:
            unique[h] = batch.sentence_text(i)
    batch.to_embed = len(unique)
    return reusable, unique


def _embed(embedder: Embedder, unique: dict[str, str], reusable: dict[str, np.ndarray]) -> "_Vectors":
    """The vectors of a batch: ``reusable``'s, and one embedded for every text of ``unique`` (runs on the
    build's embedding thread)."""
    keys = list(unique)
    parts: list[np.ndarray] = []
    for i in range(0, len(keys), EMBED_BATCH):
        chunk = keys[i : i + EMBED_BATCH]
        vecs = np.asarray(embedder.encode_documents([unique[h] for h in chunk]), dtype=np.float32)
        if vecs.shape != (len(chunk), embedder.dim):
            raise ValueError(f"embedder returned {vecs.shape}, expected ({len(chunk)}, {embedder.dim})")
        parts.append(vecs)
    return _Vectors(keys, parts, reusable, embedder.dim)


class _Vectors:
    """A batch's vectors by text hash, in one matrix: those embedded, in order, then those reused.
    Rows are gathered by numpy: a dict of 600,000 row arrays, stacked again row by row when the
    batch was written, took two seconds of a 100k build's busiest thread."""

    def __init__(self, embedded: list[str], parts: list[np.ndarray], reused: dict[str, np.ndarray], dim: int) -> None:
        self.row = dict(zip(embedded, range(len(embedded))))
        self.row.update(zip(reused, range(len(embedded), len(embedded) + len(reused))))
        if reused:
            parts = [*parts, np.stack(list(reused.values())).astype(np.float32, copy=False)]
        self.matrix = np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)
        self._half: np.ndarray | None = None

    def full(self, hashes: list[str]) -> np.ndarray:
        """Float32 rows of ``hashes`` (passage vectors, as stored)."""
        return self.matrix[self._rows(hashes)]

    def half(self, hashes: list[str]) -> np.ndarray:
        """Half-precision rows of ``hashes`` (sentence vectors, as stored): each distinct vector is
        converted once (a batch's sentences repeat: bylines, boilerplate)."""
        if self._half is None:
            self._half = self.matrix.astype("<f2")
        return self._half[self._rows(hashes)]

    def _rows(self, hashes: list[str]) -> np.ndarray:
        return np.fromiter(map(self.row.__getitem__, hashes), np.int64, len(hashes))


def _finish(db: Any, batch: Prepared, vectors_of: "Future[_Vectors]", added: list[np.ndarray],
            removed: list[np.ndarray], keys: postings.Collector, recent: _RecentSentences,
            parked: "_VectorSpool | None" = None) -> int:
    """Wait for a batch's vectors and write it in one transaction, first deleting the old versions of
    its replaced articles (their passage ids go to ``removed``, the new ones to ``added``; their vectors
    also to ``parked``). Returns how many texts were embedded."""
    vectors = vectors_of.result()
    rows = batch.passages
    hashes = batch.sentence_hashes
    sentence_vectors = vectors.half(hashes)
    spans, sentence_blobs = store.sentence_columns(batch.sentences[:, 0], batch.sentences[:, 1:], sentence_vectors,
                                                   len(rows))
    passage_vectors = vectors.full([p.text_hash for p in rows])
    with db.atomic():
        _delete_articles(db, batch.replaced, removed, keys)
        db.conn.executemany(
            "insert into articles (id, path, title, source, published, date_text, place, url, text, content_hash, "
            "minhash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(a.id, a.path, a.title, a.source, a.published, a.date_text, a.place, a.url, a.text, a.content_hash,
              signature) for a, signature in batch.articles])
        store.add_bands(db, [a.id for a, _ in batch.articles],
                        np.frombuffer(b"".join(sig for _, sig in batch.articles), dtype=np.uint64))
        # Ids as SQLite would give them one by one (after the largest), so all go in one statement.
        first = db.execute("select coalesce(max(id), 0) + 1 from passages").fetchone()[0]
        ids = list(range(first, first + len(rows)))
        db.conn.executemany(
            "insert into passages (id, article_id, seq, start, end, text, text_hash, vector, terms, title_terms, "
            "sentence_spans, sentence_vectors) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(pid, p.article_id, p.seq, p.start, p.end, p.text, p.text_hash, blob, p.terms, p.title_terms, sp, sv)
             for pid, p, blob, sp, sv in zip(ids, rows, store.vector_blobs(passage_vectors), spans, sentence_blobs)])
    if parked is not None:
        parked.add(passage_vectors)
    keys.add(batch.keys, np.arange(first, first + len(rows)))
    recent.add(hashes, sentence_vectors)
    added.append(np.array(ids, dtype=np.int64))
    return batch.to_embed


def _known_vectors(db: Any, passages: set[str], sentences: set[str], replaced: list[str]) -> dict[str, np.ndarray]:
    """Vectors the index already holds for these passage and sentence text hashes (equal text, equal
    vector): a passage of the same text (one row per hash: a passage repeated across an archive has
    as many rows as copies, and reading them all made each batch slower than the last), with its
    sentences, and the sentences of the ``replaced`` articles' old passages (an edited article's
    unchanged sentences)."""
    out: dict[str, np.ndarray] = {}
    found: list[tuple[str, bytes | None, bytes | None]] = []  # passages to take sentence vectors from
    ordered = sorted(passages)
    for i in range(0, len(ordered), 2000):
        for h, blob, text, spans, vecs in db.execute(
                "select j.value, p.vector, p.text, p.sentence_spans, p.sentence_vectors from json_each(?) j "
                "join passages p on p.id = (select id from passages where text_hash = j.value limit 1)",
                [json.dumps(ordered[i : i + 2000])]):
            out[h] = store.blob_vector(blob).astype(np.float32)
            found.append((text, spans, vecs))
    if sentences:
        found.extend(_in_chunks(db, "select text, sentence_spans, sentence_vectors from passages "
                                    "where article_id in ({marks})", replaced))
        for text, spans, vecs in found:
            for start, end, blob in store.sentence_rows(spans, vecs):
                h = store.text_hash(text[start:end])
                if blob and h in sentences and h not in out:
                    out[h] = store.blob_vector16(blob).astype(np.float32)
    return out


def _stored_vectors(db: Any, dim: int, ids: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(ids, vectors)`` of passages in id order, at most ``VECTOR_BATCH`` at a time: all of them,
    or those of ``ids`` (sorted)."""
    def matrix(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([r[0] for r in rows], dtype=np.int64),
                np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), dim))

    if ids is None:
        cur = db.execute("select id, vector from passages order by id")
        while rows := cur.fetchmany(VECTOR_BATCH):
            yield matrix(rows)
        return
    wanted = [int(i) for i in ids]
    for i in range(0, len(wanted), VECTOR_BATCH):
        rows = _in_chunks(db, "select id, vector from passages where id in ({marks})", wanted[i : i + VECTOR_BATCH])
        if rows:
            yield matrix(sorted(rows))


def _training(db: Any, dim: int) -> tuple[int, int, np.ndarray | None]:
    """``(dim, passages, sample)``: what :func:`vectors.new` trains a vector index for the database's
    passages on."""
    passages = db.execute("select count(*) from passages").fetchone()[0]
    rows = vectors.training_rows(passages)
    if not len(rows):  # an exact index: nothing to train on
        return dim, passages, None
    all_ids = np.array([r[0] for r in db.execute("select id from passages order by id")], dtype=np.int64)
    train = np.empty((len(rows), dim), np.float32)
    at = 0
    for _, vecs in _stored_vectors(db, dim, all_ids[rows]):  # filled in place: one copy of the sample
        train[at : at + len(vecs)] = vecs
        at += len(vecs)
    return dim, passages, train


def _write_vectors(db: Any, path: Path, dim: int, old_index: Any, changes: Changes, trained: Any = None) -> int:
    """Write the FAISS index to ``path``: the live one less what was removed plus what was added, or
    ``trained`` (a new build's, complete: :meth:`_VectorSpool.index`), or a new one trained here and
    filled from the database's vectors, ``VECTOR_BATCH`` at a time."""
    passages = db.execute("select count(*) from passages").fetchone()[0]
    index = old_index
    if index is not None:
        vectors.remove(index, changes.removed_ids)
        if vectors.fits(index, passages):
            for ids, vecs in _stored_vectors(db, dim, np.sort(changes.added_ids)):
                vectors.add(index, vecs, ids)
        else:
            index = None  # it must change kind or has outgrown its lists: trained afresh below
    if index is None and trained is not None:
        index = trained
    elif index is None:
        index = vectors.new(*_training(db, dim))
        for ids, vecs in _stored_vectors(db, dim):
            vectors.add(index, vecs, ids)
    if index.ntotal != passages:
        raise RuntimeError(f"vector index holds {index.ntotal} vectors for {passages} passages")
    vectors.save(index, path)
    return passages


class _NoBar:
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total < 200:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="article", desc="indexing")
