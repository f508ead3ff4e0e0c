"""The data on the state branch: tasks, their attempts and leases, runners, and the branch's metadata.

Every model keeps fields it does not know (``extra="allow"``): a file written by a newer coordinator survives
a rewrite by an older one. JSON Schemas in ``state/`` are generated from these classes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from coordinator.ids import check_name
from coordinator.modes import ModesConfig
from coordinator.text import first_unsafe


def _as_utc(value: datetime) -> datetime:
    # A hand-edited file may hold a time without a zone: take it as UTC, like the CLI does, so that every time
    # in memory compares with every other (and with ``now``).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Every instant in the models: timezone-aware, in UTC.
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]
#: Names that become file and ref names (one rule: :func:`coordinator.ids.check_name`).
TaskId = Annotated[str, AfterValidator(partial(check_name, "task id"))]
RunnerName = Annotated[str, AfterValidator(partial(check_name, "runner name"))]
Capability = Annotated[str, AfterValidator(partial(check_name, "capability"))]

#: The longest title the model accepts; ``Limits.max_title_chars`` bounds new titles below it.
MAX_TITLE_CHARS = 500


def check_title(value: str) -> str:
    """A task title: one line of visible text, or ``ValueError`` naming the first offending character.

    Control characters (a newline breaks ``show`` and the audit log, ESC starts terminal escapes) and invisible
    formatting characters (bidi overrides, zero-width characters) are refused.
    """
    found = first_unsafe(value)
    if found is not None:
        position, shown = found
        # A lone surrogate is how Python carries a byte of a command-line argument that was not UTF-8.
        not_utf8 = "\ud800" <= value[position] <= "\udfff"
        what = "a byte that is not UTF-8" if not_utf8 else "a control or invisible formatting character"
        raise ValueError(
            f"the title holds {what} ({shown} at position {position + 1}): "
            "a title is one line of visible text; put details in the body"
        )
    return value


#: A task title (see :func:`check_title`).
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS), AfterValidator(check_title)]

#: Bumped only for incompatible layout changes; additive fields never bump it.
SCHEMA_VERSION = 1


class StateModel(BaseModel):
    """Base of everything stored on the state branch: keeps unknown fields, serialises stably."""

    model_config = ConfigDict(extra="allow", validate_assignment=False, use_enum_values=False)

    def to_json(self) -> bytes:
        """Stable, readable JSON (what is committed to the branch)."""
        return (self.model_dump_json(indent=2, exclude_none=True) + "\n").encode()


class Priority(StrEnum):
    """How urgent a task is; maps to a scheduling weight."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


PRIORITY_WEIGHT: dict[Priority, int] = {
    Priority.CRITICAL: 100,
    Priority.HIGH: 75,
    Priority.MEDIUM: 50,
    Priority.LOW: 25,
}


class TaskStatus(StrEnum):
    """Where a task is in its life."""

    QUEUED = "queued"  # waiting for a runner
    BLOCKED = "blocked"  # waiting for its dependencies to succeed
    RUNNING = "running"  # leased by a runner
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
    tokens: Tokens | None = None
    denials: list[Denial] = Field(default_factory=list, description="Tool calls the permissions refused.")
    turns: int | None = None
    session_id: str | None = None
    summary: str | None = None
    error: str | None = None
    branch: str | None = None
    commit: str | None = None
    log: str | None = Field(default=None, description="Where the full agent output is kept on the runner.")


class Attempt(AttemptResult):
    """One try at a task by one runner, with its result once it ended."""

    number: int = Field(ge=1)
    round: int = Field(default=0, ge=0, description="Incremented by each retry; budgets count per round.")
    runner: str
    mode: str
    outcome: AttemptOutcome = AttemptOutcome.RUNNING
    counted: bool = Field(default=True, description="False when the attempt does not use up the budget.")
    reason: str | None = None


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
    max_attempts: int = Field(default=3, ge=1, le=100)
    round: int = Field(default=0, ge=0)
    status: TaskStatus = TaskStatus.QUEUED
    status_reason: str | None = None
    lease: Lease | None = None
    attempts: list[Attempt] = Field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        """True once the task succeeded, failed or was cancelled."""
        return self.status in TERMINAL_STATUSES

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


