"""The API over real HTTP: uvicorn on a free loopback port, as `newsqa serve` runs it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from index.api import background_server, create_app
from tests.conftest import MOSCOW_ARTICLE, MOSCOW_Q

pytestmark = pytest.mark.model
KEY = "http-test-key"


@pytest.fixture(scope="module")
def base_url(corpus_engine):
    with background_server(create_app(corpus_engine)) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_url(corpus_engine):
    with background_server(create_app(corpus_engine, KEY)) as url:
        yield url


def test_server_listens_on_loopback(base_url):
    assert base_url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{base_url}/health").json()["ready"] is True


def test_ask_over_http_matches_the_engine(base_url, corpus_engine):
    r = httpx.post(f"{base_url}/ask", json={"question": MOSCOW_Q, "k": 5}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == corpus_engine.ask(MOSCOW_Q, k=5).to_dict()


def test_search_and_articles_over_http(base_url):
    with httpx.Client(base_url=base_url, timeout=30) as c:
        assert c.get("/search", params={"q": MOSCOW_Q, "k": 1}).json()["hits"][0]["article_id"] == MOSCOW_ARTICLE
        assert c.get(f"/articles/{MOSCOW_ARTICLE}").json()["id"] == MOSCOW_ARTICLE
        assert len(c.get(f"/articles/{MOSCOW_ARTICLE}/passages").json()) > 1
        assert c.get("/stats").json()["passages"] == 25
        assert "NewsQA" in c.get("/").text


def test_bad_requests_over_http_are_4xx_json(base_url):
    with httpx.Client(base_url=base_url, timeout=30) as c:
        r = c.post("/ask", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
        r = c.get("/search", params={"q": "z" * 5000})
        assert r.status_code == 400 and "5,000 characters" in r.json()["detail"]
        r = c.get("/articles/../../etc/passwd")
        assert r.status_code == 404


def test_concurrent_questions_all_get_the_same_answer(base_url, corpus_engine):
    expected = corpus_engine.ask(MOSCOW_Q, k=3).to_dict()

    def one(_: int) -> dict:
        r = httpx.post(f"{base_url}/ask", json={"question": MOSCOW_Q, "k": 3}, timeout=60)
        r.raise_for_status()
        return r.json()

    with ThreadPoolExecutor(8) as pool:
        assert all(body == expected for body in pool.map(one, range(16)))


def test_api_key_over_http(keyed_url):
    with httpx.Client(base_url=keyed_url, timeout=30) as c:
        assert c.get("/health").status_code == 401
        assert c.get("/health", headers={"X-API-Key": "nope"}).status_code == 401
        assert c.get("/health", headers={"X-API-Key": KEY}).json()["ready"] is True
        r = c.post("/ask", json={"question": MOSCOW_Q}, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 200 and r.json()["found"] is True
