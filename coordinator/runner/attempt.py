"""One attempt at a task, start to report: prepare the worktree, run the agent while its lease is kept, commit
what it left (a failed attempt's work too, as work in progress the next attempt continues), and decide what the
outcome means. The runner records the report; this module never writes the state branch itself."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from coordinator.agents.base import (
    Agent,
    AgentOutcome,
    AgentRequest,
    AgentResult,
    failed_verdict,
    needs_input_verdict,
)
from coordinator.errors import SecretsInChanges, WorktreeError
from coordinator.gitcmd import GitIdentity, agent_git_env
from coordinator.models import PLAN_FILE, AttemptOutcome, AttemptResult, Denial, Task
from coordinator.modes import Mode, ModesConfig
from coordinator.redaction import Redactor
from coordinator.runner.clock import Clock
from coordinator.runner.config import RunnerConfig
from coordinator.runner.github_side import Gate, RunnerGitHub
from coordinator.runner.leases import LeaseKeeper
from coordinator.runner.outbox import Report
from coordinator.runner.permissions import Ceiling
from coordinator.runner.plan_work import PlanWork, in_plan
from coordinator.runner.plans import read_plan
from coordinator.runner.policy import Decision, Situation, decide
from coordinator.runner.prompt import build_prompt, build_resume_prompt
from coordinator.runner.slot import Slot
from coordinator.runner.worktree import Worktree, WorktreeManager

T = TypeVar("T")
_DENIALS_NAMED = 3
#: What the claude CLI says (rc 1) when asked to resume a session it does not have.
_SESSION_GONE = "No conversation found with session ID"


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
        ceiling: Ceiling,
        redactor: Redactor,
        clock: Clock,
        echo: Callable[[str], None],
        github: RunnerGitHub | None = None,
        plan_work: PlanWork | None = None,
    ) -> None:
        self.config = config
        self.plan_work = plan_work
        self.github = github
        self.redactor = redactor
        self.agent = agent
        self.worktrees = worktrees
        self.leases = leases
        self.ceiling = ceiling
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

    def request(
        self,
        task: Task,
        *,
        attempt: int,
        workdir: Path,
        branch: str,
        mode_name: str,
        mode: Mode,
        description: str | None = None,
    ) -> AgentRequest:
        """What the agent gets for one attempt (also what ``--dry-run`` shows): the mode as this runner's owner
        allows it, and an environment without the runner's credentials. ``description``: the issue's part of
        the prompt for a GitHub task."""
        env = {**self.identity.env(), "COORDINATOR_TASK_KIND": task.kind}
        if not self.config.agent_git_credentials:
            env.update(agent_git_env())
        session, seen = self._session_to_resume(task)
        fresh = build_prompt(task, branch=branch, attempt=attempt, description=description)
        return AgentRequest(
            task_id=task.id,
            title=task.title,
            prompt=fresh if session is None else build_resume_prompt(task, seen=seen),
            resume_session=session,
            workdir=workdir,
            mode_name=mode_name,
            mode=self.ceiling.apply(mode),
            attempt=attempt,
            log_path=self.log_path(task.id, attempt),
            env=env,
        )

    def _session_to_resume(self, task: Task) -> tuple[str | None, int]:
        """The session this runner continues for ``task`` (it ran the attempt that left it), and the last
        feedback that attempt's prompt held (what came after is new to the session); (None, 0) to start fresh."""
        keep = task.resume
        if keep is None or keep.runner != self.config.name:
            return None, 0
        earlier = next((a for a in task.attempts if a.number == keep.attempt), None)
        if earlier is None:
            return None, 0
        return keep.session_id, earlier.feedback_seen

    def run(self, slot: Slot, record: Callable[[Report, Decision], T]) -> T:
        """One attempt at ``slot.task``; ``record`` gets its report and what the outcome means before the worktree
        is removed (the result lands a worktree removal sooner), and what it returns is returned."""
        task = slot.task
        mode_name, mode = self.mode(task.mode)
        if task.timeout_seconds is not None:  # a pipeline phase's own timeout
            mode = mode.model_copy(update={"timeout_seconds": task.timeout_seconds})
        started = self._clock.now()
        refusal = self.ceiling.refusal(mode)
        if refusal is not None:
            result = AgentResult(AgentOutcome.POLICY_REFUSED, 0.0, model=mode.model, error=refusal)
            return record(*self._conclude(slot, mode_name, mode, result, started, None, None))
        gate = self._gate(task)
        if gate.refusal is not None:
            return record(*self._refused(slot, mode_name, gate, started))
        try:
            self._fetch_base_if_due()
            base = self.worktrees.resolve_base(self.config.base)
            plan_base = self.plan_work.base(task) if self.plan_work is not None else None
            worktree = self.worktrees.create(
                task.id,
                plan_base or base,
                takeover=_takeover_note(task, slot.attempt, self.config.name),
                catch_up_to=gate.catch_up_to or plan_base,
            )
        except WorktreeError as exc:
            result = AgentResult(
                AgentOutcome.MACHINE_FAULT, 0.0, model=mode.model, error=f"could not prepare the worktree: {exc}"
            )
            return record(*self._conclude(slot, mode_name, mode, result, started, None, None))
        keep = False
        try:
            with self.leases.kept(slot):
                result = self._run_agent(slot, worktree, mode_name, mode, gate.description)
                commit, result, keep = self._keep_work(slot, worktree, mode_name, mode, result, gate.trailer)
                result = self._plan_after(slot, worktree, commit, result)
                report, decision = self._conclude(slot, mode_name, mode, result, started, worktree, commit)
                slot.recording = True
                return record(report, decision)
        finally:
            if not keep:
                try:
                    self.worktrees.remove(worktree)
                except WorktreeError as exc:
                    self._echo(f"warning: could not remove the worktree of {task.id}: {exc}")

    def _gate(self, task: Task) -> Gate:
        """For a GitHub task: its trigger verified on GitHub, and the issue's part of the prompt."""
        if task.github is None:
            return Gate()
        if self.github is None:  # claims never give one to a runner without GitHub; a hand-edited lease might
            return Gate(refusal="this runner has no GitHub token (COORDINATOR_GITHUB_TOKEN)", transient=True)
        return self.github.gate(task)

    def _refused(self, slot: Slot, mode_name: str, gate: Gate, started: datetime) -> tuple[Report, Decision]:
        """The report of a GitHub task that may not run: failed for good when its trigger is not genuine,
        handed back (and claims paused) when GitHub could not be asked."""
        why = f"GitHub: {gate.refusal}"
        result = AttemptResult(started_at=started, finished_at=self._clock.now(), error=why)
        base = Report(kind="fail", task_id=slot.task.id, attempt=slot.attempt, runner=self.config.name, result=result)
        if gate.transient:
            retry_at = self._clock.now() + timedelta(seconds=gate.retry_after) if gate.retry_after else None
            report = base.model_copy(update={"reason": why, "counted": False})
            return report, Decision(
                "fail", f"{why}; handed back", counted=False, reason=why, api_pause=True, retry_at=retry_at
            )
        report = base.model_copy(update={"reason": f"not run: {gate.refusal}", "retryable": False, "refuse": True})
        return report, Decision("fail", f"not run: {gate.refusal}", retryable=False, reason=why)

    def _run_agent(
        self, slot: Slot, worktree: Worktree, mode_name: str, mode: Mode, description: str | None
    ) -> AgentResult:
        request = self.request(
            slot.task,
            attempt=slot.attempt,
            workdir=worktree.path,
            branch=worktree.branch,
            mode_name=mode_name,
            mode=mode,
            description=description,
        )
        if self.plan_work is not None and in_plan(slot.task):
            try:
                early = self.plan_work.before_agent(slot, worktree, request)
            except WorktreeError as exc:
                early = AgentResult(AgentOutcome.MACHINE_FAULT, 0.0, error=f"plan branches: {exc}")
            if early is not None:
                return early
        result = self._resumed_or_fresh(slot, request, worktree.branch, description)
        if result.outcome != AgentOutcome.SUCCEEDED:
            return result
        question = needs_input_verdict(result.summary)
        if question is not None:
            return replace(result, outcome=AgentOutcome.NEEDS_INPUT, error=question)
        verdict = failed_verdict(result.summary)
        if verdict is not None:
            return replace(result, outcome=AgentOutcome.EXECUTION_ERROR, error=f"agent's verdict: {verdict}")
        if slot.task.kind == "plan":  # a plan that cannot be used is a failed attempt (it escalates like one)
            allowed = self.plan_work.subtask_capabilities() if self.plan_work is not None else []
            slot.plan, why = read_plan(worktree.path, slot.task, capabilities=allowed)
            if why is not None:
                return replace(result, outcome=AgentOutcome.EXECUTION_ERROR, error=why)
            (worktree.path / PLAN_FILE).unlink(missing_ok=True)  # the plan is on the state branch, not the code
        return result

    def _plan_after(self, slot: Slot, worktree: Worktree, commit: str | None, result: AgentResult) -> AgentResult:
        """A plan's or a child's attempt: its verdict as verification, and its work where the plan needs it."""
        if self.plan_work is None or not in_plan(slot.task):
            return result
        result = self.plan_work.judge(slot, result)
        if result.outcome == AgentOutcome.SUCCEEDED:
            try:
                self.plan_work.after_success(slot, worktree, commit)
            except WorktreeError as exc:
                return replace(result, outcome=AgentOutcome.MACHINE_FAULT, error=f"plan branches: {exc}")
        return result

    def _resumed_or_fresh(self, slot: Slot, request: AgentRequest, branch: str, description: str | None) -> AgentResult:
        """Run the agent; a session to resume that the agent no longer has (its files were cleaned up, another
        user ran it) falls back to a fresh start in the same attempt. The result says which happened."""
        keep = slot.task.resume
        if request.resume_session is None:
            why = f"its session is on runner {keep.runner}" if keep is not None else None
            return replace(self.agent.run(request, slot.stop), fresh_because=why)
        result = self.agent.run(request, slot.stop)
        said = f"{result.error or ''}\n{result.summary}"
        if result.outcome == AgentOutcome.SUCCEEDED or _SESSION_GONE not in said:
            return replace(result, resumed_session=request.resume_session)
        self._echo(f"{slot.task.id}: session {request.resume_session} could not be resumed; starting fresh")
        prompt = build_prompt(slot.task, branch=branch, attempt=slot.attempt, description=description)
        fresh = replace(request, resume_session=None, prompt=prompt)
        return replace(self.agent.run(fresh, slot.stop), fresh_because="its session could not be resumed here")

    def _keep_work(
        self,
        slot: Slot,
        worktree: Worktree,
        mode_name: str,
        mode: Mode,
        result: AgentResult,
        trailer: str | None = None,
    ) -> tuple[str | None, AgentResult, bool]:
        """Commit what the attempt left, whatever its outcome: (the commit holding its work, the result as judged
        now, whether the worktree must stay for a later attempt to rescue)."""
        if not worktree.path.is_dir():
            return None, result, False
        message = _commit_message(slot, mode_name, result)
        try:
            commit = self.worktrees.record_work(worktree, message, trailer=trailer)
        except SecretsInChanges as exc:
            return None, replace(result, outcome=AgentOutcome.SECRET_FOUND, error=str(exc)), False
        except WorktreeError as exc:
            # The work is still in the worktree: leave it; the next runner of this clone commits it on takeover.
            fault = f"could not commit the agent's work (it stays in {worktree.path}): {exc}"
            return None, replace(result, outcome=AgentOutcome.MACHINE_FAULT, error=fault), True
        if result.outcome == AgentOutcome.SUCCEEDED and result.denials and commit is None:
            result = replace(result, outcome=AgentOutcome.PERMISSION_DENIED, error=_denial_reason(result.denials, mode))
        if commit is not None:
            why_not = self.worktrees.publish(worktree)
            if why_not:
                self._echo(f"warning: {worktree.branch} not copied to {self.worktrees.repo}: {why_not}")
        return commit, result, False

    def _conclude(
        self,
        slot: Slot,
        mode_name: str,
        mode: Mode,
        result: AgentResult,
        started: datetime,
        worktree: Worktree | None,
        commit: str | None,
    ) -> tuple[Report, Decision]:
        situation = Situation(
            runner=self.config.name,
            mode_name=mode_name,
            mode=mode,
            now=self._clock.now(),
            shutting_down=slot.shutting_down,
            late=slot.lease_lost,
            api_trouble_since=api_trouble_since(slot.task, before=slot.attempt),
            api_give_up_after=timedelta(hours=self.config.api_error_give_up_hours),
        )
        decision = decide(result, situation)
        if slot.for_good is not None and decision.record == "fail":
            decision = Decision("fail", slot.for_good, retryable=False, reason=slot.for_good)
        return self._report(slot, mode, result, decision, started, worktree, commit), decision

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
            cost_partial=result.cost_partial or None,
            tokens=result.tokens,
            denials=list(result.denials),
            turns=result.turns,
            session_id=result.session_id,
            summary=result.summary or None,
            error=result.error,
            branch=worktree.branch if worktree is not None else None,
            commit=commit,
            log=str(self.log_path(slot.task.id, slot.attempt)) if worktree is not None else None,
            resumed_session=result.resumed_session,
            fresh_because=result.fresh_because,
            verification=slot.verification,
        )
        # Whatever reaches the state branch (git history, forever) is redacted once more, field by field.
        return Report(
            kind=decision.record,
            task_id=slot.task.id,
            attempt=slot.attempt,
            runner=self.config.name,
            result=self.redactor.redact_deep(attempt),
            reason=self.redactor.redact(decision.reason or ""),
            retryable=decision.retryable,
            counted=decision.counted,
            next_mode=decision.next_mode,
            plan=slot.plan if decision.record == "complete" else None,
            question=self.redactor.redact(result.error or "") if decision.record == "ask" else None,
        )


