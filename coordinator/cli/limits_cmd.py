"""``coordinator limits``: the bounds ``submit`` enforces on every task, kept on the state branch (``limits`` in
``config.json``): the largest body and the longest title."""

from __future__ import annotations

import click

from coordinator.cli.app import cli


@cli.command(name="limits")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a limit (repeat), e.g. --set max_body_bytes=131072 --set max_title_chars=200.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def limit_settings(ctx: click.Context, assignments: tuple[str, ...], as_json: bool) -> None:
    """Show (or change) the limits every submission must keep: the largest task body in bytes (UTF-8) and the
    longest title in characters. Tasks already on the branch keep what they have."""
    from coordinator.cli.settings import show_or_set
    from coordinator.core.transitions.runners import set_limits
    from coordinator.models import Limits

    show_or_set(
        ctx,
        "limits",
        Limits,
        assignments,
        as_json=as_json,
        change=lambda state, new, who, now: set_limits(state, limits=new, by=who),
        heading="LIMIT",
    )
