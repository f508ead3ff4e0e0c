"""Commands about tasks: submit, list, show, status, cancel, retry, answer."""

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
    read_text_option,
    store_for,
    usage_error,
)

if TYPE_CHECKING:
    from datetime import datetime

    from coordinator.core.state import State
    from coordinator.models import Task


PRIORITIES = ("critical", "high", "medium", "low")


@cli.command()
@click.argument("title")
@click.option("--body", help="Task description (the prompt's body).")
@click.option("--body-file", type=click.File("rb"), help="Read the body from a UTF-8 file ('-' = stdin).")
@click.option("--priority", type=click.Choice(PRIORITIES), default="medium", show_default=True)
@click.option("--mode", help="Mode of the first attempt (default: the branch's default mode, usually 'simple').")
@click.option("--requires", "requires", multiple=True, metavar="CAP", help="Capability a runner needs (repeat).")
@click.option("--depends-on", "depends_on", multiple=True, metavar="ID", help="Task that must succeed first (repeat).")
@click.option(
    "--lock", "locks", multiple=True, metavar="NAME", help="A named lock the task holds while it runs (repeat)."
)
@click.option(
    "--non-critical",
    is_flag=True,
    help="If it fails for good, the tasks that depend on it run anyway (default: they are cancelled).",
)
@click.option(
    "--allow-failed-dependency",
    is_flag=True,
    help="Accept a --depends-on task that failed or was cancelled (this task waits until it is retried and succeeds).",
)
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
    locks: tuple[str, ...],
    non_critical: bool,
    allow_failed_dependency: bool,
    deadline: str | None,
    max_attempts: int,
    as_json: bool,
) -> None:
    """Add a task to the queue and print its id."""
    from coordinator.core.transitions import SubmitRequest
    from coordinator.core.transitions import submit as submit_task
    from coordinator.models import Priority, Source, dump

    if body is not None and body_file is not None:
        usage_error("give either --body or --body-file, not both")
    text = read_text_option(body_file, "--body-file") if body_file is not None else (body or "")
    for dep in depends_on:
        check_id(dep)
    request = SubmitRequest(
        title=title,
        body=text,
        priority=Priority(priority),
        mode=mode,
        requires=requires,
        depends_on=depends_on,
        locks=locks,
        critical=not non_critical,
        deadline=_deadline(deadline),
        max_attempts=max_attempts,
        source=Source(kind="cli", actor=actor(), permission="local", event="cli.submit"),
        allow_failed_dependency=allow_failed_dependency,
    )
    with store_for(ctx) as store:
        change = store.update(lambda state, now: submit_task(state, request, now))
        assert change.task is not None
        _warn_ended_dependencies(change.task, store.state)
    if as_json:
        echo_json(dump(change.task))
    else:
        click.echo(change.task.id)


def _deadline(text: str | None) -> datetime | None:
    from coordinator.timeutil import parse_when

    if not text:
        return None
    try:
        return parse_when(text, now=now())
    except ValueError as exc:
        usage_error(f"--deadline: {exc}")


def _warn_ended_dependencies(task: Task, state: State) -> None:
    """A task accepted with --allow-failed-dependency waits for a retry: say which command unblocks it."""
    from coordinator.models import TaskStatus

    for dep in task.depends_on:
        found = state.tasks.get(dep)
        if found is not None and found.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            ended = "failed" if found.status == TaskStatus.FAILED else "was cancelled"
            click.echo(
                f"warning: {task.id} waits for {dep}, which {ended}: run 'coordinator retry {dep}' to unblock it",
                err=True,
            )


STATUSES = ("queued", "blocked", "running", "succeeded", "failed", "cancelled")


def _warn_problems(state: State) -> None:
    if state.problems:
        from coordinator.cli.render import problems_text

        click.echo(problems_text(state.problems.values()), err=True)


