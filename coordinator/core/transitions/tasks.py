"""Transitions a person asks for: submit, cancel, retry (and unblocking dependents when a task succeeds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from coordinator.core.state import State
from coordinator.core.transitions.attempts import cancelled
from coordinator.core.transitions.change import Change, Draft, require_mode, short, validated
from coordinator.core.transitions.dependencies import reopen_plan, revive_dependents
from coordinator.errors import InvalidTransition, UsageError
from coordinator.ids import check_name
from coordinator.models import (
    GitHubLink,
    Limits,
    Meta,
    PlanState,
    Priority,
    Source,
    Task,
    TaskStatus,
    check_title,
)

#: Where the id counter lives (the same path as the store's layout; the core does not import the store).
META_PATH = "meta.json"
#: Statuses a dependency never leaves on its own: a task waiting for it would wait forever.
_ENDED_WITHOUT_SUCCESS = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})


@dataclass(frozen=True)
class SubmitRequest:
    """What a person (or the GitHub integration) asks for."""

    title: str
    body: str = ""
    priority: Priority = Priority.MEDIUM
    mode: str | None = None
    requires: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    #: Named locks the task holds while it runs (two tasks holding one never run at once).
    locks: tuple[str, ...] = ()
    #: False: when it fails for good, its dependents go on anyway (see ``Task.critical``).
    critical: bool = True
    #: ``plan``: its first attempt splits the work into subtasks (at most ``max_subtasks``).
    kind: str = "task"
    max_subtasks: int | None = None
    #: A plan's verify command, fix cycles and approval; None: the repository's (``plans`` in config.json).
    verify_command: str | None = None
    fix_cycles: int | None = None
    approve: bool | None = None
    deadline: datetime | None = None
    max_attempts: int = 3
    source: Source = field(default_factory=Source)
    group: str | None = None
    task_id: str | None = None
    #: The GitHub issue the task comes from (set by ``coordinator ingest`` only).
    github: GitHubLink | None = None
    #: Accept dependencies that failed or were cancelled (the task then waits until they are retried and succeed).
    allow_failed_dependency: bool = False


def branch_limits(state: State) -> Limits:
    """The submission limits of the branch (``limits`` in ``config.json``)."""
    return state.limits


def submit(state: State, request: SubmitRequest, now: datetime) -> Change:
    """Add a task: queued, or blocked while any dependency has not succeeded."""
    limits = branch_limits(state)
    title = _checked_title(request.title, limits)
    _check_body(request.body, limits)
    mode = request.mode or state.modes.default_mode
    require_mode(state.modes, mode)
    if not 1 <= request.max_attempts <= 100:
        raise UsageError(f"--max-attempts must be between 1 and 100, not {request.max_attempts}")
    for cap in request.requires:
        validated(partial(check_name, "capability", cap))
    for lock in request.locks:
        validated(partial(check_name, "lock name", lock))
    depends_on = _checked_dependencies(state, request)
    task_id, new_meta = _new_task_id(state, request.task_id)

    waiting = [_waiting_for(state.tasks[dep]) for dep in depends_on if state.tasks[dep].status != TaskStatus.SUCCEEDED]
    source = request.source if request.source.at is not None else request.source.model_copy(update={"at": now})
    task = Task(
        id=task_id,
        title=title,
        body=request.body,
        source=source,
        group=request.group,
        priority=request.priority,
        deadline=request.deadline,
        created_at=now,
        updated_at=now,
        mode=mode,
        requested_mode=mode,
        requires=sorted(set(request.requires)),
        locks=sorted(set(request.locks)),
        critical=request.critical,
        kind=request.kind,
        max_subtasks=request.max_subtasks,
        plan=_plan_state(state, request) if request.kind == "plan" else None,
        depends_on=depends_on,
        max_attempts=request.max_attempts,
        github=request.github,
        status=TaskStatus.BLOCKED if waiting else TaskStatus.QUEUED,
        status_reason=f"waiting for {', '.join(waiting)}" if waiting else None,
    )
    draft = Draft(state)
    draft.put(task)
    draft.lines.append(f"submit {task_id}: {short(title)}")
    if META_PATH in state.problems and new_meta is not None:
        draft.lines.append(f"repair {META_PATH} (it was unreadable: {short(state.problems[META_PATH].reason)})")
    return draft.change(task=task, meta=new_meta)


def _plan_state(state: State, request: SubmitRequest) -> PlanState:
    """A new plan's settings: what the request says, else the repository's defaults."""
    defaults = state.config.plans
    return PlanState(
        verify_command=request.verify_command if request.verify_command is not None else defaults.verify_command,
        fix_cycles=request.fix_cycles if request.fix_cycles is not None else defaults.fix_cycles,
        approve=request.approve if request.approve is not None else defaults.approve,
    )


def _waiting_for(dependency: Task) -> str:
    """How a blocked task names a dependency it waits for (saying so when that one ended without success)."""
    ended = dependency.status in _ENDED_WITHOUT_SUCCESS
    return f"{dependency.id} ({dependency.status.value}: retry it)" if ended else dependency.id


def _checked_title(raw: str, limits: Limits) -> str:
    title = raw.strip()
    if not title:
        raise UsageError("the task title is empty: give a short title, e.g. coordinator submit 'Fix the login bug'")
    validated(partial(check_title, title))
    if len(title) > limits.max_title_chars:
        raise UsageError(
            f"the title is {len(title)} characters long, over the limit of {limits.max_title_chars} "
            "(see 'coordinator limits'): shorten it and put the details in the body, or raise the limit with "
            "'coordinator limits --set max_title_chars=N'"
        )
    return title


def _check_body(body: str, limits: Limits) -> None:
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates: bytes that were not UTF-8 on the way in
        raise UsageError(
            f"the body is not valid text (an undecodable byte at position {exc.start + 1}): save it as UTF-8"
        ) from None
    if size > limits.max_body_bytes:
        raise UsageError(
            f"the body is {size} bytes, over the limit of {limits.max_body_bytes} bytes "
            "(see 'coordinator limits'): commit big inputs to the repository and name their path in the body, or "
            "link to them"
        )


def _checked_dependencies(state: State, request: SubmitRequest) -> list[str]:
    """The request's dependencies, once each: they exist, and have not failed for good unless allowed."""
    depends_on = list(dict.fromkeys(request.depends_on))
    archived = [dep for dep in depends_on if dep not in state.tasks and dep in state.archived]
    if archived:
        gone = state.archived[archived[0]]
        raise UsageError(
            f"dependency {gone.task_id} ended ({gone.status}) and was archived by 'coordinator gc': a new task "
            f"cannot wait for it; drop --depends-on {gone.task_id} (see 'coordinator show {gone.task_id}')"
        )
    missing = [dep for dep in depends_on if dep not in state.tasks]
    if missing:
        raise UsageError(f"unknown dependency {', '.join(missing)}: run 'coordinator list' to see the task ids")
    ended = [state.tasks[dep] for dep in depends_on if state.tasks[dep].status in _ENDED_WITHOUT_SUCCESS]
    if ended and not request.allow_failed_dependency:
        dep = ended[0]
        raise UsageError(
            f"dependency {dep.id} is {dep.status.value}, so the new task would wait forever: retry it first with "
            f"'coordinator retry {dep.id}', or pass --allow-failed-dependency to submit anyway (the task then "
            f"stays blocked until {dep.id} succeeds)"
        )
    return depends_on


