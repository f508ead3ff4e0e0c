"""``coordinator runner --dry-run``: the queue as this runner sees it, what it would claim, and the exact agent
command, without changing anything."""

from __future__ import annotations

import shlex

from coordinator.core.scheduling import rank
from coordinator.runner.daemon import RunnerDaemon
from coordinator.text import table, terminal_safe


def dry_run_lines(daemon: RunnerDaemon, *, why: str) -> list[str]:
    """What ``--dry-run`` prints; reads the state branch, writes nothing."""
    config = daemon.config
    state = daemon.store.read()
    now = daemon.clock.now()
    ranked = rank(
        state,
        capabilities=set(config.capabilities),
        now=now,
        max_permission_mode=daemon.ceiling.max_permission_mode,
        runner=config.name,
    )
    lines = [
        f"dry run of runner {config.name} (capabilities [{', '.join(config.capabilities)}]): nothing changes",
        f"state branch {config.branch} on {daemon.store.remote} ({why})",
        f"owner's policy: {daemon.ceiling.describe()}",
        f"worktrees in {daemon.worktrees.root}",
    ]
    missing = _missing_agent(daemon)
    if missing:
        lines.append(f"warning: {missing} (a real run would stop here)")
    if not ranked:
        return [*lines, "no queued tasks"]
    rows = [(r.task.id, f"{r.score:.0f}", r.blocked_by or "yes", r.task.title[:60]) for r in ranked[:20]]
    lines.append(table(("ID", "SCORE", "CLAIMABLE", "TITLE"), rows))
    first = next((r.task for r in ranked if r.blocked_by is None), None)
    if first is None:
        return [*lines, "", "nothing is claimable by this runner"]
    mode_name, mode = daemon.attempts.mode(first.mode)
    attempt = len(first.attempts) + 1
    request = daemon.attempts.request(
        first,
        attempt=attempt,
        workdir=daemon.worktrees.path_for(first.id),
        branch=daemon.worktrees.branch_for(first.id),
        mode_name=mode_name,
        mode=mode,
    )
    return [
        *lines,
        "",
        f"would claim {first.id} (attempt {attempt}, mode {mode_name}) and run in {request.workdir}:",
        "  " + terminal_safe(shlex.join(daemon.agent.command_line(request))),
    ]


def _missing_agent(daemon: RunnerDaemon) -> str | None:
    """Why the configured agent could not run here, if it could not (e.g. no claude CLI on PATH)."""
    from coordinator.errors import ConfigError
    from coordinator.runner.build import build_agent

    try:
        build_agent(daemon.config)
    except ConfigError as exc:
        return str(exc)
    return None
