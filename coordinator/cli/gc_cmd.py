"""``coordinator gc``: move ended tasks to the archive of the state branch (they stay readable by ``show``)."""

from __future__ import annotations

import click

from coordinator.cli.app import cli, echo_json, now, store_for, usage_error


@cli.command()
@click.option(
    "--older-than",
    "older_than",
    default="7d",
    show_default=True,
    metavar="AGE",
    help="Archive tasks that ended (last changed) longer ago than this: 36h, 7d, 2w (at least 1d).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be archived.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def gc(ctx: click.Context, older_than: str, dry_run: bool, as_json: bool) -> None:
    """Move ended tasks off the live tree into the archive (one commit per batch of up to 500); safe to run on
    several machines at once. Archived tasks stay readable by 'coordinator show' and their ids stay taken."""
    from coordinator.core.archive import GcRequest, archivable, check_request, parse_age
    from coordinator.store.gc import collect

    try:
        request = check_request(GcRequest(older_than=parse_age(older_than)))
    except ValueError as exc:
        usage_error(f"--older-than: {exc}")
    with store_for(ctx) as store:
        if dry_run:
            tasks = archivable(store.read(), now(), request.older_than)
            _print_dry_run([t.id for t in tasks], older_than, as_json)
            return
        report = collect(store, request)
    if as_json:
        echo_json(
            {
                "archived": report.archived,
                "commits": report.commits,
                "live": report.live,
                "archived_total": report.archived_total,
            }
        )
        return
    if report.archived:
        click.echo(
            f"archived {report.archived} task(s) that ended more than {older_than} ago, in {report.commits} "
            f"commit(s); {report.live} task(s) stay live, {report.archived_total} archived in all"
        )
    else:
        click.echo(
            f"nothing to archive: no task ended more than {older_than} ago with nothing still pointing at it; "
            f"{report.live} task(s) live, {report.archived_total} archived"
        )


def _print_dry_run(ids: list[str], older_than: str, as_json: bool) -> None:
    if as_json:
        echo_json({"would_archive": ids})
    elif ids:
        shown = ", ".join(ids[:20]) + (f", … ({len(ids) - 20} more)" if len(ids) > 20 else "")
        click.echo(f"would archive {len(ids)} task(s) that ended more than {older_than} ago: {shown}")
    else:
        click.echo(f"nothing to archive: no task ended more than {older_than} ago with nothing still pointing at it")
