"""``coordinator budget``: today's spend against the daily cap, the last days' spend, and setting the cap."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click

from coordinator.cli.app import actor, cli, echo_json, now, store_for, usage_error

if TYPE_CHECKING:
    from datetime import datetime

    from coordinator.core.state import State


@cli.command(name="budget")
@click.option("--daily", metavar="USD", help="Set the daily cap in US dollars (per UTC day, all runners together).")
@click.option("--no-cap", is_flag=True, help="Remove the daily cap.")
@click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True, help="Days of spend to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def budget(ctx: click.Context, daily: str | None, no_cap: bool, days: int, as_json: bool) -> None:
    """Show today's spend against the daily cap (and the spend of the last days), or change the cap.

    Once a UTC day's recorded spend (cut-short attempts included) reaches the cap, runners claim no task until
    the next UTC day; tasks already running finish."""
    from coordinator.core.transitions.budget import set_budget

    if daily is not None and no_cap:
        usage_error("--daily and --no-cap contradict each other: give one of them")
    with store_for(ctx) as store:
        if daily is not None or no_cap:
            new = _budget(None if no_cap else _dollars(daily))
            who = actor()
            change = store.update(lambda state, _now: set_budget(state, budget=new, by=who))
            click.echo(change.message)
        state = store.read()
    if as_json:
        echo_json(budget_json(state, now(), days))
    else:
        click.echo(budget_text(state, now(), days))


def _dollars(text: str | None) -> float:
    try:
        value = float(str(text).strip().removeprefix("$"))
    except ValueError:
        usage_error(f"--daily {text!r}: not an amount of US dollars; use e.g. --daily 25 or --daily 7.50")
    if not math.isfinite(value) or value < 0:
        usage_error(f"--daily {text!r}: use an amount of at least 0 (0 stops all paid work), or --no-cap")
    return value


def _budget(cap: float | None) -> Any:
    from pydantic import ValidationError

    from coordinator.models import Budget
    from coordinator.store.snapshot import describe_error

    try:
        return Budget(max_daily_usd=cap)
    except ValidationError as exc:
        usage_error(f"--daily: {describe_error(exc)}")


def _recent_days(state: State, today: datetime, days: int) -> list[Any]:
    from datetime import timedelta

    from coordinator.core.spend import spend_record, utc_day

    return [spend_record(state, utc_day(today - timedelta(days=back))) for back in range(days)]


def budget_json(state: State, at: datetime, days: int) -> dict[str, Any]:
    """The ``--json`` output: the cap, today's status and the spend records of the last ``days`` days."""
    from coordinator.core.spend import budget_status
    from coordinator.models import dump

    status = budget_status(state, at)
    return {
        "max_daily_usd": status.cap_usd,
        "today": status.day,
        "spent_today_usd": status.spent_usd,
        "left_today_usd": status.left_usd,
        "reached": status.reached,
        "resumes_at": status.resumes_at.isoformat() if status.reached else None,
        "days": [dump(record) for record in _recent_days(state, at, days)],
    }


def budget_text(state: State, at: datetime, days: int) -> str:
    """The ``coordinator budget`` text: the cap, today's line (and the reason when reached), a table of days."""
    from coordinator.cli.render import budget_line
    from coordinator.text import table

    cap = state.config.budget.max_daily_usd
    lines = [
        f"daily cap: ${cap:.2f} per UTC day, all runners together"
        if cap is not None
        else "daily cap: none (set one with 'coordinator budget --daily USD')",
        budget_line(state, at),
        "",
    ]
    rows = [
        (
            record.day,
            f"${record.cost_usd:.4f}",
            str(record.attempts),
            f"{record.partial_attempts} (${record.partial_cost_usd:.4f})" if record.partial_attempts else "-",
        )
        for record in _recent_days(state, at, days)
    ]
    lines.append(table(("DAY (UTC)", "SPENT", "ATTEMPTS", "CUT SHORT"), rows))
    return "\n".join(lines)
