"""Fit the confidence model (index/calibration.json) for one embedding model on held-out questions.

Positives and negatives come from real questions, answered with abstention switched off:

- XQuAD questions over all 240 paragraphs (label: the answer shown holds the gold answer);
- XQuAD questions of one half of the articles over an index of the other half (label 0: the
  answer is not in the index, but the questions are of the same kind);
- XQuAD questions over the shipped news corpus (label 0);
- a Russian XQuAD file with the same ids (--ru; the shipped benchmarks/xquad-ru by default):
  Russian questions over the English paragraphs (--ru-questions) and over its own paragraphs, and its other half over the first half (label 0).

The fit uses the articles with even index; the figures printed are for the odd ones (held out),
then the final coefficients are fitted on everything and written.

    python scripts/calibrate.py --model multilingual-e5-small
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from index import calibration  # noqa: E402
from index.build import build_index  # noqa: E402
from index.embedding import canonical_name, load_embedder  # noqa: E402
from index.engine import Engine  # noqa: E402
from index.evaluate import is_hit, load_squad  # noqa: E402

XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad" / "xquad.en.json"
RU = ROOT / "benchmarks" / "xquad-ru" / "xquad.ru-proxy.json"
RU_QUESTIONS = ROOT / "benchmarks" / "xquad-ru" / "questions.ru.json"


def _engine(rows: list[dict], folder: Path, embedder) -> Engine:
    src = folder / "corpus"
    src.mkdir(parents=True, exist_ok=True)
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    target = src / "articles.jsonl"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    build_index(src, folder / "data", embedder)
    return Engine(folder / "data", embedder, min_confidence=0.0)


def _engine_dir(corpus: Path, folder: Path, embedder) -> Engine:
    build_index(corpus, folder / "data", embedder)
    return Engine(folder / "data", embedder, min_confidence=0.0)


def _collect(engine: Engine, items, label_fn, group: str, out: list) -> None:
    for item in items:
        result = engine.ask(item.question, k=10)
        if result.features:
            out.append((group, item.article_id or "", result.features, int(label_fn(item, result))))


def _half(article_id: str, titles: list[str]) -> int:
    return titles.index(article_id.rsplit("-", 1)[0]) % 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get("NEWSQA_EMBEDDING_MODEL", "wordllama"))
    ap.add_argument("--squad", type=Path, default=XQUAD)
    ap.add_argument("--ru", type=Path, default=RU, help="Russian XQuAD file with the same question ids (default: the shipped proxy)")
    ap.add_argument("--ru-questions", type=Path, default=RU_QUESTIONS,
                    help="Russian questions asked of the English paragraphs (default: all 1,190, shipped)")
    ap.add_argument("--decline", type=float, default=0.95, help="share of unanswerable questions to decline")
    ap.add_argument("--write", action="store_true", help="write the coefficients into index/calibration.json")
    ap.add_argument("--cache", type=Path, help="keep the built indexes here and reuse them (only answers change)")
    args = ap.parse_args()
    model = canonical_name(args.model)
    embedder = load_embedder(model)
    started = time.time()
    rows_en, items_en = load_squad(args.squad)
    titles = list(dict.fromkeys(r["id"].rsplit("-", 1)[0] for r in rows_en))
    data: list = []
    with tempfile.TemporaryDirectory() as tmp:
        t = args.cache / model if args.cache else Path(tmp)
        full = _engine(rows_en, t / "full", embedder)
        _collect(full, items_en, lambda i, r: is_hit(r, i.answers), "en", data)
        for side in (0, 1):
            keep = [r for r in rows_en if _half(r["id"], titles) == side]
            other = [i for i in items_en if _half(i.article_id, titles) != side]
            half = _engine(keep, t / f"half{side}", embedder)
            _collect(half, other, lambda i, r: False, "en-absent", data)
            if args.ru:
                _, ru_items = load_squad(args.squad, args.ru_questions)
                _collect(half, [i for i in ru_items if _half(i.article_id, titles) != side], lambda i, r: False,
                         "ru-absent", data)
        news = _engine_dir(ROOT / "corpus", t / "news", embedder)
        _collect(news, items_en, lambda i, r: False, "en-news", data)
        if args.ru:
            _, ru_over_en = load_squad(args.squad, args.ru_questions)
            _collect(full, ru_over_en, lambda i, r: is_hit(r, i.answers), "ru>en", data)
            rows_ru, items_ru = load_squad(args.ru)
            ru = _engine(rows_ru, t / "ru", embedder)
            _collect(ru, items_ru, lambda i, r: is_hit(r, i.answers), "ru", data)
            _collect(news, ru_over_en, lambda i, r: False, "ru-news", data)
    print(f"{len(data)} answers collected in {time.time() - started:.0f}s", file=sys.stderr)

    use = calibration.FEATURES if model in ("wordllama", "multilingual-e5-small", "use-multilingual") else \
        tuple(f for f in calibration.FEATURES if f not in calibration.DENSE_FEATURES)
    # Held out: the questions of odd-numbered paragraphs (every article and every group has some).
    fold = [int(aid.rsplit("-", 1)[1]) % 2 if aid.rsplit("-", 1)[-1].isdigit() else len(aid) % 2
            for _, aid, _, _ in data]
    train = [d for d, f in zip(data, fold) if f == 0]
    test = [d for d, f in zip(data, fold) if f == 1]
    entry = calibration.fit([d[2] for d in train], [d[3] for d in train], use)
    entry["threshold"] = _threshold(entry, train, args.decline)
    print("held-out (odd articles), fitted on even ones:")
    _report(entry, test)
    final = calibration.fit([d[2] for d in data], [d[3] for d in data], use)
    final["threshold"] = _threshold(final, data, args.decline)
    print("all questions, final fit:")
    _report(final, data)
    print(json.dumps({model: final}, indent=1))
    if args.write:
        path = ROOT / "index" / "calibration.json"
        table = json.loads(path.read_text()) if path.exists() else {}
        table[model] = final
        if model == "wordllama" or "*" not in table:
            no_dense = tuple(f for f in calibration.FEATURES if f not in calibration.DENSE_FEATURES)
            star = calibration.fit([d[2] for d in data], [d[3] for d in data], no_dense)
            star["threshold"] = _threshold(star, data, args.decline)
            table["*"] = star
        path.write_text(json.dumps(table, indent=1) + "\n")
        print(f"wrote {path}", file=sys.stderr)


def _threshold(entry: dict, data: list, decline: float) -> float:
    """The lowest confidence that still declines ``decline`` of the questions with no answer in the index."""
    neg = sorted(calibration.score(entry, d[2]) for d in data if d[0].endswith(("absent", "news")))
    if not neg:
        return calibration.DEFAULT_THRESHOLD
    return round(neg[min(len(neg) - 1, int(decline * len(neg)))], 4)


def _report(entry: dict, data: list) -> None:
    groups = sorted({d[0] for d in data})
    t = entry["threshold"]
    for g in groups:
        rows = [d for d in data if d[0] == g]
        conf = [calibration.score(entry, d[2]) for d in rows]
        answered = [c >= t for c in conf]
        if g.endswith(("absent", "news")):
            print(f"  {g:10s} n={len(rows):5d} declined={1 - sum(answered) / len(rows):.3f}")
        else:
            hits = sum(1 for a, d in zip(answered, rows) if a and d[3])
            print(f"  {g:10s} n={len(rows):5d} answered={sum(answered) / len(rows):.3f} answer-hit={hits / len(rows):.3f}"
                  f" (ceiling {sum(d[3] for d in rows) / len(rows):.3f})")
    conf = [calibration.score(entry, d[2]) for d in data]
    labels = [d[3] for d in data]
    brier = sum((c - y) ** 2 for c, y in zip(conf, labels)) / len(data)
    print(f"  Brier {brier:.3f}; reliability (predicted -> observed):")
    for lo in (0.0, 0.2, 0.4, 0.6, 0.8):
        sel = [y for c, y in zip(conf, labels) if lo <= c < lo + 0.2 or (lo == 0.8 and c == 1.0)]
        if sel:
            print(f"    {lo:.1f}-{lo + 0.2:.1f}: {sum(sel) / len(sel):.3f} of {len(sel)}")


if __name__ == "__main__":
    main()
