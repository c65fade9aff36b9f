"""The SQLite side of an index, through sqlite-utils: articles, passages (with their vectors),
an FTS5 table over passages and a meta table. The schema is built by numbered migrations."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import sqlite_utils

SCHEMA_VERSION_KEY = "schema_version"
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"


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


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial, _m002_article_signatures, _m003_files,
]


def migrate(db: sqlite_utils.Database) -> None:
    """Apply the migrations this database has not seen yet."""
    version = 0
    if db["meta"].exists():
        row = db.execute("select value from meta where key = ?", [SCHEMA_VERSION_KEY]).fetchone()
        version = int(row[0]) if row else 0
    for number, step in enumerate(MIGRATIONS, start=1):
        if number > version:
            with db.conn:
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


def vector_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def blob_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def get_meta(db: sqlite_utils.Database) -> dict[str, str]:
    return {r["key"]: r["value"] for r in db["meta"].rows} if db["meta"].exists() else {}


def set_meta(db: sqlite_utils.Database, values: dict[str, Any]) -> None:
    db["meta"].upsert_all(
        [{"key": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in values.items()], pk="key"
    )


_TOKEN = re.compile(r"\w+", re.U)


def fts_match_expression(terms: Iterable[str]) -> str | None:
    """An FTS5 MATCH expression that ORs the terms, each quoted so user text is never syntax."""
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms if t]
    return " OR ".join(quoted) if quoted else None


def keyword_search(db: sqlite_utils.Database, terms: list[str], limit: int) -> list[tuple[int, float]]:
    """``(passage id, bm25 score)`` best first; higher is better.

    Only as many of the rarest terms as ``KEYWORD_POSTINGS`` allows are ranked (see below).
    """
    if terms:
        terms = bounded_terms(document_frequencies(db, terms), terms)
    expr = fts_match_expression(terms)
    if not expr:
        return []
    rows = db.execute(
        "select rowid, -bm25(passages_fts) from passages_fts where passages_fts match ? "
        "order by bm25(passages_fts) limit ?",
        [expr, limit],
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def passages_by_id(db: sqlite_utils.Database, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Passages with their article's metadata, keyed by passage id."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"select p.id, p.article_id, p.seq, p.start, p.end, p.text, a.title, a.source, a.published, "
        f"a.date_text, a.place, a.url from passages p join articles a on a.id = p.article_id "
        f"where p.id in ({marks})",
        ids,
    ).fetchall()
    cols = ["id", "article_id", "seq", "start", "end", "text", "title", "source", "published",
            "date_text", "place", "url"]
    return {r[0]: dict(zip(cols, r)) for r in rows}


# ---- bounded keyword search --------------------------------------------------------------
# Ranking an OR of question words costs FTS5 a BM25 score for every passage holding any of
# them: at a million passages one common word ("first", "year") is 100,000 of them. Words are
# therefore taken rarest first until their passages add up to ``KEYWORD_POSTINGS``; the
# rarest is always kept. Below that (every corpus up to tens of thousands of passages) the
# search is exactly the OR of all words. Document frequencies come from FTS5's own vocabulary
# (fts5vocab), the question words being tokenized by a scratch FTS5 table with the same
# tokenizer, so a lookup costs microseconds instead of a pass over the word's postings.
KEYWORD_POSTINGS = 30_000


def _scratch(db: sqlite_utils.Database) -> None:
    """Per connection, in its temp schema (allowed on a read-only connection): the vocabulary
    of ``passages_fts`` and a scratch table that tokenizes words like it does."""
    if getattr(db, "_newsqa_scratch", False):
        return
    db.execute("create virtual table if not exists temp.passages_vocab using fts5vocab(main, passages_fts, row)")
    db.execute(f"create virtual table if not exists temp.scratch_fts using fts5(t, tokenize='{FTS_TOKENIZER}')")
    db.execute("create virtual table if not exists temp.scratch_vocab using fts5vocab(temp, scratch_fts, instance)")
    db._newsqa_scratch = True


def fts_tokens(db: sqlite_utils.Database, terms: list[str]) -> dict[str, list[str]]:
    """Each term as the FTS tokenizer indexes it (stemmed, folded; some words are several tokens)."""
    _scratch(db)
    terms = [t for t in dict.fromkeys(terms) if t]
    conn = db.conn
    conn.execute("delete from temp.scratch_fts")
    conn.executemany("insert into temp.scratch_fts(rowid, t) values (?, ?)", list(enumerate(terms, start=1)))
    out: dict[str, list[str]] = {t: [] for t in terms}
    for doc, term in conn.execute("select doc, term from temp.scratch_vocab order by doc, offset"):
        out[terms[doc - 1]].append(term)
    conn.execute("delete from temp.scratch_fts")
    return out


def document_frequencies(db: sqlite_utils.Database, terms: list[str]) -> dict[str, int]:
    """How many passages contain each term (after the FTS tokenizer's stemming)."""
    toks = fts_tokens(db, terms)
    single = sorted({v[0] for v in toks.values() if len(v) == 1})
    marks = ",".join("?" * len(single))
    df = dict(db.execute(f"select term, doc from temp.passages_vocab where term in ({marks})", single).fetchall()) \
        if single else {}
    out: dict[str, int] = {}
    for t in set(terms):
        v = toks.get(t, [])
        if len(v) == 1:
            out[t] = int(df.get(v[0], 0))
        elif not v:
            out[t] = 0
        else:  # a phrase: count its passages
            row = db.execute("select count(*) from passages_fts where passages_fts match ?",
                             [fts_match_expression([t])]).fetchone()
            out[t] = int(row[0])
    return out


def bounded_terms(dfs: dict[str, int], terms: list[str], budget: int | None = None) -> list[str]:
    """The terms to rank with, rarest first, until their postings exceed ``budget`` (one is always kept)."""
    budget = KEYWORD_POSTINGS if budget is None else budget
    present = sorted((t for t in dict.fromkeys(terms) if dfs.get(t, 0) > 0), key=lambda t: (dfs[t], t))
    kept: list[str] = []
    total = 0
    for t in present:
        if kept and total + dfs[t] > budget:
            break
        kept.append(t)
        total += dfs[t]
    return [t for t in terms if t in set(kept)]
