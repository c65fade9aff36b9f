"""A fake Bot API server on loopback, and a runner for the real bot against it.

Shared by the end-to-end tests and ``scripts/bench_bot.py``. The server speaks the Bot API's
HTTP protocol (``/bot<token>/<method>``, form or JSON parameters, ``{"ok": true, "result": ...}``),
long-polls ``getUpdates`` like Telegram, and records every call with its arrival time.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs

TOKEN = "123:TEST"
BOT_USER = {"id": 123, "is_bot": True, "first_name": "NewsQA", "username": "newsqa_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True}
STRING_PARAMS = {"text", "query", "caption", "callback_query_id", "inline_query_id", "parse_mode", "action",
                 "secret_token", "url", "chat_id"}


@dataclass
class Call:
    """One Bot API request the bot made."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", text))


class FakeTelegram:
    """Bot API on 127.0.0.1: feed updates with :meth:`push`, read what the bot sent in :attr:`calls`."""

    def __init__(self, token: str = TOKEN, port: int = 0) -> None:
        self.token = token
        self.port = port
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.delivered: dict[int, float] = {}  # update_id -> when getUpdates handed it to the bot
        self.failures: dict[str, list[dict[str, Any]]] = {}  # method -> queued error replies
        self.delays: dict[str, float] = {}  # method -> seconds to hold every reply (a slow Telegram)
        self.bad_tokens: list[str] = []
        self.reject_status = 401  # Telegram: 401 for a well-formed unknown token, 404 for a malformed one
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._server: ThreadingHTTPServer | None = None

    # -- server -------------------------------------------------------------------------
    def start(self) -> "FakeTelegram":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else Nagle + delayed ACK add 40 ms per reply

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = fake._dispatch(self.path, self.headers.get("Content-Type", ""), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the bot gave up on a long poll while stopping

            do_GET = do_POST

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-telegram").start()
        return self

    def stop(self) -> None:
        if self._server:
            with self._cond:
                self._cond.notify_all()
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    def _dispatch(self, path: str, ctype: str, body: bytes) -> tuple[int, dict[str, Any]]:
        m = re.fullmatch(r"/bot([^/]+)/(\w+)", path.split("?")[0])
        if not m:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if m.group(1) != self.token:
            self.bad_tokens.append(m.group(1))
            status = self.reject_status
            return status, {"ok": False, "error_code": status, "description": "Unauthorized" if status == 401
                            else "Not Found"}
        method, params = m.group(2), self._params(ctype, body)
        if method != "getUpdates":
            with self._cond:
                self.calls.append(Call(method, params))
                self._cond.notify_all()
                queued = self.failures.get(method)
                failure = queued.pop(0) if queued else None
            if self.delays.get(method):
                time.sleep(self.delays[method])
            if failure:
                return failure.get("error_code", 400), failure
        result = getattr(self, f"_{method}", self._default)(params)
        return 200, {"ok": True, "result": result}

    @staticmethod
    def _params(ctype: str, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        if "json" in ctype:
            return json.loads(body)
        out: dict[str, Any] = {}
        for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
            value = values[-1]
            if key not in STRING_PARAMS:
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            out[key] = value
        return out

    # -- Bot API methods ------------------------------------------------------------------
    def _default(self, params: dict[str, Any]) -> Any:
        return True

    def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(BOT_USER)

    def _getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self._cond:
            self.calls.append(Call("getUpdates", params))
            self._cond.notify_all()
            while True:
                ready = [u for u in self.updates if u["update_id"] >= offset]
                left = deadline - time.monotonic()
                if ready or left <= 0 or self._server is None:
                    break
                self._cond.wait(left)
            now = time.perf_counter()
            for u in ready:
                self.delivered.setdefault(u["update_id"], now)
            return ready[: int(params.get("limit") or 100)]

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        msg = {"message_id": int(params.get("message_id") or next(self._message_ids)), "date": int(time.time()),
               "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
               "from": dict(BOT_USER), "text": _plain(str(params.get("text", "")))}
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        return msg

    _sendMessage = _message

    def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params)

    def _editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message({**params, "text": ""})

    # -- feeding updates ------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Queue an update (``update_id`` is filled in) for the bot's next getUpdates."""
        with self._cond:
            update = {"update_id": next(self._ids), **update}
            self.updates.append(update)
            self._cond.notify_all()
        return update["update_id"]

    @staticmethod
    def user(user_id: int = 1001) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": "en"}

    def message(self, text: str | None = None, chat_id: int = 1001, user_id: int | None = None,
                **extra: Any) -> dict[str, Any]:
        """A ``message`` update (a command when ``text`` starts with /)."""
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup", "title": "Group"}
        msg: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                               "from": self.user(user_id or chat_id), **extra}
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"message": msg}

    def photo(self, chat_id: int = 1001) -> dict[str, Any]:
        return self.message(chat_id=chat_id, photo=[{"file_id": "ph1", "file_unique_id": "u1", "width": 90, "height": 90}])

    def callback(self, data: str, message: dict[str, Any], user_id: int = 1001) -> dict[str, Any]:
        """A button press on ``message`` (a message the bot sent, as :meth:`sent` returns it)."""
        return {"callback_query": {"id": f"cq{next(self._ids)}", "from": self.user(user_id), "chat_instance": "ci",
                                   "data": data, "message": message}}

    def inline(self, query: str, user_id: int = 1001) -> dict[str, Any]:
        return {"inline_query": {"id": f"iq{next(self._ids)}", "from": self.user(user_id), "query": query, "offset": ""}}

    # -- reading what the bot did -------------------------------------------------------------
    def wait_for(self, method: str, where: Callable[[Call], bool] = lambda c: True, timeout: float = 10,
                 after: int = 0) -> Call:
        """The first call to ``method`` (from index ``after`` on) that satisfies ``where``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for c in self.calls[after:]:
                    if c.method == method and where(c):
                        return c
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, str(c.params)[:120]) for c in self.calls[after:]]
                    raise TimeoutError(f"no {method} call within {timeout}s; calls: {seen}")
                self._cond.wait(left)

    def sent(self, call: Call) -> dict[str, Any]:
        """The message object Telegram would have returned for a sendMessage call."""
        return self._message(call.params)


class BotThread:
    """The real ``Application.run_polling`` on its own thread and event loop, against a fake server."""

    def __init__(self, app: Any, fake: FakeTelegram, poll_timeout: int = 1) -> None:
        self.app, self.fake, self.poll_timeout = app, fake, poll_timeout
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True, name="bot")
        self.error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.app.run_polling(poll_interval=0.0, timeout=self.poll_timeout, stop_signals=None, close_loop=False)
        except BaseException as e:  # reported by stop()
            self.error = e

    def __enter__(self) -> "BotThread":
        self.thread.start()
        self.fake.wait_for("getUpdates", timeout=15)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.loop.call_soon_threadsafe(self.app.stop_running)
        self.thread.join(15)
        self.loop.close()
        if self.error:
            raise self.error
