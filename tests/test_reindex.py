"""Maintainers: duplicates, HTML, add/remove/sync, crash safety under kill -9, live reload."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from index import layout
from index.build import build_index
from index.engine import Engine
from index.ingest import read_corpus

from tests.conftest import CORPUS, ROOT, invoke
from tests.synth import write_corpus

HTML = """<html><head><title>Twelve detained in Moscow - Example Times</title>
<meta property="og:site_name" content="Example Times"><meta name="date" content="2015-10-21"></head>
<body><nav>Home | World | Sports</nav><article><h1>Twelve detained in Moscow</h1>
<p>MOSCOW, October 21. Russian security services detained twelve people on Friday in the centre of the city, officials said.</p>
<p>They were suspected of planning attacks on transport, according to the FSB, which gave no further details.</p>
</article><footer>Leave a Reply. Copyright 2015</footer></body></html>"""


def test_html_page_gives_main_text_title_date_and_source(tmp_path):
    (tmp_path / "page.html").write_text(HTML)
    (tmp_path / "nothing.html").write_text("<html><body><div></div></body></html>")
    articles, problems = read_corpus(tmp_path)
    (a,) = articles
    assert (a.id, a.title, a.source, a.published) == ("page", "Twelve detained in Moscow", "Example Times", "2015-10-21")
    assert a.text.startswith("MOSCOW, October 21. Russian security services detained twelve people")
    assert "Home | World" not in a.text and "Leave a Reply" not in a.text
    assert [(p.path, p.problem) for p in problems] == [("nothing.html", "no article text found in the HTML page")]


def test_same_story_under_two_ids_is_indexed_once_and_reported(tmp_path, corpus_copy, fake_embedder):
    original = (corpus_copy / "004_d046a75599c10844.txt").read_text()
    (corpus_copy / "zz_copy.txt").write_text(original)
    (corpus_copy / "zz_near.txt").write_text(original.replace("Wednesday", "Thursday"))
    report = build_index(corpus_copy, tmp_path / "data", fake_embedder)
    assert {d[0] for d in report.duplicates} == {"zz_copy", "zz_near"}
    assert all(d[1] == "004_d046a75599c10844" for d in report.duplicates)
    assert "2 duplicate(s) skipped" in report.summary()
    engine = Engine(tmp_path / "data", fake_embedder)
    assert engine.stats()["articles"] == 5 and engine.article("zz_copy") is None


@pytest.fixture
def env(fake_cli_env):
    return fake_cli_env


def test_add_remove_and_stats_commands(env, tmp_path, corpus_copy):
    assert invoke(["index"], env).exit_code == 0
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "fresh.md").write_text("---\ntitle: Fresh story\nsource: BBC\npublished: 2015-11-01\n---\nA fresh story about the ceasefire talks in Vienna.\n")
    result = invoke(["add", str(incoming / "fresh.md")], env)
    assert result.exit_code == 0 and "1 added" in result.stderr
    assert (corpus_copy / "fresh.md").exists()

    (incoming / "000_937d8e2a258eedac.txt").write_text("A different article that reuses an id\n\nBody.")
    clash = invoke(["add", str(incoming / "000_937d8e2a258eedac.txt")], env)
    assert clash.exit_code == 1 and "use --force" in clash.stderr
    forced = invoke(["add", "--force", str(incoming / "000_937d8e2a258eedac.txt")], env)
    assert forced.exit_code == 0 and "1 changed" in forced.stderr

    removed = invoke(["remove", "fresh", "002_268e4578f94adf6e"], env)
    assert removed.exit_code == 0 and "2 removed" in removed.stderr
    out = invoke(["stats", "--json"], env)
    assert out.exit_code == 0, out.output
    stats = json.loads(out.stdout)
    assert stats["articles"] == 4 and stats["passages"] > 0 and stats["index_bytes"] > 0
    assert invoke(["remove", "no-such-id"], env).exit_code == 1


def test_remove_deletes_one_line_of_a_jsonl_file(env, corpus_copy):
    feed = corpus_copy / "feed.jsonl"
    feed.write_text("\n".join(json.dumps({"id": f"j{i}", "title": f"Item {i}", "text": f"Story number {i} about wheat prices."}) for i in range(3)) + "\n")
    assert invoke(["remove", "j1"], env).exit_code == 0
    assert [json.loads(line)["id"] for line in feed.read_text().splitlines()] == ["j0", "j2"]


def test_sync_mirrors_a_folder(env, tmp_path, corpus_copy):
    source = tmp_path / "export"
    source.mkdir()
    (source / "only.txt").write_text("The only article left in the export\n\nIt is about grain exports.")
    result = invoke(["sync", str(source)], env)
    assert result.exit_code == 0 and "5 removed" in result.stderr and "1 added" in result.stderr
    assert sorted(p.name for p in corpus_copy.iterdir()) == ["only.txt"]


def test_live_reload_switches_answers_without_a_failed_question(tmp_path, corpus_copy, fake_embedder):
    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    engine = Engine(data, fake_embedder, reload_seconds=0.05)
    errors, seen = [], set()
    stop = threading.Event()

    def ask_loop():
        while not stop.is_set():
            try:
                hits = engine.search("zebra migration serengeti", k=3)
                seen.update(h.article_id for h in hits)
            except Exception as e:  # any failure is a test failure
                errors.append(e)

    threads = [threading.Thread(target=ask_loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for round_ in range(3):
            (corpus_copy / f"zebra{round_}.txt").write_text(
                f"Zebra migration report number {round_} here\n\nZebra migration crosses the Serengeti river {round_}.")
            build_index(corpus_copy, data, fake_embedder)
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert {"zebra0", "zebra1", "zebra2"} <= seen


@pytest.mark.model
def test_kill_9_at_any_moment_leaves_the_previous_index_whole(tmp_path):
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    write_corpus(corpus, 1500, seed=5)
    (corpus / "moscow.txt").write_text((CORPUS / "001_eede6903985e59b8.txt").read_text())
    env = dict(os.environ, NEWSQA_CORPUS_DIR=str(corpus), NEWSQA_DATA_DIR=str(data), NEWSQA_LOG_LEVEL="WARNING",
               NEWSQA_EMBEDDING_MODEL="wordllama")  # 3,000 articles: the fast static model
    newsqa = [sys.executable, "-m", "index.cli", "index"]
    subprocess.run(newsqa, env=env, check=True, capture_output=True, cwd=ROOT)
    live = layout.current_build(data)

    write_corpus(corpus, 1500, seed=6, start=1500)  # a second batch: the next run has real work
    # Kill before the build starts, at several moments while it writes, and just before the swap.
    moments = [("starting", None, 1.0), ("writing", layout.DB_NAME, 0.0), ("writing", layout.DB_NAME, 0.7),
               ("writing", layout.DB_NAME, 1.5), ("swapping", layout.VECTORS_GLOB, 0.0)]
    for phase, marker, delay in moments:
        proc = subprocess.Popen(newsqa + ["--rebuild"], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if marker is not None:
            assert _wait_for(data, marker, proc), f"the build never reached {marker}"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = layout.current_build(data)
        if phase == "swapping":  # the kill may land just before or just after the atomic swap
            live = now
        assert now == live, f"killed while {phase}, the live index changed"
        _check_consistent(data)

    done = subprocess.run(newsqa, env=env, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "1500 added" in done.stderr or "up to date" in done.stderr
    assert not [p for p in (data / "builds").iterdir() if p.name.startswith(layout.TMP_PREFIX)]
    _check_consistent(data)


def _wait_for(data: Path, name: str, proc: subprocess.Popen, timeout: float = 60.0) -> bool:
    """Poll until a temporary build folder holds a file matching ``name`` (or the process ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        builds = data / "builds"
        if any(any(p.glob(name)) for p in builds.iterdir() if p.name.startswith(layout.TMP_PREFIX)):
            return True
        time.sleep(0.01)
    return False


def _check_consistent(data: Path) -> None:
    """Counts agree, every vector id resolves, and the Moscow question is answered."""
    from index import vectors

    engine = Engine(data, _model())
    snap = engine.snapshot()
    ids = set(vectors.ids(snap.index).tolist())
    rows = {r[0] for r in snap.db().execute("select id from passages")}
    assert ids == rows and len(ids) == snap.passage_count
    postings = {r[0]: np.frombuffer(r[1], "<u4") for r in snap.db().execute("select key, ids from postings")}
    assert set(np.concatenate(list(postings.values())).tolist()) == rows, "keyword postings cover every passage"
    # Synthetic articles may reuse the shipped corpus's sentences, so look for the passage, not rank 1.
    assert engine.article("moscow") is not None
    hits = engine.search("Who was detained in Moscow in October?", k=10)
    assert any("12 citizens" in h.text for h in hits)


_MODEL = []


def _model():
    if not _MODEL:
        from index.embedding import load_embedder

        _MODEL.append(load_embedder("wordllama"))
    return _MODEL[0]


def test_running_http_api_serves_the_new_index_without_restart(tmp_path, corpus_copy, fake_embedder):
    from fastapi.testclient import TestClient

    from index.api import create_app

    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    client = TestClient(create_app(Engine(data, fake_embedder, reload_seconds=0.05)))
    before = client.get("/health").json()
    assert client.get("/articles/okapi1").status_code == 404
    (corpus_copy / "okapi1.txt").write_text("Okapi sighting reported in the Ituri forest\n\nAn okapi was filmed in Ituri.")
    build_index(corpus_copy, data, fake_embedder)
    time.sleep(0.1)
    assert client.get("/articles/okapi1").status_code == 200
    hits = client.get("/search", params={"q": "okapi Ituri", "k": 1}).json()
    assert "okapi1" in json.dumps(hits)
    assert client.get("/health").json()["articles"] == before["articles"] + 1


def test_watch_mode_indexes_a_new_article_within_seconds(tmp_path, corpus_copy, fake_embedder):
    from index.watch import watch_corpus

    data = tmp_path / "data"
    build_index(corpus_copy, data, fake_embedder)
    engine = Engine(data, fake_embedder, reload_seconds=0.05)
    stop = threading.Event()
    reports = []
    watcher = threading.Thread(target=watch_corpus, args=(corpus_copy, data, fake_embedder, 0.1, reports.append, stop))
    watcher.start()
    try:
        (corpus_copy / "walrus.txt").write_text("Walrus colony spotted near Murmansk\\n\\nA walrus colony was seen.")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and engine.article("walrus") is None:
            time.sleep(0.05)
        assert engine.article("walrus") is not None
        assert reports and reports[-1].added == 1
    finally:
        stop.set()
        watcher.join()
