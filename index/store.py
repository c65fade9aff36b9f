"""The SQLite side of an index, through sqlite-utils: articles, passages (with their vectors),
an FTS5 table over passages and a meta table. The schema is built by numbered migrations."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import sqlite_utils

SCHEMA_VERSION_KEY = "schema_version"
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
# Terms arrive stemmed (index.terms); FTS5 only splits them. Digits and '_' stay inside tokens.
TERMS_TOKENIZER = "unicode61 remove_diacritics 2"
VOCAB = "passages_fts_vocab"
# BM25 weight of the passage's own terms and of its article's title.
COLUMN_WEIGHTS = (1.0, 0.3)


def _m001_initial(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["articles"].create(
        {
            "id": str, "path": str, "title": str, "source": str, "published": str, "date_text": str,
            "place": str, "url": str, "text": str, "content_hash": str,
        },
        pk="id",
    )
    db["passages"].create(
        {
            "id": int, "article_id": str, "seq": int, "start": int, "end": int, "text": str,
            "text_hash": str, "vector": bytes,
        },
        pk="id",
        foreign_keys=[("article_id", "articles", "id")],
    )
    db["passages"].create_index(["article_id", "seq"], unique=True)
    db["passages"].create_index(["text_hash"])
    db["passages"].enable_fts(["text"], fts_version="FTS5", create_triggers=True, tokenize=FTS_TOKENIZER)


def _m002_article_signatures(db: sqlite_utils.Database) -> None:
    """MinHash signature per article, so duplicate detection only signs what changed."""
    db["articles"].add_column("minhash", bytes)


def _m003_files(db: sqlite_utils.Database) -> None:
    """Each corpus file's hash and the article ids it holds: unchanged files are not parsed again."""
    db["files"].create({"path": str, "sha256": str, "article_ids": str}, pk="path")


def _m004_script_terms(db: sqlite_utils.Database) -> None:
    """Keyword search over terms stemmed by script (see :mod:`index.terms`) instead of FTS5's porter,
    which leaves Cyrillic unstemmed; the article title is a second, lighter column."""
    db["passages"].add_column("terms", str)
    db["passages"].add_column("title_terms", str)
    db["passages"].disable_fts()
    db["passages"].enable_fts(["terms", "title_terms"], fts_version="FTS5", create_triggers=True,
                              tokenize=TERMS_TOKENIZER, replace=True)
    db.execute(f"create virtual table if not exists {VOCAB} using fts5vocab(passages_fts, 'row')")


def _m005_sentences(db: sqlite_utils.Database) -> None:
    """Sentence spans and vectors, so an answer picks its sentence without embedding at question time."""
    db["sentences"].create(
        {"id": int, "passage_id": int, "start": int, "end": int, "text_hash": str, "vector": bytes},
        pk="id", foreign_keys=[("passage_id", "passages", "id")],
    )
    db["sentences"].create_index(["passage_id"])
    db["sentences"].create_index(["text_hash"])


def _m006_problems(db: sqlite_utils.Database) -> None:
    """What the last build could not index and why, so every later run can still say it."""
    db["problems"].create({"path": str, "line": int, "kind": str, "problem": str, "article_id": str,
                           "other_id": str, "similarity": float})


def _m007_bands(db: sqlite_utils.Database) -> None:
    """The MinHash band keys of each article, and articles by file: an update looks up what it needs
    (a new article's possible originals, the articles of the files that changed) instead of scanning."""
    db.execute("create table minhash_bands (band integer, key integer, article_id text, "
               "primary key (band, key, article_id)) without rowid")
    db["articles"].create_index(["path"])


def _m008_postings(db: sqlite_utils.Database) -> None:
    """Each key's postings in one row, ranked by :mod:`index.postings` instead of FTS5's ``bm25()``."""
    from index import postings

    postings.create_table(db)
    postings.rebuild(db)


