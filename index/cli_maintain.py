"""Maintainer commands: index, add, remove, sync and stats. Each is a thin shell over the library."""

from __future__ import annotations

import json
from pathlib import Path

import click

from index import cli_common
from index.cli_common import _guard, _report_build, _settings, open_engine


def _reindex(ctx: click.Context, forget: set[str] = frozenset()) -> None:
    from index.build import build_index

    settings = _settings(ctx)
    _report_build(build_index(settings.corpus_dir, settings.data_dir, cli_common._embedder(settings),
                              progress=True, forget=forget))


def _live_index(ctx: click.Context) -> dict[str, str]:
    """``{article id: path}`` of the live index, after checking it was built from this corpus."""
    from index import layout, store
    from index.errors import NewsQAError

    settings = _settings(ctx)
    live = layout.current_build(settings.data_dir)
    if live is None:
        return {}
    db = store.open_db(live / layout.DB_NAME, readonly=True)
    try:
        built_from = store.get_meta(db).get("corpus_dir")
        paths = {r[0]: r[1] for r in db.execute("select id, path from articles")}
    finally:
        db.conn.close()
    if built_from and Path(built_from) != settings.corpus_dir.resolve():
        raise NewsQAError(
            f"the index in {settings.data_dir} was built from {built_from}, not from NEWSQA_CORPUS_DIR="
            f"{settings.corpus_dir}; set NEWSQA_CORPUS_DIR to that folder, or re-index this one with "
            f"'newsqa index --corpus {settings.corpus_dir}'"
        )
    return paths


def _problems(change: object) -> None:
    for problem in getattr(change, "problems", []):
        click.echo(f"skipped {problem}", err=True)


@click.command("index")
@click.option("--corpus", "corpus", type=click.Path(file_okay=False, path_type=Path), help="Article folder (default: NEWSQA_CORPUS_DIR).")
@click.option("--rebuild", is_flag=True, help="Re-embed everything instead of only what changed.")
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
@click.option("--watch", is_flag=True, help="Keep the model loaded and re-index whenever the folder changes.")
@click.option("--interval", type=click.FloatRange(0.2, 3600), default=2.0, show_default=True,
              help="With --watch: seconds between looks at the folder.")
@click.pass_context
@_guard
def index_cmd(ctx: click.Context, corpus: Path | None, rebuild: bool, dry_run: bool, watch: bool,
              interval: float) -> None:
    """Build or update the index from the article folder.

    Only added or changed articles are chunked and embedded; the new index replaces the old
    one atomically, so the bot keeps answering throughout. With --watch it keeps running:
    the model stays loaded, so a new article is searchable about a second after it lands.

    \b
    Examples:
        newsqa index --corpus corpus/
        newsqa index --watch --interval 1
    """
    from index.build import build_index
    from index.watch import watch_corpus

    settings = _settings(ctx)
    corpus = corpus or settings.corpus_dir
    if not corpus.is_dir():
        raise click.ClickException(f"corpus folder {corpus} does not exist")
    embedder = cli_common._embedder(settings)
    _report_build(build_index(corpus, settings.data_dir, embedder, rebuild=rebuild, dry_run=dry_run, progress=True))
    if watch and not dry_run:
        embedder.dim  # load the model now, not when the first article arrives
        click.echo(f"watching {corpus} every {interval:g}s (Ctrl-C to stop)", err=True)
        watch_corpus(corpus, settings.data_dir, embedder, interval, on_report=_report_build)


@click.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an article that has the same id but different content.")
@click.option("--no-index", is_flag=True, help="Only copy the files; index later.")
@click.pass_context
@_guard
def add_cmd(ctx: click.Context, paths: tuple[Path, ...], force: bool, no_index: bool) -> None:
    """Copy article files (or every article in a folder) into the corpus and index them.

    An article's id is its file name without the extension; adding a different article under
    an id the corpus already has is refused unless --force is given.

    \b
    Example:
        newsqa add ~/incoming/2015-10-22-moscow.txt ~/incoming/batch/
    """
    from index.corpus import add_files

    settings = _settings(ctx)
    _live_index(ctx)
    change = add_files(list(paths), settings.corpus_dir, force=force)
    click.echo(f"added {len(change.written)} file(s) to {settings.corpus_dir}"
               + (f", {len(change.unchanged)} already there" if change.unchanged else ""), err=True)
    if not no_index:
        _reindex(ctx)


@click.command("remove")
@click.argument("ids", nargs=-1, required=True)
@click.option("--no-index", is_flag=True, help="Only delete from the corpus; index later.")
@click.pass_context
@_guard
def remove_cmd(ctx: click.Context, ids: tuple[str, ...], no_index: bool) -> None:
    """Remove articles by id (their file, or their line of a .jsonl file) and update the index.

    \b
    Example:
        newsqa remove 002_268e4578f94adf6e
    """
    from index.corpus import remove_ids

    settings = _settings(ctx)
    change = remove_ids(list(ids), settings.corpus_dir, _live_index(ctx))
    _problems(change)
    missing = sorted(set(ids) - set(change.removed))
    click.echo(f"removed {len(change.removed)} article(s)" + (f"; not found: {', '.join(missing)}" if missing else ""),
               err=True)
    if not no_index:
        _reindex(ctx, forget=set(change.removed))


@click.command("sync")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
@_guard
def sync_cmd(ctx: click.Context, source: Path) -> None:
    """Make the corpus mirror SOURCE (add, replace, delete) and update the index: a nightly routine.

    \b
    Example:
        newsqa sync /srv/newsroom/export
    """
    from index.corpus import sync_folder

    settings = _settings(ctx)
    _live_index(ctx)
    change = sync_folder(source, settings.corpus_dir)
    _problems(change)
    click.echo(f"synced from {source}: {len(change.written)} written, {len(change.removed)} removed, "
               f"{len(change.unchanged)} unchanged", err=True)
    _reindex(ctx)


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
@_guard
def stats_cmd(ctx: click.Context, as_json: bool) -> None:
    """Articles, passages, date range, sources, model, size on disk and build time of the index.

    \b
    Example:
        newsqa stats --json
    """
    settings = _settings(ctx)
    stats = open_engine(settings, build_if_missing=False).stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    for key, value in stats.items():
        click.echo(f"{key:>14}: {', '.join(map(str, value)) if isinstance(value, list) else value}")


def register(group: click.Group) -> None:
    """Attach the maintainer commands to the ``newsqa`` group."""
    for command in (index_cmd, add_cmd, remove_cmd, sync_cmd, stats_cmd):
        group.add_command(command)
