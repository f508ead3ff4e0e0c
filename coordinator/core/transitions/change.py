"""What a transition returns (a ``Change``: files to write or delete in one commit) and the draft it builds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from coordinator.core.deliveries import mark_deliveries
from coordinator.core.state import State
from coordinator.core.transitions.plan_github import plans_told_of
from coordinator.errors import TaskNotFound, UsageError
from coordinator.models import BranchConfig, Meta, Runner, StateModel, Task
from coordinator.modes import ModesConfig

_TITLE_IN_MESSAGE = 60


@dataclass(frozen=True)
class Change:
    """Files to write in one commit, the commit message, and the task the caller asked about."""

    message: str
    tasks: tuple[Task, ...] = ()
    runners: tuple[Runner, ...] = ()
    meta: Meta | None = None
    task: Task | None = None
    config: BranchConfig | None = None
    #: Records of the other collections (locks, schedules, ...), written to where their type belongs.
    records: tuple[StateModel, ...] = ()
    #: Records to delete: (collection directory, key), e.g. ("tasks", "task-7").
    deletes: tuple[tuple[str, str], ...] = ()
    #: Why a claim leased nothing although tasks may wait (the daily budget is spent); None otherwise.
    refused: str | None = None
    #: Files written as they are, by path (the archive's packs and index shards).
    files: tuple[tuple[str, bytes], ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing needs committing."""
        return (
            not (self.tasks or self.runners or self.records or self.deletes or self.files)
            and self.meta is None
            and (self.config is None)
        )


@dataclass
class Draft:
    """Tasks changed so far by one transition, in order, and the lines of its commit message."""

    state: State
    changed: dict[str, Task] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def get(self, task_id: str) -> Task:
        task = self.changed.get(task_id) or self.state.tasks.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    def put(self, task: Task) -> None:
        self.changed[task.id] = task

    def change(self, *, task: Task | None = None, runners: tuple[Runner, ...] = (), meta: Meta | None = None) -> Change:
        """The change, with the GitHub deliveries each changed task now needs marked pending on it (so every
        transition, whoever runs it, leaves GitHub something to be told)."""
        ended = [t for t in self.changed.values() if t.is_terminal]
        if ended:  # a task that ended may let its dependents go on, or stop them for good
            from coordinator.core.transitions.dependencies import settle_dependents

            settle_dependents(self, max(t.updated_at for t in ended))
        for plan in plans_told_of(self.state, self.changed):  # a subtask shows in its plan's tracking comment
            self.changed[plan.id] = plan
        config = self.state.github
        tasks = tuple(mark_deliveries(self.state.tasks.get(t.id), t, config) for t in self.changed.values())
        if task is not None:
            task = next((t for t in tasks if t.id == task.id), task)
        return Change(message="; ".join(self.lines), tasks=tasks, runners=runners, meta=meta, task=task)


#: A pure transition: the state and the time in, the change to commit out. The store calls it again on a newer
#: state when another writer won the race.
Transition = Callable[[State, datetime], Change]


def short(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= _TITLE_IN_MESSAGE else title[: _TITLE_IN_MESSAGE - 1] + "…"


def validated(validate: Callable[[], str]) -> str:
    try:
        return validate()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def require_mode(modes: ModesConfig, name: str) -> str:
    """``name`` if it is a configured mode, else a ``UsageError`` listing the modes there are."""
    if name not in modes.modes:
        raise UsageError(f"unknown mode '{name}': use one of {', '.join(sorted(modes.modes))}")
    return name
