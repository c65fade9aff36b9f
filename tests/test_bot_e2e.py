"""End to end over real HTTP: the real Application long-polls a fake Bot API on loopback."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, Iterator

import pytest

from bot.app import build_application, quiet_http_logs
from bot.feedback import FeedbackStore
from index.settings import Settings
from tests.conftest import MOSCOW_ARTICLE, MOSCOW_Q
from tests.fake_telegram import TOKEN, BotThread, Call, FakeTelegram

pytestmark = pytest.mark.model
DETAINED = "12 citizens of Russia – supporters"
_chats = itertools.count(2001)


class ExplodingEngine:
    """The real engine, except that the question "explode" raises (to test the error handler)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine

    def ask(self, question: str, k: int = 5, previous: str | None = None) -> Any:
        if question == "explode":
            raise RuntimeError("engine blew up")
        return self._engine.ask(question, k, previous)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def settings_for(fake: FakeTelegram, tmp_path: Any, **extra: Any) -> Settings:
    return Settings(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=fake.base_url, NEWSQA_DATA_DIR=str(tmp_path),
                    TELEGRAM_ADMIN_IDS="77", **extra)


@pytest.fixture(scope="module")
def bot(corpus_engine, tmp_path_factory) -> Iterator[tuple[FakeTelegram, Settings]]:
    """One running bot for the module (the real run_polling on a thread)."""
    with FakeTelegram() as fake:
        settings = settings_for(fake, tmp_path_factory.mktemp("bot"))
        with BotThread(build_application(settings, ExplodingEngine(corpus_engine)), fake):
            yield fake, settings


def send(fake: FakeTelegram, update: dict[str, Any], method: str = "sendMessage", timeout: float = 10) -> Call:
    """Push ``update`` and return the bot's first ``method`` call to the same chat."""
    n = len(fake.calls)
    body = next(iter(update.values()))
    chat = (body.get("chat") or (body.get("message") or {}).get("chat") or {}).get("id")
    fake.push(update)
    return fake.wait_for(method, lambda c: str(c.params.get("chat_id", chat)) == str(chat), timeout, after=n)


def buttons(call: Call) -> list[dict[str, str]]:
    return [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]


def test_start_says_what_the_bot_knows_with_example_buttons(bot) -> None:
    fake, _ = bot
    chat = next(_chats)
    reply = send(fake, fake.message("/start", chat_id=chat))
    assert "5</b> articles" in reply.params["text"] and "Index built" in reply.params["text"]
    examples = buttons(reply)
    assert len(examples) == 3 and examples[0]["callback_data"] == f"q:{MOSCOW_Q}"
    answer = send(fake, fake.callback(examples[0]["callback_data"], fake.sent(reply), user_id=chat))
    assert DETAINED in answer.params["text"]


def test_question_gets_typing_then_a_cited_html_answer_whose_buttons_work(bot, corpus_engine) -> None:
    fake, settings = bot
    chat = next(_chats)
    n = len(fake.calls)
    answer = send(fake, fake.message(MOSCOW_Q, chat_id=chat))
    typing = fake.wait_for("sendChatAction", lambda c: c.params["chat_id"] == str(chat), after=n)
    assert typing.params["action"] == "typing" and typing.at <= answer.at
    text = answer.params["text"]
    assert answer.params["parse_mode"] == "HTML" and DETAINED in text and "<b>Sources</b>" in text
    title = corpus_engine.article(MOSCOW_ARTICLE)["title"]
    assert title in text
    data = [b["callback_data"] for b in buttons(answer)]
    assert all(len(d.encode()) <= 64 for d in data)
    opens = [d for d in data if d.startswith("p:")]
    assert opens and corpus_engine.passage(int(opens[0].split(":")[1]))["article_id"] == MOSCOW_ARTICLE

    passage = send(fake, fake.callback(opens[0], fake.sent(answer), user_id=chat))
    assert "<blockquote expandable>" in passage.params["text"] and title in passage.params["text"]
    assert f"<b><u>October 11, in the center of Moscow detained {DETAINED}" in passage.params["text"]
    fake.wait_for("answerCallbackQuery", after=n)

    more = send(fake, fake.callback(next(d for d in data if d.startswith("m:")), fake.sent(answer), user_id=chat))
    assert "More results" in more.params["text"] and "(6–10)" in more.params["text"]
    nxt = next(b["callback_data"] for b in buttons(more) if b["text"].startswith("Next"))
    edit = send(fake, fake.callback(nxt, fake.sent(more), user_id=chat), method="editMessageText")
    assert "(11–15)" in edit.params["text"]

    send(fake, fake.callback(next(d for d in data if d.endswith(":+")), fake.sent(answer), user_id=chat),
         method="editMessageReplyMarkup")
    vote = FeedbackStore(settings.feedback_db).votes()[-1]
    assert vote["question"] == MOSCOW_Q and vote["vote"] == 1 and vote["user_id"] == chat
    assert int(opens[0].split(":")[1]) in vote["cited_ids"]


def test_stale_source_button_after_reindex_is_polite(bot) -> None:
    fake, _ = bot
    chat = next(_chats)
    reply = send(fake, fake.callback("p:10:000000:1:0-5", fake.message("x", chat_id=chat)["message"], user_id=chat))
    assert "updated" in reply.params["text"] and "ask" in reply.params["text"]
    old = send(fake, fake.callback("v1:whatever", fake.message("x", chat_id=chat)["message"], user_id=chat),
               method="answerCallbackQuery")
    assert "no longer works" in old.params["text"]


