"""Which task a runner should take next: eligibility rules and the score. Pure functions of (state, now).

score = priority weight (critical 100, high 75, medium 50, low 25)
      + deadline urgency (+50 when due within 1 h or overdue, +25 within 4 h)
      + age (10 points per hour waited).
Ties go to the older task, then the smaller id, so every runner agrees on the order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from coordinator.core.state import AGE_POINTS_PER_HOUR, State, static_key
from coordinator.models import GITHUB_CAPABILITY, NamedLock, Runner, RunnerState, Task, TaskStatus
from coordinator.modes import ModesConfig, permission_rank

MAX_URGENCY = 50.0
_GONE = (RunnerState.STOPPED, RunnerState.STOPPING, RunnerState.MISCONFIGURED, RunnerState.FAULTY)
_EPSILON = 1e-6


def deadline_urgency(task: Task, now: datetime) -> float:
    """Extra points for a deadline that is close (or already past)."""
    if task.deadline is None:
        return 0.0
    left = task.deadline - now
    if left < timedelta(hours=1):
        return MAX_URGENCY
    if left < timedelta(hours=4):
        return 25.0
    return 0.0


def score(task: Task, now: datetime) -> float:
    """The task's score at ``now``; higher runs first."""
    return static_key(task) + AGE_POINTS_PER_HOUR * now.timestamp() / 3600.0 + deadline_urgency(task, now)


def _order_key(task: Task, now: datetime) -> tuple[float, float, str]:
    return (-score(task, now), task.created_at.timestamp(), task.id)


def busy_locks(state: State, running: Iterable[Task], now: datetime) -> set[str]:
    """Named locks taken now: by running tasks, or held by a person or script and not expired."""
    held = {n for n, r in state.records.get("locks", {}).items() if isinstance(r, NamedLock) and r.expires_at > now}
    return held | {name for task in running if task.status == TaskStatus.RUNNING for name in task.locks}


def running_groups(tasks: Iterable[Task]) -> set[str]:
    """Groups that already have a running task."""
    return {t.group for t in tasks if t.status == TaskStatus.RUNNING and t.group}


def permission_refusal(task: Task, modes: ModesConfig, max_permission_mode: str | None) -> str | None:
    """Why a runner allowing at most ``max_permission_mode`` (None: any) must not run ``task``'s mode."""
    mode = modes.modes.get(task.mode)
    if max_permission_mode is None or mode is None:
        return None
    wanted, ceiling = permission_rank(mode.permission_mode), permission_rank(max_permission_mode)
    if wanted is None or ceiling is None or wanted > ceiling:
        return (
            f"mode {task.mode} needs permission_mode {mode.permission_mode}, beyond max_permission_mode "
            f"{max_permission_mode}"
        )
    return None


def why_not_claimable(
    task: Task,
    *,
    capabilities: Collection[str],
    lookup: Mapping[str, Task],
    busy_groups: Collection[str],
    modes: ModesConfig | None = None,
    max_permission_mode: str | None = None,
    runner: str | None = None,
    now: datetime | None = None,
    runners: Mapping[str, Runner] | None = None,
    locks: Collection[str] = (),
) -> str | None:
    """Why ``task`` cannot be claimed by a runner with ``capabilities`` that allows at most
    ``max_permission_mode`` (None: any), or None when it can. ``runner`` (its name), ``now`` and ``runners``
    (the heartbeats) let a task whose session another live runner can resume wait for that runner a while."""
    if task.status != TaskStatus.QUEUED:
        return f"status is {task.status.value}"
    if task.github is not None and GITHUB_CAPABILITY not in capabilities:
        return "comes from a GitHub issue: only runners with a GitHub token (COORDINATOR_GITHUB_TOKEN) take it"
    missing = [cap for cap in task.requires if cap not in capabilities]
    if missing:
        return f"needs capabilities {', '.join(missing)}"
    refusal = permission_refusal(task, modes, max_permission_mode) if modes is not None else None
    if refusal is not None:
        return refusal
    for dep_id in task.depends_on:
        dep = lookup.get(dep_id)
        if dep is None or not dep.frees_dependents:
            return f"waits for {dep_id}"
    if task.attempts_left() <= 0:
        return "no attempts left"
    if task.group and task.group in busy_groups:
        return f"another task of {task.group} is running"
    if task.runner is not None and runner is not None and task.runner != runner:
        return f"is for runner {task.runner}"
    taken = [name for name in task.locks if name in locks]
    if taken:
        return f"waits for lock {', '.join(taken)} (see 'coordinator lock list')"
    if task.resume is not None and runner is not None and now is not None:
        keeper = (runners or {}).get(task.resume.runner)
        alive = keeper is not None and keeper.state not in _GONE and not keeper.is_silent(now)
        return kept_for_another(task, runner, now, alive=alive)
    return None


