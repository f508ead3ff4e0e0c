"""``coordinator lock``: named locks across machines (acquire, release, check, list), for scripts and people.

Exit codes for scripts: 0 acquired (or free, for ``check``), 3 busy (held by someone else), 1 an error, 2 bad
input."""

from __future__ import annotations

import time
from datetime import timedelta

import click

from coordinator.cli.app import cli, now, state_options, store_for

_FIRST_PAUSE_SECONDS = 0.5
_LONGEST_PAUSE_SECONDS = 5.0


@cli.group(name="lock")
def lock_group() -> None:
    """Named locks: one holder at a time across machines, with an expiry (and tasks that need them)."""


@lock_group.command(name="acquire")
@click.argument("name")
@click.option("--owner", required=True, help="Who takes it (shown to others; the same owner renews it).")
@click.option("--ttl", type=click.IntRange(1, 7 * 24 * 3600), default=600, show_default=True, help="Seconds.")
@click.option("--wait", type=click.FloatRange(0), default=0.0, show_default=True, help="Seconds to wait if busy.")
@click.pass_context
def acquire_cmd(ctx: click.Context, name: str, owner: str, ttl: int, wait: float) -> None:
    """Take the lock NAME (exit 0), or exit 3 when someone else holds it (after --wait seconds)."""
    from coordinator.core.transitions.locks import LockBusy, acquire

    deadline, pause = time.monotonic() + wait, _FIRST_PAUSE_SECONDS
    with store_for(ctx) as store:
        while True:
            try:
                change = store.update(
                    lambda s, at: acquire(s, name=name, owner=owner, ttl=timedelta(seconds=ttl), now=at)
                )
                break
            except LockBusy:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE_SECONDS)
    click.echo(change.message)


@lock_group.command(name="release")
@click.argument("name")
@click.option("--owner", default="", help="Who releases it (its holder; with --force: who forces it).")
@click.option("--force", is_flag=True, help="Release it whoever holds it (a stuck holder); needs --reason.")
@click.option("--reason", help="Why it is forced (kept in the audit log).")
@click.pass_context
def release_cmd(ctx: click.Context, name: str, owner: str, force: bool, reason: str | None) -> None:
    """Give the lock NAME back (its holder), or force it free (--force --reason)."""
    from coordinator.cli.app import actor, usage_error
    from coordinator.core.transitions.locks import release

    who = owner or (actor() if force else "")
    if not who:
        usage_error(f"say who releases it: coordinator lock release {name} --owner WHO")
    with store_for(ctx) as store:
        change = store.update(lambda s, at: release(s, name=name, owner=who, now=at, force=force, reason=reason))
    click.echo(change.message)


@lock_group.command(name="check")
@click.argument("name")
@click.pass_context
def check_cmd(ctx: click.Context, name: str) -> None:
    """Exit 0 when the lock NAME is free, 3 (saying who holds it) when it is not."""
    from coordinator.core.transitions.locks import holder

    with store_for(ctx) as store:
        held = holder(store.read(), name, now())
    if held is None:
        click.echo(f"lock {name} is free")
        return
    click.echo(f"lock {name} is held by {held}")
    ctx.exit(3)


@lock_group.command(name="list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """Every lock held now: by people and scripts (with their expiry), and by running tasks."""
    from coordinator.cli.render import lock_rows

    with store_for(ctx) as store:
        click.echo(lock_rows(store.read(), now()))


# ``coordinator lock acquire X --remote URL``: the global options after the subcommand too.
for _command in lock_group.commands.values():
    _command.params += state_options()
