"""Recurring tasks: adding and removing schedules, and ``tick``, which enqueues the occurrences that are due.

``tick`` is safe to run anywhere at any time, by any number of processes at once: each due occurrence becomes the
task ``sched-<name>-<slot>``, and the schedule remembers the slot in the same commit, so a tick that lost the race
finds the task there on the newer state and has nothing left to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coordinator.core.recurring import SCHEDULES, DuePlan, Occurrence, Skipped, due_occurrences, schedules_of
from coordinator.core.state import State
from coordinator.core.transitions.change import Change, require_mode
from coordinator.core.transitions.tasks import SubmitRequest, submit
from coordinator.cron import zone
from coordinator.errors import CoordinatorError, UsageError
from coordinator.models import Schedule, Source, StateModel, Task, schedule_task_id
from coordinator.models.schedule import REMEMBERED_SLOTS


class ScheduleNotFound(CoordinatorError):
    """No schedule with this name on the state branch."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no schedule '{name}' on the state branch: run 'coordinator schedule list' to see them")
        self.name = name


def add_schedule(state: State, schedule: Schedule, now: datetime) -> Change:
    """Add a schedule; refused (``UsageError``) when the name is taken or its tasks would be refused now."""
    if schedule.name in schedules_of(state) or state.problem_for(SCHEDULES, schedule.name) is not None:
        raise UsageError(
            f"schedule '{schedule.name}' exists already: remove it first with "
            f"'coordinator schedule remove {schedule.name}', or pick another name"
        )
    _check_zone(schedule.timezone)
    if schedule.mode is not None:
        try:
            require_mode(state.modes, schedule.mode)
        except UsageError as exc:
            raise UsageError(f"--mode: {exc} (coordinator modes shows them)") from None
    if schedule.pipeline is not None:  # the pipeline must exist now, not at 3 a.m.
        from coordinator.core.transitions.pipelines import pipeline_of

        try:
            pipeline_of(state, schedule.pipeline)
        except CoordinatorError as exc:
            raise UsageError(f"--pipeline: {exc}") from None
    else:  # its tasks must pass what submit checks (title and body limits, capabilities): try one now
        submit(state, _request(schedule, state, task_id=schedule_task_id(schedule.name, "00000000t0000")), now)
    where = f" ({schedule.timezone})" if schedule.timezone != "UTC" else ""
    return Change(message=f"schedule add {schedule.name}: '{schedule.cron}'{where}", records=(schedule,))


def _check_zone(name: str) -> None:
    try:
        zone(name)
    except ValueError as exc:
        raise UsageError(f"--timezone: {exc}") from None


def remove_schedule(state: State, name: str, now: datetime) -> Change:
    """Remove a schedule (the tasks it enqueued stay); ``ScheduleNotFound`` when there is none."""
    if name not in schedules_of(state) and state.problem_for(SCHEDULES, name) is None:
        raise ScheduleNotFound(name)
    return Change(message=f"schedule remove {name}", deletes=((SCHEDULES, name),))


@dataclass(frozen=True)
class TickOutcome:
    """What a tick would do at ``now``: the tasks to enqueue (with the schedules that remember them) and the
    schedules it has to leave out, with the reason."""

    tasks: tuple[Task, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    lines: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    #: Other records the occurrences change (a pipeline's run counter).
    records: tuple[StateModel, ...] = ()


def tick_outcome(state: State, now: datetime) -> TickOutcome:
    """Every due occurrence as a task (pure; the tick transition commits it)."""
    plan: DuePlan = due_occurrences(schedules_of(state).values(), now)
    tasks: list[Task] = []
    schedules: list[Schedule] = []
    lines: list[str] = []
    records: list[StateModel] = []
    skipped = list(plan.skipped)
    for occurrence in plan.due:
        schedule = _remembering(occurrence)
        if occurrence.task_id in state.tasks or state.problem_for("tasks", occurrence.task_id) is not None:
            # Made by a tick whose schedule file was replaced since (removed and added again): remember it only.
            schedules.append(schedule)
            lines.append(f"tick {occurrence.schedule.name}: {occurrence.task_id} exists already")
            continue
        try:
            made = _occurrence_change(occurrence, state, now)
        except (UsageError, CoordinatorError) as exc:
            skipped.append(Skipped(occurrence.schedule.name, f"its task {occurrence.task_id} is refused: {exc}"))
            continue
        tasks.extend(made.tasks)
        records.extend(made.records)  # a pipeline's run counter
        schedules.append(schedule)
        gone = occurrence.schedule.mode not in (None, *state.modes.modes)
        note = f" (mode {occurrence.schedule.mode} is gone: the default mode)" if gone else ""
        lines.append(f"tick {occurrence.schedule.name}: {made.message}{note}")
    return TickOutcome(
        tasks=tuple(tasks),
        schedules=tuple(schedules),
        lines=tuple(lines),
        skipped=tuple(skipped),
        records=tuple(records),
    )


def tick(state: State, now: datetime) -> Change:
    """Enqueue each due occurrence once (one commit for all of them); an empty change when nothing is due."""
    outcome = tick_outcome(state, now)
    return Change(message="; ".join(outcome.lines), tasks=outcome.tasks, records=(*outcome.schedules, *outcome.records))


def _occurrence_change(occurrence: Occurrence, state: State, now: datetime) -> Change:
    """One occurrence's task, or its pipeline's run (the phases' tasks; the pipeline's run counter with them)."""
    schedule = occurrence.schedule
    if schedule.pipeline is None:
        return submit(state, _request(schedule, state, task_id=occurrence.task_id), now)
    from coordinator.core.transitions.pipelines import run_pipeline

    return run_pipeline(state, name=schedule.pipeline, by=f"schedule {schedule.name}", now=now)


def _remembering(occurrence: Occurrence) -> Schedule:
    """The schedule with the occurrence's slot remembered (only the latest few are kept)."""
    slots = sorted({*occurrence.schedule.enqueued, occurrence.slot})[-REMEMBERED_SLOTS:]
    return occurrence.schedule.model_copy(update={"enqueued": slots})


def _request(schedule: Schedule, state: State, *, task_id: str) -> SubmitRequest:
    """The submission of one occurrence: the schedule's task, in its own group so occurrences never overlap."""
    mode = schedule.mode if schedule.mode in state.modes.modes else None
    return SubmitRequest(
        title=schedule.title,
        body=schedule.body,
        priority=schedule.priority,
        mode=mode,
        requires=tuple(schedule.requires),
        source=Source(kind="schedule", actor=schedule.created_by, permission="local", event="schedule.tick"),
        group=f"schedule-{schedule.name}",
        task_id=task_id,
    )
