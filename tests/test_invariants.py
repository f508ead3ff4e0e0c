"""Random operation sequences against the pure transitions, checking the queue's invariants after every step.

Operations: submit (random dependencies, groups, capabilities), claim by random runners with random capabilities,
renew, complete / fail / release (by the holder, by a runner whose lease expired, or by anyone, with or without
naming the attempt; random retryable and next_mode), cancel, retry, requeue_expired, and time advancing so leases
expire. Invalid operations must raise one of the expected ``CoordinatorError`` subclasses and change nothing;
which reports are accepted is checked against a small model. ``pytest --hypothesis-show-statistics`` shows how
often each operation was applied or rejected.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core_helpers import NOW, apply
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from coordinator.core import transitions as tr
from coordinator.core.scheduling import pick_next, rank
from coordinator.core.state import State
from coordinator.errors import InvalidTransition, NotLeaseHolder, TaskNotFound
from coordinator.models import AttemptOutcome, AttemptResult, Priority, Runner, Task, TaskStatus

RUNNERS = ["runner-a", "runner-b", "runner-c"]
CAPS = ["gpu", "linux"]
GROUPS = [None, None, "g1", "g2"]
MODES = ["simple", "complex", "expert"]
EXPECTED_ERRORS = (InvalidTransition, NotLeaseHolder, TaskNotFound)

#: Outcomes an attempt may still leave: running (it ends) and lease_expired (a late report from its runner).
PROVISIONAL = {AttemptOutcome.RUNNING, AttemptOutcome.LEASE_EXPIRED}
LATE_REPORT_OUTCOMES = {AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED, AttemptOutcome.RELEASED}

capabilities = st.lists(st.sampled_from(CAPS), unique=True)
runners = st.sampled_from(RUNNERS)
task_numbers = st.integers(1, 8)
SUBMIT_STRATEGIES: dict[str, st.SearchStrategy[object]] = {
    "priority": st.sampled_from(list(Priority)),
    "deps": st.lists(task_numbers, unique=True, max_size=3),
    "group": st.sampled_from(GROUPS),
    "requires": st.lists(st.sampled_from(CAPS), unique=True, max_size=1),
    "max_attempts": st.integers(1, 3),
    "mode": st.sampled_from([None, *MODES]),
    "deadline": st.none() | st.integers(-60, 300),
}


class QueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = State()
        self.now: datetime = NOW
        self.before: dict[str, Task] = {}
        self.last_op = "init"
        self.last_runner: str | None = None
        self.last_attempt: int | None = None

    # --- plumbing ---

    def run(self, op: str, make_change: object, runner: str | None = None) -> tr.Change | None:
        """Compute a change (a thunk), apply it, and check the step; expected errors change nothing."""
        self.last_op, self.last_runner = op, runner
        try:
            change = make_change()  # type: ignore[operator]
        except EXPECTED_ERRORS as exc:
            event(f"{op}: {type(exc).__name__}")  # see pytest --hypothesis-show-statistics
            self.check_step(changed=set())
            return None
        event(f"{op}: {'empty' if change.empty else 'applied'}")
        apply(self.state, change)
        self.check_step(changed={t.id for t in change.tasks})
        return change

    def task_id(self, number: int) -> str:
        return f"task-{number}"

    def pick(self, data: st.DataObject, predicate: object = None) -> str:
        """A task id: mostly one of the tasks matching ``predicate``, sometimes any id (maybe unknown)."""
        ids = sorted(t.id for t in self.state.tasks.values() if predicate is None or predicate(t))  # type: ignore[operator]
        if ids and data.draw(st.integers(0, 4)) > 0:
            return data.draw(st.sampled_from(ids))
        return self.task_id(data.draw(st.integers(1, len(self.state.tasks) + 1)))

    # --- operations ---

    @initialize(data=st.data(), count=st.integers(0, 6), claims=st.lists(runners, max_size=3))
    def start(self, data: st.DataObject, count: int, claims: list[str]) -> None:
        """Begin with a few tasks, some of them running, so that most steps find something to act on."""
        for _ in range(count):
            self.submit(**data.draw(st.fixed_dictionaries(SUBMIT_STRATEGIES)))  # type: ignore[arg-type]
        for runner in claims:
            self.claim(runner, CAPS, data.draw(st.integers(5, 30)), False)

    @rule(**SUBMIT_STRATEGIES)
    def submit(
        self,
        priority: Priority,
        deps: list[int],
        group: str | None,
        requires: list[str],
        max_attempts: int,
        mode: str | None,
        deadline: int | None,
    ) -> None:
        existing = [self.task_id(n) for n in deps if self.task_id(n) in self.state.tasks]
        request = tr.SubmitRequest(
            title="task",
            priority=priority,
            depends_on=tuple(existing),
            group=group,
            requires=tuple(requires),
            max_attempts=max_attempts,
            mode=mode,
            deadline=None if deadline is None else self.now + timedelta(minutes=deadline),
            allow_failed_dependency=True,
        )
        change = self.run("submit", lambda: tr.submit(self.state, request, self.now))
        assert change is not None
        assert change.task is not None
        task = change.task
        waiting = [d for d in task.depends_on if self.state.tasks[d].status != TaskStatus.SUCCEEDED]
        assert task.status == (TaskStatus.BLOCKED if waiting else TaskStatus.QUEUED)

    @rule(runner=runners, caps=capabilities, ttl=st.integers(5, 30), heartbeat=st.booleans())
    def claim(self, runner: str, caps: list[str], ttl: int, heartbeat: bool) -> None:
        expected = pick_next(self.state, capabilities=caps, now=self.now)
        has_expired = any(t.lease and t.lease.expires_at <= self.now for t in self.state.running_tasks())
        beat = Runner(name=runner, capabilities=caps, last_heartbeat=NOW) if heartbeat else None
        change = self.run(
            "claim",
            lambda: tr.claim(
                self.state,
                runner=runner,
                capabilities=caps,
                lease_ttl=timedelta(minutes=ttl),
                now=self.now,
                heartbeat=beat,
            ),
            runner,
        )
        assert change is not None
        if not has_expired:  # no lease to requeue: the claim takes exactly what pick_next said
            assert (change.task.id if change.task else None) == (expected.id if expected else None)
        if change.task is not None:
            assert change.task.status == TaskStatus.RUNNING
            assert change.task.lease is not None
            assert change.task.lease.runner == runner
            assert change.message.startswith(f"claim {change.task.id} by {runner}, attempt ")
        if beat is not None and not change.empty:
            [written] = change.runners
            assert written.last_heartbeat == self.now
            if change.task is not None:
                assert change.task.id in written.running

    @rule(data=st.data(), runner=runners, ttl=st.integers(5, 30))
    def renew(self, data: st.DataObject, runner: str, ttl: int) -> None:
        task_id = self.pick(data, lambda t: t.status == TaskStatus.RUNNING)
        before = self.state.tasks.get(task_id)
        change = self.run(
            "renew",
            lambda: tr.renew(
                self.state, task_id=task_id, runner=runner, lease_ttl=timedelta(minutes=ttl), now=self.now
            ),
            runner,
        )
        holds = before is not None and before.lease is not None and before.lease.runner == runner
        assert (change is not None) == holds

    def holder_of(self, data: st.DataObject) -> tuple[str, str]:
        running = self.state.running_tasks()
        task = data.draw(st.sampled_from(running))
        assert task.lease is not None
        return task.id, task.lease.runner

    def reporter_of(self, data: st.DataObject) -> tuple[str, str]:
        """A task and a runner that has an attempt on it (holder, expired or finished), or random ones."""
        pairs = sorted({(t.id, a.runner) for t in self.state.tasks.values() for a in t.attempts})
        if pairs and data.draw(st.integers(0, 3)) > 0:
            return data.draw(st.sampled_from(pairs))
        return self.pick(data), data.draw(runners)

    def report(
        self,
        how: str,
        task_id: str,
        runner: str,
        attempt: int | None,
        *,
        retryable: bool = True,
        next_mode: str | None = None,
    ) -> tr.Change | None:
        """complete / fail / release by ``runner``, checked against a model of which reports are accepted."""
        before = self.state.tasks.get(task_id)
        self.last_attempt = attempt
        result = AttemptResult(summary=f"{how} by {runner}")
        if how == "complete":
            change = self.run(
                how,
                lambda: tr.complete(
                    self.state, task_id=task_id, runner=runner, result=result, now=self.now, attempt=attempt
                ),
                runner,
            )
        else:
            change = self.run(
                how,
                lambda: tr.fail(
                    self.state,
                    task_id=task_id,
                    runner=runner,
                    reason="boom",
                    now=self.now,
                    result=result,
                    retryable=retryable,
                    counted=how == "fail",
                    next_mode=next_mode,
                    attempt=attempt,
                ),
                runner,
            )
        self.last_attempt = None
        if before is None:
            assert change is None
            return None

        # Which attempt the report belongs to: the live lease, else the runner's latest (or named) attempt, and
        # only while that attempt has not ended (running, or lease expired).
        holds = before.status == TaskStatus.RUNNING and before.lease is not None and before.lease.runner == runner
        mine = [a for a in before.attempts if a.runner == runner and (attempt is None or a.number == attempt)]
        if attempt is None and holds:
            assert before.lease is not None
            number: int | None = before.lease.attempt
        elif mine and mine[-1].outcome in PROVISIONAL:
            number = mine[-1].number
        else:
            number = None
        assert (change is not None) == (number is not None), (how, task_id, runner, attempt)
        if change is None or number is None:
            return change

        after = self.state.tasks[task_id]
        reported = after.attempts[number - 1]
        expected_outcome = {
            "complete": AttemptOutcome.SUCCEEDED,
            "fail": AttemptOutcome.FAILED,
            "release": AttemptOutcome.RELEASED,
        }[how]
        assert reported.outcome == expected_outcome
        assert reported.summary == f"{how} by {runner}"
        # A release does not use up the budget, unless the lease had expired already (that attempt was counted).
        was_expired = before.attempts[number - 1].outcome == AttemptOutcome.LEASE_EXPIRED
        assert reported.counted == (how != "release" or was_expired)
        assert [a for i, a in enumerate(after.attempts) if i != number - 1] == [
            a for i, a in enumerate(before.attempts) if i != number - 1
        ], "a report changed another attempt"
        # Running under a newer attempt than the reported one (another runner's, or this runner's own newer
        # lease): the report is recorded as late and changes nothing else.
        superseded = before.status == TaskStatus.RUNNING and (before.lease is None or before.lease.attempt != number)
        # The one exception: a success of the very attempt whose lease expiry failed the task completes it.
        revives = (
            how == "complete"
            and before.status == TaskStatus.FAILED
            and before.attempts[-1].number == number
            and before.attempts[-1].outcome == AttemptOutcome.LEASE_EXPIRED
        )
        if revives:
            assert after.status == TaskStatus.SUCCEEDED
        elif before.is_terminal or superseded:
            assert "late" in change.message
            assert (after.status, after.lease) == (before.status, before.lease)
        elif how == "complete":
            assert after.status == TaskStatus.SUCCEEDED
        elif retryable and after.attempts_left() > 0:
            assert after.status == TaskStatus.QUEUED
            assert after.mode == (next_mode or before.mode)
        else:
            assert after.status == TaskStatus.FAILED
        return change

    @rule(
        data=st.data(),
        how=st.sampled_from(["complete", "fail", "release"]),
        retryable=st.booleans(),
        next_mode=st.sampled_from([None, *MODES]),
    )
    def report_by_anyone(self, data: st.DataObject, how: str, retryable: bool, next_mode: str | None) -> None:
        """A report from a runner that had an attempt on the task (or a random one), maybe naming an attempt."""
        task_id, runner = self.reporter_of(data)
        task = self.state.tasks.get(task_id)
        attempt = None
        if task is not None:
            own = [a.number for a in task.attempts if a.runner == runner]
            choices = st.none() | st.integers(1, len(task.attempts) + 1)
            attempt = data.draw(st.sampled_from(own) | choices if own else choices)
        self.report(how, task_id, runner, attempt, retryable=retryable, next_mode=next_mode)

    @precondition(lambda self: bool(self.state.running_tasks()))
    @rule(data=st.data())
    def complete_by_holder(self, data: st.DataObject) -> None:
        task_id, runner = self.holder_of(data)
        change = self.run(
            "complete",
            lambda: tr.complete(self.state, task_id=task_id, runner=runner, result=AttemptResult(), now=self.now),
            runner,
        )
        assert change is not None
        assert self.state.tasks[task_id].status == TaskStatus.SUCCEEDED

    @precondition(lambda self: bool(self.state.running_tasks()))
    @rule(data=st.data(), retryable=st.booleans(), next_mode=st.sampled_from([None, *MODES]))
    def fail_by_holder(self, data: st.DataObject, retryable: bool, next_mode: str | None) -> None:
        task_id, runner = self.holder_of(data)
        before = self.state.tasks[task_id]
        change = self.run(
            "fail",
            lambda: tr.fail(
                self.state,
                task_id=task_id,
                runner=runner,
                reason="boom",
                now=self.now,
                retryable=retryable,
                next_mode=next_mode,
            ),
            runner,
        )
        assert change is not None
        after = self.state.tasks[task_id]
        if retryable and after.attempts_left() > 0:
            assert after.status == TaskStatus.QUEUED
            assert after.mode == (next_mode or before.mode)
        else:
            assert after.status == TaskStatus.FAILED

    @precondition(lambda self: bool(self.state.running_tasks()))
    @rule(data=st.data())
    def release_by_holder(self, data: st.DataObject) -> None:
        task_id, runner = self.holder_of(data)
        left = self.state.tasks[task_id].attempts_left()
        self.run(
            "release",
            lambda: tr.release(self.state, task_id=task_id, runner=runner, reason="shutdown", now=self.now),
            runner,
        )
        after = self.state.tasks[task_id]
        assert after.status == TaskStatus.QUEUED
        assert after.attempts_left() == left + 1  # the running attempt no longer counts

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        task_id = self.pick(data, lambda t: not t.is_terminal)
        before = self.state.tasks.get(task_id)
        change = self.run("cancel", lambda: tr.cancel(self.state, task_id=task_id, now=self.now, by="alice"))
        assert (change is not None) == (before is not None and not before.is_terminal)
        if change is not None:
            assert self.state.tasks[task_id].status == TaskStatus.CANCELLED

    @rule(data=st.data(), mode=st.sampled_from([None, *MODES]))
    def retry(self, data: st.DataObject, mode: str | None) -> None:
        task_id = self.pick(data, lambda t: t.status in (TaskStatus.FAILED, TaskStatus.CANCELLED))
        before = self.state.tasks.get(task_id)
        change = self.run("retry", lambda: tr.retry(self.state, task_id=task_id, now=self.now, by="bob", mode=mode))
        assert (change is not None) == (
            before is not None and before.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)
        )
        if change is not None:
            assert before is not None
            after = self.state.tasks[task_id]
            assert after.round == before.round + 1
            assert after.attempts_left() == after.max_attempts
            assert after.status in (TaskStatus.QUEUED, TaskStatus.BLOCKED)

    @precondition(lambda self: bool(self.state.running_tasks()))
    @rule(data=st.data(), requeue=st.booleans(), claim_after=st.booleans())
    def expire_a_lease(self, data: st.DataObject, requeue: bool, claim_after: bool) -> None:
        """Jump to just after one running task's lease expires; maybe requeue, maybe a runner claims."""
        task = data.draw(st.sampled_from(self.state.running_tasks()))
        assert task.lease is not None
        self.now = max(self.now, task.lease.expires_at)
        self.last_op, self.last_runner = "advance", None
        self.check_step(changed=set())
        if requeue:
            self.run("requeue_expired", lambda: tr.requeue_expired(self.state, self.now))
            assert self.state.tasks[task.id].status in (TaskStatus.QUEUED, TaskStatus.FAILED)
            assert self.state.tasks[task.id].attempts[-1].outcome == AttemptOutcome.LEASE_EXPIRED
        if claim_after:
            # Often the same runner comes back (e.g. another of its slots), able to run the task again.
            runner = data.draw(st.sampled_from([task.lease.runner, *RUNNERS]))
            self.claim(runner, sorted({*task.requires, *data.draw(capabilities)}), 10, False)
            if data.draw(st.booleans()):
                # The expired attempt's runner reports on it by number (it may hold a newer lease by now).
                how = data.draw(st.sampled_from(["complete", "fail", "release"]))
                self.report(how, task.id, task.lease.runner, task.lease.attempt)

    @precondition(
        lambda self: any(
            a.outcome == AttemptOutcome.LEASE_EXPIRED for t in self.state.tasks.values() for a in t.attempts
        )
    )
    @rule(
        data=st.data(),
        how=st.sampled_from(["complete", "fail", "release"]),
        retryable=st.booleans(),
        named=st.booleans(),
    )
    def late_report(self, data: st.DataObject, how: str, retryable: bool, named: bool) -> None:
        """The runner of an expired attempt reports after all (the task may be queued, re-leased or ended)."""
        task_id, runner, number = data.draw(
            st.sampled_from(
                sorted(
                    (t.id, a.runner, a.number)
                    for t in self.state.tasks.values()
                    for a in t.attempts
                    if a.outcome == AttemptOutcome.LEASE_EXPIRED
                )
            )
        )
        task = self.state.tasks[task_id]
        latest = max(a.number for a in task.attempts if a.runner == runner)
        change = self.report(how, task_id, runner, number if named else None, retryable=retryable)
        if named or latest == number:
            # Unless a newer attempt by the same runner supersedes it, a late report is always taken.
            holds_newer = task.lease is not None and task.lease.runner == runner and task.lease.attempt != number
            assert change is not None or holds_newer

    @rule(minutes=st.integers(0, 40), requeue=st.booleans())
    def advance(self, minutes: int, requeue: bool) -> None:
        """Time passes (leases may expire); sometimes a writer then requeues the expired leases."""
        self.now += timedelta(minutes=minutes)
        self.last_op, self.last_runner = "advance", None
        self.check_step(changed=set())
        if requeue:
            self.run("requeue_expired", lambda: tr.requeue_expired(self.state, self.now))
            assert all(t.lease and t.lease.expires_at > self.now for t in self.state.running_tasks())

    # --- checks ---

    def check_step(self, changed: set[str]) -> None:
        """Compare every task with its version before the step."""
        tasks = self.state.tasks
        assert set(self.before) <= set(tasks), "a task disappeared"
        for task_id, old in self.before.items():
            new = tasks[task_id]
            if task_id not in changed:
                assert new == old
                continue
            # Attempts only grow; what identifies an attempt never changes; finished outcomes stay.
            assert len(new.attempts) >= len(old.attempts)
            assert len(new.attempts) <= len(old.attempts) + 1
            for a, b in zip(old.attempts, new.attempts, strict=False):
                assert (a.number, a.round, a.runner, a.mode, a.started_at) == (
                    b.number,
                    b.round,
                    b.runner,
                    b.mode,
                    b.started_at,
                )
                if a.outcome == AttemptOutcome.LEASE_EXPIRED and b != a:
                    # Only a late report by the attempt's own runner rewrites an expired attempt, and only the
                    # runner's latest attempt on the task unless the report names the attempt.
                    assert self.last_op in ("complete", "fail", "release")
                    assert self.last_runner == a.runner
                    assert b.outcome in LATE_REPORT_OUTCOMES
                    if self.last_attempt is None:
                        assert a.number == max(x.number for x in old.attempts if x.runner == a.runner)
                    else:
                        assert a.number == self.last_attempt
                elif a.outcome not in PROVISIONAL:
                    assert b == a, f"finished attempt {a.number} of {task_id} changed"
            # Terminal stays terminal, except an explicit retry of a failed or cancelled task, and the late success
            # of the very attempt whose lease expiry failed the task (nobody else worked on it since).
            if old.is_terminal and new.status != old.status:
                late_success = (
                    self.last_op == "complete"
                    and old.status == TaskStatus.FAILED
                    and new.status == TaskStatus.SUCCEEDED
                    and old.attempts[-1].outcome == AttemptOutcome.LEASE_EXPIRED
                    and new.attempts[-1].number == old.attempts[-1].number
                )
                # A task cancelled only because a dependency ended badly waits again once that dependency is
                # retried or succeeds late (see coordinator.core.transitions.dependencies).
                revived = (
                    old.status == TaskStatus.CANCELLED
                    and (old.status_reason or "").startswith("dependency ")
                    and new.status in (TaskStatus.BLOCKED, TaskStatus.QUEUED)
                    and self.last_op in ("retry", "complete")
                )
                assert self.last_op == "retry" or late_success or revived
                assert old.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)
            assert new.round >= old.round
            if new.round != old.round:
                assert self.last_op == "retry"
            assert new.updated_at >= old.updated_at
        for task_id in set(tasks) - set(self.before):
            assert self.last_op == "submit"
            assert tasks[task_id].attempts == []
        self.before = dict(tasks)

    @invariant()
    def leases_are_consistent(self) -> None:
        for task in self.state.tasks.values():
            running = [a for a in task.attempts if a.outcome == AttemptOutcome.RUNNING]
            assert len(running) <= 1, f"{task.id} has two running attempts"
            assert (task.lease is not None) == (task.status == TaskStatus.RUNNING), task.id
            if task.lease is not None:
                assert running, f"{task.id} is leased without a running attempt"
                [attempt] = running
                assert attempt.number == task.lease.attempt
                assert attempt.runner == task.lease.runner
                assert attempt.round == task.round
                assert task.current_attempt() == attempt
            else:
                assert not running, f"{task.id} has a running attempt but no lease"

    @invariant()
    def attempts_are_numbered_in_order(self) -> None:
        for task in self.state.tasks.values():
            assert [a.number for a in task.attempts] == list(range(1, len(task.attempts) + 1))

    @invariant()
    def budget_is_respected(self) -> None:
        for task in self.state.tasks.values():
            assert task.counted_attempts() <= task.max_attempts, task.id
            assert all(a.round <= task.round for a in task.attempts)

    @invariant()
    def dependencies_match_status(self) -> None:
        tasks = self.state.tasks

        def succeeded(dep: str) -> bool:
            return dep in tasks and tasks[dep].status == TaskStatus.SUCCEEDED

        for task in tasks.values():
            if task.status == TaskStatus.BLOCKED:
                assert not all(succeeded(d) for d in task.depends_on), f"{task.id} is blocked for nothing"
            elif task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
                assert all(succeeded(d) for d in task.depends_on), f"{task.id} runs before its dependencies"

    @invariant()
    def one_running_task_per_group(self) -> None:
        groups = [t.group for t in self.state.tasks.values() if t.status == TaskStatus.RUNNING and t.group]
        assert len(groups) == len(set(groups))

    @invariant()
    def indexes_match_statuses(self) -> None:
        tasks = self.state.tasks.values()
        without = [t for _, t in self.state.queued_without_deadline()]
        with_deadline = [t for _, t in self.state.queued_with_deadline()]
        assert all(t.deadline is None for t in without)
        assert all(t.deadline is not None for t in with_deadline)
        assert sorted(t.id for t in [*without, *with_deadline]) == sorted(
            t.id for t in tasks if t.status == TaskStatus.QUEUED
        )
        assert [t.id for t in self.state.running_tasks()] == sorted(
            t.id for t in tasks if t.status == TaskStatus.RUNNING
        )
        assert [t.id for t in self.state.blocked_tasks()] == sorted(
            t.id for t in tasks if t.status == TaskStatus.BLOCKED
        )

    @invariant()
    def pick_next_agrees_with_rank(self) -> None:
        for caps in ([], CAPS):
            picked = pick_next(self.state, capabilities=caps, now=self.now)
            best = next(
                (r.task.id for r in rank(self.state, capabilities=caps, now=self.now) if not r.blocked_by), None
            )
            assert (picked.id if picked else None) == best

    @invariant()
    def id_counter_is_ahead(self) -> None:
        numbers = [int(t.split("-")[1]) for t in self.state.tasks]
        assert all(n < self.state.meta.next_task_number for n in numbers)


QueueMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestQueueInvariants = QueueMachine.TestCase
