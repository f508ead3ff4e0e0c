"""Pipelines as pure transitions: keep a definition on the branch, and start a run, whose phases become dependent
tasks ``pipe-<name>-<n>-<phase>`` in one commit (the definition's run counter with them, so two runs never share a
number). What a phase's end means for the rest of the run: :mod:`coordinator.core.transitions.dependencies`."""

from __future__ import annotations

from datetime import datetime

from coordinator.core.state import State
from coordinator.core.transitions.change import Change, require_mode, validated
from coordinator.errors import CoordinatorError, UsageError
from coordinator.ids import check_name
from coordinator.models import Pipeline, RunReport, Source, Task, TaskStatus

PIPELINES = "pipelines"


def pipeline_of(state: State, name: str) -> Pipeline:
    """The pipeline ``name`` on the branch, or an error naming the command that lists them."""
    found = state.records.get(PIPELINES, {}).get(name)
    if not isinstance(found, Pipeline):
        raise CoordinatorError(f"no pipeline '{name}' on the state branch: run 'coordinator pipeline list'")
    return found


def set_pipeline(state: State, *, pipeline: Pipeline, by: str, now: datetime) -> Change:
    """Keep ``pipeline`` on the branch (replacing the definition of that name, keeping its run counter)."""
    for phase in pipeline.phases:
        if phase.mode is not None:
            require_mode(state.modes, phase.mode)
    before = state.records.get(PIPELINES, {}).get(pipeline.name)
    runs = before.runs if isinstance(before, Pipeline) else 0
    kept = pipeline.model_copy(update={"runs": runs, "updated_at": now, "updated_by": by})
    bare = {"updated_at": None, "updated_by": None}
    if isinstance(before, Pipeline) and before.model_copy(update=bare) == kept.model_copy(update=bare):
        return Change(message=f"pipeline {pipeline.name} unchanged")
    verb = "update" if before is not None else "add"
    return Change(message=f"{verb} pipeline {pipeline.name} by {by} ({len(pipeline.phases)} phases)", records=(kept,))


def run_pipeline(
    state: State, *, name: str, by: str, now: datetime, runner: str | None = None, issue: int | None = None
) -> Change:
    """Start run ``n`` of pipeline ``name``: one task per phase, each waiting for the phases it needs. With an
    issue (``issue``, else the definition's), the run's report record comes in the same commit, pending: the run
    keeps one tracking comment there."""
    pipeline = pipeline_of(state, name)
    if issue is not None and issue < 1:
        raise UsageError(f"--issue {issue} is not an issue number: give the number of an issue, e.g. --issue 12")
    if runner is not None:
        validated(lambda: check_name("runner name", runner))
    number = pipeline.runs + 1
    run_id = f"pipe-{name}-{number}"
    ids = {phase.name: f"{run_id}-{phase.name}" for phase in pipeline.phases}
    for task_id in ids.values():
        if len(task_id) > 100 or task_id in state.tasks:
            raise UsageError(f"cannot make task {task_id[:100]}: the name is too long or taken; shorten the pipeline")
    tasks: list[Task] = []
    for index, phase in enumerate(pipeline.phases):
        needs = phase.needs if phase.needs is not None else ([pipeline.phases[index - 1].name] if index else [])
        mode = phase.mode or state.modes.default_mode
        require_mode(state.modes, mode)
        waiting = bool(needs)
        tasks.append(
            Task(
                id=ids[phase.name],
                title=f"{name} #{number}: {phase.title}",
                body=phase.body,
                source=Source(kind="pipeline", actor=by, at=now),
                priority=phase.priority,
                created_at=now,
                updated_at=now,
                mode=mode,
                requested_mode=mode,
                requires=sorted(set(phase.requires)),
                depends_on=[ids[n] for n in needs],
                max_attempts=phase.retries + 1,
                status=TaskStatus.BLOCKED if waiting else TaskStatus.QUEUED,
                status_reason=f"waiting for {', '.join(ids[n] for n in needs)}" if waiting else None,
                run=run_id,
                runner=runner or phase.runner,
                timeout_seconds=phase.timeout_seconds,
                critical=phase.critical,
            )
        )
    counted = pipeline.model_copy(update={"runs": number})
    where = issue or pipeline.issue
    report = () if where is None else (RunReport(run=run_id, pipeline=name, issue=where, updated_at=now),)
    return Change(
        message=f"run pipeline {name} #{number} by {by}: {', '.join(t.id for t in tasks)}"
        + (f" (tracking comment on #{where})" if where is not None else ""),
        tasks=tuple(tasks),
        records=(counted, *report),
        task=tasks[0],
    )
