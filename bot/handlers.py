"""Update handlers: commands, questions, buttons and inline queries.

Each handler is ``async def name(update, context) -> None``. What they share (settings,
engine, feedback store, quota) lives in one :class:`Deps` in ``application.bot_data``;
blocking calls (engine, SQLite) run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from dataclasses import dataclass, field

from telegram import CallbackQuery, InlineQueryResultArticle, InlineQueryResultsButton, InputTextMessageContent, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from bot import callbacks, render
from bot.access import addressed_question
from bot.callbacks import AskExample, MoreResults, OpenPassage, Vote
from bot.feedback import FeedbackStore
from bot.limits import MIN_INLINE_CHARS, Quota, quota_key
from bot.sending import NO_PREVIEW, edit_html, quietly, send_html, send_typing
from bot.split import split_html
from index.engine import Engine
from index.errors import BadQuestion
from index.settings import Settings

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE
# A follow-up ("Where is he from?") is read against the chat's last question for this long.
FOLLOWUP_SECONDS = 15 * 60


@dataclass
class Deps:
    """Everything the handlers need, built once by :func:`bot.app.build_application`."""

    settings: Settings
    engine: Engine
    store: FeedbackStore
    quota: Quota
    inline_quota: Quota
    examples: list[str] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)  # fire-and-forget chat actions


def deps(context: Context) -> Deps:
    return context.bot_data["deps"]


def over_quota(d: Deps, quota: Quota, user_id: int | None, chat_id: int | None) -> float:
    """Count one question against the asker's quota (admins are exempt): 0.0 when allowed,
    else the seconds to wait."""
    if user_id is None or user_id in d.settings.telegram_admin_ids:
        return 0.0
    return quota.take(quota_key(user_id, chat_id))


async def respond(context: Context, chat_id: int, user_id: int | None, question: str,
                  reply_to: int | None = None) -> None:
    """Answer ``question`` in ``chat_id``: typing, the engine in a thread, one HTML reply with buttons."""
    d = deps(context)
    try:
        d.engine.check_question(question)  # cheap and pure: a rejected question costs no quota
    except BadQuestion as e:
        await send_html(context.bot, chat_id, render.esc(f"Sorry, {e}."), reply_to=reply_to)
        return
    wait = over_quota(d, d.quota, user_id, chat_id)
    if wait > 0:
        html = render.quota_html(d.settings.telegram_user_quota, d.settings.telegram_quota_window, wait)
        await send_html(context.bot, chat_id, html, reply_to=reply_to)
        return
    send_typing(context.bot, chat_id, d.tasks)  # never awaited: the answer must not wait on it
    await asyncio.sleep(0)  # let the typing request start first
    previous = last_question(context, chat_id)
    try:
        result = await asyncio.to_thread(d.engine.ask, question, d.settings.top_k, previous)
    except BadQuestion as e:
        await send_html(context.bot, chat_id, render.esc(f"Sorry, {e}."), reply_to=reply_to)
        return
    remember_question(context, chat_id, result.resolved or question)
    qid = None
    if result.found:
        qid = await asyncio.to_thread(
            d.store.record_question, result.resolved or question, result.found, result.answer,
            [c.passage_id for c in result.citations], [c.passage_id for c in result.citations if c.cited],
            user_id, chat_id)
    markup = callbacks.answer_keyboard(result, qid, len(result.citations)) if result.found else None
    await send_html(context.bot, chat_id, render.answer_html(result), markup=markup, reply_to=reply_to)


def last_question(context: Context, chat_id: int) -> str | None:
    """The chat's previous question, if it was asked recently enough to be followed up."""
    chats = context.bot_data.setdefault("last_questions", {})
    entry = chats.get(chat_id)
    if entry and time.monotonic() - entry[1] <= FOLLOWUP_SECONDS:
        return entry[0]
    chats.pop(chat_id, None)
    return None


def remember_question(context: Context, chat_id: int, question: str) -> None:
    """Keep one question per chat (in memory: a restart forgets, which only costs a follow-up)."""
    chats = context.bot_data.setdefault("last_questions", {})
    now = time.monotonic()
    if len(chats) > 10_000:  # forget chats that went quiet, so the map stays small
        for cid in [c for c, (_, at) in chats.items() if now - at > FOLLOWUP_SECONDS]:
            del chats[cid]
    chats[chat_id] = (question, now)


