"""A static model's vectors without its tokenizer's per-text pass: the same numbers, a third of the time.

A static sentence-transformers model (``StaticEmbedding``: the bundled wordllama, model2vec-style
models) is a token table averaged over a text's tokens, so nearly all of its cost is
tokenizing. The bundled tokenizer is SentencePiece-style BPE run over the whole text at once
(a ``▁`` for every space, no pre-tokenizer), which gives the tokenizer's word cache nothing to
hold and builds an offsets-tracking encoding per text. No token of its vocabulary holds a
``▁`` after another character, so no merge ever crosses the start of a word: the text's
tokens are its words' tokens one after the other, and each distinct word is tokenized once
and remembered. The token rows are then averaged by the model's own ``EmbeddingBag``.

:meth:`StaticEncoder.for_model` takes a model only when this is exactly its arithmetic
(checked on the tokenizer's definition, then on probe texts against ``model.encode``); any
other model is encoded by sentence-transformers as before.
"""

from __future__ import annotations

import json
import logging
import re
from itertools import chain, repeat
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SPACE = "\u2581"  # what the normalizer writes for a space and in front of the text
_PIECE = re.compile(f"{SPACE}*[^{SPACE}]+|{SPACE}+")  # a word with the spaces before it (or trailing spaces)
_MERGE_ACROSS = re.compile(f"[^{SPACE}]{SPACE}")  # a token that would join a word to the next
CACHE_PIECES = 300_000  # distinct words remembered (the frequent ones come first); others are tokenized each time
PROBES = ("", " ", "The Kremlin said on Tuesday  that talks   would resume.", "  leading and trailing  ",
          "Дмитрий Пегов задержан в Москве 21 октября 2015 года.", "tabs\tand\nnew lines\n\n", "naïve café 東京 😀",
          "<s> a literal special token </s>", SPACE + "marks" + SPACE * 3 + "inside")


