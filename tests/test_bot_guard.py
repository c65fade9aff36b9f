"""The bot under abuse: bad settings, a rejected token, forged buttons, floods, slow Telegram."""

from __future__ import annotations

import asyncio
import itertools
import logging
import subprocess
import sys
import time
from typing import Iterator

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

import bot.__main__ as bot_main
from bot.app import build_application
from bot.feedback import FeedbackStore
from index import cli as cli_mod
from index.settings import Settings
from tests.conftest import MOSCOW_Q, ROOT
from tests.fake_telegram import BotThread, Call, FakeTelegram
from tests.test_bot_e2e import DETAINED, buttons, send, settings_for

pytestmark = pytest.mark.model
GONE = "no longer works"
_chats = itertools.count(3001)


def calls_to(fake: FakeTelegram, method: str, chat: int, after: int) -> list[Call]:
    return [c for c in fake.calls[after:] if c.method == method and str(c.params.get("chat_id")) == str(chat)]


@pytest.fixture(scope="module")
def bot(corpus_engine, tmp_path_factory) -> Iterator[tuple[FakeTelegram, Settings]]:
    """An open bot (no allow-list) with a quota of one question per user."""
    with FakeTelegram() as fake:
        settings = settings_for(fake, tmp_path_factory.mktemp("guard"), TELEGRAM_USER_QUOTA=1,
                                TELEGRAM_QUOTA_WINDOW=600)
        with BotThread(build_application(settings, corpus_engine), fake):
            yield fake, settings


@pytest.mark.parametrize("name", ["TELEGRAM_ALLOWED_IDS", "TELEGRAM_ADMIN_IDS"])
def test_a_typo_in_an_id_list_stops_start_up(name, tmp_path) -> None:
    with pytest.raises(ValidationError) as e:
        Settings(**{name: "42, @alice"})
    assert e.value.errors()[0]["loc"] == (name,) and "'@alice' is not a Telegram id" in str(e.value)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": "1:x", name: "42, @alice"}
    out = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and f"bad setting {name}: " in out.stderr and "@alice" in out.stderr
    result = CliRunner().invoke(cli_mod.cli, ["run"], env={name: "42, @alice", "TELEGRAM_BOT_TOKEN": "1:x"})
    assert result.exit_code == 1 and f"bad setting {name}: " in result.output


