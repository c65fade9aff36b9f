"""What changed between a corpus folder and the live index, and what a build must therefore do.

Files whose bytes are unchanged are not parsed again, nor are their indexed articles read back:
an update costs what changed. Their recorded problems are carried forward (a file whose
duplicate story's original changed, or with an id another file also uses, is read again).
Unreadable files keep their previously indexed articles; the same story under two ids is kept once.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from index import dedupe, layout, store
from index.errors import BadArticle
from index.ingest import Article, Piece, PieceRead, iter_corpus


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
    duplicate_paths: dict[str, str] = field(default_factory=dict)  # a skipped duplicate's file
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
    rows += [{"path": report.duplicate_paths.get(dup), "line": None, "kind": "same_story",
              "problem": "the same story as another article", "article_id": dup, "other_id": orig, "similarity": sim}
             for dup, orig, sim in report.duplicates]
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


def _articles_in(db: Any, needed: set[str], clean: set[str], clean_ids: int, before: int
                 ) -> tuple[dict[str, tuple[str, str]], dict[str, np.ndarray]]:
    """``{id: (content hash, path)}`` and signatures of the indexed articles outside the ``clean``
    files (which hold ``clean_ids`` of the ``before`` indexed), looked up by path among ``needed``:
    only the rows returned are read. Should the counts not add up, every article outside the clean
    files is read instead (one scan)."""
    def rows(condition: str, values: set[str]) -> tuple[dict[str, tuple[str, str]], dict[str, np.ndarray]]:
        arts, sigs = {}, {}
        for aid, chash, path, blob in db.execute(
                f"select id, content_hash, path, minhash from articles where path {condition} "
                "(select value from json_each(?))", [json.dumps(sorted(values))]):
            arts[aid] = (chash, path)
            if blob:
                sigs[aid] = np.frombuffer(blob, dtype=np.uint64)
        return arts, sigs

    arts, sigs = rows("in", needed - clean)
    return (arts, sigs) if len(arts) + clean_ids == before else rows("not in", clean)


@dataclass
class _Recorded:
    line: int | None
    kind: str
    problem: str
    article_id: str | None
    other_id: str | None
    similarity: float | None


def _recorded_problems(db: Any) -> dict[str, list[_Recorded]]:
    """The live build's problems by file."""
    out: dict[str, list[_Recorded]] = {}
    if not db["problems"].exists():
        return out
    for path, *rest in db.execute(
            "select path, line, kind, problem, article_id, other_id, similarity from problems order by rowid"):
        if path is not None:
            out.setdefault(path, []).append(_Recorded(*rest))
    return out


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
                 keep: Callable[[Article, np.ndarray], None] | None = None,
                 read: Callable[[Iterable[list[Piece]]], Iterable[tuple[list[Piece], list[PieceRead]]]] | None = None,
                 all_read: Callable[[], None] | None = None) -> Plan:
    """Parse only new or changed files, keep what broke, drop duplicate stories, count everything.

    Articles are read one at a time and only their id, file, content hash and signature are
    remembered until duplicates are found; ``keep`` is handed each new or changed article with its
    signature (a build parks them on disk until it writes them). The plan holds ids only.
    ``read``: reads the corpus's pieces in order (see :func:`index.ingest.iter_corpus`; a build's
    worker processes, which sign what they read); what comes unsigned is signed here.
    ``all_read``: called once every article has been read (and handed to ``keep``), before duplicates
    are looked for.
    """
    live = None if old is None else store.open_db(old / layout.DB_NAME, readonly=True)
    try:
        return _plan(corpus_dir, hashes, live, rebuild, {} if rebuild else old_files, report, problems, forget, keep,
                     read, all_read)
    finally:
        if live is not None:
            live.conn.close()


