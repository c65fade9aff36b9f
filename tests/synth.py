"""Synthetic corpora for crash, reload and speed tests: distinct articles made of real sentences."""

from __future__ import annotations

import json
import random
from pathlib import Path

from index.chunking import split_sentences
from index.ingest import read_corpus

ROOT = Path(__file__).resolve().parent.parent
XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad" / "xquad.en.json"
CORPUS = ROOT / "tests" / "data" / "corpus"  # the shipped seed articles, never the live corpus/


def sentence_pool() -> list[str]:
    """Sentences from XQuAD when it is beside the repo, else from the shipped corpus."""
    texts: list[str] = []
    if XQUAD.exists():
        for doc in json.loads(XQUAD.read_text(encoding="utf-8"))["data"]:
            texts.extend(p["context"] for p in doc["paragraphs"])
    else:
        texts = [a.text for a in read_corpus(CORPUS)[0]]
    pool = [t[s.start : s.end] for t in texts for s in split_sentences(t)]
    return [s for s in pool if len(s) > 40]


def write_corpus(dest: Path, n: int, seed: int = 0, start: int = 0, sentences: int = 14) -> list[Path]:
    """``n`` article files; each has a unique headline and a random draw of sentences."""
    rng = random.Random(seed)
    pool = sentence_pool()
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        body = rng.sample(pool, sentences)
        paras = "\n\n".join(" ".join(body[j : j + 3]) for j in range(0, len(body), 3))
        path = dest / f"synth_{i:06d}.txt"
        path.write_text(f"Synthetic report number {i} on assorted matters\n\nLONDON, March {1 + i % 28}. {paras}\n",
                        encoding="utf-8")
        paths.append(path)
    return paths


def jsonl_line(rng: random.Random, pool: list[str], n: int, sentences: int = 14) -> str:
    """One JSONL article (a URL id, a headline, a date as exports write it) of ``sentences`` random sentences."""
    return json.dumps({"id": f"https://example.com/2015/10/{n % 28 + 1:02d}/story-{n}",
                       "title": f"Synthetic report number {n}", "published": "2015/10/21",
                       "text": " ".join(rng.sample(pool, sentences))}, ensure_ascii=False)


def write_jsonl(path: Path, n: int, seed: int = 0, sentences: int = 14, start: int = 0) -> Path:
    """A JSONL export of ``n`` articles, numbered from ``start``."""
    rng, pool = random.Random(seed), sentence_pool()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(jsonl_line(rng, pool, i, sentences) + "\n" for i in range(start, start + n)),
                    encoding="utf-8")
    return path
