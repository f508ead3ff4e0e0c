"""Tasks, their attempts and leases."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from coordinator.models.base import Capability, LockName, RunnerName, StateModel, TaskId, Title, UtcDateTime
from coordinator.models.github import FollowUp, GitHubLink
from coordinator.models.plan_state import PlanState, Verification
from coordinator.models.priority import Priority


class TaskStatus(StrEnum):
    """Where a task is in its life."""

    QUEUED = "queued"  # waiting for a runner
    BLOCKED = "blocked"  # waiting for its dependencies to succeed
    RUNNING = "running"  # leased by a runner
    NEEDS_INPUT = "needs_input"  # its agent asked a question: waits for a person's answer
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class AttemptOutcome(StrEnum):
    """How one attempt ended."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LEASE_EXPIRED = "lease_expired"  # the runner vanished; counted
    RELEASED = "released"  # handed back (shutdown, usage limit, misconfigured runner); not counted
    CANCELLED = "cancelled"
    NEEDS_INPUT = "needs_input"  # the agent asked a question and stopped; not counted


class Source(StateModel):
    """Who asked for the task, how, when and with what permission."""

    kind: str = Field(default="cli", description="How the task arrived: cli, github-issue, webhook, ...")
    actor: str = Field(default="unknown", description="Who triggered it (login or local user name).")
    permission: str | None = Field(default=None, description="The actor's permission when triggering.")
    at: UtcDateTime | None = Field(default=None, description="When it was triggered.")
    repository: str | None = Field(default=None, description="owner/name of the GitHub repository, if any.")
    issue: int | None = Field(default=None, description="Issue number, if the task comes from an issue.")
    url: str | None = None
    event: str | None = Field(default=None, description="The triggering event, e.g. 'issues.labeled'.")


class Lease(StateModel):
    """The lock a runner holds on a running task; it expires unless renewed."""

    runner: str
    attempt: int = Field(ge=1, description="Number of the attempt this lease belongs to.")
    acquired_at: UtcDateTime
    expires_at: UtcDateTime
    renewed_at: UtcDateTime | None = None


class Tokens(StateModel):
    """Token counts of an attempt."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0


class Denial(StateModel):
    """A tool call the agent's permissions refused (secrets redacted)."""

    tool: str = Field(description="The tool, e.g. Write or Bash.")
    target: str | None = Field(default=None, description="What it was called on: a file, a command, a URL.")


class AttemptResult(StateModel):
    """What a runner reports when an attempt ends (``coordinator complete --result-file`` takes this)."""

    model: str | None = None
    outcome_detail: str | None = Field(default=None, description="Agent-level outcome, e.g. max_turns.")
    started_at: UtcDateTime | None = None
    finished_at: UtcDateTime | None = None
    duration_seconds: float | None = None
    cost_usd: float | None = None
    cost_partial: bool | None = Field(
        default=None,
        description="True when the run was cut short (timeout, cancel, kill) before the agent reported its total: "
        "cost_usd and tokens are what it showed so far, the cost estimated from list prices.",
    )
    tokens: Tokens | None = None
    denials: list[Denial] = Field(default_factory=list, description="Tool calls the permissions refused.")
    turns: int | None = None
    session_id: str | None = None
    summary: str | None = None
    error: str | None = None
    branch: str | None = None
    commit: str | None = None
    log: str | None = Field(default=None, description="Where the full agent output is kept on the runner.")
    resumed_session: str | None = Field(
        default=None, description="The earlier Claude session this attempt resumed (same runner, same worktree)."
    )
    verification: Verification | None = Field(default=None, description="A verify attempt: what it found.")
    fresh_because: str | None = Field(
        default=None, description="Why an attempt that should have resumed a session started fresh instead."
    )


class Feedback(StateModel):
    """What a person said to the task after it was made: a ``/retry`` hint, a comment while it waited or ran, the
    answer to its question. It goes into the prompt of the task's next attempts (quoted as data)."""

    author: str
    at: UtcDateTime
    text: str = Field(max_length=20_000)
    kind: Literal["retry", "comment", "answer"] = "comment"
    round: int = Field(default=0, ge=0, description="The round it belongs to.")
    url: str | None = Field(default=None, description="Where it was said (a comment's address).")
    seq: int = Field(default=0, ge=0, description="Its number among the task's feedback (1, 2, ...).")


class Question(StateModel):
    """What an agent asked before it could go on (``COORDINATOR-VERDICT: needs-input: <question>``)."""

    text: str = Field(max_length=4_000)
    asked_at: UtcDateTime
    attempt: int = Field(ge=1, description="The attempt that asked.")
    round: int = Field(default=0, ge=0)
    answered_by: str | None = None
    answered_at: UtcDateTime | None = None


