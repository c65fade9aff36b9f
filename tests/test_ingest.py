"""Each article format, and each kind of bad file: reported by file (and line), never fatal."""

import json
from pathlib import Path

from index.ingest import corpus_fingerprint, read_corpus


def _write(root: Path, name: str, data) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def test_txt_md_and_jsonl_articles(tmp_path):
    _write(tmp_path, "a1.txt", "A plain headline about the news\n\nLONDON (Reuters) - Something happened today.")
    _write(tmp_path, "a2.md", "---\ntitle: Front matter title\nsource: BBC\npublished: 2015-10-21\nurl: https://example.org/a2\n---\n# Ignored heading\n\nBody text here.\n")
    _write(tmp_path, "a3.md", "# Heading becomes the title\n\nMarkdown body.\n")
    _write(tmp_path, "feed.jsonl", json.dumps({"id": "j1", "title": "JSON one", "text": "JSON body.", "source": "AFP", "published": "2016-01-02"}) + "\n")
    articles, problems = read_corpus(tmp_path)
    assert problems == []
    by_id = {a.id: a for a in articles}
    assert by_id["a1"].title == "A plain headline about the news" and by_id["a1"].source == "Reuters"
    a2 = by_id["a2"]
    assert (a2.title, a2.source, a2.published, a2.url) == ("Front matter title", "BBC", "2015-10-21", "https://example.org/a2")
    assert "Body text here." in a2.text
    assert by_id["a3"].title == "Heading becomes the title" and by_id["a3"].text == "Markdown body."
    j1 = by_id["j1"]
    assert (j1.title, j1.source, j1.published, j1.text, j1.path) == ("JSON one", "AFP", "2016-01-02", "JSON body.", "feed.jsonl")


def test_bad_files_are_reported_and_the_rest_still_reads(tmp_path):
    _write(tmp_path, "good.txt", "A good article headline here\n\nGood text.")
    _write(tmp_path, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    _write(tmp_path, "empty.txt", "   \n\n")
    _write(tmp_path, "latin1.txt", "Caf\xe9 news headline for today\n\nText.".encode("latin-1"))
    _write(tmp_path, "badmeta.md", "---\ntitle: [unclosed\n---\nBody.\n")
    _write(tmp_path, "feed.jsonl", "\n".join([
        json.dumps({"id": "ok1", "title": "Fine", "text": "Fine text."}),
        "{not json",
        json.dumps({"id": "no-text", "title": "Missing"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "good.txt-dup", "text": "ok too."}),
        json.dumps({"id": "ok1", "text": "same id again"}),
    ]))
    articles, problems = read_corpus(tmp_path)
    assert sorted(a.id for a in articles) == ["good", "good.txt-dup", "ok1"]
    messages = {(p.path, p.line): p.problem for p in problems}
    assert "binary" in messages[("binary.txt", None)]
    assert messages[("empty.txt", None)] == "empty file"
    assert "not UTF-8" in messages[("latin1.txt", None)] and "0xe9" in messages[("latin1.txt", None)]
    yaml_problem = [p for p in problems if p.path == "badmeta.md"]
    assert len(yaml_problem) == 1 and "YAML" in yaml_problem[0].problem and yaml_problem[0].line is not None
    assert "not valid JSON" in messages[("feed.jsonl", 2)]
    assert "missing 'text'" in messages[("feed.jsonl", 3)]
    assert "JSON object" in messages[("feed.jsonl", 4)]
    assert any("duplicate article id 'ok1'" in p.problem for p in problems)
    assert all(str(p).startswith(p.path) for p in problems), "every message names its file"


def test_fingerprint_changes_with_content_not_with_unrelated_files(tmp_path):
    _write(tmp_path, "a.txt", "Headline of an article here\n\nText.")
    before = corpus_fingerprint(tmp_path)
    _write(tmp_path, "notes.docx", b"ignored")
    _write(tmp_path, ".hidden.txt", "ignored")
    assert corpus_fingerprint(tmp_path) == before
    _write(tmp_path, "a.txt", "Headline of an article here\n\nText changed.")
    assert corpus_fingerprint(tmp_path) != before


def test_a_jsonl_file_read_in_pieces_gives_what_one_reading_gives(tmp_path, monkeypatch):
    """A build's workers read big JSONL files as runs of lines: articles, problems and their line
    numbers must be those of reading the file whole."""
    from index import ingest

    good = [json.dumps({"id": f"n{i}", "title": f"Story {i}", "text": f"Story {i} happened in town {i}. " * 6})
            for i in range(60)]
    lines = good[:10] + ["{broken"] + good[10:30] + ["", "   ", json.dumps({"id": "n3", "text": "again"})]
    lines += ["x" * 900, json.dumps([1, 2])] + good[30:] + ["{}"]
    (tmp_path / "feed.jsonl").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    (tmp_path / "blank.jsonl").write_text("\n" * 3000 + "   \n" * 500)
    (tmp_path / "y.txt").write_text("A headline\n\nA body that says something.")
    (tmp_path / "z.txt").write_text("Another headline\n\nAnother body, which says something else.")
    whole = [str(x) if isinstance(x, ingest.BadArticle) else x for x in ingest.iter_corpus(tmp_path)]
    monkeypatch.setattr(ingest, "PIECE_BYTES", 700)
    groups = list(ingest.corpus_pieces(tmp_path))
    assert sum(len(g) for g in groups) > 10 and max(len(g) for g in groups) > 1  # cut, and small pieces grouped
    pieces = [x for x in ingest.iter_corpus(tmp_path)]
    assert [str(x) if isinstance(x, ingest.BadArticle) else x for x in pieces] == whole
    assert [str(p) for p in whole if isinstance(p, str)] == [
        "blank.jsonl: empty file", "feed.jsonl, line 11: not valid JSON (Expecting property name enclosed in double "
        "quotes at column 2)", "feed.jsonl: duplicate article id 'n3' (also in feed.jsonl); skipped",
        "feed.jsonl, line 35: not valid JSON (Expecting value at column 1)",
        "feed.jsonl, line 36: expected a JSON object with id, title and text",
        "feed.jsonl, line 67: missing 'id' and 'text'"]
    assert len([x for x in whole if not isinstance(x, str)]) == 62