def test_nothing_found_says_so_and_cites_nothing(bot) -> None:
    fake, _ = bot
    reply = send(fake, fake.message("What is the best recipe for banana bread?", chat_id=next(_chats)))
    assert "Sources" not in reply.params["text"] and "reply_markup" not in reply.params
    assert "Try" in reply.params["text"]


def test_photo_gets_the_text_only_note_and_edits_are_ignored(bot) -> None:
    fake, _ = bot
    chat = next(_chats)
    assert "text questions" in send(fake, fake.photo(chat_id=chat)).params["text"]
    edited = fake.message("Who is Roman Zabolotny?", chat_id=chat)["message"]
    n = len(fake.calls)
    fake.push({"edited_message": {**edited, "edit_date": int(time.time())}})
    answer = send(fake, fake.message(MOSCOW_Q, chat_id=chat))
    time.sleep(0.3)
    replies = [c for c in fake.calls[n:] if c.method == "sendMessage" and c.params["chat_id"] == str(chat)]
    assert replies == [answer] and DETAINED in answer.params["text"]


def test_groups_answer_only_when_addressed(bot) -> None:
    fake, _ = bot
    group = -next(_chats)
    n = len(fake.calls)
    fake.push(fake.message("Who is Roman Zabolotny?", chat_id=group, user_id=5))
    mention = "@newsqa_test_bot who is Roman Zabolotny?"
    reply = send(fake, fake.message(mention, chat_id=group, user_id=5,
                                    entities=[{"type": "mention", "offset": 0, "length": 16}]))
    assert "Zabolotny" in reply.params["text"] and reply.params["reply_parameters"]["message_id"]
    assert sum(c.method == "sendMessage" and c.params["chat_id"] == str(group) for c in fake.calls[n:]) == 1
    ask = send(fake, fake.message(f"/ask {MOSCOW_Q}", chat_id=group, user_id=5))
    assert DETAINED in ask.params["text"]


def test_inline_query_offers_the_answer_with_sources(bot) -> None:
    fake, _ = bot
    call = send(fake, fake.inline(MOSCOW_Q), method="answerInlineQuery")
    results = call.params["results"]
    assert results[0]["type"] == "article"
    posted = results[0]["input_message_content"]
    assert DETAINED in posted["message_text"] and "Sources" in posted["message_text"]
    assert posted["parse_mode"] == "HTML" and len(results) >= 2


def test_failed_typing_action_and_network_errors_do_not_lose_the_answer(bot) -> None:
    fake, _ = bot
    fake.failures["sendChatAction"] = [{"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}]
    fake.failures["sendMessage"] = [
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 0", "parameters": {"retry_after": 0}},
        {"ok": False, "error_code": 502, "description": "Bad Gateway"}]
    chat = next(_chats)
    n = len(fake.calls)
    fake.push(fake.message(MOSCOW_Q, chat_id=chat))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sends = [c for c in fake.calls[n:] if c.method == "sendMessage"]
        if len(sends) == 3:
            break
        time.sleep(0.05)
    assert len(sends) == 3 and all(DETAINED in c.params["text"] for c in sends)  # two failures, then delivered


def test_errors_get_an_apology_and_the_log_a_traceback(bot, caplog) -> None:
    fake, _ = bot
    with caplog.at_level(logging.ERROR):
        reply = send(fake, fake.message("explode", chat_id=next(_chats)))
    assert reply.params["text"].startswith("Sorry, something went wrong")
    assert any(r.exc_info and "engine blew up" in str(r.exc_info[1]) for r in caplog.records)


def test_admin_only_stats(bot) -> None:
    fake, _ = bot
    assert "admins" in send(fake, fake.message("/stats", chat_id=next(_chats))).params["text"]
    stats = send(fake, fake.message("/stats", chat_id=77)).params["text"]
    assert "articles: 5" in stats and "👍" in stats


def test_allow_list_quota_and_no_token_in_logs(corpus_engine, tmp_path, caplog) -> None:
    with FakeTelegram() as fake, caplog.at_level(logging.DEBUG):
        quiet_http_logs(TOKEN)
        settings = settings_for(fake, tmp_path, TELEGRAM_ALLOWED_IDS="42, -500", TELEGRAM_USER_QUOTA=2)
        with BotThread(build_application(settings, corpus_engine), fake):
            refused = send(fake, fake.message(MOSCOW_Q, chat_id=1001))
            assert "private" in refused.params["text"] and "1001" in refused.params["text"]
            inline = send(fake, fake.inline(MOSCOW_Q, user_id=1001), method="answerInlineQuery")
            assert inline.params["results"] == []
            for _ in range(2):
                assert DETAINED in send(fake, fake.message(MOSCOW_Q, chat_id=42)).params["text"]
            assert "Please ask again in" in send(fake, fake.message(MOSCOW_Q, chat_id=42)).params["text"]
            group = send(fake, fake.message(f"/ask {MOSCOW_Q}", chat_id=-500, user_id=9))
            assert DETAINED in group.params["text"]  # an allowed group lets its members ask
    assert fake.bad_tokens == [] and caplog.records and TOKEN not in caplog.text


def test_a_follow_up_is_read_against_the_chat_s_last_question(bot) -> None:
    fake, _ = bot
    chat, other = next(_chats), next(_chats)
    send(fake, fake.message("Who is Roman Zabolotny?", chat_id=chat))
    follow = send(fake, fake.message("Where is he from?", chat_id=chat))
    assert "Rostovskaya region" in follow.params["text"] and "Understood as" in follow.params["text"]
    alone = send(fake, fake.message("Where is he from?", chat_id=other))  # another chat has no context
    assert "Understood as" not in alone.params["text"]
