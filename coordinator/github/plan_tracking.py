"""A plan's part of its issue's tracking comment (and of its pull request's body): the proposal that waits for
approval with the commands that move it on, the subtasks with their status while they run, and the final report
once the plan ended. Pure. Everything the planning agent wrote (titles) is untrusted: sanitized, made inert and
kept on one table cell."""

from __future__ import annotations

from collections.abc import Sequence

from coordinator.github.sanitize import sanitize
from coordinator.models import PlanFile, PlanReport, Task, TaskStatus

_CELL_CHARS = 120


def plan_headline(task: Task, children: Sequence[Task]) -> str | None:
    """The headline of a plan that waits (for approval, or for its subtasks); None: the usual one."""
    state = task.plan
    if task.kind != "plan" or state is None or task.status != TaskStatus.BLOCKED:
        return None
    if state.proposal is not None:
        return f"📋 **Plan proposed**: {len(state.proposal.subtasks)} subtasks wait for approval"
    if children:
        done = sum(1 for c in children if c.is_terminal)
        return f"⚙️ **Working on the plan**: {done} of {len(children)} subtasks ended"
    return None


def plan_lines(task: Task, children: Sequence[Task]) -> list[str]:
    """The plan's section of the tracking comment, for where it is now (none for a task that is not a plan)."""
    state = task.plan
    if task.kind != "plan" or state is None:
        return []
    if state.proposal is not None and task.status == TaskStatus.BLOCKED:
        return proposal_lines(state.proposal)
    if state.report is not None and task.is_terminal:
        return report_lines(state.report)
    if children:
        return children_lines(children)
    return []


def proposal_lines(proposal: PlanFile) -> list[str]:
    """The proposed subtasks and what a writer says to run them, or to plan again."""
    rows = [
        f"| {n} | `{s.key}` | {_cell(s.title)} | {', '.join(f'`{d}`' for d in s.depends_on)} |"
        for n, s in enumerate(proposal.subtasks, start=1)
    ]
    return [
        "**Proposed subtasks** (the planning agent's words):",
        "",
        "| # | Key | Subtask | Depends on |",
        "|---|---|---|---|",
        *rows,
        "",
        "Someone with write access comments `/approve` to run them, or `/replan <what to change>` for a new plan.",
        "",
    ]


def children_lines(children: Sequence[Task]) -> list[str]:
    """The plan's subtasks as they are now: status and where they run."""
    rows = []
    for child in children:
        runner = next((a.runner for a in reversed(child.attempts)), None)
        kind = f"{child.kind}: " if child.kind != "task" else ""
        where = f"`{_cell(runner)}`" if runner else ""
        rows.append(f"| `{child.id}` | {kind}{_cell(child.title)} | {child.status.value.replace('_', ' ')} | {where} |")
    return ["**Subtasks**", "", "| Subtask | Title | Status | Runner |", "|---|---|---|---|", *rows, ""]


def report_lines(report: PlanReport) -> list[str]:
    """The plan's final report: every child with outcome, runner, mode, duration and cost; the verify runs and
    fixes; the total cost; the wall time against the work time (the speed-up of running in parallel)."""
    rows = []
    for child in report.children:
        outcome = child.status.replace("_", " ")
        if child.passed is not None:
            outcome += " (green)" if child.passed else " (red)"
        cells = (
            f"`{child.id}`",
            (f"{child.kind}: " if child.kind != "task" else "") + _cell(child.title),
            outcome,
            f"`{_cell(child.runner)}`" if child.runner else "",
            f"`{_cell(child.mode)}`" if child.mode else "",
            duration(child.duration_seconds) if child.duration_seconds is not None else "",
            f"${child.cost_usd:.4f}" if child.cost_usd is not None else "",
        )
        rows.append("| " + " | ".join(cells) + " |")
    figures = [
        ("Subtasks", str(sum(1 for c in report.children if c.kind == "task"))),
        ("Verify runs", f"{report.verify_runs}, with {report.fixes} fix(es)"),
        ("Total cost", f"${report.cost_usd:.4f}"),
        ("Time", _speed(report)),
    ]
    return [
        "**Plan report**",
        "",
        "| Subtask | Title | Outcome | Runner | Mode | Duration | Cost |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in figures),
        "",
    ]


def _speed(report: PlanReport) -> str:
    """Wall time against the subtasks' work time, added up: how much running them in parallel saved."""
    work = duration(report.work_seconds)
    if report.wall_seconds is None:
        return f"{work} of work"
    said = f"{duration(report.wall_seconds)} from the first subtask's start to the last end, for {work} of work"
    if report.speedup is None or report.speedup < 1.05:
        return said + " (no faster than one after another)" if report.speedup is not None else said
    return said + f" ({report.speedup:.1f}x faster than one after another)"


def duration(seconds: float) -> str:
    """``1h 02m``, ``3m 05s`` or ``42s``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _cell(text: str) -> str:
    """Untrusted text in one table cell: visible characters on one line, no table breaks, nobody notified."""
    from coordinator.github.tracking import inert  # tracking renders this module's lines: imported when used

    flat = " ".join(inert(sanitize(text)).split()).replace("|", "\\|").replace("`", "'")
    return flat if len(flat) <= _CELL_CHARS else flat[: _CELL_CHARS - 1] + "…"
