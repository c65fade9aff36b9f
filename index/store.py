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


def _m004_problems(db: sqlite_utils.Database) -> None:
    """What the last build could not index and why, so every later run can still say it."""
    db["problems"].create({"path": str, "line": int, "kind": str, "problem": str, "article_id": str,
                           "other_id": str, "similarity": float})


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial, _m002_article_signatures, _m003_files, _m004_problems,
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
    """``(passage id, bm25 score)`` best first; higher is better."""
    expr = fts_match_expression(terms)
    if not expr:
        return []
    rows = db.execute(
        "select rowid, -bm25(passages_fts) from passages_fts where passages_fts match ? "
        "order by bm25(passages_fts) limit ?",
        [expr, limit],
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def document_frequencies(db: sqlite_utils.Database, terms: list[str]) -> dict[str, int]:
    """How many passages contain each term (after the FTS tokenizer's stemming)."""
    out: dict[str, int] = {}
    for t in set(terms):
        expr = fts_match_expression([t])
        row = db.execute("select count(*) from passages_fts where passages_fts match ?", [expr]).fetchone()
        out[t] = int(row[0])
    return out


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
