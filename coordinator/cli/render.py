"""Turning state into text for people: tables, task details, status summaries."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from coordinator.core.state import Problem, State
from coordinator.models import Runner, Task, TaskStatus
from coordinator.text import table
from coordinator.timeutil import format_duration


def ago(when: datetime | None, now: datetime) -> str:
    """``3m05s ago`` (or ``in 2h00m`` for the future)."""
    if when is None:
        return "-"
    seconds = (now - when).total_seconds()
    return f"{format_duration(seconds)} ago" if seconds >= 0 else f"in {format_duration(-seconds)}"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


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
    lines = [
        f"{task.id}: {task.title}",
        f"  status:    {task.status.value}" + (f" ({task.status_reason})" if task.status_reason else ""),
        f"  priority:  {task.priority.value}    mode: {task.mode}    attempts: "
        f"{task.counted_attempts()}/{task.max_attempts} (round {task.round})",
        f"  created:   {task.created_at.isoformat()} ({ago(task.created_at, now)}) by {task.source.actor} "
        f"via {task.source.kind}",
    ]
    if task.deadline:
        lines.append(f"  deadline:  {task.deadline.isoformat()} ({ago(task.deadline, now)})")
    if task.requires:
        lines.append(f"  requires:  {', '.join(task.requires)}")
    if task.depends_on:
        lines.append(f"  depends on: {', '.join(task.depends_on)}")
    if task.group:
        lines.append(f"  group:     {task.group}")
    if task.lease:
        lines.append(
            f"  lease:     {task.lease.runner}, attempt {task.lease.attempt}, expires {ago(task.lease.expires_at, now)}"
        )
    for attempt in task.attempts:
        cost = f"${attempt.cost_usd:.4f}" if attempt.cost_usd is not None else "-"
        took = format_duration(attempt.duration_seconds) if attempt.duration_seconds is not None else "-"
        lines.append(
            f"  attempt {attempt.number}: {attempt.outcome.value} by {attempt.runner} in {attempt.mode}"
            f" ({attempt.model or '-'}), {took}, {cost}" + ("" if attempt.counted else ", not counted")
        )
        for label, value in (
            ("reason", attempt.reason),
            ("error", attempt.error),
            ("summary", attempt.summary),
            ("branch", attempt.branch),
            ("commit", attempt.commit),
            ("log", attempt.log),
        ):
            if value:
                lines.append(f"    {label}: {_clip(value, 200)}")
    if task.body.strip():
        lines += ["", *("  " + line for line in task.body.strip().splitlines())]
    return "\n".join(lines)


def runner_rows(runners: Iterable[Runner], now: datetime) -> str:
    """Runners with their last heartbeat."""
    rows = [
        (
            r.name,
            r.state.value + (" (silent)" if r.is_silent(now) else ""),
            ago(r.last_heartbeat, now),
            f"{len(r.running)}/{r.slots}",
            ",".join(r.capabilities) or "-",
            r.message or (f"cooling down until {r.cooldown_until.isoformat()}" if r.cooldown_until else ""),
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
    if state.runners:
        lines += ["", runner_rows(state.runners.values(), now)]
    else:
        lines.append("runners: none has reported yet (start one with 'coordinator runner --name NAME --repo PATH')")
    if state.problems:
        lines += ["", problems_text(state.problems.values())]
    return "\n".join(lines)


def problems_text(problems: Iterable[Problem]) -> str:
    """Files that could not be read, with what to do about them."""
    lines = ["unreadable files on the state branch (skipped until fixed; fix or delete them in a commit):"]
    lines += [f"  {p.path}: {p.reason}" for p in sorted(problems, key=lambda p: p.path)]
    return "\n".join(lines)


def to_json(value: Any) -> str:
    """Pretty JSON for --json output."""
    return json.dumps(value, indent=2, sort_keys=False, default=str)
