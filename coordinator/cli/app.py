"""The ``coordinator`` command: click lives here and nowhere else.

Commands import the library lazily so that ``coordinator --help`` stays fast. Every expected error is a
``CoordinatorError``; it is printed as one line (``error: …``) and mapped to an exit code: 2 for bad input,
1 for failures, 3 when ``claim`` finds nothing to claim.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from coordinator import __version__

if TYPE_CHECKING:
    from coordinator.core.state import State
    from coordinator.core.transitions import Change
    from coordinator.store.store import StateStore

EXIT_NOTHING_TO_CLAIM = 3
DEFAULT_BRANCH = "coordinator/state"

F = TypeVar("F", bound=Callable[..., Any])


class CoordinatorGroup(click.Group):
    """A click group that prints expected errors as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from coordinator.errors import CoordinatorError

        try:
            return super().invoke(ctx)
        except CoordinatorError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@dataclass
class Settings:
    """Global options shared by every command."""

    remote: str | None
    branch: str
    cwd: Path | None = None  # relative local remotes are resolved against this (default: the current folder)

    def open_store(self) -> StateStore:
        """A store for the configured remote, or a clear error saying how to configure one."""
        from coordinator.errors import ConfigError
        from coordinator.store.remote import Remote
        from coordinator.store.store import StateStore

        if not self.remote:
            raise ConfigError(
                "no remote given: pass --remote URL or set COORDINATOR_REMOTE "
                "(to try it locally: git init --bare /tmp/state.git && coordinator init --remote /tmp/state.git)"
            )
        try:
            remote = Remote.parse(self.remote, cwd=self.cwd)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if remote.is_local and not remote.url.startswith("file://") and not Path(remote.url).exists():
            raise ConfigError(
                f"no git repository at {remote.url}: create one with 'git init --bare {remote.url}', "
                f"then run 'coordinator init --remote {remote.url}'"
            )
        return StateStore(remote, self.branch)


@contextmanager
def _store(ctx: click.Context) -> Iterator[StateStore]:
    settings: Settings = ctx.obj
    store = settings.open_store()
    try:
        yield store
    finally:
        store.close()


