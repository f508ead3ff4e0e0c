"""Pipelines: a named, ordered set of phases kept on the state branch (``pipelines/<name>.json``); each run
enqueues the phases as dependent tasks ``pipe-<name>-<n>-<phase>``."""

from __future__ import annotations

from pydantic import Field, model_validator

from coordinator.models.base import Capability, LockName, RunnerName, StateModel, TaskId, Title, UtcDateTime
from coordinator.models.priority import Priority


class Phase(StateModel):
    """One phase: a task template, with what it needs before it starts."""

    name: LockName = Field(description="The phase's name (letters, digits, '.', '_', '-').")
    title: Title
    body: str = Field(default="", max_length=64 * 1024)
    mode: str | None = Field(default=None, description="The mode of its first attempt (default: the branch's).")
    timeout_seconds: int | None = Field(default=None, ge=1, le=24 * 3600, description="Overrides the mode's.")
    retries: int = Field(default=2, ge=0, le=99, description="Attempts after the first (max_attempts - 1).")
    requires: list[Capability] = Field(default_factory=list, description="Capabilities a runner must have.")
    runner: RunnerName | None = Field(default=None, description="Only this runner may run it.")
    critical: bool = Field(
        default=True, description="Its failure cancels the rest of the run and calls a person; false: the run goes on."
    )
    needs: list[str] | None = Field(
        default=None, description="Phases that must end first (default: the phase before it; [] = none)."
    )
    priority: Priority = Priority.MEDIUM


class Pipeline(StateModel):
    """A pipeline definition, and how many runs it had (the next run's number)."""

    name: TaskId
    description: str = Field(default="", max_length=2_000)
    phases: list[Phase] = Field(min_length=1, max_length=50)
    issue: int | None = Field(
        default=None, ge=1, description="The issue on which each run keeps one tracking comment (none: no comment)."
    )
    runs: int = Field(default=0, ge=0, description="Runs so far: the next run is runs + 1.")
    updated_at: UtcDateTime | None = None
    updated_by: str | None = None

    @model_validator(mode="after")
    def _phases_make_sense(self) -> Pipeline:
        names = [p.name for p in self.phases]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"phase names must be unique: {', '.join(twice)}")
        for index, phase in enumerate(self.phases):
            earlier = set(names[:index])
            unknown = [n for n in phase.needs or [] if n not in earlier]
            if unknown:
                raise ValueError(
                    f"phase {phase.name} needs {', '.join(unknown)}, which is not a phase before it "
                    "(list phases in the order they can run)"
                )
        return self
