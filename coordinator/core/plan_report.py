"""A plan's final report, derived from its children as the state branch has them: every child with outcome,
runner, mode, duration and cost; the verify runs and fixes; total cost; wall time against the children's added
times (the parallel speed-up). Pure."""

from __future__ import annotations

from collections.abc import Sequence

from coordinator.models import ChildLine, PlanReport, Task


def plan_report(plan: Task, children: Sequence[Task], *, head: str | None) -> PlanReport:
    """The report of ``plan`` over ``children`` (subtasks, verify and fix children, in the plan's order)."""
    lines = [_line(child) for child in children]
    starts = [a.started_at for c in children for a in c.attempts if a.started_at is not None]
    ends = [a.finished_at for c in children for a in c.attempts if a.finished_at is not None]
    wall = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    work = sum(line.duration_seconds or 0.0 for line in lines)
    own = sum(a.cost_usd or 0.0 for a in plan.attempts)  # the planning attempts
    return PlanReport(
        children=lines,
        verify_runs=sum(1 for c in children if c.kind == "verify" and c.attempts),
        fixes=sum(1 for c in children if c.kind == "fix"),
        cost_usd=round(own + sum(line.cost_usd or 0.0 for line in lines), 6),
        wall_seconds=round(wall, 3) if wall is not None else None,
        work_seconds=round(work, 3),
        speedup=round(work / wall, 2) if wall else None,
        head=head,
    )


def _line(child: Task) -> ChildLine:
    last = child.attempts[-1] if child.attempts else None
    durations = [a.duration_seconds for a in child.attempts if a.duration_seconds is not None]
    costs = [a.cost_usd for a in child.attempts if a.cost_usd is not None]
    verified = last.verification if last is not None else None
    return ChildLine(
        id=child.id,
        title=child.title,
        kind=child.kind,
        status=child.status.value,
        runner=last.runner if last is not None else None,
        mode=last.mode if last is not None else None,
        attempts=len(child.attempts),
        duration_seconds=round(sum(durations), 3) if durations else None,
        cost_usd=round(sum(costs), 6) if costs else None,
        passed=verified.passed if verified is not None else None,
    )


def report_lines(report: PlanReport) -> list[str]:
    """The report as plain text lines (``coordinator show``; the tracking comment renders its own)."""
    lines = [f"{'CHILD':<16} {'KIND':<7} {'OUTCOME':<10} {'RUNNER':<12} {'MODE':<8} {'TIME':>8} {'COST':>9}"]
    for c in report.children:
        outcome = c.status if c.passed is None else ("green" if c.passed else "red")
        time = f"{c.duration_seconds:.0f}s" if c.duration_seconds is not None else "-"
        cost = f"${c.cost_usd:.4f}" if c.cost_usd is not None else "-"
        lines.append(
            f"{c.id:<16} {c.kind:<7} {outcome:<10} {c.runner or '-':<12} {c.mode or '-':<8} {time:>8} {cost:>9}"
        )
    lines.append(f"verify runs: {report.verify_runs}, fixes: {report.fixes}, total cost: ${report.cost_usd:.4f}")
    if report.wall_seconds is not None:
        speed = f" (speed-up {report.speedup:.2f}x)" if report.speedup is not None else ""
        lines.append(f"wall time {report.wall_seconds:.0f}s vs children's time {report.work_seconds:.0f}s{speed}")
    if report.head:
        lines.append(f"integrated commit: {report.head}")
    return lines