@cli.command(name="list")
@click.option("--status", type=click.Choice(STATUSES), help="Only tasks in this status.")
@click.option("--plan", "plan_id", metavar="ID", help="Only the subtasks of this plan.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_tasks(ctx: click.Context, status: str | None, plan_id: str | None, as_json: bool) -> None:
    """List tasks, oldest first."""
    from coordinator.cli.render import task_rows
    from coordinator.models import dump

    with store_for(ctx) as store:
        state = store.read()
    tasks = sorted(state.tasks.values(), key=lambda t: (t.created_at, t.id))
    if status:
        tasks = [t for t in tasks if t.status.value == status]
    if plan_id is not None:
        check_id(plan_id)
        tasks = [t for t in tasks if t.parent == plan_id]
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
        task = state.tasks.get(task_id) or store.archived_task(task_id)
    if task is None:
        problem = state.problem_for("tasks", task_id)
        if problem is not None:
            raise CorruptFile(problem.path, f"{problem.reason}; fix or delete the file on the state branch")
        raise TaskNotFound(task_id)
    if as_json:
        echo_json(dump(task))
    else:
        click.echo(task_details(task, now()))
        if task.kind == "plan":
            from coordinator.cli.render import subtask_tree

            click.echo(subtask_tree(task, state))
        if task_id not in state.tasks and task_id in state.archived:
            click.echo(f"archived by 'coordinator gc' in {state.archived[task_id].pack}")
        _say_what_it_waits_for(state, task)


def _say_what_it_waits_for(state: State, task: Task) -> None:
    """A queued task that waits for the budget says so (runners claim nothing until the next UTC day)."""
    from coordinator.core.spend import waiting_reason

    waiting = waiting_reason(state, task, now())
    if waiting is not None:
        click.echo(f"  waiting:   {waiting}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--watch", is_flag=True, help="Show STATUS.md's view live (queue, running, runners, results, spend).")
@click.option("--interval", type=click.FloatRange(0.2, 3600), default=2.0, show_default=True, help="With --watch.")
@click.pass_context
def status(ctx: click.Context, as_json: bool, watch: bool, interval: float) -> None:
    """Counts of tasks by status, and every runner with its last heartbeat (--watch: live, until Ctrl-C)."""
    from coordinator.cli.budget_cmd import budget_json
    from coordinator.cli.render import status_text
    from coordinator.models import dump

    if watch:
        from coordinator.cli.watch import watch_status

        if as_json:
            usage_error("--watch shows a live view: drop --json (or drop --watch for one JSON snapshot)")
        with store_for(ctx) as store:
            watch_status(store, interval)
        return

    with store_for(ctx) as store:
        state = store.read()
    if as_json:
        echo_json(
            {
                "counts": {s.value: n for s, n in state.counts().items()},
                "runners": [dump(r) for r in sorted(state.runners.values(), key=lambda r: r.name)],
                "problems": [{"path": p.path, "reason": p.reason} for p in state.problems.values()],
                "budget": budget_json(state, now(), 1),
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


@cli.command()
@click.argument("task_id", metavar="ID")
@click.argument("text", required=False)
@click.option("--file", "answer_file", type=click.File("rb"), help="Read the answer from a UTF-8 file ('-' = stdin).")
@click.pass_context
def answer(ctx: click.Context, task_id: str, text: str | None, answer_file: Any) -> None:
    """Answer the question a task's agent asked (the task waits as needs_input); the task goes on, resuming the
    agent's session on the runner that asked when it can."""
    from coordinator.core.transitions.questions import answer as answer_task
    from coordinator.models import Feedback

    check_id(task_id)
    given = read_text_option(answer_file, "--file") if answer_file is not None else (text or "")
    if not given.strip():
        usage_error(f"no answer given: run 'coordinator answer {task_id} \"TEXT\"' (or --file FILE)")
    who = actor()
    change = apply(
        ctx,
        lambda state, now: answer_task(
            state, task_id=task_id, feedback=Feedback(author=who, at=now, text=given, kind="answer"), now=now
        ),
    )
    assert change.task is not None
    click.echo(f"{task_id} {change.task.status.value}: answered")


@cli.command()
@click.argument("title")
@click.option("--body", help="The request to plan (the prompt's body).")
@click.option("--body-file", type=click.File("rb"), help="Read the body from a UTF-8 file ('-' = stdin).")
@click.option("--mode", help="Mode of the planning attempt and, by default, of the subtasks.")
@click.option(
    "--max-subtasks", type=click.IntRange(1, 50), default=10, show_default=True, help="The most subtasks it may have."
)
@click.option(
    "--verify-command",
    metavar="CMD",
    help="Verifies the integrated branch (run without a shell; exit 0 = green). Default: the repository's "
    "(coordinator plans), else an agent runs the project's tests.",
)
@click.option(
    "--fix-cycles",
    type=click.IntRange(0, 10),
    help="Fix children a red verification may use before the plan fails (default: the repository's, 3).",
)
@click.option("--approve", is_flag=True, default=None, help="Subtasks wait for 'coordinator approve PLAN'.")
@click.pass_context
def plan(
    ctx: click.Context,
    title: str,
    body: str | None,
    body_file: Any,
    mode: str | None,
    max_subtasks: int,
    verify_command: str | None,
    fix_cycles: int | None,
    approve: bool | None,
) -> None:
    """Add a plan: its first attempt splits the work into subtasks (written to .coordinator/plan.json), which are
    queued as <plan-id>.<n> and run on any runner; their branches are merged into the plan's, a verify child runs
    the verify command there (a fix child mends a red one), and the plan ends with one report."""
    from coordinator.core.transitions import SubmitRequest
    from coordinator.core.transitions import submit as submit_task
    from coordinator.models import Source

    if body is not None and body_file is not None:
        usage_error("give either --body or --body-file, not both")
    if verify_command is not None and not verify_command.strip():
        usage_error("--verify-command is empty: name the command running the tests, e.g. --verify-command 'make test'")
    text = read_text_option(body_file, "--body-file") if body_file is not None else (body or "")
    request = SubmitRequest(
        title=title,
        body=text,
        mode=mode,
        kind="plan",
        max_subtasks=max_subtasks,
        verify_command=verify_command.strip() if verify_command else None,
        fix_cycles=fix_cycles,
        approve=approve,
        source=Source(actor=actor()),
    )
    change = apply(ctx, lambda state, now: submit_task(state, request, now))
    assert change.task is not None
    click.echo(change.task.id)
