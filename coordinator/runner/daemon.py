"""The runner: turns queued tasks into agent runs on this machine, one lease at a time.

The loop, in order: heartbeat → (requeue expired leases and) claim the best task this runner can run → create a
git worktree on ``coordinator/<task>`` → run the agent (renewing the lease meanwhile) → record the attempt →
remove the worktree → repeat. When idle it polls with ``git ls-remote`` and fetches only when the state ref
moved; it makes no GitHub API calls at all. Up to ``slots`` tasks run at once, each in its own thread.
"""

from __future__ import annotations

import platform
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from coordinator import __version__
from coordinator.agents.base import (
    ESCALATING_OUTCOMES,
    Agent,
    AgentOutcome,
    AgentRequest,
    AgentResult,
    failed_verdict,
)
from coordinator.core import transitions
from coordinator.core.state import State
from coordinator.core.transitions import Change
from coordinator.errors import (
    ContentionError,
    CoordinatorError,
    InvalidTransition,
    RemoteError,
    TaskNotFound,
)
from coordinator.models import AttemptResult, Runner, RunnerState, Task, TaskStatus, Tokens
from coordinator.modes import Mode
from coordinator.runner.config import RunnerConfig
from coordinator.runner.outbox import Outbox, Report
from coordinator.runner.prompt import build_prompt
from coordinator.runner.worktree import GitIdentity, Worktree, WorktreeError, WorktreeManager
from coordinator.store.store import StateStore
from coordinator.timeutil import utcnow

EXIT_OK = 0
EXIT_MISCONFIGURED = 4

_DELIVERY_BACKOFF_MAX = 60.0
_PRUNE_EVERY_SECONDS = 6 * 3600
_MIN_COOLDOWN = timedelta(minutes=1)


@dataclass
class Slot:
    """One task being worked on by this runner."""

    task: Task
    attempt: int
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    shutting_down: bool = False
    thread: threading.Thread | None = None


