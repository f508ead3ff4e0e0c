"""``coordinator plans``: the repository's defaults for new plans kept on the state branch (``plans`` in
``config.json``): the verify command, the fix cycles, and whether subtasks wait for approval."""

from __future__ import annotations

import click

from coordinator.cli.app import cli


@cli.command(name="plans")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a setting (repeat), e.g. --set verify_command='make test' --set fix_cycles=2 --set approve=true "
    "--set subtask_capabilities=gpu,windows (an empty verify_command unsets it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plan_settings(ctx: click.Context, assignments: tuple[str, ...], as_json: bool) -> None:
    """Show (or change) the defaults of new plans: the command verifying a plan's integrated branch, how many fix
    children a red verification may use, and whether subtasks wait for 'coordinator approve'."""
    from coordinator.cli.settings import show_or_set
    from coordinator.core.transitions.runners import set_plans
    from coordinator.models import PlanConfig

    show_or_set(
        ctx,
        "plans",
        PlanConfig,
        assignments,
        as_json=as_json,
        change=lambda state, new, who, now: set_plans(state, plans=new, by=who),
        lists=("subtask_capabilities",),
    )
