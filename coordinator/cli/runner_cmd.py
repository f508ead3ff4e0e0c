"""``coordinator runner`` and ``coordinator modes``: building a runner from flags and config, signals, dry runs."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import click

from coordinator.cli.app import Settings, _store, cli
from coordinator.errors import ConfigError


def _git_output(repo: Path, *args: str) -> str | None:
    """What ``git -C repo ARGS`` prints, or None when it fails."""
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def _origin_url(repo: Path) -> str:
    url = _git_output(repo, "remote", "get-url", "origin")
    if url is None:
        raise ConfigError(
            f"{repo} has no 'origin' remote to hold the state branch: add one (git -C {repo} remote add origin URL) "
            "or pass --remote URL"
        )
    return url


def _check_repo(repo: Path) -> Path:
    repo = repo.expanduser().resolve()
    if not repo.is_dir() or _git_output(repo, "rev-parse", "--git-dir") is None:
        raise ConfigError(f"--repo {repo} is not a git repository: clone the target repository there first")
    return repo


def build_agent(config: Any) -> Any:
    """The agent named by the config, checked for what it needs."""
    if config.agent == "command":
        from coordinator.agents.command import CommandAgent

        if not config.agent_command:
            raise ConfigError("--agent command needs --agent-command CMD (the executable to run for each task)")
        return CommandAgent(config.agent_command, kill_grace_seconds=config.kill_grace_seconds)
    if config.agent == "scripted":
        from coordinator.agents.scripted import ScriptedAgent

        return ScriptedAgent()
    from coordinator.agents.claude import ClaudeAgent

    executable = shutil.which(config.claude_path)
    if executable is None:
        raise ConfigError(
            f"the claude CLI ('{config.claude_path}') is not on PATH: install it with "
            "'npm install -g @anthropic-ai/claude-code', or pass --claude-path PATH"
        )
    return ClaudeAgent(executable, kill_grace_seconds=config.kill_grace_seconds)


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
    4 the agent's credentials are wrong (the runner stopped claiming).
    """
    from coordinator.runner.config import load_config

    settings: Settings = ctx.obj
    overrides = dict(flags)
    overrides["capabilities"] = list(flags["capabilities"]) or None
    overrides["branch"] = settings.branch if ctx.parent and _given(ctx.parent, "branch") else None
    config = load_config(config_file, overrides)
    repo = _check_repo(config.repo)
    # The origin of a clone may be a path relative to the clone itself.
    remote_cwd = None if settings.remote or config.remote else repo
    remote = settings.remote or config.remote or _origin_url(repo)
    state_settings = Settings(remote=remote, branch=config.branch, cwd=remote_cwd)
    agent = build_agent(config)

    from coordinator.runner.worktree import WorktreeManager

    worktrees = WorktreeManager(repo, root=_worktree_root(repo, config.name))
    if dry_run:
        _dry_run(state_settings, config, agent, worktrees)
        return

    from coordinator.runner.daemon import RunnerDaemon

    store = state_settings.open_store()
    try:
        store.read()  # fail early, with the init hint, when there is no state branch
        daemon = RunnerDaemon(config, store=store, agent=agent, worktrees=worktrees, echo=_echo_line)
        _install_signal_handlers(daemon)
        click.echo(
            f"runner {config.name}: {config.slots} slot(s), capabilities [{', '.join(config.capabilities)}], "
            f"agent {config.agent}, state {store.remote}#{config.branch}, polling every {config.poll_seconds:g}s"
        )
        code = daemon.run(once=once)
    finally:
        store.close()
    ctx.exit(code)


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"


def _worktree_root(repo: Path, name: str) -> Path:
    common = _git_output(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")
    return Path(common or repo / ".git") / "coordinator-worktrees" / name


def _echo_line(message: str) -> None:
    from coordinator.timeutil import utcnow

    click.echo(f"{utcnow().strftime('%H:%M:%S')} {message}")


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


def _dry_run(settings: Settings, config: Any, agent: Any, worktrees: Any) -> None:
    from coordinator.agents.base import AgentRequest
    from coordinator.cli.render import table
    from coordinator.core.scheduling import rank
    from coordinator.runner.prompt import build_prompt
    from coordinator.store.store import StateStore
    from coordinator.timeutil import utcnow

    store: StateStore = settings.open_store()
    try:
        state = store.read()
    finally:
        store.close()
    now = utcnow()
    ranked = rank(state, capabilities=set(config.capabilities), now=now)
    click.echo(f"dry run of runner {config.name} (capabilities [{', '.join(config.capabilities)}]): nothing changes")
    if not ranked:
        click.echo("no queued tasks")
        return
    click.echo(
        table(
            ("ID", "SCORE", "CLAIMABLE", "TITLE"),
            [(r.task.id, f"{r.score:.0f}", r.blocked_by or "yes", r.task.title[:60]) for r in ranked[:20]],
        )
    )
    first = next((r.task for r in ranked if r.blocked_by is None), None)
    if first is None:
        click.echo("\nnothing is claimable by this runner")
        return
    mode_name = first.mode if first.mode in state.modes.modes else state.modes.default_mode
    attempt = len(first.attempts) + 1
    request = AgentRequest(
        task_id=first.id,
        title=first.title,
        prompt=build_prompt(first, branch=worktrees.branch_for(first.id), attempt=attempt),
        workdir=worktrees.path_for(first.id),
        mode_name=mode_name,
        mode=state.modes.modes[mode_name],
        attempt=attempt,
        log_path=config.resolved_log_dir() / f"{first.id}.attempt-{attempt}.log",
    )
    import shlex

    click.echo(f"\nwould claim {first.id} (attempt {attempt}, mode {mode_name}) and run in {request.workdir}:")
    click.echo("  " + shlex.join(agent.command_line(request)))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--set",
    "set_file",
    type=click.File("r", encoding="utf-8"),
    help='Replace the modes with this JSON file ({"default_mode": ..., "modes": {...}}).',
)
@click.pass_context
def modes(ctx: click.Context, as_json: bool, set_file: Any) -> None:
    """Show (or replace) the modes kept on the state branch: model, turns, timeout, budget, escalation."""
    from pydantic import ValidationError

    from coordinator.cli.render import table, to_json
    from coordinator.core.transitions import set_modes
    from coordinator.errors import UsageError
    from coordinator.modes import ModesConfig
    from coordinator.store.snapshot import describe_error

    with _store(ctx) as store:
        if set_file is not None:
            try:
                new = ModesConfig.model_validate_json(set_file.read())
            except ValidationError as exc:
                raise UsageError(f"--set {set_file.name}: {describe_error(exc)}") from None
            store.update(lambda state, now: set_modes(state, modes=new, by="cli"))
        config = store.read().modes
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
