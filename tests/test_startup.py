"""Start-up as an operator meets it, over real processes: busy ports, an unreachable Telegram,
a closed pipe, and a first answer as fast as the rest."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT, run_cli
from tests.fake_telegram import TOKEN, FakeTelegram

QUESTIONS = ["Who was detained in Moscow in October?", "Who is Roman Zabolotny?", "Who is Magomed Khasayev?",
             "What happened in Tashkent?", "Where did the refugees go?", "Who arrived from Syria?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    import shutil

    corpus = tmp_path / "corpus"
    if not corpus.exists():
        shutil.copytree(CORPUS, corpus)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
            "NEWSQA_CORPUS_DIR": str(corpus), "NEWSQA_DATA_DIR": str(tmp_path / "data"),
            "NEWSQA_EMBEDDING_MODEL": "wordllama", **extra}


class Lines:
    """Lines a child process writes to a pipe, readable with a timeout."""

    def __init__(self, pipe) -> None:
        self.q: queue.Queue = queue.Queue()
        self.all: list[str] = []
        threading.Thread(target=self._pump, args=(pipe,), daemon=True).start()

    def _pump(self, pipe) -> None:
        for line in pipe:
            self.all.append(line)
            self.q.put(line)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no line with {text!r} in {timeout}s; got: {''.join(self.all)[-2000:]}")
            if text in line:
                return line


def test_serve_on_a_busy_port_fails_in_one_line_before_serving(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(["serve", "--port", str(port)], {**_env(tmp_path), "NEWSQA_LOG_LEVEL": "INFO"},
                         cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 is already in use (another 'newsqa serve'?); stop it, "
        "or choose another port with --port or NEWSQA_API_PORT"]
    assert "serving" not in result.stdout + result.stderr


def test_stats_into_a_closed_pipe_prints_no_broken_pipe_error(tmp_path):
    env = _env(tmp_path, NEWSQA_LOG_LEVEL="WARNING")
    assert run_cli(["index"], env, cwd=tmp_path).returncode == 0
    for reader in ("head -n 1", "true"):
        out = subprocess.run(f"{sys.executable} -m tests.fake_cli stats | {reader}", shell=True, env=env,
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert "Broken" not in out.stderr and "Traceback" not in out.stderr and "Exception" not in out.stderr, out.stderr


def test_bot_waits_for_an_unreachable_telegram_and_then_answers(tmp_path):
    port = free_port()
    env = _env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=f"http://127.0.0.1:{port}/bot",
               NEWSQA_LOG_LEVEL="INFO")
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_bot"], env=env, cwd=ROOT, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = Lines(proc.stderr)
    try:
        first = err.wait_for("cannot reach Telegram", 60)
        second = err.wait_for("cannot reach Telegram", 10)
        assert "attempt 1, retrying in 1s" in first and "attempt 2, retrying in 2s" in second
        with FakeTelegram(port=port) as fake:  # the network comes back
            fake.push(fake.message("Moscow detained October"))
            reply = fake.wait_for("sendMessage", timeout=30)
            assert "Moscow" in reply.params["text"]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(err.all)
    assert "Traceback" not in text and TOKEN not in text
    assert sum("cannot reach Telegram" in line for line in err.all) >= 2


@pytest.mark.model
def test_bot_first_answer_is_as_fast_as_the_rest(tmp_path):
    """From `python -m bot` start to the first answer, with the real model and a fake Bot API."""
    with FakeTelegram() as fake:
        env = _env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=fake.base_url, NEWSQA_LOG_LEVEL="WARNING")
        assert subprocess.run([sys.executable, "-m", "index.cli", "index"], env=env, cwd=ROOT,
                              capture_output=True).returncode == 0  # the index exists, as on a restart
        first_id = fake.push(fake.message(QUESTIONS[0], chat_id=3001))
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            reply = fake.wait_for("sendMessage", lambda c: str(c.params["chat_id"]) == "3001", timeout=120)
            to_first = reply.at - started
            first = reply.at - fake.delivered[first_id]
            later = []
            for i, q in enumerate(QUESTIONS[1:] * 2):
                chat = 3100 + i
                uid = fake.push(fake.message(q, chat_id=chat))
                call = fake.wait_for("sendMessage", lambda c, chat=chat: str(c.params["chat_id"]) == str(chat), 30)
                later.append(call.at - fake.delivered[uid])
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    median = statistics.median(later)
    print(f"\nbot: start to first answer {to_first:.2f}s; first answer {first * 1000:.0f} ms, "
          f"median of the next {len(later)} {median * 1000:.0f} ms")
    # A model still loading costs seconds; 100 ms of slack absorbs a loaded machine without hiding that.
    assert first <= 2 * median + 0.100, (first, later)


@pytest.mark.model
def test_api_first_answer_is_as_fast_as_the_rest(tmp_path):
    """From `newsqa serve` start to the first /ask answer: /health says ready only once the model is loaded."""
    port = free_port()
    env = _env(tmp_path, NEWSQA_LOG_LEVEL="WARNING")
    assert subprocess.run([sys.executable, "-m", "index.cli", "index"], env=env, cwd=ROOT,
                          capture_output=True).returncode == 0
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "index.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ask(q: str) -> float:
        t = time.perf_counter()
        req = urllib.request.Request(f"{base}/ask", data=json.dumps({"question": q}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert json.loads(r.read())["question"] == q
        return time.perf_counter() - t

    try:
        not_ready = 0
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except urllib.error.HTTPError as e:
                assert e.code == 503
                not_ready += 1
            except OSError:
                pass
            assert time.perf_counter() - started < 120 and proc.poll() is None
            time.sleep(0.05)
        ready_at = time.perf_counter() - started
        first = ask(QUESTIONS[0])
        to_first = time.perf_counter() - started
        later = [ask(q) for q in QUESTIONS[1:] * 2]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    median = statistics.median(later)
    print(f"\napi: ready after {ready_at:.2f}s ({not_ready} not-ready answers first); start to first answer "
          f"{to_first:.2f}s; first /ask {first * 1000:.0f} ms, median of the next {len(later)} {median * 1000:.0f} ms")
    assert first <= 2 * median + 0.100, (first, later)


def test_terminal_chat_has_line_editing_history_and_no_logs_in_the_conversation(tmp_path):
    import pty
    import select

    env = _env(tmp_path, NEWSQA_LOG_LEVEL="INFO", TERM="dumb")
    assert run_cli(["index"], env, cwd=tmp_path).returncode == 0
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real chat on a terminal
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "tests.fake_cli", "chat"], env)
    seen = b""

    def until(marker: bytes, timeout: float = 30) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"no {marker!r}; screen: {seen[-1500:]!r}")
            seen += os.read(fd, 65536)
        out, seen = seen, seen[seen.index(marker) + len(marker):]
        return out

    try:
        until(b"question> ")
        os.write(fd, b"Moscow detained October\r")
        first = until(b"question> ")
        assert b"Sources:" in first
        (tmp_path / "corpus" / "new.txt").write_text("A new story\n\nAbout a lighthouse keeper in Moscow.")
        assert run_cli(["index"], env, cwd=tmp_path).returncode == 0  # the chat's engine reloads: it logs INFO
        time.sleep(1.1)
        os.write(fd, b"\x10\r")  # Ctrl-P: the previous question again, from readline's history
        again = until(b"question> ")
        assert b"Sources:" in again and b"Moscow detained October" in again
        assert b"INFO" not in first + again and b"now serving" not in first + again
        os.write(fd, b"\x04")  # Ctrl-D
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    assert "Moscow detained October" in (tmp_path / "data" / "chat_history").read_text()
