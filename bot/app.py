"""Build and run the Telegram application: one builder call, the handlers, polling or a webhook.

Example:
    from bot.app import run_bot
    run_bot(settings, open_engine(settings))
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import time
from importlib import resources
from typing import Any
from urllib.parse import urlparse

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.error import Conflict, InvalidToken, NetworkError
from telegram.ext import (Application, ApplicationBuilder, CallbackQueryHandler, CommandHandler,
                          InlineQueryHandler, MessageHandler, TypeHandler, filters)

from bot import access, handlers
from bot.feedback import FeedbackStore
from bot.limits import INLINE_QUOTA_FACTOR, Quota
from bot.sending import RateLimiter, quietly
from index.engine import Engine
from index.errors import NewsQAError
from index.settings import Settings

log = logging.getLogger(__name__)
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.INLINE_QUERY]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
COMMANDS = [BotCommand("start", "What I know, with example questions"),
            BotCommand("help", "How to ask"),
            BotCommand("ask", "Ask a question (in groups)")]
ADMIN_COMMANDS = COMMANDS + [BotCommand("stats", "Index and feedback figures")]
RATE_LIMIT_RETRIES = 3
STARTUP_BACKOFF = (1, 2, 4, 8, 15, 30, 60)  # seconds between tries to reach Telegram at start-up


class RedactToken(logging.Filter):
    """Replace the bot token in any log line (it is part of every Bot API URL), tracebacks
    included: python-telegram-bot puts the token in the text of ``InvalidToken``."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def redact(self, text: str) -> str:
        return text.replace(self.token, "<token>")

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            # Formatters reuse a pre-set exc_text instead of formatting the exception again.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info and self.token in record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def quiet_http_logs(token: str | None) -> None:
    """httpx logs every URL (token included) at INFO: keep it and httpcore at WARNING; and
    python-telegram-bot logs its API URL at DEBUG, so the root handlers redact the token."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if token:
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, RedactToken) and f.token == token for f in handler.filters):
                handler.addFilter(RedactToken(token))


def load_examples() -> list[str]:
    """Example questions shown by /start (bot/examples.json)."""
    return list(json.loads(resources.files("bot").joinpath("examples.json").read_text(encoding="utf-8")))


def file_url(base_url: str) -> str:
    """The file-download URL that goes with a Bot API ``base_url`` (``…/bot`` → ``…/file/bot``)."""
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("/bot") else base_url


async def on_startup(app: Application) -> None:
    """Create the feedback tables and publish the command menus (admins also see /stats)."""
    d: handlers.Deps = app.bot_data["deps"]
    await asyncio.to_thread(d.store.setup)
    await quietly(app.bot.set_my_commands(COMMANDS), "set the command menu")
    for admin in sorted(d.settings.telegram_admin_ids):
        await quietly(app.bot.set_my_commands(ADMIN_COMMANDS, scope=BotCommandScopeChat(admin)),
                      f"set the admin command menu for {admin}")
    log.info("NewsQA bot @%s is up", app.bot.username)


async def on_shutdown(app: Application) -> None:
    """Say goodbye in the log (the feedback store holds no open connection)."""
    log.info("NewsQA bot stopped")


def build_application(settings: Settings, engine: Engine) -> Application:
    """The bot, ready to run: handlers, error handler, rate limiter, concurrent updates."""
    if not settings.telegram_bot_token:
        raise NewsQAError("TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather and put it in .env")
    app = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(file_url(settings.telegram_base_url))
        .concurrent_updates(True)
        .rate_limiter(RateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .post_init(on_startup)
        .post_shutdown(on_shutdown)
        .build()
    )
    app.bot_data["deps"] = handlers.Deps(
        settings=settings, engine=engine, store=FeedbackStore(settings.feedback_db),
        quota=Quota(settings.telegram_user_quota, settings.telegram_quota_window),
        inline_quota=Quota(settings.telegram_user_quota * INLINE_QUOTA_FACTOR, settings.telegram_quota_window),
        examples=load_examples())
    new = filters.UpdateType.MESSAGE  # edited messages are ignored
    app.add_handler(TypeHandler(Update, access.gatekeeper), group=-1)
    app.add_handler(CommandHandler(["start", "help"], handlers.start, filters=new))
    app.add_handler(CommandHandler("ask", handlers.ask_command, filters=new))
    app.add_handler(CommandHandler("stats", handlers.stats_command, filters=new))
    app.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, handlers.text_message))
    app.add_handler(MessageHandler(new & filters.ChatType.PRIVATE & (filters.ATTACHMENT | filters.Sticker.ALL),
                                   handlers.attachment_message))
    app.add_handler(CallbackQueryHandler(handlers.example_button, pattern=r"^q:"))
    app.add_handler(CallbackQueryHandler(handlers.passage_button, pattern=r"^p:"))
    app.add_handler(CallbackQueryHandler(handlers.more_button, pattern=r"^[mn]:"))
    app.add_handler(CallbackQueryHandler(handlers.vote_button, pattern=r"^f:"))
    app.add_handler(CallbackQueryHandler(handlers.unknown_button))
    app.add_handler(InlineQueryHandler(handlers.inline_query))
    app.add_error_handler(handlers.on_error)
    return app


def startup_error(error: Exception, token: str) -> NewsQAError:
    """One line for the CLI about why the bot could not start (never with the token in it)."""
    if isinstance(error, InvalidToken):
        return NewsQAError("Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather")
    if isinstance(error, Conflict):
        return NewsQAError("another process is already polling with this TELEGRAM_BOT_TOKEN; stop it first")
    text = str(error).replace(token, "<token>") if token else str(error)
    return NewsQAError(f"could not reach the Telegram Bot API ({text}); check the network and TELEGRAM_BASE_URL")


def wait_for_telegram(settings: Settings, attempts: int | None = None, sleep: Any = time.sleep) -> None:
    """Return once the Bot API answers; while it cannot be reached, one log line per try and a growing pause.

    A network that comes up after the bot (boot order, a flaky link) must not need a restart;
    a token Telegram rejects is not retried. ``attempts``: give up after that many (None: never).
    """
    token = settings.telegram_bot_token or ""

    async def probe() -> None:
        async with Bot(token, base_url=settings.telegram_base_url,
                       base_file_url=file_url(settings.telegram_base_url)) as bot:
            await bot.get_me()

    tries = 0
    while True:
        tries += 1
        loop = asyncio.new_event_loop()  # its own loop: run_polling later makes and owns another
        try:
            loop.run_until_complete(probe())
            if tries > 1:
                log.warning("Telegram reached after %d attempts", tries)
            return
        except NetworkError as e:  # includes TimedOut; InvalidToken is not one
            if isinstance(e, (InvalidToken, Conflict)) or (attempts is not None and tries >= attempts):
                raise
            delay = STARTUP_BACKOFF[min(tries, len(STARTUP_BACKOFF)) - 1]
            reason = str(e).replace(token, "<token>") if token else str(e)
            log.warning("cannot reach Telegram at start-up (%s); attempt %d, retrying in %ds", reason, tries, delay)
        finally:
            loop.close()
        sleep(delay)


def run_bot(settings: Settings, engine: Engine) -> None:
    """Serve until SIGINT or SIGTERM: a webhook when TELEGRAM_WEBHOOK_URL is set, else long polling."""
    quiet_http_logs(settings.telegram_bot_token)
    app = build_application(settings, engine)
    try:
        wait_for_telegram(settings)
        _serve(app, settings)
    except (InvalidToken, Conflict, NetworkError) as e:
        raise startup_error(e, settings.telegram_bot_token or "") from None


def _serve(app: Application, settings: Settings) -> None:
    """Block in PTB's own loop; start-up failures (bad token, no network) propagate."""
    if settings.telegram_webhook_url:
        secret = settings.telegram_webhook_secret
        if not secret:
            secret = secrets.token_urlsafe(32)
            log.warning("TELEGRAM_WEBHOOK_SECRET is not set; using a random secret for this run")
        log.info("webhook mode: listening on %s:%s", settings.telegram_webhook_listen, settings.telegram_webhook_port)
        app.run_webhook(
            listen=settings.telegram_webhook_listen, port=settings.telegram_webhook_port,
            url_path=urlparse(settings.telegram_webhook_url).path.lstrip("/"),
            webhook_url=settings.telegram_webhook_url, secret_token=secret,
            allowed_updates=ALLOWED_UPDATES, stop_signals=STOP_SIGNALS)
    else:
        log.info("polling Telegram for updates")
        app.run_polling(allowed_updates=ALLOWED_UPDATES, stop_signals=STOP_SIGNALS)
