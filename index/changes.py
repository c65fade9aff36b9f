"""What changed between a corpus folder and the live index, and what a build must therefore do.

Files whose bytes are unchanged are not parsed again; unreadable files keep their previously
indexed articles; the same story under two ids is kept once.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from index import dedupe, layout, store
from index.errors import BadArticle
from index.ingest import Article, iter_corpus


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
    duplicates: list[tuple[str, str, float]] = field(default_factory=list)
    path: Path | None = None
    before: int = 0                                   # articles in the live index before this build
    lost: list[str] = field(default_factory=list)     # ids this build drops, other than ones removed on purpose

    @property
    def skipped(self) -> list[BadArticle]:
        """Problems that kept an article (or a whole file) out of the index; warnings are not among them."""
        return [p for p in self.problems if p.kind != "warning"]

    def summary(self) -> str:
        if self.up_to_date:
            tail = f"; {len(self.skipped)} problem(s) not fixed yet" if self.skipped else ""
            return f"index is up to date ({self.passages} passages); nothing to do{tail}"
        verb = "would index" if self.dry_run else "indexed"
        parts = [f"{self.added} added", f"{self.changed} changed", f"{self.removed} removed",
                 f"{self.unchanged} unchanged"]
        if self.kept:
            parts.append(f"{self.kept} kept from the previous index")
        tail = "" if self.dry_run else f"; {self.passages} passages, {self.embedded} embedded, {self.seconds:.1f}s"
        skipped = f"; {len(self.skipped)} problem(s)" if self.skipped else ""
        dupes = f"; {len(self.duplicates)} duplicate(s) skipped" if self.duplicates else ""
        return f"{verb}: " + ", ".join(parts) + tail + skipped + dupes


def old_meta(old: Path) -> dict[str, str]:
    """Only the meta table of the live index (cheap: no article rows)."""
    db = store.open_db(old / layout.DB_NAME, readonly=True)
    try:
        return store.get_meta(db)
    finally:
        db.conn.close()


def save_problems(db: Any, report: BuildReport) -> None:
    """Record what this build could not index (replacing the previous build's list)."""
    rows = [{"path": p.path, "line": p.line, "kind": p.kind, "problem": p.problem, "article_id": None,
             "other_id": None, "similarity": None} for p in report.problems]
    rows += [{"path": None, "line": None, "kind": "same_story", "problem": "the same story as another article",
              "article_id": dup, "other_id": orig, "similarity": sim} for dup, orig, sim in report.duplicates]
    with db.atomic():
        db.execute("delete from problems")
        if rows:
            db["problems"].insert_all(rows, alter=False)


def load_problems(old: Path, report: BuildReport) -> None:
    """Problems recorded by the live build: an up-to-date run reports them again."""
    db = store.open_db(old / layout.DB_NAME, readonly=True)
    try:
        if not db["problems"].exists():
            return
        for path, line, kind, problem, dup, orig, sim in db.execute(
                "select path, line, kind, problem, article_id, other_id, similarity from problems order by rowid"):
            if kind == "same_story":
                report.duplicates.append((dup, orig, sim))
            else:
                report.problems.append(BadArticle(path, problem, line, kind=kind))
    finally:
        db.conn.close()


def old_state(old: Path | None) -> tuple[dict[str, str], dict[str, tuple[str, str]], dict[str, np.ndarray]]:
    """Meta, ``{article id: (content hash, path)}`` and stored signatures of the live index."""
    if old is None:
        return {}, {}, {}
    db = store.open_db(old / layout.DB_NAME, readonly=True)
    try:
        meta = store.get_meta(db)
        has_sig = "minhash" in db["articles"].columns_dict
        sql = f"select id, content_hash, path, {'minhash' if has_sig else 'null'} from articles"
        arts, sigs = {}, {}
        for aid, chash, path, blob in db.execute(sql):
            arts[aid] = (chash, path)
            if blob:
                sigs[aid] = np.frombuffer(blob, dtype=np.uint64)
    finally:
        db.conn.close()
    return meta, arts, sigs


def kept_ids(problems: list[BadArticle], present: set[str], old_arts: dict[str, tuple[str, str]],
             forget: set[str] = frozenset()) -> set[str]:
    """Old articles lost only because their file (or JSONL line) broke: keep them rather than lose them.

    A whole unreadable file keeps all its missing articles; a JSONL file keeps its missing ones
    only when there are no more of them than broken lines (otherwise some were deleted on
    purpose). Ids in ``forget`` were removed on purpose and are never kept.
    """
    broken = {p.path for p in problems if p.kind == "file"}
    bad_lines = Counter(p.path for p in problems if p.kind == "line")
    missing: dict[str, list[str]] = {}
    for aid, (_, path) in old_arts.items():
        if aid not in present and aid not in forget:
            missing.setdefault(path, []).append(aid)
    keep: set[str] = set()
    for path, ids in missing.items():
        if path in broken or 0 < len(ids) <= bad_lines[path]:
            keep.update(ids)
    return keep


def old_files(old: Path | None) -> dict[str, tuple[str, list[str]]]:
    """``{relative path: (sha256, article ids)}`` recorded by the live index."""
    if old is None:
        return {}
    db = store.open_db(old / layout.DB_NAME, readonly=True)
    try:
        if not db["files"].exists():
            return {}
        return {r[0]: (r[1], json.loads(r[2])) for r in db.execute("select path, sha256, article_ids from files")}
    finally:
        db.conn.close()


@dataclass
class Plan:
    """The difference between the corpus folder and the live index, in article ids (never texts)."""

    final: set[str]                      # every article id the new index holds
    todo: list[str]                      # ids to chunk and embed (added or changed), in reading order
    stale: list[str]                     # to delete from the copied index (changed or removed)
    files: list[dict[str, Any]]          # rows of the files table
    moved: dict[str, str] = field(default_factory=dict)  # unchanged articles now in another file


def plan_changes(corpus_dir: Path, hashes: dict[str, tuple[Path, str]], old: Path | None,
                 old_files: dict[str, tuple[str, list[str]]], rebuild: bool, report: BuildReport,
                 problems: list[BadArticle] | None = None, forget: set[str] = frozenset(),
                 keep: Callable[[Article, np.ndarray], None] | None = None) -> Plan:
    """Parse only new or changed files, keep what broke, drop duplicate stories, count everything.

    Articles are read one at a time and only their id, file, content hash and signature are
    remembered until duplicates are found; ``keep`` is handed each new or changed article with its
    signature (a build parks them on disk until it writes them). The plan holds ids only.
    """
    _, old_arts, old_sigs = old_state(old)
    base = {} if rebuild else old_arts
    same_files = {rel for rel, (_, sha) in hashes.items() if rel in old_files and old_files[rel][0] == sha}
    same_ids = {aid for rel in same_files for aid in old_files[rel][1] if aid in base}
    problems = list(problems or [])
    parsed: dict[str, tuple[str, str]] = {}  # id: (file, content hash), in reading order
    sigs: dict[str, np.ndarray] = {}
    fresh: set[str] = set()
    for item in iter_corpus(corpus_dir, files=[hashes[rel][0] for rel in hashes if rel not in same_files]):
        if isinstance(item, BadArticle):
            problems.append(item)
            continue
        if item.id in same_ids:
            problems.append(BadArticle(item.path, f"duplicate article id {item.id!r} (also in {base[item.id][1]}); "
                                                  "skipped", kind="duplicate"))
            continue
        parsed[item.id] = (item.path, item.content_hash)
        if item.id in base and base[item.id][0] == item.content_hash and item.id in old_sigs:
            sigs[item.id] = old_sigs[item.id]
        else:
            sigs[item.id] = dedupe.signature(item.text)
            fresh.add(item.id)
            if keep is not None:
                keep(item, sigs[item.id])
    report.problems = problems
    kept = kept_ids(problems, same_ids | set(parsed), base, forget)
    sigs.update({aid: old_sigs[aid] for aid in same_ids | kept if aid in old_sigs})
    order = sorted(aid for aid in sigs if aid not in fresh) + sorted(fresh)
    dupes = dedupe.find_duplicates(sigs, order, fresh=fresh)
    report.duplicates = [(dup, orig, sim) for dup, (orig, sim) in sorted(dupes.items())]
    dupe_paths = {parsed[aid][0] for aid in dupes if aid in parsed}
    parsed = {aid: v for aid, v in parsed.items() if aid not in dupes}
    final = same_ids | kept | set(parsed)
    todo = [aid for aid, (_, chash) in parsed.items() if aid not in base or base[aid][0] != chash]
    changed = {aid for aid in todo if aid in base}
    report.added = len(todo) - len(changed)
    report.changed = len(changed)
    report.unchanged = len(final) - len(todo) - len(kept)
    report.kept = len(kept)
    report.removed = sum(1 for aid in base if aid not in final)
    report.before = len(old_arts)
    report.lost = sorted(aid for aid in old_arts if aid not in final and aid not in forget)
    # Files with problems or duplicates are read again next time: a fix, or the original's
    # removal, must be noticed even though their bytes did not change.
    bad = {p.path for p in problems} | dupe_paths
    by_path: dict[str, list[str]] = {}
    for aid, (path, _) in parsed.items():
        by_path.setdefault(path, []).append(aid)
    files = [{"path": rel, "sha256": sha, "article_ids": json.dumps(old_files[rel][1] if rel in same_files
                                                                    else by_path.get(rel, []))}
             for rel, (_, sha) in hashes.items() if rel not in bad]
    stale = [aid for aid in base if aid not in final or aid in changed]
    moved = {aid: path for aid, (path, _) in parsed.items()
             if aid in base and aid not in changed and base[aid][1] != path}
    return Plan(final=final, todo=todo, stale=stale, files=files, moved=moved)
