"""``coordinator github``: the GitHub settings kept on the state branch (``github`` in ``config.json``), shown or
changed one key at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from coordinator.cli.app import actor, cli, store_for, usage_error

if TYPE_CHECKING:
    from coordinator.models import GitHubConfig

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
    from coordinator.cli.render import to_json
    from coordinator.core.transitions.runners import set_github
    from coordinator.text import table, terminal_safe

    with store_for(ctx) as store:
        if assignments:
            current = store.read().github
            new = _assigned(current.model_dump(mode="json"), assignments)
            who = actor()
            change = store.update(lambda state, now: set_github(state, github=new, by=who, now=now))
            click.echo(change.message)
        config = store.read().github
    if as_json:
        click.echo(to_json(config.model_dump(mode="json")))
        return
    rows = [(name, terminal_safe(_shown(value))) for name, value in config.model_dump(mode="json").items()]
    click.echo(table(("SETTING", "VALUE"), rows))


def _assigned(values: dict[str, object], assignments: tuple[str, ...]) -> GitHubConfig:
    from pydantic import ValidationError

    from coordinator.models import GitHubConfig
    from coordinator.store.snapshot import describe_error

    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or key not in values:
            usage_error(f"--set {assignment!r}: use KEY=VALUE with KEY one of {', '.join(values)}")
        values[key] = [v.strip() for v in raw.split(",") if v.strip()] if key in _LIST_KEYS else raw.strip()
    try:
        return GitHubConfig.model_validate(values)
    except ValidationError as exc:
        usage_error(f"--set: {describe_error(exc)}")


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return str(value).lower() if isinstance(value, bool) else str(value)
