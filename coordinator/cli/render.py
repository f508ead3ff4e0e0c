"""Turning state into text for people: tables, task details, status summaries.

Every string that came from the state branch or from GitHub is untrusted: it goes through
:func:`coordinator.text.terminal_safe` (tables do it for each cell) so that no escape sequence or bidi override
reaches the terminal. ``--json`` output is not rendered here and stays exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from coordinator.core.completion_log import Event
from coordinator.core.pipeline_runs import RunSummary
from coordinator.core.state import Problem, State
from coordinator.models import Attempt, GitHubLink, Pipeline, PlanFile, Runner, Task, TaskStatus
from coordinator.text import table, terminal_safe
from coordinator.timeutil import format_duration


def ago(when: datetime | None, now: datetime) -> str:
    """``3m05s ago`` (or ``in 2h00m`` for the future)."""
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    return f"{format_duration(seconds)} ago" if seconds >= 0 else f"in {format_duration(-seconds)}"


def _clip(text: str, width: int) -> str:
    """One line of at most ``width`` characters, terminal-safe."""
    text = terminal_safe(" ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def _names(values: Iterable[str]) -> str:
    return terminal_safe(", ".join(values))


def task_rows(tasks: Iterable[Task], now: datetime) -> str:
    """The ``coordinator list`` table."""
    rows = [
        (
            t.id,
            t.status.value,
            t.priority.value,
            t.mode,
            f"{t.counted_attempts()}/{t.max_attempts}",
            ago(t.created_at, now),
            _clip(t.title, 60),
        )
        for t in tasks
    ]
    return table(("ID", "STATUS", "PRIORITY", "MODE", "ATTEMPTS", "CREATED", "TITLE"), rows)


def task_details(task: Task, now: datetime) -> str:
    """The ``coordinator show`` text."""
    reason = f" ({terminal_safe(task.status_reason)})" if task.status_reason else ""
    lines = [
        f"{task.id}: {terminal_safe(task.title)}",
        f"  status:    {task.status.value}{reason}",
        f"  priority:  {task.priority.value}    mode: {terminal_safe(task.mode)}    attempts: "
        f"{task.counted_attempts()}/{task.max_attempts} (round {task.round})",
        f"  created:   {task.created_at.isoformat()} ({ago(task.created_at, now)}) by "
        f"{terminal_safe(task.source.actor)} via {terminal_safe(task.source.kind)}",
    ]
    if task.deadline:
        lines.append(f"  deadline:  {task.deadline.isoformat()} ({ago(task.deadline, now)})")
    if task.requires:
        lines.append(f"  requires:  {_names(task.requires)}")
    if task.depends_on:
        lines.append(f"  depends on: {_names(task.depends_on)}")
    if task.group:
        lines.append(f"  group:     {terminal_safe(task.group)}")
    if task.lease:
        lines.append(
            f"  lease:     {terminal_safe(task.lease.runner)}, attempt {task.lease.attempt}, "
            f"expires {ago(task.lease.expires_at, now)}"
        )
    if task.github is not None:
        lines += _github_lines(task.github, now)
    lines += _conversation_lines(task)
    for attempt in task.attempts:
        lines += _attempt_lines(attempt)
    if task.body.strip():
        # Printed on purpose over several lines; each line is made safe on its own (so \r\n endings show cleanly).
        lines += ["", *("  " + terminal_safe(line) for line in task.body.strip().splitlines())]
    return "\n".join(lines)


def _github_lines(link: GitHubLink, now: datetime) -> list[str]:
    """Where a task of an issue came from and what GitHub has been told."""
    trigger = link.trigger
    lines = [
        f"  github:    {terminal_safe(link.repository)}#{link.issue} {terminal_safe(link.url)}",
        f"  trigger:   {terminal_safe(trigger.actor)} ({terminal_safe(trigger.permission)}), "
        f"{terminal_safe(trigger.event)} at {trigger.at.isoformat()}",
    ]
    told = [f"comment {link.comment_id}" if link.comment_id else "no comment yet"]
    if link.pull_url:
        told.append(f"PR {terminal_safe(link.pull_url)}")
    if link.pushed:
        told.append(f"pushed {link.pushed[:12]}")
    lines.append(f"  delivered: {', '.join(told)}")
    if link.refused:
        lines.append(f"  refused:   {terminal_safe(link.refused)} (nothing is delivered to GitHub for it)")
    elif link.pending:
        when = f", next try {ago(link.retry_at, now)}" if link.retry_at else ""
        error = f"; last error: {terminal_safe(link.last_error)}" if link.last_error else ""
        lines.append(f"  pending:   {', '.join(link.pending)} ({link.delivery_attempts} failed tries{when}){error}")
    return lines


def _conversation_lines(task: Task) -> list[str]:
    """The agent's question, the session to resume, and what people said this round."""
    lines: list[str] = []
    follow = task.follow_up
    if follow is not None:
        what = "review" if follow.kind == "review" else "comment"
        replied = "replied in its threads" if follow.replied else f"{len(follow.notes)} review comment(s)"
        lines.append(
            f"  follow-up: {follow.number} of {terminal_safe(follow.of)}: {what} by {terminal_safe(follow.author)} "
            f"on pull request #{follow.pull} ({replied})"
        )
    question = task.question
    if question is not None and question.round == task.round:
        answered = f" (answered by {terminal_safe(question.answered_by)})" if question.answered_by else ""
        hint = "" if answered else f"; answer with 'coordinator answer {task.id} TEXT'"
        lines.append(f"  question:  {_clip(question.text, 200)}{answered}{hint}")
    if task.resume is not None:
        lines.append(
            f"  resume:    session of attempt {task.resume.attempt} on {terminal_safe(task.resume.runner)} "
            f"(kept for it until {task.resume.until.isoformat()})"
        )
    if task.next_mode:
        lines.append(f"  next mode: {terminal_safe(task.next_mode)}")
    for said in (f for f in task.feedback if f.round == task.round):
        lines.append(f"  {said.kind + ':':<10} {terminal_safe(said.author)}: {_clip(said.text, 200)}")
    return lines


