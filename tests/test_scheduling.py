"""Scheduling: the score formula, claim order and its tie-breaks, eligibility, and ``pick_next`` against a
brute-force reference (``rank``) on random states."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from core_helpers import NOW, build, hours, make_attempts, make_running, make_task, minutes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator.core.scheduling import deadline_urgency, pick_next, rank, score
from coordinator.core.state import State
from coordinator.models import Attempt, AttemptOutcome, Lease, Priority, Task, TaskStatus

# --------------------------------------------------------------------------------------------- the score


@pytest.mark.parametrize(
    ("priority", "weight"),
    [(Priority.CRITICAL, 100), (Priority.HIGH, 75), (Priority.MEDIUM, 50), (Priority.LOW, 25)],
)
def test_priority_weight_is_the_whole_score_of_a_fresh_task(priority: Priority, weight: int) -> None:
    task = make_task(priority=priority, created_at=NOW)
    assert score(task, NOW) == pytest.approx(weight)


@pytest.mark.parametrize(
    ("waited", "points"),
    [(timedelta(0), 0), (hours(1), 10), (minutes(90), 15), (hours(3), 30), (hours(24), 240), (minutes(6), 1)],
)
def test_ten_points_per_hour_waited(waited: timedelta, points: float) -> None:
    task = make_task(priority=Priority.MEDIUM, created_at=NOW - waited)
    assert score(task, NOW) == pytest.approx(50 + points)


@pytest.mark.parametrize(
    ("due_in", "bonus"),
    [
        (None, 0),
        (minutes(30), 50),
        (minutes(59) + timedelta(seconds=59), 50),
        (timedelta(0), 50),  # due right now
        (-hours(5), 50),  # overdue
        (-timedelta(days=30), 50),
        (hours(1), 25),  # exactly one hour left is no longer "under 1 h"
        (hours(2), 25),
        (hours(4) - timedelta(seconds=1), 25),
        (hours(4), 0),  # exactly four hours left is no longer "under 4 h"
        (hours(10), 0),
    ],
)
def test_deadline_urgency(due_in: timedelta | None, bonus: float) -> None:
    deadline = None if due_in is None else NOW + due_in
    task = make_task(priority=Priority.LOW, created_at=NOW, deadline=deadline)
    assert deadline_urgency(task, NOW) == bonus
    assert score(task, NOW) == pytest.approx(25 + bonus)


def test_score_adds_priority_deadline_and_age() -> None:
    task = make_task(priority=Priority.HIGH, created_at=NOW - hours(2), deadline=NOW + hours(2))
    assert score(task, NOW) == pytest.approx(75 + 25 + 20)
    # Three hours later the deadline is overdue and five hours have been waited.
    assert score(task, NOW + hours(3)) == pytest.approx(75 + 50 + 50)


def test_score_is_independent_of_status_and_attempts() -> None:
    base = make_task(priority=Priority.CRITICAL, created_at=NOW - hours(1))
    other = make_task(
        priority=Priority.CRITICAL,
        created_at=NOW - hours(1),
        status=TaskStatus.BLOCKED,
        attempts=make_attempts((AttemptOutcome.FAILED, True)),
    )
    assert score(base, NOW) == pytest.approx(score(other, NOW)) == pytest.approx(110)


# ----------------------------------------------------------------------------------------- claim order


def order(state: State, capabilities: tuple[str, ...] = (), now: datetime = NOW) -> list[str]:
    return [r.task.id for r in rank(state, capabilities=capabilities, now=now)]


def test_higher_priority_first_at_equal_age() -> None:
    state = build(
        [
            make_task("low", priority=Priority.LOW),
            make_task("critical", priority=Priority.CRITICAL),
            make_task("medium", priority=Priority.MEDIUM),
            make_task("high", priority=Priority.HIGH),
        ]
    )
    assert order(state) == ["critical", "high", "medium", "low"]
    picked = pick_next(state, capabilities=(), now=NOW)
    assert picked is not None
    assert picked.id == "critical"


def test_waiting_long_enough_beats_priority() -> None:
    state = build(
        [
            make_task("fresh-critical", priority=Priority.CRITICAL, created_at=NOW),
            make_task("old-low", priority=Priority.LOW, created_at=NOW - hours(8)),  # 25 + 80 = 105
        ]
    )
    assert order(state) == ["old-low", "fresh-critical"]
    assert pick_next(state, capabilities=(), now=NOW).id == "old-low"  # type: ignore[union-attr]


def test_close_deadline_beats_priority() -> None:
    state = build(
        [
            make_task("high", priority=Priority.HIGH),  # 75
            make_task("medium-due", priority=Priority.MEDIUM, deadline=NOW + minutes(30)),  # 100
            make_task("low-due-soon", priority=Priority.LOW, deadline=NOW + hours(3)),  # 50
        ]
    )
    assert order(state) == ["medium-due", "high", "low-due-soon"]


def test_tie_goes_to_the_older_task() -> None:
    # medium waited 2.5 h: 50 + 25 = 75, the same as a fresh high task; the older one goes first even though
    # its id sorts later.
    older = make_task("task-b", priority=Priority.MEDIUM, created_at=NOW - minutes(150))
    newer = make_task("task-a", priority=Priority.HIGH, created_at=NOW)
    state = build([newer, older])
    ranked = rank(state, capabilities=(), now=NOW)
    assert ranked[0].score == pytest.approx(ranked[1].score)
    assert [r.task.id for r in ranked] == ["task-b", "task-a"]
    assert pick_next(state, capabilities=(), now=NOW).id == "task-b"  # type: ignore[union-attr]


def test_tie_with_same_age_goes_to_the_smaller_id() -> None:
    state = build([make_task("task-b"), make_task("task-c"), make_task("task-a")])
    assert order(state) == ["task-a", "task-b", "task-c"]
    assert pick_next(state, capabilities=(), now=NOW).id == "task-a"  # type: ignore[union-attr]


def test_rank_lists_only_queued_tasks_with_scores_and_reasons() -> None:
    state = build(
        [
            make_task("queued-1", priority=Priority.HIGH),
            make_task("queued-gpu", priority=Priority.CRITICAL, requires=["gpu"]),
            make_task("blocked", status=TaskStatus.BLOCKED),
            make_running("running"),
            make_task("done", status=TaskStatus.SUCCEEDED),
            make_task("failed", status=TaskStatus.FAILED),
            make_task("cancelled", status=TaskStatus.CANCELLED),
        ]
    )
    ranked = rank(state, capabilities=(), now=NOW)
    assert [(r.task.id, r.score, r.blocked_by) for r in ranked] == [
        ("queued-gpu", pytest.approx(100), "needs capabilities gpu"),
        ("queued-1", pytest.approx(75), None),
    ]


def test_order_changes_with_now() -> None:
    # A low task with a deadline in 5 h: at NOW it loses to a medium task, 2 h later the deadline lifts it.
    state = build(
        [
            make_task("medium", priority=Priority.MEDIUM, created_at=NOW),
            make_task("low-due", priority=Priority.LOW, created_at=NOW, deadline=NOW + hours(5)),
        ]
    )
    assert pick_next(state, capabilities=(), now=NOW).id == "medium"  # type: ignore[union-attr]
    assert pick_next(state, capabilities=(), now=NOW + hours(2)).id == "low-due"  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------- eligibility


@pytest.mark.parametrize(
    ("requires", "capabilities", "claimable"),
    [
        ([], [], True),
        ([], ["gpu"], True),
        (["gpu"], [], False),
        (["gpu"], ["gpu"], True),
        (["gpu"], ["linux", "gpu"], True),
        (["gpu", "linux"], ["gpu"], False),
        (["gpu", "linux"], ["linux", "gpu", "mac"], True),
    ],
)
def test_required_capabilities_must_be_a_subset(requires: list[str], capabilities: list[str], claimable: bool) -> None:
    state = build([make_task(requires=requires)])
    picked = pick_next(state, capabilities=capabilities, now=NOW)
    assert (picked is not None) is claimable
    [ranked] = rank(state, capabilities=capabilities, now=NOW)
    assert (ranked.blocked_by is None) is claimable
    if not claimable:
        assert ranked.blocked_by is not None
        assert ranked.blocked_by.startswith("needs capabilities")


def test_a_capable_runner_takes_the_best_task_it_can_run() -> None:
    state = build(
        [
            make_task("gpu-critical", priority=Priority.CRITICAL, requires=["gpu"]),
            make_task("plain-low", priority=Priority.LOW),
        ]
    )
    assert pick_next(state, capabilities=["gpu"], now=NOW).id == "gpu-critical"  # type: ignore[union-attr]
    assert pick_next(state, capabilities=["linux"], now=NOW).id == "plain-low"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "dep_status",
    [TaskStatus.QUEUED, TaskStatus.BLOCKED, TaskStatus.RUNNING, TaskStatus.FAILED, TaskStatus.CANCELLED],
)
def test_dependencies_must_all_have_succeeded(dep_status: TaskStatus) -> None:
    dep = make_running("dep") if dep_status == TaskStatus.RUNNING else make_task("dep", status=dep_status)
    ok = make_task("ok", status=TaskStatus.SUCCEEDED)
    state = build([dep, ok, make_task("child", priority=Priority.CRITICAL, depends_on=["ok", "dep"])])
    [child] = [r for r in rank(state, capabilities=(), now=NOW) if r.task.id == "child"]
    assert child.blocked_by == "waits for dep"
    picked = pick_next(state, capabilities=(), now=NOW)
    assert picked is None or picked.id != "child"

    state.put_task(dep.model_copy(update={"status": TaskStatus.SUCCEEDED, "lease": None}))
    assert pick_next(state, capabilities=(), now=NOW).id == "child"  # type: ignore[union-attr]


def test_unknown_dependency_is_never_satisfied() -> None:
    state = build([make_task("child", depends_on=["ghost"])])
    assert pick_next(state, capabilities=(), now=NOW) is None
    assert rank(state, capabilities=(), now=NOW)[0].blocked_by == "waits for ghost"


def test_no_attempts_left_this_round() -> None:
    spent = make_task(
        "spent",
        priority=Priority.CRITICAL,
        max_attempts=2,
        attempts=make_attempts((AttemptOutcome.FAILED, True), (AttemptOutcome.LEASE_EXPIRED, True)),
    )
    state = build([spent, make_task("other", priority=Priority.LOW)])
    assert rank(state, capabilities=(), now=NOW)[0].blocked_by == "no attempts left"
    assert pick_next(state, capabilities=(), now=NOW).id == "other"  # type: ignore[union-attr]


def test_uncounted_attempts_and_earlier_rounds_leave_the_budget() -> None:
    released = make_task(
        "released",
        max_attempts=1,
        attempts=make_attempts((AttemptOutcome.RELEASED, False), (AttemptOutcome.RELEASED, False)),
    )
    retried = make_task(
        "retried",
        max_attempts=1,
        round=1,
        attempts=make_attempts((AttemptOutcome.FAILED, True), round_=0),
    )
    for task in (released, retried):
        assert task.attempts_left() == 1
        assert pick_next(build([task]), capabilities=(), now=NOW) is not None


def test_one_running_task_per_group() -> None:
    state = build(
        [
            make_running("running", group="issue-7"),
            make_task("same-group", priority=Priority.CRITICAL, group="issue-7"),
            make_task("other-group", priority=Priority.HIGH, group="issue-8"),
            make_task("no-group", priority=Priority.LOW),
        ]
    )
    ranked = {r.task.id: r.blocked_by for r in rank(state, capabilities=(), now=NOW)}
    assert ranked == {"same-group": "another task of issue-7 is running", "other-group": None, "no-group": None}
    assert pick_next(state, capabilities=(), now=NOW).id == "other-group"  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.BLOCKED])
def test_only_a_running_task_makes_its_group_busy(status: TaskStatus) -> None:
    state = build(
        [
            make_task("sibling", status=status, group="g", priority=Priority.LOW, created_at=NOW - hours(1)),
            make_task("candidate", priority=Priority.CRITICAL, group="g"),
        ]
    )
    assert pick_next(state, capabilities=(), now=NOW).id == "candidate"  # type: ignore[union-attr]


def test_changed_overlay_frees_a_group_and_adds_candidates() -> None:
    running = make_running("running", group="g")
    waiting = make_task("waiting", priority=Priority.HIGH, group="g")
    state = build([running, waiting])
    assert pick_next(state, capabilities=(), now=NOW) is None

    requeued = running.model_copy(update={"status": TaskStatus.QUEUED, "lease": None})
    # The requeued task is older than nothing here (same created_at) but medium < high: "waiting" wins.
    picked = pick_next(state, capabilities=(), now=NOW, changed={"running": requeued})
    assert picked is not None
    assert picked.id == "waiting"
    # A changed task that became running makes its group busy.
    claimed = waiting.model_copy(update={"status": TaskStatus.RUNNING})
    picked = pick_next(state, capabilities=(), now=NOW, changed={"running": requeued, "waiting": claimed})
    assert picked is None


def test_changed_overlay_satisfies_a_dependency() -> None:
    dep = make_running("dep")
    child = make_task("child", depends_on=["dep"])
    state = build([dep, child])
    assert pick_next(state, capabilities=(), now=NOW) is None
    done = dep.model_copy(update={"status": TaskStatus.SUCCEEDED, "lease": None})
    assert pick_next(state, capabilities=(), now=NOW, changed={"dep": done}).id == "child"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "tasks",
    [
        [],
        [make_running("r")],
        [make_task("b", status=TaskStatus.BLOCKED)],
        [make_task(f"t-{s.value}", status=s) for s in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)],
        [make_task("gpu", requires=["gpu"])],
        [make_task("dep", status=TaskStatus.FAILED), make_task("child", depends_on=["dep"])],
        [make_task("spent", max_attempts=1, attempts=make_attempts((AttemptOutcome.FAILED, True)))],
        [make_running("r", group="g"), make_task("q", group="g")],
    ],
    ids=["empty", "running", "blocked", "terminal", "capability", "dependency", "budget", "group"],
)
def test_pick_next_returns_none_when_nothing_is_claimable(tasks: list[Task]) -> None:
    state = build(tasks)
    assert pick_next(state, capabilities=("linux",), now=NOW) is None
    assert all(r.blocked_by is not None for r in rank(state, capabilities=("linux",), now=NOW))


def test_blocked_status_is_not_claimable_even_with_dependencies_met() -> None:
    # Only the transitions move a task from blocked to queued; scheduling takes queued tasks only.
    state = build([make_task("dep", status=TaskStatus.SUCCEEDED), make_task("b", status=TaskStatus.BLOCKED)])
    assert pick_next(state, capabilities=(), now=NOW) is None


def test_pick_next_far_down_the_queue() -> None:
    # Many better tasks are ineligible; the scan must not stop before the one eligible task.
    tasks = [make_task(f"gpu-{i:03d}", priority=Priority.CRITICAL, requires=["gpu"]) for i in range(200)]
    tasks.append(make_task("plain", priority=Priority.LOW, created_at=NOW + hours(1)))
    state = build(tasks)
    assert pick_next(state, capabilities=(), now=NOW).id == "plain"  # type: ignore[union-attr]
    assert pick_next(state, capabilities=("gpu",), now=NOW).id == "gpu-000"  # type: ignore[union-attr]


# ------------------------------------------------------------------------ property: pick_next == brute force

BASE = NOW
IDS = [f"t{i}" for i in range(10)]
CAPS = ["gpu", "linux", "mac"]
GROUPS = [None, "g1", "g2"]


def half_hours(lo: int, hi: int) -> st.SearchStrategy[datetime]:
    # Coarse times make equal scores (and the tie-breaks) common; the odd seconds make near-ties.
    return st.builds(
        lambda h, s: BASE + timedelta(minutes=30 * h, seconds=s),
        st.integers(lo, hi),
        st.sampled_from([0, 0, 0, 1, 1799]),
    )


@st.composite
def tasks_strategy(draw: st.DrawFn, task_id: str, ids: list[str]) -> Task:
    status = draw(st.sampled_from(list(TaskStatus)))
    created = draw(half_hours(-200, 20))
    max_attempts = draw(st.integers(1, 3))
    round_ = draw(st.integers(0, 1))
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from([AttemptOutcome.FAILED, AttemptOutcome.LEASE_EXPIRED, AttemptOutcome.RELEASED]),
                st.booleans(),
                st.integers(0, round_),
            ),
            max_size=4,
        )
    )
    attempts = [
        Attempt(number=i + 1, round=r, runner="runner-x", mode="simple", outcome=outcome, counted=counted)
        for i, (outcome, counted, r) in enumerate(specs)
    ]
    lease = None
    if status == TaskStatus.RUNNING:
        number = len(attempts) + 1
        attempts.append(Attempt(number=number, round=round_, runner="runner-x", mode="simple"))
        lease = Lease(runner="runner-x", attempt=number, acquired_at=created, expires_at=created + hours(1))
    return Task(
        id=task_id,
        title="t",
        priority=draw(st.sampled_from(list(Priority))),
        created_at=created,
        updated_at=created,
        deadline=draw(st.none() | half_hours(-20, 40)),
        status=status,
        requires=draw(st.lists(st.sampled_from(CAPS), unique=True, max_size=2)),
        depends_on=draw(st.lists(st.sampled_from([*ids, "ghost"]), unique=True, max_size=3)),
        group=draw(st.sampled_from(GROUPS)),
        max_attempts=max_attempts,
        round=round_,
        attempts=attempts,
        lease=lease,
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Task], dict[str, Task], list[str], datetime]:
    n = draw(st.integers(0, len(IDS)))
    ids = IDS[:n]
    tasks = [draw(tasks_strategy(task_id, ids)) for task_id in ids]
    # The overlay: some tasks replaced by other versions, plus a few new ones (as a transition would).
    changed: dict[str, Task] = {}
    for task_id in draw(st.lists(st.sampled_from(ids), unique=True, max_size=n)) if ids else []:
        changed[task_id] = draw(tasks_strategy(task_id, ids))
    for task_id in draw(st.lists(st.sampled_from(["n1", "n2"]), unique=True, max_size=2)):
        changed[task_id] = draw(tasks_strategy(task_id, ids))
    capabilities = draw(st.lists(st.sampled_from(CAPS), unique=True))
    now = draw(half_hours(-10, 60))
    return tasks, changed, capabilities, now


def brute_force(state: State, capabilities: list[str], now: datetime) -> str | None:
    ranked = rank(state, capabilities=capabilities, now=now)
    return next((r.task.id for r in ranked if r.blocked_by is None), None)


def eligible_by_definition(task: Task, state: State, capabilities: list[str]) -> bool:
    """The documented rules, written independently of ``why_not_claimable``."""
    busy = {t.group for t in state.tasks.values() if t.status == TaskStatus.RUNNING and t.group}
    counted = sum(1 for a in task.attempts if a.round == task.round and a.counted)
    return (
        task.status == TaskStatus.QUEUED
        and set(task.requires) <= set(capabilities)
        and all(d in state.tasks and state.tasks[d].status == TaskStatus.SUCCEEDED for d in task.depends_on)
        and counted < task.max_attempts
        and not (task.group and task.group in busy)
    )


def expected_score(task: Task, now: datetime) -> float:
    weight = {Priority.CRITICAL: 100, Priority.HIGH: 75, Priority.MEDIUM: 50, Priority.LOW: 25}[task.priority]
    urgency = 0
    if task.deadline is not None:
        left = task.deadline - now
        urgency = 50 if left < hours(1) else 25 if left < hours(4) else 0
    return weight + urgency + 10 * (now - task.created_at).total_seconds() / 3600


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_pick_next_equals_the_best_of_rank(scenario: tuple[list[Task], dict[str, Task], list[str], datetime]) -> None:
    tasks, changed, capabilities, now = scenario
    state = State.build(tasks)

    # Without the overlay.
    picked = pick_next(state, capabilities=capabilities, now=now)
    assert (picked.id if picked else None) == brute_force(state, capabilities, now)

    # rank itself follows the documented formula, order and rules.
    ranked = rank(state, capabilities=capabilities, now=now)
    assert {r.task.id for r in ranked} == {t.id for t in tasks if t.status == TaskStatus.QUEUED}
    for r in ranked:
        assert r.score == pytest.approx(expected_score(r.task, now), abs=1e-6)
        assert (r.blocked_by is None) == eligible_by_definition(r.task, state, capabilities)
    for a, b in itertools.pairwise(ranked):
        if abs(a.score - b.score) > 1e-6:
            assert a.score > b.score
        else:  # a tie: older first, then the smaller id
            assert (a.task.created_at, a.task.id) < (b.task.created_at, b.task.id)

    # With the overlay: the same answer as on the state with the changes applied.
    picked = pick_next(state, capabilities=capabilities, now=now, changed=changed)
    applied = State.build([*(t for t in tasks if t.id not in changed), *changed.values()])
    assert (picked.id if picked else None) == brute_force(applied, capabilities, now)
    if picked is not None:
        assert picked == applied.tasks[picked.id]
