"""Keyword postings: ranked as FTS5's bm25() ranks, and kept equal to a rebuild through every update."""

import json
import sqlite3

import numpy as np
import pytest

from index import layout, postings, store
from index.build import build_index
from index.query import parse_terms
from index.terms import fts_expression, stem

from tests.conftest import ROOT
from tests.synth import write_corpus


def _db(data):
    return store.open_db(layout.current_build(data) / layout.DB_NAME)


def _table(db) -> tuple[dict, str | None]:
    rows = {r[0]: r[1:] for r in db.execute("select key, df, ids, freqs, lengths from postings")}
    return rows, store.get_meta_value(db, postings.TOKENS_KEY)


def _as_rebuilt(db_path, tmp_path):
    """The postings a rebuild from the stored passages writes, in a copy of the database."""
    copy = tmp_path / "rebuilt.db"
    src = sqlite3.connect(db_path)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    db = store.open_db(copy)
    with db.atomic():
        postings.rebuild(db)
    return _table(db)


def test_postings_rank_as_fts5_bm25_with_column_weights(tmp_path, corpus_copy, fake_embedder):
    build_index(corpus_copy, tmp_path / "data", fake_embedder)
    db = _db(tmp_path / "data")
    n = db.execute("select count(*) from passages").fetchone()[0]
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "tests" / "data" / "corpus_questions.jsonl").read_text().splitlines() if line.strip()]
    compared = 0
    for q in questions:
        terms, _ = parse_terms(q)
        fts = store.keyword_search(db, fts_expression(terms), 10)
        ours = postings.rank(db, [k for t in terms for k in t.keys], 10, n, store.COLUMN_WEIGHTS)
        assert len(ours) == len(fts), q
        for (a, sa), (b, sb) in zip(fts, ours):
            assert sb == pytest.approx(sa, rel=1e-5), q
            assert a == b or sa == pytest.approx(dict(fts).get(b, -1), rel=1e-5), q  # equal scores may swap
        compared += bool(fts)
    assert compared >= 20


