"""Fit the sentence model: the chance that a candidate sentence holds the answer to a question.

Questions are XQuAD's and a Russian XQuAD file's with the same ids (--ru; the shipped
benchmarks/xquad-ru by default): its questions over its own paragraphs, and Russian questions
over the English ones (--ru-questions). For every question whose answer occurs in
a candidate sentence, each candidate is a row labelled by whether it holds the gold answer;
a logistic model is fitted on the questions of even-numbered paragraphs and its top-1 accuracy
reported on the odd ones, then refitted on all and written to index/calibration.json under
"sentence" (the default model's fit also under "*", for models without a fit of their own).
Run scripts/calibrate.py after it: the answer confidence reads these chances.

    python scripts/fit_sentences.py --model multilingual-e5-small --write
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from calibrate import RU, RU_QUESTIONS, XQUAD, _engine  # noqa: E402
from index import answer, calibration, search, store  # noqa: E402
from index.embedding import E5, canonical_name, load_embedder  # noqa: E402
from index.evaluate import _norm, load_squad  # noqa: E402
from index.query import analyse  # noqa: E402


def rows_for(engine, items, group: str) -> list:
    """``(group, fold, features per candidate, labels)`` for each question with the answer among them."""
    snap = engine.snapshot()
    db = snap.db()
    vectors = engine.embedder.encode_queries([i.question for i in items])
    out = []
    for item, qvec in zip(items, vectors):
        query = analyse(item.question, lambda keys: store.key_frequencies(db, keys), snap.passage_count,
                        snap.vocabulary)
        hits = search.hybrid_search(db, snap.index, qvec, query, 10)
        if not hits:
            continue
        citations = [answer.Citation(n=i + 1, article_id=h.article_id, title=h.title, source=h.source,
                                     published=h.published, date_text=h.date_text, url=h.url, text=h.text,
                                     start=h.start, end=h.end, score=h.score, passage_id=h.passage_id,
                                     article_dated=h.article_date_match) for i, h in enumerate(hits)]
        kind = answer.expected_kind(item.question)
        sentences = store.sentences_of(db, [h.passage_id for h in hits[: answer.SENTENCE_PASSAGES]])
        cands = answer._candidates(query, citations, sentences, qvec, engine.embedder.encode_documents, kind)
        if not cands:
            continue
        pcov = [answer.coverage(query, c.text, c.article_dated) for c in citations[: answer.SENTENCE_PASSAGES]]
        labels = [int(any(_norm(a) and _norm(a) in _norm(c.text) for a in item.answers)) for c in cands]
        if any(labels):
            fold = int(item.article_id.rsplit("-", 1)[1]) % 2
            out.append((group, fold, answer.sentence_features(query, cands, pcov, hits, kind), labels))
    return out


def top1(entry: dict, rows: list) -> float:
    picks = [r[3][int(np.argmax([calibration.score(entry, x) for x in r[2]]))] for r in rows]
    return sum(picks) / len(picks) if picks else 0.0


def fit(rows: list) -> dict:
    xs = [x for r in rows for x in r[2]]
    ys = [y for r in rows for y in r[3]]
    return calibration.fit(xs, ys, calibration.SENTENCE_FEATURES, l2=1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get("NEWSQA_EMBEDDING_MODEL", "multilingual-e5-small"))
    ap.add_argument("--squad", type=Path, default=XQUAD)
    ap.add_argument("--ru", type=Path, default=RU, help="Russian XQuAD file with the same question ids (default: the shipped proxy)")
    ap.add_argument("--ru-questions", type=Path, default=RU_QUESTIONS,
                    help="Russian questions asked of the English paragraphs (default: all 1,190, shipped)")
    ap.add_argument("--cache", type=Path, help="keep the built indexes here and reuse them")
    ap.add_argument("--write", action="store_true", help="write the model into index/calibration.json")
    args = ap.parse_args()
    model = canonical_name(args.model)
    embedder = load_embedder(model)
    rows_en, items_en = load_squad(args.squad)
    data: list = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.cache / model if args.cache else Path(tmp)
        full = _engine(rows_en, base / "full", embedder)
        data += rows_for(full, items_en, "en")
        if args.ru:
            data += rows_for(full, load_squad(args.squad, args.ru_questions)[1], "ru>en")
            rows_ru, items_ru = load_squad(args.ru)
            data += rows_for(_engine(rows_ru, base / "ru", embedder), items_ru, "ru")
    entry = fit([r for r in data if r[1] == 0])
    held = [r for r in data if r[1] == 1]
    for group in sorted({r[0] for r in data}):
        print(f"{group:6s} held-out top-1 sentence holds the answer: {top1(entry, [r for r in held if r[0] == group]):.3f}")
    final = fit(data)
    print(json.dumps(final, indent=1))
    if args.write:
        path = ROOT / "index" / "calibration.json"
        table = json.loads(path.read_text()) if path.exists() else {}
        table.setdefault("sentence", {})[model] = final
        if model == E5 or "*" not in table["sentence"]:  # any other model reads the default model's fit
            table["sentence"]["*"] = final
        path.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
