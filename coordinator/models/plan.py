"""A plan: what the planning attempt of a ``plan`` task writes to ``.coordinator/plan.json`` in its worktree (its
schema is ``state/schemas/plan.schema.json``): the subtasks to run, each with what it needs first."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from coordinator.models.base import Capability, StateModel, Title
from coordinator.models.priority import Priority

#: Where the planning attempt writes its plan, relative to its worktree.
PLAN_FILE = ".coordinator/plan.json"
#: The most subtasks a plan may have (a task may ask for fewer: ``max_subtasks``).
MAX_SUBTASKS = 50
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class Subtask(StateModel):
    """One piece of the work: a task of its own, run by any runner that has the capabilities."""

    key: str = Field(description="A short name the other subtasks' depends_on use (letters, digits, '.', '_', '-').")
    title: Title
    body: str = Field(default="", max_length=16 * 1024, description="What to do, for the agent that does it.")
    depends_on: list[str] = Field(default_factory=list, description="Keys of subtasks that must succeed first.")
    requires: list[Capability] = Field(default_factory=list, description="Capabilities a runner must have.")
    mode: str | None = Field(default=None, description="Its mode (default: the plan's).")
    priority: Priority | None = Field(default=None, description="Its priority (default: the plan's).")

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not _KEY.match(value):
            raise ValueError(f"key {value!r}: use 1-40 letters, digits, '.', '_' or '-'")
        return value


class PlanFile(StateModel):
    """``{"subtasks": [...]}``: at least one, keys unique, dependencies on earlier subtasks only (so no cycle)."""

    subtasks: list[Subtask] = Field(min_length=1, max_length=MAX_SUBTASKS)

    @model_validator(mode="after")
    def _consistent(self) -> PlanFile:
        seen: set[str] = set()
        for subtask in self.subtasks:
            if subtask.key in seen:
                raise ValueError(f"two subtasks have the key {subtask.key!r}")
            unknown = [d for d in subtask.depends_on if d not in seen]
            if unknown:
                raise ValueError(
                    f"subtask {subtask.key!r} depends on {', '.join(unknown)}, which is not a subtask listed before it"
                )
            seen.add(subtask.key)
        return self