def _new_task_id(state: State, requested: str | None) -> tuple[str, Meta | None]:
    """The id of the new task and the counter to write with it (None: the counter does not move)."""
    if requested is not None:
        task_id = validated(lambda: check_name("task id", requested))
        if task_id in state.tasks or state.problem_for("tasks", task_id) is not None:
            raise UsageError(f"task '{task_id}' exists already: run 'coordinator show {task_id}'")
        if task_id in state.archived:
            raise UsageError(
                f"task '{task_id}' exists already in the archive (ids are never reused): run 'coordinator show "
                f"{task_id}', and submit the new work under another id"
            )
        return task_id, None
    meta = state.meta
    if META_PATH in state.problems:
        # A bad file must never stop the queue: rebuild the counter from the highest task number on the branch
        # (readable or not), so no id is reused, and write the repaired file with this task.
        meta = Meta(created_at=state.meta.created_at, next_task_number=_highest_task_number(state) + 1)
    number = meta.next_task_number
    while (
        f"task-{number}" in state.tasks
        or f"task-{number}" in state.archived
        or state.problem_for("tasks", f"task-{number}") is not None
    ):
        number += 1
    return f"task-{number}", meta.model_copy(update={"next_task_number": number + 1})


def _highest_task_number(state: State) -> int:
    keys = [
        *state.tasks,
        *state.archived,
        *(p.key for p in state.problems.values() if p.collection == "tasks" and p.key),
    ]
    numbers = [int(k[5:]) for k in keys if k.startswith("task-") and k[5:].isdigit() and len(k) < 15]
    return max(numbers, default=0)


