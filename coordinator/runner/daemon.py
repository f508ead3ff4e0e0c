"""The runner: turns queued tasks into agent runs on this machine, one lease at a time.

The loop, in order: heartbeat → (requeue expired leases and) claim the best task this runner can run → start
it in a slot thread (worktree, agent, report: :mod:`coordinator.runner.attempt`) → wait for the next poll. When
idle it polls with ``git ls-remote`` and fetches only when the state ref moved; it makes no GitHub API calls at
all. Up to ``slots`` tasks run at once. A slot that records a result claims its next task in the same commit.

Build one with :func:`coordinator.runner.build.build_runner`.
"""

from __future__ import annotations

import platform
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from coordinator import __version__
from coordinator.agents.base import Agent
from coordinator.core import transitions
from coordinator.errors import ContentionError, CoordinatorError, RemoteError
from coordinator.models import AttemptResult, Runner, RunnerState, Task
from coordinator.runner.attempt import AttemptRunner
from coordinator.runner.clock import Clock
from coordinator.runner.config import RunnerConfig
from coordinator.runner.delivery import ClaimSpec, Delivery
from coordinator.runner.health import Backoff, Health
from coordinator.runner.leases import LeaseKeeper
from coordinator.runner.outbox import Outbox, Report
from coordinator.runner.permissions import Ceiling
from coordinator.runner.policy import Decision
from coordinator.runner.slot import Slot
from coordinator.runner.worktree import WorktreeManager
from coordinator.store.store import StateStore

EXIT_OK = 0
EXIT_MISCONFIGURED = 4