def test_every_update_leaves_the_postings_a_rebuild_would_write(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    path = layout.current_build(data) / layout.DB_NAME
    before = _table(_db(data))
    assert before == _as_rebuilt(path, tmp_path)

    changed = corpus_copy / "004_d046a75599c10844.txt"
    changed.write_text(changed.read_text().replace("spy", "agent") + "\n\nA zanzibari closing paragraph.\n")
    (corpus_copy / "001_eede6903985e59b8.txt").unlink()
    write_corpus(corpus_copy, 3, seed=11)
    report = build_index(corpus_copy, data, fake_embedder)
    assert (report.added, report.changed, report.removed) == (3, 1, 1)
    assert layout.current_build(data) / layout.DB_NAME == path, "an update, written in place"
    got = _table(_db(data))
    assert got == _as_rebuilt(path, tmp_path)
    assert stem("zanzibari") in got[0]
    assert stem("spy") in before[0] and stem("spy") not in got[0], "a key no passage holds any more is gone"

    for p in corpus_copy.glob("synth_*"):
        p.unlink()
    build_index(corpus_copy, data, fake_embedder)
    assert _table(_db(data)) == _as_rebuilt(path, tmp_path)
    assert not list(path.parent.glob(".postings-*")), "the collected postings are cleaned up"


def test_an_update_that_fails_while_writing_postings_changes_none(tmp_path, corpus_copy, fake_embedder, monkeypatch):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    before = _table(_db(data))
    write_corpus(corpus_copy, 2, seed=3)
    (corpus_copy / "002_268e4578f94adf6e.txt").unlink()
    calls = []

    def failing(key, group):
        calls.append(key)
        if len(calls) > 5:
            raise OSError("disk full")
        return real(key, group)

    real = postings._row
    monkeypatch.setattr(postings, "_row", failing)
    with pytest.raises(OSError, match="disk full"):
        build_index(corpus_copy, data, fake_embedder)
    monkeypatch.setattr(postings, "_row", real)
    assert _table(_db(data)) == before
    assert not list(layout.current_build(data).glob(".postings-*"))
    report = build_index(corpus_copy, data, fake_embedder)
    assert report.added == 2
    assert _table(_db(data)) == _as_rebuilt(layout.current_build(data) / layout.DB_NAME, tmp_path)


def test_an_index_built_before_postings_is_still_ranked_by_fts5(tmp_path, corpus_copy, fake_embedder):
    from index.engine import Engine

    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    db = _db(data)
    db.execute("drop table postings")
    # As such an index has it: FTS5 with positions (detail=none came with migration 10, after postings).
    db.execute(f"drop table {store.VOCAB}")
    db.execute("drop table passages_fts")
    db.execute(f"create virtual table passages_fts using fts5(terms, title_terms, tokenize='{store.TERMS_TOKENIZER}', "
               "content=passages)")
    db.execute("insert into passages_fts(passages_fts) values ('rebuild')")
    db.execute(f"create virtual table {store.VOCAB} using fts5vocab(passages_fts, 'row')")
    db.conn.commit()
    hits = Engine(data, fake_embedder).search("Who was detained in Moscow in October?", k=3)
    assert hits and hits[0].keyword_rank == 1


def test_a_batch_counts_each_key_in_text_and_title():
    batch = postings.count(["moscow detain moscow y2015", "kiev"], ["moscow news", "moscow news"])
    counts = {(int(r), batch.vocab[k]): (int(a), int(b))
              for r, k, a, b in zip(batch.rows, batch.keys, batch.tf, batch.title_tf)}
    assert counts == {(0, "moscow"): (2, 1), (0, "detain"): (1, 0), (0, "y2015"): (1, 0), (0, "news"): (0, 1),
                      (1, "kiev"): (1, 0), (1, "moscow"): (0, 1), (1, "news"): (0, 1)}
    assert batch.lengths.tolist() == [6, 3]


def test_summing_by_sort_or_by_slot_ranks_alike(tmp_path, corpus_copy, fake_embedder, monkeypatch):
    build_index(corpus_copy, tmp_path / "data", fake_embedder)
    db = _db(tmp_path / "data")
    n = db.execute("select count(*) from passages").fetchone()[0]
    keys = [k for t in parse_terms("Russian airstrikes in Syria, ISIS video of a spy from Chechnya")[0] for k in t.keys]
    monkeypatch.setattr(postings, "DENSE_SUM_SHARE", 10**9)
    by_slot = postings.rank(db, keys, 8, n, store.COLUMN_WEIGHTS)
    monkeypatch.setattr(postings, "DENSE_SUM_SHARE", 0)
    by_sort = postings.rank(db, keys, 8, n, store.COLUMN_WEIGHTS)
    assert len(by_slot) == 8 and [p for p, _ in by_slot] == [p for p, _ in by_sort]
    assert [s for _, s in by_slot] == pytest.approx([s for _, s in by_sort])


@pytest.mark.parametrize("keys_in_bucket", [5_000, 70_000])  # 16-bit radix sort, and too many keys for it
def test_a_bucket_is_grouped_by_key_with_each_keys_postings_in_parked_order(keys_in_bucket):
    rng = np.random.default_rng(3)
    keys = (rng.integers(0, keys_in_bucket, 50_000) * postings.BUCKETS + 7).astype(np.uint32)
    keys[:2] = (keys_in_bucket - 1) * postings.BUCKETS + 7  # the largest key is there
    assert postings._by_key(keys).tolist() == np.argsort(keys, kind="stable").tolist()


def test_ranking_many_postings_by_slot_keeps_the_best_passages_a_full_sum_finds(tmp_path, monkeypatch):
    """The slot path reads back only the postings of the best totals: the same passages, in the same order,
    as summing every passage's postings and sorting them all."""
    rng = np.random.default_rng(5)
    vocab = [f"w{i}" for i in range(40)]
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    terms = [" ".join(rng.choice(vocab, size=int(rng.integers(5, 60)), p=weights / weights.sum()))
             for _ in range(3_000)]
    db = store.open_db(tmp_path / "p.db")
    store.migrate(db)
    db["passages"].insert_all(({"id": i + 1, "article_id": f"a{i}", "seq": 0, "terms": t, "title_terms": "w1 w7"}
                               for i, t in enumerate(terms)), batch_size=500)
    with db.atomic():
        postings.rebuild(db, tmp_path)
    keys = ["w0", "w3", "w5", "w9", "w14", "w30"]
    monkeypatch.setattr(postings, "DENSE_SUM_SHARE", 10**9)  # the slot path
    got = postings.rank(db, keys, 10, len(terms), store.COLUMN_WEIGHTS)
    monkeypatch.setattr(postings, "DENSE_SUM_SHARE", 0)  # every passage's sum, sorted
    full = postings.rank(db, keys, len(terms), len(terms), store.COLUMN_WEIGHTS)
    assert len(full) > 10 * len(keys)  # more passages than the slot path reads back
    assert [p for p, _ in got] == [p for p, _ in full[:10]]
    assert [s for _, s in got] == pytest.approx([s for _, s in full[:10]])


def test_fts5_holds_which_passages_have_each_key_without_positions(tmp_path, corpus_copy, fake_embedder):
    build_index(corpus_copy, tmp_path / "data", fake_embedder)
    db = _db(tmp_path / "data")
    assert "detail=none" in db["passages_fts"].schema
    rows = list(db.execute("select id, terms, title_terms, text from passages"))
    held: dict[str, set[int]] = {}
    for pid, own, title, _ in rows:
        for key in f"{own} {title or ''}".split():
            held.setdefault(key, set()).add(pid)
    vocab = {term: doc for term, doc in db.execute(f"select term, doc from {store.VOCAB}")}
    assert vocab == {key: len(ids) for key, ids in held.items()}
    texts = {pid: text for pid, _, _, text in rows}
    for key in ("moscow", "detain", "y2015", stem("October")):
        assert sorted(store.texts_holding(db, [key], 1000)) == sorted(texts[p] for p in held[key])
