"""``coordinator github``: the GitHub settings kept on the state branch (``github`` in ``config.json``), shown or
changed one key at a time."""

from __future__ import annotations

import click

from coordinator.cli.app import cli

_LIST_KEYS = ("allowed_bots", "maintainers")


@cli.command(name="github")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a setting (repeat), e.g. --set trigger_label=agent --set allowed_bots=renovate[bot],my-app[bot]",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def github_settings(ctx: click.Context, assignments: tuple[str, ...], as_json: bool) -> None:
    """Show (or change) how issues become tasks: the trigger label, the reply to people who may not trigger,
    allow-listed bots, the branch prefix, the default PR policy and the status labels."""
    from coordinator.cli.settings import show_or_set
    from coordinator.core.transitions.runners import set_github
    from coordinator.models import GitHubConfig

    show_or_set(
        ctx,
        "github",
        GitHubConfig,
        assignments,
        as_json=as_json,
        change=lambda state, new, who, now: set_github(state, github=new, by=who, now=now),
        lists=_LIST_KEYS,
    )
