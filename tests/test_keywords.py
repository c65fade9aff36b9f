"""Bounded keyword search against the plain OR of every term, on seeded data."""

import random

import pytest

from index import postings, search, store
from index.terms import QueryTerm, fts_expression


@pytest.fixture
def db():
    """An in-memory index of 600 seeded passages: common, middling and rare words."""
    database = store.sqlite_utils.Database(memory=True)
    store.migrate(database)
    rng = random.Random(5)
    database["articles"].insert({"id": "a", "path": "a.txt", "title": "t", "text": "x", "content_hash": "h"})
    rows = []
    for i in range(600):
        words = ["harbour"] * (i % 2) + ["bridg"] * (i % 10 == 0) + ["zanzibar"] * (i % 97 == 0)
        words += rng.sample(["citi", "river", "council", "vote", "storm", "market", "school"], 3)
        rng.shuffle(words)
        text = " ".join(words)
        rows.append({"article_id": "a", "seq": i, "start": 0, "end": 1, "text": text, "text_hash": str(i),
                     "terms": text, "title_terms": ""})
    database["passages"].insert_all(rows)
    postings.rebuild(database)
    return database


def _terms(*keys: str) -> list[QueryTerm]:
    return [QueryTerm(k, (k,)) for k in keys]


def _search(db, terms, limit=20):
    return store.keyword_search(db, fts_expression(terms), limit)


def test_under_the_budget_every_term_is_ranked(db):
    terms = _terms("harbour", "bridg", "zanzibar", "storm")
    assert search.bounded_terms(db, terms) == terms


def test_over_the_budget_common_terms_are_dropped_rarest_kept(db, monkeypatch):
    monkeypatch.setattr(search, "KEYWORD_POSTINGS", 100)
    terms = _terms("harbour", "bridg", "zanzibar", "nothing")
    kept = search.bounded_terms(db, terms)
    assert kept == _terms("bridg", "zanzibar")
    got = _search(db, kept)
    assert got[0][0] in {r[0] for r in db.execute(
        "select id from passages where terms like '%zanzibar%' and terms like '%bridg%'")}
    assert len(got) == 20 and set(p for p, _ in got) <= {r[0] for r in db.execute(
        "select id from passages where terms like '%zanzibar%' or terms like '%bridg%'")}


def test_the_rarest_term_is_kept_even_alone_over_the_budget(db, monkeypatch):
    monkeypatch.setattr(search, "KEYWORD_POSTINGS", 10)
    assert search.bounded_terms(db, _terms("harbour", "citi")) == _terms("citi")
    assert len(_search(db, search.bounded_terms(db, _terms("harbour")), 500)) == 300


def test_a_term_of_several_keys_costs_all_their_passages(db, monkeypatch):
    monkeypatch.setattr(search, "KEYWORD_POSTINGS", 350)
    both = QueryTerm("Harbour", ("harbour", "bridg"))  # 300 + 60 passages
    assert search.bounded_terms(db, [both, *_terms("zanzibar")]) == _terms("zanzibar")