def kept_for_another(task: Task, runner: str, now: datetime, *, alive: bool = True) -> str | None:
    """Why ``runner`` should leave ``task`` alone for now: it is kept for the runner that can resume its session
    (while that runner is ``alive`` and the window lasts); None when ``runner`` may take it."""
    keep = task.resume
    if keep is None or keep.runner == runner or now >= keep.until or not alive:
        return None
    return f"kept for runner {keep.runner} until {keep.until:%H:%M:%S} UTC to resume its session"


class _Overlay(Mapping[str, Task]):
    """The state's tasks with a few replaced (changes not committed yet)."""

    def __init__(self, base: Mapping[str, Task], changed: Mapping[str, Task]) -> None:
        self._base = base
        self._changed = changed

    def __getitem__(self, key: str) -> Task:
        if key in self._changed:
            return self._changed[key]
        return self._base[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self._changed
        yield from (k for k in self._base if k not in self._changed)

    def __len__(self) -> int:
        return len(self._base) + sum(1 for k in self._changed if k not in self._base)


def pick_next(
    state: State,
    *,
    capabilities: Collection[str],
    now: datetime,
    changed: Mapping[str, Task] | None = None,
    max_permission_mode: str | None = None,
    refused: list[Task] | None = None,
    runner: str | None = None,
) -> Task | None:
    """The best task a runner with ``capabilities`` (allowing at most ``max_permission_mode``) may claim now.

    ``changed`` holds tasks already modified by the transition being computed (e.g. expired leases put back in
    the queue). Without a deadline, the state's queue is already in claim order, so the first claimable task
    there is the best of them; tasks with a deadline are scanned best-first until none can beat the best found.
    Tasks passed over only because their mode is beyond ``max_permission_mode`` are appended to ``refused``.
    """
    changed = changed or {}
    lookup: Mapping[str, Task] = _Overlay(state.tasks, changed) if changed else state.tasks
    running = [lookup[t] for t in state._running] + [t for t in changed.values() if t.status == TaskStatus.RUNNING]
    busy = running_groups(running)
    age_now = AGE_POINTS_PER_HOUR * now.timestamp() / 3600.0

    best: Task | None = None
    best_key: tuple[float, float, str] | None = None

    judge = partial(
        why_not_claimable, lookup=lookup, busy_groups=busy, modes=state.modes, now=now, runners=state.runners
    )
    judge = partial(judge, locks=busy_locks(state, running, now))
    judge = partial(judge, capabilities=capabilities, max_permission_mode=max_permission_mode, runner=runner)

    def claimable(task: Task) -> bool:
        why = judge(task)
        if why is not None and refused is not None and permission_refusal(task, state.modes, max_permission_mode):
            refused.append(task)
        return why is None

    def offer(task: Task, key: tuple[float, float, str]) -> None:
        nonlocal best, best_key
        if best_key is None or key < best_key:
            best, best_key = task, key

    for task in changed.values():
        if claimable(task):
            offer(task, _order_key(task, now))
    for (neg_key, created, task_id), task in state.queued_without_deadline():
        key = (neg_key - age_now, created, task_id)
        if best_key is not None and key >= best_key:
            break
        if task_id not in changed and claimable(task):
            offer(task, key)
            break  # the first claimable one is the best without a deadline
    for (neg_key, _, task_id), task in state.queued_with_deadline():
        if best_key is not None and -neg_key + age_now + MAX_URGENCY < -best_key[0] - _EPSILON:
            break  # nothing further down can reach the best score, even when due now
        if task_id not in changed and claimable(task):
            offer(task, _order_key(task, now))
    return best


@dataclass(frozen=True)
class Ranked:
    """A queued task with its score and, if it cannot be claimed, why."""

    task: Task
    score: float
    blocked_by: str | None


def rank(
    state: State,
    *,
    capabilities: Collection[str],
    now: datetime,
    max_permission_mode: str | None = None,
    runner: str | None = None,
) -> list[Ranked]:
    """Every queued task in claim order with the reason it is not claimable (for --dry-run and checks)."""
    busy = running_groups(state.running_tasks())
    taken = busy_locks(state, state.running_tasks(), now)
    queued = [t for t in state.tasks.values() if t.status == TaskStatus.QUEUED]
    queued.sort(key=lambda t: _order_key(t, now))
    return [
        Ranked(
            task=t,
            score=score(t, now),
            blocked_by=why_not_claimable(
                t,
                capabilities=capabilities,
                lookup=state.tasks,
                busy_groups=busy,
                modes=state.modes,
                max_permission_mode=max_permission_mode,
                runner=runner,
                now=now,
                runners=state.runners,
                locks=taken,
            ),
        )
        for t in queued
    ]
