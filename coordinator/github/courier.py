"""Telling GitHub what happened: the pending deliveries of a task are delivered (after its trigger is verified,
so nothing is ever done on GitHub for a forged task) and what was delivered is recorded on the state branch.

The runner and ``coordinator ingest`` each have one courier. Whoever commits a change delivers it at once;
anyone else picks up what stayed pending (GitHub was down, the process died) once it is due.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from coordinator.core.deliveries import creation_free, due, due_for_others, holds_creation
from coordinator.core.transitions.github import DeliveryRecord, record_delivery, refuse_link, take_creation
from coordinator.errors import ContentionError, CoordinatorError, InvalidTransition, RemoteError, TaskNotFound
from coordinator.github.deliver import Deliverer
from coordinator.github.verify import TriggerCheck
from coordinator.models import Task
from coordinator.store.store import StateStore

_CATCH_UP_TASKS = 5


class Courier:
    """Delivers and records GitHub side effects for the tasks of one state branch."""

    def __init__(
        self,
        *,
        store: StateStore,
        deliverer: Deliverer,
        check: TriggerCheck,
        now: Callable[[], datetime],
        echo: Callable[[str], None],
    ) -> None:
        self.store, self.deliverer, self.check = store, deliverer, check
        self._now, self._echo = now, echo
        #: This process's name in creation windows: unique per process, so a restarted process never takes a
        #: window its earlier life held for a comment it may have created.
        self.who = f"{deliverer.who}#{secrets.token_hex(4)}"
        self._fresh: set[str] = set()
        self._refused: dict[str, str] = {}

    def created(self, task: Task) -> None:
        """``task`` was just made by this process from a real event: its trigger is genuine and no tracking
        comment of it can exist yet (no need to look for one first)."""
        assert task.github is not None
        self.check.trust(task.github)
        self._fresh.add(task.id)

    def deliver(self, task_id: str, *, honour_backoff: bool = True) -> bool:
        """Deliver what is pending on ``task_id`` now (as the store last saw it); True when all of it went."""
        task = self.store.state.tasks.get(task_id)
        if task is None or task.github is None or not task.github.pending or task.github.refused is not None:
            return True
        if honour_backoff and not due(task, self._now()):
            return False
        link = task.github
        verdict = self.check.happened(link)
        if not verdict.ok:
            if not verdict.transient and self._refused.get(task_id) != verdict.why:
                self._refused[task_id] = verdict.why or ""
                self._echo(f"warning: nothing is delivered to GitHub for {task_id}: {verdict.why}")
                if verdict.unfounded:
                    self._record_refusal(task_id, verdict.why or "its trigger is not on GitHub")
            return False
        now = self._now()
        may_create = holds_creation(link, self.who, now)
        if link.comment_id is None and "comment" in link.pending and not may_create and creation_free(link, now):
            task, may_create = self._take_creation(task_id)
            if task is None:
                return False
        assert task.github is not None
        record = self.deliverer.deliver(
            task, self.store.state.github, may_create=may_create, look_first=task_id not in self._fresh
        )
        self._fresh.discard(task_id)
        delivered = self._record(task_id, record)
        gone = task.github.comment_id
        if gone is not None and record.comment_id is None and "comment" in record.skipped:
            # Someone deleted the tracking comment: forget it and take the creation window in one compare-and-swap
            # commit (two processes that both saw the 404 never both create one), then make a new one.
            retaken, may_create = self._take_creation(task_id, gone=gone)
            if retaken is not None and may_create:
                return self.deliver(task_id, honour_backoff=False)
        return delivered

    def catch_up(self, limit: int = _CATCH_UP_TASKS, *, honour_backoff: bool = True) -> int:
        """Deliver for up to ``limit`` tasks whose deliveries stayed pending; returns how many were tried."""
        now = self._now()
        waiting = [
            t.id
            for t in self.store.state.tasks.values()
            if due_for_others(t, now, honour_backoff=honour_backoff) and t.id not in self._refused
        ]
        for task_id in waiting[:limit]:
            self.deliver(task_id, honour_backoff=honour_backoff)
        return min(limit, len(waiting))

    def _take_creation(self, task_id: str, *, gone: int | None = None) -> tuple[Task | None, bool]:
        try:
            change = self.store.update(
                lambda state, now: take_creation(state, task_id=task_id, by=self.who, now=now, gone=gone)
            )
        except (InvalidTransition, TaskNotFound):
            return None, False  # someone else is creating it right now
        except (RemoteError, ContentionError) as exc:
            self._echo(f"warning: cannot deliver {task_id} to GitHub now: {exc}")
            return None, False
        return change.task, True

    def _record_refusal(self, task_id: str, why: str) -> None:
        """Mark the task on the branch, so no process asks GitHub about it again (best effort)."""
        try:
            self.store.update(lambda state, now: refuse_link(state, task_id=task_id, reason=why, now=now))
        except CoordinatorError as exc:
            self._echo(f"warning: could not record that {task_id} gets no deliveries: {exc}")

    def _record(self, task_id: str, record: DeliveryRecord) -> bool:
        if record.error:
            self._echo(f"warning: GitHub delivery for {task_id} failed, retried later: {record.error}")
        if not record.done and not record.error:
            return not record.skipped
        try:
            self.store.update(
                lambda state, now: record_delivery(state, task_id=task_id, by=self.who, record=record, now=now)
            )
        except CoordinatorError as exc:
            # Delivered but not recorded: the next pass delivers again, which is harmless (edits are whole,
            # a pull request and the comment are looked up before a second is made).
            self._echo(f"warning: could not record the GitHub delivery of {task_id}: {exc}")
            return False
        return record.error is None and not record.skipped
