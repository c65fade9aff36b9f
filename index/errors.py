"""Named errors a user can cause, each with a message that says what to do."""

from __future__ import annotations


class NewsQAError(Exception):
    """Base class: the message is meant to be shown to the user as it is."""


class BadQuestion(NewsQAError):
    """The question is empty, too long or has no words in it."""


class BadArticle(NewsQAError):
    """An article file (or one line of it) cannot be read; the rest of the corpus still indexes."""

    def __init__(self, path: str, problem: str, line: int | None = None, kind: str | None = None) -> None:
        self.path = path
        self.problem = problem
        self.line = line
        # "file": nothing in it could be read; "line": one JSONL line; "duplicate": an id seen before.
        self.kind = kind or ("line" if line is not None else "file")
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


class IndexMissing(NewsQAError):
    """No index has been built in the data directory yet."""


class IndexMismatch(NewsQAError):
    """The index was built with another embedding model or by an incompatible version."""


class IndexDamaged(IndexMismatch):
    """The index files cannot be read (truncated, deleted or corrupted on disk)."""


class IndexBusy(NewsQAError):
    """Another process is writing the index right now."""


class ModelUnavailable(NewsQAError):
    """The configured embedding model cannot be loaded on this machine."""


class TooManyRemovals(NewsQAError):
    """A change would drop more of the index than NEWSQA_MAX_REMOVE_SHARE allows (an empty or wrong folder?)."""

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report
