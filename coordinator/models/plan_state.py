"""What a plan keeps on its task (``plan`` in a plan task's JSON) and what a verify attempt found: how it is
verified, whether its subtasks wait for a person's approval, and its final report."""

from __future__ import annotations

from pydantic import Field

from coordinator.models.base import Capability, StateModel, UtcDateTime
from coordinator.models.plan import PlanFile

#: The most output of a verify run kept on the state branch (its tail; the whole is in the runner's log).
MAX_VERIFY_OUTPUT = 8 * 1024


class PlanConfig(StateModel):
    """``plans`` in ``config.json``: the repository's defaults for new plans."""

    verify_command: str | None = Field(
        default=None,
        max_length=1_000,
        description="The command that verifies a plan's integrated branch (run without a shell, in the worktree); "
        "unset: an agent runs the project's tests.",
    )
    fix_cycles: int = Field(default=3, ge=0, le=10, description="Fix children a plan may use before it fails.")
    approve: bool = Field(default=False, description="A plan's subtasks wait for a person's approval.")
    subtask_capabilities: list[Capability] = Field(
        default_factory=list,
        description="Capabilities a planning attempt may make its subtasks require (the plan's own always apply): "
        "the planner reads text others wrote, so it may route work to a machine only where this allows.",
    )


class Verification(StateModel):
    """What one verify attempt found on the plan's integrated branch."""

    passed: bool
    command: str | None = Field(default=None, description="What ran; None when an agent ran the project's tests.")
    exit_code: int | None = None
    output: str = Field(default="", max_length=MAX_VERIFY_OUTPUT, description="The tail of what it printed.")
    conflict: str | None = Field(
        default=None, description="The subtask whose branch did not merge cleanly (nothing was run then)."
    )
    merged: list[str] = Field(default_factory=list, description="Subtasks merged into the plan's branch by it.")
    head: str | None = Field(default=None, description="The commit of the plan's branch it verified.")


class ChildLine(StateModel):
    """One child of a plan, as its report shows it."""

    id: str
    title: str
    kind: str
    status: str
    runner: str | None = None
    mode: str | None = None
    attempts: int = 0
    duration_seconds: float | None = None
    cost_usd: float | None = None
    passed: bool | None = Field(default=None, description="A verify child: whether the verification passed.")


class PlanReport(StateModel):
    """The plan's final report: every child, the verify cycles, total cost, and the parallel speed-up."""

    children: list[ChildLine] = Field(default_factory=list)
    verify_runs: int = 0
    fixes: int = 0
    cost_usd: float = 0.0
    wall_seconds: float | None = Field(default=None, description="From the first child's start to the last end.")
    work_seconds: float = Field(default=0.0, description="The children's attempt durations, added up.")
    speedup: float | None = Field(default=None, description="work_seconds / wall_seconds.")
    head: str | None = Field(default=None, description="The plan's integrated branch's commit, when verified.")


class PlanState(StateModel):
    """A plan task's own settings and record."""

    verify_command: str | None = Field(default=None, max_length=1_000, description="See PlanConfig.")
    fix_cycles: int = Field(default=3, ge=0, le=10)
    cycles_from: int = Field(
        default=0, ge=0, description="Fix children made before its last retry (each retry allows fix_cycles more)."
    )
    approve: bool = Field(default=False, description="Its subtasks wait for approval ('coordinator approve').")
    proposal: PlanFile | None = Field(default=None, description="The plan awaiting approval.")
    rejected: PlanFile | None = Field(
        default=None, description="The proposal a person sent back with 'replan' (its next planning attempt sees it)."
    )
    approved_by: str | None = None
    approved_at: UtcDateTime | None = None
    report: PlanReport | None = Field(default=None, description="Written when the plan ends.")
