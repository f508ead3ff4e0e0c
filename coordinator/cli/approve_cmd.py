"""A person's word on a plan: ``coordinator approve PLAN`` and ``coordinator replan PLAN "FEEDBACK"``."""

from __future__ import annotations

from typing import Any

import click

from coordinator.cli.app import actor, apply, check_id, cli, read_text_option, usage_error


@cli.command()
@click.argument("plan_id", metavar="PLAN")
@click.pass_context
def approve(ctx: click.Context, plan_id: str) -> None:
    """Queue the subtasks a plan proposed (a plan made with --approve waits for this); any runner takes them."""
    from coordinator.core.transitions.plan_approval import approve_plan

    check_id(plan_id)
    who = actor()
    change = apply(ctx, lambda state, now: approve_plan(state, task_id=plan_id, by=who, now=now))
    assert change.task is not None
    children = change.task.depends_on
    click.echo(f"{plan_id} approved: {len(children)} subtasks queued ({', '.join(children)})")


@cli.command()
@click.argument("plan_id", metavar="PLAN")
@click.argument("feedback", required=False)
@click.option(
    "--file", "feedback_file", type=click.File("rb"), help="Read the feedback from a UTF-8 file ('-' = stdin)."
)
@click.pass_context
def replan(ctx: click.Context, plan_id: str, feedback: str | None, feedback_file: Any) -> None:
    """Plan again, with FEEDBACK in the planning attempt's prompt: a plan waiting for approval (its proposal is
    dropped) or one that failed or was cancelled (its subtasks that have not ended are cancelled)."""
    from coordinator.core.transitions.feedback import feedback_text
    from coordinator.core.transitions.plan_approval import replan as replan_task
    from coordinator.models import Feedback

    check_id(plan_id)
    if feedback is not None and feedback_file is not None:
        usage_error("give the feedback either as an argument or with --file, not both")
    text = read_text_option(feedback_file, "--file") if feedback_file is not None else (feedback or "")
    if not text.strip():
        usage_error(f"no feedback given: run 'coordinator replan {plan_id} \"WHAT TO CHANGE\"' (or --file FILE)")
    who, text = actor(), feedback_text(text)  # cut as feedback keeps it, before the model sees it
    change = apply(
        ctx,
        lambda state, now: replan_task(
            state, task_id=plan_id, feedback=Feedback(author=who, at=now, text=text, kind="retry"), now=now
        ),
    )
    assert change.task is not None
    click.echo(f"{plan_id} {change.task.status.value}: replanned (round {change.task.round})")
