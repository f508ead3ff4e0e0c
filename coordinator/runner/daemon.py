"""The runner: turns queued tasks into agent runs on this machine, one lease at a time.

The loop, in order: housekeeping (heartbeat, results waiting in the outbox, old logs) → one cheap look at the
branch → claim the best task this runner can run and start it in a slot thread (worktree, agent, report:
:mod:`coordinator.runner.attempt`) → wait for the next poll. When idle it polls with ``git ls-remote`` and
fetches only when the state ref moved; it calls GitHub's API only for tasks of issues (verifying a trigger,
telling GitHub what changed) and, now and then, to retry deliveries that stayed pending. Up to ``slots`` tasks
run at once; a slot that records a result claims its next task in the same commit. It stops only for named
reasons: a stop was requested, ``--once`` found nothing more to do, or ``--once`` gave up on a branch that refuses
every write.

Build one with :func:`coordinator.runner.build.build_runner`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import timedelta

from coordinator.agents.base import Agent
from coordinator.agents.containment import Containment
from coordinator.errors import ContentionError, CoordinatorError, RemoteError
from coordinator.models import GITHUB_CAPABILITY, AttemptResult, Runner, RunnerState, Task
from coordinator.modes import ModesConfig, modes_diff
from coordinator.redaction import Redactor
from coordinator.runner.attempt import AttemptRunner
from coordinator.runner.budget import BudgetWatch
from coordinator.runner.clock import Clock
from coordinator.runner.config import RunnerConfig
from coordinator.runner.delivery import ClaimSpec, Delivery
from coordinator.runner.github_side import RunnerGitHub
from coordinator.runner.health import Backoff, Health
from coordinator.runner.heartbeat import Heartbeats
from coordinator.runner.housekeeping import Housekeeping
from coordinator.runner.leases import LeaseKeeper
from coordinator.runner.outbox import Outbox, Report
from coordinator.runner.permissions import Ceiling
from coordinator.runner.plan_work import plan_work_for
from coordinator.runner.policy import Decision
from coordinator.runner.slot import Slot
from coordinator.runner.ticker import Ticker
from coordinator.runner.trouble import RemoteTrouble
from coordinator.runner.worktree import WorktreeManager
from coordinator.store.store import StateStore

EXIT_OK = 0
EXIT_MISCONFIGURED = 4
#: ``--once`` gave up on a state branch that refused every write; results wait in the outbox.
EXIT_REMOTE_TROUBLE = 5

_PRUNE_EVERY_SECONDS = 6 * 3600
_LONGEST_WRITE_RETRY_SECONDS = 300.0


class RunnerDaemon:
    """One runner process. ``run()`` blocks until stopped (or, with ``once``, until nothing is claimable)."""

    def __init__(
        self,
        config: RunnerConfig,
        *,
        store: StateStore,
        agent: Agent,
        worktrees: WorktreeManager,
        ceiling: Ceiling,
        containment: Containment | None,
        redactor: Redactor,
        clock: Clock,
        echo: Callable[[str], None],
        github: RunnerGitHub | None = None,
    ) -> None:
        self.config, self.store, self.agent, self.worktrees = config, store, agent, worktrees
        self.github = github
        self.ceiling, self.containment, self.redactor = ceiling, containment, redactor
        self.clock, self.echo = clock, echo
        self.log_dir = config.resolved_log_dir()
        self.health = Health(
            api_backoff=Backoff(config.api_error_pause_seconds, config.api_error_max_pause_seconds),
            fault_backoff=Backoff(config.machine_fault_pause_seconds, config.api_error_max_pause_seconds),
            fault_limit=config.machine_fault_limit,
        )
        self.trouble = RemoteTrouble(Backoff(max(1.0, config.poll_seconds), _LONGEST_WRITE_RETRY_SECONDS))
        self.claims = ClaimSpec(
            runner=config.name,
            capabilities=(*config.capabilities, *([GITHUB_CAPABILITY] if github is not None else [])),
            lease_ttl=timedelta(seconds=config.lease_ttl_seconds),
            max_permission_mode=ceiling.max_permission_mode,
            expired=store.expired,
        )
        self._slots: dict[str, Slot] = {}
        self._slots_lock = threading.Lock()
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._force, self._give_up = threading.Event(), threading.Event()
        self._wire_parts()
        self._last_prune: float | None = None
        self._outbox_waiting = 0
        self._once = self._gave_up = False
        self._modes_seen: ModesConfig | None = None
        self._skew_told: set[str] = set()
        self._dirty = True  # the next claim must look at the branch even if ls-remote says nothing moved
        self.budget = BudgetWatch(echo)  # the daily cap: said once, claims tried again when the UTC day turns

    def _wire_parts(self) -> None:
        """The runner's parts: lease keeping, attempts, result delivery, heartbeats."""
        self.leases = LeaseKeeper(
            store=self.store,
            runner=self.config.name,
            lease_ttl=self.claims.lease_ttl,
            renew_every=self.config.renew_every_seconds,
            clock=self.clock,
            echo=self.echo,
        )
        self.attempts = AttemptRunner(
            config=self.config,
            agent=self.agent,
            worktrees=self.worktrees,
            leases=self.leases,
            modes=lambda: self.store.state.modes,
            ceiling=self.ceiling,
            redactor=self.redactor,
            clock=self.clock,
            echo=self.echo,
            github=self.github,
            plan_work=plan_work_for(self.store, self.worktrees, self.containment, self.redactor, self.echo),
        )
        outbox = Outbox(self.log_dir / "outbox")
        self.delivery = Delivery(
            store=self.store,
            outbox=outbox,
            clock=self.clock,
            echo=self.echo,
            give_up=self._give_up,
            trouble=self.trouble,
        )
        self.ticker = Ticker(self.store, self.clock, self.echo)  # recurring tasks: `coordinator tick` while polling
        self.heartbeats = Heartbeats(
            config=self.config,
            store=self.store,
            health=self.health,
            max_permission_mode=self.ceiling.max_permission_mode,
            trouble=self.trouble,
            clock=self.clock,
            echo=self.echo,
            running=lambda: self.running_task_ids,
            stopping=self._stopping,
        )

    # --- public controls ---

    def request_stop(self, *, force: bool = False) -> None:
        """Stop claiming and shut down (called from signal handlers); ``force`` skips the grace period."""
        if force:
            self._force.set()
            self._give_up.set()
        self._stopping.set()
        self._wake.set()

    @property
    def running_task_ids(self) -> list[str]:
        """Ids of the tasks running now."""
        with self._slots_lock:
            return sorted(self._slots)

    # --- the loop ---

    def run(self, *, once: bool = False) -> int:
        """Run until stopped; returns the process exit code."""
        self._once = once
        self._startup()
        try:
            while not self._stopping.is_set():
                self._housekeeping()
                moved = self._sync()
                if self._fill_a_slot(moved):
                    continue  # fill the other free slots right away
                if once and self._nothing_more_to_do():
                    break
                self.clock.wait(self._wake, self.config.poll_seconds)
                self._wake.clear()
        finally:
            self._shutdown()
        return self._exit_code()

    def _startup(self) -> None:
        if self.containment is not None:
            # Agents a previous life of this runner left (killed together with its watchdog) are stopped before
            # anything touches their worktrees.
            for line in self.containment.stop_leftovers():
                self.echo(f"stopped an agent left by an earlier run: {line}")
            self.containment.start()
        moved = self.worktrees.migrate_old_location()
        if moved:
            names = ", ".join(moved)
            self.echo(f"moved {len(moved)} worktree(s) out of the clone's .git folder (work committed): {names}")
        removed = self.worktrees.clean_leftovers()
        if removed:
            names = ", ".join(removed)
            self.echo(f"removed {len(removed)} leftover worktree(s) of a crashed run (work committed): {names}")
        self._prune_logs()
        self._outbox_waiting = self.delivery.deliver_pending(self.heartbeats.model)
        self.heartbeats.write(state=RunnerState.IDLE)
        self._modes_seen = self.store.state.modes

    def _housekeeping(self) -> None:
        self.heartbeats.write_if_due()
        self._dirty = self.ticker.tick_if_due() or self._dirty
        if self._outbox_waiting and self.trouble.may_try(self.clock.monotonic()):
            self._outbox_waiting = self.delivery.deliver_pending(self.heartbeats.model)
        if self._last_prune is None or self.clock.monotonic() - self._last_prune >= _PRUNE_EVERY_SECONDS:
            self._prune_logs()
        if self.github is not None:
            self.github.catch_up_if_due()

    def _sync(self) -> bool | None:
        """One cheap look at the branch (``git ls-remote``, a fetch only if it moved); stop agents whose lease
        is gone. Returns whether the tip moved, or None when the look failed or was not needed."""
        if self._dirty:
            return None  # the next claim reads the branch anyway
        try:
            moved = self.store.poll()
        except CoordinatorError as exc:
            self.echo(f"warning: cannot read the state branch: {exc}")
            return None
        if moved:
            with self._slots_lock:
                slots = list(self._slots.values())
            self.leases.watch(self.store.state, slots)
            self._note_mode_changes()
            self._note_skew()
        return moved

    def _note_skew(self) -> None:
        """Say once per writer when its commits are dated in the future (its clock, or ours, is off)."""
        for who, ahead in list(self.store.skew.items()):
            if who not in self._skew_told:
                self._skew_told.add(who)
                self.echo(
                    f"warning: a commit by {who} is dated {ahead:.0f}s ahead of this machine's clock: one of the "
                    "two clocks is off (leases are judged by elapsed time, so no task is taken early); fix the clock"
                    " (NTP)"
                )

    def _note_mode_changes(self) -> None:
        """Say in the log when the modes on the branch changed, and which of them this runner now refuses."""
        modes = self.store.state.modes
        seen, self._modes_seen = self._modes_seen, modes
        if seen is None or seen is modes:
            return
        changes = modes_diff(seen, modes)
        if changes:
            self.echo(f"modes changed on the state branch: {'; '.join(changes)}")
        for name, mode in modes.modes.items():
            refusal = self.ceiling.refusal(mode)
            if refusal is not None and (name not in seen.modes or self.ceiling.refusal(seen.modes[name]) is None):
                self.echo(f"warning: this runner will not run mode {name}: {refusal}")

    def _nothing_more_to_do(self) -> bool:
        """``--once``: stop when no slot runs and either nothing is claimable (confirmed on a fresh look), this
        runner may not claim (misconfigured, faulty, cooling down, pausing), or the branch has refused every
        write for longer than ``once_give_up_seconds``."""
        failing = self.trouble.failing_for(self.clock.monotonic())
        if failing > self.config.once_give_up_seconds:
            self.echo(f"giving up: the state branch has refused every write for {failing:.0f}s")
            self._gave_up = True
            self.request_stop()  # running agents get the grace period; their results wait in the outbox
            self._give_up.set()
            return True
        if self._slots:
            return False
        if not self._may_claim():
            return True
        return not self._dirty and not self._outbox_waiting

    def _exit_code(self) -> int:
        if self.health.stopped_claiming:
            return EXIT_MISCONFIGURED
        waiting = sum(1 for _ in self.delivery.outbox.pending())
        if waiting:
            self.echo(
                f"{waiting} result(s) wait in {self.delivery.outbox.folder}: they are delivered when the runner "
                "runs again and the state branch accepts writes"
            )
        return EXIT_REMOTE_TROUBLE if self._gave_up or (self._once and waiting) else EXIT_OK

    # --- claiming ---

    def _free_slots(self) -> int:
        with self._slots_lock:
            return self.config.slots - len(self._slots)

    def _may_claim(self) -> bool:
        now = self.clock.now()
        if self.health.cooldown_over(now):
            self.echo("usage limit reset: claiming again")
            self._dirty = True
        self._dirty |= self.budget.due(now)
        return not self._stopping.is_set() and self.health.may_claim(now, self.clock.monotonic())

    def _fill_a_slot(self, moved: bool | None) -> bool:
        """Claim and start one task when a slot is free and there may be something new; True when it did."""
        if not (self._may_claim() and self._free_slots() > 0):
            return False
        if not (moved or self._dirty or self._expiry_due()) or not self.trouble.may_try(self.clock.monotonic()):
            return False
        task = self._claim(assume_fresh=moved is not None and not self._dirty)
        if task is None:
            return False
        self._start(task)
        return True

    def _expiry_due(self) -> bool:
        now, mine = self.clock.now(), set(self.running_task_ids)
        return any(t.id not in mine and self.store.expired(t, now) for t in self.store.state.running_tasks())

    def _claim(self, *, assume_fresh: bool) -> Task | None:
        beat = self.heartbeats.model()
        try:
            change = self.store.update(
                lambda state, now: self.claims.claim(
                    state, now, heartbeat=beat.model_copy(update={"last_heartbeat": now})
                ),
                assume_fresh=assume_fresh,
            )
        except (RemoteError, ContentionError) as exc:
            pause = self.trouble.failed(self.clock.monotonic())
            self.echo(f"warning: could not claim (next try in {pause:.0f}s): {exc}")
            return None
        self.trouble.ok()
        self._dirty = False
        self.budget.saw(change, self.clock.now())
        self._note_mode_changes()
        if change.tasks and change.task is None:
            self.echo(f"branch updated: {change.message}")
        self._tell_github(change.tasks, but=change.task)
        return change.task

    def _tell_github(self, tasks: Iterable[Task], *, but: Task | None = None) -> None:
        """Deliver to GitHub what this runner's commit changed (whoever records a change tells GitHub); a task
        it just claimed is told once its trigger is verified, in its slot."""
        if self.github is None:
            return
        for task in tasks:
            if task.github is not None and task.github.pending and (but is None or task.id != but.id):
                self.github.tell(task.id)

    def _start(self, task: Task) -> None:
        assert task.lease is not None
        slot = Slot(task=task, attempt=task.lease.attempt)
        slot.thread = threading.Thread(target=self._work, args=(slot,), name=f"task-{task.id}", daemon=True)
        with self._slots_lock:
            self._slots[task.id] = slot
        self.echo(f"claimed {task.id} (attempt {slot.attempt}, {task.mode}): {task.title}")
        slot.thread.start()

    # --- one slot ---

    def _work(self, slot: Slot) -> None:
        """A slot's thread: run the task, and the next one its result commit claimed, until there is none."""
        while True:
            task = slot.task
            following = self._attempt(slot)
            with self._slots_lock:
                # Swapped under the lock, so the main loop never sees a free slot that is already taken.
                self._slots.pop(task.id, None)
                if following is not None:
                    assert following.lease is not None
                    slot = Slot(task=following, attempt=following.lease.attempt, thread=slot.thread)
                    self._slots[following.id] = slot
            # The result's commit may have queued more than the one task it claimed (a plan's subtasks, the
            # dependents it freed): free slots must look, though the branch is where this runner left it.
            if following is None or self._free_slots() > 0:
                self._dirty = True
                self._wake.set()
            if following is None:
                return
            self.echo(f"claimed {following.id} (attempt {slot.attempt}, {following.mode}): {following.title}")

    def _attempt(self, slot: Slot) -> Task | None:
        """Run one attempt and record it; returns the task claimed in the same commit, if any."""
        try:
            return self.attempts.run(slot, self._conclude)
        except Exception as exc:  # a bug must not kill the runner; hand the task back instead
            self.echo(f"error: {slot.task.id} attempt {slot.attempt} crashed in the runner: {exc!r}")
            report = Report(
                kind="fail",
                task_id=slot.task.id,
                attempt=slot.attempt,
                runner=self.config.name,
                result=AttemptResult(error=repr(exc)),
                reason=f"runner error: {exc!r}",
                counted=False,
            )
            return self._record(report, claim_next=False)

    def _conclude(self, report: Report, decision: Decision) -> Task | None:
        was_faulty = self.health.faulty
        pause = self.health.apply(decision, now=self.clock.now(), mono=self.clock.monotonic())
        self._announce(report.task_id, decision, pause)
        if self.health.faulty and not was_faulty:
            self.echo(
                f"ERROR: runner {self.config.name} stops claiming: {self.health.faulty}; fix this machine (disk "
                "space, permissions of the worktree folder, git) and restart the runner"
            )
        return self._record(report, claim_next=True)

    def _announce(self, task_id: str, decision: Decision, pause: float) -> None:
        if decision.misconfigured is not None:
            self.echo(
                f"ERROR: {decision.misconfigured}\nERROR: runner {self.config.name} stops claiming: fix the "
                "credentials of the agent (ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, or `claude /login`) "
                "and restart the runner"
            )
        elif pause > 0:
            self.echo(f"{task_id}: {decision.message}; pausing claims for {pause:.0f}s")
        else:
            self.echo(f"{task_id} {decision.message}")

    def _record(self, report: Report, *, claim_next: bool) -> Task | None:
        def claim() -> ClaimSpec | None:
            return self.claims if claim_next and self._may_claim() else None

        def heartbeat() -> Runner:
            return self.heartbeats.model(running=[t for t in self.running_task_ids if t != report.task_id])

        claimed = self.delivery.record(report, heartbeat=heartbeat, claim=claim)
        recorded = self.store.state.tasks.get(report.task_id)
        # A plan's subtask has no issue of its own: its plan's tracking comment shows it.
        plan = self.store.state.tasks.get(recorded.parent) if recorded is not None and recorded.parent else None
        self._tell_github([t for t in (recorded, plan) if t is not None])
        return claimed

    # --- shutdown and housekeeping ---

    def _shutdown(self) -> None:
        with self._slots_lock:
            slots = list(self._slots.values())
        if slots:
            grace = 0.0 if self._force.is_set() else self.config.shutdown_grace_seconds
            self.echo(f"stopping: giving {len(slots)} running task(s) {grace:.0f}s to finish")
            deadline = self.clock.monotonic() + grace
            for slot in slots:
                if slot.thread is not None:
                    slot.thread.join(timeout=max(0.0, deadline - self.clock.monotonic()))
            for slot in slots:
                if slot.thread is not None and slot.thread.is_alive():
                    slot.shutting_down = True
                    slot.stop.set()
            for slot in slots:
                if slot.thread is not None:
                    slot.thread.join()
        if self.containment is not None:
            self.containment.close()
        self.heartbeats.write(state=RunnerState.STOPPED)
        if self.github is not None:
            self.github.say_what_waits()

    def _prune_logs(self) -> None:
        self._last_prune = self.clock.monotonic()
        Housekeeping.of(self).run()  # logs, idle worktrees, and gc of the state branch
