"""An in-memory snapshot of the state branch, with the indexes scheduling needs.

The store keeps one ``State`` per tip and updates it in place as the tip moves (only changed files are
re-read), so scheduling never scans every task: queued tasks sit in a list sorted by their time-independent
score part, and running tasks and their groups are kept in small sets.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from coordinator.core.archive_layout import Archived
from coordinator.core.dashboard_index import DashboardIndex
from coordinator.models import PRIORITY_WEIGHT, BranchConfig, GitHubConfig, Limits, Meta, Runner, Task, TaskStatus
from coordinator.modes import ModesConfig

#: A queued task's place in the index: (-static_key, created_at timestamp, id); ascending = best first.
QueueEntry = tuple[float, float, str]

#: Score points per hour a task has waited.
AGE_POINTS_PER_HOUR = 10.0


def static_key(task: Task) -> float:
    """The part of a task's score that does not depend on ``now``: priority weight minus creation-time points.

    score(now) = static_key + AGE_POINTS_PER_HOUR * now_hours + deadline_urgency(now), so ordering queued
    tasks by static_key orders them by score up to the (bounded) deadline urgency.
    """
    created_hours = task.created_at.timestamp() / 3600.0
    return PRIORITY_WEIGHT[task.priority] - AGE_POINTS_PER_HOUR * created_hours


@dataclass
class Problem:
    """An entry on the branch that could not be read; reported, never fatal.

    ``collection`` and ``key`` say which record the file was meant to be (when its name tells), so that an id
    whose file is unreadable is never reused. ``path`` and ``reason`` are kept as they are (a name on the branch
    can hold any bytes, escape sequences included): whoever prints them makes them terminal-safe.
    """

    path: str
    reason: str
    collection: str | None = None
    key: str | None = None


@dataclass
class State:
    """Everything on the branch at one commit, indexed for scheduling."""

    meta: Meta = field(default_factory=Meta)
    #: ``config.json``: modes, limits, GitHub settings (the defaults when the file is missing or unreadable).
    config: BranchConfig = field(default_factory=BranchConfig)
    tasks: dict[str, Task] = field(default_factory=dict)
    runners: dict[str, Runner] = field(default_factory=dict)
    #: Records of the other collections, by collection directory, then key.
    records: dict[str, dict[str, object]] = field(default_factory=dict)
    #: Unreadable entries by path.
    problems: dict[str, Problem] = field(default_factory=dict)
    #: Tasks moved to the archive by ``coordinator gc``, by id (from ``archive/index/``): their ids stay taken.
    archived: dict[str, Archived] = field(default_factory=dict)
    #: Counts, latest results and daily spend for STATUS.md, kept up to date by put_task/remove_task.
    dashboard: DashboardIndex = field(default_factory=DashboardIndex)
    # Indexes, maintained by put_task/remove_task only. Queued tasks without a deadline are kept in exactly the
    # scheduler's order, (-static_key, created, id), so the first claimable one is the best of them; tasks with a
    # deadline can gain urgency points over time, so they sit apart and are scanned with a bound.
    _queued: list[QueueEntry] = field(default_factory=list)
    _queued_deadline: list[QueueEntry] = field(default_factory=list)
    _queued_keys: dict[str, QueueEntry] = field(default_factory=dict)
    _running: set[str] = field(default_factory=set)
    _blocked: set[str] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        tasks: Iterable[Task] = (),
        runners: Iterable[Runner] = (),
        meta: Meta | None = None,
        modes: ModesConfig | None = None,
    ) -> State:
        """A state holding these tasks and runners."""
        state = cls(meta=meta or Meta(), config=BranchConfig(modes=modes or ModesConfig()))
        for task in tasks:
            state.put_task(task)
        for runner in runners:
            state.runners[runner.name] = runner
        return state

    # --- the settings of config.json ---

    @property
    def modes(self) -> ModesConfig:
        """The modes (``modes`` in ``config.json``)."""
        return self.config.modes

    @modes.setter
    def modes(self, value: ModesConfig) -> None:
        self.config = self.config.model_copy(update={"modes": value})

    @property
    def limits(self) -> Limits:
        """Bounds on what a task may hold (``limits`` in ``config.json``)."""
        return self.config.limits

    @limits.setter
    def limits(self, value: Limits) -> None:
        self.config = self.config.model_copy(update={"limits": value})

    @property
    def github(self) -> GitHubConfig:
        """How issues become tasks (``github`` in ``config.json``)."""
        return self.config.github

    # --- updates (store and tests only; transitions never mutate a State) ---

    def put_task(self, task: Task) -> None:
        """Insert or replace a task, keeping the indexes right."""
        self.remove_task(task.id)
        self.tasks[task.id] = task
        self.dashboard.add(task)
        if task.status == TaskStatus.QUEUED:
            entry = (-static_key(task), task.created_at.timestamp(), task.id)
            bisect.insort(self._queued_deadline if task.deadline else self._queued, entry)
            self._queued_keys[task.id] = entry
        elif task.status == TaskStatus.RUNNING:
            self._running.add(task.id)
        elif task.status == TaskStatus.BLOCKED:
            self._blocked.add(task.id)

    def remove_task(self, task_id: str) -> None:
        """Forget a task (deleted file, or before replacing it)."""
        task = self.tasks.pop(task_id, None)
        if task is None:
            return
        self.dashboard.remove(task)
        entry = self._queued_keys.pop(task_id, None)
        if entry is not None:
            queue = self._queued_deadline if task.deadline else self._queued
            index = bisect.bisect_left(queue, entry)
            if index < len(queue) and queue[index] == entry:
                del queue[index]
        self._running.discard(task_id)
        self._blocked.discard(task_id)

    def put_record(self, collection: str, key: str, record: object) -> None:
        """Insert or replace a record of any collection (tasks keep their indexes)."""
        if collection == "tasks":
            assert isinstance(record, Task)
            self.put_task(record)
        elif collection == "runners":
            assert isinstance(record, Runner)
            self.runners[key] = record
        else:
            self.records.setdefault(collection, {})[key] = record

    def remove_record(self, collection: str, key: str) -> None:
        """Forget a record of any collection."""
        if collection == "tasks":
            self.remove_task(key)
        elif collection == "runners":
            self.runners.pop(key, None)
        else:
            self.records.get(collection, {}).pop(key, None)

    # --- queries ---

    def problem_for(self, collection: str, key: str) -> Problem | None:
        """The problem of the file that was meant to hold this record, if it is unreadable."""
        for problem in self.problems.values():
            if problem.collection == collection and problem.key == key:
                return problem
        return None

    def queued_without_deadline(self) -> Iterator[tuple[QueueEntry, Task]]:
        """Queued tasks that have no deadline, in claim order (best first), with their index entry."""
        for entry in self._queued:
            yield entry, self.tasks[entry[2]]

    def queued_with_deadline(self) -> Iterator[tuple[QueueEntry, Task]]:
        """Queued tasks that have a deadline, best static key first, with their index entry."""
        for entry in self._queued_deadline:
            yield entry, self.tasks[entry[2]]

    def running_tasks(self) -> list[Task]:
        """Tasks currently leased."""
        return [self.tasks[task_id] for task_id in sorted(self._running)]

    def blocked_tasks(self) -> list[Task]:
        """Tasks waiting for dependencies."""
        return [self.tasks[task_id] for task_id in sorted(self._blocked)]

    def counts(self) -> dict[TaskStatus, int]:
        """Number of tasks in each status."""
        counts = dict.fromkeys(TaskStatus, 0)
        for task in self.tasks.values():
            counts[task.status] += 1
        return counts
