"""Runner settings: from a per-machine TOML file, overridden by command-line flags, validated at start."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from coordinator.errors import ConfigError
from coordinator.ids import DEFAULT_STATE_BRANCH
from coordinator.models import Capability, RunnerName
from coordinator.modes import PERMISSION_RANK

AgentKind = Literal["claude", "command", "scripted"]


class RunnerConfig(BaseModel):
    """Everything a runner needs to know; the TOML file uses the same keys (``slots = 2``)."""

    model_config = ConfigDict(extra="forbid")

    name: RunnerName
    repo: Path
    remote: str | None = Field(default=None, description="State remote; default: the repo's origin.")
    branch: str = DEFAULT_STATE_BRANCH
    capabilities: list[Capability] = Field(default_factory=list)
    slots: int = Field(default=1, ge=1, le=64)
    poll_seconds: float = Field(default=5.0, gt=0)
    lease_ttl_seconds: int = Field(default=600, ge=3)
    heartbeat_seconds: float = Field(default=300.0, gt=0, description="Idle heartbeat interval.")
    agent: AgentKind = "claude"
    agent_command: str | None = None
    agent_env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment variables for every agent run (e.g. ANTHROPIC_BASE_URL)."
    )
    claude_path: str = "claude"
    base: str | None = Field(default=None, description="Base branch of task branches; default origin/HEAD.")
    fetch_base: bool = Field(default=True, description="Fetch the base branch before a task starts.")
    fetch_base_every_seconds: float = Field(
        default=30.0, ge=0, description="Skip that fetch when the last one is more recent than this."
    )
    log_dir: Path | None = None
    worktree_root: Path | None = Field(default=None, description="Folder holding this clone's task worktrees.")
    cache_dir: Path | None = Field(default=None, description="Local object cache of the state branch.")
    log_retention_days: float = Field(default=14.0, ge=0)
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)
    kill_grace_seconds: float = Field(default=10.0, ge=0)
    api_error_pause_seconds: float = Field(default=60.0, ge=0, description="First pause after an API error.")
    api_error_max_pause_seconds: float = Field(default=1800.0, ge=0, description="Longest pause (it doubles).")
    api_error_give_up_hours: float = Field(
        default=6.0, gt=0, description="After API errors for this long, a task's attempts count again."
    )
    once_give_up_seconds: float = Field(
        default=120.0, gt=0, description="--once stops when the state branch refused every write this long."
    )
    machine_fault_pause_seconds: float = Field(default=30.0, ge=0, description="First pause after a machine fault.")
    machine_fault_limit: int = Field(default=3, ge=1, description="Machine faults in a row before claiming stops.")
    max_permission_mode: str = Field(
        default="acceptEdits", description="The most permissive claude permission_mode this runner allows."
    )
    denied_tools: list[str] = Field(default_factory=list, description="Tools agents on this runner never get.")
    secret_env_names: list[str] = Field(
        default_factory=list, description="Variables whose values are secret, whatever their names look like."
    )
    secret_env_patterns: list[str] = Field(
        default_factory=list, description="Shell-style patterns of such variable names, e.g. '*_DSN'."
    )
    not_secret_env_names: list[str] = Field(
        default_factory=list,
        description="Variables whose names look secret but whose values are not (e.g. DB_PASSWORD of a throw-away "
        "database): not redacted, and they stop no commit.",
    )
    agent_git_credentials: bool = Field(
        default=False, description="Let agents' git use this user's credential helpers, ssh agent and keys."
    )
    honour_branch_system_prompt: bool = Field(
        default=True, description="Pass the branch's append_system_prompt of a mode to the agent."
    )

    @field_validator("max_permission_mode")
    @classmethod
    def _known_permission_mode(cls, value: str) -> str:
        if value not in PERMISSION_RANK:
            raise ValueError(f"must be one of {', '.join(PERMISSION_RANK)}")
        return value

    @field_validator("capabilities")
    @classmethod
    def _sorted_caps(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @property
    def renew_every_seconds(self) -> float:
        """Renew leases three times per TTL: two renewals may fail before the lease is at risk."""
        return max(1.0, self.lease_ttl_seconds / 3)

    def resolved_log_dir(self) -> Path:
        """Where attempt logs go (default: the platform's user log folder)."""
        if self.log_dir is not None:
            return self.log_dir
        import platformdirs

        return Path(platformdirs.user_log_dir("coordinator", appauthor=False)) / self.name


def default_config_path() -> Path:
    """``COORDINATOR_RUNNER_CONFIG`` or ``<user config dir>/coordinator/runner.toml``."""
    configured = os.environ.get("COORDINATOR_RUNNER_CONFIG")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_config_dir("coordinator", appauthor=False)) / "runner.toml"


def load_config(path: Path | None, overrides: dict[str, Any]) -> RunnerConfig:
    """Settings from ``path`` (if it exists, or must exist when given explicitly) with ``overrides`` on top."""
    values: dict[str, Any] = {}
    explicit = path is not None
    path = path or default_config_path()
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read runner config {path}: {exc}") from None
        values = dict(values.get("runner", values))
    elif explicit:
        raise ConfigError(f"runner config {path} does not exist: create it or drop --config")
    values.update({k: v for k, v in overrides.items() if v is not None and v != ()})
    try:
        return RunnerConfig.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "config"
        if first.get("type") == "missing":
            raise ConfigError(f"--{where.replace('_', '-')} is required: pass it, or set {where} in {path}") from None
        source = f" (from {path})" if path.exists() else ""
        raise ConfigError(f"runner setting '{where}'{source}: {first.get('msg')}") from None
