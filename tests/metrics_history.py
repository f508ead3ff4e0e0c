"""A recorded history built by hand, whose metrics the tests compute by hand (the figures are in the comments).

Prices of the built-in table (USD per million tokens, input/output): haiku 5.5 0.10/0.50, sonnet 5.5 2/10,
opus 5.5 4/20. So 100k input + 10k output tokens cost $0.015 on haiku, $0.30 on sonnet and $0.60 on opus.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from coordinator.core.transitions import Change
from coordinator.models import Attempt, AttemptOutcome, Lease, Task, TaskStatus, Tokens
from coordinator.store.store import StateStore

MODEL = {"simple": "claude-haiku-5-5", "complex": "claude-sonnet-5-5", "expert": "claude-opus-5-5"}
#: What 100k input + 10k output tokens cost in each mode.
COST = {"simple": 0.015, "complex": 0.30, "expert": 0.60}


def attempt(
    number: int,
    mode: str,
    outcome: AttemptOutcome,
    *,
    at: datetime,
    scale: int = 1,
    seconds: float = 60,
    turns: int | None = 5,
    detail: str | None = None,
    tokens: bool = True,
    cost: float | None = None,
    runner: str = "box-a",
) -> Attempt:
    """A finished attempt: ``scale`` x (100k input + 10k output tokens) at the mode's model, costing the same."""
    return Attempt(
        number=number,
        runner=runner,
        mode=mode,
        model=MODEL[mode] if tokens else None,
        outcome=outcome,
        outcome_detail=detail,
        started_at=at - timedelta(seconds=seconds),
        finished_at=at,
        duration_seconds=seconds,
        turns=turns,
        tokens=Tokens(input=100_000 * scale, output=10_000 * scale) if tokens else None,
        cost_usd=cost if cost is not None else round(COST[mode] * scale, 6),
    )


def task(number: int, status: TaskStatus, attempts: list[Attempt], *, at: datetime, **fields: object) -> Task:
    """A task whose last change is ``at``."""
    return Task(
        id=f"task-{number}",
        title=f"recorded task {number}",
        created_at=at - timedelta(hours=1),
        updated_at=at,
        status=status,
        attempts=attempts,
        **fields,  # type: ignore[arg-type]
    )


S, F = AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED


def recorded_history(now: datetime) -> list[Task]:
    """Seven tasks that ended a day ago, one ten days ago, one still running.

    In the last 7 days: cost $1.72, counterfactual $4.30 (every task in expert, priced at opus 5.5), saving 60 %:

    | task | what happened                                   | actual | counterfactual           |
    | 1    | simple succeeded                                 | 0.015  | 0.60 repriced             |
    | 2    | simple succeeded (twice the tokens)              | 0.030  | 1.20 repriced             |
    | 3    | simple failed, complex succeeded                 | 0.345  | 0.60 (complex's tokens)   |
    | 4    | simple, complex failed, expert succeeded         | 0.915  | 0.60 measured             |
    | 5    | simple, complex failed: failed for good          | 0.315  | 1.20 (both repriced)      |
    | 6    | cancelled before it ran                          | 0      | 0                         |
    | 7    | a command agent succeeded: $0.10, no tokens      | 0.100  | 0.10 (unpriced: as is)    |
    """
    day = now - timedelta(days=1)
    old = now - timedelta(days=10)
    return [
        task(1, TaskStatus.SUCCEEDED, [attempt(1, "simple", S, at=day, seconds=60, turns=4)], at=day),
        task(2, TaskStatus.SUCCEEDED, [attempt(1, "simple", S, at=day, scale=2, seconds=120, turns=8)], at=day),
        task(
            3,
            TaskStatus.SUCCEEDED,
            [
                attempt(1, "simple", F, at=day, scale=3, seconds=300, turns=20, detail="max_turns"),
                attempt(2, "complex", S, at=day, seconds=240, turns=12, runner="box-b"),
            ],
            at=day,
            mode="complex",
        ),
        task(
            4,
            TaskStatus.SUCCEEDED,
            [
                attempt(1, "simple", F, at=day, seconds=900, detail="timeout"),
                attempt(2, "complex", F, at=day, seconds=600, detail="execution_error", runner="box-b"),
                attempt(3, "expert", S, at=day, seconds=1200, turns=30, runner="box-b"),
            ],
            at=day,
            mode="expert",
        ),
        task(
            5,
            TaskStatus.FAILED,
            [
                attempt(1, "simple", F, at=day, seconds=30, detail="execution_error"),
                attempt(2, "complex", F, at=day, seconds=90, detail="execution_error", runner="box-b"),
            ],
            at=day,
            mode="complex",
            max_attempts=2,
        ),
        task(6, TaskStatus.CANCELLED, [], at=day),
        task(7, TaskStatus.SUCCEEDED, [attempt(1, "simple", S, at=day, tokens=False, cost=0.10, turns=None)], at=day),
        task(8, TaskStatus.SUCCEEDED, [attempt(1, "simple", S, at=old)], at=old),
        _running(9, now),
    ]


def _running(number: int, now: datetime) -> Task:
    """A task still running: one failed attempt ($0.015) and the one under way."""
    started = now - timedelta(minutes=5)
    running = Attempt(number=2, runner="box-a", mode="complex", started_at=started)
    lease = Lease(runner="box-a", attempt=2, acquired_at=started, expires_at=now + timedelta(minutes=5))
    failed = attempt(1, "simple", F, at=started, detail="execution_error")
    return task(number, TaskStatus.RUNNING, [failed, running], at=started, mode="complex", lease=lease)


def write_history(store: StateStore, tasks: list[Task]) -> None:
    """Commit the tasks to the state branch in one commit, the id counter past them."""
    meta = store.read().meta.model_copy(update={"next_task_number": 100})
    store.update(lambda state, now: Change(message="recorded history", tasks=tuple(tasks), meta=meta))
