"""Helpers shared by the ``newsqa`` commands: settings, error display, opening the engine."""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING, Any, Callable

import click

from index.errors import NewsQAError

if TYPE_CHECKING:
    from index.engine import Engine
    from index.settings import Settings

EXIT_SKIPPED = 3  # done, but some articles are not in the index: each is listed on stderr with why
EXIT_REFUSED = 4  # nothing changed: it would remove too much of the index (NEWSQA_MAX_REMOVE_SHARE; --force)

log = logging.getLogger(__name__)

TOKEN_HINT = ("No TELEGRAM_BOT_TOKEN is set, so NewsQA is answering here in the terminal. "
              "To run the Telegram bot, put TELEGRAM_BOT_TOKEN=... in .env (see README) and run 'make run' again.")


def _settings(ctx: click.Context) -> "Settings":
    from pydantic import ValidationError

    from index.settings import Settings

    if ctx.obj is None:
        try:
            ctx.obj = Settings()
        except ValidationError as e:
            first = e.errors()[0]
            raise click.ClickException(f"bad setting {first['loc'][0]}: {first['msg']} (check .env)") from None
        logging.basicConfig(level=ctx.obj.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for noisy in ("faiss.loader", "httpx", "httpcore", "sentence_transformers"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return ctx.obj


class Refused(click.ClickException):
    """A change the guard refused; its own exit code so scripts can tell it from a failure."""

    exit_code = EXIT_REFUSED


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show library errors as one line instead of a traceback."""
    import functools

    from index.errors import TooManyRemovals

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TooManyRemovals as e:
            if e.report is not None:
                _report_build(e.report)
            raise Refused(str(e)) from None
        except NewsQAError as e:
            raise click.ClickException(str(e)) from None
        except BrokenPipeError:  # the reader of our output left (`| head`): not an index problem
            raise
        except (OSError, sqlite3.Error) as e:  # the disk or the data folder changed under us
            raise click.ClickException(f"{type(e).__name__}: {e} (the index is unchanged; try again)") from None

    return wrapper


def _embedder(settings: "Settings") -> Any:
    """The configured model, loaded only when something needs it."""
    from index.embedding import LazyEmbedder

    return LazyEmbedder(settings.embedding_model)


def _report_build(report: Any) -> None:
    """Every article not indexed and why (on every run, also when nothing changed), then the summary."""
    for problem in report.problems:
        click.echo(f"{'warning' if problem.kind == 'warning' else 'skipped'} {problem}", err=True)
    for dup, orig, sim in report.duplicates:
        click.echo(f"skipped {dup}: the same story as {orig} ({sim:.0%} alike)", err=True)
    if report.reason:
        click.echo(report.reason, err=True)
    click.echo(report.summary(), err=True)


def exit_for(report: Any) -> None:
    """Exit with EXIT_SKIPPED when any article or file was left out of the index."""
    if report.skipped:
        raise click.exceptions.Exit(EXIT_SKIPPED)


def remove_share(settings: "Settings", force: bool) -> float | None:
    return None if force else settings.max_remove_share


WARM_UP_QUESTIONS = ("Who said what, and when?", "How many people were there in October?",
                     "Where did the president go?")


def warm_up(engine: "Engine") -> None:
    """Load the model and touch every part of a search once, so the first question is as fast as the rest."""
    import time

    started = time.monotonic()
    engine.embedder.dim
    try:
        for question in WARM_UP_QUESTIONS:  # a few kinds: who/when/how many take different paths
            engine.ask(question)
    except NewsQAError as e:  # an empty or mismatched index still serves its error later
        log.warning("warm-up question failed: %s", e)
    log.info("model %s loaded and warmed up in %.1fs", engine.embedder.name, time.monotonic() - started)


def open_engine(settings: "Settings", build_if_missing: bool = True, refresh: bool = False,
                warm: bool = False) -> "Engine":
    """An engine over the configured index, building (or refreshing) it from the corpus first if asked.

    ``warm``: load the model before returning (front ends that take questions: bot, chat, API).
    """
    from index import layout
    from index.build import build_index
    from index.engine import Engine
    from index.errors import TooManyRemovals

    embedder = _embedder(settings)
    if warm and hasattr(embedder, "preload"):
        embedder.preload()  # the model's import overlaps with checking the corpus
    if warm:
        from index import bridge

        bridge.bundled().preload()  # for questions in another language than the articles
    if refresh or (build_if_missing and layout.current_build(settings.data_dir) is None):
        if not settings.corpus_dir.is_dir():
            raise NewsQAError(f"corpus folder {settings.corpus_dir} does not exist; set NEWSQA_CORPUS_DIR")
        try:
            _report_build(build_index(settings.corpus_dir, settings.data_dir, embedder, progress=True,
                                      max_remove_share=settings.max_remove_share, workers=settings.build_workers))
        except TooManyRemovals as e:
            if layout.current_build(settings.data_dir) is None:
                raise
            if e.report is not None:
                _report_build(e.report)
            click.echo(f"Error: {e}\nStill serving the index as it was; fix the folder or run "
                       "'newsqa index --force'.", err=True)
    engine = Engine(settings.data_dir, embedder, max_question_chars=settings.max_question_chars)
    if warm:
        warm_up(engine)
    return engine
