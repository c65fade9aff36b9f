"""The reader: a small neural model that reads a question against each candidate sentence.

Coverage and embedding similarity say whether a sentence is about the question; they cannot tell
the sentence that restates the question from the one that answers it. The reader compares the
two word by word: each sentence word attends to the question's words, a convolution and (in the
shipped weights) a bidirectional GRU read its neighbours ("the answer sits next to the matched
words"), and an answer-slot head asks whether
the sentence holds a word of the kind the question asks for. Its score is one more feature of
the sentence model (``index/answer.py``); it never decides alone.

Words are the bundled static model's token rows (the ``wordllama`` wheel), averaged per word,
plus five flags per sentence word and four per question word (exact and stemmed matches,
capitals, digits, stop words), so it reads names and numbers it never saw. It was trained by
``scripts/train_reader.py`` on SQuAD v1.1's training questions (87,599, none of them XQuAD's,
which come from SQuAD's development set); the weights are ``reader.npz`` beside this file.
Inference is numpy only; the training script's torch model is the reference it is tested
against.
"""

from __future__ import annotations

import functools
import importlib.resources
import math
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from index.terms import word_keys, words
from index.text import STOPWORDS

FORMAT = 1
WEIGHTS = "reader.npz"
MAX_WORDS = 60  # a sentence is read up to this many words
MAX_QUESTION_WORDS = 30
SENTENCE_FLAGS = 5  # matches a question word, matches its stem, capitalised inside, holds a digit, stop word
QUESTION_FLAGS = 4  # its stem is in the sentence, stop word, capitalised inside, first word
CACHE_WORDS = 200_000  # distinct words whose projected vectors are remembered


class ReaderUnavailable(RuntimeError):
    """The reader's weights or the static token table it reads words with cannot be loaded."""


def question_words(question: str) -> tuple[list[str], set[str], set[str]]:
    """The question's words (at most MAX_QUESTION_WORDS), their lower-case forms, and the keys of its content words."""
    ws = words(question)[:MAX_QUESTION_WORDS]
    keys: set[str] = set()
    for w in ws:
        if w.lower() not in STOPWORDS:
            keys.update(word_keys(w))
    return ws, {w.lower() for w in ws}, keys


def sentence_flags(ws: list[str], qlower: set[str], qkeys: set[str]) -> np.ndarray:
    """Per sentence word: ``SENTENCE_FLAGS`` 0/1 features."""
    out = np.zeros((len(ws), SENTENCE_FLAGS), np.float32)
    for j, w in enumerate(ws):
        lw = w.lower()
        stop = lw in STOPWORDS
        out[j, 0] = lw in qlower and not stop
        out[j, 1] = not stop and bool(qkeys.intersection(word_keys(w)))
        out[j, 2] = j > 0 and w[:1].isupper()
        out[j, 3] = any(c.isdigit() for c in w)
        out[j, 4] = stop
    return out


def content_keys(ws: list[str]) -> set[str]:
    """The keys of a sentence's content words."""
    out: set[str] = set()
    for w in ws:
        if w.lower() not in STOPWORDS:
            out.update(word_keys(w))
    return out


def question_flags(ws: list[str], sentence_keys: set[str]) -> np.ndarray:
    """Per question word: ``QUESTION_FLAGS`` 0/1 features against one sentence's content keys."""
    out = np.zeros((len(ws), QUESTION_FLAGS), np.float32)
    for i, w in enumerate(ws):
        stop = w.lower() in STOPWORDS
        out[i, 0] = not stop and bool(sentence_keys.intersection(word_keys(w)))
        out[i, 1] = stop
        out[i, 2] = i > 0 and w[:1].isupper()
        out[i, 3] = i == 0
    return out


@functools.lru_cache(maxsize=1)
def token_table() -> tuple[np.ndarray, Any]:
    """The bundled static model's token rows and tokenizer (from the wordllama wheel), read once."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from index.embedding import _BUNDLED_TOKENIZER, _BUNDLED_WEIGHTS

    try:
        base = importlib.resources.files("wordllama")
        tokenizer = Tokenizer.from_file(str(base.joinpath(*_BUNDLED_TOKENIZER)))
        table = load_file(str(base.joinpath(*_BUNDLED_WEIGHTS)))["embedding.weight"].astype(np.float32)
    except (OSError, ValueError, KeyError, ModuleNotFoundError) as e:
        raise ReaderUnavailable(f"cannot load the wordllama token table the reader reads words with ({e}); "
                                "run 'make install'") from None
    return table, tokenizer


def word_vector(word: str, table: np.ndarray, tokenizer: Any) -> np.ndarray:
    """The unit-length mean of the word's token rows (zeros for a word with no tokens)."""
    ids = tokenizer.encode(word, add_special_tokens=False).ids
    if not ids:
        return np.zeros(table.shape[1], np.float32)
    v = table[ids].mean(0)
    n = float(np.linalg.norm(v))
    return v / n if n else v