async def start(update: Update, context: Context) -> None:
    """/start and /help: what the bot knows, with example questions to tap."""
    d = deps(context)
    stats = await asyncio.to_thread(d.engine.stats)
    await send_html(context.bot, update.effective_chat.id, render.help_html(stats, context.bot.username),
                    markup=callbacks.examples_keyboard(d.examples))


async def ask_command(update: Update, context: Context) -> None:
    """/ask QUESTION, the way to ask in a group without mentioning the bot."""
    msg = update.effective_message
    question = " ".join(context.args or [])
    if not question.strip():
        example = deps(context).examples[0] if deps(context).examples else "Who was detained in Moscow?"
        await send_html(context.bot, msg.chat.id, render.ASK_USAGE.format(example=render.esc(example)),
                        reply_to=msg.message_id)
        return
    await respond(context, msg.chat.id, update.effective_user.id if update.effective_user else None,
                  question, reply_to=msg.message_id if msg.chat.type != ChatType.PRIVATE else None)


async def text_message(update: Update, context: Context) -> None:
    """A question typed as text (in a group only when the bot is addressed)."""
    msg = update.message
    question = addressed_question(msg, context.bot.username, context.bot.id)
    if question is None:
        return
    private = msg.chat.type == ChatType.PRIVATE
    await respond(context, msg.chat.id, msg.from_user.id if msg.from_user else None, question,
                  reply_to=None if private else msg.message_id)


async def attachment_message(update: Update, context: Context) -> None:
    """Photos, stickers, voice notes, files: explain that the bot reads text."""
    await send_html(context.bot, update.message.chat.id, render.TEXT_ONLY)


async def stats_command(update: Update, context: Context) -> None:
    """/stats for admins: the index and the feedback so far."""
    d = deps(context)
    chat = update.effective_chat
    if not update.effective_user or update.effective_user.id not in d.settings.telegram_admin_ids:
        await send_html(context.bot, chat.id, render.ADMIN_ONLY)
        return
    stats, counts = await asyncio.gather(asyncio.to_thread(d.engine.stats), asyncio.to_thread(d.store.counts))
    await send_html(context.bot, chat.id, render.stats_html(stats, counts))


async def refuse_button(query: CallbackQuery) -> None:
    """The answer to a button we cannot honour: stale, from another chat, or forged."""
    await quietly(query.answer(render.BUTTON_GONE), "answer a callback")


async def _decoded(query: Any, kind: type) -> Any:
    """The button's action if it is of ``kind`` and has its message; else refuse it and return None."""
    action = callbacks.decode(query.data)
    if isinstance(action, kind) and query.message:
        return action
    await refuse_button(query)
    return None


async def example_button(update: Update, context: Context) -> None:
    """An example question tapped under /start."""
    query = update.callback_query
    action = await _decoded(query, AskExample)
    if action is None:
        return
    await quietly(query.answer(), "answer a callback")
    await respond(context, query.message.chat.id, query.from_user.id, action.question)


async def passage_button(update: Update, context: Context) -> None:
    """Open a cited passage in context, or say politely that it changed since."""
    query = update.callback_query
    action = await _decoded(query, OpenPassage)
    if action is None:
        return
    await quietly(query.answer(), "answer a callback")
    passage = await asyncio.to_thread(deps(context).engine.passage, action.passage_id)
    if passage is None or callbacks.checksum(passage["text"]) != action.check:
        html = render.SOURCE_GONE
    else:
        html = render.passage_html(passage, action.spans, action.n)
    await send_html(context.bot, query.message.chat.id, html, reply_to=query.message.message_id)


async def more_button(update: Update, context: Context) -> None:
    """A page of further passages; Previous / Next edit that page in place. Only in the chat
    where the question was asked: question ids are guessable, the questions are private."""
    query = update.callback_query
    action = callbacks.decode(query.data)
    d = deps(context)
    stored = None
    if isinstance(action, MoreResults) and query.message:
        stored = await asyncio.to_thread(d.store.question, action.question_id)
    if stored is None or stored["chat_id"] != query.message.chat.id:
        await refuse_button(query)
        return
    await quietly(query.answer(), "answer a callback")
    chat_id = query.message.chat.id
    hits = await asyncio.to_thread(d.engine.search, stored["question"], callbacks.PAGE_SIZE, action.offset)
    html = render.results_html(stored["question"], hits, action.offset)
    markup = callbacks.results_keyboard(hits, action.question_id, action.offset, len(stored["passage_ids"]))
    if action.edit and await edit_html(context.bot, chat_id, query.message.message_id, html, markup):
        return
    await send_html(context.bot, chat_id, html, markup=markup, reply_to=query.message.message_id)