def _plan(corpus_dir: Path, hashes: dict[str, tuple[Path, str]], live: Any, rebuild: bool,
          old_files: dict[str, tuple[str, list[str]]], report: BuildReport, problems: list[BadArticle] | None,
          forget: set[str], keep: Callable[[Article, np.ndarray], None] | None,
          read: Callable[[Iterable[list[Piece]]], Iterable[tuple[list[Piece], list[PieceRead]]]] | None,
          all_read: Callable[[], None] | None = None) -> Plan:
    """:func:`plan_changes` with the live index open (``live``; None when there is none). A rebuild
    reads every file and reuses nothing, but still counts what the live index would lose."""
    before = live.execute("select count(*) from articles").fetchone()[0] if live is not None else 0
    everything = live
    if rebuild:
        live = None
    same_files = {rel for rel, (_, sha) in hashes.items() if rel in old_files and old_files[rel][0] == sha}
    recorded = _recorded_problems(live) if live is not None else {}
    # Indexed articles whose file changed or went: a duplicate story of one of them may be one no longer.
    affected = {aid for rel, (_, ids) in old_files.items() if rel not in same_files for aid in ids}
    for rel in list(same_files):
        if any(r.kind == "duplicate" or (r.kind == "same_story" and r.other_id in affected)
               for r in recorded.get(rel, ())):
            same_files.discard(rel)  # read again: what it depends on may have changed
    # Unchanged files whose articles need not be read back: none of them can have been kept from an
    # earlier version (that takes a broken file or broken lines).
    clean = {rel for rel in same_files if not any(r.kind in ("file", "line") for r in recorded.get(rel, ()))}
    same_ids = {aid for rel in clean for aid in old_files[rel][1]}
    # Articles of files that changed, went or have problems (a file left unreadable has no files row,
    # but its problem names it).
    needed = set(old_files) | set(recorded)
    base, old_sigs = _articles_in(live, needed, clean, len(same_ids), before) if live is not None else ({}, {})
    same_ids |= {aid for rel in same_files - clean for aid in old_files[rel][1] if aid in base}
    problems = list(problems or [])
    carried: dict[str, tuple[str, float]] = {}
    duplicate_paths: dict[str, str] = {}
    for rel in sorted(same_files):
        for r in recorded.get(rel, ()):
            if r.kind == "same_story":
                carried[r.article_id] = (r.other_id, r.similarity)
                duplicate_paths[r.article_id] = rel
            else:
                problems.append(BadArticle(rel, r.problem, r.line, kind=r.kind))
    parsed: dict[str, tuple[str, str]] = {}  # id: (file, content hash), in reading order
    sigs: dict[str, np.ndarray] = {}
    fresh: set[str] = set()

    def to_sign() -> Iterator[Article]:
        """The articles read that need a signature; the others are counted as they are read."""
        known: dict[str, set[str]] = {}  # what a reader need not sign: the content of indexed articles, by file
        for chash, path in base.values():
            known.setdefault(path, set()).add(chash)
        for item in iter_corpus(corpus_dir, files=[hashes[rel][0] for rel in hashes if rel not in same_files],
                                known={path: frozenset(h) for path, h in known.items()}, read=read):
            if isinstance(item, BadArticle):
                problems.append(item)
                continue
            if item.id in same_ids:
                where = base[item.id][1] if item.id in base else next(
                    (rel for rel in same_files if item.id in old_files[rel][1]), "another file")
                problems.append(BadArticle(item.path, f"duplicate article id {item.id!r} (also in {where}); "
                                                      "skipped", kind="duplicate"))
                continue
            parsed[item.id] = (item.path, item.content_hash)
            if item.id in base and base[item.id][0] == item.content_hash and item.id in old_sigs:
                sigs[item.id] = old_sigs[item.id]
            else:
                yield item

    for item, signature in _signed(to_sign()):
        sigs[item.id] = signature
        fresh.add(item.id)
        if keep is not None:
            keep(item, signature)
    if all_read is not None:
        all_read()
    report.problems = problems
    kept = kept_ids(problems, same_ids | set(parsed), base, forget)
    dupes = _duplicates(live, sigs, fresh, same_ids, kept, base)
    dupes.update(carried)
    report.duplicates = [(dup, orig, sim) for dup, (orig, sim) in sorted(dupes.items())]
    duplicate_paths.update({aid: parsed[aid][0] for aid in dupes if aid in parsed})
    report.duplicate_paths = duplicate_paths
    parsed = {aid: v for aid, v in parsed.items() if aid not in dupes}
    final = same_ids | kept | set(parsed)
    todo = [aid for aid, (_, chash) in parsed.items() if aid not in base or base[aid][0] != chash]
    changed = {aid for aid in todo if aid in base}
    report.added = len(todo) - len(changed)
    report.changed = len(changed)
    report.unchanged = len(final) - len(todo) - len(kept)
    report.kept = len(kept)
    report.removed = sum(1 for aid in base if aid not in final)
    report.before = before
    olds = (r[0] for r in everything.execute("select id from articles")) if rebuild and everything else base
    report.lost = sorted(aid for aid in olds if aid not in final and aid not in forget)
    by_path: dict[str, list[str]] = {}
    for aid, (path, _) in parsed.items():
        by_path.setdefault(path, []).append(aid)
    files = [{"path": rel, "sha256": sha, "article_ids": json.dumps(old_files[rel][1] if rel in same_files
                                                                    else by_path.get(rel, []))}
             for rel, (_, sha) in hashes.items()]
    stale = [aid for aid in base if aid not in final or aid in changed]
    moved = {aid: path for aid, (path, _) in parsed.items()
             if aid in base and aid not in changed and base[aid][1] != path}
    return Plan(final=final, todo=todo, stale=stale, files=files, moved=moved)