def _attempt_lines(attempt: Attempt) -> list[str]:
    cost = f"${attempt.cost_usd:.4f}" if attempt.cost_usd is not None else "-"
    cost += " (partial: cut short)" if attempt.cost_partial else ""
    took = format_duration(attempt.duration_seconds) if attempt.duration_seconds is not None else "-"
    lines = [
        f"  attempt {attempt.number}: {attempt.outcome.value} by {terminal_safe(attempt.runner)} in "
        f"{terminal_safe(attempt.mode)} ({terminal_safe(attempt.model or '-')}), {took}, {cost}"
        + ("" if attempt.counted else ", not counted")
    ]
    denied = ", ".join(f"{d.tool}({d.target})" if d.target else d.tool for d in attempt.denials)
    for label, value in (
        ("reason", attempt.reason),
        ("error", attempt.error),
        ("summary", attempt.summary),
        ("denied", denied),
        ("branch", attempt.branch),
        ("commit", attempt.commit),
        ("log", attempt.log),
        ("resumed", attempt.resumed_session),
        ("fresh", attempt.fresh_because),
    ):
        if value:
            lines.append(f"    {label}: {_clip(value, 200)}")
    return lines


#: A heartbeat dated this far in the future says the runner's clock (or this machine's) is off.
CLOCK_AHEAD_NOTICE = timedelta(minutes=2)


def _runner_note(runner: Runner, now: datetime) -> str:
    ahead = runner.last_heartbeat - now
    skew = (
        f"clock {format_duration(ahead.total_seconds())} ahead of this machine's? "
        if ahead > CLOCK_AHEAD_NOTICE
        else ""
    )
    cooling = f"cooling down until {runner.cooldown_until.isoformat()}" if runner.cooldown_until else ""
    return skew + (runner.message or cooling)


def runner_rows(runners: Iterable[Runner], now: datetime) -> str:
    """Runners with their last heartbeat (and a note when a clock looks off)."""
    rows = [
        (
            r.name,
            r.state.value + (" (silent)" if r.is_silent(now) else ""),
            ago(r.last_heartbeat, now),
            f"{len(r.running)}/{r.slots}",
            ",".join(r.capabilities) or "-",
            _runner_note(r, now),
        )
        for r in sorted(runners, key=lambda r: r.name)
    ]
    return table(("RUNNER", "STATE", "HEARTBEAT", "BUSY", "CAPABILITIES", "NOTE"), rows)


