"""Retrieval against brute-force oracles on seeded data, fusion, de-duplication, safe quoting."""

import sys

import numpy as np
import pytest

from index import search, store, vectors
from index.build import build_index
from index.engine import Engine
from index.search import collapse_duplicates, hybrid_search, rrf, score_fusion
from index.query import analyse
from index.terms import fts_expression


def test_flat_index_matches_brute_force():
    rng = np.random.default_rng(7)
    data = rng.normal(size=(500, 32)).astype("f4")
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    ids = rng.choice(10_000, size=500, replace=False)
    queries = rng.normal(size=(20, 32)).astype("f4")
    scores, got = vectors.search(vectors.build(data, ids), queries, 10)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    assert (got == ids[truth]).all()
    assert np.allclose(scores, np.take_along_axis(queries @ data.T, truth, axis=1), atol=1e-5)


def test_vectors_reject_mismatched_ids():
    with pytest.raises(ValueError):
        vectors.build(np.zeros((3, 4), "f4"), np.arange(2))


def test_fusion_on_literal_runs():
    assert [p for p, _ in rrf([[1, 2, 3], [3, 1]], [1.0, 1.0])] == [1, 3, 2]
    fused = dict(score_fusion([[(1, 10.0), (2, 5.0)], [(2, 0.9), (3, 0.45)]], [1.0, 0.5], normalise="max"))
    assert fused[1] == pytest.approx(1.0) and fused[2] == pytest.approx(0.5 + 0.5) and fused[3] == pytest.approx(0.25)
    # min-max: each run's worst candidate scores 0, its best 1
    fused = dict(score_fusion([[(1, 10.0), (2, 5.0), (4, 0.0)], [(2, 0.9), (3, 0.45)]], [1.0, 0.5], normalise="minmax"))
    assert fused[1] == pytest.approx(1.0) and fused[2] == pytest.approx(0.5 + 0.5) and fused[3] == pytest.approx(0.0)


def test_near_duplicates_collapse_but_distinct_texts_stay():
    a = "Russia said on Friday that twelve people were detained in the centre of Moscow for planning attacks."
    b = "Russia said on Friday that twelve people were detained in the centre of Moscow for planning attacks!"
    c = "A completely different passage about refugees moving to Europe through the Balkans."
    assert collapse_duplicates([a, b, c]) == [0, 2]


@pytest.fixture
def fake_engine(tmp_path, corpus_copy, fake_embedder):
    build_index(corpus_copy, tmp_path / "data", fake_embedder)
    return Engine(tmp_path / "data", fake_embedder)


def test_hybrid_search_matches_an_oracle_built_from_sqlite_and_numpy(fake_engine, fake_embedder):
    snap = fake_engine.snapshot()
    db = snap.db()
    ids = np.array([r[0] for r in db.execute("select id from passages order by id")])
    matrix = vectors.reconstruct(snap.index, ids)  # exact index: the vectors as embedded
    for question in ["Who was detained in Moscow in October?", "refugees sent to Europe", "Russian airliner bombing"]:
        q = fake_embedder.encode_queries([question])[0]
        query = analyse(question, lambda keys: store.key_frequencies(db, keys), snap.passage_count)
        keyword = store.keyword_search(db, fts_expression(query.terms), search.CANDIDATES)
        order = np.argsort(-(matrix @ q), kind="stable")[: search.CANDIDATES]
        sims = dict(zip(ids.tolist(), (matrix @ q).tolist()))
        pool = {int(ids[i]) for i in order} | {p for p, _ in keyword}
        best = {}
        for pid, blob in db.execute("select id, sentence_vectors from passages"):
            if pid in pool and blob:
                s16 = np.frombuffer(blob, dtype="<f2").reshape(-1, len(q)).astype(np.float32) @ q
                best[pid] = float(s16.max())
        dense = sorted(((p, sims[p] + search.SENTENCE_WEIGHT * best[p]) for p in pool), key=lambda kv: (-kv[1], kv[0]))
        fused = score_fusion([keyword, dense], [search.KEYWORD_WEIGHT * query.matched_share, search.VECTOR_WEIGHT])
        terms = {pid: set(t.split()) for pid, t in db.execute("select id, terms from passages")}
        boosted = [(p, s + (search.DATE_BOOST if query.date_tokens & terms[p] else 0.0)) for p, s in fused]
        oracle = [p for p, _ in sorted(boosted, key=lambda kv: (-kv[1], kv[0]))][:5]
        got = hybrid_search(db, snap.index, q, query, 5)
        assert [h.passage_id for h in got] == oracle
        for h in got:
            assert h.text == fake_engine.article(h.article_id)["text"][h.start : h.end]
            assert h.keyword_rank is not None or h.vector_rank is not None


def test_paging_returns_the_next_results(fake_engine):
    first = fake_engine.search("Russia Syria ISIS", k=3)
    second = fake_engine.search("Russia Syria ISIS", k=3, offset=3)
    both = fake_engine.search("Russia Syria ISIS", k=6)
    assert [h.passage_id for h in first + second] == [h.passage_id for h in both]


