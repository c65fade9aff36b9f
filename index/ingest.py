"""Read articles from ``.txt``, ``.md`` (optional YAML front matter) and ``.jsonl`` files.

A file that cannot be read is reported as a :class:`BadArticle` (with its line for JSONL)
and skipped; every other article still indexes. A JSONL file is read line by line, so its
size has no limit; each article has one. :func:`iter_corpus` hands articles over one at a
time, so a build never holds a whole corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import yaml

from index.cleaning import clean_body, normalise_newlines, parse_plain
from index.dates import PartialDate, parse_iso_or_text
from index.errors import BadArticle

log = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".jsonl", ".html", ".htm")
MAX_FILE_BYTES = 50_000_000  # one-article files only; a JSONL file is streamed
MAX_ARTICLE_CHARS = 2_000_000
MAX_LINE_BYTES = 4 * MAX_ARTICLE_CHARS + 100_000  # a JSONL line: one article, JSON-escaped, with metadata
MAX_ID_CHARS = 500
PIECE_BYTES = 4 << 20  # a build's workers read a JSONL file in runs of lines of about this many bytes
_SLASH_DATE = re.compile(r"\s*((?:19|20)\d\d)[/.](\d{1,2})[/.](\d{1,2})\s*")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<yaml>.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


class _TextDatesLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: ``published: 2021-13-45`` stays text instead of raising."""


_TextDatesLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


@dataclass
class Article:
    """One story, ready to chunk: ``text`` is exactly what passages and citations quote."""

    id: str
    path: str
    title: str
    text: str
    source: str | None = None
    published: str | None = None
    date_text: str | None = None
    place: str | None = None
    url: str | None = None
    content_hash: str = field(default="", init=False)
    # Things worth telling the maintainer that did not stop the article (e.g. an impossible date).
    warnings: list[str] = field(default_factory=list, compare=False)
    # Its text's MinHash signature (``index.dedupe``), when whoever read it signed it too (a build's worker).
    signature: bytes | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        payload = json.dumps(
            [self.title, self.text, self.source, self.published, self.date_text, self.place, self.url],
            ensure_ascii=False,
        )
        self.content_hash = hashlib.sha256(payload.encode()).hexdigest()


def _decode(path: Path, data: bytes, rel: str) -> str:
    if b"\x00" in data[:8192]:
        raise BadArticle(rel, "binary file (contains NUL bytes); articles must be UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadArticle(
            rel, f"not UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); re-save the file as UTF-8"
        ) from None
    if not text.strip():
        raise BadArticle(rel, "empty file")
    return text


def _date_fields(date: PartialDate | None) -> tuple[str | None, str | None]:
    return (date.iso(), date.text()) if date else (None, None)


def article_key(article_id: str) -> str:
    """A short key safe in file names and button data, for ids that are URLs, URNs or have spaces."""
    return hashlib.sha256(article_id.encode("utf-8")).hexdigest()[:16]


def check_id(article_id: str) -> str | None:
    """What is wrong with an article id, or None: any printable text up to MAX_ID_CHARS is fine."""
    if not article_id:
        return "article id is empty"
    if len(article_id) > MAX_ID_CHARS:
        return f"article id is {len(article_id):,} characters long; at most {MAX_ID_CHARS} are allowed"
    if not article_id.isprintable():
        return f"article id {article_id!r} holds a tab, line break or other control character"
    return None


def _checked(article: Article, rel: str, line: int | None = None) -> Article:
    if not article.text.strip():
        raise BadArticle(rel, "no article text after removing boilerplate", line)
    if len(article.text) > MAX_ARTICLE_CHARS:
        raise BadArticle(rel, f"article longer than {MAX_ARTICLE_CHARS:,} characters; split it", line)
    wrong = check_id(article.id)
    if wrong:
        raise BadArticle(rel, wrong, line)
    return article


