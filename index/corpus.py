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
from index.ingest import SUPPORTED, corpus_files, read_file, unsupported_files


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
    problems: list[str] = field(default_factory=list)


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


def _expand(paths: list[Path], errors: list[str]) -> list[Path]:
    """Article files named or inside the folders named; what cannot be added goes to ``errors``."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(corpus_files(p))
            errors.extend(f"{p / rel}: not an article format; use .txt, .md, .jsonl or .html"
                          for rel in unsupported_files(p))
        elif p.is_file():
            if p.suffix.lower() not in SUPPORTED:
                errors.append(f"{p}: not an article format; use one of {', '.join(SUPPORTED)}")
                continue
            out.append(p)
        else:
            errors.append(f"{p}: no such file or folder")
    return out


def add_files(paths: list[Path], corpus_dir: Path, force: bool = False, skip_bad: bool = False,
              dry_run: bool = False) -> Change:
    """Copy article files into the corpus; an id clash with different content needs ``force``.

    Every file is checked before any is copied, and every bad one is named at once, so a bad
    batch leaves the corpus as it was (with ``skip_bad``, bad files are reported in
    ``Change.problems`` and the rest copied). ``dry_run`` only fills in what would be written.
    """
    if not dry_run:
        corpus_dir.mkdir(parents=True, exist_ok=True)
    existing = {p.stem: p for p in corpus_files(corpus_dir)}
    change = Change()
    plan: list[tuple[Path, Path, Path | None]] = []
    names: dict[str, Path] = {}
    errors: list[str] = []
    clashes = 0
    for src in _expand(paths, errors):
        found, problems = read_file(src, src.parent)
        if problems and not found:
            errors.extend(f"{src}: {p.problem}" + (f" (line {p.line})" if p.line else "") for p in problems[:3])
            continue
        if src.name in names and names[src.name].read_bytes() != src.read_bytes():
            errors.append(f"{names[src.name]} and {src} would both become {src.name}")
            continue
        names[src.name] = src
        dest = corpus_dir / src.name
        clash = existing.get(src.stem)
        if dest.exists() and dest.resolve() == src.resolve() or clash is not None and clash.read_bytes() == src.read_bytes():
            change.unchanged.append(src.name)
            continue
        if clash is not None and not force:
            clashes += 1
            errors.append(f"{src.name}: the corpus already has a different article with id {src.stem!r} "
                          f"({clash.relative_to(corpus_dir)}); use --force to replace it")
            continue
        plan.append((src, dest, clash))
    if errors and skip_bad:
        change.problems.extend(errors)
    elif errors:
        kind = ArticleExists if clashes == len(errors) else NewsQAError
        raise kind(f"nothing added; {len(errors)} problem(s), fix them and try again:\n  " + "\n  ".join(errors))
    if dry_run:
        change.written.extend(src.name for src, _, _ in plan)
        return change
    for src, dest, clash in plan:
        if clash is not None and clash != dest:
            clash.unlink()
        _atomic_write(dest, src.read_bytes())
        change.written.append(src.name)
    return change


def _jsonl_ids(line: str) -> str | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return str(obj.get("id", "")).strip() if isinstance(obj, dict) else None


def remove_ids(ids: list[str], corpus_dir: Path, indexed_paths: dict[str, str] | None = None) -> Change:
    """Delete articles by id: their file, or their line in a JSONL file.

    ``indexed_paths`` (id -> path relative to the corpus, from the live index) finds articles
    whose id is not their file name (JSONL, front matter ``id:``); otherwise file names are used.
    """
    change = Change()
    wanted = set(ids)
    known = {aid: path for aid, path in (indexed_paths or {}).items() if aid in wanted}
    by_stem = {p.stem: p for p in corpus_files(corpus_dir) if p.suffix.lower() != ".jsonl"}
    jsonl = [p for p in corpus_files(corpus_dir) if p.suffix.lower() == ".jsonl"]
    for aid in sorted(wanted):
        path = corpus_dir / known[aid] if aid in known else by_stem.get(aid)
        if path is not None and path.suffix.lower() != ".jsonl" and path.is_file():
            path.unlink()
            change.removed.append(aid)
    left = wanted - set(change.removed)
    targets = [corpus_dir / known[a] for a in left if a in known and known[a].lower().endswith(".jsonl")] or jsonl
    for path in dict.fromkeys(targets):
        if not left or not path.is_file():
            continue
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            change.problems.append(f"{path.relative_to(corpus_dir)}: not UTF-8; not searched")
            continue
        lines = text.splitlines(keepends=True)
        keep = [ln for ln in lines if _jsonl_ids(ln) not in left]
        if len(keep) != len(lines):
            change.removed.extend(a for a in (_jsonl_ids(ln) for ln in lines) if a in left)
            left -= set(change.removed)
            _atomic_write(path, "".join(keep).encode("utf-8"))
    if not change.removed:
        raise ArticleNotFound(f"no article with id {', '.join(sorted(wanted))} in {corpus_dir}")
    return change


def sync_losses(source: Path, corpus_dir: Path, indexed_paths: dict[str, str]) -> list[str]:
    """Indexed article ids a sync from ``source`` would drop: their file goes, or comes back without them."""
    by_name: dict[str, Path] = {}
    for p in corpus_files(source):
        by_name.setdefault(p.name, p)
    ids_in: dict[str, set[str] | None] = {}
    lost = []
    for aid, rel in indexed_paths.items():
        name = Path(rel).name
        if name not in by_name:
            lost.append(aid)
            continue
        if name not in ids_in:
            found, problems = read_file(by_name[name], source)
            ids_in[name] = {a.id for a in found} if found else None  # unreadable: not copied, so kept
        if ids_in[name] is not None and aid not in ids_in[name]:
            lost.append(aid)
    return sorted(lost)


def sync_folder(source: Path, corpus_dir: Path, dry_run: bool = False) -> Change:
    """Make ``corpus_dir`` mirror ``source`` (for a nightly re-index of a folder)."""
    if not source.is_dir():
        raise NewsQAError(f"{source}: no such folder")
    change = add_files([source], corpus_dir, force=True, skip_bad=True, dry_run=dry_run)
    wanted = {p.name for p in corpus_files(source)}
    for path in corpus_files(corpus_dir):
        if path.name not in wanted:
            if not dry_run:
                path.unlink()
            change.removed.append(path.stem)
    return change
