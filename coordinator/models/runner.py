"""Runners: one heartbeat file each."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from coordinator.models.base import Capability, RunnerName, StateModel, UtcDateTime


class RunnerState(StrEnum):
    """What a runner said it was doing at its last heartbeat."""

    IDLE = "idle"
    BUSY = "busy"
    COOLING_DOWN = "cooling_down"  # usage limit hit: no claims until cooldown_until
    MISCONFIGURED = "misconfigured"  # e.g. auth failure: no claims until fixed
    FAULTY = "faulty"  # this machine failed repeatedly (disk, git): no claims until fixed
    PAUSED = "paused"  # backing off after API trouble or a machine fault: claims again later
    STOPPING = "stopping"
    STOPPED = "stopped"


class Runner(StateModel):
    """A machine that runs tasks: one file ``runners/<name>.json``, rewritten at each heartbeat."""

    name: RunnerName
    capabilities: list[Capability] = Field(default_factory=list)
    slots: int = Field(default=1, ge=1)
    version: str = "unknown"
    host: str | None = None
    platform: str | None = None
    started_at: UtcDateTime | None = None
    last_heartbeat: UtcDateTime
    heartbeat_seconds: float | None = Field(default=None, description="How often it promises a heartbeat.")
    state: RunnerState = RunnerState.IDLE
    running: list[str] = Field(default_factory=list, description="Task ids this runner holds leases on.")
    cooldown_until: UtcDateTime | None = None
    message: str | None = None
    max_permission_mode: str | None = Field(
        default=None, description="The most permissive permission_mode its owner allows (None: an older runner)."
    )

    def is_silent(self, now: datetime) -> bool:
        """True when a live runner missed three heartbeats (it probably died without saying so)."""
        if self.state == RunnerState.STOPPED or self.heartbeat_seconds is None:
            return False
        return (now - self.last_heartbeat).total_seconds() > 3 * self.heartbeat_seconds
