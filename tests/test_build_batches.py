"""A build holds one batch of articles at a time, gives the index an unbatched build gives, and a
crash between batches leaves the previous index whole."""

from __future__ import annotations

import gc
import json
import pickle
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index import build, ingest, layout, prepare, store, vectors
from index.build import build_index
from index.engine import Engine
from index.ingest import Article

from tests.conftest import ROOT, FakeEmbedder
from tests.synth import write_jsonl

BATCH = 6_000  # characters: about six of these articles


def _alive_articles() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Article)


def test_a_build_holds_one_batch_of_articles_at_a_time(tmp_path, monkeypatch):
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    write_jsonl(corpus / "export.jsonl", 150, seed=3, sentences=6)
    texts = [json.loads(line)["text"] for line in (corpus / "export.jsonl").read_text().splitlines()]
    batches, alive = [], []
    real = build._finish

    def watched(db, batch, *args):
        batches.append((len(batch.articles), sum(len(a.text) for a, _ in batch.articles)))
        alive.append(_alive_articles())
        return real(db, batch, *args)

    class Watching(FakeEmbedder):
        def encode_documents(self, texts):
            alive.append(_alive_articles())
            return super().encode_documents(texts)

    monkeypatch.setattr(build, "_finish", watched)
    report = build_index(corpus, data, Watching(), batch_chars=BATCH)
    assert report.added == 150 and report.passages > 150
    assert all(chars <= BATCH or n == 1 for n, chars in batches)
    assert len(batches) >= sum(map(len, texts)) / BATCH and sum(n for n, _ in batches) == 150
    # Never more than the batch being written, those handed to the worker processes (one each and
    # AHEAD more), the one being read and the article read after it: not the corpus.
    held = build.default_workers() + prepare.AHEAD + 2
    assert max(alive) <= held * max(n for n, _ in batches) + 1 < 150, (max(alive), batches)
    assert not (report.path / build.SPOOL_NAME).exists()


def test_the_next_batch_is_chunked_while_one_is_embedded(tmp_path, monkeypatch):
    """The model works on one batch while the text work of the next one runs, and the batches are
    still written in order, each after its own vectors."""
    import threading
    import time

    corpus, data = tmp_path / "corpus", tmp_path / "data"
    write_jsonl(corpus / "export.jsonl", 40, seed=4, sentences=6)
    events: list[tuple[str, int]] = []
    lock = threading.Lock()
    real_prepare, real_finish = build.prepare, build._finish

    def note(what: str, n: int) -> None:
        with lock:
            events.append((what, n))

    def prepare(batch, *args):
        note("chunk", sum(1 for e in events if e[0] == "chunk"))
        return real_prepare(batch, *args)

    def finish(db, batch, *args):
        out = real_finish(db, batch, *args)
        note("written", sum(1 for e in events if e[0] == "written"))
        return out

    class Slow(FakeEmbedder):
        def encode_documents(self, texts):
            n = sum(1 for e in events if e[0] == "embed")
            note("embed", n)
            time.sleep(0.2)  # a model at work, outside the GIL
            note("embedded", n)
            return super().encode_documents(texts)

    monkeypatch.setattr(build, "prepare", prepare)
    monkeypatch.setattr(build, "_finish", finish)
    report = build_index(corpus, data, Slow(), batch_chars=BATCH, workers=1)  # in this process: watched
    assert report.added == 40
    order = {e: i for i, e in enumerate(events)}
    batches = sum(1 for e in events if e[0] == "written")
    assert batches >= 3
    for b in range(batches - 1):
        assert order[("chunk", b + 1)] < order[("embedded", b)], events  # chunked while b was embedded
        assert order[("embedded", b)] < order[("written", b)] < order[("embed", b + 1)], events
    _check(data, 40)


