"""``coordinator schedule add|list|remove`` (recurring tasks kept on the state branch) and ``coordinator tick``
(enqueue the occurrences that are due)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import click

from coordinator.cli.app import actor, cli, echo_json, now, read_text_option, state_options, store_for, usage_error
from coordinator.cli.tasks_cmd import PRIORITIES

if TYPE_CHECKING:
    from datetime import datetime

    from coordinator.models import Schedule


@cli.group()
def schedule() -> None:
    """Recurring tasks: a task enqueued at every occurrence of a cron expression (by `coordinator tick`)."""


@schedule.command(name="add")
@click.argument("name")
@click.option("--cron", "cron", required=True, metavar="EXPR", help="e.g. '0 3 * * *' (daily at 03:00), '@hourly'.")
@click.option("--timezone", default="UTC", show_default=True, metavar="TZ", help="IANA zone, e.g. Europe/Berlin.")
@click.option("--title", help="The title of every task it enqueues (not with --pipeline).")
@click.option("--pipeline", help="Run this pipeline at each occurrence instead of enqueueing one task.")
@click.option("--body", help="The body (the prompt) of its tasks.")
@click.option("--body-file", type=click.File("rb"), help="Read the body from a UTF-8 file ('-' = stdin).")
@click.option("--mode", help="Mode of its tasks (default: the branch's default mode when each is enqueued).")
@click.option("--priority", type=click.Choice(PRIORITIES), default="medium", show_default=True)
@click.option("--requires", "requires", multiple=True, metavar="CAP", help="Capability a runner needs (repeat).")
@click.option("--json", "as_json", is_flag=True, help="Print the new schedule as JSON.")
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    cron: str,
    timezone: str,
    title: str | None,
    pipeline: str | None,
    body: str | None,
    body_file: Any,
    mode: str | None,
    priority: str,
    requires: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add a schedule NAME: its tasks are sched-NAME-<UTC time of the occurrence, YYYYMMDDtHHMM>."""
    from coordinator.core.recurring import next_slot
    from coordinator.core.transitions.schedules import add_schedule
    from coordinator.models import dump

    if body is not None and body_file is not None:
        usage_error("give either --body or --body-file, not both")
    text = read_text_option(body_file, "--body-file") if body_file is not None else (body or "")
    if (title is None) == (pipeline is None):
        usage_error("give --title (a task at each occurrence) or --pipeline NAME (a run of it), one of the two")
    made = _schedule(name, cron, timezone, title or f"pipeline {pipeline}", text, mode, priority, requires)
    if pipeline is not None:
        made = made.model_copy(update={"pipeline": pipeline})
    with store_for(ctx) as store:
        store.update(lambda state, now: add_schedule(state, made, now))
    if as_json:
        echo_json(dump(made))
        return
    coming = next_slot(made, now())
    click.echo(f"added schedule {name}: next task {_when(coming, made)}")


def _schedule(
    name: str,
    cron: str,
    timezone: str,
    title: str,
    body: str,
    mode: str | None,
    priority: str,
    requires: tuple[str, ...],
) -> Schedule:
    """The schedule the options describe, or a one-line usage error naming the option that is wrong."""
    from pydantic import ValidationError

    from coordinator.cron import check_cron, check_zone_name
    from coordinator.ids import check_name
    from coordinator.models import Priority, Schedule
    from coordinator.models.schedule import check_schedule_name

    checks = [
        ("NAME", check_schedule_name, name),
        ("--cron", check_cron, cron),
        ("--timezone", check_zone_name, timezone),
    ]
    checks += [("--requires", partial(check_name, "capability"), cap) for cap in requires]
    for option, check, value in checks:
        try:
            check(value)
        except ValueError as exc:
            usage_error(f"{option}: {exc}")
    try:
        return Schedule(
            name=name,
            cron=cron,
            timezone=timezone,
            title=title.strip(),
            body=body,
            mode=mode,
            priority=Priority(priority),
            requires=sorted(set(requires)),
            created_at=now(),
            created_by=actor(),
        )
    except ValidationError as exc:
        from coordinator.store.snapshot import describe_error

        usage_error(describe_error(exc))