def _date(value: Any, warnings: list[str], field_name: str = "published") -> PartialDate | None:
    """A stated date; one that cannot be read (``2015-10-40``) is a warning, never silently dropped."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        m = _SLASH_DATE.fullmatch(value)
        if m:  # 2015/10/21, 2015.10.21: year first, so never ambiguous
            value = f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}"
    try:
        date = parse_iso_or_text(value)
    except (ValueError, TypeError):
        date = None
    if date is None:
        warnings.append(f"{field_name} {str(value)[:40]!r} is not a date I can read; indexed without it")
    return date


def read_txt(text: str, article_id: str, rel: str) -> Article:
    """A plain-text article: metadata is found in the text itself."""
    parsed = parse_plain(text)
    published, date_text = _date_fields(parsed.date)
    return _checked(
        Article(
            id=article_id, path=rel, title=parsed.title or article_id, text=parsed.body,
            source=parsed.source, published=published, date_text=date_text, place=parsed.place,
        ),
        rel,
    )


def read_md(text: str, article_id: str, rel: str) -> Article:
    """Markdown with optional YAML front matter (title, source, published, url)."""
    text = normalise_newlines(text)
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        try:
            loaded = yaml.load(m["yaml"] or "", Loader=_TextDatesLoader) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 2 if mark else None
            raise BadArticle(rel, f"front matter is not valid YAML: {getattr(e, 'problem', e)}", line) from None
        if not isinstance(loaded, dict):
            raise BadArticle(rel, "front matter must be a mapping of 'key: value' lines", 2)
        meta = loaded
        text = text[m.end() :]
    parsed = parse_plain(text)
    title = meta.get("title")
    body = parsed.body
    if not title:
        lines = text.lstrip("\n").split("\n")
        h = _HEADING.match(lines[0]) if lines else None
        title = h["title"] if h else parsed.title
        body = clean_body("\n".join(lines[1:])) if h else parsed.body
    warnings: list[str] = []
    key = "published" if meta.get("published") not in (None, "") else "date"
    date = _date(meta.get(key), warnings, f"front matter {key}") or parsed.date
    published, date_text = _date_fields(date)
    article = _checked(
        Article(
            id=_opt(meta.get("id")) or article_id, path=rel, title=_opt(title) or article_id,
            text=body, source=_opt(meta.get("source")) or parsed.source, published=published,
            date_text=date_text, place=parsed.place, url=_opt(meta.get("url")),
        ),
        rel,
    )
    article.warnings = warnings
    return article


def read_html(data: bytes, article_id: str, rel: str) -> Article:
    """A saved web page: main text, title, date and site name found by trafilatura."""
    import trafilatura

    doc = trafilatura.bare_extraction(data, with_metadata=True, include_comments=False, include_tables=False)
    text = normalise_newlines(getattr(doc, "text", None) or "") if doc is not None else ""
    if not text.strip():
        raise BadArticle(rel, "no article text found in the HTML page")
    title = (getattr(doc, "title", None) or "").strip()
    lines = text.split("\n")
    if title and lines and lines[0].strip() == title:
        text = "\n".join(lines[1:])
    parsed = parse_plain(f"{title or article_id}\n\n{text}")
    date = parse_iso_or_text(getattr(doc, "date", None)) or parsed.date
    published, date_text = _date_fields(date)
    source = _opt(getattr(doc, "sitename", None)) or parsed.source or _opt(getattr(doc, "hostname", None))
    return _checked(
        Article(id=article_id, path=rel, title=title or parsed.title or article_id, text=parsed.body,
                source=source, published=published, date_text=date_text, place=parsed.place,
                url=_opt(getattr(doc, "url", None))),
        rel,
    )


def _opt(value: Any) -> str | None:
    """A metadata value as text; lists, mappings and other structures are not metadata."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def jsonl_article(line: str, rel: str, n: int) -> Article:
    """The article on line ``n`` of a JSONL file, or a :class:`BadArticle` saying what is wrong."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadArticle(rel, f"not valid JSON ({e.msg} at column {e.colno})", n) from None
    if not isinstance(obj, dict):
        raise BadArticle(rel, "expected a JSON object with id, title and text", n)
    missing = [k for k in ("id", "text") if not obj.get(k) or not str(obj[k]).strip()]
    if missing:
        raise BadArticle(rel, f"missing {' and '.join(repr(k) for k in missing)}", n)
    try:
        warnings: list[str] = []
        body = clean_body(str(obj["text"]))
        published, date_text = _date_fields(_date(obj.get("published"), warnings))
        title = _opt(obj.get("title")) or parse_plain(str(obj["text"])).title or str(obj["id"]).strip()
        article = _checked(
            Article(
                id=str(obj["id"]).strip(), path=rel, title=title, text=body,
                source=_opt(obj.get("source")), published=published, date_text=date_text,
                url=_opt(obj.get("url")),
            ),
            rel,
            n,
        )
    except BadArticle as e:
        raise BadArticle(rel, e.problem, n) from None
    except (ValueError, TypeError, RecursionError) as e:
        raise BadArticle(rel, f"cannot read: {e}", n) from None
    article.warnings = warnings
    return article


def read_jsonl(text: str, rel: str) -> tuple[list[Article], list[BadArticle]]:
    """One JSON object per line with ``id``, ``title``, ``text`` and optional metadata."""
    articles: list[Article] = []
    problems: list[BadArticle] = []
    for n, line in enumerate(normalise_newlines(text).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            articles.append(jsonl_article(line, rel, n))
        except BadArticle as e:
            problems.append(e)
    return articles, problems


def _jsonl_lines(path: Path, rel: str, start: int = 0, end: int | None = None
                 ) -> Iterator[tuple[int, str | BadArticle]]:
    """``(line number, text)`` of a JSONL file (of its lines from byte ``start`` to ``end``, numbered
    from 1 there), read in bounded pieces; a bad line is a BadArticle."""
    with open(path, "rb") as fh:
        fh.seek(start)
        n = 0
        while end is None or fh.tell() < end:
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            n += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line without holding it
                    raw = fh.readline(1 << 20)
                yield n, BadArticle(rel, f"line longer than {MAX_LINE_BYTES // 1_000_000} MB; one article is at "
                                         f"most {MAX_ARTICLE_CHARS:,} characters", n)
                continue
            if n == 1 and start == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield n, BadArticle(rel, f"not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                                         "re-save the file as UTF-8", n)
                continue
            yield n, text.rstrip("\r\n")


@dataclass
class _Lines:
    """How far a reading of JSONL lines got: lines read, and whether any held more than blanks."""

    read: int = 0
    text: bool = False


def _jsonl_articles(path: Path, rel: str, lines: _Lines, start: int = 0, end: int | None = None
                    ) -> Iterator[Article | BadArticle]:
    """The articles and bad lines of a JSONL file's lines from byte ``start`` to ``end``, one at a
    time; a file that cannot be read or parsed is one more problem (it must not stop the corpus)."""
    try:
        for n, line in _jsonl_lines(path, rel, start, end):
            lines.read = n
            if isinstance(line, BadArticle):
                lines.text = True
                yield line
                continue
            if not line.strip():
                continue
            lines.text = True
            if "\x00" in line:
                yield BadArticle(rel, "binary data (NUL bytes) on this line", n)
                continue
            try:
                yield jsonl_article(line, rel, n)
            except BadArticle as e:
                yield e
    except OSError as e:
        lines.text = True
        yield BadArticle(rel, f"cannot read: {e.strerror or e}")
    except (ValueError, TypeError, RecursionError) as e:
        log.debug("cannot read %s", rel, exc_info=True)
        lines.text = True
        yield BadArticle(rel, f"cannot read: {e}")


def _split_items(items: Iterable[Article | BadArticle]) -> tuple[list[Article], list[BadArticle]]:
    articles: list[Article] = []
    problems: list[BadArticle] = []
    for item in items:
        (problems if isinstance(item, BadArticle) else articles).append(item)
    return articles, problems


def read_file(path: Path, root: Path) -> tuple[list[Article], list[BadArticle]]:
    """Articles in one file, and what was wrong with it."""
    return _split_items(iter_file(path, root))


def iter_file(path: Path, root: Path) -> Iterator[Article | BadArticle]:
    """Articles in one file and what was wrong with it, one at a time (a JSONL file is never held whole)."""
    rel = _rel(path, root)
    if path.suffix.lower() == ".jsonl":
        lines = _Lines()
        yield from _jsonl_articles(path, rel, lines)
        if not lines.text:
            yield BadArticle(rel, "empty file")
        return
    found, bad = _read_one(path, rel)
    yield from bad
    yield from found


def _read_one(path: Path, rel: str) -> tuple[list[Article], list[BadArticle]]:
    """A file holding one article."""
    try:
        suffix = path.suffix.lower()
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadArticle(rel, f"file larger than {MAX_FILE_BYTES // 1_000_000} MB for one article; "
                                  "split it, or put many articles in a .jsonl file (no size limit)")
        data = path.read_bytes()
        if suffix in (".html", ".htm"):
            if b"\x00" in data[:8192]:
                raise BadArticle(rel, "binary file (contains NUL bytes); expected an HTML page")
            if not data.strip():
                raise BadArticle(rel, "empty file")
            return [read_html(data, path.stem, rel)], []
        text = _decode(path, data, rel)
        reader = read_md if suffix == ".md" else read_txt
        return [reader(text, path.stem, rel)], []
    except BadArticle as e:
        return [], [e]
    except OSError as e:
        return [], [BadArticle(rel, f"cannot read: {e.strerror or e}")]
    except (ValueError, TypeError, RecursionError) as e:  # a malformed file must not stop the corpus
        log.debug("cannot read %s", rel, exc_info=True)
        return [], [BadArticle(rel, f"cannot read: {e}")]


def corpus_files(root: Path) -> list[Path]:
    """Supported article files under ``root``, in a stable order; hidden files and folders are skipped."""
    if not root.is_dir():
        return []
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.join(folder, n) for n in names
                     if not n.startswith(".") and os.path.splitext(n)[1].lower() in SUPPORTED)
    # Broken symlinks, pipes and sockets are not articles (reading a pipe would block forever).
    found = [p for p in found if os.path.isfile(p)]
    return [Path(p) for p in sorted(found)]


def unsupported_files(root: Path) -> list[str]:
    """Visible files under ``root`` that are not articles of a known kind (reported, never silently ignored)."""
    if not root.is_dir():
        return []
    found: list[str] = []
    base = len(str(root).rstrip(os.sep)) + 1
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for n in names:
            full = os.path.join(folder, n)
            if (not n.startswith(".") and os.path.splitext(n)[1].lower() not in SUPPORTED
                    and os.path.isfile(full)):
                found.append(full[base:].replace(os.sep, "/"))
    return sorted(found)


def unsupported_problem(rel: str) -> BadArticle:
    kind = os.path.splitext(rel)[1] or "without an extension"
    return BadArticle(rel, f"not read: {kind} is not an article format; use .txt, .md, .jsonl or .html",
                      kind="unsupported")


@dataclass
class Piece:
    """Part of the corpus to read at once: a file, or a run of a JSONL file's lines (bytes ``start``
    to ``end``; None: to the end of the file)."""

    path: Path
    rel: str
    start: int = 0
    end: int | None = None
    known: frozenset[str] = frozenset()  # content hashes of this file's indexed articles (not signed again)


@dataclass
class PieceRead:
    """What a :class:`Piece` held. Line numbers count from the piece's first line."""

    items: list[Article | BadArticle]
    lines: int = 0  # lines read (of a JSONL file)
    text: bool = True  # whether any line held more than blanks (of a JSONL file)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def corpus_pieces(root: Path, files: Iterable[Path] | None = None, known: dict[str, frozenset[str]] | None = None
                  ) -> Iterator[list[Piece]]:
    """The corpus in groups of pieces of about ``PIECE_BYTES`` each, in reading order: a JSONL file is
    cut at line ends into runs of about that size, smaller files go together. ``known``: content
    hashes of the indexed articles by file (see :class:`Piece`)."""
    piece_bytes = PIECE_BYTES
    group: list[Piece] = []
    size = 0
    for path in files if files is not None else corpus_files(root):
        rel = _rel(path, root)
        hashes = (known or {}).get(rel, frozenset())
        for start, end in _line_runs(path, piece_bytes) if path.suffix.lower() == ".jsonl" else [(0, None)]:
            group.append(Piece(path, rel, start, end, hashes))
            size += (file_size(path) if end is None else end) - start
            if size >= piece_bytes:
                yield group
                group, size = [], 0
    if group:
        yield group


