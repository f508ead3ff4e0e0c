"""The branch's own files: ``meta.json`` and ``config.json``."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from coordinator.models.base import MAX_TITLE_CHARS, SCHEMA_VERSION, StateModel, UtcDateTime
from coordinator.models.github import GitHubConfig
from coordinator.models.plan_state import PlanConfig
from coordinator.models.spend import Budget
from coordinator.modes import ModesConfig

#: The largest task number: a billion tasks is far beyond what one branch can hold.
MAX_TASK_NUMBER = 10**9
_MAX_REPOSITORIES = 100
_MAX_LABELS = 20
_NODE_ID = re.compile(r"[A-Za-z0-9_=+/-]{1,120}")


class Meta(StateModel):
    """``meta.json``: the branch's schema version and id counter."""

    schema_version: int = SCHEMA_VERSION
    created_at: UtcDateTime | None = None
    # Bounded so that a hand-edited absurd counter is an unreadable file, not a crash at the next submit.
    next_task_number: int = Field(default=1, ge=1, le=MAX_TASK_NUMBER)
    github_labels: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="GitHub's node ids of the status labels, per repository (owner/name → label → id): learned "
        "once, so a status change is one GraphQL request with the comment edit.",
    )

    @field_validator("github_labels")
    @classmethod
    def _label_ids(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        # Bounded and plain: a hand-edited file must not make a runner send anything odd to GitHub.
        if len(value) > _MAX_REPOSITORIES or any(len(ids) > _MAX_LABELS for ids in value.values()):
            raise ValueError(f"at most {_MAX_REPOSITORIES} repositories of {_MAX_LABELS} labels each")
        for ids in value.values():
            bad = [i for i in ids.values() if not _NODE_ID.fullmatch(i)]
            if bad:
                raise ValueError(f"not GitHub node ids: {', '.join(repr(b[:40]) for b in bad[:3])}")
        return value


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
    github: GitHubConfig = Field(default_factory=GitHubConfig)
    budget: Budget = Field(default_factory=Budget)
    plans: PlanConfig = Field(default_factory=PlanConfig)
    archive_after_days: int = Field(
        default=7,
        ge=0,
        description="Runners move tasks that ended longer ago than this many days (at least 1) to the archive now "
        "and then, like 'coordinator gc'; 0: runners never do.",
    )
