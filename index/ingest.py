"""Read articles from ``.txt``, ``.md`` (optional YAML front matter) and ``.jsonl`` files.

A file that cannot be read is reported as a :class:`BadArticle` (with its line for JSONL)
and skipped; every other article still indexes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from index.cleaning import clean_body, normalise_newlines, parse_plain
from index.dates import PartialDate, parse_iso_or_text
from index.errors import BadArticle

log = logging.getLogger(__name__)

SUPPORTED = (".txt", ".md", ".jsonl", ".html", ".htm")
MAX_FILE_BYTES = 50_000_000
MAX_ARTICLE_CHARS = 2_000_000
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


def _checked(article: Article, rel: str, line: int | None = None) -> Article:
    if not article.text.strip():
        raise BadArticle(rel, "no article text after removing boilerplate", line)
    if len(article.text) > MAX_ARTICLE_CHARS:
        raise BadArticle(rel, f"article longer than {MAX_ARTICLE_CHARS:,} characters; split it", line)
    if not re.fullmatch(r"[\w.\-]{1,200}", article.id):
        raise BadArticle(rel, f"article id {article.id!r} must be 1-200 letters, digits, '.', '_' or '-'", line)
    return article


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
    date = parse_iso_or_text(meta.get("published") or meta.get("date")) or parsed.date
    published, date_text = _date_fields(date)
    return _checked(
        Article(
            id=_opt(meta.get("id")) or article_id, path=rel, title=_opt(title) or article_id,
            text=body, source=_opt(meta.get("source")) or parsed.source, published=published,
            date_text=date_text, place=parsed.place, url=_opt(meta.get("url")),
        ),
        rel,
    )


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


def read_jsonl(text: str, rel: str) -> tuple[list[Article], list[BadArticle]]:
    """One JSON object per line with ``id``, ``title``, ``text`` and optional metadata."""
    articles: list[Article] = []
    problems: list[BadArticle] = []
    for n, line in enumerate(normalise_newlines(text).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(BadArticle(rel, f"not valid JSON ({e.msg} at column {e.colno})", n))
            continue
        if not isinstance(obj, dict):
            problems.append(BadArticle(rel, "expected a JSON object with id, title and text", n))
            continue
        missing = [k for k in ("id", "text") if not obj.get(k) or not str(obj[k]).strip()]
        if missing:
            problems.append(BadArticle(rel, f"missing {' and '.join(repr(k) for k in missing)}", n))
            continue
        try:
            body = clean_body(str(obj["text"]))
            date = parse_iso_or_text(obj.get("published"))
            published, date_text = _date_fields(date)
            title = _opt(obj.get("title")) or parse_plain(str(obj["text"])).title or str(obj["id"])
            articles.append(
                _checked(
                    Article(
                        id=str(obj["id"]).strip(), path=rel, title=title, text=body,
                        source=_opt(obj.get("source")), published=published, date_text=date_text,
                        url=_opt(obj.get("url")),
                    ),
                    rel,
                    n,
                )
            )
        except BadArticle as e:
            problems.append(BadArticle(rel, e.problem, n))
    return articles, problems


def read_file(path: Path, root: Path) -> tuple[list[Article], list[BadArticle]]:
    """Articles in one file, and what was wrong with it."""
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadArticle(rel, f"file larger than {MAX_FILE_BYTES // 1_000_000} MB")
        data = path.read_bytes()
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            if b"\x00" in data[:8192]:
                raise BadArticle(rel, "binary file (contains NUL bytes); expected an HTML page")
            if not data.strip():
                raise BadArticle(rel, "empty file")
            return [read_html(data, path.stem, rel)], []
        text = _decode(path, data, rel)
        if suffix == ".jsonl":
            return read_jsonl(text, rel)
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


def read_corpus(root: Path, files: Iterable[Path] | None = None) -> tuple[list[Article], list[BadArticle]]:
    """All readable articles (first one wins on a repeated id) and every problem found."""
    articles: dict[str, Article] = {}
    problems: list[BadArticle] = []
    for path in files if files is not None else corpus_files(root):
        found, bad = read_file(path, root)
        problems.extend(bad)
        for article in found:
            if article.id in articles:
                problems.append(BadArticle(
                    article.path, f"duplicate article id {article.id!r} (also in {articles[article.id].path}); skipped",
                    kind="duplicate"))
                continue
            articles[article.id] = article
    return list(articles.values()), problems


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
            out[rel] = (path, hashlib.sha256(path.read_bytes()).hexdigest())
        except OSError as e:
            if problems is not None:
                problems.append(BadArticle(rel, f"cannot read: {e.strerror or e}"))
    return out


def fingerprint(hashes: dict[str, tuple[Path, str]]) -> str:
    """One hash over every file's name and bytes: equal fingerprints mean nothing changed."""
    h = hashlib.sha256()
    for rel in sorted(hashes):
        h.update(rel.encode() + b"\0" + hashes[rel][1].encode())
    return h.hexdigest()


def corpus_fingerprint(root: Path) -> str:
    return fingerprint(file_hashes(root))