def _content(data: Path) -> dict:
    """Everything a question can see, keyed by article and position (not by row id)."""
    snap = Engine(data, FakeEmbedder()).snapshot()
    db = snap.db()
    passages = {(r[0], r[1]): (r[2], r[3], r[4], r[5], np.frombuffer(r[6], "<f4"))
                for r in db.execute("select article_id, seq, start, end, text_hash, terms, vector from passages")}
    sentences = {(aid, seq, start, end, store.text_hash(text[start:end])): np.frombuffer(vec, "<f2")
                 for aid, seq, text, spans, vecs in db.execute(
                     "select article_id, seq, text, sentence_spans, sentence_vectors from passages")
                 for start, end, vec in store.sentence_rows(spans, vecs)}
    articles = sorted(db.execute("select id, path, content_hash, minhash from articles"))
    ids = set(vectors.ids(snap.index).tolist())
    assert ids == {r[0] for r in db.execute("select id from passages")} and len(ids) == snap.passage_count
    check = sqlite3.connect(layout.current_build(data) / layout.DB_NAME)  # FTS holds exactly the passages
    check.execute("insert into passages_fts(passages_fts, rank) values ('integrity-check', 1)")
    check.close()
    vocab = sorted(db.execute("select term, doc, cnt from passages_fts_vocab"))
    return {"passages": passages, "sentences": sentences, "articles": articles, "vocab": vocab}


def _same(a: dict, b: dict) -> None:
    assert a["articles"] == b["articles"] and a["vocab"] == b["vocab"]
    assert a["sentences"].keys() == b["sentences"].keys()
    for key, vec in a["sentences"].items():
        assert np.allclose(vec, b["sentences"][key], atol=1e-3), key
    assert a["passages"].keys() == b["passages"].keys()
    for key, (*fields, vec) in a["passages"].items():
        *other, other_vec = b["passages"][key]
        assert fields == other and np.allclose(vec, other_vec, atol=1e-3), key


def test_batches_give_the_index_one_batch_gives_full_and_incremental(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "EXACT_BELOW", 50)  # an inverted file, trained on a sample read back in pieces
    monkeypatch.setattr(build, "VECTOR_BATCH", 7)
    monkeypatch.setattr(ingest, "PIECE_BYTES", 3000)  # the workers read the file in pieces
    corpus = tmp_path / "corpus"
    feed = write_jsonl(corpus / "export.jsonl", 60, seed=4, sentences=6)
    one, many = tmp_path / "one", tmp_path / "many"
    # One batch in this process, against many prepared by two worker processes.
    runs = ((one, 10**9, 1), (many, BATCH, 2))
    first = [build_index(corpus, d, FakeEmbedder(), batch_chars=size, workers=n) for d, size, n in runs]
    assert first[0].embedded == first[1].embedded and first[0].passages == first[1].passages
    _same(_content(one), _content(many))
    assert not vectors.is_exact(vectors.load(layout.vectors_of(first[1].path)))

    lines = [json.loads(line) for line in feed.read_text().splitlines()]
    for obj in lines[:10]:  # changed: one sentence more, the rest of their passages unchanged
        obj["text"] += " A closing sentence was added to this story later on."
    del lines[10:15]  # removed
    for obj in lines[15:20]:  # renamed: same story under a new id, nothing to embed
        obj["id"] += "-renamed"
    feed.write_text("".join(json.dumps(o) + "\n" for o in lines))
    write_jsonl(corpus / "more.jsonl", 20, seed=5, sentences=6, start=1000)  # added
    second = []
    for d, size, n in runs:
        embedder = FakeEmbedder()
        second.append((build_index(corpus, d, embedder, batch_chars=size, workers=n), embedder.texts_embedded))
    (r1, e1), (r2, e2) = second
    assert (r1.added, r1.changed, r1.removed, r1.unchanged) == (r2.added, r2.changed, r2.removed, r2.unchanged)
    assert (r1.added, r1.changed, r1.removed) == (25, 10, 10) and r1.embedded == r2.embedded == e1 == e2 > 0
    assert [str(p) for p in r1.problems] == [str(p) for p in r2.problems]
    _same(_content(one), _content(many))