@pytest.mark.parametrize("question", [
    'AND OR NOT', '"unbalanced quote', 'NEAR(moscow detained)', 'text:moscow', 'mos*', '^start', "it's (who)?", "--;DROP TABLE passages",
])
def test_fts_syntax_in_questions_is_treated_as_words(fake_engine, question):
    fake_engine.search(question, k=3)  # must not raise an FTS5 syntax error
    assert fake_engine.search("moscow", k=1)


def test_collapsing_with_a_limit_keeps_the_same_first_passages():
    rng = np.random.default_rng(9)
    words = ["moscow", "detained", "october", "citizens", "syria", "court", "police", "report"]
    texts = [" ".join(rng.choice(words, 12)) for _ in range(40)]
    texts += texts[:10]  # exact repeats collapse
    full = collapse_duplicates(texts)
    for limit in (1, 5, 12):
        assert collapse_duplicates(texts, limit=limit) == full[:limit]


def test_an_index_of_the_older_sentence_rows_is_still_read(tmp_path):
    """An index built before format 11 (a row a sentence) serves questions until it is rebuilt."""
    import sqlite_utils

    db = sqlite_utils.Database(tmp_path / "old.db")
    db["passages"].insert_all([{"id": 1, "text": "One. Two."}, {"id": 2, "text": "Three."}], pk="id")
    vecs = np.eye(3, 4, dtype="<f2")
    db["sentences"].insert_all([{"id": i + 1, "passage_id": pid, "start": start, "end": end,
                                 "vector": vecs[i].tobytes()}
                                for i, (pid, start, end) in enumerate([(1, 0, 4), (1, 5, 9), (2, 0, 6)])], pk="id")
    assert store.sentences_of(db, [1, 2, 3]) == {1: [(0, 4, vecs[0].tobytes()), (5, 9, vecs[1].tobytes())],
                                                2: [(0, 6, vecs[2].tobytes())], 3: []}
    assert store.sentence_vectors_of(db, [1, 2, 3]) == {1: vecs[:2].tobytes(), 2: vecs[2].tobytes()}
    q = np.array([0.5, 1.0, 0.25, 0.0], np.float32)
    assert search.best_sentences(db, q, [1, 2]) == {1: 1.0, 2: 0.25}


def test_sentence_columns_round_trip():
    owners = np.array([0, 0, 2])
    spans = np.array([[0, 5], [6, 12], [0, 3]])
    vecs = np.arange(12, dtype=np.float32).reshape(3, 4)
    span_col, vec_col = store.sentence_columns(owners, spans, vecs, 3)
    assert [store.sentence_rows(s, v) for s, v in zip(span_col, vec_col)] == [
        [(0, 5, vecs[0].astype("<f2").tobytes()), (6, 12, vecs[1].astype("<f2").tobytes())], [],
        [(0, 3, vecs[2].astype("<f2").tobytes())]]
    assert store.sentence_columns(np.zeros(0, int), np.zeros((0, 2)), np.zeros((0, 0)), 2) == ([b"", b""], [b"", b""])


def test_a_question_without_a_date_reads_only_the_passages_collapsing_needs(tmp_path, monkeypatch):
    """Read in fused order, a few at a time, until enough distinct passages are kept: the same hits as
    reading every candidate first; a dated question reads them all (its boost may lift any of them)."""
    from tests.conftest import FakeEmbedder
    from tests.synth import write_corpus

    write_corpus(tmp_path / "corpus", 60, seed=2)
    build_index(tmp_path / "corpus", tmp_path / "data", FakeEmbedder())
    engine = Engine(tmp_path / "data", FakeEmbedder())
    read: list[int] = []
    real_read, in_order = store.passages_by_id, search._read_in_order

    def counting(db, ids):
        read.extend(ids)
        return real_read(db, ids)

    monkeypatch.setattr(store, "passages_by_id", counting)
    for question, k, offset in (("protest arrested police officials", 3, 0), ("court ruling", 2, 4)):
        monkeypatch.setattr(search, "_read_in_order", in_order)
        read.clear()
        lazy = [h.to_dict() for h in engine.search(question, k=k, offset=offset)]
        assert len(lazy) == k and len(read) < search.depth_for(k, offset)
        monkeypatch.setattr(search, "_read_in_order", lambda db, ranked, first: in_order(db, ranked, 10**6))
        assert [h.to_dict() for h in engine.search(question, k=k, offset=offset)] == lazy
    read.clear()
    engine.search("what happened on 19 October 2015", k=3)
    assert len(read) == len(set(read)) == search.depth_for(3)


def test_half_floats_widen_to_the_values_numpy_gives():
    halves = np.random.default_rng(4).normal(scale=3, size=5_000).astype("<f2")
    halves[:6] = [np.inf, -np.inf, np.nan, -0.0, 6e-8, 65504]  # and a subnormal, the largest half
    import torch  # noqa: F401 - widen_half uses it once something has loaded it

    for loaded in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            if not loaded:
                mp.delitem(sys.modules, "torch")
            got = search.widen_half(halves.tobytes())
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, halves.astype(np.float32))
        assert search.widen_half(b"").shape == (0,)
