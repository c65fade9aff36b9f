"""Latency of the real bot: questions in through getUpdates, answers out through sendMessage.

Runs the real Application (rate limiter, concurrent updates, SQLite feedback store) against
the fake Bot API server of the tests, over the shipped corpus with the configured model, and
prints the median and 95th percentile from the moment getUpdates hands an update to the bot
to the moment the bot's sendMessage reaches the server.

Example:
    .venv/bin/python scripts/bench_bot.py --questions 100 --rate 10
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "Who was detained in Moscow in October?",
    "Who is Roman Zabolotny?",
    "How does Islamic State use the refugee crisis?",
    "How did Yury Balakshin escape from Islamic State?",
    "What did the video released by Islamic State on Wednesday show?",
    "Who are the two Russian soldiers in the ISIS video?",
    "What did Peskov say about the captured soldiers?",
    "How many Russians fight for the Islamic State?",
    "Where was the assistant engineer arrested?",
    "What is the recipe for banana bread?",  # nothing found: the abstaining path is timed too
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=100, help="how many questions to ask (default 100)")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="questions per second; 0 asks the next one as soon as the last is answered (default 10)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from bot.app import build_application, quiet_http_logs
    from index.build import build_index
    from index.engine import Engine
    from index.settings import Settings
    from tests.fake_telegram import TOKEN, BotThread, FakeTelegram

    quiet_http_logs(TOKEN)
    model = Settings().embedding_model
    tmp = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    from index.embedding import load_embedder

    embedder = load_embedder(model)
    build_index(ROOT / "corpus", tmp / "index", embedder)
    engine = Engine(tmp / "index", embedder)
    engine.ask(QUESTIONS[0])  # warm up the model outside the timing
    latencies: list[float] = []
    with FakeTelegram() as fake:
        settings = Settings(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=fake.base_url, NEWSQA_DATA_DIR=str(tmp))
        with BotThread(build_application(settings, engine), fake):
            pushed: list[tuple[int, int]] = []
            start = time.perf_counter()
            for i, question in zip(range(args.questions), itertools.cycle(QUESTIONS)):
                chat = 10_000 + i  # one user per question: the per-user quota stays out of the way
                if args.rate > 0:
                    time.sleep(max(0.0, start + i / args.rate - time.perf_counter()))
                pushed.append((fake.push(fake.message(question, chat_id=chat)), chat))
                if args.rate <= 0:
                    fake.wait_for("sendMessage", lambda c, chat=chat: c.params["chat_id"] == str(chat), timeout=30)
            for update_id, chat in pushed:
                sent = fake.wait_for("sendMessage", lambda c, chat=chat: c.params["chat_id"] == str(chat), timeout=30)
                latencies.append((sent.at - fake.delivered[update_id]) * 1000)
            wall = time.perf_counter() - start
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * len(latencies))) - 1)]
    print(f"model={model} questions={len(latencies)} rate={args.rate or 'sequential'}/s wall={wall:.1f}s")
    print(f"update->sendMessage: median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, "
          f"min {latencies[0]:.1f} ms, max {latencies[-1]:.1f} ms")


if __name__ == "__main__":
    main()
