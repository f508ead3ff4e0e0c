"""``coordinator log``: the completion log, the state branch's history read as events (newest first)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

import click

from coordinator.cli.app import check_id, cli, echo_json, now, store_for, usage_error

if TYPE_CHECKING:
    from coordinator.core.completion_log import Event


@cli.command(name="log")
@click.option("--task", "task_id", metavar="ID", help="Only the events of this task.")
@click.option("--since", metavar="AGE|DATE", help="Look back this far: 1d, 12h, 30m, or a date (default: all).")
@click.option("--limit", type=click.IntRange(1), help="Read at most this many commits (newest first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def log_cmd(ctx: click.Context, task_id: str | None, since: str | None, limit: int | None, as_json: bool) -> None:
    """What happened, newest first: submitted, claimed by, attempt outcomes, escalations, cancellations, locks,
    deliveries, with who, when and the commit. Derived from the branch's history, never edited."""
    from coordinator.cli.render import event_rows
    from coordinator.core.completion_log import Commit, about, events
    from coordinator.timeutil import parse_since

    if task_id is not None:
        check_id(task_id)
    start = None
    if since is not None:
        try:
            start = parse_since(since, now())
        except ValueError as exc:
            usage_error(f"--since: {exc}")
    with store_for(ctx) as store:
        store.read()
        commits = [
            Commit(sha=c.commit, author=c.author, at=_when(c.at), message=c.message)
            for c in store.history(since=start, limit=limit)
        ]
    found = events(commits)
    if task_id is not None:
        found = about(found, task_id)
    if as_json:
        echo_json([_as_dict(e) for e in found])
        return
    click.echo(event_rows(found) if found else "no events" + (f" of {task_id}" if task_id else ""))


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _as_dict(event: Event) -> dict[str, object]:
    data = asdict(event)
    data["at"] = event.at.isoformat()
    return data
