"""A plan's planning result: its subtasks enqueued in the same commit as the result (children ``<plan-id>.<n>``,
with their dependencies), the plan waiting until they end, then ending as they did; or, for a plan that asks for
approval, the plan kept as its proposal until a person approves it (see :mod:`.plan_approval`). Pure transitions."""

from __future__ import annotations

from datetime import datetime

from coordinator.core.state import State
from coordinator.core.transitions.change import Change, Draft, require_mode
from coordinator.core.transitions.results import complete
from coordinator.models import AttemptResult, PlanFile, PlanState, Source, Subtask, Task, TaskStatus

#: The most subtasks a plan made from GitHub may have (as ``coordinator plan``'s default).
GITHUB_MAX_SUBTASKS = 10


def complete_plan(
    state: State, *, task_id: str, runner: str, result: AttemptResult, plan: PlanFile, now: datetime, attempt: int
) -> Change:
    """Record the planning attempt's success and enqueue its subtasks; the plan waits for them (``blocked`` on
    its children). A plan that asks for approval keeps ``plan`` as its proposal instead and waits (``blocked``, no
    children yet) for ``approve`` or ``replan``. A late report (the plan moved on) records the result only."""
    done = complete(state, task_id=task_id, runner=runner, result=result, now=now, attempt=attempt)
    planned = done.task
    if planned is None or planned.status != TaskStatus.SUCCEEDED:
        return done
    draft = Draft(state)
    for task in done.tasks:
        if task.id != task_id:
            draft.put(task)
    draft.lines.append(done.message.replace(f"complete {task_id}", f"plan {task_id}", 1))
    if planned.plan is not None and planned.plan.approve:
        waiting = _propose(draft, planned, plan, now)
    else:
        waiting = enqueue_subtasks(draft, planned, plan, now)
    return draft.change(task=waiting)


def _propose(draft: Draft, planned: Task, plan: PlanFile, now: datetime) -> Task:
    """Keep ``plan`` on ``planned`` until a person approves it: nothing is queued, the plan waits (``blocked``
    without dependencies, so no subtask's end can end it) and says which command moves it on."""
    assert planned.plan is not None
    n = len(plan.subtasks)
    waiting = planned.model_copy(
        update={
            "status": TaskStatus.BLOCKED,
            "status_reason": awaiting_reason(planned.id, n),
            "depends_on": [],
            "plan": planned.plan.model_copy(update={"proposal": plan}),
            "updated_at": now,
        }
    )
    draft.put(waiting)
    draft.lines.append(f"propose {n} subtasks of {planned.id} for approval: {', '.join(s.key for s in plan.subtasks)}")
    return waiting


def awaiting_reason(plan_id: str, subtasks: int) -> str:
    """The status reason of a plan whose proposal waits for approval: what it waits for and the next commands."""
    return (
        f"its plan of {subtasks} subtasks waits for approval: run 'coordinator approve {plan_id}', or "
        f"'coordinator replan {plan_id} \"FEEDBACK\"' for a new plan"
    )


def awaits_approval(task: Task) -> bool:
    """Whether ``task`` is a plan whose proposed subtasks wait for a person's approval."""
    return (
        task.kind == "plan"
        and task.status == TaskStatus.BLOCKED
        and task.plan is not None
        and task.plan.proposal is not None
    )


def enqueue_subtasks(draft: Draft, planned: Task, plan: PlanFile, now: datetime) -> Task:
    """Queue ``plan``'s subtasks as children of ``planned`` (``<plan-id>.<n>``, with their dependencies) in
    ``draft``; returns the plan as it now waits for them (``blocked``)."""
    first = _next_child_number(draft.state, planned.id)
    ids = {s.key: f"{planned.id}.{n}" for n, s in enumerate(plan.subtasks, start=first)}
    children = [_child(draft.state, planned, subtask_id=ids[s.key], subtask=s, ids=ids, now=now) for s in plan.subtasks]
    waiting = planned.model_copy(
        update={
            "status": TaskStatus.BLOCKED,
            "status_reason": f"waits for its {len(children)} subtasks",
            "depends_on": [c.id for c in children],
            "updated_at": now,
        }
    )
    for task in (waiting, *children):
        draft.put(task)
    draft.lines.append(f"enqueue {len(children)} subtasks of {planned.id}: {', '.join(c.id for c in children)}")
    return waiting


def _next_child_number(state: State, plan_id: str) -> int:
    """The number of ``plan_id``'s next child: after every child an earlier plan of it made (a replanned plan's
    old subtasks keep their ids, archived ones too: ids are never reused)."""
    prefix = plan_id + "."
    taken = [key[len(prefix) :] for key in (*state.tasks, *state.archived) if key.startswith(prefix)]
    return max((int(n) for n in taken if n.isdigit()), default=0) + 1


def _child(state: State, plan: Task, *, subtask_id: str, subtask: Subtask, ids: dict[str, str], now: datetime) -> Task:
    mode = subtask.mode if subtask.mode in state.modes.modes else plan.mode
    require_mode(state.modes, mode)
    needs = [ids[d] for d in subtask.depends_on]
    return Task(
        id=subtask_id,
        title=subtask.title,
        body=subtask.body,
        source=Source(kind="plan", actor=plan.source.actor, at=now),
        priority=subtask.priority or plan.priority,
        created_at=now,
        updated_at=now,
        mode=mode,
        requested_mode=mode,
        requires=sorted(set(subtask.requires) | set(plan.requires)),
        depends_on=needs,
        max_attempts=plan.max_attempts,
        status=TaskStatus.BLOCKED if needs else TaskStatus.QUEUED,
        status_reason=f"waiting for {', '.join(needs)}" if needs else None,
        kind="task",
        parent=plan.id,
    )


def plan_defaults(state: State) -> PlanState:
    """A new plan's settings when nobody gave any: the repository's (``plans`` in config.json). A verify command
    never comes from anything else on GitHub: event text must never reach a command line."""
    defaults = state.config.plans
    return PlanState(verify_command=defaults.verify_command, fix_cycles=defaults.fix_cycles, approve=defaults.approve)


def new_round_kind(state: State, task: Task, as_plan: bool) -> dict[str, object]:
    """What a new round of an ended ``task`` changes for being a plan (``as_plan``) or a task: a plan plans again
    from nothing (no proposal, approval, report or subtasks of its last round; its settings kept, else the
    repository's), and a plan that becomes a task forgets it was one."""
    if as_plan:
        settings = task.plan or plan_defaults(state)
        fresh = settings.model_copy(update={"proposal": None, "approved_by": None, "approved_at": None, "report": None})
        return {
            "kind": "plan",
            "plan": fresh,
            "depends_on": [],
            "max_subtasks": task.max_subtasks or GITHUB_MAX_SUBTASKS,
        }
    if task.kind == "plan":
        return {"kind": "task", "plan": None, "depends_on": [], "max_subtasks": None}
    return {}
