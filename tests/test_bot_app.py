"""How the bot is started: polling or webhook, signals, secret token, and `python -m bot`."""

from __future__ import annotations

import signal
import subprocess
import sys

from telegram.ext import Application

from bot.app import build_application, run_bot
from index.settings import Settings
from tests.conftest import ROOT


def capture(monkeypatch, method: str) -> dict:
    monkeypatch.setattr("bot.app.wait_for_telegram", lambda settings: None)  # no real Telegram here
    seen: dict = {}
    monkeypatch.setattr(Application, method, lambda self, **kw: seen.update(kw, app=self))
    return seen


def test_polling_by_default_stops_on_sigint_and_sigterm(monkeypatch, tmp_path) -> None:
    seen = capture(monkeypatch, "run_polling")
    run_bot(Settings(TELEGRAM_BOT_TOKEN="1:x", NEWSQA_DATA_DIR=str(tmp_path)), engine=None)
    assert set(seen["stop_signals"]) == {signal.SIGINT, signal.SIGTERM}
    assert "callback_query" in seen["allowed_updates"] and "inline_query" in seen["allowed_updates"]
    assert seen["app"].bot.base_url == "https://api.telegram.org/bot1:x"


def test_webhook_mode_always_checks_a_secret_token(monkeypatch, tmp_path) -> None:
    seen = capture(monkeypatch, "run_webhook")
    settings = Settings(TELEGRAM_BOT_TOKEN="1:x", NEWSQA_DATA_DIR=str(tmp_path),
                        TELEGRAM_WEBHOOK_URL="https://bot.example.com/hooks/newsqa",
                        TELEGRAM_WEBHOOK_SECRET="s3cret", TELEGRAM_WEBHOOK_PORT=8444)
    run_bot(settings, engine=None)
    assert seen["secret_token"] == "s3cret" and seen["url_path"] == "hooks/newsqa" and seen["port"] == 8444
    assert seen["webhook_url"] == "https://bot.example.com/hooks/newsqa"
    run_bot(settings.model_copy(update={"telegram_webhook_secret": None}), engine=None)
    assert len(seen["secret_token"]) >= 32  # none configured: a random one, never none at all


def test_self_hosted_bot_api_url(tmp_path) -> None:
    app = build_application(Settings(TELEGRAM_BOT_TOKEN="1:x", NEWSQA_DATA_DIR=str(tmp_path),
                                     TELEGRAM_BASE_URL="http://127.0.0.1:8081/bot"), engine=None)
    assert app.bot.base_url == "http://127.0.0.1:8081/bot1:x"
    assert app.bot.base_file_url == "http://127.0.0.1:8081/file/bot1:x"


def test_python_m_bot_without_token_explains_what_to_do(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "TELEGRAM_BOT_TOKEN": "", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "BotFather" in out.stderr
