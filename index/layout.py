"""Where an index lives on disk and how a new one replaces the old atomically.

``DATA/current`` is a symlink to ``DATA/builds/<name>/`` holding ``newsqa.db`` and
``vectors.faiss``. A build is written to ``DATA/builds/.tmp-*``, flushed, renamed, and made
live by replacing the symlink in one ``rename``: a reader sees the old index or the new one,
never a mix, and a killed build leaves only a temporary folder that the next build removes.
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
VECTORS_NAME = "vectors.faiss"
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
    return path if (path / DB_NAME).exists() and (path / VECTORS_NAME).exists() else None


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


def publish(data_dir: Path, tmp: Path) -> Path:
    """Make the finished build in ``tmp`` the live one; return its final folder."""
    for name in (DB_NAME, VECTORS_NAME):
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
