"""``coordinator runner``: a runner from flags and config, signals, dry runs."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import click

from coordinator.cli.app import Settings, cli


@cli.command()
@click.option("--name", metavar="NAME", help="This runner's name (unique per machine and slot set).")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), help="Local clone of the target repository.")
@click.option("--capability", "capabilities", multiple=True, metavar="CAP", help="A capability it has (repeat).")
@click.option("--slots", type=click.IntRange(1, 64), help="Tasks run at once. [default: 1]")
@click.option(
    "--poll",
    "poll_seconds",
    type=click.FloatRange(0.05, 3600),
    metavar="SECONDS",
    help="Idle poll interval. [default: 5]",
)
@click.option(
    "--lease-ttl",
    "lease_ttl_seconds",
    type=click.IntRange(3, 7 * 86400),
    metavar="SECONDS",
    help="Lease length; renewed every third of it. [default: 600]",
)
@click.option("--once", is_flag=True, help="Process tasks until none is claimable, then exit.")
@click.option(
    "--agent", type=click.Choice(["claude", "command", "scripted"]), help="What runs a task. [default: claude]"
)
@click.option("--agent-command", metavar="CMD", help="Executable for --agent command (prompt on stdin).")
@click.option("--dry-run", is_flag=True, help="Show what would be claimed and the exact agent command; change nothing.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Runner config file (TOML). [default: COORDINATOR_RUNNER_CONFIG or the user config folder]",
)
@click.option("--base", metavar="REF", help="Base of task branches. [default: origin/HEAD]")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), help="Where attempt logs are kept.")
@click.option("--claude-path", metavar="PATH", help="The claude executable. [default: claude]")
@click.option(
    "--heartbeat",
    "heartbeat_seconds",
    type=click.FloatRange(1, 86400),
    metavar="SECONDS",
    help="Idle heartbeat interval. [default: 300]",
)
@click.option(
    "--shutdown-grace",
    "shutdown_grace_seconds",
    type=click.FloatRange(0, 86400),
    metavar="SECONDS",
    help="On SIGTERM/Ctrl-C, how long running agents may finish. [default: 30]",
)
@click.pass_context
def runner(ctx: click.Context, /, config_file: Path | None, once: bool, dry_run: bool, **flags: Any) -> None:
    """Run tasks on this machine: claim, work in a git worktree, record, repeat.

    The state branch is on the repo's origin unless --remote says otherwise. Exit codes: 0 stopped cleanly,
    4 the runner stopped claiming (the agent's credentials are wrong, or this machine kept failing), 5 --once
    gave up on a state branch that refused every write (results wait in the outbox).
    """
    from coordinator.runner.build import build_runner, locate_state
    from coordinator.runner.config import load_config

    settings: Settings = ctx.obj
    overrides = dict(flags)
    overrides["capabilities"] = list(flags["capabilities"]) or None
    parent = ctx.parent
    overrides["branch"] = settings.branch if parent and _given(parent, "branch") else None
    overrides["remote"] = settings.remote
    config = load_config(config_file, overrides)
    remote_from = "the config file"
    if settings.remote and parent is not None:
        remote_from = "--remote" if _source(parent, "remote") == "COMMANDLINE" else "COORDINATOR_REMOTE"
    state = locate_state(config, remote_from=remote_from)
    daemon = build_runner(config, state=state, echo=_echo_line, dry_run=dry_run)
    try:
        if dry_run:
            from coordinator.runner.dryrun import dry_run_lines

            for line in dry_run_lines(daemon, why=state.why):
                click.echo(line)
            return
        daemon.store.read()  # fail early, with the init hint, when there is no state branch
        from coordinator.runner.hardening import make_undumpable

        make_undumpable()  # agents (same OS user) cannot read this process's environment or memory
        _install_signal_handlers(daemon)
        click.echo(
            f"runner {config.name}: {config.slots} slot(s), capabilities [{', '.join(config.capabilities)}], "
            f"agent {config.agent}, state {state.branch} on {state.remote} ({state.why}), "
            f"polling every {config.poll_seconds:g}s"
        )
        click.echo(f"runner {config.name}: {daemon.ceiling.describe()}; worktrees in {daemon.worktrees.root}")
        code = daemon.run(once=once)
    finally:
        daemon.store.close()
    ctx.exit(code)


def _source(ctx: click.Context, name: str) -> str | None:
    source = ctx.get_parameter_source(name)
    return source.name if source is not None else None


def _given(ctx: click.Context, name: str) -> bool:
    return _source(ctx, name) not in (None, "DEFAULT")


def _echo_line(message: str) -> None:
    from coordinator.text import terminal_safe
    from coordinator.timeutil import utcnow

    # Runner lines quote task titles, modes and agent errors: text from the branch, shown escaped. A line may
    # hold several (ERROR: ... / ERROR: ...), each printed as its own safe line.
    stamp = utcnow().strftime("%H:%M:%S")
    for line in message.splitlines() or [""]:
        click.echo(f"{stamp} {terminal_safe(line)}")


def _install_signal_handlers(daemon: Any) -> None:
    presses = {"count": 0}

    def handler(signum: int, frame: object) -> None:
        presses["count"] += 1
        force = presses["count"] > 1
        click.echo(
            "stopping now: agents are being stopped"
            if force
            else "stopping: no new claims; running agents get a grace period (press Ctrl-C again to stop them now)",
            err=True,
        )
        daemon.request_stop(force=force)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    if hasattr(signal, "SIGBREAK"):  # Ctrl-Break on Windows
        signal.signal(signal.SIGBREAK, handler)