def file_size(path: Path) -> int:
    """A file's size in bytes; 0 when it cannot be read (reading it says why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _line_runs(path: Path, piece_bytes: int) -> list[tuple[int, int | None]]:
    """A file's bytes as runs of whole lines of about ``piece_bytes`` each (the last one: to the end)."""
    runs: list[tuple[int, int | None]] = []
    start = 0
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            while size - start > piece_bytes:
                fh.seek(start + piece_bytes)
                while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass
                end = fh.tell()
                if end >= size:
                    break
                runs.append((start, end))
                start = end
    except OSError:
        pass  # reading the last run says what is wrong
    return runs + [(start, None)]


def read_piece(piece: Piece) -> PieceRead:
    """The articles and problems of one piece of the corpus."""
    if piece.path.suffix.lower() != ".jsonl":
        found, bad = _read_one(piece.path, piece.rel)
        return PieceRead([*bad, *found])
    lines = _Lines()
    items = list(_jsonl_articles(piece.path, piece.rel, lines, piece.start, piece.end))
    return PieceRead(items, lines.read, lines.text)


def _read_here(groups: Iterable[list[Piece]]) -> Iterator[tuple[list[Piece], list[PieceRead]]]:
    for group in groups:
        yield group, [read_piece(p) for p in group]


