"""The data on the state branch: tasks, their attempts and leases, runners, and the branch's metadata.

Every model keeps fields it does not know (``extra="allow"``): a file written by a newer coordinator survives
a rewrite by an older one. JSON Schemas in ``state/`` are generated from these classes.
"""

from coordinator.models.base import (
    MAX_TITLE_CHARS,
    SCHEMA_VERSION,
    Capability,
    RunnerName,
    StateModel,
    TaskId,
    Title,
    UtcDateTime,
    check_title,
    dump,
)
from coordinator.models.config import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_TITLE_CHARS,
    MAX_TASK_NUMBER,
    BranchConfig,
    Limits,
    Meta,
)
from coordinator.models.github import (
    DELIVERY_ORDER,
    GITHUB_CAPABILITY,
    FollowUp,
    GitHubConfig,
    GitHubLink,
    PrPolicy,
    ReviewNote,
    Trigger,
)
from coordinator.models.lock import NamedLock
from coordinator.models.pipeline import Phase, Pipeline
from coordinator.models.plan import PLAN_FILE, PlanFile, Subtask
from coordinator.models.plan_state import ChildLine, PlanConfig, PlanReport, PlanState, Verification
from coordinator.models.priority import PRIORITY_WEIGHT, Priority
from coordinator.models.run_report import RunReport
from coordinator.models.runner import Runner, RunnerState
from coordinator.models.schedule import Schedule, schedule_task_id
from coordinator.models.spend import Budget, DailySpend
from coordinator.models.task import (
    TERMINAL_STATUSES,
    Attempt,
    AttemptOutcome,
    AttemptResult,
    Denial,
    Feedback,
    Lease,
    Question,
    Resume,
    Source,
    Task,
    TaskStatus,
    Tokens,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_TITLE_CHARS",
    "DELIVERY_ORDER",
    "GITHUB_CAPABILITY",
    "MAX_TASK_NUMBER",
    "MAX_TITLE_CHARS",
    "PLAN_FILE",
    "PRIORITY_WEIGHT",
    "SCHEMA_VERSION",
    "TERMINAL_STATUSES",
    "Attempt",
    "AttemptOutcome",
    "AttemptResult",
    "BranchConfig",
    "Budget",
    "Capability",
    "ChildLine",
    "DailySpend",
    "Denial",
    "Feedback",
    "FollowUp",
    "GitHubConfig",
    "GitHubLink",
    "Lease",
    "Limits",
    "Meta",
    "NamedLock",
    "Phase",
    "Pipeline",
    "PlanConfig",
    "PlanFile",
    "PlanReport",
    "PlanState",
    "PrPolicy",
    "Priority",
    "Question",
    "Resume",
    "ReviewNote",
    "RunReport",
    "Runner",
    "RunnerName",
    "RunnerState",
    "Schedule",
    "Source",
    "StateModel",
    "Subtask",
    "Task",
    "TaskId",
    "TaskStatus",
    "Title",
    "Tokens",
    "Trigger",
    "UtcDateTime",
    "Verification",
    "check_title",
    "dump",
    "schedule_task_id",
]
