"""Building and updating an index: incremental, loses nothing, one writer, model changes."""

import os

import numpy as np
import pytest

from index import build, layout, store
from index.build import build_index
from index.engine import Engine
from index.errors import IndexBusy, IndexMismatch

from tests.conftest import FakeEmbedder


def _counts(data):
    engine = Engine(data, FakeEmbedder())
    snap = engine.snapshot()
    return engine.stats()["articles"], snap.passage_count, snap.index.ntotal


def test_incremental_update_embeds_only_what_changed(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    first = build_index(corpus_copy, data, fake_embedder)
    assert (first.added, first.embedded) == (5, fake_embedder.texts_embedded)
    assert first.passages < first.embedded, "passages and their sentences are embedded once each"
    assert build_index(corpus_copy, data, fake_embedder).up_to_date

    fake_embedder.texts_embedded = 0
    path = corpus_copy / "004_d046a75599c10844.txt"
    path.write_text(path.read_text() + "\n\nA new closing paragraph about the video was added later.\n")
    (corpus_copy / "002_268e4578f94adf6e.txt").unlink()
    (corpus_copy / "new_article.txt").write_text("A brand new article headline here\n\nIt says one new thing.")
    report = build_index(corpus_copy, data, fake_embedder)
    assert (report.added, report.changed, report.removed, report.unchanged) == (1, 1, 1, 3)
    assert 1 <= fake_embedder.texts_embedded <= 4, "only the new and the changed passages (and sentences) are embedded"
    articles, passages, vectors = _counts(data)
    assert articles == 5 and passages == vectors


def test_renamed_article_reuses_its_vectors(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    fake_embedder.texts_embedded = 0
    os.rename(corpus_copy / "000_937d8e2a258eedac.txt", corpus_copy / "renamed.txt")
    report = build_index(corpus_copy, data, fake_embedder)
    assert (report.added, report.removed) == (1, 1) and fake_embedder.texts_embedded == 0


def test_a_file_that_becomes_unreadable_keeps_its_previous_version(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    (corpus_copy / "001_eede6903985e59b8.txt").write_bytes(b"\xff\xfe\x00garbage")
    report = build_index(corpus_copy, data, fake_embedder)
    assert report.kept == 1 and report.removed == 0
    assert "001_eede6903985e59b8.txt" in str(report.problems[0])
    engine = Engine(data, fake_embedder)
    assert engine.article("001_eede6903985e59b8") is not None


def test_a_failed_build_leaves_the_previous_index_serving(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    before = layout.current_build(data)

    class Exploding(FakeEmbedder):
        def encode_documents(self, texts):
            raise RuntimeError("disk on fire")

    (corpus_copy / "extra.txt").write_text("An extra article headline here\n\nMore text.")
    with pytest.raises(RuntimeError):
        build_index(corpus_copy, data, Exploding())
    assert layout.current_build(data) == before
    assert not [p for p in (data / "builds").iterdir() if p.name.startswith(layout.TMP_PREFIX)]
    assert _counts(data)[0] == 5


def test_interrupted_build_folders_are_cleaned_by_the_next_build(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    leftover = layout.new_build_dir(data)
    (leftover / "newsqa.db").write_bytes(b"half written")
    (corpus_copy / "extra.txt").write_text("An extra article headline here\n\nMore text.")
    build_index(corpus_copy, data, fake_embedder)
    assert not leftover.exists()


def test_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    with layout.WriterLock(data):
        with pytest.raises(IndexBusy, match="being written by pid"):
            build_index(corpus_copy, data, fake_embedder)
    assert build_index(corpus_copy, data, fake_embedder).added == 5  # the lock died with its holder


def test_changing_the_model_rebuilds_and_a_mismatched_engine_refuses(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)

    class Other(FakeEmbedder):
        name = "another-model"

    with pytest.raises(IndexMismatch, match="newsqa index --rebuild"):
        Engine(data, Other())
    report = build_index(corpus_copy, data, Other())
    assert "embedding model changed" in report.reason and report.added == 5
    assert Engine(data, Other()).stats()["model"] == "another-model"


def test_dry_run_changes_nothing(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    live = layout.current_build(data)
    (corpus_copy / "new.txt").write_text("A brand new article headline here\n\nIt says one new thing.")
    report = build_index(corpus_copy, data, fake_embedder, dry_run=True)
    assert report.added == 1 and "would index" in report.summary()
    assert layout.current_build(data) == live


def test_a_damaged_index_is_a_clear_error_and_the_next_build_recovers(tmp_path, corpus_copy, fake_embedder):
    from index.errors import IndexDamaged

    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    live = layout.current_build(data)
    layout.vectors_of(live).write_bytes(b"truncated")
    with pytest.raises(IndexDamaged, match="newsqa index --rebuild"):
        Engine(data, fake_embedder)
    report = build_index(corpus_copy, data, fake_embedder)
    assert "cannot be read" in report.reason and report.added == 5
    assert _counts(data) == (5, report.passages, report.passages)


def test_a_sentence_repeated_across_articles_is_embedded_once(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    boiler = "Reporting by the newsroom staff, edited by the night desk."
    for i in range(30):
        (corpus / f"a{i}.txt").write_text(f"Headline number {i} of the day\n\nStory {i} has its own first line. {boiler}")
    report = build_index(corpus, tmp_path / "data", fake_embedder, batch_chars=100)  # an article a batch
    assert report.added == 30
    # 30 passages, 30 own first sentences, the repeated line once
    assert fake_embedder.texts_embedded == 61
    engine = Engine(tmp_path / "data", fake_embedder)
    hits = engine.search(boiler, k=30)
    assert len({h.article_id for h in hits}) >= 10


def _boilerplate_corpus(corpus, boiler, every):
    corpus.mkdir()
    for i in range(30):
        tail = f" {boiler}" if i % every == 0 else ""
        text = f"Headline number {i} of the day\n\nStory {i} has its own first line.{tail}"
        (corpus / f"a{i:02d}.txt").write_text(text)


def test_a_repeated_line_far_apart_is_embedded_again_only_past_the_recent_window(tmp_path, monkeypatch):
    """A build keeps the sentence vectors of its last batches (build.RECENT_SENTENCE_BYTES); a line that
    comes back after the window has moved on is embedded again, and stored alike."""
    boiler = "Reporting by the newsroom staff, edited by the night desk."
    _boilerplate_corpus(tmp_path / "corpus", boiler, every=5)
    wide, narrow = FakeEmbedder(), FakeEmbedder()
    build_index(tmp_path / "corpus", tmp_path / "wide", wide, batch_chars=100)  # an article a batch
    monkeypatch.setattr(build, "RECENT_SENTENCE_BYTES", 1)  # one batch kept
    build_index(tmp_path / "corpus", tmp_path / "narrow", narrow, batch_chars=100)
    # 24 one-sentence stories (passage and sentence: one text), 6 stories of a passage and 2 sentences
    assert wide.texts_embedded == 24 + 6 * 2 + 1
    assert narrow.texts_embedded == 24 + 6 * 3, "the line comes back 4 batches later, past a window of one"
    stored = []
    for data in (tmp_path / "wide", tmp_path / "narrow"):
        db = Engine(data, FakeEmbedder()).snapshot().db()
        stored.append(sorted((aid, seq, spans, vecs) for aid, seq, spans, vecs in db.execute(
            "select article_id, seq, sentence_spans, sentence_vectors from passages")))
    assert stored[0] == stored[1]


def test_an_edited_article_embeds_only_its_new_sentences(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = " ".join(f"The harbour story gives fact number {n} about the ferry."
                    for n in ("one", "two", "three", "four"))
    (corpus / "a.txt").write_text(f"Harbour ferry story\n\n{body}")
    build_index(corpus, tmp_path / "data", fake_embedder)
    fake_embedder.texts_embedded = 0
    (corpus / "a.txt").write_text(f"Harbour ferry story\n\n{body} The editor added a fifth fact later.")
    report = build_index(corpus, tmp_path / "data", fake_embedder)
    assert report.changed == 1
    assert fake_embedder.texts_embedded == 2, "the new passage and its new sentence; the other four are reused"
    db = Engine(tmp_path / "data", fake_embedder).snapshot().db()
    (pid, text), = db.execute("select id, text from passages").fetchall()
    rows = store.sentences_of(db, [pid])[pid]
    assert len(rows) == 5
    for start, end, blob in rows:
        expected = FakeEmbedder().encode_documents([text[start:end]])[0]
        assert np.allclose(store.blob_vector16(blob), expected, atol=1e-3), text[start:end]


ZEBRA = "Zebra herd crosses the Mara river\n\nA herd of zebra crossed the Mara river at dawn, rangers said.\n"


def test_an_update_is_written_in_place_and_seen_by_the_next_question(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    folder, generation = layout.live_version(data)
    engine = Engine(data, fake_embedder, reload_seconds=3600)  # no folder check: the generation alone tells
    assert engine.article("zebra") is None
    (corpus_copy / "zebra.txt").write_text(ZEBRA)
    report = build_index(corpus_copy, data, fake_embedder)
    assert report.added == 1 and report.path == folder
    assert layout.live_version(data) == (folder, str(int(generation) + 1))
    assert [p.name for p in (data / "builds").iterdir()] == [folder.name], "no copy of the index was made"
    assert engine.article("zebra")["title"] == "Zebra herd crosses the Mara river"
    assert engine.search("zebra Mara river", k=1)[0].article_id == "zebra"
    assert engine.snapshot().passage_count == engine.snapshot().index.ntotal == report.passages


def test_an_update_committed_during_a_question_restarts_it_on_the_new_index(tmp_path, corpus_copy, monkeypatch):
    """The question has pinned the old generation, then an update commits before its keyword search
    (in another thread) reads: it must not mix the two (vector ids of one, rows of the other)."""
    from index import engine as engine_mod

    data = tmp_path / "data"
    build_index(corpus_copy, data, FakeEmbedder())
    engine = Engine(data, FakeEmbedder(), reload_seconds=3600)
    (corpus_copy / "zebra.txt").write_text(ZEBRA)
    real_read, updates = engine_mod.Snapshot.read, []

    def update_first(self, fn, *args):
        if not updates:
            updates.append(build_index(corpus_copy, data, FakeEmbedder()))
        return real_read(self, fn, *args)

    monkeypatch.setattr(engine_mod.Snapshot, "read", update_first)
    hits = engine.search("zebra Mara river", k=3)
    assert updates[0].added == 1 and hits[0].article_id == "zebra"
    snap = engine.snapshot()
    assert snap.generation == layout.live_version(data)[1] and snap.index.ntotal == snap.passage_count


def test_old_vector_files_are_removed_after_updates(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    for i in range(5):
        (corpus_copy / f"zebra{i}.txt").write_text(ZEBRA.replace("dawn", f"dawn on day {i}"))
        build_index(corpus_copy, data, fake_embedder)
    folder, generation = layout.live_version(data)
    names = sorted(p.name for p in folder.glob(layout.VECTORS_GLOB))
    assert names == sorted(layout.vectors_name(int(generation) - k) for k in range(layout.KEEP_VECTOR_FILES))


def test_an_unchanged_file_with_problems_is_not_read_again_until_what_it_depends_on_changes(
        tmp_path, corpus_copy, fake_embedder, monkeypatch):
    import json

    from index import ingest, prepare

    data = tmp_path / "data"
    original = corpus_copy / "004_d046a75599c10844.txt"
    story = original.read_text()
    (corpus_copy / "feed.jsonl").write_text(
        json.dumps({"id": "copy_of_004", "title": "Same story", "text": story.split("\n", 1)[1]}) + "\n{broken\n")
    first = build_index(corpus_copy, data, fake_embedder)
    assert [d[:2] for d in first.duplicates] == [("copy_of_004", "004_d046a75599c10844")]
    assert [p.line for p in first.skipped] == [2]
    read = []
    real = ingest.read_piece  # as a build reads the corpus (in its workers, or here when it is small)
    monkeypatch.setattr(prepare, "read_piece", lambda piece: read.append(piece.path.name) or real(piece))

    (corpus_copy / "zebra.txt").write_text(ZEBRA)
    second = build_index(corpus_copy, data, fake_embedder)
    assert read == ["zebra.txt"], "the file with a duplicate and a broken line was read again"
    assert second.added == 1 and second.duplicates == first.duplicates
    assert [str(p) for p in second.skipped] == [str(p) for p in first.skipped]
    assert build_index(corpus_copy, data, fake_embedder).up_to_date

    read.clear()
    original.unlink()  # the duplicate's original goes: the duplicate is indexed in its place
    third = build_index(corpus_copy, data, fake_embedder)
    assert sorted(read) == ["feed.jsonl"] and (third.added, third.removed) == (1, 1) and not third.duplicates
    assert Engine(data, fake_embedder).article("copy_of_004") is not None


def test_stored_band_keys_follow_every_change(tmp_path, corpus_copy, fake_embedder):
    """The keys new articles' possible originals are looked up by stay exactly those of the indexed articles."""
    import numpy as np

    from index import dedupe, store

    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    (corpus_copy / "zebra.txt").write_text(ZEBRA)
    (corpus_copy / "002_268e4578f94adf6e.txt").unlink()
    path = corpus_copy / "004_d046a75599c10844.txt"
    path.write_text(path.read_text() + "\n\nA closing paragraph added later.\n")
    build_index(corpus_copy, data, fake_embedder)
    db = store.open_db(layout.current_build(data) / layout.DB_NAME, readonly=True)
    signed = db.execute("select id, minhash from articles order by id").fetchall()
    expected = store.band_rows([r[0] for r in signed], np.frombuffer(b"".join(r[1] for r in signed), dtype=np.uint64))
    assert sorted(db.execute("select band, key, article_id from minhash_bands")) == sorted(expected)
    assert len(expected) == dedupe.BANDS * 5


def test_a_new_build_stages_its_band_keys_outside_its_database(tmp_path, fake_embedder):
    """Staged in a file of their own and deleted after: the database keeps no free pages of them."""
    import sqlite3

    from index import dedupe, store
    from tests.synth import write_jsonl

    write_jsonl(tmp_path / "corpus" / "export.jsonl", 300, seed=6, sentences=6)
    report = build_index(tmp_path / "corpus", tmp_path / "data", fake_embedder)
    assert sorted(p.name for p in report.path.iterdir()) == sorted([layout.DB_NAME, layout.vectors_of(report.path).name])
    conn = sqlite3.connect(report.path / layout.DB_NAME)
    assert conn.execute("pragma freelist_count").fetchone()[0] <= 2
    assert conn.execute("select count(*) from minhash_bands").fetchone()[0] == dedupe.BANDS * report.added
    assert not any(name == store.BAND_STAGING for (name,) in conn.execute("select name from sqlite_master"))


@pytest.mark.parametrize("early", [True, False])
def test_staged_band_keys_are_sorted_on_their_own_connection_into_the_table(tmp_path, early):
    """Sorted in the staging file by a thread of its own, started by the owner (or at the end), then
    appended: the table holds exactly each article's keys, and the staging file goes."""
    import numpy as np

    from index import dedupe, store

    db = store.open_db(tmp_path / "new.db")
    store.migrate(db)
    signatures = np.random.default_rng(3).integers(0, 2**63, size=(40, dedupe.NUM_PERM), dtype=np.uint64)
    ids = [f"a{i:03d}" for i in range(40)]
    with store.bands_filled_last(db) as bands:
        for at in range(0, 40, 16):
            with db.atomic():
                store.add_bands(db, ids[at : at + 16], signatures[at : at + 16])
        if early:
            bands.start()
            db.execute("insert into meta (key, value) values ('other', 'work')")  # this connection goes on meanwhile
    rows = db.execute("select band, key, article_id from minhash_bands").fetchall()
    assert rows == sorted(store.band_rows(ids, signatures))
    assert not (tmp_path / "new.db.bands").exists()
    assert not any(r[1] == store.STAGING_DB for r in db.execute("pragma database_list"))


def test_a_band_sort_that_fails_fails_its_block(tmp_path):
    import sqlite3

    from index import store

    db = store.open_db(tmp_path / "new.db")
    store.migrate(db)
    with pytest.raises(sqlite3.OperationalError, match="JSON"):
        with store.bands_filled_last(db) as bands:
            with db.atomic():
                db.execute(f"insert into {store.STAGING_DB}.{store.BAND_STAGING} values ('a1', 'not json')")
            bands.start()
    assert db.execute("select count(*) from minhash_bands").fetchone()[0] == 0


def test_a_block_that_fails_stops_its_band_sort_and_fails_with_its_own_error(tmp_path):
    import numpy as np

    from index import dedupe, store

    db = store.open_db(tmp_path / "new.db")
    store.migrate(db)
    with pytest.raises(RuntimeError, match="stopped"):
        with store.bands_filled_last(db) as bands:
            with db.atomic():
                store.add_bands(db, ["a1", "a2"], np.arange(2 * dedupe.NUM_PERM, dtype=np.uint64).reshape(2, -1))
            bands.start()
            raise RuntimeError("stopped")
    assert not bands._thread.is_alive()
    assert db.execute("select count(*) from minhash_bands").fetchone()[0] == 0
