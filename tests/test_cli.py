"""The newsqa command: JSON contract, piped questions, clear errors, documented commands."""

import json
import re

import pytest
from click.testing import CliRunner

from index import cli as cli_mod
from index import cli_common
from index.settings import Settings

from tests.conftest import MOSCOW_ARTICLE, MOSCOW_Q, ROOT, FakeEmbedder


@pytest.fixture
def env(tmp_path, corpus_copy, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    return {"NEWSQA_CORPUS_DIR": str(corpus_copy), "NEWSQA_DATA_DIR": str(tmp_path / "data"),
            "NEWSQA_LOG_LEVEL": "WARNING", "TELEGRAM_BOT_TOKEN": ""}


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setattr(cli_common, "_embedder", lambda settings: FakeEmbedder())


def run(args, env, input=None):
    return CliRunner().invoke(cli_mod.cli, args, env=env, input=input, catch_exceptions=False)


@pytest.mark.model
def test_ask_json_contract_with_the_real_model(env):
    result = run(["ask", "--json", "-k", "3", MOSCOW_Q], env)
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert obj["question"] == MOSCOW_Q and obj["found"] is True and isinstance(obj["answer"], str)
    assert "12 citizens" in obj["answer"]
    assert 1 <= len(obj["citations"]) <= 3
    for n, c in enumerate(obj["citations"], start=1):
        assert c["n"] == n
        for key, kind in [("article_id", str), ("title", str), ("text", str), ("score", float)]:
            assert isinstance(c[key], kind)
        assert c["source"] is None or isinstance(c["source"], str)
        assert c["published"] is None or re.fullmatch(r"\d{4}-\d\d-\d\d", c["published"])
    assert obj["citations"][0]["article_id"] == MOSCOW_ARTICLE


def test_piped_questions_print_one_json_object_per_line(env, fake):
    result = run(["ask"], env, input=f"{MOSCOW_Q}\n\n   \nrefugees in Europe\n" + "x" * 5000 + "\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"][:20] for line in lines] == [MOSCOW_Q[:20], "refugees in Europe", "x" * 20]
    assert "error" in lines[2] and "characters" in lines[2]["error"] and lines[2]["found"] is False


def test_ask_takes_the_previous_question_for_a_follow_up(env, fake):
    result = run(["ask", "--json", "--previous", "Who was detained in Moscow on 19 October?", "And on 11 October?"], env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["resolved_question"] == "Who was detained in Moscow on 11 October?"
    result = run(["ask", "--previous", "Who was detained in Moscow?"], env, input="And in Nalchik?\n")
    assert result.exit_code == 2 and "--previous goes with one QUESTION" in result.output


def test_readable_answer_lists_numbered_sources(env, fake):
    result = run(["ask", "Moscow detained October"], env)
    assert result.exit_code == 0
    assert "Sources:" in result.stdout and "[1]" in result.stdout


def test_index_reports_bad_files_and_still_indexes_the_rest(env, fake, corpus_copy):
    (corpus_copy / "broken.jsonl").write_text('{"id": "x1", "text": "fine"}\n{oops\n')
    (corpus_copy / "blob.txt").write_bytes(b"\x00\x01\x02")
    result = run(["index"], env)
    assert result.exit_code == 3  # done, but some articles were skipped
    assert "broken.jsonl, line 2: not valid JSON" in result.stderr
    assert "blob.txt: binary file" in result.stderr
    assert "6 added" in result.stderr


def test_empty_question_is_a_one_line_error(env, fake):
    result = run(["ask", "   "], env)
    assert result.exit_code == 1 and "Error: the question is empty" in result.stderr


def test_missing_corpus_folder_is_explained(env, fake, tmp_path):
    env["NEWSQA_CORPUS_DIR"] = str(tmp_path / "nowhere")
    result = run(["index"], env)
    assert result.exit_code != 0 and "does not exist" in result.output


def test_eval_on_a_qa_file(env, fake, tmp_path, corpus_copy):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": MOSCOW_Q, "article_id": MOSCOW_ARTICLE, "answers": ["12 citizens"]}) + "\n"
                  + json.dumps({"question": "capital of Australia", "article_id": None, "answers": []}) + "\n")
    result = run(["eval", "--qa", str(qa), "--corpus", str(corpus_copy), "--json"], env)
    figures = json.loads(result.stdout)
    assert figures["questions"] == 1 and figures["unanswerable"] == 1
    assert set(figures) >= {"recall@1", "recall@5", "mrr@10", "answer_hit", "abstained"}


def test_run_without_token_answers_piped_questions_in_the_terminal(env, fake):
    result = run(["run"], env, input="Moscow detained October\n")
    assert result.exit_code == 0
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "Q: Moscow detained October" in result.stdout and "Sources:" in result.stdout


def test_every_command_has_help_with_an_example():
    for name, command in cli_mod.cli.commands.items():
        result = CliRunner().invoke(cli_mod.cli, [name, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.output and "newsqa" in result.output, f"{name} --help has no example"


def test_every_setting_and_command_is_documented():
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for field in Settings.model_fields.values():
        assert f"{field.validation_alias}=" in example, f"{field.validation_alias} missing from .env.example"
    for name in cli_mod.cli.commands:
        assert f"newsqa {name}" in readme, f"'newsqa {name}' is not in the README"


def test_build_workers_setting_is_honoured_and_checked(env, fake, monkeypatch):
    from index import build

    asked = []
    real = build.build_index
    monkeypatch.setattr(build, "build_index", lambda *a, **k: asked.append(k.get("workers")) or real(*a, **k))
    result = run(["index"], {**env, "NEWSQA_BUILD_WORKERS": "2"})
    assert result.exit_code == 0 and asked == [2], result.output
    assert "added" in result.stderr
    result = run(["index", "--rebuild"], {**env, "NEWSQA_BUILD_WORKERS": ""})  # empty: one per core
    assert result.exit_code == 0 and asked[-1] is None
    result = run(["index"], {**env, "NEWSQA_BUILD_WORKERS": "0"})
    assert result.exit_code != 0 and "NEWSQA_BUILD_WORKERS" in result.output