def _m009_sentences_on_passages(db: sqlite_utils.Database) -> None:
    """Each passage's sentence spans and vectors on its own row (see :func:`sentence_columns`), not a
    row a sentence: a build inserted five rows a passage into two indexes, and a question read them back."""
    db["passages"].add_column("sentence_spans", bytes)
    db["passages"].add_column("sentence_vectors", bytes)
    db["sentences"].drop(ignore=True)


def _m010_fts_keys_only(db: sqlite_utils.Database) -> None:
    """The FTS5 index keeps which passages hold each key, not where (``detail=none``): the postings rank
    (migration 8), and what FTS5 still answers (the passages holding a key, the vocabulary and its
    passage counts) needs no positions. A new build's FTS pass at 100,000 passages: 2.4 -> 1.7 s,
    the index 33 -> 11 MB. Its triggers (on ``passages``) stay as they are."""
    db.execute(f"drop table if exists {VOCAB}")
    db["passages_fts"].drop()
    db.execute(f"create virtual table passages_fts using fts5(terms, title_terms, tokenize='{TERMS_TOKENIZER}', "
               "content=passages, detail=none)")
    db.execute("insert into passages_fts(passages_fts) values ('rebuild')")
    db.execute(f"create virtual table {VOCAB} using fts5vocab(passages_fts, 'row')")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial, _m002_article_signatures, _m003_files, _m004_script_terms, _m005_sentences, _m006_problems,
    _m007_bands, _m008_postings, _m009_sentences_on_passages, _m010_fts_keys_only,
]


FTS_INSERT_TRIGGER = "passages_ai"
FTS_HASH_BYTES = 1 << 20  # FTS5's default
FTS_REBUILD_HASH_BYTES = 64 << 20


@contextlib.contextmanager
def fts_filled_last(db: sqlite_utils.Database) -> Iterator[None]:
    """Passages inserted in this block reach the FTS index in one pass at its end, not row by row
    through the insert trigger: a full build's 100,000 passages take a fifth of the time. For a
    database no reader sees until it is complete (a new build); the trigger is back afterwards."""
    row = db.execute("select sql from sqlite_master where type = 'trigger' and name = ?", [FTS_INSERT_TRIGGER]).fetchone()
    if row is None:
        yield
        return
    db.execute(f"drop trigger {FTS_INSERT_TRIGGER}")
    yield
    # Pending terms held in memory up to this size before FTS5 writes a segment (1 MB by default): one
    # segment for 100,000 passages instead of dozens merged afterwards (rebuild and optimize: 2.1 s -> 1.4 s).
    db.execute("insert into passages_fts(passages_fts, rank) values ('hashsize', ?)", [FTS_REBUILD_HASH_BYTES])
    db.execute("insert into passages_fts(passages_fts) values ('rebuild')")
    db.execute("insert into passages_fts(passages_fts, rank) values ('hashsize', ?)", [FTS_HASH_BYTES])
    db.execute(row[0])


BAND_STAGING = "minhash_bands_staged"
STAGING_DB = "staging"  # the database a new build stages its band keys in, attached beside its own


@contextlib.contextmanager
def bands_filled_last(db: sqlite_utils.Database) -> Iterator["BandSort"]:
    """Band keys added in this block (:func:`add_bands`) reach ``minhash_bands`` in one sorted pass at
    its end, not batch by batch: each batch's rows went all over the table's B-tree, and a full build
    spent three times as long on them. For a database no reader sees until it is complete (a new build).

    They wait in a database file of their own beside this one, attached while the block lasts and
    deleted after: staged in this one, their pages stayed in its file, free (35 MB at 100,000 articles).
    Their sort runs in that file on a connection and thread of its own (:class:`BandSort`), started
    by the block's owner once the last are added (else at the end): most of the work of the pass, done
    while this connection writes the rest. If the block fails, the file goes with the build's folder."""
    main = Path(next(r[2] for r in db.execute("pragma database_list") if r[1] == "main"))
    staged = main.with_name(main.name + ".bands")
    staged.unlink(missing_ok=True)
    db.execute("attach database ? as " + STAGING_DB, [str(staged)])
    db.execute(f"pragma {STAGING_DB}.journal_mode = off")
    db.execute(f"pragma {STAGING_DB}.synchronous = off")
    db.execute(f"create table {STAGING_DB}.{BAND_STAGING} (article_id text, keys text)")
    sort = BandSort(staged)
    try:
        yield sort
    except BaseException:
        sort.stop()  # the build failed or was stopped: it need not wait for a sort it will not use
        raise
    sort.start()
    sort.wait()
    db.execute(f"insert or ignore into main.minhash_bands (band, key, article_id) "
               f"select band, key, article_id from {STAGING_DB}.{BAND_SORTED} order by rowid")
    db.conn.commit()  # a database is detached outside a transaction
    db.execute(f"detach database {STAGING_DB}")
    staged.unlink(missing_ok=True)