_PRUNE_EVERY_SECONDS = 6 * 3600


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
        clock: Clock,
        echo: Callable[[str], None],
    ) -> None:
        self.config = config
        self.store = store
        self.agent = agent
        self.worktrees = worktrees
        self.clock = clock
        self.echo = echo
        self.log_dir = config.resolved_log_dir()
        self.ceiling = ceiling
        self.health = Health(
            api_backoff=Backoff(config.api_error_pause_seconds, config.api_error_max_pause_seconds),
            fault_backoff=Backoff(config.machine_fault_pause_seconds, config.api_error_max_pause_seconds),
            fault_limit=config.machine_fault_limit,
        )
        self.claims = ClaimSpec(
            runner=config.name,
            capabilities=tuple(config.capabilities),
            lease_ttl=timedelta(seconds=config.lease_ttl_seconds),
            max_permission_mode=ceiling.max_permission_mode,
        )
        self._force = threading.Event()
        self.leases = LeaseKeeper(
            store=store,
            runner=config.name,
            lease_ttl=self.claims.lease_ttl,
            renew_every=config.renew_every_seconds,
            clock=clock,
            echo=echo,
        )
        self.attempts = AttemptRunner(
            config=config,
            agent=agent,
            worktrees=worktrees,
            leases=self.leases,
            modes=lambda: store.state.modes,
            ceiling=ceiling,
            clock=clock,
            echo=echo,
        )
        self.delivery = Delivery(
            store=store, outbox=Outbox(self.log_dir / "outbox"), clock=clock, echo=echo, give_up=self._force
        )
        self._slots: dict[str, Slot] = {}
        self._slots_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._started_at = clock.now()
        self._last_heartbeat: float | None = None
        self._last_prune: float | None = None
        self._dirty = True  # the next claim must look at the branch even if ls-remote says nothing moved

    # --- public controls ---

    def request_stop(self, *, force: bool = False) -> None:
        """Stop claiming and shut down (called from signal handlers); ``force`` skips the grace period."""
        if force:
            self._force.set()
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
        self._startup()
        try:
            while not self._stopping.is_set():
                self._heartbeat_if_due()
                moved = self._sync()
                if self._may_claim() and self._free_slots() > 0:
                    if moved or self._dirty or self._expiry_due():
                        task = self._claim(assume_fresh=moved is not None and not self._dirty)
                        if task is not None:
                            self._start(task)
                            continue  # fill the other free slots right away
                    if once and not self._slots and not self._dirty:
                        break
                elif once and not self._slots:
                    break  # misconfigured or cooling down: --once has nothing more to do
                self.clock.wait(self._wake, self.config.poll_seconds)
                self._wake.clear()
        finally:
            self._shutdown()
        return EXIT_MISCONFIGURED if self.health.stopped_claiming else EXIT_OK

    def _startup(self) -> None:
        moved = self.worktrees.migrate_old_location()
        if moved:
            names = ", ".join(moved)
            self.echo(f"moved {len(moved)} worktree(s) out of the clone's .git folder (work committed): {names}")
        removed = self.worktrees.clean_leftovers()
        if removed:
            names = ", ".join(removed)
            self.echo(f"removed {len(removed)} leftover worktree(s) of a crashed run (work committed): {names}")
        self._prune_logs()
        self.delivery.deliver_pending(lambda: self._runner_model(running=self.running_task_ids))
        self._heartbeat(state=RunnerState.IDLE)

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
        return moved

    # --- claiming ---

    def _free_slots(self) -> int:
        with self._slots_lock:
            return self.config.slots - len(self._slots)

    def _may_claim(self) -> bool:
        now = self.clock.now()
        if self.health.cooldown_over(now):
            self.echo("usage limit reset: claiming again")
            self._dirty = True
        return not self._stopping.is_set() and self.health.may_claim(now, self.clock.monotonic())

    def _expiry_due(self) -> bool:
        now, mine = self.clock.now(), set(self.running_task_ids)
        return any(
            t.lease is not None and t.lease.expires_at <= now and t.id not in mine
            for t in self.store.state.running_tasks()
        )

    def _claim(self, *, assume_fresh: bool) -> Task | None:
        beat = self._runner_model(running=self.running_task_ids)
        try:
            change = self.store.update(
                lambda state, now: self.claims.claim(
                    state, now, heartbeat=beat.model_copy(update={"last_heartbeat": now})
                ),
                assume_fresh=assume_fresh,
            )
        except (RemoteError, ContentionError) as exc:
            self.echo(f"warning: could not claim: {exc}")
            return None
        self._dirty = False
        if change.tasks and change.task is None:
            self.echo(f"requeued: {change.message}")
        return change.task

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
            if following is None:
                self._dirty = True
                self._wake.set()
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
            return self._runner_model(running=[t for t in self.running_task_ids if t != report.task_id])

        return self.delivery.record(report, heartbeat=heartbeat, claim=claim)

    # --- heartbeats ---

    def _state_now(self) -> tuple[RunnerState, str | None]:
        if self._stopping.is_set():
            return RunnerState.STOPPING, None
        return self.health.state(mono=self.clock.monotonic(), busy=bool(self.running_task_ids))

    def _runner_model(
        self, *, running: list[str], state: RunnerState | None = None, now: datetime | None = None
    ) -> Runner:
        current, message = self._state_now()
        return Runner(
            name=self.config.name,
            capabilities=self.config.capabilities,
            slots=self.config.slots,
            version=__version__,
            host=platform.node() or None,
            platform=sys.platform,
            started_at=self._started_at,
            last_heartbeat=now or self.clock.now(),
            heartbeat_seconds=self.config.heartbeat_seconds,
            state=state or current,
            running=running,
            cooldown_until=self.health.cooldown_until,
            message=message,
            max_permission_mode=self.ceiling.max_permission_mode,
        )

    def _heartbeat(self, *, state: RunnerState | None = None) -> None:
        running = self.running_task_ids
        try:
            self.store.update(
                lambda s, now: transitions.heartbeat(
                    s, runner=self._runner_model(running=running, state=state, now=now), now=now
                )
            )
            self._last_heartbeat = self.clock.monotonic()
        except (RemoteError, ContentionError) as exc:
            self.echo(f"warning: heartbeat failed: {exc}")

    def _heartbeat_if_due(self) -> None:
        mono = self.clock.monotonic()
        if self._last_heartbeat is None or mono - self._last_heartbeat >= self.config.heartbeat_seconds:
            self._heartbeat()
        if self._last_prune is None or mono - self._last_prune >= _PRUNE_EVERY_SECONDS:
            self._prune_logs()

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
        self._heartbeat(state=RunnerState.STOPPED)

    def _prune_logs(self) -> None:
        self._last_prune = self.clock.monotonic()
        if self.config.log_retention_days <= 0 or not self.log_dir.is_dir():
            return
        cutoff = self.clock.now().timestamp() - self.config.log_retention_days * 86400
        for path in self.log_dir.glob("*.log"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue
