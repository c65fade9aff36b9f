"""Re-index whenever the corpus folder changes, with the model kept loaded between runs.

Looking is cheap (file names, sizes and modification times); a build runs only when they
change, and only what changed is embedded.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any, Callable

from index.build import BuildReport, build_index
from index.embedding import Embedder
from index.errors import IndexBusy, NewsQAError, TooManyRemovals
from index.ingest import corpus_files

log = logging.getLogger(__name__)


def snapshot_stats(corpus_dir: Path) -> frozenset[tuple[str, int, int]]:
    """What a change to the folder would alter: each article file's path, size and mtime."""
    out = []
    for path in corpus_files(corpus_dir):
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.append((str(path), st.st_size, st.st_mtime_ns))
    return frozenset(out)


def watch_corpus(corpus_dir: Path, data_dir: Path, embedder: Embedder, interval: float,
                 on_report: Callable[[BuildReport], Any], stop: threading.Event | None = None,
                 max_remove_share: float | None = None) -> None:
    """Loop until ``stop`` is set (or SIGINT/SIGTERM), re-indexing after each change."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    seen = snapshot_stats(corpus_dir)
    # Anything that landed before the first look is indexed now (a no-op when up to date).
    try:
        report = build_index(corpus_dir, data_dir, embedder, max_remove_share=max_remove_share)
        if not report.up_to_date:
            on_report(report)
    except TooManyRemovals as e:
        log.error("%s", e)
    while not stop.wait(interval):
        now = snapshot_stats(corpus_dir)
        if now == seen:
            continue
        try:
            on_report(build_index(corpus_dir, data_dir, embedder, max_remove_share=max_remove_share))
            seen = now
        except IndexBusy as e:  # another writer: look again next time
            log.info("%s", e)
        except NewsQAError as e:
            log.error("re-index failed: %s", e)
            seen = now
