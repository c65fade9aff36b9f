"""Update handlers: commands, questions, buttons and inline queries.

Each handler is ``async def name(update, context) -> None``. What they share (settings,
engine, feedback store, quota) lives in one :class:`Deps` in ``application.bot_data``;
blocking calls (engine, SQLite) run in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from telegram import (InlineQueryResultArticle, InlineQueryResultsButton, InputTextMessageContent, Message, Update)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import callbacks, render
from bot.callbacks import AskExample, MoreResults, OpenPassage, Vote
from bot.feedback import FeedbackStore
from bot.limits import Quota, is_allowed
from bot.sending import NO_PREVIEW, edit_html, quietly, send_html
from bot.split import split_html
from index.engine import Engine
from index.errors import BadQuestion
from index.settings import Settings

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE


@dataclass
class Deps:
    """Everything the handlers need, built once by :func:`bot.app.build_application`."""

    settings: Settings
    engine: Engine
    store: FeedbackStore
    quota: Quota
    examples: list[str] = field(default_factory=list)


def deps(context: Context) -> Deps:
    return context.bot_data["deps"]


def addressed_question(message: Message, bot_username: str | None, bot_id: int) -> str | None:
    """The question in ``message`` if it is meant for the bot: any text in a private chat; in a
    group, a reply to the bot or a text mentioning it (the mention removed)."""
    text = message.text or ""
    if message.via_bot and message.via_bot.id == bot_id:
        return None  # an answer posted through our own inline mode
    if message.chat.type == ChatType.PRIVATE:
        return text
    mention = f"@{bot_username}".lower() if bot_username else None
    mentioned = mention is not None and any(
        e.type == "mention" and message.parse_entity(e).lower() == mention for e in message.entities)
    replied = message.reply_to_message is not None and message.reply_to_message.from_user is not None \
        and message.reply_to_message.from_user.id == bot_id
    if not (mentioned or replied):
        return None
    if mentioned and mention:
        low = text.lower()
        at = low.find(mention)
        text = (text[:at] + text[at + len(mention):]) if at >= 0 else text
    return text.strip(" ,:")


async def respond(context: Context, chat_id: int, user_id: int | None, question: str,
                  reply_to: int | None = None) -> None:
    """Answer ``question`` in ``chat_id``: typing, the engine in a thread, one HTML reply with buttons."""
    d = deps(context)
    if user_id is not None and user_id not in d.settings.telegram_admin_ids:
        wait = d.quota.take(user_id)
        if wait > 0:
            html = render.quota_html(d.settings.telegram_user_quota, d.settings.telegram_quota_window, wait)
            await send_html(context.bot, chat_id, html, reply_to=reply_to)
            return
    # The typing action travels while the engine works; it is awaited so it never lands after the answer.
    typing = asyncio.create_task(quietly(context.bot.send_chat_action(chat_id, ChatAction.TYPING), "send typing"))
    try:
        result = await asyncio.to_thread(d.engine.ask, question, d.settings.top_k)
    except BadQuestion as e:
        await typing
        await send_html(context.bot, chat_id, render.esc(f"Sorry, {e}."), reply_to=reply_to)
        return
    qid = None
    if result.found:
        qid = await asyncio.to_thread(
            d.store.record_question, question, result.found, result.answer,
            [c.passage_id for c in result.citations], [c.passage_id for c in result.citations if c.cited],
            user_id, chat_id)
    markup = callbacks.answer_keyboard(result, qid, len(result.citations)) if result.found else None
    await typing
    await send_html(context.bot, chat_id, render.answer_html(result), markup=markup, reply_to=reply_to)


async def gatekeeper(update: Update, context: Context) -> None:
    """Refuse users and chats outside the allow-list, before any other handler runs."""
    s = deps(context).settings
    user, chat = update.effective_user, update.effective_chat
    if is_allowed(s.telegram_allowed_ids, s.telegram_admin_ids, user.id if user else None, chat.id if chat else None):
        return
    log.info("refused update from user %s in chat %s", user.id if user else None, chat.id if chat else None)
    refusal = render.REFUSED.format(user_id=user.id if user else "?")
    if update.callback_query:
        await quietly(update.callback_query.answer(render.plain(refusal), show_alert=True), "answer a callback")
    elif update.inline_query:
        await quietly(update.inline_query.answer([], cache_time=0, is_personal=True), "answer an inline query")
    elif update.message and chat and (chat.type == ChatType.PRIVATE or (update.message.text or "").startswith("/")
                                      or addressed_question(update.message, context.bot.username, context.bot.id)):
        await send_html(context.bot, chat.id, refusal, reply_to=update.message.message_id)
    raise ApplicationHandlerStop


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


async def example_button(update: Update, context: Context) -> None:
    """An example question tapped under /start."""
    query = update.callback_query
    action = callbacks.decode(query.data)
    await quietly(query.answer(), "answer a callback")
    if isinstance(action, AskExample) and query.message:
        await respond(context, query.message.chat.id, query.from_user.id, action.question)


async def passage_button(update: Update, context: Context) -> None:
    """Open a cited passage in context, or say politely that it changed since."""
    query = update.callback_query
    action = callbacks.decode(query.data)
    await quietly(query.answer(), "answer a callback")
    if not isinstance(action, OpenPassage) or not query.message:
        return
    passage = await asyncio.to_thread(deps(context).engine.passage, action.passage_id)
    if passage is None or callbacks.checksum(passage["text"]) != action.check:
        html = render.SOURCE_GONE
    else:
        html = render.passage_html(passage, action.spans, action.n)
    await send_html(context.bot, query.message.chat.id, html, reply_to=query.message.message_id)


async def more_button(update: Update, context: Context) -> None:
    """A page of further passages; Previous / Next edit that page in place."""
    query = update.callback_query
    action = callbacks.decode(query.data)
    await quietly(query.answer(), "answer a callback")
    if not isinstance(action, MoreResults) or not query.message:
        return
    d = deps(context)
    chat_id = query.message.chat.id
    stored = await asyncio.to_thread(d.store.question, action.question_id)
    if stored is None:
        await send_html(context.bot, chat_id, render.SOURCE_GONE)
        return
    hits = await asyncio.to_thread(d.engine.search, stored["question"], callbacks.PAGE_SIZE, action.offset)
    html = render.results_html(stored["question"], hits, action.offset)
    markup = callbacks.results_keyboard(hits, action.question_id, action.offset, len(stored["passage_ids"]))
    if action.edit and await edit_html(context.bot, chat_id, query.message.message_id, html, markup):
        return
    await send_html(context.bot, chat_id, html, markup=markup, reply_to=query.message.message_id)


async def vote_button(update: Update, context: Context) -> None:
    """👍 / 👎: stored with the question and its cited passages."""
    query = update.callback_query
    action = callbacks.decode(query.data)
    if not isinstance(action, Vote):
        await quietly(query.answer(), "answer a callback")
        return
    ok = await asyncio.to_thread(deps(context).store.vote, action.question_id, query.from_user.id, action.vote)
    await quietly(query.answer("Thanks for the feedback!" if ok else "This question is no longer on record."),
                  "answer a callback")
    markup = query.message.reply_markup if query.message else None
    if ok and markup and query.message:
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
    await quietly(update.callback_query.answer("This button no longer works; please ask again."),
                  "answer a callback")


async def inline_query(update: Update, context: Context) -> None:
    """``@bot question`` in any chat: the answer, then each quoted source, ready to post."""
    query = update.inline_query
    text = query.query.strip()
    if not text:
        button = InlineQueryResultsButton("Type a question about the news", start_parameter="inline")
        await quietly(query.answer([], cache_time=300, button=button), "answer an inline query")
        return
    try:
        result = await asyncio.to_thread(deps(context).engine.ask, text, deps(context).settings.top_k)
    except BadQuestion as e:
        await quietly(query.answer([], cache_time=5, button=InlineQueryResultsButton(
            str(e)[:64], start_parameter="help")), "answer an inline query")
        return
    if not result.found:
        button = InlineQueryResultsButton("Nothing found: try other words", start_parameter="help")
        await quietly(query.answer([], cache_time=30, button=button), "answer an inline query")
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
    await quietly(query.answer(results, cache_time=60), "answer an inline query")


async def on_error(update: object, context: Context) -> None:
    """Log the traceback; tell the user, briefly, that something went wrong."""
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    if update.callback_query:
        await quietly(update.callback_query.answer(render.APOLOGY), "answer a callback")
    elif update.effective_message and update.effective_chat and not update.inline_query:
        await quietly(context.bot.send_message(update.effective_chat.id, render.APOLOGY), "apologise")
