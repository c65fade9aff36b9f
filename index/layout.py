"""Where an index lives on disk and how a new one replaces the old atomically.

``DATA/current`` is a symlink to ``DATA/builds/<name>/`` holding ``newsqa.db`` (in WAL mode)
and its vector index ``vectors-<generation>.faiss``, the one the database's meta names.

- A full build is written to ``DATA/builds/.tmp-*``, flushed, renamed, and made live by
  replacing the symlink in one ``rename``. A killed build leaves only a temporary folder that
  the next build removes.
- An update (only what changed) is written into the live folder: the new vector file first,
  under the next generation's name, then every database change, the meta's ``generation`` and
  ``vectors_file`` included, in one SQLite transaction. Readers pin a generation per question
  (see :mod:`index.engine`); a killed update leaves an uncommitted transaction that SQLite
  rolls back, and a vector file no generation names, which the next update replaces.

Either way a reader sees the old index or the new one, never a mix.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import IO

from index.errors import IndexBusy

DB_NAME = "newsqa.db"
VECTORS_GLOB = "vectors-*.faiss"
KEEP_VECTOR_FILES = 3  # the live generation's and the two before it, for questions still running on them
CURRENT = "current"
BUILDS = "builds"
TMP_PREFIX = ".tmp-"


def current_build(data_dir: Path) -> Path | None:
    """The live build folder, or None when nothing was built yet."""
    link = data_dir / CURRENT
    try:
        target = os.readlink(link)
    except OSError:
        return None
    path = (data_dir / target).resolve()
    return path if (path / DB_NAME).exists() else None


def vectors_name(generation: int) -> str:
    """The vector index file of one generation of a build."""
    return f"vectors-{generation}.faiss"


def vectors_path(folder: Path, meta: dict[str, str]) -> Path:
    """The vector index file a build's meta names."""
    name = meta.get("vectors_file")
    if not name:
        raise RuntimeError("the index names no vector file (an older format)")
    return folder / name


def _meta_values(folder: Path, *keys: str) -> list[str]:
    """Values of meta keys in a build's database ("" where missing), read without sqlite-utils."""
    import sqlite3

    conn = sqlite3.connect(f"file:{folder / DB_NAME}?mode=ro", uri=True)
    try:
        found = dict(conn.execute(f"select key, value from meta where key in ({','.join('?' * len(keys))})", keys))
    except sqlite3.DatabaseError:
        found = {}
    finally:
        conn.close()
    return [found.get(k, "") for k in keys]


def vectors_of(folder: Path) -> Path:
    """The live vector index file of a build folder."""
    return vectors_path(folder, {"vectors_file": _meta_values(folder, "vectors_file")[0]})


def live_version(data_dir: Path) -> tuple[Path, str] | None:
    """The live build folder and its generation: changes with every published build or update."""
    folder = current_build(data_dir)
    return None if folder is None else (folder, _meta_values(folder, "generation")[0])


def remove_old_vector_files(folder: Path, live: str, keep: int = KEEP_VECTOR_FILES) -> None:
    """Delete the vector files of generations older than the newest ``keep`` (``live`` always stays).

    A file no generation names (left by a killed update) is newer than ``live``: the next update
    writes over it.
    """
    def generation(p: Path) -> int:
        try:
            return int(p.stem.removeprefix("vectors-"))
        except ValueError:
            return -1

    live_gen = generation(folder / live)
    files = sorted((p for p in folder.glob(VECTORS_GLOB) if generation(p) <= live_gen), key=generation, reverse=True)
    for p in files[keep:]:
        if p.name != live:
            p.unlink(missing_ok=True)


def new_build_dir(data_dir: Path) -> Path:
    """A fresh temporary folder for a build in progress."""
    builds = data_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    while True:
        stamp = time.strftime("%Y%m%dT%H%M%S") + f".{time.time_ns() % 1_000_000_000:09d}"
        path = builds / f"{TMP_PREFIX}{stamp}-{os.getpid()}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def fsync_path(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(data_dir: Path, tmp: Path, vectors_file: str) -> Path:
    """Make the finished build in ``tmp`` (its database and ``vectors_file``) the live one; return its final folder."""
    for name in (DB_NAME, vectors_file):
        fsync_path(tmp / name)
    final = tmp.with_name(tmp.name.removeprefix(TMP_PREFIX))
    os.rename(tmp, final)
    fsync_path(final.parent)
    link_tmp = data_dir / f"{CURRENT}.{os.getpid()}.tmp"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    os.symlink(os.path.relpath(final, data_dir), link_tmp)
    os.replace(link_tmp, data_dir / CURRENT)
    fsync_path(data_dir)
    return final


def clean_old_builds(data_dir: Path, keep: int = 2) -> None:
    """Remove interrupted builds and all but the newest ``keep`` finished ones (the live one stays).

    The previous build is kept so questions already running on it can finish.
    """
    builds = data_dir / BUILDS
    if not builds.is_dir():
        return
    live = current_build(data_dir)
    finished = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(TMP_PREFIX)),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    doomed = [p for p in builds.iterdir() if p.name.startswith(TMP_PREFIX)]
    doomed += [p for p in finished[keep:] if p != live]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    for stale in data_dir.glob(f"{CURRENT}.*.tmp"):
        stale.unlink(missing_ok=True)


class WriterLock:
    """One index writer at a time. ``flock`` dies with its process, so a killed writer never
    leaves a lock that blocks the next one."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / ".lock"
        self._fh: IO[str] | None = None

    def __enter__(self) -> "WriterLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise IndexBusy(
                f"the index in {self.path.parent} is being written by {holder}; "
                "wait for it to finish and try again"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh:
            self._fh.seek(0)
            self._fh.truncate()
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
