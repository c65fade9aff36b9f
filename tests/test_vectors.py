"""Every fast path of the vector index against brute force on seeded data."""

import os
from pathlib import Path

import numpy as np
import pytest

from index import layout, vectors
from index.build import build_index


def _unit(rng: np.random.Generator, n: int, dim: int = 16, centres: int = 40) -> np.ndarray:
    """Clustered unit vectors, like embeddings of text on a few dozen topics."""
    mid = rng.normal(size=(centres, dim))
    x = mid[rng.integers(0, centres, n)] + 0.35 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("f4")


def _truth(data: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return ids[np.argsort(-(queries @ data.T), axis=1, kind="stable")[:, :k]]


def _recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(g) & set(t)) / len(t) for g, t in zip(got, truth)]))


def test_flat_index_matches_brute_force():
    rng = np.random.default_rng(7)
    data = _unit(rng, 500, 32)
    ids = rng.choice(10_000, size=500, replace=False)
    queries = _unit(rng, 20, 32)
    scores, got = vectors.search(vectors.build(data, ids), queries, 10)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    assert (got == ids[truth]).all()
    assert np.allclose(scores, np.take_along_axis(queries @ data.T, truth, axis=1), atol=1e-5)


def test_inverted_file_above_the_threshold_agrees_with_brute_force(monkeypatch):
    monkeypatch.setattr(vectors, "EXACT_BELOW", 1000)
    rng = np.random.default_rng(3)
    data = _unit(rng, 4000)
    ids = np.arange(4000) * 7 + 1
    index = vectors.build(data, ids)
    assert not vectors.is_exact(index) and index.nlist == vectors.nlist_for(4000)
    queries = _unit(rng, 100)
    scores, got = vectors.search(index, queries, 10)
    assert _recall(got, _truth(data, ids, queries, 10)) >= 0.95
    # 8-bit codes: scores stay within a hair of the exact inner products
    exact = {int(i): v for i, v in zip(ids, data)}
    assert np.allclose(scores[:, 0], [queries[r] @ exact[int(got[r, 0])] for r in range(100)], atol=0.02)
    assert sorted(vectors.ids(index)) == sorted(ids)


