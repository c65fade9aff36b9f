"""Problems never vanish between runs, and no run wipes out the index by mistake (real processes)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from fastapi.testclient import TestClient

from index.api import create_app
from index.build import build_index
from index.engine import Engine
from index.errors import TooManyRemovals
from tests.conftest import ROOT, FakeEmbedder, run_cli


@pytest.fixture
def env(tmp_path, corpus_copy):
    return {"NEWSQA_CORPUS_DIR": str(corpus_copy), "NEWSQA_DATA_DIR": str(tmp_path / "data")}


def test_every_run_lists_what_is_not_indexed_and_exits_3(env, tmp_path, corpus_copy):
    (corpus_copy / "feed.jsonl").write_text(json.dumps({"id": "ok1", "text": "Fine story about comets."}) + "\n{oops\n")
    (corpus_copy / "notes.json").write_text('{"id": "n1", "text": "a .json file is not JSONL"}')
    (corpus_copy / "dated.md").write_text("---\ntitle: Dated\npublished: 2015-10-40\n---\nA story about glaciers.\n")
    expected = ["feed.jsonl, line 2: not valid JSON", "notes.json: not read: .json is not an article format",
                "dated.md: article 'dated': front matter published '2015-10-40'"]
    first = run_cli(["index"], env, cwd=tmp_path)
    assert first.returncode == 3 and all(e in first.stderr for e in expected), first.stderr
    for args in (["index"], ["index", "--dry-run"], ["stats"]):  # nothing changed: still said, still exit 3
        again = run_cli(args, env, cwd=tmp_path)
        assert again.returncode == 3, (args, again.stderr)
        assert all(e in again.stderr for e in expected), (args, again.stderr)
    assert "up to date" in run_cli(["index"], env, cwd=tmp_path).stderr
    stats = json.loads(run_cli(["stats", "--json"], env, cwd=tmp_path).stdout)
    assert stats["not_indexed"] == 2 and {p["kind"] for p in stats["problems"]} == {"line", "unsupported", "warning"}
    (corpus_copy / "feed.jsonl").write_text(json.dumps({"id": "ok1", "text": "Fine story about comets."}) + "\n")
    (corpus_copy / "notes.json").unlink()
    fixed = run_cli(["index"], env, cwd=tmp_path)
    assert fixed.returncode == 0 and "not valid JSON" not in fixed.stderr and "2015-10-40" in fixed.stderr
    assert run_cli(["stats"], env, cwd=tmp_path).returncode == 0


def test_add_names_every_bad_file_of_a_batch_and_copies_nothing(env, tmp_path, corpus_copy):
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "good.txt").write_text("A good story\n\nAbout a lighthouse.")
    (batch / "empty.txt").write_text("")
    (batch / "blob.md").write_bytes(b"\x00\x01")
    (batch / "data.json").write_text("{}")
    before = sorted(p.name for p in corpus_copy.iterdir())
    result = run_cli(["add", str(batch)], env, cwd=tmp_path)
    assert result.returncode == 1
    for name in ("empty.txt: empty file", "blob.md: binary file", "data.json: not an article format"):
        assert name in result.stderr, result.stderr
    assert sorted(p.name for p in corpus_copy.iterdir()) == before


def test_an_empty_folder_cannot_wipe_the_index(env, tmp_path, corpus_copy):
    assert run_cli(["index"], env, cwd=tmp_path).returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["index", "--corpus", str(empty)], ["index", "--corpus", str(empty), "--dry-run"],
                 ["index", "--corpus", str(empty), "--rebuild"], ["sync", str(empty)]):
        result = run_cli(args, env, cwd=tmp_path)
        assert result.returncode == 4, (args, result.stderr)
        assert "refused" in result.stderr and "--force" in result.stderr
    assert len(list(corpus_copy.iterdir())) == 5  # sync refused before touching the corpus
    assert json.loads(run_cli(["stats", "--json"], env, cwd=tmp_path).stdout)["articles"] == 5
    dry = run_cli(["sync", "--dry-run", "--force", str(empty)], env, cwd=tmp_path)
    assert dry.returncode == 0 and "would sync" in dry.stderr and "5 indexed article(s) would go" in dry.stderr
    assert len(list(corpus_copy.iterdir())) == 5
    forced = run_cli(["sync", "--force", str(empty)], env, cwd=tmp_path)
    assert forced.returncode == 0 and "5 removed" in forced.stderr and not list(corpus_copy.iterdir())


def test_removing_a_few_is_fine_and_the_share_is_a_setting(env, tmp_path, corpus_copy):
    data = tmp_path / "data"
    build_index(corpus_copy, data, FakeEmbedder())
    for p in sorted(corpus_copy.iterdir())[:2]:
        p.unlink()
    assert build_index(corpus_copy, data, FakeEmbedder(), max_remove_share=0.5).removed == 2  # 2 of 5
    for p in sorted(corpus_copy.iterdir())[:2]:
        p.unlink()
    with pytest.raises(TooManyRemovals, match="2 of the 3"):
        build_index(corpus_copy, data, FakeEmbedder(), max_remove_share=0.5)
    result = run_cli(["index"], {**env, "NEWSQA_MAX_REMOVE_SHARE": "1"}, cwd=tmp_path)
    assert result.returncode == 0 and "2 removed" in result.stderr
    assert run_cli(["remove", "003_2c7588df99689f65"] if (corpus_copy / "003_2c7588df99689f65.txt").exists()
                   else ["remove", "004_d046a75599c10844"], env, cwd=tmp_path).returncode == 0  # named ids: meant


def test_nightly_script_refuses_an_empty_export(env, tmp_path, corpus_copy):
    build_index(corpus_copy, tmp_path / "data", FakeEmbedder())
    empty = tmp_path / "export"
    empty.mkdir()
    result = subprocess.run(["bash", str(ROOT / "scripts" / "nightly-reindex.sh"), str(empty)],
                            env={**os.environ, **env, "NEWSQA_LOG_LEVEL": "WARNING"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 4 and "refused" in result.stderr and "retrying" not in result.stderr
    assert len(list(corpus_copy.iterdir())) == 5


def test_health_is_not_ready_for_an_empty_index(tmp_path):
    empty = tmp_path / "corpus"
    empty.mkdir()
    build_index(empty, tmp_path / "data", FakeEmbedder())
    r = TestClient(create_app(Engine(tmp_path / "data", FakeEmbedder()))).get("/health")
    assert r.status_code == 503 and r.json()["ready"] is False and "no articles" in r.json()["detail"]
