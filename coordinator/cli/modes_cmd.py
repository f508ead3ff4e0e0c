"""``coordinator modes``: the modes kept on the state branch (model, turns, timeout, budget, permissions,
escalation), who changed them last, and replacing them."""

from __future__ import annotations

from typing import Any

import click

from coordinator.cli.app import actor, cli, read_text_option, store_for


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--set",
    "set_file",
    type=click.File("rb"),
    help='Replace the modes with this JSON file ({"default_mode": ..., "modes": {...}}).',
)
@click.pass_context
def modes(ctx: click.Context, as_json: bool, set_file: Any) -> None:
    """Show (or replace) the modes kept on the state branch: model, turns, timeout, budget, escalation."""
    from pydantic import ValidationError

    from coordinator.cli.render import to_json
    from coordinator.core.transitions import set_modes
    from coordinator.errors import UsageError
    from coordinator.modes import ModesConfig
    from coordinator.store.snapshot import describe_error
    from coordinator.text import table, terminal_safe

    with store_for(ctx) as store:
        if set_file is not None:
            try:
                new = ModesConfig.model_validate_json(read_text_option(set_file, "--set"))
            except ValidationError as exc:
                raise UsageError(f"--set {set_file.name}: {describe_error(exc)}") from None
            who = actor()
            change = store.update(lambda state, now: set_modes(state, modes=new, by=who))
            if change.empty:
                click.echo("the modes are unchanged: nothing to commit")
        config = store.read().modes
        changed = store.last_change("config.json")
    if as_json:
        click.echo(to_json(config.model_dump(mode="json")))
        return
    rows = [
        (
            name + (" (default)" if name == config.default_mode else ""),
            m.model,
            str(m.max_turns),
            f"{m.timeout_seconds}s",
            f"${m.max_budget_usd:g}" if m.max_budget_usd else "-",
            m.permission_mode,
            m.escalate_to or "-",
        )
        for name, m in config.modes.items()
    ]
    click.echo(table(("MODE", "MODEL", "TURNS", "TIMEOUT", "BUDGET", "PERMISSIONS", "ESCALATES TO"), rows))
    if changed is not None:
        # Anyone with write access can change the modes (a runner's owner caps what its agents may do anyway):
        # say who did, when, and with what message, as the audit log has it.
        click.echo(
            terminal_safe(
                f"last changed {changed.at} by {changed.author} in {changed.commit[:12]}: {changed.message} "
                f"(history: git log {changed.commit[:12]} -- config.json on the state branch)"
            )
        )