def test_memory_mapped_index_answers_like_the_loaded_one(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(vectors, "EXACT_BELOW", 1000)
    rng = np.random.default_rng(5)
    data, queries = _unit(rng, 3000), _unit(rng, 30)
    vectors.save(vectors.build(data, np.arange(3000)), tmp_path / "v.faiss")
    loaded, mapped = vectors.load(tmp_path / "v.faiss"), vectors.load(tmp_path / "v.faiss", mmap=True)
    assert mapped.nprobe == vectors.NPROBE
    assert (vectors.search(loaded, queries, 5)[1] == vectors.search(mapped, queries, 5)[1]).all()


def test_a_served_index_is_read_into_memory_unless_it_is_big(tmp_path: Path, monkeypatch):
    """FAISS serves mapped lists through its on-disk lists, about 1.3 ms a question slower: only a
    file above MAP_ABOVE_BYTES is mapped (it starts at once and holds only the lists probed)."""
    import faiss

    monkeypatch.setattr(vectors, "EXACT_BELOW", 1000)
    rng = np.random.default_rng(6)
    vectors.save(vectors.build(_unit(rng, 3000), np.arange(3000)), tmp_path / "v.faiss")
    queries = _unit(rng, 20)

    def lists(index: object) -> str:
        return type(faiss.downcast_InvertedLists(index.invlists)).__name__

    small = vectors.load_for_serving(tmp_path / "v.faiss")
    monkeypatch.setattr(vectors, "MAP_ABOVE_BYTES", (tmp_path / "v.faiss").stat().st_size - 1)
    big = vectors.load_for_serving(tmp_path / "v.faiss")
    assert (lists(small), lists(big)) == ("ArrayInvertedLists", "OnDiskInvertedLists")
    assert small.nprobe == big.nprobe == vectors.NPROBE
    assert (vectors.search(small, queries, 5)[1] == vectors.search(big, queries, 5)[1]).all()


@pytest.mark.parametrize("exact_below", [10**9, 1000])
def test_update_adds_and_removes_only_what_changed(monkeypatch, exact_below):
    """Flat and inverted file alike: an updated index finds what brute force over the new set finds."""
    monkeypatch.setattr(vectors, "EXACT_BELOW", exact_below)
    rng = np.random.default_rng(11)
    data = _unit(rng, 3000)
    ids = np.arange(3000) + 100
    index = vectors.build(data, ids)
    gone = ids[rng.choice(3000, 200, replace=False)]
    new_data, new_ids = _unit(rng, 50), np.arange(50) + 10_000
    centroids = None if vectors.is_exact(index) else index.quantizer.reconstruct_n(0, index.nlist)
    updated = vectors.update(index, new_data, new_ids, gone)
    assert updated is index  # changed in place, not rebuilt
    if centroids is not None:
        assert (updated.quantizer.reconstruct_n(0, updated.nlist) == centroids).all()
    keep = ~np.isin(ids, gone)
    all_data, all_ids = np.vstack([data[keep], new_data]), np.concatenate([ids[keep], new_ids])
    assert sorted(vectors.ids(updated)) == sorted(all_ids)
    queries = np.vstack([new_data[:20], _unit(rng, 30)])
    _, got = vectors.search(updated, queries, 10)
    assert _recall(got, _truth(all_data, all_ids, queries, 10)) >= (1.0 if exact_below > 3000 else 0.95)
    assert not set(got.ravel()) & set(gone)


def test_update_changes_kind_when_the_size_crosses_the_threshold(monkeypatch):
    monkeypatch.setattr(vectors, "EXACT_BELOW", 1000)
    rng = np.random.default_rng(2)
    data = _unit(rng, 1500)
    small = vectors.build(data[:900], np.arange(900))
    assert vectors.is_exact(small)
    grown = vectors.update(small, data[900:], np.arange(900, 1500), np.zeros(0, np.int64))
    assert not vectors.is_exact(grown) and grown.ntotal == 1500
    shrunk = vectors.update(grown, np.zeros((0, 16), "f4"), [], np.arange(700))
    assert vectors.is_exact(shrunk) and sorted(vectors.ids(shrunk)) == list(range(700, 1500))
    _, got = vectors.search(shrunk, data[700:720], 1)
    assert (got[:, 0] == np.arange(700, 720)).all()  # decoded from 8 bits, still nearest to itself


def test_reconstruct_returns_the_stored_vectors(monkeypatch):
    rng = np.random.default_rng(4)
    data = _unit(rng, 1200)
    assert np.allclose(vectors.reconstruct(vectors.build(data, np.arange(1200)), [5, 3]), data[[5, 3]])
    monkeypatch.setattr(vectors, "EXACT_BELOW", 1000)
    approx = vectors.reconstruct(vectors.build(data, np.arange(1200) * 2), [10, 6])
    assert np.allclose(approx, data[[5, 3]], atol=0.02)


def test_an_incremental_build_updates_the_inverted_file_instead_of_rebuilding(
        tmp_path, corpus_copy, fake_embedder, monkeypatch):
    """The new article's passages are added to the live index's lists; nothing is retrained."""
    import tests.synth as synth

    monkeypatch.setattr(vectors, "EXACT_BELOW", 50)
    synth.write_corpus(corpus_copy, 40, seed=1)
    data = tmp_path / "data"
    first = build_index(corpus_copy, data, fake_embedder)
    built = []  # every new index, trained or not, is made by vectors.new
    real_new = vectors.new
    monkeypatch.setattr(vectors, "new", lambda *a, **k: built.append(1) or real_new(*a, **k))
    synth.write_corpus(corpus_copy, 1, seed=2, start=500)
    (corpus_copy / "synth_000003.txt").unlink()
    second = build_index(corpus_copy, data, fake_embedder)
    assert built == [] and second.added == 1 and second.removed == 1
    index = vectors.load(layout.vectors_of(second.path))
    from index import store

    db = store.open_db(second.path / "newsqa.db", readonly=True)
    rows = [r[0] for r in db.execute("select id from passages order by id")]
    assert not vectors.is_exact(index) and sorted(vectors.ids(index)) == rows
    new_ids = [r[0] for r in db.execute("select id from passages where article_id = 'synth_000500'")]
    text = db.execute("select text from passages where id = ?", [new_ids[0]]).fetchone()[0]
    _, got = vectors.search(index, fake_embedder.encode_queries([text]), 3)
    assert new_ids[0] in got[0]


def test_training_on_a_sample_makes_the_lists_faiss_would_and_keeps_recall(monkeypatch):
    """The lists come from the whole training sample (as index.train makes them, in TRAIN_ITERATIONS
    rounds); the 8-bit ranges from SQ_TRAIN of its vectors, which costs nothing in recall."""
    import faiss

    monkeypatch.setattr(vectors, "EXACT_BELOW", 1000)
    monkeypatch.setattr(vectors, "SQ_TRAIN", 300)
    rng = np.random.default_rng(9)
    data, ids = _unit(rng, 4000), np.arange(4000)
    index = vectors.build(data, ids)
    plain = faiss.index_factory(16, f"IVF{index.nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    plain.cp.niter = vectors.TRAIN_ITERATIONS
    plain.train(data[vectors.training_rows(4000)])
    assert np.array_equal(index.quantizer.reconstruct_n(0, index.nlist), plain.quantizer.reconstruct_n(0, plain.nlist))
    queries = _unit(rng, 100)
    assert _recall(vectors.search(index, queries, 10)[1], _truth(data, ids, queries, 10)) >= 0.95


def test_serving_searches_run_on_one_openmp_thread_whichever_thread_asks(monkeypatch):
    """OpenMP's thread count is per thread: questions arrive on the API's and the bot's worker threads."""
    import threading

    faiss = vectors._faiss()
    monkeypatch.setattr(vectors, "_single_threaded", False)
    vectors.search_single_threaded()
    rng = np.random.default_rng(5)
    index = vectors.build(_unit(rng, 200), np.arange(200))
    seen: list[int] = []

    def worker() -> None:
        faiss.omp_set_num_threads(2)  # a fresh thread's default on a 2-core machine
        vectors.search(index, _unit(rng, 1), 5)
        seen.append(faiss.omp_get_max_threads())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [1]


def test_the_blas_kernel_is_named_from_the_cpu_flags_unless_the_user_named_one(monkeypatch):
    avx512 = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma", "sse4_2"}
    assert vectors.blas_kernel(avx512) == "SkylakeX"
    assert vectors.blas_kernel(avx512 - {"avx512bw"}) == "Haswell"
    assert vectors.blas_kernel({"avx2", "sse4_2"}) is None  # no FMA: OpenBLAS decides
    assert vectors.blas_kernel(set()) is None
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")
    vectors.name_blas_kernel()
    assert os.environ["OPENBLAS_CORETYPE"] == "Sandybridge"
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.setattr(vectors.platform, "machine", lambda: "aarch64")
    vectors.name_blas_kernel()
    assert "OPENBLAS_CORETYPE" not in os.environ