async def vote_button(update: Update, context: Context) -> None:
    """👍 / 👎: stored with the question and its cited passages (only from the question's chat)."""
    query = update.callback_query
    action = callbacks.decode(query.data)
    ok = False
    if isinstance(action, Vote) and query.message:
        ok = await asyncio.to_thread(deps(context).store.vote, action.question_id, query.from_user.id,
                                     action.vote, query.message.chat.id)
    if not ok:
        await refuse_button(query)
        return
    await quietly(query.answer("Thanks for the feedback!"), "answer a callback")
    markup = query.message.reply_markup
    if markup:
        rows = [list(r) for r in markup.inline_keyboard]
        for row in rows:
            for i, b in enumerate(row):
                vote = callbacks.decode(b.callback_data if isinstance(b.callback_data, str) else None)
                if isinstance(vote, Vote):
                    mark = " ✓" if vote.vote == action.vote else ""
                    row[i] = type(b)(("👍" if vote.vote > 0 else "👎") + mark, callback_data=b.callback_data)
        await quietly(query.edit_message_reply_markup(type(markup)(rows)), "mark the vote")


async def unknown_button(update: Update, context: Context) -> None:
    """A button from an older version of the bot."""
    await refuse_button(update.callback_query)


async def answer_inline(update: Update, results: list[InlineQueryResultArticle], cache_time: int,
                        hint: str | None = None, start: str = "help") -> None:
    """Answer an inline query for this user only (with an allow-list, results must not be shared)."""
    button = InlineQueryResultsButton(hint[:64], start_parameter=start) if hint else None
    await quietly(update.inline_query.answer(results, cache_time=cache_time, is_personal=True, button=button),
                  "answer an inline query")


async def inline_query(update: Update, context: Context) -> None:
    """``@bot question`` in any chat: the answer, then each quoted source, ready to post."""
    query = update.inline_query
    d = deps(context)
    text = query.query.strip()
    if len(text) < MIN_INLINE_CHARS:  # not looked up, not counted: inline queries come per keystroke
        await answer_inline(update, [], 300, "Type a question about the news", start="inline")
        return
    try:
        d.engine.check_question(text)
    except BadQuestion as e:
        await answer_inline(update, [], 5, str(e))
        return
    wait = over_quota(d, d.inline_quota, query.from_user.id, None)
    if wait > 0:
        await answer_inline(update, [], 0, f"Too many questions: try again in {max(1, round(wait))} s")
        return
    try:
        result = await asyncio.to_thread(d.engine.ask, text, d.settings.top_k)
    except BadQuestion as e:
        await answer_inline(update, [], 5, str(e))
        return
    if not result.found:
        await answer_inline(update, [], 30, "Nothing found: try other words")
        return
    answer = split_html(render.answer_html(result))[0]
    results = [InlineQueryResultArticle(
        "answer", "Answer with sources", InputTextMessageContent(answer, ParseMode.HTML, link_preview_options=NO_PREVIEW),
        description=render.plain(render.esc(result.answer))[:200])]
    for c in (c for c in result.citations if c.cited):
        results.append(InlineQueryResultArticle(
            f"c{c.n}", f"[{c.n}] {c.title}"[:200],
            InputTextMessageContent(split_html(render.quote_html(result, c))[0], ParseMode.HTML,
                                    link_preview_options=NO_PREVIEW),
            description=render.snippet(" … ".join(c.text[s:e] for s, e in c.highlights), 200)))
    await answer_inline(update, results, 60)


async def on_error(update: object, context: Context) -> None:
    """Log the traceback; tell the user, briefly, that something went wrong."""
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    if update.callback_query:
        await quietly(update.callback_query.answer(render.APOLOGY), "answer a callback")
    elif update.effective_message and update.effective_chat and not update.inline_query:
        await quietly(context.bot.send_message(update.effective_chat.id, render.APOLOGY), "apologise")
