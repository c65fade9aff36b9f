"""Request and response models of the HTTP API: they are its OpenAPI schema at ``/docs``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from index.engine import MAX_K

EXAMPLE_Q = "Who was detained in Moscow in October?"
EXAMPLE_BODY = f'{{"question": "{EXAMPLE_Q}", "k": 5}}'


class Health(BaseModel):
    ready: bool = Field(description="True when an index is loaded and questions can be answered.")
    built_at: str | None = Field(None, examples=["2025-11-22T02:01:18+00:00"])
    articles: int = 0
    passages: int = 0
    model: str | None = Field(None, examples=["wordllama"])
    detail: str | None = Field(None, description="Why the server is not ready.")


class _Scored(BaseModel):
    """Shared by search hits and citations: where the passage is and why it ranked there."""

    passage_id: int
    article_id: str = Field(examples=["001_eede6903985e59b8"])
    title: str
    source: str | None = Field(examples=["TASS"])
    published: str | None = Field(description="ISO date, when the article's date is complete.", examples=["2015-12-03"])
    date_text: str | None = Field(description="The date as the article gives it.", examples=["October 21"])
    url: str | None
    text: str = Field(description="The passage text.")
    start: int = Field(description="Character offset of the passage in the article text.")
    end: int
    score: float = Field(description="Fused hybrid score (higher is better).", examples=[1.4])
    keyword_rank: int | None = Field(description="1-based rank in the BM25 keyword search; null if not retrieved.")
    keyword_score: float | None
    vector_rank: int | None = Field(description="1-based rank in the dense vector search; null if not retrieved.")
    vector_score: float | None


class SearchHit(_Scored):
    pass


class SearchResult(BaseModel):
    q: str
    k: int
    offset: int
    hits: list[SearchHit]


class Citation(_Scored):
    n: int = Field(description="The number used by the [n] markers in the answer.")
    cited: bool = Field(description="True when the answer quotes this passage.")
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) character offsets, inside `text`, of the quoted sentences.", examples=[[[114, 302]]])


class AnswerOut(BaseModel):
    """Exactly what ``newsqa ask --json`` prints."""

    question: str
    found: bool = Field(description="False when no passage answers the question; `answer` then says so.")
    answer: str = Field(examples=["“October 11, in the center of Moscow detained 12 citizens of Russia …” [1]"])
    confidence: float = Field(description="Estimated probability (0..1) that the answer holds what was asked, "
                                          "calibrated on held-out questions (see README, Quality).")
    resolved_question: str | None = Field(None, description="What was searched, when a follow-up was resolved "
                                                            "against `previous`.")
    corrections: list[dict[str, str]] = Field(default_factory=list, description="Misspelt or unknown words and the "
                                              "index words used instead.", examples=[[{"typed": "Khasaev",
                                                                                       "used": "Khasayev"}]])
    dates: list[str] = Field(default_factory=list, description="Dates the question names, as understood (a year "
                             "that is not stated stays unknown).", examples=[["19 October"]])
    citations: list[Citation] = Field(description="Numbered in the order the answer cites them; empty when not found.")


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"question": EXAMPLE_Q, "k": 5}]})

    question: str = Field(strict=True, description="A question about the news in the index.")
    k: int | None = Field(None, strict=True, ge=1, le=MAX_K, description="How many passages to retrieve.")
    previous: str | None = Field(None, strict=True, max_length=2000,
                                 description="The question asked just before, so a follow-up such as 'Where is he "
                                             "from?' or 'And on 19 October?' is understood.")


class Article(BaseModel):
    id: str = Field(examples=["001_eede6903985e59b8"])
    path: str
    title: str
    source: str | None
    published: str | None
    date_text: str | None
    place: str | None = Field(examples=["Moscow"])
    url: str | None
    text: str


class Passage(BaseModel):
    passage_id: int
    seq: int = Field(description="0-based position of the passage in its article.")
    start: int
    end: int
    text: str


class Stats(BaseModel):
    articles: int
    passages: int
    earliest: str | None
    latest: str | None
    partial_dates: list[str] = Field(description="Article dates without a year, as written.")
    sources: list[str]
    model: str | None
    dimension: int
    built_at: str | None
    index_bytes: int


class Problem(BaseModel):
    detail: str = Field(examples=["k must be a whole number from 1 to 50"])