BAND_SORTED = "minhash_bands_sorted"


class BandSort:
    """The staged band keys sorted into the table's key order, in the staging file, by a connection of
    its own on a thread of its own (SQLite lets go of the GIL): the rows then go into ``minhash_bands``
    in one append (0.4 s at 100,000 articles, against 2.1 s sorted on the way in)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Sort what is staged (every band key must be added and committed by now). Once only."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._sort, name="newsqa-build-bands", daemon=True)
            self._thread.start()

    def wait(self) -> None:
        """Until the sort is done; its error, if it failed, is raised here."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Interrupt a running sort and wait for its thread (its error is not raised)."""
        if self._thread is not None:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed already: the sort is over
                if self._conn is not None:
                    self._conn.interrupt()
            self._thread.join()

    def _sort(self) -> None:
        try:
            # Not checked for the same thread: stop() interrupts it from the build's own.
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                for pragma in ("journal_mode = off", "synchronous = off", "temp_store = file", "busy_timeout = 60000"):
                    self._conn.execute(f"pragma {pragma}")
                self._conn.execute(f"create table {BAND_SORTED} (band integer, key integer, article_id text)")
                self._conn.execute(f"insert into {BAND_SORTED} select k.key, k.value, s.article_id "
                                   f"from {BAND_STAGING} s, json_each(s.keys) k order by 1, 2, 3")
            finally:
                self._conn.close()
        except BaseException as e:  # told to the block's owner by wait()
            self._error = e


def _staging(db: sqlite_utils.Database) -> bool:
    return any(r[1] == STAGING_DB for r in db.execute("pragma database_list"))


def add_bands(db: sqlite_utils.Database, article_ids: list[str], signatures: np.ndarray) -> None:
    """Store the band keys of these articles (signatures: one row each)."""
    if not article_ids:
        return
    if _staging(db):
        from index.dedupe import band_keys

        keys = band_keys(signatures)
        as_json = ("[" + ",".join(["{}"] * keys.shape[1]) + "]").format  # one call an article (json.dumps: 1 s at 100k)
        db.conn.executemany(f"insert into {STAGING_DB}.{BAND_STAGING} (article_id, keys) values (?, ?)",
                            zip(article_ids, map(as_json, *keys.T.tolist())))
    else:
        db.conn.executemany("insert or ignore into minhash_bands (band, key, article_id) values (?, ?, ?)",
                            band_rows(article_ids, signatures))


def band_rows(article_ids: list[str], signatures: np.ndarray) -> list[tuple[int, int, str]]:
    """``minhash_bands`` rows of these articles (signatures: one row each), in the table's key order: a
    batch's rows then go into its B-tree page after page rather than all over it."""
    from index.dedupe import band_keys

    keys = band_keys(signatures) if len(article_ids) else np.zeros((0, 0), np.int64)
    return sorted((b, int(k), aid) for aid, row in zip(article_ids, keys.tolist()) for b, k in enumerate(row))


def migrate(db: sqlite_utils.Database) -> None:
    """Apply the migrations this database has not seen yet."""
    version = 0
    if db["meta"].exists():
        row = db.execute("select value from meta where key = ?", [SCHEMA_VERSION_KEY]).fetchone()
        version = int(row[0]) if row else 0
    for number, step in enumerate(MIGRATIONS, start=1):
        if number > version:
            with db.atomic():
                step(db)
                db["meta"].upsert({"key": SCHEMA_VERSION_KEY, "value": str(number)}, pk="key")