def iter_corpus(root: Path, files: Iterable[Path] | None = None, known: dict[str, frozenset[str]] | None = None,
                read: Callable[[Iterable[list[Piece]]], Iterable[tuple[list[Piece], list[PieceRead]]]] | None = None,
                ) -> Iterator[Article | BadArticle]:
    """Every readable article (first one wins on a repeated id) and every problem, one at a time in
    reading order: only the ids seen so far are remembered, never the articles.

    ``read``: gives each group of :func:`corpus_pieces` with what its pieces held, in order (a
    build's worker processes); by default they are read here, a group at a time.
    """
    seen: dict[str, str] = {}  # article id: the file it was first read from
    before = 0  # lines of the file's earlier pieces
    text = False
    for group, reads in (read or _read_here)(corpus_pieces(root, files, known)):
        for piece, got in zip(group, reads):
            before, text = (0, False) if piece.start == 0 else (before, text)
            for item in _following(got.items, before):
                yield from _first_of_id(item, seen)
            before += got.lines
            text = text or got.text
            if piece.end is None and not text:
                yield BadArticle(piece.rel, "empty file")


def _following(items: list[Article | BadArticle], before: int) -> Iterator[Article | BadArticle]:
    """``items`` with their line numbers counted from the start of the file, not of their piece."""
    for item in items:
        if before and isinstance(item, BadArticle) and item.line is not None:
            item = BadArticle(item.path, item.problem, item.line + before, kind=item.kind)
        yield item