def _dense(x: np.ndarray, w: np.ndarray, b: np.ndarray | float = 0.0) -> np.ndarray:
    """``x @ w + b`` over the last axis, as one matrix product whatever the leading axes."""
    return (x.reshape(-1, x.shape[-1]) @ w + b).reshape(*x.shape[:-1], w.shape[1])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class Reader:
    """Scores (question, sentence) pairs; higher means likelier to hold the answer. Thread-safe."""

    def __init__(self, weights: dict[str, np.ndarray], table: np.ndarray, tokenizer: Any) -> None:
        if int(weights.get("format", np.array(0))) != FORMAT:
            raise ReaderUnavailable(f"reader weights of format {int(weights.get('format', np.array(0)))}, "
                                    f"expected {FORMAT}: retrain with scripts/train_reader.py")
        self._w = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self._dilations = [int(d) for d in weights["dilations"]]
        self._gru = "gru.weight_ih_l0" in self._w
        # A convolution's three taps side by side: (in, 3 x out).
        self._taps = [np.ascontiguousarray(np.concatenate([self._w[f"convs.{i}.weight"][:, :, k].T for k in range(3)], 1))
                      for i in range(len(self._dilations))]
        self._table = table
        self._tokenizer = tokenizer
        self._words: dict[str, np.ndarray] = {}
        self.dim = self._w["proj.weight"].shape[0]

    @classmethod
    def load(cls, path: Path | None = None) -> "Reader":
        """The reader in ``path`` (default: the weights shipped beside this module) over the wordllama token table."""
        try:
            source = path or importlib.resources.files("index").joinpath(WEIGHTS)
            with source.open("rb") as f:
                weights = dict(np.load(f))
        except (OSError, ValueError) as e:
            raise ReaderUnavailable(f"cannot load the reader's weights ({e}); run 'make install'") from None
        return cls(weights, *token_table())

    def word_vector(self, word: str) -> np.ndarray:
        return word_vector(word, self._table, self._tokenizer)

    def _projected(self, word: str) -> np.ndarray:
        v = self._words.get(word)
        if v is None:
            v = self.word_vector(word) @ self._w["proj.weight"].T + self._w["proj.bias"]
            if len(self._words) < CACHE_WORDS:
                self._words[word] = v
        return v

    def _context(self, x: np.ndarray, real: np.ndarray) -> np.ndarray:
        """Residual dilated convolutions (kernel 3) along axis -2; rows where ``real`` is False read as zeros."""
        n, d = x.shape[-2], self.dim
        for layer, dil in enumerate(self._dilations):
            xm = np.pad(x * real[..., None], [(0, 0)] * (x.ndim - 2) + [(dil, dil), (0, 0)])
            taps = _dense(xm, self._taps[layer])  # every tap in one product, then shifted and summed
            y = taps[..., :n, :d] + taps[..., dil:dil + n, d:2 * d] + taps[..., 2 * dil:2 * dil + n, 2 * d:]
            x = x + np.maximum(y + self._w[f"convs.{layer}.bias"], 0.0)
        return x

    def _recurrent(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """A residual bidirectional GRU (torch's equations) over padded rows (batch, words, d) of the given lengths."""
        if not self._gru:
            return x
        w, half = self._w, self.dim // 2
        out = []
        for suffix, steps in (("", range(x.shape[1])), ("_reverse", range(x.shape[1] - 1, -1, -1))):
            gi = _dense(x, w[f"gru.weight_ih_l0{suffix}"].T, w[f"gru.bias_ih_l0{suffix}"])
            whh, bhh = w[f"gru.weight_hh_l0{suffix}"].T, w[f"gru.bias_hh_l0{suffix}"]
            h = np.zeros((x.shape[0], half), np.float32)
            seq = np.zeros((x.shape[0], x.shape[1], half), np.float32)
            for t in steps:
                gh = h @ whh + bhh
                r = _sigmoid(gi[:, t, :half] + gh[:, :half])
                z = _sigmoid(gi[:, t, half:2 * half] + gh[:, half:2 * half])
                n = np.tanh(gi[:, t, 2 * half:] + r * gh[:, 2 * half:])
                live = (t < lengths)[:, None]  # a reversed sequence starts at its own last word
                h = np.where(live, (1 - z) * n + z * h, h)
                seq[:, t] = np.where(live, h, 0.0)
            out.append(seq)
        return x + np.concatenate(out, -1)

    def score(self, question: str, sentences: list[str]) -> np.ndarray:
        """One score per sentence (a logit: only differences between sentences of one question mean anything).

        Its matrices are small, so BLAS runs on one thread: with two, OpenBLAS's threads kept spinning
        after the call and slowed the next question's embedding (median question 17 -> 32 ms)."""
        with one_blas_thread():
            return self._score(question, sentences)

    def _score(self, question: str, sentences: list[str]) -> np.ndarray:
        """``score`` itself. The sentences' words are laid end to end, ``GAP`` zero rows apart (so no convolution
        reads across two sentences), instead of padding every sentence to the longest one."""
        qws, qlower, qkeys = question_words(question)
        if not qws or not sentences:
            return np.zeros(len(sentences), np.float32)
        w, d, gap = self._w, self.dim, max(self._dilations, default=1)
        sws = [words(s)[:MAX_WORDS] or ["."] for s in sentences]
        n_s, n_q = len(sws), len(qws)
        lengths = np.array([len(ws) for ws in sws])
        rows = int(lengths.sum()) + gap * (n_s + 1)
        at = gap + np.concatenate([[0], np.cumsum(lengths + gap)[:-1]])  # each sentence's first row
        real = np.zeros(rows, bool)
        proj_s = np.zeros((rows, d), np.float32)
        flags_s = np.zeros((rows, SENTENCE_FLAGS), np.float32)
        flags_q = np.zeros((n_s, n_q, QUESTION_FLAGS), np.float32)
        for c, ws in enumerate(sws):
            lo, hi = at[c], at[c] + len(ws)
            real[lo:hi] = True
            proj_s[lo:hi] = [self._projected(x) for x in ws]
            flags_s[lo:hi] = sentence_flags(ws, qlower, qkeys)
            flags_q[c] = question_flags(qws, content_keys(ws))
        proj_q = np.stack([self._projected(x) for x in qws])
        cs = self._context(np.tanh(proj_s + flags_s @ w["fs.weight"].T), real)
        if self._gru:  # sentence by sentence, padded to the longest
            padded = cs[np.minimum(at[:, None] + np.arange(lengths.max()), rows - 1)]
            cs = self._recurrent(padded, lengths)[np.arange(lengths.max()) < lengths[:, None]]
        else:
            cs = cs[real]  # (words, d)
        cq = self._context(np.tanh(proj_q[None] + _dense(flags_q, w["fq.weight"].T)), np.ones((n_s, n_q), bool))
        cq = self._recurrent(cq, np.full(n_s, n_q))
        owner = np.repeat(np.arange(n_s), lengths)  # the sentence of each word
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        cq_word = cq[owner]  # (words, question words, d)
        attn = np.einsum("wd,wld->wl", cs, cq_word) / math.sqrt(d)
        ctx = np.einsum("wl,wld->wd", _softmax(attn), cq_word)
        compared = np.maximum(np.concatenate([cs * ctx, cs - ctx, cs], 1) @ w["cmp.weight"].T + w["cmp.bias"], 0.0)
        importance = _softmax((cq @ w["imp.weight"].T)[..., 0] + w["imp.bias"][0])  # per question word
        qv = np.einsum("cl,cld->cd", importance, cq)[owner]
        slot = np.tanh(np.concatenate([cs, qv, cs * qv], 1) @ w["slot.weight"].T + w["slot.bias"]) @ w["slot_v.weight"][0]
        slot = np.maximum.reduceat(slot, starts)
        cov = (np.maximum.reduceat(attn, starts) * importance).sum(-1)
        top = np.maximum.reduceat(compared, starts)
        mean = np.add.reduceat(compared, starts) / lengths[:, None]
        hidden = np.maximum(np.concatenate([top, mean, slot[:, None], cov[:, None]], 1) @ w["out1.weight"].T
                            + w["out1.bias"], 0.0)
        return (hidden @ w["out2.weight"].T + w["out2.bias"])[:, 0]


@functools.lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread (for small matrices, where a second one only spins)."""
    return _blas().limit(limits=1, user_api="blas")


@functools.lru_cache(maxsize=1)
def bundled() -> Reader:
    """The shipped reader, loaded once per process (weights and token table are read-only)."""
    return Reader.load()
