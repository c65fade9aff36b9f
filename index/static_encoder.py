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
        self._cache: dict[str, tuple[int, ...]] = {}
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

    def token_ids(self, text: str) -> tuple[int, ...] | list[int]:
        """The ids the model's tokenizer gives ``text`` (without special tokens)."""
        if not text:
            return ()  # the normalizer prepends nothing to nothing
        if self._added and any(t in text for t in self._added):
            return self._tokenizer.encode(text, add_special_tokens=False).ids  # a special token written out
        cache, out = self._cache, []
        for piece in _PIECE.findall(SPACE + text.replace(" ", SPACE)):
            ids = cache.get(piece)
            if ids is None:
                ids = tuple(t.id for t in self._bpe.tokenize(piece))
                if len(cache) < CACHE_PIECES:
                    cache[piece] = ids
            out.extend(ids)
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (zeros for a text with no tokens)."""
        import torch

        if not texts:
            return np.zeros((0, self._module.embedding_dim), dtype=np.float32)
        flat: list[int] = []
        offsets = np.zeros(len(texts), dtype=np.int64)
        for i, text in enumerate(texts):
            offsets[i] = len(flat)
            flat.extend(self.token_ids(text))
        if not self._one_thread:
            # One intra-op thread. Each encode is a few small operations, and between them torch's OpenMP
            # threads spin waiting for the next: 2.4 s of a 100k-passage build's CPU, on a core the build's
            # workers needed (build 40.8 s -> 38.1 s). A question's few tokens gain nothing from a second
            # thread either. Process-wide, so set only when a static model is in use (no other torch work).
            torch.set_num_threads(1)
            self._one_thread = True
        with torch.inference_mode():
            vectors = self._module.embedding(torch.tensor(flat, dtype=torch.long), torch.from_numpy(offsets))
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return np.ascontiguousarray(vectors.numpy(), dtype=np.float32)
