"""Where a question's time goes on a built index: median milliseconds per stage of ``Engine.ask``.

    python scripts/profile_query.py DATA_DIR [--questions 300] [--unbounded]

``--unbounded`` measures the search as it was before bounding: every question word ranked by
FTS5 (``KEYWORD_POSTINGS`` unlimited) and every candidate shingled for duplicate collapsing.
Questions are XQuAD-en's, one at a time. Nested stages (sentence rerank reads sentences)
are counted in both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import xquad  # noqa: E402
from index import answer, engine, postings, search, store, vectors  # noqa: E402
from index.embedding import load_embedder  # noqa: E402

SPENT: dict[str, float] = defaultdict(float)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - t
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--unbounded", action="store_true")
    parser.add_argument("--vector-recall", action="store_true",
                        help="also: recall@10 of the vector index against exact search over the stored float32 vectors")
    args = parser.parse_args()
    if args.unbounded:
        search.KEYWORD_POSTINGS = 10**12
        real_collapse = search.collapse_duplicates
        search.collapse_duplicates = lambda texts, threshold=search.DUPLICATE_JACCARD, limit=None: real_collapse(texts)
    embedder = load_embedder("wordllama")
    eng = engine.Engine(args.data, embedder)
    embedder.encode_queries = timed("embed question", embedder.encode_queries)
    store.keyword_search = timed("keyword (FTS5, an index built before postings)", store.keyword_search)
    postings.rank = timed("keyword (postings BM25)", postings.rank)
    vectors.search = timed("dense (FAISS)", vectors.search)
    store.passages_by_id = timed("fetch passages", store.passages_by_id)
    search.collapse_duplicates = timed("collapse duplicates", search.collapse_duplicates)
    store.key_frequencies = timed("key frequencies", store.key_frequencies)
    search.sentence_rerank = timed("sentence rerank", search.sentence_rerank)
    store.sentences_of = timed("sentences of passages", store.sentences_of)
    answer.compose = timed("answer extraction", answer.compose)
    engine.answer_mod.compose = answer.compose
    _, questions = xquad()
    eng.ask(questions[0][0])
    per_stage: dict[str, list[float]] = defaultdict(list)
    for q, _ in questions[: args.questions]:
        SPENT.clear()
        t = time.perf_counter()
        eng.ask(q)
        SPENT["total ask"] = time.perf_counter() - t
        for k, v in SPENT.items():
            per_stage[k].append(v)
    print(f"{eng.snapshot().passage_count:,} passages, {args.questions} questions"
          f"{' (unbounded, as before)' if args.unbounded else ''}: ms per question")
    print("| stage | p50 | p95 | mean |")
    print("|---|---|---|---|")
    for k, v in sorted(per_stage.items(), key=lambda kv: -statistics.mean(kv[1])):
        v = sorted(v)
        print(f"| {k} | {1000 * statistics.median(v):.1f} | {1000 * v[int(0.95 * len(v))]:.1f} | "
              f"{1000 * statistics.mean(v):.1f} |")
    if args.vector_recall:
        vector_recall(eng, embedder, [q for q, _ in questions[: args.questions]])


def vector_recall(eng: engine.Engine, embedder: Any, questions: list[str], k: int = 10) -> None:
    """How many of the exact top ``k`` the served vector index returns, for these questions."""
    import numpy as np

    snap = eng.snapshot()
    ids, blobs = [], []
    for pid, blob in snap.db().execute("select id, vector from passages"):
        ids.append(pid)
        blobs.append(blob)
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(ids), -1)
    ids_arr = np.asarray(ids)
    queries = embedder.encode_queries(questions)
    hits = 0
    t = time.perf_counter()
    for q in queries:
        exact = set(ids_arr[np.argpartition(-(matrix @ q), k)[:k]].tolist())
        _, got = vectors.search(snap.index, q.reshape(1, -1), k)
        hits += len(exact & set(got[0].tolist()))
    kind = "exact" if vectors.is_exact(snap.index) else f"IVF{snap.index.nlist},SQ8 nprobe {snap.index.nprobe}"
    print(f"vector index ({kind}): recall@{k} against exact search {hits / (k * len(queries)):.3f} "
          f"over {len(queries)} questions ({time.perf_counter() - t:.1f}s)")


if __name__ == "__main__":
    main()
