"""Keeping a running task's lease: renew it every third of its TTL, and stop the agent the moment the lease is
seen gone (the task was cancelled, or another runner took it over after it expired)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from coordinator.core import transitions
from coordinator.core.state import State
from coordinator.errors import ContentionError, InvalidTransition, RemoteError, TaskNotFound
from coordinator.models import TaskStatus
from coordinator.runner.clock import Clock
from coordinator.runner.slot import Slot
from coordinator.store.store import StateStore


class LeaseKeeper:
    """Renews the leases of one runner's slots and stops agents whose lease is gone."""

    def __init__(
        self,
        *,
        store: StateStore,
        runner: str,
        lease_ttl: timedelta,
        renew_every: float,
        clock: Clock,
        echo: Callable[[str], None],
    ) -> None:
        self._store = store
        self._runner = runner
        self._ttl = lease_ttl
        self._every = renew_every
        self._clock = clock
        self._echo = echo

    @contextmanager
    def kept(self, slot: Slot) -> Iterator[None]:
        """Renew ``slot``'s lease from a side thread while the body runs: the agent, and the recording of its
        result, however long the branch refuses it (a result that waits must not let the lease expire)."""
        renewer = threading.Thread(target=self._renew_loop, args=(slot,), name=f"renew-{slot.task.id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            slot.done.set()
            renewer.join()

    def _renew_loop(self, slot: Slot) -> None:
        while not self._clock.wait(slot.done, self._every):
            if slot.stop.is_set():
                return
            try:
                self._store.update(
                    lambda state, now: transitions.renew(
                        state, task_id=slot.task.id, runner=self._runner, lease_ttl=self._ttl, now=now
                    )
                )
            except (InvalidTransition, TaskNotFound) as exc:
                if not slot.recording:  # once the result is recorded, the lease is gone on purpose
                    self.lost(slot, str(exc))
                return
            except (RemoteError, ContentionError) as exc:
                self._echo(f"warning: could not renew the lease of {slot.task.id} (will retry): {exc}")

    def watch(self, state: State, slots: Iterable[Slot]) -> None:
        """Stop the agents whose lease ``state`` no longer shows as this runner's (the cached state is enough)."""
        for slot in slots:
            current = state.tasks.get(slot.task.id)
            if current is None or slot.stop.is_set():
                continue
            held = (
                current.status == TaskStatus.RUNNING
                and current.lease is not None
                and current.lease.runner == self._runner
                and current.lease.attempt == slot.attempt
            )
            if not held:
                self.lost(slot, current.status.value)

    def lost(self, slot: Slot, why: str) -> None:
        """Stop ``slot``'s agent: its lease is gone."""
        slot.lease_lost = True
        slot.stop.set()
        self._echo(f"{slot.task.id}: lease gone ({why}); stopping its agent")
