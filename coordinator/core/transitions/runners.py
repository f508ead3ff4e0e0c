"""Runner heartbeats and the shared configuration (modes) kept on the branch."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from coordinator.core.state import State
from coordinator.core.transitions.change import Change
from coordinator.errors import UsageError
from coordinator.models import GitHubConfig, Limits, PlanConfig, Runner
from coordinator.modes import ModesConfig, modes_diff


def heartbeat(state: State, *, runner: Runner, now: datetime) -> Change:
    """Write a runner's heartbeat file."""
    updated = runner.model_copy(update={"last_heartbeat": now})
    return Change(message=f"heartbeat {runner.name} ({runner.state.value})", runners=(updated,))


def with_heartbeat(change: Change, runner: Runner, now: datetime) -> Change:
    """``change`` plus the runner's heartbeat file, so reporting a result costs no extra commit."""
    updated = runner.model_copy(update={"last_heartbeat": now})
    return Change(
        message=change.message,
        tasks=change.tasks,
        runners=(*[r for r in change.runners if r.name != runner.name], updated),
        meta=change.meta,
        task=change.task,
    )


def set_modes(state: State, *, modes: ModesConfig, by: str = "unknown") -> Change:
    """Replace the modes in ``config.json``, refusing to drop a mode that unfinished tasks still use."""
    missing = sorted({t.mode for t in state.tasks.values() if not t.is_terminal and t.mode not in modes.modes})
    if missing:
        raise UsageError(
            f"unfinished tasks use modes {', '.join(missing)}, which the new configuration drops: keep them, "
            "or cancel those tasks first"
        )
    changes = modes_diff(state.modes, modes)
    if not changes:
        return Change(message="modes unchanged")  # nothing to commit
    shown = "; ".join(changes[:8]) + (f"; and {len(changes) - 8} more" if len(changes) > 8 else "")
    # The other settings of config.json (limits, github, fields of newer versions) stay as they are.
    return Change(message=f"set modes by {by}: {shown}", config=state.config.model_copy(update={"modes": modes}))


def set_github(state: State, *, github: GitHubConfig, by: str = "unknown", now: datetime | None = None) -> Change:
    """Replace the GitHub settings in ``config.json`` (trigger label, who may trigger, branches, labels); with
    ``now``, deliveries waiting out a backoff are due again at once (the new settings may let them through)."""
    changed = _differences(state.config.github, github)
    if not changed:
        return Change(message="github settings unchanged")
    # Deliveries that failed may succeed now (a push allowed, labels turned off): whoever passes next tries them
    # at once instead of after their backoff.
    waiting = tuple(
        t.model_copy(update={"github": t.github.model_copy(update={"retry_at": now, "delivery_attempts": 0})})
        for t in state.tasks.values()
        if now is not None and t.github is not None and t.github.pending and t.github.retry_at is not None
    )
    return Change(
        message=f"set github settings by {by}: {'; '.join(changed)}",
        config=state.config.model_copy(update={"github": github}),
        tasks=waiting,
    )


def set_plans(state: State, *, plans: PlanConfig, by: str = "unknown") -> Change:
    """Replace the repository's defaults for new plans (``plans`` in ``config.json``)."""
    return _set_section(state, "plans", plans, by=by, what="plan settings")


def set_limits(state: State, *, limits: Limits, by: str = "unknown") -> Change:
    """Replace the bounds ``submit`` enforces (``limits`` in ``config.json``)."""
    return _set_section(state, "limits", limits, by=by, what="limits")


def _set_section(state: State, section: str, value: BaseModel, *, by: str, what: str) -> Change:
    """Replace one section of ``config.json``, the commit message naming each setting that changes."""
    changed = _differences(getattr(state.config, section), value)
    if not changed:
        return Change(message=f"{what} unchanged")
    return Change(
        message=f"set {what} by {by}: {'; '.join(changed)}",
        config=state.config.model_copy(update={section: value}),
    )


def _differences(old: BaseModel, new: BaseModel) -> list[str]:
    """``name 'old' -> 'new'`` for each setting that changes."""
    return [
        f"{name} {getattr(old, name)!r} -> {getattr(new, name)!r}"
        for name in type(new).model_fields
        if getattr(old, name) != getattr(new, name)
    ]