def test_a_new_builds_vector_index_is_the_one_its_stored_vectors_give(tmp_path, monkeypatch):
    """Trained and filled from the vectors parked as batches are written, on another thread: the same
    index, byte for byte, as training on the database's vectors read back and adding them all."""
    import faiss

    monkeypatch.setattr(vectors, "EXACT_BELOW", 50)
    monkeypatch.setattr(build, "VECTOR_BATCH", 7)
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    write_jsonl(corpus / "export.jsonl", 60, seed=4, sentences=6)
    report = build_index(corpus, data, FakeEmbedder(), batch_chars=BATCH)
    built = vectors.load(layout.vectors_of(report.path))
    assert not vectors.is_exact(built) and not (report.path / build.VECTOR_SPOOL_NAME).exists()
    db = store.open_db(report.path / layout.DB_NAME)
    dim = int(store.get_meta_value(db, "dimension"))
    expected = vectors.new(*build._training(db, dim))
    for ids, vecs in build._stored_vectors(db, dim):
        vectors.add(expected, vecs, ids)
    assert built.ntotal == expected.ntotal == report.passages
    assert bytes(faiss.serialize_index(built)) == bytes(faiss.serialize_index(expected))


class _Exploding(FakeEmbedder):
    """Fails on its ``at``-th call."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def encode_documents(self, texts):
        if self.calls + 1 == self.at:
            raise RuntimeError("disk on fire")
        return super().encode_documents(texts)


def _count_written(monkeypatch) -> list[int]:
    """After each batch a build writes, how many articles its own (uncommitted) view holds."""
    written: list[int] = []
    real = build._finish

    def counting(db, *args, **kwargs):
        out = real(db, *args, **kwargs)
        written.append(db.execute("select count(*) from articles").fetchone()[0])
        return out

    monkeypatch.setattr(build, "_finish", counting)
    return written


def _check(data: Path, articles: int) -> None:
    engine = Engine(data, FakeEmbedder())
    snap = engine.snapshot()
    ids = set(vectors.ids(snap.index).tolist())
    assert ids == {r[0] for r in snap.db().execute("select id from passages")} and len(ids) == snap.passage_count
    assert engine.stats()["articles"] == articles


def _grow(corpus: Path) -> None:
    write_jsonl(corpus / "big.jsonl", 120, seed=7, sentences=6)


def test_a_failure_between_batches_leaves_the_previous_index_whole(tmp_path, corpus_copy, monkeypatch):
    data = tmp_path / "data"
    build_index(corpus_copy, data, FakeEmbedder())
    live = layout.live_version(data)
    files = sorted(live[0].glob(layout.VECTORS_GLOB))
    _grow(corpus_copy)
    written = _count_written(monkeypatch)
    with pytest.raises(RuntimeError, match="disk on fire"):
        build_index(corpus_copy, data, _Exploding(at=5), batch_chars=BATCH)
    assert written and written[-1] > 5, "the failure came after whole batches were written"
    assert layout.live_version(data) == live
    assert sorted(live[0].glob(layout.VECTORS_GLOB)) == files, "the update's vector file went with it"
    assert not [p for p in (data / "builds").iterdir() if p.name.startswith(layout.TMP_PREFIX)]
    _check(data, 5)
    report = build_index(corpus_copy, data, FakeEmbedder(), batch_chars=BATCH)
    assert report.added == 120 and report.unchanged == 5
    _check(data, 125)


def test_kill_9_between_batches_leaves_the_previous_index_whole(tmp_path, corpus_copy):
    data = tmp_path / "data"
    build_index(corpus_copy, data, FakeEmbedder())
    live = layout.live_version(data)
    _grow(corpus_copy)
    killed = subprocess.run([sys.executable, "-m", "tests.crash_build", str(corpus_copy), str(data), str(BATCH), "6"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    written = [int(line.split()[-1]) for line in killed.stdout.splitlines() if line.startswith("articles written")]
    assert written and written[-1] > 5, "killed after batches were written"
    assert layout.live_version(data) == live
    _check(data, 5)
    report = build_index(corpus_copy, data, FakeEmbedder(), batch_chars=BATCH)
    assert report.added == 120
    assert not [p for p in (data / "builds").iterdir() if p.name.startswith(layout.TMP_PREFIX)]
    _check(data, 125)
    assert len(list(live[0].glob(layout.VECTORS_GLOB))) <= layout.KEEP_VECTOR_FILES


def test_the_last_batches_are_cut_smaller_and_every_article_comes_once_in_order():
    """The build's pipeline drains a batch at a time on one core: its last batches' worth of text
    goes in smaller batches, so the workers share the end of the work."""
    arts = [(Article(f"a{i:03d}", "x.jsonl", "t", "w" * 100), b"") for i in range(100)]  # 100 characters each
    out = list(build._batches(iter(arts), None, 1000, total_chars=10_000))
    sizes = [sum(len(a.text) for a, _ in b) for b in out]
    assert [a.id for b in out for a, _ in b] == [a.id for a, _ in arts]
    assert sizes[:7] == [1000] * 7 and max(sizes[7:]) <= 1000 // build.TAIL_SPLIT and sum(sizes[7:]) == 3000
    assert [len(b) for b in build._batches(iter(arts), None, 1000)] == [10] * 10  # the total unknown: all full
    wanted = {a.id for a, _ in arts[::2]}  # the articles left out count as text gone by
    half = list(build._batches(iter(arts), wanted, 1000, total_chars=10_000))
    assert [a.id for b in half for a, _ in b] == sorted(wanted)
    assert max(sum(len(a.text) for a, _ in b) for b in half[-3:]) <= 1000 // build.TAIL_SPLIT


def test_the_spool_gives_back_every_article_in_order_from_blocks_of_about_its_size(tmp_path):
    spool = build._Spool(tmp_path / "a.spool", block_chars=100)
    parked = [(Article(id=f"a{i}", path="x.jsonl", title=f"t{i}", text="word " * (1 + i % 13)),
               np.full(4, i, np.uint64)) for i in range(40)]
    for article, signature in parked:
        spool.add(article, signature)
    got = list(spool.articles())
    assert [(a, sig) for a, sig in got] == [(a, s.tobytes()) for a, s in parked]
    assert spool.chars == sum(len(a.text) for a, _ in parked)
    blocks, raw = 0, (tmp_path / "a.spool").read_bytes()
    while raw:  # each block: its length, then one pickled list of about block_chars of text
        size = int.from_bytes(raw[:8], "little")
        assert sum(len(a.text) for a, _ in pickle.loads(raw[8 : 8 + size])) < 100 + 65
        raw, blocks = raw[8 + size :], blocks + 1
    assert blocks >= spool.chars // (100 + 65)
    spool.remove()
    assert not (tmp_path / "a.spool").exists()


def test_a_batchs_vectors_are_each_hashes_row_embedded_or_reused_repeated_or_not():
    rng = np.random.default_rng(1)
    embedded = {f"h{i}": rng.normal(size=8).astype(np.float32) for i in range(5)}
    reused = {"r0": rng.normal(size=8).astype(np.float16), "r1": rng.normal(size=8).astype(np.float32)}
    keys = list(embedded)
    vectors = build._Vectors(keys, [np.stack([embedded[h] for h in keys[:2]]), np.stack([embedded[h] for h in keys[2:]])],
                             reused, 8)
    every = embedded | {h: v.astype(np.float32) for h, v in reused.items()}
    for hashes in (["h0", "h3", "h0", "r0", "h4", "h3", "r1", "h3"], ["h4", "h1", "h2"], []):
        expected = np.stack([every[h] for h in hashes]) if hashes else np.zeros((0, 8), np.float32)
        full, half = vectors.full(hashes), vectors.half(hashes)
        assert full.dtype == np.dtype("<f4") and half.dtype == np.dtype("<f2")
        np.testing.assert_array_equal(full, expected)
        np.testing.assert_array_equal(half, expected.astype("<f2"))
    nothing = build._Vectors([], [], {}, 8)
    assert nothing.full([]).shape == (0, 8) and nothing.half([]).shape == (0, 8)

def test_a_build_collects_garbage_less_often_and_gives_the_process_its_own_thresholds_back(tmp_path, fake_embedder):
    import gc

    from tests.synth import write_jsonl

    class Seeing:  # the embedder, noting the collector's thresholds while the build runs
        seen: list = []

        def __getattr__(self, name):
            return getattr(fake_embedder, name)

        def encode_documents(self, texts):
            self.seen.append(gc.get_threshold())
            return fake_embedder.encode_documents(texts)

    write_jsonl(tmp_path / "corpus" / "export.jsonl", 20, seed=2)
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        build_index(tmp_path / "corpus", tmp_path / "data", Seeing(), workers=1)
        assert Seeing.seen and set(Seeing.seen) == {prepare.BUILD_GC_THRESHOLD}
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
