"""The HTTP API in-process (FastAPI's TestClient): every endpoint, every bad request, the API key."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from index.answer import Answer, Citation
from index.api import check_bind, create_app, describe_validation, is_loopback, serve
from index.errors import IndexMissing, NewsQAError
from index.search import Hit
from index.settings import Settings
from tests.conftest import MOSCOW_ARTICLE, MOSCOW_Q

KEY = "s3cret-key-for-tests"
QUOTE = "Officials said 12 citizens were detained."


class StubEngine:
    """Canned answers with no index or model, for the key, error and page-escaping tests."""

    def __init__(self, text: str = f"Intro. {QUOTE} Outro.", title: str = "A title", fail: Exception | None = None):
        self.text, self.title, self.fail = text, title, fail

    def _check(self) -> None:
        if self.fail:
            raise self.fail

    def ask(self, question: str, k: int = 5, previous: str | None = None) -> Answer:
        self._check()
        start = self.text.index(QUOTE)
        cite = Citation(n=1, article_id="stub_1", title=self.title, source="AP", published="2015-12-03",
                        date_text="2015-12-03", url="javascript:alert(1)", text=self.text, start=0,
                        end=len(self.text), score=1.4, passage_id=7, cited=True,
                        highlights=[[start, start + len(QUOTE)]], keyword_rank=1, keyword_score=3.2,
                        vector_rank=None, vector_score=None)
        other = Citation(n=2, article_id="stub_2", title="Other", source=None, published=None, date_text=None,
                         url=None, text="Unrelated passage.", start=0, end=18, score=0.2, passage_id=8)
        return Answer(question, True, f"“{QUOTE}” [1]", [cite, other], confidence=0.8)

    def search(self, question: str, k: int = 10, offset: int = 0, previous: str | None = None) -> list[Hit]:
        self._check()
        return [Hit(passage_id=7, article_id="stub_1", score=1.0, keyword_rank=1, keyword_score=2.0,
                    vector_rank=None, vector_score=None, text=self.text, start=0, end=len(self.text),
                    title=self.title, source=None, published=None, date_text=None, url=None)][:k]

    def stats(self) -> dict[str, Any]:
        self._check()
        return {"articles": 1, "passages": 1, "earliest": None, "latest": None, "partial_dates": [], "sources": [],
                "model": "stub", "dimension": 4, "built_at": "2025-01-01T00:00:00+00:00", "index_bytes": 1,
                "index_path": "/nowhere"}

    def article(self, article_id: str) -> dict[str, Any] | None:
        self._check()
        return None

    def article_passages(self, article_id: str) -> list[dict[str, Any]]:
        return []


DATA_ENDPOINTS = [("GET", "/health", None), ("GET", "/stats", None), ("GET", "/search?q=moscow", None),
                  ("POST", "/ask", {"question": "who?"}), ("GET", "/articles/x", None),
                  ("GET", "/articles/x/passages", None)]


@pytest.fixture(scope="module")
def client(corpus_engine) -> TestClient:
    return TestClient(create_app(corpus_engine))


# --- endpoints over the real corpus -------------------------------------------------------------

@pytest.mark.model
def test_health_reports_the_build_being_served(client, corpus_engine):
    body = client.get("/health").json()
    assert body["ready"] is True
    assert (body["articles"], body["passages"]) == (5, 25)
    assert body["built_at"] == corpus_engine.snapshot().meta["built_at"]


@pytest.mark.model
def test_stats_match_the_engine(client, corpus_engine):
    expected = {k: v for k, v in corpus_engine.stats().items() if k != "index_path"}
    assert client.get("/stats").json() == expected


@pytest.mark.model
def test_search_ranks_passages_with_each_retrievers_rank_and_score(client):
    r = client.get("/search", params={"q": MOSCOW_Q, "k": 3})
    assert r.status_code == 200
    hits = r.json()["hits"]
    assert len(hits) == 3
    assert hits[0]["article_id"] == MOSCOW_ARTICLE and "12 citizens" in hits[0]["text"]
    assert hits[0]["keyword_rank"] == 1 and hits[0]["vector_rank"] == 1
    assert hits[0]["keyword_score"] > 0 and hits[0]["vector_score"] > 0
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert {"title", "source", "published", "date_text", "url", "start", "end", "passage_id"} <= hits[0].keys()


@pytest.mark.model
def test_search_offset_pages_through_the_same_ranking(client):
    first = client.get("/search", params={"q": MOSCOW_Q, "k": 4}).json()["hits"]
    page2 = client.get("/search", params={"q": MOSCOW_Q, "k": 2, "offset": 2}).json()["hits"]
    assert [h["passage_id"] for h in page2] == [h["passage_id"] for h in first[2:4]]


@pytest.mark.model
def test_ask_returns_exactly_what_newsqa_ask_json_prints(client, corpus_engine):
    r = client.post("/ask", json={"question": MOSCOW_Q, "k": 5})
    assert r.status_code == 200
    body = r.json()
    assert body == corpus_engine.ask(MOSCOW_Q, k=5).to_dict()
    assert body["found"] and "12 citizens" in body["answer"] and "[1]" in body["answer"]
    first = body["citations"][0]
    s, e = first["highlights"][0]
    assert first["cited"] and first["article_id"] == MOSCOW_ARTICLE
    assert "12 citizens of Russia" in first["text"][s:e]


@pytest.mark.model
def test_ask_takes_the_previous_question_for_a_follow_up(client):
    body = client.post("/ask", json={"question": "And on 19 October?",
                                     "previous": "Who was detained in Moscow on 11 October?"}).json()
    assert body["resolved_question"] == "Who was detained in Moscow on 19 October?"
    assert body["found"] and "22 participants" in body["answer"] and body["dates"] == ["19 October"]
    alone = client.post("/ask", json={"question": "Who is Magomed Khasaev?"}).json()
    assert alone["corrections"] == [{"typed": "Khasaev", "used": "Khasayev"}] and alone["resolved_question"] is None
    assert client.post("/ask", json={"question": "x?", "previous": 5}).status_code == 422


@pytest.mark.model
def test_ask_uses_k_and_defaults_to_five_passages(client):
    assert len(client.post("/ask", json={"question": MOSCOW_Q, "k": 2}).json()["citations"]) == 2
    assert len(client.post("/ask", json={"question": MOSCOW_Q}).json()["citations"]) == 5


@pytest.mark.model
def test_article_and_its_passages(client):
    art = client.get(f"/articles/{MOSCOW_ARTICLE}").json()
    assert art["id"] == MOSCOW_ARTICLE and art["place"] == "Moscow"
    assert "12 citizens of Russia" in art["text"]
    passages = client.get(f"/articles/{MOSCOW_ARTICLE}/passages").json()
    assert [p["seq"] for p in passages] == list(range(len(passages))) and len(passages) > 1
    assert all(art["text"][p["start"]:p["end"]] == p["text"] for p in passages)


BAD = [
    ("GET", "/search", {}, 422, "query parameter 'q' is required"),
    ("GET", "/search?q=", {}, 400, "the question is empty"),
    ("GET", "/search?q=%20%20", {}, 400, "the question is empty"),
    ("GET", "/search?q=" + "x" * 1500, {}, 400, "1,500 characters long"),
    ("GET", "/search?q=%3F%3F%3F", {}, 400, "no words"),
    ("GET", "/search?q=moscow&k=0", {}, 422, "'k': Input should be greater than or equal to 1"),
    ("GET", "/search?q=moscow&k=51", {}, 422, "'k': Input should be less than or equal to 50"),
    ("GET", "/search?q=moscow&k=ten", {}, 422, "'k': Input should be a valid integer"),
    ("GET", "/search?q=moscow&offset=-1", {}, 422, "'offset'"),
    ("POST", "/ask", {"json": {"question": ""}}, 400, "the question is empty"),
    ("POST", "/ask", {"json": {"question": "y" * 1001}}, 400, "keep it under 1,000 characters"),
    ("POST", "/ask", {"json": {"question": "who?", "k": 0}}, 422, "field 'k': Input should be greater than or equal to 1"),
    ("POST", "/ask", {"json": {"question": "who?", "k": 51}}, 422, "field 'k': Input should be less than or equal to 50"),
    ("POST", "/ask", {"json": {"question": "who?", "k": "5"}}, 422, "field 'k': Input should be a valid integer"),
    ("POST", "/ask", {"json": {"question": "who?", "k": 2.5}}, 422, "field 'k'"),
    ("POST", "/ask", {"json": {"question": "who?", "k": True}}, 422, "field 'k'"),
    ("POST", "/ask", {"json": {"question": 42}}, 422, "field 'question': Input should be a valid string"),
    ("POST", "/ask", {"json": {"question": None}}, 422, "field 'question'"),
    ("POST", "/ask", {"json": {}}, 422, "field 'question' is required"),
    ("POST", "/ask", {"json": {"q": "who?"}}, 422, "field 'q' is not a known field"),
    ("POST", "/ask", {"json": ["who?"]}, 422, "the request body must be a JSON object"),
    ("POST", "/ask", {}, 422, "the request body is required"),
    ("POST", "/ask", {"content": b'{"question": "who?",', "headers": {"Content-Type": "application/json"}}, 422,
     "the request body is not valid JSON"),
    ("POST", "/ask", {"content": b"who?", "headers": {"Content-Type": "text/plain"}}, 422,
     "the request body must be a JSON object"),
    ("GET", "/articles/no_such_article", {}, 404, "no article with id 'no_such_article'"),
    ("GET", "/articles/no_such_article/passages", {}, 404, "no article with id 'no_such_article'"),
    ("GET", "/ask", {}, 405, "Method Not Allowed"),
]


@pytest.mark.model
@pytest.mark.parametrize(("method", "url", "kwargs", "status", "message"), BAD,
                         ids=[f"{m} {u[:40]} {k}" for m, u, k, *_ in BAD])
def test_bad_requests_get_a_4xx_saying_what_is_wrong(client, method, url, kwargs, status, message):
    r = client.request(method, url, **kwargs)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


# --- OpenAPI ------------------------------------------------------------------------------------

def test_openapi_documents_every_endpoint_with_response_models():
    spec = TestClient(create_app(StubEngine(), KEY)).get("/openapi.json").json()
    assert {"/health", "/search", "/ask", "/stats", "/articles/{article_id}", "/articles/{article_id}/passages"} <= set(spec["paths"])
    ok = spec["paths"]["/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/AnswerOut"}
    schemas = spec["components"]["schemas"]
    assert {"highlights", "keyword_rank", "vector_score", "cited"} <= set(schemas["Citation"]["properties"])
    assert schemas["AskIn"]["examples"][0]["question"] == MOSCOW_Q
    assert {"APIKeyHeader", "HTTPBearer"} <= set(spec["components"]["securitySchemes"])
    assert TestClient(create_app(StubEngine())).get("/docs").status_code == 200


# --- API key ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "url", "body"), DATA_ENDPOINTS)
def test_key_is_required_on_every_api_request(method, url, body):
    c = TestClient(create_app(StubEngine(), KEY))
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
        r = c.request(method, url, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert "API key" in r.json()["detail"]


@pytest.mark.parametrize("headers", [{"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}])
def test_right_key_in_either_header_is_accepted(headers):
    c = TestClient(create_app(StubEngine(), KEY))
    assert c.get("/health", headers=headers).json()["ready"] is True
    assert c.post("/ask", json={"question": "who?"}, headers=headers).json()["found"] is True


def test_without_a_key_configured_no_header_is_needed():
    assert TestClient(create_app(StubEngine(), None)).get("/stats").status_code == 200
    assert TestClient(create_app(StubEngine(), "")).get("/stats").status_code == 200


def test_page_shell_is_public_because_it_holds_no_data():
    c = TestClient(create_app(StubEngine(), KEY))
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert c.get("/static/app.js").status_code == 200 and c.get("/static/style.css").status_code == 200


# --- server-side failures -----------------------------------------------------------------------

def test_missing_index_is_503_and_health_says_not_ready():
    c = TestClient(create_app(StubEngine(fail=IndexMissing("no index in data; build it with: newsqa index"))))
    r = c.post("/ask", json={"question": "who?"})
    assert r.status_code == 503 and "newsqa index" in r.json()["detail"]
    h = c.get("/health")
    assert h.status_code == 503 and h.json()["ready"] is False and "newsqa index" in h.json()["detail"]


def test_engine_bug_is_a_json_500_without_internals():
    c = TestClient(create_app(StubEngine(fail=RuntimeError("secret internals"))), raise_server_exceptions=False)
    r = c.get("/search", params={"q": "x"})
    assert r.status_code == 500 and "secret" not in r.text and "server log" in r.json()["detail"]


# --- binding ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("news.example.com", False),
])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_refuses_non_loopback_without_a_key():
    with pytest.raises(NewsQAError, match="NEWSQA_API_KEY"):
        check_bind("0.0.0.0", None)
    with pytest.raises(NewsQAError, match="NEWSQA_API_KEY"):
        check_bind("0.0.0.0", "")
    check_bind("0.0.0.0", KEY)
    check_bind("127.0.0.1", None)


def test_serve_refuses_before_starting_anything(monkeypatch):
    monkeypatch.delenv("NEWSQA_API_KEY", raising=False)
    settings = Settings(_env_file=None)
    with pytest.raises(NewsQAError, match="refusing to listen on 0.0.0.0"):
        serve(settings, StubEngine(), "0.0.0.0", 1)


def test_validation_messages_are_readable():
    assert describe_validation([{"type": "missing", "loc": ("query", "q"), "msg": "Field required"}]) == \
        "query parameter 'q' is required"
    assert describe_validation([{"type": "int_parsing", "loc": ("body", "k"), "msg": "Input should be a valid integer"}]) == \
        "field 'k': Input should be a valid integer"


def test_huge_offset_is_a_4xx_not_a_500(client):
    for offset in ("1001", "9223372036854775800", "99999999999999999999"):
        r = client.get("/search", params={"q": "moscow", "offset": offset})
        assert r.status_code == 422 and "offset" in r.json()["detail"]


def test_head_requests_work_for_uptime_checks(client):
    assert client.head("/health").status_code == 200
    assert client.head("/").status_code == 200


def test_stats_do_not_reveal_server_paths(client):
    assert "index_path" not in client.get("/stats").json()


@pytest.mark.parametrize("key", ["s3cret-ключ", "short", "tab\there-key"])
def test_unusable_api_keys_are_refused_at_start(key):
    with pytest.raises(NewsQAError, match="NEWSQA_API_KEY must be"):
        check_bind("127.0.0.1", key)


def test_huge_request_bodies_are_refused_unread(client):
    r = client.post("/ask", content=b"{" + b" " * 300_000 + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "kB" in r.json()["detail"]
