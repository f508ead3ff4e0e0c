"""What happens to a plan once the children it waits for have ended: its subtasks succeeded → a ``verify`` child
integrates their branches into the plan's and runs the verify command there; red (or a merge conflict) → a
``fix`` child mends it and another verify follows, at most ``fix_cycles`` times; green → the plan succeeds with
its report; anything else → the plan fails with the reason, and a person is called. Pure transitions.

Children are named ``<plan>.<n>`` (subtasks), ``<plan>.v<k>`` (verify runs) and ``<plan>.f<k>`` (fixes); the
plan's ``depends_on`` lists them all in the order they were made, so the last verify is the one that counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from coordinator.core.plan_report import plan_report
from coordinator.core.transitions.plan_github import on_plan_end
from coordinator.models import Source, Task, TaskStatus, Verification

if TYPE_CHECKING:
    from coordinator.core.transitions.change import Draft

#: How much of a red verification's output a fix child's body quotes.
_OUTPUT_IN_FIX = 6_000


def advance_plan(draft: Draft, plan: Task, now: datetime) -> bool:
    """Move ``plan`` (blocked on its children) on when they have all ended; True when something changed."""
    children = [draft.changed.get(c) or draft.state.tasks.get(c) for c in plan.depends_on]
    if not children or any(c is None or not c.is_terminal for c in children):
        return False  # no children: its subtasks wait for approval
    kids = [c for c in children if c is not None]
    bad = [c for c in kids if c.kind == "task" and c.status != TaskStatus.SUCCEEDED]
    if bad:
        return _end(draft, plan, kids, now, why=f"subtasks that did not succeed: {_listed(bad)}")
    checks = [c for c in kids if c.kind in ("verify", "fix")]
    if plan.plan is None:  # a plan made before verification existed ends with its subtasks
        return _end(draft, plan, kids, now, why=None)
    if not checks:
        _enqueue(draft, plan, [_verify(plan, 1, now, after=None)], now, why="verifying its integrated branch")
        return True
    failed_fix = next((c for c in checks if c.kind == "fix" and c.status != TaskStatus.SUCCEEDED), None)
    if failed_fix is not None:
        return _end(draft, plan, kids, now, why=f"fix {failed_fix.id} {failed_fix.status.value}: {_reason(failed_fix)}")
    last = next(c for c in reversed(checks) if c.kind == "verify")
    found = _verification(last)
    if last.status == TaskStatus.SUCCEEDED and found is not None and found.passed:
        return _end(draft, plan, kids, now, why=None, head=found.head)
    if found is None or found.passed:
        return _end(draft, plan, kids, now, why=f"verify {last.id} {last.status.value}: {_reason(last)}")
    fixes = sum(1 for c in checks if c.kind == "fix")
    used = fixes - plan.plan.cycles_from  # since its last retry
    if used >= plan.plan.fix_cycles:
        why = f"verification still fails after {used} fix cycle(s) ({last.id}: {_reason(last)}); a person must look"
        return _end(draft, plan, kids, now, why=why)
    fix = _fix(plan, fixes + 1, last, found, now)
    again = _verify(plan, sum(1 for c in checks if c.kind == "verify") + 1, now, after=fix.id)
    _enqueue(draft, plan, [fix, again], now, why=f"{fix.id} mends what {last.id} found")
    return True


def _clip(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _verification(task: Task) -> Verification | None:
    return task.attempts[-1].verification if task.attempts else None


def _reason(task: Task) -> str:
    return _clip(task.status_reason or "no reason recorded", 200)


def _listed(tasks: list[Task]) -> str:
    return ", ".join(f"{c.id} ({c.status.value})" for c in tasks)


def _enqueue(draft: Draft, plan: Task, children: list[Task], now: datetime, *, why: str) -> None:
    for child in children:
        draft.put(child)
    reason = f"waits for {children[-1].id}: {why}"
    update = {"depends_on": [*plan.depends_on, *(c.id for c in children)], "status_reason": reason, "updated_at": now}
    draft.put(plan.model_copy(update=update))
    draft.lines.append(f"enqueue {', '.join(c.id for c in children)} of plan {plan.id} ({why})")


def _child(plan: Task, task_id: str, *, kind: str, title: str, body: str, now: datetime, **more: object) -> Task:
    """A verify or fix child: the plan's mode, capabilities and priority, made by the plan."""
    return Task.model_validate(
        {
            "id": task_id,
            "title": _clip(title, 120),
            "body": body,
            "source": Source(kind="plan", actor=plan.source.actor, at=now),
            "priority": plan.priority,
            "created_at": now,
            "updated_at": now,
            "mode": plan.mode,
            "requested_mode": plan.mode,
            "requires": plan.requires,
            "max_attempts": plan.max_attempts,
            "kind": kind,
            "parent": plan.id,
            **more,
        }
    )


def _verify(plan: Task, number: int, now: datetime, *, after: str | None) -> Task:
    assert plan.plan is not None
    command = plan.plan.verify_command
    how = f"runs `{command}`" if command else "runs the project's tests (an agent finds how)"
    body = (
        f"Verify plan {plan.id} ({plan.title}): merge its subtasks' branches into the plan's branch, in order, "
        f"then {how} there. Do not change the code."
    )
    status = {"status": TaskStatus.BLOCKED, "status_reason": f"waiting for {after}"} if after else {}
    return _child(
        plan,
        f"{plan.id}.v{number}",
        kind="verify",
        title=f"Verify {plan.title}",
        body=body,
        now=now,
        depends_on=[after] if after else [],
        **status,
    )


def _fix(plan: Task, number: int, verify: Task, found: Verification, now: datetime) -> Task:
    if found.conflict is not None:
        body = (
            f"Merging the branch of subtask {found.conflict} into the branch of plan {plan.id} ({plan.title}) "
            "conflicts. The merge is in progress in this worktree: resolve every conflict so that both sides' "
            "work is kept, and make sure the code still builds."
        )
        return _child(
            plan,
            f"{plan.id}.f{number}",
            kind="fix",
            title=f"Resolve the merge of {found.conflict}",
            body=body,
            now=now,
            merge=found.conflict,
        )
    ran = f"`{found.command}` exited {found.exit_code}" if found.command else "the project's tests failed"
    output = found.output[-_OUTPUT_IN_FIX:]
    body = (
        f"The integrated branch of plan {plan.id} ({plan.title}) fails verification ({verify.id}): {ran}.\n\n"
        f"What it printed (the end):\n\n```\n{output}\n```\n\n"
        "Fix the code so that the verification passes. Do not weaken, skip or delete tests to make it pass."
    )
    return _child(plan, f"{plan.id}.f{number}", kind="fix", title=f"Fix {plan.title}", body=body, now=now)


def _end(
    draft: Draft, plan: Task, children: list[Task], now: datetime, *, why: str | None, head: str | None = None
) -> bool:
    """End the plan (succeeded without ``why``, failed with it) and record its report."""
    status = TaskStatus.FAILED if why else TaskStatus.SUCCEEDED
    report = plan_report(plan, children, head=head)
    state = plan.plan.model_copy(update={"report": report}) if plan.plan is not None else None
    ended = plan.model_copy(update={"status": status, "status_reason": why, "updated_at": now, "plan": state})
    draft.put(on_plan_end(ended, now) if state is not None else ended)
    draft.lines.append(f"plan {plan.id} {status.value}" + (f": {why}" if why else ""))
    return True
