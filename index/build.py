"""Build or update an index from a corpus folder: only what changed is chunked and embedded.

The new index is written beside the live one (see :mod:`index.layout`) and swapped in
atomically, so a crash at any moment leaves the previous index whole.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index import layout, store, vectors
from index.chunking import chunk_text
from index.embedding import Embedder
from index.errors import BadArticle
from index.ingest import Article, corpus_fingerprint, read_corpus

log = logging.getLogger(__name__)

INDEX_FORMAT = "1"
CHUNK_CHARS = 900
EMBED_BATCH = 256


@dataclass
class BuildReport:
    """What a build did; ``summary()`` is its one-line report."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    kept: int = 0
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0
    up_to_date: bool = False
    dry_run: bool = False
    reason: str | None = None
    problems: list[BadArticle] = field(default_factory=list)
    path: Path | None = None

    def summary(self) -> str:
        if self.up_to_date:
            return f"index is up to date ({self.passages} passages); nothing to do"
        verb = "would index" if self.dry_run else "indexed"
        parts = [f"{self.added} added", f"{self.changed} changed", f"{self.removed} removed",
                 f"{self.unchanged} unchanged"]
        if self.kept:
            parts.append(f"{self.kept} kept from the previous index")
        tail = "" if self.dry_run else f"; {self.passages} passages, {self.embedded} embedded, {self.seconds:.1f}s"
        skipped = f"; {len(self.problems)} problem(s)" if self.problems else ""
        return f"{verb}: " + ", ".join(parts) + tail + skipped


