"""Maintainer commands: index, add, remove, sync and stats. Each is a thin shell over the library."""

from __future__ import annotations

import json
from pathlib import Path

import click

from index import cli_common
from index.cli_common import _guard, _report_build, _settings, exit_for, open_engine, remove_share

FORCE_HELP = "Apply it even if it removes more than NEWSQA_MAX_REMOVE_SHARE of the indexed articles."


def _reindex(ctx: click.Context, forget: set[str] = frozenset(), force: bool = False) -> None:
    from index.build import build_index

    settings = _settings(ctx)
    report = build_index(settings.corpus_dir, settings.data_dir, cli_common._embedder(settings),
                         progress=True, forget=forget, max_remove_share=remove_share(settings, force),
                         workers=settings.build_workers)
    _report_build(report)
    exit_for(report)


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
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.option("--watch", is_flag=True, help="Keep the model loaded and re-index whenever the folder changes.")
@click.option("--interval", type=click.FloatRange(0.2, 3600), default=2.0, show_default=True,
              help="With --watch: seconds between looks at the folder.")
@click.pass_context
@_guard
def index_cmd(ctx: click.Context, corpus: Path | None, rebuild: bool, dry_run: bool, force: bool, watch: bool,
              interval: float) -> None:
    """Build or update the index from the article folder.

    Only added or changed articles are chunked and embedded; the new index replaces the old
    one atomically, so the bot keeps answering throughout. With --watch it keeps running:
    the model stays loaded, so a new article is searchable about a second after it lands.

    Every run lists the articles that are not indexed and why. Exit status: 0 done;
    3 done, but some articles were skipped; 4 refused, because the change would remove more
    than NEWSQA_MAX_REMOVE_SHARE of the index (check the folder, or use --force).

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
    share = remove_share(settings, force)
    report = build_index(corpus, settings.data_dir, embedder, rebuild=rebuild, dry_run=dry_run, progress=True,
                         max_remove_share=share, workers=settings.build_workers)
    _report_build(report)
    if watch and not dry_run:
        embedder.dim  # load the model now, not when the first article arrives
        click.echo(f"watching {corpus} every {interval:g}s (Ctrl-C to stop)", err=True)
        watch_corpus(corpus, settings.data_dir, embedder, interval, on_report=_report_build,
                     max_remove_share=share)
    exit_for(report)


@click.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an article that has the same id but different content "
                                           "(and apply the change even if it removes much of the index).")
@click.option("--no-index", is_flag=True, help="Only copy the files; index later.")
@click.pass_context
@_guard
def add_cmd(ctx: click.Context, paths: tuple[Path, ...], force: bool, no_index: bool) -> None:
    """Copy article files (or every article in a folder) into the corpus and index them.

    An article's id is its file name without the extension; adding a different article under
    an id the corpus already has is refused unless --force is given. Every file is checked
    first: if any is bad, all bad ones are listed and nothing is copied. Exit status as for
    'newsqa index' (3: some articles skipped).

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
        _reindex(ctx, force=force)


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
@click.option("--dry-run", is_flag=True, help="Only say what would change; touch neither the corpus nor the index.")
@click.option("--force", is_flag=True, help=FORCE_HELP)
@click.pass_context
@_guard
def sync_cmd(ctx: click.Context, source: Path, dry_run: bool, force: bool) -> None:
    """Make the corpus mirror SOURCE (add, replace, delete) and update the index: a nightly routine.

    A sync that would remove more than NEWSQA_MAX_REMOVE_SHARE of the indexed articles (an
    empty or wrong SOURCE) is refused before the corpus is touched (exit status 4) unless
    --force is given; 3 means done, but some articles were skipped.

    \b
    Examples:
        newsqa sync --dry-run /srv/newsroom/export
        newsqa sync /srv/newsroom/export
    """
    from index.corpus import sync_folder, sync_losses
    from index.errors import TooManyRemovals

    settings = _settings(ctx)
    indexed = _live_index(ctx)
    lost = sync_losses(source, settings.corpus_dir, indexed)
    share = remove_share(settings, force)
    if share is not None and indexed and len(lost) > share * len(indexed):
        raise TooManyRemovals(
            f"refused: syncing from {source} would remove {len(lost)} of the {len(indexed)} indexed articles "
            f"({len(lost) / len(indexed):.0%}, more than NEWSQA_MAX_REMOVE_SHARE={share:g}); the corpus is "
            "unchanged. Is it the right folder? If this is intended, run again with --force")
    change = sync_folder(source, settings.corpus_dir, dry_run=dry_run)
    _problems(change)
    verb = "would sync" if dry_run else "synced"
    click.echo(f"{verb} from {source}: {len(change.written)} written, {len(change.removed)} removed, "
               f"{len(change.unchanged)} unchanged; {len(lost)} indexed article(s) would go", err=True)
    if dry_run:
        for aid in lost[:20]:
            click.echo(f"  would remove {aid}", err=True)
        if change.problems:
            raise click.exceptions.Exit(cli_common.EXIT_SKIPPED)
        return
    _reindex(ctx, force=True)  # the share was checked above, against the files as they were


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_context
@_guard
def stats_cmd(ctx: click.Context, as_json: bool) -> None:
    """Articles, passages, date range, sources, model, size on disk and build time of the index.

    The articles the last build could not index are listed on stderr, with why; the exit
    status is then 3.

    \b
    Example:
        newsqa stats --json
    """
    from index.changes import BuildReport, load_problems

    settings = _settings(ctx)
    engine = open_engine(settings, build_if_missing=False)
    stats = engine.stats()
    report = BuildReport()
    load_problems(engine.snapshot().folder, report)
    stats["not_indexed"] = len(report.skipped) + len(report.duplicates)
    if as_json:
        stats["problems"] = [{"path": p.path, "line": p.line, "kind": p.kind, "problem": p.problem}
                             for p in report.problems]
        click.echo(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            click.echo(f"{key:>14}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
        for problem in report.problems:
            click.echo(f"{'warning' if problem.kind == 'warning' else 'skipped'} {problem}", err=True)
        for dup, orig, sim in report.duplicates:
            click.echo(f"skipped {dup}: the same story as {orig} ({sim:.0%} alike)", err=True)
    exit_for(report)


def register(group: click.Group) -> None:
    """Attach the maintainer commands to the ``newsqa`` group."""
    for command in (index_cmd, add_cmd, remove_cmd, sync_cmd, stats_cmd):
        group.add_command(command)
