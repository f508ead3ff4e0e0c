"""Commands about tasks: submit, list, show, status, cancel, retry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from coordinator.cli.app import (
    actor,
    apply,
    check_id,
    cli,
    echo_json,
    now,
    store_for,
    usage_error,
)

if TYPE_CHECKING:
    from coordinator.core.state import State


PRIORITIES = ("critical", "high", "medium", "low")


@cli.command()
@click.argument("title")
@click.option("--body", help="Task description (the prompt's body).")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), help="Read the body from a file ('-' = stdin).")
@click.option("--priority", type=click.Choice(PRIORITIES), default="medium", show_default=True)
@click.option("--mode", help="Mode of the first attempt (default: the branch's default mode, usually 'simple').")
@click.option("--requires", "requires", multiple=True, metavar="CAP", help="Capability a runner needs (repeat).")
@click.option("--depends-on", "depends_on", multiple=True, metavar="ID", help="Task that must succeed first (repeat).")
@click.option("--deadline", metavar="ISO8601", help="Due time, e.g. 2026-12-01T17:00:00Z or +4h.")
@click.option("--max-attempts", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the new task as JSON.")
@click.pass_context
def submit(
    ctx: click.Context,
    title: str,
    body: str | None,
    body_file: Any,
    priority: str,
    mode: str | None,
    requires: tuple[str, ...],
    depends_on: tuple[str, ...],
    deadline: str | None,
    max_attempts: int,
    as_json: bool,
) -> None:
    """Add a task to the queue and print its id."""
    from coordinator.core.transitions import SubmitRequest
    from coordinator.core.transitions import submit as submit_task
    from coordinator.models import Priority, Source, dump
    from coordinator.timeutil import parse_when

    if body is not None and body_file is not None:
        usage_error("give either --body or --body-file, not both")
    text = body_file.read() if body_file is not None else (body or "")
    when = None
    if deadline:
        try:
            when = parse_when(deadline, now=now())
        except ValueError as exc:
            usage_error(f"--deadline: {exc}")
    for dep in depends_on:
        check_id(dep)
    request = SubmitRequest(
        title=title,
        body=text,
        priority=Priority(priority),
        mode=mode,
        requires=requires,
        depends_on=depends_on,
        deadline=when,
        max_attempts=max_attempts,
        source=Source(kind="cli", actor=actor(), permission="local", event="cli.submit"),
    )
    change = apply(ctx, lambda state, now: submit_task(state, request, now))
    assert change.task is not None
    if as_json:
        echo_json(dump(change.task))
    else:
        click.echo(change.task.id)


STATUSES = ("queued", "blocked", "running", "succeeded", "failed", "cancelled")


def _warn_problems(state: State) -> None:
    if state.problems:
        from coordinator.cli.render import problems_text

        click.echo(problems_text(state.problems.values()), err=True)


@cli.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only tasks in this status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_tasks(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """List tasks, oldest first."""
    from coordinator.cli.render import task_rows
    from coordinator.models import dump

    with store_for(ctx) as store:
        state = store.read()
    tasks = sorted(state.tasks.values(), key=lambda t: (t.created_at, t.id))
    if status:
        tasks = [t for t in tasks if t.status.value == status]
    if as_json:
        echo_json([dump(t) for t in tasks])
    else:
        click.echo(task_rows(tasks, now()) if tasks else "no tasks" + (f" with status {status}" if status else ""))
    _warn_problems(state)


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, task_id: str, as_json: bool) -> None:
    """Show one task with its attempts."""
    from coordinator.cli.render import task_details
    from coordinator.errors import CorruptFile, TaskNotFound
    from coordinator.models import dump

    check_id(task_id)
    with store_for(ctx) as store:
        state = store.read()
    task = state.tasks.get(task_id)
    if task is None:
        problem = state.problem_for("tasks", task_id)
        if problem is not None:
            raise CorruptFile(problem.path, f"{problem.reason}; fix or delete the file on the state branch")
        raise TaskNotFound(task_id)
    if as_json:
        echo_json(dump(task))
    else:
        click.echo(task_details(task, now()))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Counts of tasks by status, and every runner with its last heartbeat."""
    from coordinator.cli.render import status_text
    from coordinator.models import dump

    with store_for(ctx) as store:
        state = store.read()
    if as_json:
        echo_json(
            {
                "counts": {s.value: n for s, n in state.counts().items()},
                "runners": [dump(r) for r in sorted(state.runners.values(), key=lambda r: r.name)],
                "problems": [{"path": p.path, "reason": p.reason} for p in state.problems.values()],
            }
        )
    else:
        click.echo(status_text(state, now()))


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--reason", help="Why (kept on the task).")
@click.pass_context
def cancel(ctx: click.Context, task_id: str, reason: str | None) -> None:
    """Cancel a task; a running agent is stopped when its runner next renews the lease."""
    from coordinator.core.transitions import cancel as cancel_task

    check_id(task_id)
    who = actor()
    apply(ctx, lambda state, now: cancel_task(state, task_id=task_id, now=now, by=who, reason=reason))
    click.echo(f"{task_id} cancelled")


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--mode", help="Mode of the next attempt (default: the mode of the last one).")
@click.pass_context
def retry(ctx: click.Context, task_id: str, mode: str | None) -> None:
    """Give a failed or cancelled task a new round of attempts."""
    from coordinator.core.transitions import retry as retry_task

    check_id(task_id)
    who = actor()
    change = apply(ctx, lambda state, now: retry_task(state, task_id=task_id, now=now, by=who, mode=mode))
    assert change.task is not None
    click.echo(f"{task_id} {change.task.status.value}")