class RunnerDaemon:
    """One runner process. ``run()`` blocks until stopped (or, with ``once``, until nothing is claimable)."""

    def __init__(
        self,
        config: RunnerConfig,
        *,
        store: StateStore,
        agent: Agent,
        worktrees: WorktreeManager,
        clock: Callable[[], datetime] = utcnow,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.config = config
        self.store = store
        self.agent = agent
        self.worktrees = worktrees
        self.clock = clock
        self.echo = echo
        self.log_dir = config.resolved_log_dir()
        self.outbox = Outbox(self.log_dir / "outbox")
        self.identity = GitIdentity(name=f"coordinator ({config.name})")
        self._slots: dict[str, Slot] = {}
        self._slots_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._force = threading.Event()
        self._started_at = clock()
        self._last_heartbeat = 0.0
        self._last_prune = 0.0
        self._last_base_fetch = -1e9
        self._fetch_lock = threading.Lock()
        self._dirty = True  # the next claim must look at the branch even if ls-remote says nothing moved
        self._cooldown_until: datetime | None = None
        self._pause_until = 0.0
        self._misconfigured: str | None = None

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
                if self._claiming_allowed() and self._free_slots() > 0:
                    if moved or self._dirty or self._expiry_due(self.clock()):
                        task = self._claim(assume_fresh=moved is not None and not self._dirty)
                        if task is not None:
                            self._start(task)
                            continue  # fill the other free slots right away
                    if once and not self._slots and not self._dirty:
                        break
                elif once and not self._slots:
                    break  # misconfigured or cooling down: --once has nothing more to do
                self._wake.wait(timeout=self.config.poll_seconds)
                self._wake.clear()
        finally:
            self._shutdown()
        return EXIT_MISCONFIGURED if self._misconfigured else EXIT_OK

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
            self._watch_leases()
        return moved

    def _startup(self) -> None:
        removed = self.worktrees.clean_leftovers(active=())
        if removed:
            self.echo(f"removed {len(removed)} leftover worktree(s) of a crashed run: {', '.join(removed)}")
        self._prune_logs()
        self._deliver_pending()
        self._heartbeat(state=RunnerState.IDLE)

    # --- claiming ---

    def _free_slots(self) -> int:
        with self._slots_lock:
            return self.config.slots - len(self._slots)

    def _claiming_allowed(self) -> bool:
        if self._misconfigured is not None:
            return False
        now = self.clock()
        if self._cooldown_until is not None:
            if now < self._cooldown_until:
                return False
            self.echo("usage limit reset: claiming again")
            self._cooldown_until = None
            self._dirty = True
        return time.monotonic() >= self._pause_until

    def _expiry_due(self, now: datetime) -> bool:
        mine = set(self.running_task_ids)
        return any(
            t.lease is not None and t.lease.expires_at <= now and t.id not in mine
            for t in self.store.state.running_tasks()
        )

    def _claim(self, *, assume_fresh: bool) -> Task | None:
        running = self.running_task_ids
        config = self.config

        def claim(state: State, now: datetime) -> Change:
            return transitions.claim(
                state,
                runner=config.name,
                capabilities=config.capabilities,
                lease_ttl=timedelta(seconds=config.lease_ttl_seconds),
                now=now,
                heartbeat=self._runner_model(now, running=running),
            )

        try:
            change = self.store.update(claim, assume_fresh=assume_fresh)
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

    def _watch_leases(self) -> None:
        """Stop agents whose lease is gone (cancelled, or taken over); the cached state is enough."""
        state = self.store.state
        with self._slots_lock:
            slots = list(self._slots.values())
        for slot in slots:
            current = state.tasks.get(slot.task.id)
            if current is None or slot.stop.is_set():
                continue
            held = (
                current.status == TaskStatus.RUNNING
                and current.lease is not None
                and current.lease.runner == self.config.name
                and current.lease.attempt == slot.attempt
            )
            if not held:
                self._lease_lost(slot, f"{current.status.value}")

    def _lease_lost(self, slot: Slot, why: str) -> None:
        slot.stop.set()
        self.echo(f"{slot.task.id}: lease gone ({why}); stopping its agent")

    # --- one task ---

    def _work(self, slot: Slot) -> None:
        """A slot's thread: run the task, and the next one its result commit claimed, until there is none."""
        while True:
            task = slot.task
            following: Task | None = None
            try:
                following = self._attempt(slot)
            except Exception as exc:  # a bug must not kill the runner; hand the task back instead
                self.echo(f"error: {task.id} attempt {slot.attempt} crashed in the runner: {exc!r}")
                self._record(
                    Report(
                        kind="fail",
                        task_id=task.id,
                        attempt=slot.attempt,
                        runner=self.config.name,
                        result=AttemptResult(error=repr(exc)),
                        reason=f"runner error: {exc!r}",
                        counted=False,
                    ),
                    claim_next=False,
                )
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

    def _log_path(self, task_id: str, attempt: int) -> Path:
        """Where the full output of one attempt is kept on this machine."""
        return self.log_dir / f"{task_id}.attempt-{attempt}.log"

    def _mode(self, name: str) -> tuple[str, Mode]:
        modes = self.store.state.modes
        if name in modes.modes:
            return name, modes.modes[name]
        self.echo(f"warning: mode '{name}' is not configured; using '{modes.default_mode}'")
        return modes.default_mode, modes.modes[modes.default_mode]

    def _attempt(self, slot: Slot) -> Task | None:
        """One attempt, start to recorded result; returns the task claimed in the same commit, if any."""
        task = slot.task
        mode_name, mode = self._mode(task.mode)
        log_path = self._log_path(task.id, slot.attempt)
        started = self.clock()
        try:
            self._fetch_base_if_due()
            base = self.worktrees.resolve_base(self.config.base)
            worktree = self.worktrees.create(task.id, base)
        except WorktreeError as exc:
            return self._record(
                Report(
                    kind="fail",
                    task_id=task.id,
                    attempt=slot.attempt,
                    runner=self.config.name,
                    result=AttemptResult(error=str(exc), started_at=started, finished_at=self.clock()),
                    reason=f"could not prepare the worktree: {exc.what}",
                )
            )
            return
        try:
            request = AgentRequest(
                task_id=task.id,
                title=task.title,
                prompt=build_prompt(task, branch=worktree.branch, attempt=slot.attempt),
                workdir=worktree.path,
                mode_name=mode_name,
                mode=mode,
                attempt=slot.attempt,
                log_path=log_path,
                env=self.identity.env(),
            )
            renewer = threading.Thread(target=self._renew, args=(slot,), name=f"renew-{task.id}", daemon=True)
            renewer.start()
            try:
                result = self.agent.run(request, slot.stop)
            finally:
                slot.done.set()
                renewer.join()
            verdict = failed_verdict(result.summary) if result.outcome == AgentOutcome.SUCCEEDED else None
            if verdict is not None:
                result = replace(result, outcome=AgentOutcome.EXECUTION_ERROR, error=f"agent's verdict: {verdict}")
            commit = self._commit(worktree, task, result) if result.outcome == AgentOutcome.SUCCEEDED else None
            if isinstance(commit, WorktreeError):
                result = replace(result, outcome=AgentOutcome.EXECUTION_ERROR, error=f"could not commit: {commit}")
                commit = None
            return self._report(slot, mode_name, mode, result, started, worktree, commit)
        finally:
            try:
                self.worktrees.remove(worktree)
            except WorktreeError as exc:
                self.echo(f"warning: could not remove the worktree of {task.id}: {exc}")

    def _fetch_base_if_due(self) -> None:
        # Back-to-back tasks share one fetch of the base: a base half a minute old is as good as a fresh one,
        # and a fetch per task would be a sixth of a short task's cost.
        if not self.config.fetch_base:
            return
        with self._fetch_lock:
            if time.monotonic() - self._last_base_fetch < self.config.fetch_base_every_seconds:
                return
            result = self.worktrees.fetch_base()
            if not result:
                self.echo(f"warning: could not fetch the base branch ({result.reason}); using the local one")
            self._last_base_fetch = time.monotonic()

    def _commit(self, worktree: Worktree, task: Task, result: AgentResult) -> str | WorktreeError | None:
        message = f"{task.title}\n\n{(result.summary or '').strip()}\n\nCoordinator-Task: {task.id}".strip()
        try:
            return self.worktrees.record_work(worktree, message)
        except WorktreeError as exc:
            return exc

    def _renew(self, slot: Slot) -> None:
        config = self.config
        while not slot.done.wait(config.renew_every_seconds):
            if slot.stop.is_set():
                return
            try:
                self.store.update(
                    lambda state, now: transitions.renew(
                        state,
                        task_id=slot.task.id,
                        runner=config.name,
                        lease_ttl=timedelta(seconds=config.lease_ttl_seconds),
                        now=now,
                    )
                )
            except (InvalidTransition, TaskNotFound) as exc:
                self._lease_lost(slot, str(exc))
                return
            except (RemoteError, ContentionError) as exc:
                self.echo(f"warning: could not renew the lease of {slot.task.id} (will retry): {exc}")

    def _report(
        self,
        slot: Slot,
        mode_name: str,
        mode: Mode,
        result: AgentResult,
        started: datetime,
        worktree: Worktree,
        commit: str | None,
    ) -> Task | None:
        task, name = slot.task, self.config.name
        finished = self.clock()
        attempt_result = AttemptResult(
            model=result.model or mode.model,
            outcome_detail=result.outcome.value,
            started_at=started,
            finished_at=finished,
            duration_seconds=round(result.duration_seconds, 3),
            cost_usd=result.cost_usd,
            tokens=Tokens(
                input=result.tokens.input,
                output=result.tokens.output,
                cache_read=result.tokens.cache_read,
                cache_creation=result.tokens.cache_creation,
            ),
            turns=result.turns,
            session_id=result.session_id,
            summary=result.summary or None,
            error=result.error,
            branch=worktree.branch,
            commit=commit,
            log=str(self._log_path(task.id, slot.attempt)),
        )
        report = Report(kind="fail", task_id=task.id, attempt=slot.attempt, runner=name, result=attempt_result)
        outcome = result.outcome
        cost = f", ${result.cost_usd:.4f}" if result.cost_usd is not None else ""
        if outcome == AgentOutcome.SUCCEEDED:
            report.kind = "complete"
            self.echo(f"{task.id} succeeded in {mode_name} ({result.duration_seconds:.1f}s{cost})")
        elif outcome == AgentOutcome.STOPPED:
            report.counted = not slot.shutting_down
            report.reason = f"runner {name} shut down" if slot.shutting_down else "stopped: the lease was lost"
            self.echo(f"{task.id} stopped ({report.reason})")
        elif outcome in ESCALATING_OUTCOMES:
            report.reason = f"{outcome.value}: {result.error or 'failed'}"
            report.next_mode = mode.escalate_to
            then = f"; next attempt in {mode.escalate_to}" if mode.escalate_to else ""
            self.echo(f"{task.id} failed in {mode_name}: {report.reason}{then}")
        elif outcome == AgentOutcome.API_ERROR:
            report.reason = f"API error: {result.error or result.summary}"
            self._pause_until = time.monotonic() + self.config.api_error_pause_seconds
            self.echo(f"{task.id}: {report.reason}; pausing claims for {self.config.api_error_pause_seconds:.0f}s")
        elif outcome == AgentOutcome.AUTH_ERROR:
            report.counted = False
            report.reason = f"runner {name} cannot authenticate: {result.error or result.summary}"
            self._misconfigured = report.reason
            self.echo(
                f"ERROR: {report.reason}\nERROR: runner {name} stops claiming: fix the credentials of the agent "
                "(ANTHROPIC_API_KEY or CLAUDE_CODE_OAUTH_TOKEN, or `claude /login`) and restart the runner"
            )
        elif outcome == AgentOutcome.USAGE_LIMIT:
            report.counted = False
            # A reset time already past (clock skew, a stale message) must not turn into claim-fail loops.
            until = max(result.resets_at or finished + timedelta(hours=1), finished + _MIN_COOLDOWN)
            report.reason = f"usage limit on runner {name} until {until.isoformat()}"
            self._cooldown_until = until
            self.echo(f"{task.id}: usage limit reached; runner {name} cools down until {until.isoformat()}")
        else:
            report.reason = f"{outcome.value}: {result.error or ''}"
        return self._record(report)

    # --- recording results ---

    def _record(self, report: Report, *, claim_next: bool = True) -> Task | None:
        """Persist, then deliver with retries until it lands (or can never apply).

        With ``claim_next`` (and claiming allowed), the same commit also claims this slot's next task: one
        commit per task instead of two. Returns that task, if one was claimed.
        """
        self.outbox.put(report)
        delay = 1.0
        while True:
            try:
                return self._deliver(report, claim_next=claim_next and self._may_claim_more())
            except (RemoteError, ContentionError) as exc:
                if self._force.is_set():
                    self.echo(f"warning: result of {report.task_id} kept in {self.outbox.folder}: {exc}")
                    return None
                self.echo(f"warning: could not record {report.task_id} (retrying in {delay:.0f}s): {exc}")
                time.sleep(delay)
                delay = min(delay * 2, _DELIVERY_BACKOFF_MAX)

    def _may_claim_more(self) -> bool:
        return not self._stopping.is_set() and self._claiming_allowed()

    def _report_change(self, report: Report, state: State, now: datetime) -> Change:
        if report.kind == "complete":
            return transitions.complete(
                state,
                task_id=report.task_id,
                runner=report.runner,
                result=report.result,
                now=now,
                attempt=report.attempt,
            )
        return transitions.fail(
            state,
            task_id=report.task_id,
            runner=report.runner,
            reason=report.reason or "failed",
            result=report.result,
            retryable=report.retryable,
            counted=report.counted,
            next_mode=report.next_mode if report.next_mode in state.modes.modes else None,
            now=now,
            attempt=report.attempt,
        )

    def _deliver(self, report: Report, *, claim_next: bool = False) -> Task | None:
        config = self.config
        runner = self._runner_model(self.clock(), running=[t for t in self.running_task_ids if t != report.task_id])
        refused: list[CoordinatorError] = []

        def apply(state: State, now: datetime) -> Change:
            try:
                change: Change | None = self._report_change(report, state, now)
            except (InvalidTransition, TaskNotFound) as exc:
                if not claim_next:
                    raise
                refused[:] = [exc]
                change = None
            if claim_next:
                return transitions.claim(
                    state,
                    runner=config.name,
                    capabilities=config.capabilities,
                    lease_ttl=timedelta(seconds=config.lease_ttl_seconds),
                    now=now,
                    heartbeat=runner,
                    after=change,
                )
            assert change is not None
            return transitions.with_heartbeat(change, runner, now)

        claimed: Task | None = None
        try:
            change = self.store.update(apply)
            claimed = change.task if claim_next else None
        except (InvalidTransition, TaskNotFound) as exc:
            refused[:] = [exc]
        if refused:
            self.echo(f"note: result of {report.task_id} attempt {report.attempt} not recorded: {refused[0]}")
        self.outbox.remove(report)
        return claimed

    def _deliver_pending(self) -> None:
        for path, report in self.outbox.pending():
            if report is None:
                path.rename(path.with_suffix(".unreadable"))
                self.echo(f"warning: set aside unreadable pending result {path}")
                continue
            self.echo(f"delivering a result left by an earlier run: {report.task_id} attempt {report.attempt}")
            try:
                self._deliver(report)
            except (RemoteError, ContentionError) as exc:
                self.echo(f"warning: still cannot deliver {path.name}: {exc}")

    # --- heartbeats ---

    def _state_now(self) -> RunnerState:
        if self._stopping.is_set():
            return RunnerState.STOPPING
        if self._misconfigured:
            return RunnerState.MISCONFIGURED
        if self._cooldown_until is not None:
            return RunnerState.COOLING_DOWN
        return RunnerState.BUSY if self.running_task_ids else RunnerState.IDLE

    def _runner_model(self, now: datetime, *, running: list[str], state: RunnerState | None = None) -> Runner:
        return Runner(
            name=self.config.name,
            capabilities=self.config.capabilities,
            slots=self.config.slots,
            version=__version__,
            host=platform.node() or None,
            platform=sys.platform,
            started_at=self._started_at,
            last_heartbeat=now,
            heartbeat_seconds=self.config.heartbeat_seconds,
            state=state or self._state_now(),
            running=running,
            cooldown_until=self._cooldown_until,
            message=self._misconfigured,
        )

    def _heartbeat(self, *, state: RunnerState | None = None) -> None:
        running = self.running_task_ids
        try:
            self.store.update(
                lambda s, now: transitions.heartbeat(
                    s, runner=self._runner_model(now, running=running, state=state), now=now
                )
            )
            self._last_heartbeat = time.monotonic()
        except (RemoteError, ContentionError) as exc:
            self.echo(f"warning: heartbeat failed: {exc}")

    def _heartbeat_if_due(self) -> None:
        if time.monotonic() - self._last_heartbeat >= self.config.heartbeat_seconds:
            self._heartbeat()
        if time.monotonic() - self._last_prune >= _PRUNE_EVERY_SECONDS:
            self._prune_logs()

    # --- shutdown and housekeeping ---

    def _shutdown(self) -> None:
        with self._slots_lock:
            slots = list(self._slots.values())
        if slots:
            grace = 0.0 if self._force.is_set() else self.config.shutdown_grace_seconds
            self.echo(f"stopping: giving {len(slots)} running task(s) {grace:.0f}s to finish")
            deadline = time.monotonic() + grace
            for slot in slots:
                if slot.thread is not None:
                    slot.thread.join(timeout=max(0.0, deadline - time.monotonic()))
            for slot in slots:
                if slot.thread is not None and slot.thread.is_alive():
                    slot.shutting_down = True
                    slot.stop.set()
            for slot in slots:
                if slot.thread is not None:
                    slot.thread.join()
        self._heartbeat(state=RunnerState.STOPPED)

    def _prune_logs(self) -> None:
        self._last_prune = time.monotonic()
        if self.config.log_retention_days <= 0 or not self.log_dir.is_dir():
            return
        cutoff = time.time() - self.config.log_retention_days * 86400
        for path in self.log_dir.glob("*.log"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue
