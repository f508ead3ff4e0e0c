"""One attempt at a task, start to report: prepare the worktree, run the agent while its lease is kept, commit
what it left, and decide what the outcome means. The runner records the report; this module never writes the
state branch itself."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from coordinator.agents.base import Agent, AgentOutcome, AgentRequest, AgentResult, failed_verdict
from coordinator.errors import WorktreeError
from coordinator.gitcmd import GitIdentity
from coordinator.models import AttemptResult, Task
from coordinator.modes import Mode, ModesConfig
from coordinator.runner.clock import Clock
from coordinator.runner.config import RunnerConfig
from coordinator.runner.leases import LeaseKeeper
from coordinator.runner.outbox import Report
from coordinator.runner.policy import Decision, Situation, decide
from coordinator.runner.prompt import build_prompt
from coordinator.runner.slot import Slot
from coordinator.runner.worktree import Worktree, WorktreeManager

T = TypeVar("T")


class AttemptRunner:
    """Runs attempts for one runner (shared by its slot threads)."""

    def __init__(
        self,
        *,
        config: RunnerConfig,
        agent: Agent,
        worktrees: WorktreeManager,
        leases: LeaseKeeper,
        modes: Callable[[], ModesConfig],
        clock: Clock,
        echo: Callable[[str], None],
    ) -> None:
        self.config = config
        self.agent = agent
        self.worktrees = worktrees
        self.leases = leases
        self._modes = modes
        self._clock = clock
        self._echo = echo
        self.identity = GitIdentity(name=f"coordinator ({config.name})")
        self.log_dir = config.resolved_log_dir()
        self._fetch_lock = threading.Lock()
        self._last_base_fetch: float | None = None

    def log_path(self, task_id: str, attempt: int) -> Path:
        """Where the full output of one attempt is kept on this machine."""
        return self.log_dir / f"{task_id}.attempt-{attempt}.log"

    def mode(self, name: str) -> tuple[str, Mode]:
        """The named mode from the branch, or the default mode when it is not configured (any more)."""
        modes = self._modes()
        if name in modes.modes:
            return name, modes.modes[name]
        self._echo(f"warning: mode '{name}' is not configured; using '{modes.default_mode}'")
        return modes.default_mode, modes.modes[modes.default_mode]

    def run(self, slot: Slot, record: Callable[[Report, Decision], T]) -> T:
        """One attempt at ``slot.task``; ``record`` gets its report and what the outcome means before the worktree
        is removed (the result lands a worktree removal sooner), and what it returns is returned."""
        task = slot.task
        mode_name, mode = self.mode(task.mode)
        started = self._clock.now()
        try:
            self._fetch_base_if_due()
            worktree = self.worktrees.create(task.id, self.worktrees.resolve_base(self.config.base))
        except WorktreeError as exc:
            result = AgentResult(AgentOutcome.EXECUTION_ERROR, 0.0, error=str(exc))
            reason = f"could not prepare the worktree: {exc.what}"
            decision = Decision("fail", reason, reason=reason)
            return record(self._report(slot, mode, result, decision, started, None, None), decision)
        try:
            result = self._run_agent(slot, worktree, mode_name, mode)
            commit = None
            if result.outcome == AgentOutcome.SUCCEEDED:
                commit, result = self._commit(worktree, task, result)
            situation = Situation(
                runner=self.config.name,
                mode_name=mode_name,
                mode=mode,
                now=self._clock.now(),
                shutting_down=slot.shutting_down,
                late=slot.lease_lost,
            )
            decision = decide(result, situation)
            return record(self._report(slot, mode, result, decision, started, worktree, commit), decision)
        finally:
            try:
                self.worktrees.remove(worktree)
            except WorktreeError as exc:
                self._echo(f"warning: could not remove the worktree of {task.id}: {exc}")

    def request(
        self, task: Task, *, attempt: int, workdir: Path, branch: str, mode_name: str, mode: Mode
    ) -> AgentRequest:
        """What the agent gets for one attempt (also what ``--dry-run`` shows)."""
        return AgentRequest(
            task_id=task.id,
            title=task.title,
            prompt=build_prompt(task, branch=branch, attempt=attempt),
            workdir=workdir,
            mode_name=mode_name,
            mode=mode,
            attempt=attempt,
            log_path=self.log_path(task.id, attempt),
            env=self.identity.env(),
        )

    def _run_agent(self, slot: Slot, worktree: Worktree, mode_name: str, mode: Mode) -> AgentResult:
        request = self.request(
            slot.task,
            attempt=slot.attempt,
            workdir=worktree.path,
            branch=worktree.branch,
            mode_name=mode_name,
            mode=mode,
        )
        with self.leases.kept(slot):
            result = self.agent.run(request, slot.stop)
        verdict = failed_verdict(result.summary) if result.outcome == AgentOutcome.SUCCEEDED else None
        if verdict is not None:
            result = replace(result, outcome=AgentOutcome.EXECUTION_ERROR, error=f"agent's verdict: {verdict}")
        return result

    def _commit(self, worktree: Worktree, task: Task, result: AgentResult) -> tuple[str | None, AgentResult]:
        message = f"{task.title}\n\n{(result.summary or '').strip()}\n\nCoordinator-Task: {task.id}".strip()
        try:
            return self.worktrees.record_work(worktree, message), result
        except WorktreeError as exc:
            return None, replace(result, outcome=AgentOutcome.EXECUTION_ERROR, error=f"could not commit: {exc}")

    def _fetch_base_if_due(self) -> None:
        # Back-to-back tasks share one fetch of the base: a base half a minute old is as good as a fresh one,
        # and a fetch per task would be a sixth of a short task's cost.
        if not self.config.fetch_base:
            return
        with self._fetch_lock:
            last = self._last_base_fetch
            if last is not None and self._clock.monotonic() - last < self.config.fetch_base_every_seconds:
                return
            fetched = self.worktrees.fetch_base()
            if not fetched:
                self._echo(f"warning: could not fetch the base branch ({fetched.reason}); using the local one")
            self._last_base_fetch = self._clock.monotonic()

    def _report(
        self,
        slot: Slot,
        mode: Mode,
        result: AgentResult,
        decision: Decision,
        started: datetime,
        worktree: Worktree | None,
        commit: str | None,
    ) -> Report:
        attempt = AttemptResult(
            model=result.model or mode.model,
            outcome_detail=result.outcome.value,
            started_at=started,
            finished_at=self._clock.now(),
            duration_seconds=round(result.duration_seconds, 3),
            cost_usd=result.cost_usd,
            tokens=result.tokens,
            denials=list(result.denials),
            turns=result.turns,
            session_id=result.session_id,
            summary=result.summary or None,
            error=result.error,
            branch=worktree.branch if worktree is not None else None,
            commit=commit,
            log=str(self.log_path(slot.task.id, slot.attempt)) if worktree is not None else None,
        )
        return Report(
            kind=decision.record,
            task_id=slot.task.id,
            attempt=slot.attempt,
            runner=self.config.name,
            result=attempt,
            reason=decision.reason or "",
            retryable=decision.retryable,
            counted=decision.counted,
            next_mode=decision.next_mode,
        )