def open_db(path: Path, readonly: bool = False) -> sqlite_utils.Database:
    """A connection for this thread; read-only ones cannot change a live index by mistake."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        return sqlite_utils.Database(conn)
    return sqlite_utils.Database(path)


def text_hash(text: str) -> str:
    """Key under which a passage's vector is reused: equal text, equal vector."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def vector_blobs(vectors: np.ndarray) -> list[bytes]:
    """The stored form of each row (little-endian float32), converted as one array, then cut."""
    raw = np.asarray(vectors, dtype="<f4").tobytes()
    size = len(raw) // len(vectors) if len(vectors) else 0
    return [raw[i : i + size] for i in range(0, len(raw), size)] if size else []


def sentence_columns(owners: np.ndarray, spans: np.ndarray, vectors: np.ndarray, passages: int
                     ) -> tuple[list[bytes], list[bytes]]:
    """The ``sentence_spans`` and ``sentence_vectors`` values of ``passages`` rows: each passage's sentences
    as little-endian int32 ``(start, end)`` pairs (offsets inside the passage) and their float16 vectors,
    in reading order. ``owners``: each sentence's passage (ascending), ``spans``: ``(n, 2)``, ``vectors``:
    ``(n, dim)``. Converted as whole arrays, then cut a passage at a time."""
    ends = np.cumsum(np.bincount(np.asarray(owners, dtype=np.int64), minlength=passages)).tolist()
    span_bytes = np.asarray(spans, dtype="<i4").reshape(-1, 2).tobytes()
    vector_bytes = np.asarray(vectors, dtype="<f2").tobytes()
    span_size = 8  # two int32
    vector_size = len(vector_bytes) // len(owners) if len(owners) else 0
    starts = [0] + ends[:-1]
    return ([span_bytes[a * span_size : b * span_size] for a, b in zip(starts, ends)],
            [vector_bytes[a * vector_size : b * vector_size] for a, b in zip(starts, ends)])


def sentence_rows(spans: bytes | None, vectors: bytes | None) -> list[tuple[int, int, bytes | None]]:
    """A passage's stored sentences (:func:`sentence_columns`) as ``(start, end, float16 vector blob)``."""
    if not spans:
        return []
    pairs = np.frombuffer(spans, dtype="<i4").reshape(-1, 2).tolist()
    size = len(vectors) // len(pairs) if vectors else 0
    return [(start, end, vectors[i * size : (i + 1) * size] if size else None)
            for i, (start, end) in enumerate(pairs)]


