"""Maintainer operations on the corpus folder: add article files, remove articles by id.

Files are written to a temporary name and renamed into place, so a crash never leaves a
half-written article; the index is then brought up to date by :func:`index.build.build_index`.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import NewsQAError
from index.ingest import SUPPORTED, corpus_files, read_file


class ArticleExists(NewsQAError):
    """An article with the same id but different content is already in the corpus."""


class ArticleNotFound(NewsQAError):
    """No article in the corpus has that id."""


@dataclass
class Change:
    """What an add or remove did to the corpus folder."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(corpus_files(p))
        elif p.is_file():
            if p.suffix.lower() not in SUPPORTED:
                raise NewsQAError(f"{p}: unsupported file type; use one of {', '.join(SUPPORTED)}")
            out.append(p)
        else:
            raise NewsQAError(f"{p}: no such file or folder")
    return out


def add_files(paths: list[Path], corpus_dir: Path, force: bool = False) -> Change:
    """Copy article files into the corpus; an id clash with different content needs ``force``."""
    corpus_dir.mkdir(parents=True, exist_ok=True)
    existing = {p.stem: p for p in corpus_files(corpus_dir)}
    change = Change()
    files = _expand(paths)
    for src in files:
        found, problems = read_file(src, src.parent)
        if problems and not found:
            raise NewsQAError(f"not added: {problems[0]}")
        dest = corpus_dir / src.name
        if dest.resolve() == src.resolve():
            change.unchanged.append(src.name)
            continue
        clash = existing.get(src.stem)
        if clash is not None:
            if clash.read_bytes() == src.read_bytes():
                change.unchanged.append(src.name)
                continue
            if not force:
                raise ArticleExists(
                    f"{src.name}: the corpus already has a different article with id {src.stem!r} "
                    f"({clash.name}); use --force to replace it"
                )
            if clash != dest:
                clash.unlink()
        _atomic_write(dest, src.read_bytes())
        change.written.append(src.name)
    return change


def remove_ids(ids: list[str], corpus_dir: Path) -> Change:
    """Delete articles by id: their file, or their line in a JSONL file."""
    change = Change()
    wanted = set(ids)
    for path in corpus_files(corpus_dir):
        if path.suffix.lower() == ".jsonl":
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            keep = []
            for line in lines:
                try:
                    aid = str(json.loads(line).get("id", "")).strip() if line.strip() else None
                except (ValueError, AttributeError):
                    aid = None
                if aid in wanted:
                    change.removed.append(aid)
                else:
                    keep.append(line)
            if len(keep) != len(lines):
                _atomic_write(path, "".join(keep).encode("utf-8"))
        elif path.stem in wanted:
            path.unlink()
            change.removed.append(path.stem)
    missing = wanted - set(change.removed)
    if missing and not change.removed:
        raise ArticleNotFound(f"no article with id {', '.join(sorted(missing))} in {corpus_dir}")
    return change


def sync_folder(source: Path, corpus_dir: Path) -> Change:
    """Make ``corpus_dir`` mirror ``source`` (for a nightly re-index of a folder)."""
    if not source.is_dir():
        raise NewsQAError(f"{source}: no such folder")
    change = add_files([source], corpus_dir, force=True)
    wanted = {p.name for p in corpus_files(source)}
    for path in corpus_files(corpus_dir):
        if path.name not in wanted:
            path.unlink()
            change.removed.append(path.stem)
    return change