def status_text(state: State, now: datetime) -> str:
    """The ``coordinator status`` summary."""
    counts = state.counts()
    total = sum(counts.values())
    parts = [f"{counts[s]} {s.value}" for s in TaskStatus if counts[s]]
    lines = [f"tasks: {total}" + (f" ({', '.join(parts)})" if parts else "")]
    lines.append(budget_line(state, now, queued=counts[TaskStatus.QUEUED]))
    if state.runners:
        lines += ["", runner_rows(state.runners.values(), now)]
    else:
        lines.append("runners: none has reported yet (start one with 'coordinator runner --name NAME --repo PATH')")
    lines += attention_lines(state)
    if state.problems:
        lines += ["", problems_text(state.problems.values())]
    return "\n".join(lines)


def event_rows(found: Iterable[Event]) -> str:
    """The completion log as a table: when, what, which task (or lock), who, the rest, the commit."""
    rows = [
        (
            e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e.kind,
            terminal_safe(e.task or (f"lock {e.lock}" if e.lock else "")),
            terminal_safe(e.who or ""),
            _clip(e.detail or ("" if e.kind != "other" else e.line), 80),
            e.commit[:10],
        )
        for e in found
    ]
    return table(("WHEN (UTC)", "EVENT", "TASK", "WHO", "DETAIL", "COMMIT"), rows)


def run_summary_text(pipeline: Pipeline, summary: RunSummary | None) -> str:
    """``pipeline show``: the phases, then the run's record (each phase's outcome, attempts, time and cost)."""
    lines = [f"pipeline {pipeline.name}: {len(pipeline.phases)} phases, {pipeline.runs} run(s)"]
    if pipeline.description:
        lines.append(f"  {terminal_safe(pipeline.description)}")
    for phase in pipeline.phases:
        needs = phase.needs if phase.needs is not None else None
        after = f" after {', '.join(needs)}" if needs else ""
        flag = "" if phase.critical else " (not critical)"
        lines.append(f"  - {phase.name}: {terminal_safe(phase.title)}{after}{flag}")
    if summary is None:
        lines.append(f"no run yet: start one with 'coordinator pipeline run {pipeline.name}'")
        return "\n".join(lines)
    lines += [
        "",
        f"run {summary.run}: {summary.status}, ${summary.cost_usd:.4f}, {format_duration(summary.seconds)} of work",
    ]
    rows = [
        (
            p.task.id,
            p.task.status.value,
            str(p.attempts),
            format_duration(p.seconds),
            f"${p.cost_usd:.4f}",
            _clip(p.task.status_reason or "", 70),
        )
        for p in summary.phases
    ]
    lines.append(table(("PHASE", "STATUS", "ATTEMPTS", "TIME", "COST", "WHY"), rows))
    return "\n".join(lines)


def subtask_tree(plan: Task, state: State) -> str:
    """A plan's subtasks as a tree: each under the subtasks it waits for, with its status and runner."""
    children = {t.id: t for t in state.tasks.values() if t.parent == plan.id}
    proposal = plan.plan.proposal if plan.plan is not None else None
    if proposal is not None:
        return proposal_text(plan.id, proposal)
    report = plan.plan.report if plan.plan is not None else None
    if not children and report is None:
        return "  subtasks:  none yet (its planning attempt writes them)"
    lines = [f"  subtasks:  {len(children)}" if children else "  subtasks:  archived with the plan's report below"]
    made = {task_id: n for n, task_id in enumerate(plan.depends_on)}  # the order the plan made them in

    def order(task: Task) -> tuple[int, str]:
        return made.get(task.id, len(made)), task.id

    def add(task: Task, depth: int) -> None:
        runner = next((a.runner for a in reversed(task.attempts)), None)
        where = f" on {terminal_safe(runner)}" if runner else ""
        lines.append(f"  {'   ' * depth}- {task.id} [{task.status.value}{where}] {terminal_safe(task.title)}")
        for child in sorted(children.values(), key=order):
            if child.depends_on and child.depends_on[0] == task.id:
                add(child, depth + 1)

    for root in sorted(
        (t for t in children.values() if not t.depends_on or t.depends_on[0] not in children), key=order
    ):
        add(root, 1)
    if report is not None:
        from coordinator.core.plan_report import report_lines

        lines += ["", "  report:", *(f"    {terminal_safe(line)}" for line in report_lines(report))]
    return "\n".join(lines)


