"""This runner's heartbeat file on the branch: what it says (state, running tasks, health, its owner's ceiling),
and writing it every ``heartbeat_seconds``. Claims and results carry a heartbeat for free; when the branch refuses
writes, the next try waits for the shared backoff instead of coming at every poll."""

from __future__ import annotations

import platform
import sys
import threading
from collections.abc import Callable
from datetime import datetime

from coordinator import __version__
from coordinator.core import transitions
from coordinator.errors import ContentionError, RemoteError
from coordinator.models import Runner, RunnerState
from coordinator.runner.clock import Clock
from coordinator.runner.config import RunnerConfig
from coordinator.runner.health import Health
from coordinator.runner.trouble import RemoteTrouble
from coordinator.store.store import StateStore


class Heartbeats:
    """Builds and writes the runner's heartbeat."""

    def __init__(
        self,
        *,
        config: RunnerConfig,
        store: StateStore,
        health: Health,
        max_permission_mode: str,
        trouble: RemoteTrouble,
        clock: Clock,
        echo: Callable[[str], None],
        running: Callable[[], list[str]],
        stopping: threading.Event,
    ) -> None:
        self._config = config
        self._store = store
        self._health = health
        self._ceiling = max_permission_mode
        self._trouble = trouble
        self._clock = clock
        self._echo = echo
        self._running = running
        self._stopping = stopping
        self._started_at = clock.now()
        self._last: float | None = None

    def state(self) -> tuple[RunnerState, str | None]:
        """The state to report now, and why when it is not plain idle/busy."""
        if self._stopping.is_set():
            return RunnerState.STOPPING, None
        return self._health.state(mono=self._clock.monotonic(), busy=bool(self._running()))

    def model(
        self, *, running: list[str] | None = None, state: RunnerState | None = None, now: datetime | None = None
    ) -> Runner:
        """The heartbeat file's content (``running`` defaults to the tasks running now)."""
        current, message = self.state()
        return Runner(
            name=self._config.name,
            capabilities=self._config.capabilities,
            slots=self._config.slots,
            version=__version__,
            host=platform.node() or None,
            platform=sys.platform,
            started_at=self._started_at,
            last_heartbeat=now or self._clock.now(),
            heartbeat_seconds=self._config.heartbeat_seconds,
            state=state or current,
            running=self._running() if running is None else running,
            cooldown_until=self._health.cooldown_until,
            message=message,
            max_permission_mode=self._ceiling,
        )

    def write(self, *, state: RunnerState | None = None) -> bool:
        """Write the heartbeat now; False (with a warning) when the branch refused it."""
        running = self._running()
        try:
            self._store.update(
                lambda s, now: transitions.heartbeat(
                    s, runner=self.model(running=running, state=state, now=now), now=now
                )
            )
        except (RemoteError, ContentionError) as exc:
            pause = self._trouble.failed(self._clock.monotonic())
            self._echo(f"warning: heartbeat failed (next try in {pause:.0f}s): {exc}")
            return False
        self._trouble.ok()
        self._last = self._clock.monotonic()
        return True

    def write_if_due(self) -> None:
        """Write the heartbeat when ``heartbeat_seconds`` passed since the last one landed (and the backoff of a
        refused write allows a new try)."""
        mono = self._clock.monotonic()
        due = self._last is None or mono - self._last >= self._config.heartbeat_seconds
        if due and self._trouble.may_try(mono):
            self.write()
