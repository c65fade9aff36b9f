"""Who may use the bot and how often: the allow-list and the per-user question quota."""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

# Messages from these "users" speak for a whole chat: an anonymous group admin
# (@GroupAnonymousBot) or the channel linked to a group (Telegram's service account).
SHARED_SENDERS = frozenset({1087968824, 777000})
INLINE_QUOTA_FACTOR = 5  # inline mode asks as the user types, so it gets a larger allowance
MIN_INLINE_CHARS = 3  # shorter inline queries are not looked up (and not counted)


def is_allowed(allowed: frozenset[int], admins: frozenset[int], user_id: int | None, chat_id: int | None) -> bool:
    """Everyone when the allow-list is empty; otherwise listed users, listed chats and admins."""
    if not allowed:
        return True
    return any(i is not None and (i in allowed or i in admins) for i in (user_id, chat_id))


def quota_key(user_id: int, chat_id: int | None) -> int:
    """Whose quota a question uses: the user's, or the chat's when the sender is shared."""
    return chat_id if user_id in SHARED_SENDERS and chat_id is not None else user_id


class Quota:
    """At most ``limit`` questions per ``window`` seconds per user (a sliding window).

    Kept in memory on purpose: a restart forgiving everyone's quota is harmless."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the quota needs a limit of at least 1 and a positive window")
        self.limit = limit
        self.window = window
        self.clock = clock
        self._asked: dict[int, deque[float]] = {}

    def take(self, user_id: int) -> float:
        """Count one question; 0.0 when allowed, else the seconds until the user may ask again."""
        now = self.clock()
        times = self._asked.setdefault(user_id, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return self.window - (now - times[0])
        times.append(now)
        if len(self._asked) > 10_000:
            self._forget_idle(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        for uid in [u for u, t in self._asked.items() if not t or now - t[-1] >= self.window]:
            del self._asked[uid]