def proposal_text(plan_id: str, proposal: PlanFile) -> str:
    """A plan's proposed subtasks (waiting for approval), each with what it waits for, and the next commands."""
    lines = [f"  proposed:  {len(proposal.subtasks)} subtasks, waiting for approval"]
    for subtask in proposal.subtasks:
        after = f" (after {_names(subtask.depends_on)})" if subtask.depends_on else ""
        lines.append(f"     - {subtask.key}: {_clip(subtask.title, 80)}{after}")
    lines.append(f'  next:      coordinator approve {plan_id}   (or: coordinator replan {plan_id} "WHAT TO CHANGE")')
    return "\n".join(lines)


def lock_rows(state: State, now: datetime) -> str:
    """The locks held now: by people and scripts (with their expiry), and by running tasks."""
    from coordinator.models import NamedLock
    from coordinator.text import table

    rows = [
        (terminal_safe(r.name), terminal_safe(r.owner), f"expires {ago(r.expires_at, now)}")
        for r in sorted(state.records.get("locks", {}).values(), key=lambda r: getattr(r, "name", ""))
        if isinstance(r, NamedLock) and r.expires_at > now
    ]
    for task in state.running_tasks():
        runner = task.lease.runner if task.lease is not None else "?"
        rows += [
            (terminal_safe(name), f"task {task.id} on {terminal_safe(runner)}", "while it runs") for name in task.locks
        ]
    if not rows:
        return "no lock is held"
    return table(("LOCK", "HELD BY", "UNTIL"), sorted(rows))


#: How many tasks that failed for good ``status`` lists (the newest).
_CALLED_TASKS = 10


def attention_lines(state: State) -> list[str]:
    """What needs a person: tasks that failed for good, runners that stopped claiming on a fault."""
    from coordinator.core.deliveries import needs_person
    from coordinator.models import RunnerState

    failed = sorted(
        (t for t in state.tasks.values() if needs_person(t) is not None), key=lambda t: t.updated_at, reverse=True
    )
    stuck = [r for r in state.runners.values() if r.state in (RunnerState.MISCONFIGURED, RunnerState.FAULTY)]
    if not failed and not stuck:
        return []
    lines = ["", "needs a person:"]
    for task in failed[:_CALLED_TASKS]:
        why = _clip(needs_person(task) or "", 120)
        lines.append(f"  {task.id}: {why} (see 'coordinator show {task.id}', then 'coordinator retry {task.id}')")
    if len(failed) > _CALLED_TASKS:
        lines.append(f"  ... and {len(failed) - _CALLED_TASKS} more failed tasks ('coordinator list --status failed')")
    for runner in stuck:
        why = _clip(runner.message or runner.state.value, 120)
        lines.append(f"  runner {terminal_safe(runner.name)} stopped claiming: {why} (fix it, then restart the runner)")
    return lines


def budget_line(state: State, now: datetime, *, queued: int | None = None) -> str:
    """Today's spend against the daily cap, on one line; when the cap is reached, why nothing is claimed."""
    from coordinator.core.spend import budget_status

    status = budget_status(state, now)
    spent = f"spend today: ${status.spent_usd:.4f}"
    if status.cap_usd is None:
        return f"{spent} ({status.day} UTC), no daily cap"
    if not status.reached:
        return f"{spent} of ${status.cap_usd:.2f} ({status.day} UTC), ${status.left_usd or 0:.2f} left"
    waiting = f" ({queued} queued task{'s wait' if queued != 1 else ' waits'} for it)" if queued else ""
    return (
        f"{spent} of ${status.cap_usd:.2f} ({status.day} UTC): the daily budget is spent; runners claim no task "
        f"until {status.resumes_at:%Y-%m-%d %H:%M} UTC{waiting}; raise the cap with 'coordinator budget --daily USD'"
    )


def problems_text(problems: Iterable[Problem]) -> str:
    """Files that could not be read, with what to do about them."""
    lines = ["unreadable files on the state branch (skipped until fixed; fix or delete them in a commit):"]
    lines += [f"  {terminal_safe(p.path)}: {terminal_safe(p.reason)}" for p in sorted(problems, key=lambda p: p.path)]
    return "\n".join(lines)


def to_json(value: Any) -> str:
    """Pretty JSON for --json output."""
    return json.dumps(value, indent=2, sort_keys=False, default=str)