def _first_of_id(item: Article | BadArticle, seen: dict[str, str]) -> Iterator[Article | BadArticle]:
    """``item``, its warnings, or why it is skipped (an id read before)."""
    if isinstance(item, BadArticle):
        yield item
        return
    for w in item.warnings:
        yield BadArticle(item.path, f"article {item.id!r}: {w}", kind="warning")
    if item.id in seen:
        yield BadArticle(item.path, f"duplicate article id {item.id!r} (also in {seen[item.id]}); skipped",
                         kind="duplicate")
        return
    seen[item.id] = item.path
    yield item


def read_corpus(root: Path, files: Iterable[Path] | None = None) -> tuple[list[Article], list[BadArticle]]:
    """All readable articles (first one wins on a repeated id) and every problem found."""
    return _split_items(iter_corpus(root, files))


def file_hashes(root: Path, problems: list[BadArticle] | None = None) -> dict[str, tuple[Path, str]]:
    """``{relative path: (path, sha256 of its bytes)}`` for every readable article file.

    A file that cannot be read is left out and reported in ``problems``.
    """
    out = {}
    base = root.resolve()
    prefix = len(str(base).rstrip(os.sep)) + 1
    for path in corpus_files(base):
        rel = str(path)[prefix:].replace(os.sep, "/")
        try:
            out[rel] = (path, _sha256(path))
        except OSError as e:
            if problems is not None:
                problems.append(BadArticle(rel, f"cannot read: {e.strerror or e}"))
    return out


def _sha256(path: Path) -> str:
    """A file's hash, read in 1 MB pieces (a JSONL export can be larger than memory should hold)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(hashes: dict[str, tuple[Path, str]], others: Iterable[str] = ()) -> str:
    """One hash over every file's name and bytes (and the names of ``others``, e.g. unsupported
    files): equal fingerprints mean nothing changed."""
    h = hashlib.sha256()
    for rel in sorted(hashes):
        h.update(rel.encode() + b"\0" + hashes[rel][1].encode())
    for rel in sorted(others):
        h.update(b"\1" + rel.encode())
    return h.hexdigest()


def corpus_fingerprint(root: Path) -> str:
    return fingerprint(file_hashes(root))
