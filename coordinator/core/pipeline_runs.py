"""A pipeline run as one record: its phases with outcome, duration and cost, where the run stands, and the total
(pure: computed from the run's tasks, so it never disagrees with them)."""

from __future__ import annotations

from dataclasses import dataclass

from coordinator.core.state import State
from coordinator.models import Pipeline, Task, TaskStatus


@dataclass(frozen=True)
class PhaseResult:
    """One phase of a run: its task, status, attempts, seconds spent and cost."""

    task: Task
    attempts: int
    seconds: float
    cost_usd: float


@dataclass(frozen=True)
class RunSummary:
    """A run of a pipeline: its phases in order, where it stands (running, succeeded, failed), and the totals."""

    run: str
    phases: tuple[PhaseResult, ...]

    @property
    def status(self) -> str:
        """``running`` while a phase has not ended; ``failed`` when a critical phase failed or was cancelled;
        ``succeeded`` otherwise (non-critical phases may have failed)."""
        tasks = [p.task for p in self.phases]
        if any(not t.is_terminal for t in tasks):
            return "running"
        return "failed" if any(t.stops_dependents for t in tasks) else "succeeded"

    @property
    def cost_usd(self) -> float:
        """What the run's attempts cost."""
        return sum(p.cost_usd for p in self.phases)

    @property
    def seconds(self) -> float:
        """The time its attempts took, summed (phases may have run in parallel)."""
        return sum(p.seconds for p in self.phases)


def run_summary(state: State, run: str) -> RunSummary | None:
    """The summary of run ``run`` (e.g. ``pipe-daily-3``), or None when no task belongs to it."""
    order = _phase_order(state, run)
    tasks = sorted((t for t in state.tasks.values() if t.run == run), key=lambda t: (order.get(t.id, len(order)), t.id))
    if not tasks:
        return None
    return RunSummary(run=run, phases=tuple(_phase(t) for t in tasks))


def _phase_order(state: State, run: str) -> dict[str, int]:
    """Each phase task's place in its pipeline's definition (the run's tasks were all made at one instant)."""
    name = run.removeprefix("pipe-").rsplit("-", 1)[0]
    pipeline = state.records.get("pipelines", {}).get(name)
    if not isinstance(pipeline, Pipeline):
        return {}
    return {f"{run}-{phase.name}": index for index, phase in enumerate(pipeline.phases)}


def _phase(task: Task) -> PhaseResult:
    seconds = sum(a.duration_seconds or 0.0 for a in task.attempts)
    cost = sum(a.cost_usd or 0.0 for a in task.attempts)
    return PhaseResult(task=task, attempts=len(task.attempts), seconds=seconds, cost_usd=cost)


def ended_badly(summary: RunSummary) -> list[Task]:
    """The phases that failed or were cancelled."""
    return [p.task for p in summary.phases if p.task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED)]
