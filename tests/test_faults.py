"""Faults a maintainer will meet: each is reported and skipped, nothing already indexed is lost."""

import json
import os

import pytest

from index.build import build_index
from index.engine import Engine
from index.ingest import read_corpus

from tests.conftest import invoke


def _ids(data, embedder):
    engine = Engine(data, embedder)
    return {r[0] for r in engine.snapshot().db().execute("select id from articles")}


def test_broken_symlinks_and_pipes_are_skipped_not_fatal(tmp_path, corpus_copy, fake_embedder):
    os.symlink(tmp_path / "nowhere.txt", corpus_copy / "broken.txt")
    os.mkfifo(corpus_copy / "pipe.txt")
    report = build_index(corpus_copy, tmp_path / "data", fake_embedder)  # must neither crash nor block
    assert report.added == 5


def test_impossible_front_matter_date_is_reported_and_odd_values_are_ignored(tmp_path):
    (tmp_path / "x.md").write_text("---\ntitle: Odd dates\npublished: 2021-13-45\nsource: [a, b]\n---\nBody text here.\n")
    (tmp_path / "y.md").write_text("---\ntitle: Year only\npublished: 2020\n...\nBody of y.\n")
    articles, problems = read_corpus(tmp_path)
    by_id = {a.id: a for a in articles}
    assert [(p.path, p.kind) for p in problems] == [("x.md", "warning")]
    assert "'2021-13-45' is not a date" in problems[0].problem
    assert by_id["x"].published is None and by_id["x"].source is None
    assert by_id["y"].title == "Year only" and by_id["y"].date_text == "2020" and by_id["y"].text == "Body of y."


def _feed(path, ids, bad_line=False):
    lines = [json.dumps({"id": i, "title": f"Story {i}", "text": f"Story {i} is about item {i} in the news."}) for i in ids]
    if bad_line:
        lines.insert(1, "{broken json")
    path.write_text("\n".join(lines) + "\n")


def test_jsonl_with_a_bad_line_keeps_only_what_broke(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    feed = corpus_copy / "feed.jsonl"
    _feed(feed, ["j1", "j2", "j3"])
    build_index(corpus_copy, data, fake_embedder)
    _feed(feed, ["j1", "j3"], bad_line=True)  # j2's line broke: keep the indexed j2
    report = build_index(corpus_copy, data, fake_embedder)
    assert report.kept == 1 and "j2" in _ids(data, fake_embedder)
    _feed(feed, ["j1"], bad_line=True)  # one broken line, but two articles missing: not all can be kept
    build_index(corpus_copy, data, fake_embedder, forget={"j3"})
    assert "j3" not in _ids(data, fake_embedder)


def test_a_skipped_duplicate_is_indexed_once_its_original_goes(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    text = (corpus_copy / "004_d046a75599c10844.txt").read_text()
    (corpus_copy / "zz_copy.txt").write_text(text)
    assert build_index(corpus_copy, data, fake_embedder).duplicates
    (corpus_copy / "004_d046a75599c10844.txt").unlink()
    report = build_index(corpus_copy, data, fake_embedder)
    assert not report.duplicates and "zz_copy" in _ids(data, fake_embedder)


def test_renamed_jsonl_updates_the_article_path(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    _feed(corpus_copy / "old.jsonl", ["j1"])
    build_index(corpus_copy, data, fake_embedder)
    os.rename(corpus_copy / "old.jsonl", corpus_copy / "new.jsonl")
    build_index(corpus_copy, data, fake_embedder)
    assert Engine(data, fake_embedder).article("j1")["path"] == "new.jsonl"


@pytest.fixture
def env(fake_cli_env):
    return fake_cli_env


def test_add_checks_the_whole_batch_before_copying_anything(env, tmp_path, corpus_copy):
    batch = tmp_path / "batch"
    (batch / "x").mkdir(parents=True)
    (batch / "y").mkdir()
    (batch / "a.txt").write_text("A fine article headline here\n\nFine text.")
    (batch / "b.txt").write_bytes(b"\x00\x01binary")
    result = invoke(["add", str(batch)], env)
    assert result.exit_code == 1 and "nothing added" in result.stderr and not (corpus_copy / "a.txt").exists()
    (batch / "b.txt").unlink()
    (batch / "x" / "same.txt").write_text("First story with this name\n\nOne.")
    (batch / "y" / "same.txt").write_text("Second story with this name\n\nTwo.")
    result = invoke(["add", str(batch)], env)
    assert result.exit_code == 1 and "would both become same.txt" in result.stderr
    assert not (corpus_copy / "a.txt").exists()


def test_sync_skips_bad_files_and_still_applies_the_rest(env, tmp_path, corpus_copy):
    export = tmp_path / "export"
    export.mkdir()
    (export / "good.txt").write_text("A good exported article here\n\nText of it.")
    (export / "empty.txt").write_text("")
    result = invoke(["sync", str(export)], env)
    assert result.exit_code == 0 and "empty.txt: empty file" in result.stderr
    assert sorted(p.name for p in corpus_copy.iterdir()) == ["good.txt"]


def test_remove_finds_articles_by_indexed_id_whatever_the_file(env, corpus_copy):
    (corpus_copy / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "bomjson", "text": "BOM story about okapis."}).encode() + b"\n")
    (corpus_copy / "named.md").write_text("---\nid: custom-id\ntitle: Custom\n---\nA story with its own id.\n")
    (corpus_copy / "latin.jsonl").write_bytes('{"id": "x", "text": "caf\xe9"}\n'.encode("latin-1"))
    assert invoke(["index"], env).exit_code == 3  # latin.jsonl is not UTF-8
    result = invoke(["remove", "bomjson", "custom-id"], env)
    assert result.exit_code == 3 and "removed 2 article(s)" in result.stderr
    assert "latin.jsonl, line 1: not UTF-8" in result.stderr
    assert not (corpus_copy / "named.md").exists()
    assert (corpus_copy / "bom.jsonl").read_text().strip() == ""


def test_maintainer_commands_refuse_a_corpus_the_index_was_not_built_from(env, tmp_path, corpus_copy):
    other = tmp_path / "other"
    other.mkdir()
    (other / "o.txt").write_text("Another corpus entirely here\n\nText.")
    assert invoke(["index", "--corpus", str(other)], env).exit_code == 0
    incoming = tmp_path / "new.txt"
    incoming.write_text("A new article for the corpus\n\nText.")
    result = invoke(["add", str(incoming)], env)
    assert result.exit_code == 1 and "was built from" in result.stderr


def test_duplicates_are_named_in_the_report(env, corpus_copy):
    (corpus_copy / "copy.txt").write_text((corpus_copy / "000_937d8e2a258eedac.txt").read_text())
    result = invoke(["index"], env)
    assert "skipped copy: the same story as 000_937d8e2a258eedac" in result.stderr
