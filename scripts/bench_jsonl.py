"""Index one large JSONL export and print the indexer's peak memory (issue: exports of any size).

    NEWSQA_EMBEDDING_MODEL=wordllama python scripts/bench_jsonl.py --mb 100

Writes a JSONL file of synthetic articles (XQuAD sentences when ../shared is there, else
the seed articles'), then runs `newsqa index` on it in a fresh process and prints its wall
time and peak resident memory (the child's ru_maxrss).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.synth import jsonl_line, sentence_pool  # noqa: E402


def write_jsonl(path: Path, megabytes: float, seed: int = 0) -> int:
    """Articles until the file holds ``megabytes`` MB; returns how many."""
    rng = random.Random(seed)
    pool = sentence_pool()
    target, n = int(megabytes * 1_000_000), 0
    with path.open("w", encoding="utf-8") as fh:
        while fh.tell() < target:
            fh.write(jsonl_line(rng, pool, n) + "\n")
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="size of the JSONL file in MB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsqa-jsonl-") as tmp:
        corpus, data = Path(tmp) / "corpus", Path(tmp) / "data"
        corpus.mkdir()
        t = time.perf_counter()
        n = write_jsonl(corpus / "export.jsonl", args.mb)
        size = (corpus / "export.jsonl").stat().st_size
        print(f"wrote {n:,} articles, {size / 1e6:.1f} MB, in {time.perf_counter() - t:.1f}s")
        env = dict(os.environ, NEWSQA_CORPUS_DIR=str(corpus), NEWSQA_DATA_DIR=str(data), NEWSQA_LOG_LEVEL="WARNING")
        env.setdefault("NEWSQA_EMBEDDING_MODEL", "wordllama")
        t = time.perf_counter()
        out = subprocess.run([str(Path(sys.executable).parent / "newsqa"), "index"], env=env,
                             capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "(no output)")
        print(f"`newsqa index` exit {out.returncode}, {wall:.1f}s wall, peak RSS {peak_mb:,.0f} MB "
              f"(model {env['NEWSQA_EMBEDDING_MODEL']})")


if __name__ == "__main__":
    main()
