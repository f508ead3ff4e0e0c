"""Commands a runner (or a script acting as one) uses: claim, complete, fail."""

from __future__ import annotations

from typing import Any

import click

from coordinator.cli.app import (
    EXIT_NOTHING_TO_CLAIM,
    apply,
    check_id,
    cli,
    echo_json,
    read_text_option,
    runner_name,
    store_for,
    usage_error,
)

#: The runner's default lease (``coordinator runner --lease-ttl``): one default for people and runners.
DEFAULT_LEASE_TTL_SECONDS = 600


@cli.command()
@click.option("--runner", "runner", required=True, metavar="NAME", help="Name of the claiming runner.")
@click.option("--capability", "capabilities", multiple=True, metavar="CAP", help="A capability it has (repeat).")
@click.option(
    "--lease-ttl",
    type=click.IntRange(5, 7 * 86400),
    default=DEFAULT_LEASE_TTL_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="How long the lease lasts unless renewed (the runner's default too).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the claimed task as JSON.")
@click.pass_context
def claim(ctx: click.Context, runner: str, capabilities: tuple[str, ...], lease_ttl: int, as_json: bool) -> None:
    """Claim the best task this runner can run; exit code 3 when there is none."""
    from datetime import timedelta

    from coordinator.core.transitions import claim as claim_task
    from coordinator.models import dump
    from coordinator.text import terminal_safe

    name = runner_name(runner)
    with store_for(ctx) as store:
        # Leases are judged by what this machine saw of them (shared by its CLI calls), not by another machine's
        # clock, so a skewed clock never takes a live task.
        change = store.update(
            lambda state, now: claim_task(
                state,
                runner=name,
                capabilities=set(capabilities),
                lease_ttl=timedelta(seconds=lease_ttl),
                now=now,
                expired=store.expired,
            )
        )
    if change.task is None:
        if as_json:
            echo_json(None)  # a script reading stdout gets JSON either way: null, and exit code 3
        click.echo(f"nothing to claim: {change.refused}" if change.refused else "nothing to claim", err=True)
        ctx.exit(EXIT_NOTHING_TO_CLAIM)
    if as_json:
        echo_json(dump(change.task))
    else:
        click.echo(f"{change.task.id}\t{terminal_safe(change.task.title)}")


def _read_result(result_file: Any) -> Any:
    from pydantic import ValidationError

    from coordinator.models import AttemptResult
    from coordinator.store.snapshot import describe_error

    if result_file is None:
        return AttemptResult()
    text = read_text_option(result_file, "--result-file")
    try:
        return AttemptResult.model_validate_json(text)
    except ValidationError as exc:
        usage_error(
            f"--result-file {result_file.name}: {describe_error(exc)}; it must be a JSON object like "
            '{"summary": "...", "cost_usd": 0.12, "model": "haiku"}'
        )


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--runner", required=True, metavar="NAME", help="The runner holding the lease.")
@click.option("--result-file", type=click.File("rb"), help="JSON attempt result, UTF-8 ('-' = stdin).")
@click.option("--attempt", type=click.IntRange(1), help="The attempt reported on. [default: the runner's current one]")
@click.pass_context
def complete(ctx: click.Context, task_id: str, runner: str, result_file: Any, attempt: int | None) -> None:
    """Record a successful attempt: the task succeeds."""
    from coordinator.core.transitions import complete as complete_task

    check_id(task_id)
    name = runner_name(runner)
    result = _read_result(result_file)
    change = apply(
        ctx,
        lambda state, now: complete_task(state, task_id=task_id, runner=name, result=result, now=now, attempt=attempt),
    )
    assert change.task is not None
    click.echo(f"{task_id} {change.task.status.value}")


@cli.command()
@click.argument("task_id", metavar="ID")
@click.option("--runner", required=True, metavar="NAME", help="The runner holding the lease.")
@click.option("--reason", required=True, help="Why the attempt failed.")
@click.option("--result-file", type=click.File("rb"), help="JSON attempt result, UTF-8 ('-' = stdin).")
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

    check_id(task_id)
    name = runner_name(runner)
    result = _read_result(result_file)
    change = apply(
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
