"""Index speed on a large corpus: full build throughput, then `newsqa index` after adding one article.

    python scripts/bench_index.py --articles 10000

Prints passages per second for the full build and the wall time of the incremental
`newsqa index` command (a fresh process, model load included) and of the build call alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import layout  # noqa: E402
from index.build import build_index  # noqa: E402
from index.embedding import load_embedder  # noqa: E402
from tests.synth import write_corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--model", default=os.environ.get("NEWSQA_EMBEDDING_MODEL", "wordllama"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsqa-bench-") as tmp:
        corpus, data = Path(tmp) / "corpus", Path(tmp) / "data"
        t = time.perf_counter()
        write_corpus(corpus, args.articles, seed=1)
        print(f"wrote {args.articles} articles in {time.perf_counter() - t:.1f}s")
        embedder = load_embedder(args.model)
        report = build_index(corpus, data, embedder, progress=True)
        print(f"full build: {report.summary()}")
        print(f"full build throughput: {report.passages / report.seconds:.0f} passages/s "
              f"({report.passages} passages in {report.seconds:.1f}s)")
        write_corpus(corpus, 1, seed=2, start=args.articles)
        env = dict(os.environ, NEWSQA_CORPUS_DIR=str(corpus), NEWSQA_DATA_DIR=str(data),
                   NEWSQA_EMBEDDING_MODEL=args.model, NEWSQA_LOG_LEVEL="WARNING")
        newsqa = Path(sys.executable).parent / "newsqa"
        t = time.perf_counter()
        out = subprocess.run([str(newsqa), "index"], env=env, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        print(f"after adding one article: `newsqa index` took {wall:.2f}s wall (process start and model load included)")
        print("  " + out.stderr.strip().splitlines()[-1])
        for label, action in [("removing one article", lambda: (corpus / "synth_000000.txt").unlink()),
                              ("no change", lambda: None)]:
            action()
            t = time.perf_counter()
            out = subprocess.run([str(newsqa), "index"], env=env, capture_output=True, text=True, check=True)
            print(f"{label}: `newsqa index` took {time.perf_counter() - t:.2f}s wall (no model needed)")
            print("  " + out.stderr.strip().splitlines()[-1])
        # The long-running indexer keeps the model loaded: time from a file landing to it being live.
        watcher = subprocess.Popen([str(newsqa), "index", "--watch", "--interval", "0.5"], env=env,
                                   stderr=subprocess.PIPE, text=True)
        for line in watcher.stderr:
            if line.startswith("watching"):
                break
        before = layout.live_version(data)
        write_corpus(corpus, 1, seed=4, start=args.articles + 5)
        t = time.perf_counter()
        while layout.live_version(data) == before and time.perf_counter() - t < 60:
            time.sleep(0.02)
        print(f"with `newsqa index --watch --interval 0.5` running: a new article was live "
              f"{time.perf_counter() - t:.2f}s after its file landed")
        watcher.terminate()
        watcher.wait(timeout=30)
        write_corpus(corpus, 1, seed=3, start=args.articles + 1)
        report = build_index(corpus, data, embedder)
        print(f"after adding one more: build_index alone took {report.seconds:.2f}s ({report.summary()})")


if __name__ == "__main__":
    main()
