"""``coordinator ingest``: one GitHub event (the file Actions writes, or a saved webhook body) into the queue."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from coordinator.cli.app import cli, store_for, usage_error


@cli.command()
@click.option(
    "--event-name",
    envvar="GITHUB_EVENT_NAME",
    metavar="NAME",
    help="The event's name, e.g. issues (default: $GITHUB_EVENT_NAME, set by GitHub Actions).",
)
@click.option(
    "--event",
    "event_path",
    envvar="GITHUB_EVENT_PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="The event's JSON payload (default: $GITHUB_EVENT_PATH, set by GitHub Actions).",
)
@click.option("--delivery", metavar="ID", help="The webhook delivery id (X-GitHub-Delivery), if there is one.")
@click.pass_context
def ingest(ctx: click.Context, event_name: str | None, event_path: Path | None, delivery: str | None) -> None:
    """Turn a GitHub event into a task change: a labelled issue queues a task, an edit updates it, closing or
    unlabelling cancels it. Events coordinator does not act on are ignored (exit 0)."""
    from coordinator.github.events import Unsupported, parse

    if not event_name:
        usage_error("no event name: pass --event-name (e.g. issues) or set GITHUB_EVENT_NAME")
    if event_path is None:
        usage_error("no event file: pass --event PATH or set GITHUB_EVENT_PATH (GitHub Actions sets both)")
    event = parse(event_name, _payload(event_path), delivery=delivery)
    if isinstance(event, Unsupported):
        click.echo(f"ignored: {event.why}")
        return
    _handle(ctx, event)


def _handle(ctx: click.Context, event: Any) -> None:
    from coordinator.github.ingest import plan_for
    from coordinator.github.settings import GitHubSettings, token_in
    from coordinator.github.wiring import ingest_for
    from coordinator.redaction import Redactor

    if not token_in(os.environ):
        # An event coordinator ignores needs no token (the workflow may run without one for such events);
        # anything else stops at the missing token below, before anything is written.
        with store_for(ctx) as store:
            what = plan_for(store.read(), event)
        if what.action == "ignore":
            click.echo(f"ignored: {what.why}")
            return
    settings = GitHubSettings.from_env(repository=event.repository)
    redactor = Redactor.from_env(dict(os.environ))
    with (
        store_for(ctx) as store,
        ingest_for(
            store, settings, who="ingest", redactor=redactor, echo=lambda line: click.echo(line, err=True)
        ) as side,
    ):
        outcome = side.ingest.handle(event)
        click.echo(redactor.redact(outcome.message))
        click.echo(f"GitHub REST calls: {side.api.calls}", err=True)


def _payload(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        usage_error(f"no event file at {path}: check --event / GITHUB_EVENT_PATH")
    except (OSError, ValueError, RecursionError) as exc:
        # ValueError: not JSON, not UTF-8, or an integer longer than Python reads; RecursionError: nested deeper
        # than the parser goes. None of it is what GitHub writes.
        usage_error(
            f"cannot read the event file {path}: {_first_line(exc)} (it must be the JSON payload GitHub writes: "
            "check --event / GITHUB_EVENT_PATH)"
        )
    if not isinstance(data, dict):
        usage_error(f"the event file {path} does not hold a JSON object: is it a GitHub event payload?")
    return data


def _first_line(exc: BaseException) -> str:
    """The error's message, one line (a parser's message may name the whole offending input)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