def test_gatekeeper_fails_closed(corpus_engine, tmp_path, caplog) -> None:
    with FakeTelegram() as fake, caplog.at_level(logging.ERROR):
        settings = settings_for(fake, tmp_path)  # a broken allow-list that skipped validation:
        settings = settings.model_copy(update={"telegram_allowed_ids_text": "42, @alice"})
        with BotThread(build_application(settings, corpus_engine), fake):
            n = len(fake.calls)
            fake.push(fake.message(MOSCOW_Q, chat_id=1001))
            time.sleep(1.5)
    assert calls_to(fake, "sendMessage", 1001, n) == [] and calls_to(fake, "sendChatAction", 1001, n) == []
    assert any("refusing it" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status", [401, 404])
def test_rejected_token_is_one_line_without_the_token(status, monkeypatch, tmp_path, caplog, capsys) -> None:
    wrong = "987654:SECRETTOKENxyz"
    with FakeTelegram() as fake, caplog.at_level(logging.DEBUG):
        fake.reject_status = status
        for key, value in {"TELEGRAM_BOT_TOKEN": wrong, "TELEGRAM_BASE_URL": fake.base_url,
                           "NEWSQA_DATA_DIR": str(tmp_path), "NEWSQA_LOG_LEVEL": "DEBUG"}.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(cli_mod, "open_engine", lambda settings, **kw: None)
        asyncio.set_event_loop(asyncio.new_event_loop())  # run_polling takes (and closes) the current loop
        try:
            rc = bot_main.main()
        finally:
            asyncio.set_event_loop(None)
    err = capsys.readouterr().err
    assert rc == 1 and err == "Error: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather\n"
    assert fake.bad_tokens and "Traceback" not in caplog.text  # refused by the start-up check, before polling
    assert "SECRETTOKEN" not in caplog.text and "SECRETTOKEN" not in err


def test_buttons_work_only_in_the_chat_that_asked(bot) -> None:
    fake, settings = bot
    asker, other = next(_chats), next(_chats)
    answer = send(fake, fake.message(MOSCOW_Q, chat_id=asker))
    data = [b["callback_data"] for b in buttons(answer)]
    elsewhere = fake.message("x", chat_id=other)["message"]
    n = len(fake.calls)
    for d in (d for d in data if d[0] in "mf"):
        refused = send(fake, fake.callback(d, elsewhere, user_id=other), method="answerCallbackQuery")
        assert GONE in refused.params["text"]
    time.sleep(0.3)
    assert calls_to(fake, "sendMessage", other, n) == []
    assert all(v["user_id"] != other for v in FeedbackStore(settings.feedback_db).votes())
    more = send(fake, fake.callback(next(d for d in data if d.startswith("m:")), fake.sent(answer), user_id=asker))
    assert "More results" in more.params["text"]


@pytest.mark.parametrize("data", ["m:1:99999999999999999999", "n:99999999999999999999:0", "f:9223372036854775808:+",
                                  "p:99999999999999999999999:abcdef:0", "p:1:abcdef:0:5-1", "m:1:100000000",
                                  "p:1:abcdef:0:0-99999999999999999999", "x" * 100])
def test_oversized_button_numbers_are_refused_politely(bot, caplog, data) -> None:
    fake, _ = bot
    chat = next(_chats)
    with caplog.at_level(logging.ERROR):
        n = len(fake.calls)
        reply = send(fake, fake.callback(data, fake.message("x", chat_id=chat)["message"], user_id=chat),
                     method="answerCallbackQuery")
        time.sleep(0.2)
    assert GONE in reply.params["text"] and calls_to(fake, "sendMessage", chat, n) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("failure", ["flood", "slow"])
def test_a_throttled_or_slow_typing_action_never_delays_the_answer(bot, failure) -> None:
    fake, _ = bot
    if failure == "flood":
        fake.failures["sendChatAction"] = [{"ok": False, "error_code": 429, "parameters": {"retry_after": 6},
                                            "description": "Too Many Requests: retry after 6"}]
    else:
        fake.delays["sendChatAction"] = 6
    try:
        t0 = time.perf_counter()
        answer = send(fake, fake.message(MOSCOW_Q, chat_id=next(_chats)))
        assert DETAINED in answer.params["text"] and time.perf_counter() - t0 < 3
    finally:
        fake.delays.clear()
        fake.failures.clear()
    later = send(fake, fake.message(MOSCOW_Q, chat_id=next(_chats)))  # and nothing stays blocked
    assert DETAINED in later.params["text"]


def test_inline_queries_count_against_a_quota_and_are_personal(bot) -> None:
    fake, settings = bot
    user = next(_chats)
    n = len(fake.calls)
    fake.push(fake.inline("Mo", user_id=user))  # too short to look up: not counted
    for i in range(6):
        fake.push(fake.inline(f"{MOSCOW_Q} {i}", user_id=user))
    deadline = time.monotonic() + 15
    while len(answers := [c for c in fake.calls[n:] if c.method == "answerInlineQuery"]) < 7:
        assert time.monotonic() < deadline, answers
        time.sleep(0.05)
    assert all(c.params["is_personal"] for c in answers)
    assert sum(bool(c.params["results"]) for c in answers) == 5  # 5 × TELEGRAM_USER_QUOTA
    assert sum("Too many questions" in str(c.params.get("button")) for c in answers) == 1


def test_rejected_questions_cost_no_quota(bot) -> None:
    fake, _ = bot
    chat = next(_chats)
    for _ in range(2):
        assert "no words" in send(fake, fake.message("???", chat_id=chat)).params["text"]
    assert DETAINED in send(fake, fake.message(MOSCOW_Q, chat_id=chat)).params["text"]
    assert "Please ask again in" in send(fake, fake.message(MOSCOW_Q, chat_id=chat)).params["text"]


def test_private_bot_ignores_other_bots_commands_in_groups(corpus_engine, tmp_path) -> None:
    with FakeTelegram() as fake:
        settings = settings_for(fake, tmp_path, TELEGRAM_ALLOWED_IDS="42, -500")
        with BotThread(build_application(settings, corpus_engine), fake):
            group = -900
            n = len(fake.calls)
            for text in ["/start@otherbot", "/otherbot_cmd", "/ask@otherbot hi", "hello all"]:
                fake.push(fake.message(text, chat_id=group, user_id=901))
            time.sleep(0.5)
            for text in ["/ask hi", "/start@NewsQA_test_bot"]:
                assert "private" in send(fake, fake.message(text, chat_id=group, user_id=901)).params["text"]
            assert len(calls_to(fake, "sendMessage", group, n)) == 2

