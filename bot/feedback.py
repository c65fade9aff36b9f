"""Questions asked and 👍 / 👎 votes, in their own SQLite file (``settings.feedback_db``).

The file lives beside the index, never inside it, so re-indexing keeps the feedback; and
buttons refer to questions by their row id, so they keep working after a restart. Every
method is blocking: call it with ``asyncio.to_thread``. Each call opens its own connection,
so any thread may use the store.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

SCHEMA = """
create table if not exists questions (
    id integer primary key,
    asked_at text not null,
    user_id integer,
    chat_id integer,
    question text not null,
    found integer not null,
    answer text,
    passage_ids text not null,   -- JSON list, every passage retrieved, best first
    cited_ids text not null      -- JSON list, the passages the answer quotes
);
create table if not exists feedback (
    id integer primary key,
    question_id integer not null references questions(id),
    user_id integer not null,
    vote integer not null check (vote in (-1, 1)),
    voted_at text not null,
    question text not null,
    cited_ids text not null,
    unique (question_id, user_id)
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class FeedbackStore:
    """Questions and votes in one small SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.execute("pragma synchronous=normal")
        return conn

    def setup(self) -> None:
        """Create the file and its tables if needed (WAL, so readers never block the writer)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("pragma journal_mode=wal")
            conn.executescript(SCHEMA)

    def record_question(self, question: str, found: bool, answer: str, passage_ids: Sequence[int],
                        cited_ids: Sequence[int], user_id: int | None = None, chat_id: int | None = None) -> int:
        """Store an answered question; the id goes into its buttons."""
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(
                "insert into questions (asked_at, user_id, chat_id, question, found, answer, passage_ids, cited_ids)"
                " values (?, ?, ?, ?, ?, ?, ?, ?)",
                [_now(), user_id, chat_id, question, int(found), answer,
                 json.dumps(list(passage_ids)), json.dumps(list(cited_ids))])
            return int(cur.lastrowid or 0)

    def question(self, question_id: int) -> dict[str, Any] | None:
        """A stored question, or None."""
        with closing(self._connect()) as conn:
            row = conn.execute("select * from questions where id = ?", [question_id]).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["passage_ids"] = json.loads(out["passage_ids"])
        out["cited_ids"] = json.loads(out["cited_ids"])
        return out

    def vote(self, question_id: int, user_id: int, vote: int, chat_id: int) -> bool:
        """Record (or change) a user's vote on a question asked in ``chat_id``; False when there
        is no such question in that chat (a button from elsewhere, or forged)."""
        if vote not in (-1, 1):
            raise ValueError("vote must be 1 or -1")
        with closing(self._connect()) as conn, conn:
            row = conn.execute("select question, cited_ids from questions where id = ? and chat_id = ?",
                               [question_id, chat_id]).fetchone()
            if row is None:
                return False
            conn.execute(
                "insert into feedback (question_id, user_id, vote, voted_at, question, cited_ids)"
                " values (?, ?, ?, ?, ?, ?) on conflict (question_id, user_id)"
                " do update set vote = excluded.vote, voted_at = excluded.voted_at",
                [question_id, user_id, vote, _now(), row["question"], row["cited_ids"]])
            return True

    def votes(self) -> list[dict[str, Any]]:
        """Every vote with its question and cited passage ids, oldest first."""
        with closing(self._connect()) as conn:
            rows = conn.execute("select * from feedback order by id").fetchall()
        return [dict(r, cited_ids=json.loads(r["cited_ids"])) for r in rows]

    def counts(self) -> dict[str, int]:
        """Questions asked and answered, and votes up and down."""
        with closing(self._connect()) as conn:
            q, answered = conn.execute("select count(*), coalesce(sum(found), 0) from questions").fetchone()
            up, down = conn.execute("select coalesce(sum(vote > 0), 0), coalesce(sum(vote < 0), 0) from feedback").fetchone()
        return {"questions": q, "answered": answered, "up": up, "down": down}