def blob_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def blob_vector16(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f2")


def get_meta(db: sqlite_utils.Database) -> dict[str, str]:
    return {r["key"]: r["value"] for r in db["meta"].rows} if db["meta"].exists() else {}


def get_meta_value(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("select value from meta where key = ?", [key]).fetchone()
    return row[0] if row else None


def set_meta(db: sqlite_utils.Database, values: dict[str, Any]) -> None:
    db["meta"].upsert_all(
        [{"key": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in values.items()], pk="key"
    )


def texts_holding(db: sqlite_utils.Database, keys: Iterable[str], limit: int) -> list[str]:
    """Up to ``limit`` passage texts holding any of the index ``keys`` (each quoted: never FTS syntax)."""
    quoted = ['"' + k.replace('"', '""') + '"' for k in keys]
    if not quoted:
        return []
    return [r[0] for r in db.execute("select p.text from passages_fts f join passages p on p.id = f.rowid "
                                     "where passages_fts match ? limit ?", [" OR ".join(quoted), limit])]


def keyword_search(db: sqlite_utils.Database, expression: str | None, limit: int) -> list[tuple[int, float]]:
    """``(passage id, bm25 score)`` best first for an FTS5 expression (see :func:`index.terms.fts_expression`)."""
    if not expression:
        return []
    weights = ", ".join(str(w) for w in COLUMN_WEIGHTS)
    rows = db.execute(
        f"select rowid, -bm25(passages_fts, {weights}) as score from passages_fts where passages_fts match ? "
        f"order by bm25(passages_fts, {weights}) limit ?",
        [expression, limit],
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def key_frequencies(db: sqlite_utils.Database, keys: Iterable[str]) -> dict[str, int]:
    """How many passages hold each index key (from the postings, or the FTS5 vocabulary of an
    index built before them; a lookup either way, not a scan)."""
    from index import postings

    if postings.exists(db):
        return postings.frequencies(db, list(keys))
    keys = sorted(set(keys))
    if not keys:
        return {}
    marks = ",".join("?" * len(keys))
    found = {r[0]: int(r[1]) for r in db.execute(f"select term, doc from {VOCAB} where term in ({marks})", keys)}
    return {k: found.get(k, 0) for k in keys}


def vocabulary(db: sqlite_utils.Database, min_length: int = 4) -> list[tuple[str, int]]:
    """Alphabetic index keys and their passage counts, for correcting misspelt words."""
    return [(r[0], int(r[1])) for r in db.execute(
        f"select term, doc from {VOCAB} where length(term) >= ? and term not glob '*[0-9_]*'", [min_length])]


def passage_vectors(db: sqlite_utils.Database, passage_ids: list[int]) -> dict[int, np.ndarray]:
    """Stored vectors of these passages (to score candidates the vector search did not return)."""
    if not passage_ids:
        return {}
    marks = ",".join("?" * len(passage_ids))
    return {pid: blob_vector(blob) for pid, blob in
            db.execute(f"select id, vector from passages where id in ({marks})", passage_ids)}


def sentences_of(db: sqlite_utils.Database, passage_ids: list[int]) -> dict[int, list[tuple[int, int, bytes | None]]]:
    """``{passage id: [(start, end, half-precision vector blob), ...]}`` in reading order (offsets inside the passage)."""
    if not passage_ids:
        return {}
    marks = ",".join("?" * len(passage_ids))
    out: dict[int, list[tuple[int, int, bytes | None]]] = {p: [] for p in passage_ids}
    try:
        for pid, spans, blob in db.execute(
                f"select id, sentence_spans, sentence_vectors from passages where id in ({marks})", passage_ids):
            out[pid] = sentence_rows(spans, blob)
    except sqlite3.OperationalError:  # an index of format 10 or older, served until it is rebuilt: a row a sentence
        for pid, start, end, blob in db.execute(
                f"select passage_id, start, end, vector from sentences where passage_id in ({marks}) "
                f"order by passage_id, id", passage_ids):
            out[pid].append((start, end, blob))
    return out


def sentence_vectors_of(db: sqlite_utils.Database, passage_ids: list[int]) -> dict[int, bytes]:
    """``{passage id: its sentences' float16 vectors, end to end}`` for those of these passages that have any."""
    if not passage_ids:
        return {}
    marks = ",".join("?" * len(passage_ids))
    try:
        return {pid: blob for pid, blob in db.execute(
            f"select id, sentence_vectors from passages where id in ({marks}) and length(sentence_vectors) > 0",
            passage_ids)}
    except sqlite3.OperationalError:  # an older index (see sentences_of)
        joined = {pid: b"".join(b for _, _, b in rows if b) for pid, rows in sentences_of(db, passage_ids).items()}
        return {pid: blob for pid, blob in joined.items() if blob}


def passages_by_id(db: sqlite_utils.Database, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Passages with their article's metadata, keyed by passage id."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"select p.id, p.article_id, p.seq, p.start, p.end, p.text, a.title, a.source, a.published, "
        f"a.date_text, a.place, a.url, p.terms from passages p join articles a on a.id = p.article_id "
        f"where p.id in ({marks})",
        ids,
    ).fetchall()
    cols = ["id", "article_id", "seq", "start", "end", "text", "title", "source", "published",
            "date_text", "place", "url", "terms"]
    return {r[0]: dict(zip(cols, r)) for r in rows}