class Resume(StateModel):
    """The Claude session the next attempt should continue: only ``runner`` has it (in its worktree's folder), so
    the task is kept for that runner until ``until``; after that any runner starts fresh."""

    # Never starts with "-": it goes on the claude command line after --resume, whose value is optional.
    session_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    runner: str
    attempt: int = Field(ge=1, description="The attempt whose session it is.")
    until: UtcDateTime = Field(description="Other runners leave the task alone until then.")


class Attempt(AttemptResult):
    """One try at a task by one runner, with its result once it ended."""

    number: int = Field(ge=1)
    round: int = Field(default=0, ge=0, description="Incremented by each retry; budgets count per round.")
    runner: str
    mode: str
    outcome: AttemptOutcome = AttemptOutcome.RUNNING
    counted: bool = Field(default=True, description="False when the attempt does not use up the budget.")
    reason: str | None = None
    feedback_seen: int = Field(
        default=0, ge=0, description="The last feedback (its seq) the task had when this attempt started."
    )


class Task(StateModel):
    """A unit of work: one file ``tasks/<shard>/<id>.json`` on the state branch."""

    id: TaskId
    title: Title
    body: str = ""
    source: Source = Field(default_factory=Source)
    group: str | None = Field(
        default=None, description="Tasks sharing a group (e.g. one issue) never run at the same time."
    )
    priority: Priority = Priority.MEDIUM
    deadline: UtcDateTime | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime
    mode: str = Field(default="simple", description="Mode of the next attempt (escalation changes it).")
    requested_mode: str | None = Field(default=None, description="The mode asked for at submission.")
    requires: list[Capability] = Field(default_factory=list, description="Capabilities a runner must have.")
    depends_on: list[str] = Field(default_factory=list, description="Tasks that must succeed first.")
    kind: Literal["task", "plan", "verify", "fix"] = Field(
        default="task", description="plan: its first attempt splits the work into subtasks (see plan.schema.json)."
    )
    parent: str | None = Field(default=None, description="The plan this task is a subtask of.")
    max_subtasks: int | None = Field(default=None, ge=1, le=50, description="A plan's bound on its subtasks.")
    plan: PlanState | None = Field(default=None, description="A plan: how it is verified and approved, its report.")
    merge: str | None = Field(
        default=None, description="A fix child: the subtask whose branch it merges into the plan's (a conflict)."
    )
    run: str | None = Field(
        default=None, description="The pipeline run it is a phase of (pipe-<name>-<n>): a critical failure ends it."
    )
    runner: RunnerName | None = Field(default=None, description="Only this runner may run it.")
    timeout_seconds: int | None = Field(default=None, ge=1, le=24 * 3600, description="Overrides its mode's.")
    critical: bool = Field(
        default=True,
        description="When it fails for good or is cancelled, its waiting dependents are cancelled; when false, "
        "they go on as if it had succeeded (a pipeline's optional phase).",
    )
    locks: list[LockName] = Field(
        default_factory=list, description="Named locks the task holds while it runs (never two holders at once)."
    )
    max_attempts: int = Field(default=3, ge=1, le=100)
    round: int = Field(default=0, ge=0)
    status: TaskStatus = TaskStatus.QUEUED
    status_reason: str | None = None
    lease: Lease | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    github: GitHubLink | None = Field(default=None, description="The issue it came from and what went back there.")
    feedback: list[Feedback] = Field(default_factory=list, description="What people said since it was made.")
    next_mode: str | None = Field(
        default=None, description="The mode of the next attempt, asked for while one ran (/escalate)."
    )
    question: Question | None = Field(default=None, description="The agent's last question (needs_input).")
    resume: Resume | None = Field(default=None, description="The session the next attempt should resume.")
    follow_up: FollowUp | None = Field(
        default=None, description="The review of an issue task's pull request this task addresses, if any."
    )

    @property
    def is_terminal(self) -> bool:
        """True once the task succeeded, failed or was cancelled."""
        return self.status in TERMINAL_STATUSES

    @property
    def frees_dependents(self) -> bool:
        """It no longer holds its dependents back: it succeeded, or it is not critical and ended."""
        ended_badly = self.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)
        return self.status == TaskStatus.SUCCEEDED or (not self.critical and ended_badly)

    @property
    def stops_dependents(self) -> bool:
        """It ended so that its dependents cannot run: critical, and failed or cancelled."""
        return self.critical and self.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)

    def counted_attempts(self) -> int:
        """Attempts that used up this round's budget."""
        return sum(1 for a in self.attempts if a.round == self.round and a.counted)

    def attempts_left(self) -> int:
        """How many more counted attempts this round allows."""
        return max(0, self.max_attempts - self.counted_attempts())

    def current_attempt(self) -> Attempt | None:
        """The attempt the lease belongs to, if the task is leased."""
        if self.lease is None:
            return None
        for attempt in reversed(self.attempts):
            if attempt.number == self.lease.attempt:
                return attempt
        return None
