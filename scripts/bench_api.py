"""Throughput and latency of POST /ask over real HTTP, with concurrent clients.

The corpus is indexed into a temporary folder with the configured model (the live index is
not touched), the API is served by uvicorn on a free loopback port, and N client threads
ask varied questions until the time or request budget runs out.

Example:
    .venv/bin/python scripts/bench_api.py --clients 8 --seconds 20
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from index.api import background_server, create_app
from index.build import build_index
from index.embedding import load_embedder
from index.engine import Engine
from index.settings import Settings

QUESTIONS = [
    "Who was detained in Moscow in October?",
    "Who is Yury Balakshin?",
    "How did the Russian escapee get out of the Islamic State?",
    "What did the video of the two Russian soldiers show?",
    "How long is the video released by the AMAQ news agency?",
    "How does Islamic State use the refugee crisis?",
    "What did the Federal Security Service deputy director say in Tashkent?",
    "Who was beheaded in the Islamic State video?",
    "What were the detainees preparing on transport?",
    "When did Russia launch airstrikes in Syria?",
    "What was seized during the searches?",
    "What is the capital of Australia?",
]


def client(url: str, questions: itertools.cycle, lock: threading.Lock, stop_at: float, budget: list[int],
           k: int, latencies: list[float], errors: list[str]) -> None:
    """Ask until the deadline or the shared request budget is spent."""
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < stop_at:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
                question = next(questions)
            t0 = time.perf_counter()
            r = http.post("/ask", json={"question": question, "k": k})
            elapsed = time.perf_counter() - t0
            with lock:
                latencies.append(elapsed)
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:100]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument("--seconds", type=float, default=20.0, help="stop after this long (default 20)")
    parser.add_argument("--requests", type=int, default=5000, help="stop after this many requests (default 5000)")
    parser.add_argument("-k", type=int, default=5, help="passages per question (default 5)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = Settings()
    embedder = load_embedder(settings.embedding_model)
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
        build_index(settings.corpus_dir, Path(tmp), embedder)
        engine = Engine(Path(tmp), embedder, max_question_chars=settings.max_question_chars)
        with background_server(create_app(engine)) as url:
            httpx.post(f"{url}/ask", json={"question": QUESTIONS[0]}, timeout=60).raise_for_status()  # warm up
            lock, latencies, errors = threading.Lock(), [], []
            questions, budget = itertools.cycle(QUESTIONS), [args.requests]
            start = time.monotonic()
            threads = [threading.Thread(target=client, args=(url, questions, lock, start + args.seconds, budget,
                                                             args.k, latencies, errors))
                       for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - start
    if not latencies:
        raise SystemExit("no request completed")
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * len(ms))) - 1)]
    print(f"{len(ms)} requests from {args.clients} clients in {wall:.1f} s, {len(errors)} errors, "
          f"{len(QUESTIONS)} distinct questions, k={args.k}")
    print(f"throughput {len(ms) / wall:.1f} req/s | latency median {statistics.median(ms):.1f} ms, "
          f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms")
    for e in errors[:5]:
        print("error:", e)


if __name__ == "__main__":
    main()
