"""The two parts of a NewsQA question whose cost grows with the corpus, at 1M passages, in minutes.

    python scripts/bench_components.py --size 1000000 [--work /tmp/newsqa-scale]

A full NewsQA build of 1M passages spends most of its time in per-passage Python (terms,
dates, sentences); this builds only what a question searches, from the same corpus
``bench_scale.py`` writes (same seed): the FTS5 keyword index over the engine's own terms
(``index.terms.index_terms``, computed once per distinct sentence and joined per passage,
which is what the engine computes for passages made of those sentences) and the vector
index over passage vectors composed from sentence vectors (exact for a static model: a
passage's embedding is the token-weighted mean of its sentences'). It then times, one
question at a time over the 1,190 XQuAD-en questions:

- keyword search with every term (as before) and with bounded terms (``KEYWORD_POSTINGS``);
- exact vector search (flat, as below 20,000 passages) and the served inverted file
  (memory-mapped, single-threaded), with its recall@10 against exact;
- an incremental update of the vector index (load, remove and add one article, write).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_scale import PASSAGE_CHARS, rss_kb, xquad  # noqa: E402


def compose(n: int, seed: int = 7) -> tuple[list[str], list[str], list[list[int]]]:
    """``make_corpus``'s draw again, keeping which pool sentences each distractor holds."""
    from index.chunking import split_sentences
    from index.ingest import read_corpus

    paras, _ = xquad()
    texts = paras + [a.text for a in read_corpus(ROOT / "corpus")[0]]
    pool = [t[s.start : s.end] for t in texts for s in split_sentences(t)]
    pool = [s for s in pool if 40 < len(s) < 400]
    rng = random.Random(seed)
    picks: list[list[int]] = []
    for _ in range(n - len(paras)):
        body, size = [], 0
        while True:
            j = rng.randrange(len(pool))
            if size + len(pool[j]) + 1 > PASSAGE_CHARS and body:
                break
            body.append(j)
            size += len(pool[j]) + 1
        picks.append(body)
    return paras, pool, picks


def ms(values: list[float]) -> str:
    v = sorted(values)
    return f"p50 {1000 * statistics.median(v):.2f} ms, p95 {1000 * v[int(0.95 * len(v))]:.2f} ms"


def keyword_part(work: Path, paras: list[str], pool: list[str], picks: list[list[int]],
                 questions: list[tuple[str, int]]) -> None:
    from index import search, store
    from index.query import parse_terms
    from index.terms import fts_expression, index_terms

    path = work / "keywords.db"
    t = time.perf_counter()
    if not path.exists():
        db = store.sqlite_utils.Database(path)
        for pragma in ("journal_mode = off", "synchronous = off", "cache_size = -262144"):
            db.execute(f"pragma {pragma}")
        db.execute(f"create virtual table passages_fts using fts5(terms, title_terms, content='', "
                   f"tokenize='{store.TERMS_TOKENIZER}')")
        sentence_terms = [index_terms(s) for s in pool]
        rows = [(i + 1, index_terms(p), f"background {i}") for i, p in enumerate(paras)]
        rows += [(len(paras) + i + 1, " ".join(sentence_terms[j] for j in body), f"report {i}")
                 for i, body in enumerate(picks)]
        with db.conn:
            db.conn.executemany("insert into passages_fts(rowid, terms, title_terms) values (?, ?, ?)", rows)
            db.execute("insert into passages_fts(passages_fts) values ('optimize')")
        db.execute(f"create virtual table {store.VOCAB} using fts5vocab(passages_fts, 'row')")
        db.conn.close()
        print(f"keyword index: {len(rows):,} passages in {time.perf_counter() - t:.0f}s, "
              f"{path.stat().st_size / 2**20:,.0f} MB")
    db = store.open_db(path, readonly=True)
    for label, budget in (("every term (before)", 10**12), (f"bounded to {search.KEYWORD_POSTINGS:,} postings", None)):
        times, hit1, hit5, postings = [], 0, 0, []
        for q, para in questions:
            terms, _ = parse_terms(q)
            t = time.perf_counter()
            kept = search.bounded_terms(db, terms, budget)
            got = store.keyword_search(db, fts_expression(kept), search.CANDIDATES)
            times.append(time.perf_counter() - t)
            dfs = store.key_frequencies(db, [k for term in kept for k in term.keys])
            postings.append(sum(dfs.values()))
            hit1 += bool(got) and got[0][0] == para + 1
            hit5 += (para + 1) in [p for p, _ in got[:5]]
        print(f"keyword search, {label}: {ms(times)}; postings ranked p50 {statistics.median(postings):,.0f}, "
              f"max {max(postings):,}; BM25-only recall@1 {hit1 / len(questions):.3f}, @5 {hit5 / len(questions):.3f}")


