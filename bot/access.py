"""Who is talking to the bot: whether a message addresses it, and the allow-list gatekeeper.

The gatekeeper runs before every other handler and fails closed: if the allow-list cannot
be checked, the update is refused (and the error logged) rather than answered.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from telegram import Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot import render
from bot.limits import is_allowed
from bot.sending import quietly, send_html

if TYPE_CHECKING:
    from bot.handlers import Deps

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE
OUR_COMMANDS = frozenset({"start", "help", "ask", "stats"})


def our_command(message: Message, bot_username: str | None) -> bool:
    """True when ``message`` starts with one of our commands, bare or as ``/cmd@our_bot``;
    ``/cmd@otherbot`` and other bots' commands are not ours."""
    text = message.text or ""
    first = message.entities[0] if message.entities else None
    if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return False
    name, _, target = text[1:first.length].partition("@")
    if target and (not bot_username or target.lower() != bot_username.lower()):
        return False
    return name.lower() in OUR_COMMANDS


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


def addresses_bot(message: Message, bot_username: str | None, bot_id: int) -> bool:
    """Whether a refusal is owed: private chats always; in groups only our commands, a mention
    or a reply to the bot (other bots' commands and chatter get silence)."""
    return message.chat.type == ChatType.PRIVATE or our_command(message, bot_username) \
        or addressed_question(message, bot_username, bot_id) is not None


async def _admit(update: Update, context: Context) -> bool:
    """True to let the update through; else refuse it (politely when the bot was addressed)."""
    d: Deps = context.bot_data["deps"]
    s = d.settings
    user, chat = update.effective_user, update.effective_chat
    if is_allowed(s.telegram_allowed_ids, s.telegram_admin_ids, user.id if user else None, chat.id if chat else None):
        return True
    log.info("refused update from user %s in chat %s", user.id if user else None, chat.id if chat else None)
    refusal = render.REFUSED.format(user_id=user.id if user else "?")
    if update.callback_query:
        await quietly(update.callback_query.answer(render.plain(refusal), show_alert=True), "answer a callback")
    elif update.inline_query:
        await quietly(update.inline_query.answer([], cache_time=0, is_personal=True), "answer an inline query")
    elif update.message and chat and addresses_bot(update.message, context.bot.username, context.bot.id):
        await send_html(context.bot, chat.id, refusal, reply_to=update.message.message_id)
    return False


async def gatekeeper(update: Update, context: Context) -> None:
    """Refuse users and chats outside the allow-list, before any other handler runs."""
    try:
        if await _admit(update, context):
            return
    except Exception:  # noqa: BLE001 - fail closed: an update we cannot check is never answered
        log.exception("the allow-list check failed for update %s; refusing it", update.update_id)
    raise ApplicationHandlerStop