SIGN_CHUNK = 256  # articles signed at a time
SIGN_CHARS = 1_000_000  # and at most this much of their text (a longer article: alone)


def _signed(articles: Iterable[Article]) -> Iterator[tuple[Article, np.ndarray]]:
    """Each article with its signature, in order: the one its reader gave it, or one made here (the
    articles without are signed a chunk at a time: ``SIGN_CHUNK`` of them, ``SIGN_CHARS`` of text)."""
    chunk: list[Article] = []
    chars = 0

    def flush() -> Iterator[tuple[Article, np.ndarray]]:
        made = iter(dedupe.signatures([a.text for a in chunk if a.signature is None]))
        for a in chunk:
            yield a, (np.frombuffer(a.signature, dtype=np.uint64) if a.signature is not None else next(made))

    for a in articles:
        if chunk and (len(chunk) == SIGN_CHUNK or chars + len(a.text) > SIGN_CHARS):
            yield from flush()
            chunk, chars = [], 0
        chunk.append(a)
        chars += 0 if a.signature is not None else len(a.text)
    if chunk:
        yield from flush()


FAST_DEDUPE_MAX = 10_000  # fresh articles up to which they alone are compared with the index, streamed


def _duplicates(live: Any, sigs: dict[str, np.ndarray], fresh: set[str],
                same_ids: set[str], kept: set[str], base: dict[str, tuple[str, str]]) -> dict[str, tuple[str, float]]:
    """Fresh articles that repeat a story already indexed (or an earlier fresh one)."""
    if not fresh:
        return {}
    if live is None:
        order = sorted(aid for aid in sigs if aid not in fresh) + sorted(fresh)
        return dedupe.find_duplicates(sigs, order, fresh=fresh)
    # Indexed articles that stay (unchanged, kept, or read again unchanged) are the possible originals.
    gone = {aid for aid in base if aid not in sigs and aid not in kept and aid not in same_ids}
    if len(fresh) <= FAST_DEDUPE_MAX:  # only the indexed articles sharing a band with a fresh one
        mine = sorted(fresh)
        keys = dedupe.band_keys(np.stack([sigs[aid] for aid in mine]))
        found: set[str] = set()
        for band in range(dedupe.BANDS):
            found.update(r[0] for r in live.execute(
                "select article_id from minhash_bands where band = ? and key in (select value from json_each(?))",
                [band, json.dumps(sorted(set(keys[:, band].tolist())))]))
        found -= fresh | gone
        rows = live.execute("select id, minhash from articles where id in (select value from json_each(?))",
                            [json.dumps(sorted(found))])
        return dedupe.duplicates_of_fresh({aid: sigs[aid] for aid in mine}, rows)
    rows = ((aid, blob) for aid, blob in live.execute("select id, minhash from articles")
            if aid not in fresh and aid not in gone)
    everything = {aid: np.frombuffer(blob, dtype=np.uint64) for aid, blob in rows if blob}
    everything.update(sigs)
    order = sorted(aid for aid in everything if aid not in fresh) + sorted(fresh)
    return dedupe.find_duplicates(everything, order, fresh=fresh)