def vector_part(work: Path, paras: list[str], pool: list[str], picks: list[list[int]],
                questions: list[tuple[str, int]]) -> None:
    import faiss
    from scipy import sparse

    from index import vectors
    from index.embedding import load_embedder

    embedder = load_embedder("wordllama")
    model = embedder.model
    t = time.perf_counter()
    means = model.encode(pool, normalize_embeddings=False, convert_to_numpy=True, batch_size=256,
                         show_progress_bar=False)
    counts = np.array([len(model[0].tokenizer.encode(s, add_special_tokens=False).ids) for s in pool], np.float32)
    cols = np.concatenate([np.asarray(b) for b in picks])
    rows = np.repeat(np.arange(len(picks)), [len(b) for b in picks])
    weights = sparse.csr_matrix((counts[cols], (rows, cols)), shape=(len(picks), len(pool)))
    distract = np.asarray(weights @ means, dtype=np.float32)
    distract /= np.linalg.norm(distract, axis=1, keepdims=True)
    matrix = np.vstack([embedder.encode_documents(paras), distract])
    ids = np.arange(1, len(matrix) + 1, dtype=np.int64)
    print(f"passage vectors: {len(matrix):,} composed in {time.perf_counter() - t:.0f}s")
    t = time.perf_counter()
    index = vectors.build(matrix, ids)
    build_s = time.perf_counter() - t
    path = work / "vectors.faiss"
    vectors.save(index, path)
    print(f"vector index {'exact' if vectors.is_exact(index) else f'IVF{index.nlist},SQ8'}: built in {build_s:.0f}s "
          f"(2 cores), file {path.stat().st_size / len(matrix):.0f} B a passage")
    del index
    queries = embedder.encode_queries([q for q, _ in questions])
    vectors.search_single_threaded()
    exact_index = faiss.IndexFlatIP(matrix.shape[1])
    exact_index.add(matrix)
    exact_t, truth = [], []
    for q in queries:
        t = time.perf_counter()
        _, got = exact_index.search(q.reshape(1, -1), 10)
        exact_t.append(time.perf_counter() - t)
        truth.append(set((got[0] + 1).tolist()))
    print(f"exact search (flat, float32, {matrix.nbytes / 2**20:,.0f} MB in memory): {ms(exact_t)}")
    del exact_index
    base = rss_kb()
    t = time.perf_counter()
    served = vectors.load(path, mmap=True)
    load_s = time.perf_counter() - t
    times, hits = [], 0
    for q, exact in zip(queries, truth):
        t = time.perf_counter()
        _, got = vectors.search(served, q.reshape(1, -1), 50)
        times.append(time.perf_counter() - t)
        hits += len(exact & set(got[0][:10].tolist()))
    grown = (rss_kb() - base) * 1024
    print(f"served inverted file (memory-mapped, nprobe {served.nprobe}, one thread): opened in {load_s * 1000:.0f} ms, "
          f"{ms(times)}, recall@10 against exact {hits / (10 * len(queries)):.3f}; "
          f"RSS grew {grown / 2**20:.0f} MB ({grown / len(matrix):.0f} B a passage) over {len(queries)} questions")
    t = time.perf_counter()
    live = vectors.load(path)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    live = vectors.update(live, matrix[:3], np.arange(3) + len(matrix) + 10, ids[5:8])
    t_update = time.perf_counter() - t
    t = time.perf_counter()
    vectors.save(live, work / "vectors.next.faiss")
    t_save = time.perf_counter() - t
    print(f"one-article update of the vector index: load {t_load:.2f}s, remove 3 and add 3 passages {t_update:.3f}s, "
          f"write and fsync {t_save:.2f}s (no retraining, no rebuild)")
    (work / "vectors.next.faiss").unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/newsqa-components"))
    parser.add_argument("--skip", choices=["keyword", "vector"])
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    paras, pool, picks = compose(args.size)
    _, questions = xquad()
    print(f"{args.size:,} passages ({len(pool):,} distinct sentences) drawn in {time.perf_counter() - t:.0f}s; "
          f"shared 2-core machine")
    if args.skip != "keyword":
        keyword_part(args.work, paras, pool, picks, questions)
    if args.skip != "vector":
        vector_part(args.work, paras, pool, picks, questions)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
