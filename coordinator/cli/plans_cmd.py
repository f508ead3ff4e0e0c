"""``coordinator plans``: the repository's defaults for new plans kept on the state branch (``plans`` in
``config.json``): the verify command, the fix cycles, and whether subtasks wait for approval."""

from __future__ import annotations

import click

from coordinator.cli.app import actor, cli, store_for


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
    from coordinator.cli.render import to_json
    from coordinator.cli.settings import assigned, rows
    from coordinator.core.transitions.runners import set_plans
    from coordinator.models import PlanConfig
    from coordinator.text import table

    with store_for(ctx) as store:
        if assignments:
            new = assigned(PlanConfig, store.read().config.plans, assignments, lists=("subtask_capabilities",))
            who = actor()
            change = store.update(lambda state, now: set_plans(state, plans=new, by=who))
            click.echo(change.message)
        config = store.read().config.plans
    if as_json:
        click.echo(to_json(config.model_dump(mode="json")))
        return
    click.echo(table(("SETTING", "VALUE"), rows(config)))
