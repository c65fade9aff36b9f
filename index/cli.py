"""The ``newsqa`` command: a thin shell over the engine that turns its errors into one clear line."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from index import cli_common
from index.cli_common import TOKEN_HINT, _guard, _report_build, _settings, open_engine
from index.errors import NewsQAError

if TYPE_CHECKING:
    from index.engine import Engine

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsqa")
def cli() -> None:
    """NewsQA: ask questions about a news corpus and get quoted answers with citations.

    Settings come from the environment and .env (see .env.example).

    \b
    Example:
        newsqa index && newsqa ask "Who was detained in Moscow in October?"
    """


def _ask_one(engine: "Engine", question: str, k: int, previous: str | None = None) -> dict[str, Any]:
    try:
        return engine.ask(question, k=k, previous=previous).to_dict()
    except NewsQAError as e:
        shown = question if len(question) <= 200 else question[:200] + "…"
        return {"question": shown, "found": False, "answer": "", "citations": [], "error": str(e)}


@cli.command("ask")
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.option("-k", "k", type=click.IntRange(1, 50), default=None, help="How many passages to retrieve (default: NEWSQA_TOP_K).")
@click.option("--previous", default=None, metavar="TEXT",
              help="The question asked before, for a follow-up such as 'Where is he from?'.")
@click.pass_context
@_guard
def ask_cmd(ctx: click.Context, question: str | None, as_json: bool, k: int | None, previous: str | None) -> None:
    """Answer QUESTION from the articles, quoting them with numbered citations.

    With no QUESTION and standard input not a terminal, read one question per line and
    print one JSON object per line.

    \b
    Examples:
        newsqa ask "Who was detained in Moscow in October?"
        newsqa ask --json -k 3 "Who is Magomed Khasayev?"
        newsqa ask --previous "Who is Roman Zabolotny?" "Where is he from?"
        printf 'Who is Roman Zabolotny?\\n' | newsqa ask
    """
    settings = _settings(ctx)
    k = k or settings.top_k
    if question is None:
        if sys.stdin.isatty():
            raise click.UsageError("give a QUESTION, or pipe questions on standard input, one per line")
        if previous is not None:
            raise click.UsageError("--previous goes with one QUESTION, not with questions on standard input")
        engine = open_engine(settings)
        for line in sys.stdin:
            if line.strip():
                click.echo(json.dumps(_ask_one(engine, line.rstrip("\n"), k), ensure_ascii=False))
        return
    engine = open_engine(settings)
    if as_json:
        result = _ask_one(engine, question, k, previous)
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        if "error" in result:
            ctx.exit(1)
        return
    from index.render import render_answer

    click.echo(render_answer(engine.ask(question, k=k, previous=previous)))


HISTORY_LINES = 1000


def _terminal(history: Path | None) -> None:
    """Line editing and a history kept between sessions; logs below WARNING stay out of the conversation."""
    import atexit
    import logging

    for handler in logging.getLogger().handlers:
        handler.setLevel(max(handler.level, logging.WARNING))
    try:
        import readline
    except ImportError:  # not on every platform; input() still works
        return
    if history is None:
        return
    try:
        history.parent.mkdir(parents=True, exist_ok=True)
        if history.exists():
            readline.read_history_file(history)
    except OSError:
        return
    readline.set_history_length(HISTORY_LINES)
    atexit.register(lambda: _save_history(readline, history))


def _save_history(readline: Any, history: Path) -> None:
    try:
        readline.write_history_file(history)
    except OSError:
        pass


def chat_loop(engine: "Engine", k: int, interactive: bool, history: Path | None = None) -> None:
    """Answer questions from standard input until it ends."""
    from index.render import render_answer

    if interactive:
        _terminal(history)
    previous: str | None = None
    while True:
        if interactive:
            try:
                line = input("\nquestion> ")
            except (EOFError, KeyboardInterrupt):
                click.echo()
                return
        else:
            line = sys.stdin.readline()
            if not line:
                return
        if not line.strip():
            continue
        if line.strip().lower() in ("quit", "exit", ":q") and interactive:
            return
        if not interactive:
            click.echo(f"Q: {line.strip()}")
        try:
            result = engine.ask(line.rstrip("\n"), k=k, previous=previous)
            click.echo(render_answer(result))
            previous = result.resolved or line.strip()  # a follow-up ("Where is he from?") is read against it
        except NewsQAError as e:
            click.echo(f"Sorry: {e}")
        if not interactive:
            click.echo()


@cli.command("chat")
@click.pass_context
@_guard
def chat_cmd(ctx: click.Context) -> None:
    """Chat with the engine in the terminal; piped input is answered line by line.

    \b
    Example:
        echo "Who was detained in Moscow in October?" | newsqa chat
    """
    settings = _settings(ctx)
    engine = open_engine(settings, warm=True)
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Ask about the news in the index (Ctrl-D or 'quit' to leave; arrow keys recall earlier questions).")
    chat_loop(engine, settings.top_k, interactive, settings.chat_history)


@cli.command("run")
@click.pass_context
@_guard
def run_cmd(ctx: click.Context) -> None:
    """The main job: refresh the index from the corpus, then start the bot or the terminal chat.

    The Telegram bot starts when TELEGRAM_BOT_TOKEN is set; otherwise questions are answered
    in the terminal (or read from standard input, one per line).

    \b
    Example:
        TELEGRAM_BOT_TOKEN=123:abc newsqa run
    """
    settings = _settings(ctx)
    engine = open_engine(settings, refresh=True, warm=True)
    if settings.telegram_bot_token:
        from bot.app import run_bot

        run_bot(settings, engine)
        return
    interactive = sys.stdin.isatty()
    click.echo(TOKEN_HINT, err=True)
    if interactive:
        click.echo("Ask about the news in the index (Ctrl-D or 'quit' to leave; arrow keys recall earlier questions).")
    chat_loop(engine, settings.top_k, interactive, settings.chat_history)


@cli.command("eval")
@click.option("--squad", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="SQuAD-format JSON: each paragraph becomes an article.")
@click.option("--questions", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --squad: a parallel SQuAD file (same question ids, e.g. XQuAD in Russian) whose questions "
                   "are asked instead, over the --squad paragraphs.")
@click.option("--qa", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="JSONL of questions about the corpus (question, article_id or null, answers).")
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), help="Corpus for --qa (default: NEWSQA_CORPUS_DIR).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Ask only the first N questions.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
@_guard
def eval_cmd(ctx: click.Context, squad: Path | None, questions: Path | None, qa: Path | None, corpus: Path | None,
             limit: int | None, as_json: bool) -> None:
    """Measure retrieval and answers: article recall@1/@5, MRR@10, answer-hit, abstention.

    The articles are indexed into a temporary folder with the configured model; the live
    index is not touched.

    \b
    Examples:
        newsqa eval --squad ../shared/benchmarks/xquad/xquad.en.json
        newsqa eval --squad xquad.en.json --questions xquad.ru.json   # Russian questions, English paragraphs
        newsqa eval --qa tests/data/corpus_qa.jsonl
    """
    from index.build import build_index
    from index.engine import Engine
    from index.evaluate import evaluate, format_report, load_qa, load_squad

    if bool(squad) == bool(qa):
        raise click.UsageError("give exactly one of --squad FILE or --qa FILE")
    if questions and not squad:
        raise click.UsageError("--questions goes with --squad (the file whose paragraphs are indexed)")
    settings = _settings(ctx)
    embedder = cli_common._embedder(settings)
    with tempfile.TemporaryDirectory(prefix="newsqa-eval-") as tmp:
        if squad:
            rows, items = load_squad(squad, questions)
            src = Path(tmp) / "corpus"
            src.mkdir()
            (src / "squad.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
        else:
            items = load_qa(qa)
            src = corpus or settings.corpus_dir
        items = items[:limit] if limit else items
        report = build_index(src, Path(tmp) / "data", embedder, progress=True)
        _report_build(report)
        engine = Engine(Path(tmp) / "data", embedder, max_question_chars=settings.max_question_chars)
        from tqdm import tqdm

        with tqdm(total=len(items), unit="question", desc="asking", disable=None, file=sys.stderr) as bar:
            figures = evaluate(engine, items, on_item=lambda: bar.update(1))
    figures = {"model": embedder.name, **figures}
    click.echo(json.dumps(figures, indent=2) if as_json else format_report(figures))


@cli.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: NEWSQA_API_HOST, 127.0.0.1). "
                                           "Any non-loopback address needs NEWSQA_API_KEY.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default: NEWSQA_API_PORT, 8000).")
@click.pass_context
@_guard
def serve_cmd(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the HTTP API and the question page (http://127.0.0.1:8000/, reference at /docs).

    Bound to loopback by default. To listen on another address, set NEWSQA_API_KEY: every API
    request must then send it as 'X-API-Key: KEY' or 'Authorization: Bearer KEY'.

    \b
    Examples:
        newsqa serve
        NEWSQA_API_KEY=change-me newsqa serve --host 0.0.0.0 --port 8080
    """
    from index.api import bind, check_bind, serve

    settings = _settings(ctx)
    host = host or settings.api_host
    port = port or settings.api_port
    check_bind(host, settings.api_key)  # before loading the model: fail fast
    sock = bind(host, port)
    serve(settings, open_engine(settings), host, port, sock=sock, warm_up=cli_common.warm_up)


def main() -> None:
    try:
        cli(prog_name="newsqa")
    except BrokenPipeError:  # `newsqa stats | head`: the reader left; say nothing more
        _quiet_stdout()
        sys.exit(1)
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot raise BrokenPipeError again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


from index.cli_maintain import register  # noqa: E402  (commands that need ``cli`` to exist)

register(cli)


if __name__ == "__main__":
    main()