def api_trouble_since(task: Task, *, before: int) -> datetime | None:
    """When the task's current run of uncounted API-error attempts (before attempt ``before``) began, if any."""
    since: datetime | None = None
    for attempt in reversed([a for a in task.attempts if a.number < before and a.round == task.round]):
        if attempt.outcome != AttemptOutcome.RELEASED or attempt.outcome_detail != AgentOutcome.API_ERROR.value:
            break
        since = attempt.started_at or since
    return since


def _takeover_note(task: Task, attempt: int, runner: str) -> str | None:
    """The commit message for work a dead attempt left in a worktree of this clone, when there was one."""
    earlier = [a for a in task.attempts if a.number < attempt]
    if not earlier:
        return None
    last = earlier[-1]
    return (
        f"WIP {task.id}: work left by attempt {last.number} ({last.mode}) of {last.runner} ({last.outcome.value}), "
        f"saved by {runner}\n\nCoordinator-Task: {task.id}\nCoordinator-Attempt: {last.number}"
    )


def _commit_message(slot: Slot, mode_name: str, result: AgentResult) -> str:
    task = slot.task
    trailers = f"Coordinator-Task: {task.id}\nCoordinator-Attempt: {slot.attempt}"
    summary = (result.summary or "").strip()
    body = f"{summary}\n\n" if summary else ""
    if result.outcome == AgentOutcome.SUCCEEDED:
        return f"{task.title}\n\n{body}{trailers}"
    error_lines = (result.error or "").strip().splitlines()
    why = error_lines[0][:200] if error_lines else result.outcome.value
    return (
        f"WIP {task.id}: attempt {slot.attempt} ({mode_name}) ended {result.outcome.value}\n\n{why}\n\n{body}"
        f"{trailers}\nCoordinator-Work-In-Progress: true"
    )


def _denial_reason(denials: tuple[Denial, ...], mode: Mode) -> str:
    shown = ", ".join(f"{d.tool}({d.target})" if d.target else d.tool for d in denials[:_DENIALS_NAMED])
    more = f" and {len(denials) - _DENIALS_NAMED} more" if len(denials) > _DENIALS_NAMED else ""
    return (
        f"the agent changed nothing and {len(denials)} tool call(s) were denied: {shown}{more}; allow them with the "
        f"mode's permission_mode (now {mode.permission_mode}) or allowed_tools ('coordinator modes --set FILE')"
    )
