"""Retrieval and answer quality: article recall@1/@5, MRR@10, answer-hit and abstention.

Questions come from a SQuAD-format file (each paragraph becomes an article) or from a
JSONL file of questions about a corpus (``article_id`` null for questions it cannot answer).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from index.engine import Engine
from index.errors import NewsQAError


@dataclass
class Item:
    """One evaluation question; ``article_id`` is None when the corpus cannot answer it."""

    question: str
    article_id: str | None
    answers: list[str]
    previous: str | None = None  # the question asked before it, for a follow-up


def _squad(path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError) as e:
        raise NewsQAError(f"{path}: not a readable SQuAD-format JSON file ({e})") from None


def load_squad(path: Path, questions: Path | None = None) -> tuple[list[dict[str, Any]], list[Item]]:
    """Articles (one per paragraph, as JSONL rows) and questions from a SQuAD v1.1 file.

    With ``questions`` (a parallel file such as XQuAD in another language, same question ids),
    the paragraphs come from ``path`` and the questions from ``questions``; gold answers stay
    those of ``path``, since they must be found in its paragraphs. Ids missing from
    ``questions`` are left out.
    """
    rows: list[dict[str, Any]] = []
    items: list[Item] = []
    asked: dict[str, str] | None = None
    if questions is not None:
        asked = {qa["id"]: qa["question"] for doc in _squad(questions) for para in doc["paragraphs"]
                 for qa in para["qas"] if "id" in qa}
    for doc in _squad(path):
        slug = re.sub(r"[^\w.\-]+", "_", doc.get("title", "doc"))[:80]
        for pi, para in enumerate(doc["paragraphs"]):
            aid = f"{slug}-{pi}"
            rows.append({"id": aid, "title": doc.get("title", aid).replace("_", " "), "text": para["context"]})
            for qa in para["qas"]:
                text = qa["question"] if asked is None else asked.get(qa.get("id", ""))
                if text:
                    items.append(Item(text, aid, [a["text"] for a in qa.get("answers", [])]))
    return rows, items


def load_qa(path: Path) -> list[Item]:
    """Questions from JSONL: ``question``, ``article_id`` (or null) and ``answers`` (strings)."""
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            items.append(Item(obj["question"], obj.get("article_id"), list(obj.get("answers") or []),
                              obj.get("previous")))
        except (ValueError, KeyError, TypeError) as e:
            raise NewsQAError(f"{path}, line {n}: expected question, article_id and answers ({e})") from None
    return items


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def is_hit(result: Any, answers: list[str]) -> bool:
    """Whether a gold answer string appears in the answer shown (an abstention never hits)."""
    text = _norm(result.answer) if result.found else ""
    return any(_norm(a) and _norm(a) in text for a in answers)


def evaluate(engine: Engine, items: Iterable[Item], k: int = 10,
             on_item: Callable[[], None] | None = None) -> dict[str, Any]:
    """Ask every question and aggregate the figures."""
    n = r1 = r5 = hits = answered = 0
    rr = 0.0
    neg = neg_abstained = 0
    latencies: list[float] = []
    for item in items:
        started = time.perf_counter()
        result = engine.ask(item.question, k=k, previous=item.previous)
        latencies.append(time.perf_counter() - started)
        if on_item:
            on_item()
        if item.article_id is None:
            neg += 1
            neg_abstained += not result.found
            continue
        n += 1
        ranked = result.ranked
        if ranked[:1] == [item.article_id]:
            r1 += 1
        if item.article_id in ranked[:5]:
            r5 += 1
        if item.article_id in ranked[:10]:
            rr += 1.0 / (ranked.index(item.article_id) + 1)
        answered += result.found
        hits += is_hit(result, item.answers)
    latencies.sort()
    out: dict[str, Any] = {"questions": n}
    if n:
        out.update({"recall@1": r1 / n, "recall@5": r5 / n, "mrr@10": rr / n,
                    "answer_hit": hits / n, "answered": answered / n})
    if neg:
        out.update({"unanswerable": neg, "abstained": neg_abstained / neg})
    if latencies:
        out["median_ms"] = 1000 * latencies[len(latencies) // 2]
        out["p95_ms"] = 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return out


def format_report(figures: dict[str, Any]) -> str:
    """Readable lines, one figure each."""
    lines = []
    for key, value in figures.items():
        lines.append(f"{key:>13}: {value:.3f}" if isinstance(value, float) else f"{key:>13}: {value}")
    return "\n".join(lines)