def cancel(state: State, *, task_id: str, now: datetime, by: str = "unknown", reason: str | None = None) -> Change:
    """Cancel a task that has not ended; a running agent is stopped when its runner next renews the lease."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.is_terminal:
        raise InvalidTransition(task_id, f"is {task.status.value} already; nothing to cancel")
    why = f"cancelled by {by}" + (f": {reason}" if reason else "")
    updated = _cancelled(task, why, by, now)
    draft.put(updated)
    draft.lines.append(f"cancel {task_id} by {by}")
    if task.kind == "plan":  # its subtasks have no purpose without it
        for child in [t for t in state.tasks.values() if t.parent == task_id and not t.is_terminal]:
            draft.put(_cancelled(draft.get(child.id), f"its plan {task_id} was {why}", by, now))
            draft.lines.append(f"cancel {child.id} (its plan {task_id} was cancelled)")
    return draft.change(task=updated)


def _cancelled(task: Task, why: str, by: str, now: datetime) -> Task:
    """``task`` cancelled by ``by`` (see :func:`cancelled`)."""
    return cancelled(task, why=why, attempt_reason=f"cancelled by {by}", now=now)


def retry(state: State, *, task_id: str, now: datetime, by: str = "unknown", mode: str | None = None) -> Change:
    """Give a failed or cancelled task a new round of attempts (in ``mode`` if given, else its last mode); a plan
    that has children re-opens instead (see :func:`~coordinator.core.transitions.plan_retry.retry_plan`)."""
    if mode is not None:
        require_mode(state.modes, mode)
    draft = Draft(state)
    task = draft.get(task_id)
    if task.status == TaskStatus.SUCCEEDED:
        raise InvalidTransition(task_id, "succeeded; submit a new task to do more work")
    if not task.is_terminal:
        raise InvalidTransition(task_id, f"is {task.status.value}; only failed or cancelled tasks can be retried")
    if task.kind == "plan" and task.depends_on:
        from coordinator.core.transitions.plan_retry import retry_plan

        return draft.change(task=retry_plan(draft, task, now, by=by))
    updated = retried(state, task, now, by=by, mode=mode)
    draft.put(updated)
    draft.lines.append(f"retry {task_id} by {by}, round {updated.round}")
    revive_dependents(draft, task_id, now)
    reopen_plan(draft, task_id, now)
    return draft.change(task=updated)


def retried(state: State, task: Task, now: datetime, *, by: str, mode: str | None = None) -> Task:
    """``task`` in a new round: queued, or blocked while a dependency has not succeeded."""
    waiting = [d for d in task.depends_on if d not in state.tasks or state.tasks[d].status != TaskStatus.SUCCEEDED]
    return task.model_copy(
        update={
            "round": task.round + 1,
            "mode": mode or task.mode,
            "status": TaskStatus.BLOCKED if waiting else TaskStatus.QUEUED,
            "status_reason": f"retried by {by}" + (f"; waiting for {', '.join(waiting)}" if waiting else ""),
            "lease": None,
            "next_mode": None,
            "question": None,
            "resume": None,
            "updated_at": now,
        }
    )
