"""NewsQA, txtai (hybrid) and bm25s side by side on 10k to 1M passages, the same static model for all.

    python scripts/bench_scale.py --sizes 10000,100000 --repeats 3
    python scripts/bench_scale.py --sizes 1000000 --repeats 1 --watch-add
    python scripts/bench_scale.py --show /tmp/newsqa-scale/results.json

The corpus is news-like: the 240 XQuAD-en paragraphs mixed in among distractor passages made
of real sentences (XQuAD's and the shipped corpus's, recombined), split over several JSONL
files. Every system runs in its own processes: one builds (throughput, peak RSS, disk), a fresh
one serves (cold start to the first answer, query p50/p95 one at a time over the 1,190 XQuAD
questions, recall@1/@5 by paragraph, serving RSS). Systems are interleaved within a repeat;
the table shows medians. Results are appended to ``WORK/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
XQUAD = Path(os.environ.get("NEWSQA_XQUAD", "/work/shared/benchmarks/xquad/xquad.en.json"))
SYSTEMS = ("newsqa", "txtai", "bm25s")
PART_LINES = 50_000  # about 40 MB a file (NewsQA refuses files over 50 MB)
PASSAGE_CHARS = 850  # under NewsQA's 900-character passages: one distractor article, one passage


def xquad() -> tuple[list[str], list[tuple[str, int]]]:
    """The paragraphs, and ``(question, paragraph number)`` pairs."""
    data = json.loads(XQUAD.read_text(encoding="utf-8"))["data"]
    paras, questions = [], []
    for doc in data:
        for p in doc["paragraphs"]:
            for qa in p["qas"]:
                questions.append((qa["question"], len(paras)))
            paras.append(p["context"])
    return paras, questions


def make_corpus(dest: Path, n: int, seed: int = 7) -> Path:
    """``n`` passages (240 of them XQuAD's) as JSONL parts; reused when already written."""
    stamp = dest / ".complete"
    if stamp.exists() and stamp.read_text() == f"{n} {seed} {PART_LINES}":
        return dest
    from index.chunking import split_sentences
    from index.ingest import read_corpus

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    paras, _ = xquad()
    texts = paras + [a.text for a in read_corpus(ROOT / "corpus")[0]]
    pool = [t[s.start : s.end] for t in texts for s in split_sentences(t)]
    pool = [s for s in pool if 40 < len(s) < 400]
    rng = random.Random(seed)
    rows = [{"id": f"xq_{i:03d}", "title": f"Background {i}", "text": p} for i, p in enumerate(paras)]
    for i in range(n - len(rows)):
        body, size = [], 0
        while True:
            s = pool[rng.randrange(len(pool))]
            if size + len(s) + 1 > PASSAGE_CHARS and body:
                break
            body.append(s)
            size += len(s) + 1
        rows.append({"id": f"d{i:07d}", "title": f"Report {i}", "text": " ".join(body)})
    rng.shuffle(rows)
    for part in range(0, len(rows), PART_LINES):
        with open(dest / f"part-{part // PART_LINES:03d}.jsonl", "w", encoding="utf-8") as fh:
            for r in rows[part : part + PART_LINES]:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    stamp.write_text(f"{n} {seed} {PART_LINES}")
    return dest


def corpus_rows(corpus: Path) -> list[dict]:
    out = []
    for part in sorted(corpus.glob("*.jsonl")):
        with open(part, encoding="utf-8") as fh:
            out.extend(json.loads(line) for line in fh)
    return out


def rss_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def model_folder(work: Path) -> Path:
    """The bundled model saved as a sentence-transformers folder, so txtai loads the very same model."""
    folder = work / "wordllama-st"
    if not (folder / "modules.json").exists():
        from index.embedding import _bundled_model

        _bundled_model().save(str(folder))
    return folder


# ---- workers: one process per build and per serving run -------------------------------------

def build_worker(system: str, corpus: Path, out: Path, work: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if system == "newsqa":
        from index.build import build_index
        from index.embedding import load_embedder

        embedder = load_embedder("wordllama")
        t = time.perf_counter()
        report = build_index(corpus, out, embedder)
        if report.problems:
            raise SystemExit(f"{len(report.problems)} problem(s), first: {report.problems[0]}")
        seconds, passages = time.perf_counter() - t, report.passages
        size = disk_bytes(report.path)
    else:
        rows = corpus_rows(corpus)
        texts = [r["text"] for r in rows]
        if system == "txtai":
            from txtai import Embeddings

            emb = Embeddings(path=str(model_folder(work)), method="sentence-transformers", content=True,
                             hybrid=True, backend="faiss")
            t = time.perf_counter()
            emb.index((r["id"], r["text"], None) for r in rows)
            emb.save(str(out / "txtai"))
        else:
            import bm25s

            t = time.perf_counter()
            tokens = bm25s.tokenize(texts, stopwords="en", show_progress=False)
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
            retriever.save(str(out / "bm25s"))
            (out / "bm25s" / "ids.json").write_text(json.dumps([r["id"] for r in rows]))
        seconds, passages = time.perf_counter() - t, len(rows)
        size = disk_bytes(out)
    return {"build_s": seconds, "passages": passages, "build_pps": passages / seconds,
            "build_peak_rss_mb": rss_kb("VmHWM") / 1024, "disk_mb": size / 2**20}


def query_worker(system: str, out: Path, work: Path, started: float, ask: int) -> dict:
    """Load, answer the first question (cold start), then every question one at a time."""
    _, questions = xquad()
    if system == "newsqa":
        from index.embedding import load_embedder
        from index.engine import Engine

        embedder = load_embedder("wordllama")
        base = rss_kb()
        engine = Engine(out, embedder)
        passages = engine.snapshot().passage_count

        def run(q: str) -> list[str]:
            return [h.article_id for h in engine.search(q, k=5)]
    elif system == "txtai":
        from txtai import Embeddings

        emb = Embeddings()
        base = rss_kb()
        emb.load(str(out / "txtai"))
        passages = emb.count()

        def run(q: str) -> list[str]:
            return [r["id"] for r in emb.search(q, 5)]
    else:
        import bm25s

        base = rss_kb()
        retriever = bm25s.BM25.load(str(out / "bm25s"), mmap=False)
        ids = json.loads((out / "bm25s" / "ids.json").read_text())
        passages = len(ids)

        def run(q: str) -> list[str]:
            docs, _ = retriever.retrieve(bm25s.tokenize([q], stopwords="en", show_progress=False),
                                         k=5, show_progress=False, n_threads=1)
            return [ids[int(d)] for d in docs[0]]
    run(questions[0][0])
    cold = time.time() - started
    times, hit1, hit5 = [], 0, 0
    for q, para in questions:
        t = time.perf_counter()
        got = run(q)
        times.append(time.perf_counter() - t)
        gold = f"xq_{para:03d}"
        hit1 += bool(got) and got[0] == gold
        hit5 += gold in got[:5]
    out_d = {"cold_start_s": cold, "p50_ms": 1000 * statistics.median(times),
             "p95_ms": 1000 * sorted(times)[int(0.95 * len(times))],
             "recall1": hit1 / len(questions), "recall5": hit5 / len(questions),
             "serve_rss_mb": rss_kb() / 1024, "serve_anon_mb": rss_kb("RssAnon") / 1024,
             "index_rss_per_passage_b": (rss_kb() - base) * 1024 / max(1, passages)}
    if system == "newsqa" and ask:
        times = []
        for q, _ in questions[:ask]:
            t = time.perf_counter()
            engine.ask(q)
            times.append(time.perf_counter() - t)
        out_d["ask_p50_ms"] = 1000 * statistics.median(times)
        out_d["ask_p95_ms"] = 1000 * sorted(times)[int(0.95 * len(times))]
    return out_d


def watch_add(corpus: Path, data: Path) -> float:
    """Seconds from a new one-article JSONL file landing to it being live, with ``newsqa index --watch``."""
    from index import layout

    env = dict(os.environ, NEWSQA_CORPUS_DIR=str(corpus), NEWSQA_DATA_DIR=str(data),
               NEWSQA_EMBEDDING_MODEL="wordllama", NEWSQA_LOG_LEVEL="WARNING")
    newsqa = Path(sys.executable).parent / "newsqa"
    watcher = subprocess.Popen([str(newsqa), "index", "--watch", "--interval", "0.5"], env=env,
                               stderr=subprocess.PIPE, text=True)
    try:
        for line in watcher.stderr:
            if line.startswith("watching"):
                break
        before = layout.live_version(data)
        new = corpus / "zz-new.jsonl"
        new.write_text(json.dumps({"id": "zz_new", "title": "Breaking", "text":
                                   "LONDON, March 3. A new article about the harbour bridge opened today."}) + "\n")
        t = time.perf_counter()
        while layout.live_version(data) == before and time.perf_counter() - t < 300:
            time.sleep(0.02)
        return time.perf_counter() - t
    finally:
        watcher.terminate()
        watcher.wait(timeout=60)
        (corpus / "zz-new.jsonl").unlink(missing_ok=True)


# ---- the orchestrator ---------------------------------------------------------------------

def _worker(args: list[str]) -> dict:
    cmd = [sys.executable, __file__, "--worker", *args]
    started = time.time()
    out = subprocess.run(cmd + ["--started", str(started)], capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


COLUMNS = [("build_pps", "build passages/s", "{:,.0f}"), ("build_peak_rss_mb", "build peak RSS MB", "{:,.0f}"),
           ("disk_mb", "disk MB", "{:,.0f}"), ("p50_ms", "query p50 ms", "{:.1f}"), ("p95_ms", "query p95 ms", "{:.1f}"),
           ("serve_rss_mb", "serving RSS MB", "{:,.0f}"), ("index_rss_per_passage_b", "index RSS B/passage", "{:,.0f}"),
           ("cold_start_s", "cold start s", "{:.1f}"), ("recall1", "recall@1", "{:.3f}"), ("recall5", "recall@5", "{:.3f}"),
           ("ask_p50_ms", "ask p50 ms", "{:.1f}"), ("ask_p95_ms", "ask p95 ms", "{:.1f}")]


BUILD_KEYS = {"build_pps", "build_peak_rss_mb", "disk_mb"}


def table(results: list[dict]) -> str:
    lines = []
    for size in sorted({r["size"] for r in results}):
        rows = [r for r in results if r["size"] == size]
        lines.append(f"\n{size:,} passages (medians of {max(r['repeat'] for r in rows) + 1} run(s))")
        lines.append("| system | " + " | ".join(c[1] for c in COLUMNS) + " |")
        lines.append("|---" * (len(COLUMNS) + 1) + "|")
        for system in SYSTEMS:
            mine = [r for r in rows if r["system"] == system]
            if not mine:
                continue
            cells = []
            alone = [r for r in mine if r.get("query_only")]  # served again on its own: those figures win
            for key, _, fmt in COLUMNS:
                pool = alone if alone and key not in BUILD_KEYS else mine
                vals = [r[key] for r in pool if isinstance(r.get(key), (int, float))]
                cells.append(fmt.format(statistics.median(vals)) if vals else
                             next((r["error"][:40] for r in mine if "error" in r), "—"))
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        for r in rows:
            if "watch_add_s" in r:
                lines.append(f"newsqa one-article add with `newsqa index --watch`: {r['watch_add_s']:.2f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("NEWSQA_BENCH_DIR", "/tmp/newsqa-scale")))
    parser.add_argument("--ask", type=int, default=300, help="also time this many full NewsQA answers")
    parser.add_argument("--watch-add", action="store_true", help="time a one-article add with newsqa index --watch")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes of the last repeat")
    parser.add_argument("--show", type=Path, help="only print the table of a results file")
    parser.add_argument("--query-only", action="store_true",
                        help="serve and query indexes kept by an earlier --keep run (no build; they stay)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        from index import vectors

        vectors.name_blas_kernel()  # every system's FAISS (txtai's too) runs on the same BLAS kernel
        kind, system, corpus, out = args.worker[:4]
        if kind == "build":
            print(json.dumps(build_worker(system, Path(corpus), Path(out), args.work)))
        else:
            print(json.dumps(query_worker(system, Path(out), args.work, args.started, args.ask)))
        return
    if args.show:
        print(table(json.loads(args.show.read_text())))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    model_folder(args.work)
    results_file = args.work / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else []
    run_id = time.strftime("%Y%m%dT%H%M%S")
    mine: list[dict] = []
    for size in [int(s) for s in args.sizes.split(",")]:
        t = time.perf_counter()
        corpus = make_corpus(args.work / f"corpus-{size}", size)
        print(f"corpus of {size:,} passages ready in {time.perf_counter() - t:.0f}s", file=sys.stderr)
        for rep in range(args.repeats):
            systems = args.systems.split(",")
            systems = systems[rep % len(systems):] + systems[: rep % len(systems)]  # rotate who goes first
            for system in systems:
                out = args.work / f"index-{system}-{size}"
                row = {"run": run_id, "size": size, "repeat": rep, "system": system}
                if args.query_only:
                    row["query_only"] = True
                else:
                    row |= _worker(["build", system, str(corpus), str(out), "--work", str(args.work)])
                if "error" not in row:
                    row |= _worker(["query", system, str(corpus), str(out), "--work", str(args.work),
                                    "--ask", str(args.ask)])
                if system == "newsqa" and args.watch_add and rep == args.repeats - 1 and "error" not in row:
                    row["watch_add_s"] = watch_add(corpus, out)
                print(json.dumps(row), file=sys.stderr)
                mine.append(row)
                results_file.write_text(json.dumps(results + mine, indent=1))
                if not args.query_only and not (args.keep and rep == args.repeats - 1):
                    shutil.rmtree(out, ignore_errors=True)  # a query-only run never built what it serves
    from index import vectors

    vectors.name_blas_kernel()
    print(f"shared 2-core machine; run {run_id}; OpenBLAS kernel of FAISS, for every system: "
          f"{os.environ.get('OPENBLAS_CORETYPE', 'its own choice')}")
    print(table(mine))


if __name__ == "__main__":
    main()