def _when(slot: datetime | None, made: Schedule) -> str:
    """``sched-x-20260301t0300 at 2026-03-01 03:00 UTC (04:00 Europe/Berlin)``."""
    from coordinator.cron import slot_key, zone
    from coordinator.models import schedule_task_id

    if slot is None:
        return "never (the expression matches no date ahead)"
    shown = f"{schedule_task_id(made.name, slot_key(slot))} at {slot:%Y-%m-%d %H:%M} UTC"
    if made.timezone != "UTC":
        shown += f" ({slot.astimezone(zone(made.timezone)):%Y-%m-%d %H:%M} {made.timezone})"
    return shown


@schedule.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_schedules(ctx: click.Context, as_json: bool) -> None:
    """The schedules, with when each comes due next and the last task it enqueued."""
    from coordinator.core.recurring import last_slot, next_slot, schedules_of
    from coordinator.cron import slot_key
    from coordinator.models import dump
    from coordinator.text import table, terminal_safe

    with store_for(ctx) as store:
        state = store.read()
    at = now()
    schedules = sorted(schedules_of(state).values(), key=lambda s: s.name)
    if as_json:
        echo_json([{**dump(s), "next_slot": _iso(next_slot(s, at))} for s in schedules])
        return
    if not schedules:
        click.echo("no schedules: add one with coordinator schedule add NAME --cron '0 3 * * *' --title TITLE")
    else:
        rows = []
        for s in schedules:
            coming, last = next_slot(s, at), last_slot(s)
            rows.append(
                (
                    s.name,
                    s.cron,
                    s.timezone,
                    f"{coming:%Y-%m-%d %H:%M}Z" if coming else "never",
                    f"sched-{s.name}-{slot_key(last)}" if last else "-",
                    s.mode or "(default)",
                    s.priority.value,
                    terminal_safe(s.title),
                )
            )
        click.echo(table(("NAME", "CRON", "TIMEZONE", "NEXT", "LAST TASK", "MODE", "PRIORITY", "TITLE"), rows))
    _warn_unreadable(state)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _warn_unreadable(state: Any) -> None:
    from coordinator.text import terminal_safe

    for problem in state.problems.values():
        if problem.collection == "schedules":
            click.echo(terminal_safe(f"warning: {problem.path} is unreadable ({problem.reason}): fix or delete it"))


@schedule.command(name="remove")
@click.argument("name")
@click.pass_context
def remove(ctx: click.Context, name: str) -> None:
    """Remove a schedule (the tasks it enqueued already stay)."""
    from coordinator.core.transitions.schedules import remove_schedule
    from coordinator.models.schedule import check_schedule_name

    try:
        check_schedule_name(name)
    except ValueError as exc:
        usage_error(str(exc))
    with store_for(ctx) as store:
        store.update(lambda state, now: remove_schedule(state, name, now))
    click.echo(f"removed schedule {name} (tasks it enqueued stay: coordinator list)")


@cli.command()
@click.option("--now", "at", metavar="ISO8601", help="Tick as of this time (ISO 8601 or +2h) instead of the clock's.")
@click.pass_context
def tick(ctx: click.Context, at: str | None) -> None:
    """Enqueue every schedule's latest occurrence that is due and not enqueued yet (safe to run anywhere, often)."""
    from coordinator.core.transitions.schedules import tick as tick_transition
    from coordinator.core.transitions.schedules import tick_outcome
    from coordinator.text import terminal_safe
    from coordinator.timeutil import parse_when

    when = now()
    if at is not None:
        try:
            when = parse_when(at, now=when)
        except ValueError as exc:
            usage_error(f"--now: {exc}")
    with store_for(ctx) as store:
        change = store.update(lambda state, _: tick_transition(state, when))
        left = tick_outcome(store.state, when)
    for task in change.tasks:
        click.echo(f"enqueued {task.id}: {terminal_safe(task.title)}")
    if not change.tasks:
        click.echo("nothing due")
    for skipped in left.skipped:
        click.echo(terminal_safe(f"warning: schedule {skipped.schedule} skipped: {skipped.reason}"), err=True)


def _accept_state_options_after_subcommands() -> None:
    """``coordinator schedule add … --remote URL``: the global options after the subcommand too (app.py gives
    them to ``schedule``, the group)."""
    for command in (add, list_schedules, remove):
        command.params += state_options()


_accept_state_options_after_subcommands()
