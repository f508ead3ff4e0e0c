"""``coordinator metrics`` (success, durations, cost, the measured saving of escalation) and ``coordinator tune``
(per-mode timeouts and max turns proposed from history, and committed with ``--apply``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from coordinator.cli.app import actor, cli, echo_json, now, read_text_option, store_for, usage_error

if TYPE_CHECKING:
    from coordinator.core.prices import PriceTable
    from coordinator.core.state import State
    from coordinator.models import Task
    from coordinator.store.store import StateStore

#: coordinator.core.tuning.DEFAULT_MIN_SAMPLES, written out so that importing this module stays cheap (every
#: ``coordinator`` command imports it); tests/test_cli_metrics.py checks the two agree.
DEFAULT_MIN_SAMPLES = 20

_SINCE_HELP = "Window: a span before now (7d, 24h, 2w), a date (2026-11-01), or 'all'."


@cli.command()
@click.option("--since", default="7d", show_default=True, metavar="SPAN", help=_SINCE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.png",
    help="Also draw daily cost and success rate into this PNG (needs: pip install 'coordinator-queue[plot]').",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.File("rb"),
    metavar="FILE.json",
    help='Your own model prices, USD per million tokens: {"models": {"claude-opus-5-5": {"input": 4, "output": '
    '20, "cache_write": 5, "cache_read": 0.2}}, "aliases": {"opus": "claude-opus-5-5"}}.',
)
@click.option("--top-mode", metavar="MODE", help="The mode of the counterfactual (default: the end of the escalation).")
@click.pass_context
def metrics(
    ctx: click.Context,
    since: str,
    as_json: bool,
    plot_file: Path | None,
    prices_file: Any,
    top_mode: str | None,
) -> None:
    """Success rates, durations, escalation and retry rates, cost and tokens by mode, runner and day, and the saving
    from escalation against running every task directly in the top mode (with how it was estimated)."""
    from coordinator.cli.metrics_render import metrics_text
    from coordinator.core.metrics import compute_metrics
    from coordinator.core.metrics_json import metrics_json

    if plot_file is not None:
        from coordinator.cli.metrics_plot import check_plot_target

        check_plot_target(plot_file)
    prices = _prices(prices_file)
    at = now()
    start = _since(since, at)
    with store_for(ctx) as store:
        state = store.read()
        tasks = every_task(store)
    _warn_problems(state)
    if top_mode is not None and top_mode not in state.modes.modes:
        usage_error(f"--top-mode: unknown mode '{top_mode}': use one of {', '.join(sorted(state.modes.modes))}")
    report = compute_metrics(tasks, modes=state.modes, prices=prices, since=start, now=at, top=top_mode)
    if plot_file is not None:
        from coordinator.cli.metrics_plot import draw

        draw(report, plot_file, f"coordinator: daily cost and success ({_window(since, start)})")
        click.echo(f"wrote {plot_file}", err=as_json)
    if as_json:
        echo_json(metrics_json(report))
    else:
        click.echo(metrics_text(report, _window(since, start), state.modes.modes))


@cli.command()
@click.option("--apply", "apply_", is_flag=True, help="Commit the proposed values to the modes on the state branch.")
@click.option("--since", default="30d", show_default=True, metavar="SPAN", help=_SINCE_HELP)
@click.option(
    "--min-samples",
    type=click.IntRange(1, 1_000_000),
    default=DEFAULT_MIN_SAMPLES,
    show_default=True,
    help="Successful attempts a mode needs in the window before its limits are proposed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tune(ctx: click.Context, apply_: bool, since: str, min_samples: int, as_json: bool) -> None:
    """Propose each mode's timeout and max turns from history (p95 of what successful attempts needed x 1.25,
    with a minimum sample), show the diff and the evidence; --apply commits it."""
    from coordinator.cli.metrics_render import tuning_text
    from coordinator.core.tuning import apply_tuning, propose_tuning

    at = now()
    start = _since(since, at)
    committed: str | None = None
    with store_for(ctx) as store:
        state = store.read()
        _warn_problems(state)
        report = propose_tuning(every_task(store), modes=state.modes, since=start, now=at, min_samples=min_samples)
        if apply_ and report.changes:
            who = actor()
            change = store.update(
                lambda fresh, _now: apply_tuning(fresh, since=start, now=at, min_samples=min_samples, by=who)
            )
            committed = None if change.empty else change.message
    if as_json:
        echo_json(_tuning_json(report, committed))
        return
    click.echo(tuning_text(report, _window(since, start)))
    click.echo("")
    if committed:
        click.echo(f"applied: {committed}")
    elif not report.changes:
        click.echo("nothing to change" + (": nothing applied" if apply_ else ""))
    elif apply_:
        click.echo("the modes already hold these values: nothing to commit")
    else:
        again = ("" if since == "30d" else f" --since {since}") + (
            "" if min_samples == DEFAULT_MIN_SAMPLES else f" --min-samples {min_samples}"
        )
        click.echo(f"to commit these changes: coordinator tune --apply{again}")


def _tuning_json(report: Any, committed: str | None) -> dict[str, Any]:
    return {
        "since": report.since.isoformat() if report.since else None,
        "min_samples": report.min_samples,
        "proposals": [
            {
                "mode": p.mode,
                "setting": p.setting,
                "current": p.current,
                "proposed": p.proposed,
                "why": p.why,
                "evidence": vars(p.evidence),
            }
            for p in report.proposals
        ],
        "applied": committed,
    }


def _warn_problems(state: State) -> None:
    """Unreadable task files are left out of the figures: say so (as list and status do), on stderr."""
    if state.problems:
        from coordinator.cli.render import problems_text

        click.echo(problems_text(state.problems.values()), err=True)


def _since(text: str, at: datetime) -> datetime | None:
    from coordinator.timeutil import parse_since

    try:
        return parse_since(text, at)
    except ValueError as exc:
        usage_error(f"--since: {exc}")


def _window(text: str, start: datetime | None) -> str:
    return "all history" if start is None else text


def _prices(stream: Any) -> PriceTable:
    """The built-in price table, with the file given to --prices on top."""
    from pydantic import ValidationError

    from coordinator.core.prices import PriceOverride, default_prices
    from coordinator.store.snapshot import describe_error

    table = default_prices()
    if stream is None:
        return table
    try:
        override = PriceOverride.model_validate_json(read_text_option(stream, "--prices"))
    except ValidationError as exc:
        usage_error(f"--prices {stream.name}: {describe_error(exc)} (see 'coordinator metrics --help' for the shape)")
    return table.merged(override)


def every_task(store: StateStore) -> list[Task]:
    """Every task history is read from: the live ones and those ``coordinator gc`` archived, ordered by id."""
    return sorted(store.all_tasks(), key=lambda task: task.id)
