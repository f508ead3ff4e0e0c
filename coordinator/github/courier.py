"""Telling GitHub what happened: the pending deliveries of a task are delivered (after its trigger is verified,
so nothing is ever done on GitHub for a forged task) and what was delivered is recorded on the state branch.

The runner and ``coordinator ingest`` each have one courier. Whoever commits a change delivers it at once;
anyone else picks up what stayed pending (GitHub was down, the process died) once it is due.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from coordinator.core.deliveries import creation_free, due, due_for_others, holds_creation
from coordinator.core.transitions.followups import family, record_replies, replies_due
from coordinator.core.transitions.github import DeliveryRecord, record_delivery, refuse_link, take_creation
from coordinator.core.transitions.plan_github import children_of
from coordinator.errors import ContentionError, CoordinatorError, InvalidTransition, RemoteError, TaskNotFound
from coordinator.github.deliver import Deliverer, Family
from coordinator.github.followup_check import FollowUpCheck
from coordinator.github.verify import TriggerCheck, Verdict
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
        #: Verifies follow-ups (reviews of an issue task's pull request), as ``check`` verifies issue tasks.
        self.follow_ups = FollowUpCheck(check.api, repository=check.repository)
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
        if task.follow_up is not None:
            self.follow_ups.trust(task)  # it never creates the comment: the task made it
            return
        self.check.trust(task.github)
        self._fresh.add(task.id)

    def deliver(self, task_id: str, *, honour_backoff: bool = True) -> bool:
        """Deliver what is pending on ``task_id`` now (as the store last saw it); True when all of it went."""
        task = self.store.state.tasks.get(task_id)
        waits = task is not None and task.github is not None and bool(task.github.pending)
        if task is not None and not waits and replies_due(task, _at(task, self._now(), honour_backoff)):
            return self._reply(task_id)
        if task is None or task.github is None or not task.github.pending or task.github.refused is not None:
            return True
        if honour_backoff and not due(task, self._now()):
            return False
        link = task.github
        verdict = self._verdict(task)
        if not verdict.ok:
            if not verdict.transient and self._refused.get(task_id) != verdict.why:
                self._refused[task_id] = verdict.why or ""
                self._echo(f"warning: nothing is delivered to GitHub for {task_id}: {verdict.why}")
                if verdict.unfounded:
                    self._record_refusal(task_id, verdict.why or "its trigger is not on GitHub")
            return False
        now = self._now()
        may_create = holds_creation(link, self.who, now)
        ours = task.follow_up is None  # a follow-up never creates the tracking comment
        if (
            ours
            and link.comment_id is None
            and "comment" in link.pending
            and not may_create
            and creation_free(link, now)
        ):
            task, may_create = self._take_creation(task_id)
            if task is None:
                return False
        assert task.github is not None
        root, follow_ups = family(self.store.state.tasks, task)
        children = children_of(self.store.state.tasks.values(), root) if root.kind == "plan" else []
        record = self.deliverer.deliver(
            task,
            self.store.state.github,
            may_create=may_create,
            look_first=task_id not in self._fresh,
            family=Family(root, follow_ups, children),
            label_ids=self.store.state.meta.github_labels.get(link.repository),
        )
        self._fresh.discard(task_id)
        delivered = self._record(task_id, record)
        if delivered:
            after = self.store.state.tasks.get(task_id)
            if after is not None and replies_due(after, self._now()):
                return self._reply(task_id)
        gone = task.github.comment_id
        if ours and gone is not None and record.comment_id is None and "comment" in record.skipped:
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
            if (due_for_others(t, now, honour_backoff=honour_backoff) or _replies_waiting(t, now, honour_backoff))
            and t.id not in self._refused
        ]
        for task_id in waiting[:limit]:
            self.deliver(task_id, honour_backoff=honour_backoff)
        return min(limit, len(waiting))

    def _verdict(self, task: Task) -> Verdict:
        """Whether the task's trigger happened on GitHub (a follow-up's: its review or comment)."""
        assert task.github is not None
        return self.follow_ups.happened(task) if task.follow_up is not None else self.check.happened(task.github)

    def _reply(self, task_id: str) -> bool:
        """Reply in the review threads a follow-up that ended addressed, and record it; True when all went."""
        task = self.store.state.tasks.get(task_id)
        if task is None or task.github is None or task.follow_up is None:
            return True
        verdict = self._verdict(task)
        if not verdict.ok:
            return False
        done = self.deliverer.reply(task, self.store.state.github)
        if done.error:
            self._echo(f"warning: replies of {task_id} in its review threads failed, retried later: {done.error}")
        try:
            self.store.update(
                lambda state, now: record_replies(
                    state, task_id=task_id, error=done.error, now=now, retry_after=done.retry_after
                )
            )
        except CoordinatorError as exc:
            # Replied but not recorded: the next pass reads the threads first and replies nowhere twice.
            self._echo(f"warning: could not record the replies of {task_id}: {exc}")
            return False
        return done.error is None

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


def _replies_waiting(task: Task, now: datetime, honour_backoff: bool) -> bool:
    """A follow-up whose thread replies failed before (or whose maker died before them) and may be tried now."""
    follow_up = task.follow_up
    if follow_up is None or follow_up.replied or (task.github is not None and task.github.pending):
        return False
    due = replies_due(task, _at(task, now, honour_backoff))
    return due and (follow_up.reply_tries > 0 or task.updated_at + timedelta(minutes=2) <= now)


def _at(task: Task, now: datetime, honour_backoff: bool) -> datetime:
    """When to judge whether a follow-up's replies are due: now, or (a one-shot process that does not honour the
    backoff) the end of its backoff, if that is later."""
    retry_at = task.follow_up.reply_retry_at if task.follow_up is not None else None
    return max(now, retry_at) if retry_at is not None and not honour_backoff else now