class RunnerState(StrEnum):
    """What a runner said it was doing at its last heartbeat."""

    IDLE = "idle"
    BUSY = "busy"
    COOLING_DOWN = "cooling_down"  # usage limit hit: no claims until cooldown_until
    MISCONFIGURED = "misconfigured"  # e.g. auth failure: no claims until fixed
    FAULTY = "faulty"  # this machine failed repeatedly (disk, git): no claims until fixed
    PAUSED = "paused"  # backing off after API trouble or a machine fault: claims again later
    STOPPING = "stopping"
    STOPPED = "stopped"


class Runner(StateModel):
    """A machine that runs tasks: one file ``runners/<name>.json``, rewritten at each heartbeat."""

    name: RunnerName
    capabilities: list[Capability] = Field(default_factory=list)
    slots: int = Field(default=1, ge=1)
    version: str = "unknown"
    host: str | None = None
    platform: str | None = None
    started_at: UtcDateTime | None = None
    last_heartbeat: UtcDateTime
    heartbeat_seconds: float | None = Field(default=None, description="How often it promises a heartbeat.")
    state: RunnerState = RunnerState.IDLE
    running: list[str] = Field(default_factory=list, description="Task ids this runner holds leases on.")
    cooldown_until: UtcDateTime | None = None
    message: str | None = None
    max_permission_mode: str | None = Field(
        default=None, description="The most permissive permission_mode its owner allows (None: an older runner)."
    )

    def is_silent(self, now: datetime) -> bool:
        """True when a live runner missed three heartbeats (it probably died without saying so)."""
        if self.state == RunnerState.STOPPED or self.heartbeat_seconds is None:
            return False
        return (now - self.last_heartbeat).total_seconds() > 3 * self.heartbeat_seconds


#: The largest task number: a billion tasks is far beyond what one branch can hold.
MAX_TASK_NUMBER = 10**9


class Meta(StateModel):
    """``meta.json``: the branch's schema version and id counter."""

    schema_version: int = SCHEMA_VERSION
    created_at: UtcDateTime | None = None
    # Bounded so that a hand-edited absurd counter is an unreadable file, not a crash at the next submit.
    next_task_number: int = Field(default=1, ge=1, le=MAX_TASK_NUMBER)


def dump(model: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict of a model (for ``--json`` output)."""
    return model.model_dump(mode="json", exclude_none=True)


#: Default of ``limits.max_body_bytes``: GitHub's own cap on an issue body is 65,536 characters, so any issue
#: written in ASCII fits. A task file is rewritten at every claim, lease renewal and result, each time with its
#: body, and every writer fetches every version: big inputs belong in the repository, not on the state branch.
DEFAULT_MAX_BODY_BYTES = 65_536
#: Default of ``limits.max_title_chars``: GitHub's cap on an issue title, so any issue title fits.
DEFAULT_MAX_TITLE_CHARS = 256


class Limits(StateModel):
    """Bounds on what a submission may hold, enforced by ``submit`` (``limits`` in ``config.json``)."""

    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1,
        le=16 * 1024 * 1024,
        description="Largest task body in bytes (UTF-8); link or commit bigger inputs instead.",
    )
    max_title_chars: int = Field(
        default=DEFAULT_MAX_TITLE_CHARS, ge=1, le=MAX_TITLE_CHARS, description="Longest task title in characters."
    )


class BranchConfig(StateModel):
    """``config.json``: settings shared by every runner, kept on the state branch."""

    modes: ModesConfig = Field(default_factory=ModesConfig)
    limits: Limits = Field(default_factory=Limits)