def _actor() -> str:
    name = os.environ.get("COORDINATOR_ACTOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # getuser raises various errors when no user name is set (containers)
        return "unknown"


def _usage(message: str) -> NoReturn:
    from coordinator.errors import UsageError

    raise UsageError(message)


def _echo_json(value: Any) -> None:
    from coordinator.cli.render import to_json

    click.echo(to_json(value))


def _check_id(value: str) -> str:
    from coordinator.ids import check_name

    try:
        return check_name("task id", value)
    except ValueError as exc:
        _usage(str(exc))


def _now() -> Any:
    from coordinator.timeutil import utcnow

    return utcnow()


def _apply(ctx: click.Context, transition: Callable[[State, Any], Change]) -> Change:
    with _store(ctx) as store:
        return store.update(transition)


@click.group(cls=CoordinatorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="coordinator", message="%(prog)s %(version)s")
@click.option(
    "--remote",
    envvar="COORDINATOR_REMOTE",
    metavar="URL",
    help="Git remote holding the state branch (path of a bare repo, ssh or https URL). [env: COORDINATOR_REMOTE]",
)
@click.option(
    "--branch",
    envvar="COORDINATOR_BRANCH",
    default=DEFAULT_BRANCH,
    show_default=True,
    metavar="NAME",
    help="The state branch. [env: COORDINATOR_BRANCH]",
)
@click.pass_context
def cli(ctx: click.Context, remote: str | None, branch: str) -> None:
    """A task queue for Claude Code whose state lives on a git branch.

    \b
    Quick start (all local):
      git init --bare /tmp/state.git
      export COORDINATOR_REMOTE=/tmp/state.git
      coordinator init
      coordinator submit "Add a README section about install"
      coordinator list
    """
    if not branch or branch.startswith(("/", "-")) or ".." in branch or branch.endswith((".lock", "/")):
        raise click.BadParameter(f"'{branch}' is not a valid branch name", param_hint="--branch")
    ctx.obj = Settings(remote=remote, branch=branch)


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the state branch on the remote (safe to run again)."""
    with _store(ctx) as store:
        created = store.init()
        state = store.read(fresh=False)
    if created:
        click.echo(f"created state branch '{store.branch}' on {store.remote} (schema v{state.meta.schema_version})")
    else:
        click.echo(
            f"state branch '{store.branch}' on {store.remote} exists already "
            f"(schema v{state.meta.schema_version}, {len(state.tasks)} tasks)"
        )


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
        _usage("give either --body or --body-file, not both")
    text = body_file.read() if body_file is not None else (body or "")
    when = None
    if deadline:
        try:
            when = parse_when(deadline, now=_now())
        except ValueError as exc:
            _usage(f"--deadline: {exc}")
    for dep in depends_on:
        _check_id(dep)
    request = SubmitRequest(
        title=title,
        body=text,
        priority=Priority(priority),
        mode=mode,
        requires=requires,
        depends_on=depends_on,
        deadline=when,
        max_attempts=max_attempts,
        source=Source(kind="cli", actor=_actor(), permission="local", event="cli.submit"),
    )
    change = _apply(ctx, lambda state, now: submit_task(state, request, now))
    assert change.task is not None
    if as_json:
        _echo_json(dump(change.task))
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

    with _store(ctx) as store:
        state = store.read()
    tasks = sorted(state.tasks.values(), key=lambda t: (t.created_at, t.id))
    if status:
        tasks = [t for t in tasks if t.status.value == status]
    if as_json:
        _echo_json([dump(t) for t in tasks])
    else:
        click.echo(task_rows(tasks, _now()) if tasks else "no tasks" + (f" with status {status}" if status else ""))
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

    _check_id(task_id)
    with _store(ctx) as store:
        state = store.read()
    task = state.tasks.get(task_id)
    if task is None:
        problem = state.problems.get(task_id)
        if problem is not None:
            raise CorruptFile(problem.path, f"{problem.reason}; fix or delete the file on the state branch")
        raise TaskNotFound(task_id)
    if as_json:
        _echo_json(dump(task))
    else:
        click.echo(task_details(task, _now()))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Counts of tasks by status, and every runner with its last heartbeat."""
    from coordinator.cli.render import status_text
    from coordinator.models import dump

    with _store(ctx) as store:
        state = store.read()
    if as_json:
        _echo_json(
            {
                "counts": {s.value: n for s, n in state.counts().items()},
                "runners": [dump(r) for r in sorted(state.runners.values(), key=lambda r: r.name)],
                "problems": [{"path": p.path, "reason": p.reason} for p in state.problems.values()],
            }
        )
    else:
        click.echo(status_text(state, _now()))


def _runner_name(name: str) -> str:
    from coordinator.ids import check_name

    try:
        return check_name("runner name", name)
    except ValueError as exc:
        _usage(str(exc))


@cli.command()
@click.option("--runner", "runner", required=True, metavar="NAME", help="Name of the claiming runner.")
@click.option("--capability", "capabilities", multiple=True, metavar="CAP", help="A capability it has (repeat).")
@click.option(
    "--lease-ttl",
    type=click.IntRange(5, 7 * 86400),
    default=900,
    show_default=True,
    metavar="SECONDS",
    help="How long the lease lasts unless renewed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the claimed task as JSON.")
@click.pass_context
def claim(ctx: click.Context, runner: str, capabilities: tuple[str, ...], lease_ttl: int, as_json: bool) -> None:
    """Claim the best task this runner can run; exit code 3 when there is none."""
    from datetime import timedelta

    from coordinator.core.transitions import claim as claim_task
    from coordinator.models import dump

    name = _runner_name(runner)
    change = _apply(
        ctx,
        lambda state, now: claim_task(
            state, runner=name, capabilities=set(capabilities), lease_ttl=timedelta(seconds=lease_ttl), now=now
        ),
    )
    if change.task is None:
        click.echo("nothing to claim", err=True)
        ctx.exit(EXIT_NOTHING_TO_CLAIM)
    if as_json:
        _echo_json(dump(change.task))
    else:
        click.echo(f"{change.task.id}\t{change.task.title}")


def _read_result(result_file: Any) -> Any:
    from pydantic import ValidationError

    from coordinator.models import AttemptResult
    from coordinator.store.snapshot import describe_error

    if result_file is None:
        return AttemptResult()
    text = result_file.read()
    try:
        return AttemptResult.model_validate_json(text)
    except ValidationError as exc:
        _usage(
            f"--result-file {result_file.name}: {describe_error(exc)}; it must be a JSON object like "
            '{"summary": "...", "cost_usd": 0.12, "model": "haiku"}'
        )


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--runner", required=True, metavar="NAME", help="The runner holding the lease.")
@click.option("--result-file", type=click.File("r", encoding="utf-8"), help="JSON attempt result ('-' = stdin).")
@click.option("--attempt", type=click.IntRange(1), help="The attempt reported on. [default: the runner's current one]")
@click.pass_context
def complete(ctx: click.Context, task_id: str, runner: str, result_file: Any, attempt: int | None) -> None:
    """Record a successful attempt: the task succeeds."""
    from coordinator.core.transitions import complete as complete_task

    _check_id(task_id)
    name = _runner_name(runner)
    result = _read_result(result_file)
    change = _apply(
        ctx,
        lambda state, now: complete_task(state, task_id=task_id, runner=name, result=result, now=now, attempt=attempt),
    )
    assert change.task is not None
    click.echo(f"{task_id} {change.task.status.value}")


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--runner", required=True, metavar="NAME", help="The runner holding the lease.")
@click.option("--reason", required=True, help="Why the attempt failed.")
@click.option("--result-file", type=click.File("r", encoding="utf-8"), help="JSON attempt result ('-' = stdin).")
@click.option("--no-retry", is_flag=True, help="Fail the task now even if attempts are left.")
@click.option("--next-mode", metavar="MODE", help="Run the next attempt in this mode (escalation).")
@click.option("--attempt", type=click.IntRange(1), help="The attempt reported on. [default: the runner's current one]")
@click.pass_context
def fail(
    ctx: click.Context,
    task_id: str,
    runner: str,
    reason: str,
    result_file: Any,
    no_retry: bool,
    next_mode: str | None,
    attempt: int | None,
) -> None:
    """Record a failed attempt: the task is requeued while attempts are left, else it fails."""
    from coordinator.core.transitions import fail as fail_task

    _check_id(task_id)
    name = _runner_name(runner)
    result = _read_result(result_file)
    change = _apply(
        ctx,
        lambda state, now: fail_task(
            state,
            task_id=task_id,
            runner=name,
            reason=reason,
            result=result,
            retryable=not no_retry,
            next_mode=next_mode,
            now=now,
            attempt=attempt,
        ),
    )
    assert change.task is not None
    click.echo(f"{task_id} {change.task.status.value}")


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--reason", help="Why (kept on the task).")
@click.pass_context
def cancel(ctx: click.Context, task_id: str, reason: str | None) -> None:
    """Cancel a task; a running agent is stopped when its runner next renews the lease."""
    from coordinator.core.transitions import cancel as cancel_task

    _check_id(task_id)
    actor = _actor()
    _apply(ctx, lambda state, now: cancel_task(state, task_id=task_id, now=now, by=actor, reason=reason))
    click.echo(f"{task_id} cancelled")


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--mode", help="Mode of the next attempt (default: the mode of the last one).")
@click.pass_context
def retry(ctx: click.Context, task_id: str, mode: str | None) -> None:
    """Give a failed or cancelled task a new round of attempts."""
    from coordinator.core.transitions import retry as retry_task

    _check_id(task_id)
    actor = _actor()
    change = _apply(ctx, lambda state, now: retry_task(state, task_id=task_id, now=now, by=actor, mode=mode))
    assert change.task is not None
    click.echo(f"{task_id} {change.task.status.value}")


def _register_more_commands() -> None:
    # Imported for their @cli.command side effects; kept in their own modules to keep this one readable.
    import importlib

    for module in ("coordinator.cli.runner_cmd", "coordinator.cli.demo_cmd"):
        importlib.import_module(module)


_register_more_commands()