def _old_state(old: Path | None) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Meta and ``{article id: (content hash, path)}`` of the live index."""
    if old is None:
        return {}, {}
    db = store.open_db(old / layout.DB_NAME, readonly=True)
    try:
        meta = store.get_meta(db)
        arts = {r[0]: (r[1], r[2]) for r in db.execute("select id, content_hash, path from articles")}
    finally:
        db.conn.close()
    return meta, arts


def _kept_ids(problems: list[BadArticle], new_ids: set[str], old_arts: dict[str, tuple[str, str]]) -> set[str]:
    """Old articles whose file is now unreadable: keep them rather than lose them."""
    bad_paths = {p.path for p in problems}
    return {aid for aid, (_, path) in old_arts.items() if path in bad_paths and aid not in new_ids}


def build_index(
    corpus_dir: Path,
    data_dir: Path,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    dry_run: bool = False,
    progress: bool = False,
    chunk_chars: int = CHUNK_CHARS,
) -> BuildReport:
    """Bring the index in ``data_dir`` up to date with ``corpus_dir``."""
    started = time.monotonic()
    data_dir.mkdir(parents=True, exist_ok=True)
    with layout.WriterLock(data_dir):
        layout.clean_old_builds(data_dir)
        old = layout.current_build(data_dir)
        meta, old_arts = _old_state(old)
        report = BuildReport(dry_run=dry_run)
        if old and not rebuild:
            if meta.get("model") != embedder.name or meta.get("dimension") != str(embedder.dim):
                rebuild = True
                report.reason = (f"the embedding model changed from {meta.get('model')!r} to {embedder.name!r}; "
                                 "rebuilding everything")
            elif meta.get("format") != INDEX_FORMAT or meta.get("chunk_chars") != str(chunk_chars):
                rebuild = True
                report.reason = "the index format or passage size changed; rebuilding everything"
        fingerprint = corpus_fingerprint(corpus_dir)
        if old and not rebuild and meta.get("corpus_fingerprint") == fingerprint:
            report.up_to_date = True
            report.passages = int(meta.get("passage_count", 0))
            report.path = old
            return report

        articles, problems = read_corpus(corpus_dir)
        report.problems = problems
        new = {a.id: a for a in articles}
        base = {} if rebuild else old_arts
        kept = _kept_ids(problems, set(new), base)
        report.kept = len(kept)
        report.added = sum(1 for a in articles if a.id not in base)
        report.changed = sum(1 for a in articles if a.id in base and base[a.id][0] != a.content_hash)
        report.unchanged = sum(1 for a in articles if a.id in base and base[a.id][0] == a.content_hash)
        report.removed = sum(1 for aid in base if aid not in new and aid not in kept)
        if dry_run:
            report.seconds = time.monotonic() - started
            return report

        tmp = layout.new_build_dir(data_dir)
        try:
            if old and not rebuild:
                shutil.copyfile(old / layout.DB_NAME, tmp / layout.DB_NAME)
            db = store.open_db(tmp / layout.DB_NAME)
            store.migrate(db)
            stale = [aid for aid in base if aid not in kept and (aid not in new or new[aid].content_hash != base[aid][0])]
            todo = [a for a in articles if a.id not in base or base[a.id][0] != a.content_hash]
            report.embedded = _apply(db, stale, todo, embedder, chunk_chars, progress)
            n_articles = db.execute("select count(*) from articles").fetchone()[0]
            store.set_meta(db, {
                "format": INDEX_FORMAT, "model": embedder.name, "dimension": str(embedder.dim),
                "chunk_chars": str(chunk_chars), "corpus_fingerprint": fingerprint,
                "corpus_dir": str(corpus_dir.resolve()),
                "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "article_count": str(n_articles),
            })
            report.passages = _write_vectors(db, tmp, embedder.dim)
            store.set_meta(db, {"passage_count": str(report.passages)})
            db.conn.close()
            report.path = layout.publish(data_dir, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        layout.clean_old_builds(data_dir)
    report.seconds = time.monotonic() - started
    return report


def _apply(db: Any, stale: list[str], todo: list[Article], embedder: Embedder, chunk_chars: int,
           progress: bool) -> int:
    """Delete stale articles, insert new ones; reuse any vector whose passage text is unchanged."""
    reusable: dict[str, bytes] = {}
    rows: list[dict[str, Any]] = []
    for a in todo:
        for seq, span in enumerate(chunk_text(a.text, max_chars=chunk_chars)):
            text = a.text[span.start : span.end]
            rows.append({"article_id": a.id, "seq": seq, "start": span.start, "end": span.end,
                         "text": text, "text_hash": store.text_hash(text)})
    hashes = sorted({r["text_hash"] for r in rows})
    for i in range(0, len(hashes), 500):
        chunk = hashes[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for h, blob in db.execute(f"select text_hash, vector from passages where text_hash in ({marks})", chunk):
            reusable[h] = blob
    missing = [r for r in rows if r["text_hash"] not in reusable]
    unique: dict[str, str] = {r["text_hash"]: r["text"] for r in missing}
    if unique:
        keys = list(unique)
        bar = _progress(len(keys), progress)
        for i in range(0, len(keys), EMBED_BATCH):
            batch = keys[i : i + EMBED_BATCH]
            vecs = embedder.encode_documents([unique[h] for h in batch])
            if vecs.shape != (len(batch), embedder.dim):
                raise ValueError(f"embedder returned {vecs.shape}, expected ({len(batch)}, {embedder.dim})")
            for h, v in zip(batch, vecs):
                reusable[h] = store.vector_blob(v)
            bar.update(len(batch))
        bar.close()
    for r in rows:
        r["vector"] = reusable[r["text_hash"]]
    with db.conn:
        for i in range(0, len(stale), 500):
            chunk = stale[i : i + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(f"delete from passages where article_id in ({marks})", chunk)
            db.execute(f"delete from articles where id in ({marks})", chunk)
        db["articles"].insert_all(
            [{k: getattr(a, k) for k in ("id", "path", "title", "source", "published", "date_text", "place",
                                         "url", "text", "content_hash")} for a in todo],
            batch_size=500,
        )
        db["passages"].insert_all(rows, batch_size=500)
    return len(unique)


def _write_vectors(db: Any, folder: Path, dim: int) -> int:
    """Write the FAISS index for every passage in ``db``; return the passage count."""
    ids: list[int] = []
    blobs: list[bytes] = []
    for pid, blob in db.execute("select id, vector from passages order by id"):
        ids.append(pid)
        blobs.append(blob)
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(ids), dim) if ids else np.zeros((0, dim), "f4")
    vectors.save(vectors.build(matrix, np.asarray(ids, dtype=np.int64)), folder / layout.VECTORS_NAME)
    return len(ids)


class _NoBar:
    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total < 200:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="passage", desc="embedding")
