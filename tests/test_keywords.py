"""Bounded keyword search against the plain OR of every word, on seeded data."""

import random

import pytest

from index import store


@pytest.fixture
def db():
    """An in-memory index of 600 seeded passages: common, middling and rare words."""
    database = store.sqlite_utils.Database(memory=True)
    store.migrate(database)
    rng = random.Random(5)
    database["articles"].insert({"id": "a", "path": "a.txt", "title": "t", "text": "x", "content_hash": "h"})
    rows = []
    for i in range(600):
        words = ["harbour"] * (i % 2) + ["bridges"] * (i % 10 == 0) + ["zanzibar"] * (i % 97 == 0)
        words += rng.sample(["city", "river", "council", "vote", "storm", "market", "school"], 3)
        rng.shuffle(words)
        rows.append({"article_id": "a", "seq": i, "start": 0, "end": 1, "text": " ".join(words), "text_hash": str(i)})
    database["passages"].insert_all(rows)
    return database


def _plain_or(db, terms, limit):
    return [(int(r[0]), float(r[1])) for r in db.execute(
        "select rowid, -bm25(passages_fts) from passages_fts where passages_fts match ? order by bm25(passages_fts) "
        "limit ?", [store.fts_match_expression(terms), limit])]


def test_document_frequencies_match_counting_the_postings(db):
    terms = ["harbour", "bridge", "Zanzibar", "missing", "u.s"]
    dfs = store.document_frequencies(db, terms)
    for t in terms:
        count = db.execute("select count(*) from passages_fts where passages_fts match ?",
                           [store.fts_match_expression([t])]).fetchone()[0]
        assert dfs[t] == count
    assert dfs["harbour"] == 300 and dfs["bridge"] == 60 and dfs["missing"] == 0


def test_under_the_budget_the_search_is_the_plain_or(db):
    terms = ["harbour", "bridges", "zanzibar", "storm"]
    assert store.keyword_search(db, terms, 20) == _plain_or(db, terms, 20)


def test_over_the_budget_common_words_are_dropped_rarest_kept(db, monkeypatch):
    monkeypatch.setattr(store, "KEYWORD_POSTINGS", 100)
    terms = ["harbour", "bridges", "zanzibar", "nothing"]
    assert store.bounded_terms(store.document_frequencies(db, terms), terms) == ["bridges", "zanzibar"]
    got = store.keyword_search(db, terms, 20)
    assert got == _plain_or(db, ["bridges", "zanzibar"], 20)
    assert got[0][0] in {r[0] for r in db.execute("select id from passages where text like '%zanzibar%bridges%' "
                                                  "or text like '%bridges%zanzibar%'")}


def test_the_rarest_word_is_kept_even_when_it_alone_is_over_the_budget(db, monkeypatch):
    monkeypatch.setattr(store, "KEYWORD_POSTINGS", 10)
    assert store.bounded_terms({"harbour": 300, "city": 250}, ["harbour", "city"]) == ["city"]
    assert len(store.keyword_search(db, ["harbour"], 500)) == 300


def test_a_read_only_connection_can_tokenize(tmp_path):
    path = tmp_path / "x.db"
    database = store.open_db(path)
    store.migrate(database)
    database.conn.close()
    ro = store.open_db(path, readonly=True)
    assert store.fts_tokens(ro, ["Detained", "don't"]) == {"Detained": ["detain"], "don't": ["don", "t"]}
