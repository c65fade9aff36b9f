"""The bundled static model encoded without sentence-transformers' tokenizer pass: the same vectors."""

from __future__ import annotations

import json
import numpy as np

from index.chunking import split_sentences
from index.static_encoder import StaticEncoder

from tests.conftest import ROOT

XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad" / "xquad.en.json"


def _texts() -> list[str]:
    texts = []
    for path in sorted((ROOT / "corpus").iterdir()):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            texts += [text, *(text[s.start : s.end] for s in split_sentences(text))]
    texts += ["", " ", "\n\n", "a", "  two  spaces  ", "Who was detained in Moscow in October?",
              "Кого задержали в Москве в октябре?", "emoji 😀, CJK 東京, combining é, NBSP\u00a0here",
              "<s>special</s> <unk>", "\u2581 written \u2581\u2581 out", "x" * 20_000, "word " * 3_000]
    if XQUAD.exists():
        data = json.loads(XQUAD.read_text(encoding="utf-8"))
        for article in data["data"][:10]:
            for p in article["paragraphs"]:
                texts += [p["context"], *(q["question"] for q in p["qas"])]
    return texts


def test_vectors_equal_sentence_transformers(real_embedder):
    model = real_embedder.model
    fast = StaticEncoder.for_model(model)
    assert fast is not None and real_embedder._static is not None  # the bundled model takes the fast path
    texts = _texts()
    expected = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    got = fast.encode(texts)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-6
    again = fast.encode(texts)  # from the word cache now
    assert np.array_equal(again, got)
    assert fast.encode([]).shape == (0, real_embedder.dim)


def test_other_models_are_left_to_sentence_transformers(real_embedder):
    from tokenizers import Tokenizer

    module = real_embedder.model[0]
    spec = json.loads(module.tokenizer.to_str())
    spec["pre_tokenizer"] = {"type": "Whitespace"}
    other = Tokenizer.from_str(json.dumps(spec))

    class Model(list):
        prompts: dict = {}
        default_prompt_name = None

        def encode(self, *args, **kwargs):
            raise AssertionError("not probed: the tokenizer was refused first")

    class Static:
        tokenizer = other

    Static.__name__ = "StaticEmbedding"
    assert StaticEncoder.for_model(Model([Static()])) is None  # a pre-tokenizer: not the checked shape
    assert StaticEncoder.for_model(Model([object()])) is None  # not a token table
    prompted = Model([module])
    prompted.prompts = {"query": "query: "}
    assert StaticEncoder.for_model(prompted) is None  # a prompt: sentence-transformers adds it


def test_a_model_that_differs_on_the_probes_is_refused(real_embedder, caplog):
    model = real_embedder.model

    class Off(list):
        prompts: dict = {}
        default_prompt_name = None

        def encode(self, texts, **kwargs):
            return model.encode(texts, **kwargs) + 0.01

    assert StaticEncoder.for_model(Off(list(model))) is None
    assert "differs" in caplog.text


def test_words_beyond_the_cache_and_special_texts_are_encoded_alike_and_not_kept(real_embedder, monkeypatch):
    import index.static_encoder as se

    fast = StaticEncoder.for_model(real_embedder.model)
    texts = _texts()[:60] + ["<s>special</s> again", "fresh words never seen before: zyxw qwvu", ""]
    expected = fast.encode(texts)
    monkeypatch.setattr(se, "CACHE_PIECES", 50)  # most words pass through uncached
    small = StaticEncoder.for_model(real_embedder.model)
    assert len(small._number) <= 50
    for _ in range(2):
        assert np.abs(small.encode(texts) - expected).max() < 1e-6
        assert len(small._number) == 50 and len(small._start) == 50
        assert len(small._tokens) == int(small._start[-1] + small._length[-1])
    assert small.token_ids("two words") == fast.token_ids("two words") and fast.token_ids("") == []


def test_callers_on_many_threads_get_the_vectors_one_caller_gets(real_embedder):
    """A static model is encoded on the caller's thread, one caller at a time: threads meeting new
    words together must not mix up the word table."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"thread{t} word{t}x{i} and unseen{t}y{i} alike, number {t * 100 + i}" for t in range(8) for i in range(40)]
    expected = StaticEncoder.for_model(real_embedder.model).encode(texts)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda t: real_embedder.encode_queries([t])[0], texts))
    assert np.abs(np.stack(got) - expected).max() < 1e-6