def _metaspace_bpe(spec: dict[str, Any]) -> bool:
    """Whether a tokenizer definition is SentencePiece-style BPE that never merges across words."""
    norm = spec.get("normalizer") or {}
    steps = norm.get("normalizers") if norm.get("type") == "Sequence" else None
    expected = [{"type": "Prepend", "prepend": SPACE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]
    model = spec.get("model") or {}
    vocab = model.get("vocab")
    return (steps == expected and spec.get("pre_tokenizer") is None and model.get("type") == "BPE"
            and not model.get("dropout") and isinstance(vocab, dict)
            and not any(_MERGE_ACROSS.search(token) for token in vocab))


class StaticEncoder:
    """Encodes texts as ``model.encode(texts, normalize_embeddings=True)`` does, for a model
    :meth:`for_model` accepted. Not thread-safe: one caller at a time (the embedder's own thread)."""

    def __init__(self, module: Any, added_tokens: list[str]) -> None:
        self._module = module
        self._tokenizer = module.tokenizer
        self._bpe = module.tokenizer.model
        self._added = tuple(t for t in added_tokens if t)
        # The words met so far: a word (what follows its piece's first space) -> its number; the
        # numbers' token ids lie end to end in ``_tokens``, from ``_start`` for ``_length``.
        self._number: dict[str, int] = {}
        self._tokens = np.zeros(0, dtype=np.int64)
        self._start = np.zeros(0, dtype=np.int64)
        self._length = np.zeros(0, dtype=np.int64)
        self._one_thread = False

    @classmethod
    def for_model(cls, model: Any) -> "StaticEncoder | None":
        """An encoder for ``model`` if it is a token table whose tokenizer splits at words; else None."""
        try:
            modules = list(model)
        except TypeError:
            return None
        if not modules or type(modules[0]).__name__ != "StaticEmbedding" \
                or any(type(m).__name__ != "Normalize" for m in modules[1:]):
            return None
        if any((getattr(model, "prompts", None) or {}).values()) or getattr(model, "default_prompt_name", None):
            return None  # a prompt is text the model adds; leave that to sentence-transformers
        try:
            spec = json.loads(modules[0].tokenizer.to_str())
        except (AttributeError, TypeError, ValueError):
            return None
        if not _metaspace_bpe(spec):
            return None
        encoder = cls(modules[0], [t.get("content", "") for t in spec.get("added_tokens") or []])
        expected = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        got = encoder.encode(list(PROBES))
        if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-6):
            log.warning("the static model's fast encoding differs from sentence-transformers'; not using it")
            return None
        return encoder

    def token_ids(self, text: str) -> list[int]:
        """The ids the model's tokenizer gives ``text`` (without special tokens)."""
        flat, _ = self._flat([text])
        return flat.tolist()

    def _words(self, text: str) -> list[str]:
        """``text`` as the tokenizer's pieces (a word with the spaces before it), each without its first
        space; a text of single spaces between words is simply split at them."""
        if not text:
            return []  # the normalizer prepends nothing to nothing
        if "  " in text or text[0] == " " or text[-1] == " " or SPACE in text:
            return [piece[1:] for piece in _PIECE.findall(SPACE + text.replace(" ", SPACE))]
        return text.split(" ")

    def _flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(token ids of all the texts end to end, where each text's begin)``. Each distinct word is
        tokenized once and numbered; all the texts' words are looked up at once, and their token ids
        gathered by numpy (a Python loop over words was most of a build's embedding time)."""
        words: list[str] = []
        counts = np.zeros(len(texts), dtype=np.int64)
        special: dict[int, tuple[int, ...]] = {}  # a text that writes out a special token: tokenized whole,
        for i, text in enumerate(texts):          # as one word (at this place in ``words``)
            if self._added and any(t in text for t in self._added):
                special[len(words)] = tuple(self._tokenizer.encode(text, add_special_tokens=False).ids)
                words.append("")
                counts[i] = 1
            else:
                got = self._words(text)
                words += got
                counts[i] = len(got)
        number = np.fromiter(map(self._number.get, words, repeat(-1)), dtype=np.int64, count=len(words))
        kept = len(self._start)
        if special or (number < 0).any():
            kept = self._number_new(words, number, special)
        lengths = self._length[number]
        ends = np.cumsum(lengths)
        total = int(ends[-1]) if len(ends) else 0
        flat = self._tokens[np.arange(total) + np.repeat(self._start[number] - (ends - lengths), lengths)]
        offsets = np.r_[0, ends][np.cumsum(counts) - counts]  # each text's first token
        if kept < len(self._start):  # words beyond the cache's size, and special texts: not kept
            self._tokens = self._tokens[: int(self._start[kept])]
            self._start, self._length = self._start[:kept], self._length[:kept]
        return flat, offsets

    def _number_new(self, words: list[str], number: np.ndarray, special: dict[int, tuple[int, ...]]) -> int:
        """Number (in ``number``, in place; -1: not met before) the words met for the first time, and the
        ``special`` texts (by their place in ``words``). The first ``CACHE_PIECES`` words met keep their
        numbers; the others, and the special texts, are numbered after them for this call only.
        Returns how many numbers are kept."""
        at = len(self._start)
        kept: list[tuple[int, ...]] = []
        passing: list[tuple[int, ...]] = list(special.values())
        passing_at = dict(zip(special, range(len(special))))  # place in ``words``: index into ``passing``
        passing_words: dict[str, int] = {}
        for i in np.flatnonzero(number < 0).tolist():
            if i in special:
                continue
            word = words[i]
            found = self._number.get(word)  # met earlier in this loop
            if found is None:
                if len(self._number) < CACHE_PIECES:
                    found = self._number[word] = at + len(kept)
                    kept.append(self._ids(word))
                else:
                    if word not in passing_words:
                        passing_words[word] = len(passing)
                        passing.append(self._ids(word))
                    passing_at[i] = passing_words[word]
                    continue
            number[i] = found
        for i, k in passing_at.items():
            number[i] = at + len(kept) + k
        new = kept + passing
        lengths = np.fromiter(map(len, new), dtype=np.int64, count=len(new))
        self._start = np.concatenate([self._start, len(self._tokens) + np.cumsum(lengths) - lengths])
        self._length = np.concatenate([self._length, lengths])
        self._tokens = np.concatenate([self._tokens, np.fromiter(chain.from_iterable(new), dtype=np.int64)])
        return at + len(kept)

    def _ids(self, word: str) -> tuple[int, ...]:
        return tuple(t.id for t in self._bpe.tokenize(SPACE + word))

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (zeros for a text with no tokens)."""
        import torch

        if not texts:
            return np.zeros((0, self._module.embedding_dim), dtype=np.float32)
        flat, offsets = self._flat(texts)
        if not self._one_thread:
            # One intra-op thread. Each encode is a few small operations, and between them torch's OpenMP
            # threads spin waiting for the next: 2.4 s of a 100k-passage build's CPU, on a core the build's
            # workers needed (build 40.8 s -> 38.1 s). A question's few tokens gain nothing from a second
            # thread either. Process-wide, so set only when a static model is in use (no other torch work).
            torch.set_num_threads(1)
            self._one_thread = True
        with torch.inference_mode():
            vectors = self._module.embedding(torch.from_numpy(flat), torch.from_numpy(offsets))
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)
