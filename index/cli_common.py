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


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show library errors as one line instead of a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NewsQAError as e:
            raise click.ClickException(str(e)) from None
        except (OSError, sqlite3.Error) as e:  # the disk or the data folder changed under us
            raise click.ClickException(f"{type(e).__name__}: {e} (the index is unchanged; try again)") from None

    return wrapper


def _embedder(settings: "Settings") -> Any:
    """The configured model, loaded only when something needs it."""
    from index.embedding import LazyEmbedder

    return LazyEmbedder(settings.embedding_model)


def _report_build(report: Any) -> None:
    for problem in report.problems:
        click.echo(f"skipped {problem}", err=True)
    for dup, orig, sim in report.duplicates:
        click.echo(f"skipped {dup}: the same story as {orig} ({sim:.0%} alike)", err=True)
    if report.reason:
        click.echo(report.reason, err=True)
    click.echo(report.summary(), err=True)


def open_engine(settings: "Settings", build_if_missing: bool = True, refresh: bool = False) -> "Engine":
    """An engine over the configured index, building (or refreshing) it from the corpus first if asked."""
    from index import layout
    from index.build import build_index
    from index.engine import Engine

    embedder = _embedder(settings)
    if refresh or (build_if_missing and layout.current_build(settings.data_dir) is None):
        if not settings.corpus_dir.is_dir():
            raise NewsQAError(f"corpus folder {settings.corpus_dir} does not exist; set NEWSQA_CORPUS_DIR")
        _report_build(build_index(settings.corpus_dir, settings.data_dir, embedder, progress=True))
    return Engine(settings.data_dir, embedder, max_question_chars=settings.max_question_chars)
