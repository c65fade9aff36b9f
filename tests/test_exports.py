"""Realistic exports: any printable id, large JSONL files, dates as exports write them."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from bot import callbacks
from index import ingest
from index.api import create_app
from index.engine import Engine
from index.ingest import MAX_ID_CHARS, article_key, read_file
from tests.conftest import FakeEmbedder, run_cli

IDS = [
    "https://example.com/2015/10/01/story-1",
    "urn:uuid:2f1c6f3e-8f7a-4c1e-9a53-1d2b3c4d5e6f",
    "Sky_(United_Kingdom)",
    "Fresno,_California",
    "an id with spaces & <angle> brackets",
    "Zürich/2015 — Ω",
    "ends-with/passages",
]
WORDS = ["okapi", "glacier", "harbour", "vineyard", "comet", "saffron", "lighthouse"]


def _export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "export.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for aid, word in zip(IDS, WORDS):
            fh.write(json.dumps({"id": aid, "title": f"The {word} story", "published": "2015/10/21",
                                 "text": f"A {word} was seen in town on Tuesday. The {word} drew a crowd of 40 people."})
                     + "\n")
    return path


@pytest.fixture
def exported(tmp_path):
    corpus = tmp_path / "corpus"
    _export(corpus)
    env = {"NEWSQA_CORPUS_DIR": str(corpus), "NEWSQA_DATA_DIR": str(tmp_path / "data")}
    result = run_cli(["index"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{len(IDS)} added" in result.stderr
    return env, tmp_path


def test_export_ids_round_trip_through_index_ask_and_api(exported):
    env, tmp_path = exported
    for aid, word in zip(IDS, WORDS):
        result = run_cli(["ask", "--json", f"Where was the {word} seen?"], env, cwd=tmp_path)
        cited = [c for c in json.loads(result.stdout)["citations"] if c["cited"]]
        assert cited and cited[0]["article_id"] == aid  # shown exactly as given
        assert cited[0]["published"] == "2015-10-21"  # "2015/10/21" as exports write it
    client = TestClient(create_app(Engine(tmp_path / "data", FakeEmbedder())))
    for aid in IDS:
        r = client.get("/articles/" + quote(aid, safe=""))  # what the page's encodeURIComponent sends
        assert r.status_code == 200 and r.json()["id"] == aid, (aid, r.text)
        r = client.get("/articles/" + quote(aid, safe="") + "/passages")
        assert r.status_code == 200 and r.json() and all(p["text"] for p in r.json())
    # Unencoded slashes work too, as long as the id is not ambiguous.
    assert client.get("/articles/https://example.com/2015/10/01/story-1").json()["id"] == IDS[0]
    assert client.get("/articles/" + quote("nope/x", safe="")).status_code == 404


def test_export_ids_work_in_bot_buttons(exported):
    env, tmp_path = exported
    engine = Engine(tmp_path / "data", FakeEmbedder())
    for word in WORDS:
        result = engine.ask(f"Where was the {word} seen?")
        for row in callbacks.answer_keyboard(result, 2**62, 5).inline_keyboard:
            for button in row:
                data = button.callback_data
                assert len(data.encode()) <= callbacks.MAX_DATA_BYTES and callbacks.decode(data) is not None
        opened = callbacks.decode(callbacks.answer_keyboard(result, None, 0).inline_keyboard[0][0].callback_data)
        passage = engine.passage(opened.passage_id)
        assert passage["article_id"] in IDS and callbacks.checksum(passage["text"]) == opened.check


def test_ids_that_cannot_be_shown_are_reported_with_their_line(tmp_path):
    lines = [{"id": "tab\there", "text": "x y z"}, {"id": "x" * (MAX_ID_CHARS + 1), "text": "x y z"},
             {"id": "x" * MAX_ID_CHARS, "text": "fine text"}]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    articles, problems = read_file(path, tmp_path)
    assert [a.id for a in articles] == ["x" * MAX_ID_CHARS]
    assert [(p.line, "control character" in p.problem or "at most 500" in p.problem) for p in problems] == \
        [(1, True), (2, True)]
    assert len({article_key(i) for i in IDS}) == len(IDS) and all(len(article_key(i)) == 16 for i in IDS)


def test_jsonl_has_no_size_cap_and_an_overlong_line_is_one_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "MAX_FILE_BYTES", 1_000)  # would have refused the whole file
    monkeypatch.setattr(ingest, "MAX_LINE_BYTES", 5_000)
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        for i in range(200):
            fh.write(json.dumps({"id": f"a{i}", "text": f"Story number {i} about the harbour."}) + "\n")
        fh.write(json.dumps({"id": "huge", "text": "word " * 5_000}) + "\n")  # one line over the cap
        fh.write(json.dumps({"id": "after", "text": "The line after a huge one is still read."}) + "\n")
    articles, problems = read_file(path, tmp_path)
    assert len(articles) == 201 and articles[-1].id == "after"
    assert [(p.line, "line longer than" in p.problem) for p in problems] == [(201, True)]


def test_dates_as_exports_write_them(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"id": "s", "text": "Text.", "published": "2015/10/21"}) + "\n"
                                      + json.dumps({"id": "d", "text": "Text.", "published": "2015.3.4"}) + "\n")
    (tmp_path / "b.md").write_text("---\ntitle: Bad date\npublished: 2015-10-40\n---\nBody text.\n")
    articles, problems = ingest.read_corpus(tmp_path)
    by_id = {a.id: a for a in articles}
    assert by_id["s"].published == "2015-10-21" and by_id["d"].published == "2015-03-04"
    assert by_id["b"].published is None  # indexed without the impossible date, and told so:
    assert [(p.path, p.kind) for p in problems] == [("b.md", "warning")] and "2015-10-40" in problems[0].problem
