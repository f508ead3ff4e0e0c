"""Modes: how an agent is run for a task (model, turns, timeout, budget, permissions) and where it escalates.

Modes are configuration kept on the state branch (``config.json``); the defaults below apply when the branch
has none. They are pure data: the core reads ``escalate_to`` to pick the next mode, the agents read the rest.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Claude Code's permission modes, from the most restricted to the most permissive. ``default`` and ``dontAsk``
#: are equal here: run headless, both refuse whatever is not allowed up front.
PERMISSION_RANK: dict[str, int] = {
    "plan": 0,
    "default": 1,
    "dontAsk": 1,
    "acceptEdits": 2,
    "auto": 3,
    "bypassPermissions": 4,
}


def permission_rank(permission_mode: str) -> int | None:
    """How permissive a permission mode is (higher: more), or None for one this version does not know."""
    return PERMISSION_RANK.get(permission_mode)


class Mode(BaseModel):
    """One way of running the agent, e.g. ``simple`` = haiku, few turns, small budget."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="Model alias or full id passed to `claude --model`.")
    max_turns: int = Field(default=30, ge=1, description="`claude --max-turns`.")
    timeout_seconds: int = Field(default=1800, ge=1, description="Wall-clock limit; the process tree is stopped.")
    max_budget_usd: float | None = Field(default=None, gt=0, description="`claude --max-budget-usd`.")
    permission_mode: str = Field(default="acceptEdits", description="`claude --permission-mode`.")
    allowed_tools: list[str] = Field(default_factory=list, description="`claude --allowedTools`.")
    disallowed_tools: list[str] = Field(default_factory=list, description="`claude --disallowedTools`.")
    append_system_prompt: str | None = Field(default=None, description="`claude --append-system-prompt`.")
    escalate_to: str | None = Field(default=None, description="Mode for the next attempt after a fixable failure.")


def default_modes() -> dict[str, Mode]:
    """The modes used when the state branch configures none: simple → complex → expert."""
    return {
        "simple": Mode(model="haiku", max_turns=20, timeout_seconds=900, max_budget_usd=1.0, escalate_to="complex"),
        "complex": Mode(model="sonnet", max_turns=50, timeout_seconds=1800, max_budget_usd=5.0, escalate_to="expert"),
        "expert": Mode(model="opus", max_turns=100, timeout_seconds=3600, max_budget_usd=20.0),
    }


class ModesConfig(BaseModel):
    """The ``modes`` section of ``config.json``: named modes and the default for new tasks."""

    model_config = ConfigDict(extra="allow")

    default_mode: str = "simple"
    modes: dict[str, Mode] = Field(default_factory=default_modes)

    @model_validator(mode="after")
    def _check_references(self) -> ModesConfig:
        if self.default_mode not in self.modes:
            raise ValueError(f"default_mode {self.default_mode!r} is not one of the modes {sorted(self.modes)}")
        for name, mode in self.modes.items():
            if mode.escalate_to is not None and mode.escalate_to not in self.modes:
                raise ValueError(f"mode {name!r} escalates to unknown mode {mode.escalate_to!r}")
        return self


def modes_diff(old: ModesConfig, new: ModesConfig) -> list[str]:
    """What changed between two mode configurations, one short line per change (``simple.permission_mode
    acceptEdits -> bypassPermissions``), for the audit log and the runner's log."""
    changes: list[str] = []
    if old.default_mode != new.default_mode:
        changes.append(f"default_mode {old.default_mode} -> {new.default_mode}")
    for name in sorted(set(old.modes) | set(new.modes)):
        before, after = old.modes.get(name), new.modes.get(name)
        if before is None:
            changes.append(f"added mode {name}")
        elif after is None:
            changes.append(f"removed mode {name}")
        else:
            was, now = before.model_dump(), after.model_dump()
            for key in sorted(set(was) | set(now)):
                if was.get(key) != now.get(key):
                    changes.append(f"{name}.{key} {_shown(was.get(key))} -> {_shown(now.get(key))}")
    return changes


def _shown(value: object) -> str:
    text = "-" if value is None else str(value)
    return text if len(text) <= 60 else text[:59] + "…"
