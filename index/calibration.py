"""Confidence: the probability that a quoted answer holds what was asked, from a logistic model.

The model is fitted on held-out questions by ``scripts/calibrate.py`` (XQuAD questions whose
paragraph is in the index, questions whose paragraph is not, questions asked in Russian, and
questions asked of the news corpus that it cannot answer); the coefficients for each bundled
embedding model live in ``calibration.json`` beside this file. Similarities mean different
things under different models, so an unknown model falls back to coefficients fitted without
the similarity features (``"*"``).
"""

from __future__ import annotations

import functools
import json
import math
from importlib import resources
from typing import Any

FEATURES = ("cov", "passage_cov", "dense", "best_dense", "kind", "matched", "asked_kind", "cross_lingual",
            "p_best", "p_second", "read_best")
# The sentence model: the chance that one candidate sentence holds the answer (scripts/fit_sentences.py).
SENTENCE_FEATURES = ("cov", "pcov", "dnorm", "dgap", "rank", "kind", "askedkind", "novel", "pronoun", "date",
                     "matched", "lcov", "lnorm", "cnorm", "pairs", "prevcov", "nextcov", "length", "first", "sdate",
                     "coref", "head", "reader", "rgap")
_SENTENCE_DEFAULT = {"bias": -6.48, "weights": {"cov": 3.0, "pcov": -1.28, "dnorm": 4.0, "dgap": 1.8, "rank": 2.5,
                                                "kind": 1.38, "askedkind": -1.08}}
DENSE_FEATURES = ("dense", "best_dense")
DEFAULT_THRESHOLD = 0.5


def features(**values: float) -> dict[str, float]:
    """The feature vector of one answer (missing features are 0)."""
    unknown = set(values) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown calibration features: {sorted(unknown)}")
    return {f: float(values.get(f, 0.0)) for f in FEATURES}


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    try:
        return json.loads(resources.files("index").joinpath("calibration.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _entry(model: str) -> dict[str, Any]:
    table = _table()
    return table.get(model) or table.get("*") or {"bias": -2.0, "weights": {"cov": 5.0, "passage_cov": 2.0},
                                                   "threshold": DEFAULT_THRESHOLD}


def sentence_entry(model: str) -> dict[str, Any]:
    """The sentence model fitted for ``model`` (or for every model, ``"*"``)."""
    table = _table().get("sentence", {})
    return table.get(model) or table.get("*") or _SENTENCE_DEFAULT


def score(entry: dict[str, Any], x: dict[str, float]) -> float:
    z = float(entry.get("bias", 0.0)) + sum(float(w) * x.get(f, 0.0) for f, w in entry.get("weights", {}).items())
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def confidence(model: str, x: dict[str, float]) -> float:
    """P(the answer holds what was asked) under ``model``'s fitted coefficients."""
    return score(_entry(model), x)


def threshold(model: str) -> float:
    """Below this confidence the engine declines instead of quoting."""
    return float(_entry(model).get("threshold", DEFAULT_THRESHOLD))


def fit(rows: list[dict[str, float]], labels: list[int], use: tuple[str, ...] = FEATURES,
        l2: float = 1e-2, steps: int = 500) -> dict[str, Any]:
    """Logistic regression by Newton's method (few features, so exact and fast); returns an entry."""
    import numpy as np

    X = np.array([[r[f] for f in use] + [1.0] for r in rows], dtype=float)
    y = np.array(labels, dtype=float)
    w = np.zeros(X.shape[1])
    reg = l2 * np.eye(X.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ w, -40, 40)))
        grad = X.T @ (p - y) + reg @ w
        hess = (X * (p * (1 - p))[:, None]).T @ X + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return {"bias": round(float(w[-1]), 4), "weights": {f: round(float(v), 4) for f, v in zip(use, w[:-1])}}
