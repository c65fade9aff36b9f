"""Careful sending: long replies split, network errors retried, cosmetic calls never fatal.

``AIORateLimiter(max_retries=...)`` already waits out ``RetryAfter``; here a timed-out or
dropped connection is retried with a short back-off instead of losing the answer, and HTML
Telegram refuses is re-sent as plain text rather than not at all.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, TypeVar

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter

from bot.render import plain
from bot.split import split_html

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 4
BACKOFF = 0.5
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_TIMEOUT = 5.0
COSMETIC_ENDPOINTS = frozenset({"sendChatAction"})


class RateLimiter(AIORateLimiter):
    """PTB's limiter, except for chat actions: one try, never a flood wait. ``AIORateLimiter``
    holds back *every* request while it waits out a 429, so a throttled "typing" would delay
    the very answer it announces."""

    async def process_request(self, callback: Callable[..., Any], args: Any, kwargs: dict[str, Any],
                              endpoint: str, data: dict[str, Any], rate_limit_args: int | None) -> Any:
        if endpoint in COSMETIC_ENDPOINTS:
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def send_typing(bot: Bot, chat_id: int, tasks: set[asyncio.Task[None]]) -> None:
    """Show "typing…" in ``chat_id`` without waiting for it: the answer never waits on a
    cosmetic call. ``tasks`` keeps the running task referenced until it ends."""

    async def typing() -> None:
        try:
            await asyncio.wait_for(bot.send_chat_action(chat_id, ChatAction.TYPING), TYPING_TIMEOUT)
        except (TelegramError, asyncio.TimeoutError) as e:
            log.debug("could not send typing to chat %s: %s", chat_id, e)

    task = asyncio.create_task(typing())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
    """``call()``, retried on network errors and flood waits; other errors are raised."""
    for i in range(attempts):
        try:
            return await call()
        except RetryAfter as e:
            if i == attempts - 1:
                raise
            await asyncio.sleep(e.retry_after if isinstance(e.retry_after, (int, float)) else e.retry_after.total_seconds())
        except BadRequest:
            raise
        except NetworkError as e:  # includes TimedOut; BadRequest is handled above
            if i == attempts - 1:
                raise
            log.warning("network error talking to Telegram (%s); retrying", e)
            await asyncio.sleep(BACKOFF * 2**i)
    raise AssertionError("unreachable")


async def quietly(call: Awaitable[Any], what: str) -> Any:
    """Await a cosmetic call (chat action, callback answer, edit); a failure is only logged."""
    try:
        return await call
    except TelegramError as e:
        log.info("could not %s: %s", what, e)
        return None


async def send_html(bot: Bot, chat_id: int, html: str, *, markup: InlineKeyboardMarkup | None = None,
                    reply_to: int | None = None) -> Message | None:
    """Send ``html`` as one or more messages (the keyboard goes under the last); the last message,
    or None when the user has blocked the bot."""
    chunks = split_html(html)
    last = None
    for i, chunk in enumerate(chunks):
        kwargs: dict[str, Any] = {
            "reply_markup": markup if i == len(chunks) - 1 else None,
            "reply_parameters": ReplyParameters(reply_to, allow_sending_without_reply=True)
            if reply_to and i == 0 else None,
            "link_preview_options": NO_PREVIEW,
        }
        try:
            try:
                last = await retrying(lambda: bot.send_message(chat_id, chunk, parse_mode=ParseMode.HTML, **kwargs))
            except BadRequest as e:
                if "entities" not in str(e).lower() and "tag" not in str(e).lower():
                    raise
                log.error("Telegram refused our HTML (%s); sending plain text instead", e)
                last = await retrying(lambda: bot.send_message(chat_id, plain(chunk), **kwargs))
        except Forbidden as e:
            log.info("chat %s does not accept messages from the bot: %s", chat_id, e)
            return None
    return last


async def edit_html(bot: Bot, chat_id: int, message_id: int, html: str,
                    markup: InlineKeyboardMarkup | None = None) -> bool:
    """Replace a message's text (first chunk only); False when Telegram would not edit it."""
    chunk = split_html(html)[0]
    try:
        await retrying(lambda: bot.edit_message_text(chunk, chat_id=chat_id, message_id=message_id,
                                                     parse_mode=ParseMode.HTML, reply_markup=markup,
                                                     link_preview_options=NO_PREVIEW))
        return True
    except TelegramError as e:
        if "not modified" in str(e).lower():
            return True
        log.info("could not edit message %s in chat %s: %s", message_id, chat_id, e)
        return False
