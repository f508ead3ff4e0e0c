"""The text of STATUS.md, from the facts of :mod:`coordinator.core.dashboard`. Pure.

Titles, runner names and messages come from the branch, and issue titles from anyone who can open an issue:
every cell is escaped so that it stays plain text in GitHub's rendering (no links, images, HTML or broken tables).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from coordinator.core.dashboard import Dashboard, ago, elapsed, money, task_cost
from coordinator.models import Runner, Task, TaskStatus
from coordinator.text import terminal_safe

#: What could make a cell more than text: emphasis, code, links and images, HTML and entities, a table's bar.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_CELL_CHARS = 80
#: The running table stops here: rendering is part of every commit, so its cost must not grow with the fleet.
RUNNING_ROWS = 30


def cell(text: str, width: int = _CELL_CHARS) -> str:
    """``text`` as one table cell of plain text: one line, clipped, control characters shown escaped, and every
    character Markdown or HTML would act on backslash-escaped."""
    flat = terminal_safe(" ".join(text.split()))
    if len(flat) > width:
        flat = flat[: width - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _queue(board: Dashboard) -> list[str]:
    shown = [s for s in TaskStatus if board.counts.get(s)] or [TaskStatus.QUEUED]
    headers = [s.value.replace("_", " ") for s in shown] + ["archived"]
    return _table(headers, [[str(board.counts.get(s, 0)) for s in shown] + [str(board.archived)]])


def _running_row(task: Task, board: Dashboard) -> list[str]:
    lease = task.lease
    attempt = task.current_attempt()
    return [
        cell(task.id),
        cell(task.title, 60),
        cell(lease.runner if lease else "-"),
        cell(attempt.mode if attempt else task.mode),
        str(lease.attempt if lease else "-"),
        elapsed(task, board.now),
    ]


def _runner_row(runner: Runner, board: Dashboard) -> list[str]:
    silent = runner.is_silent(board.now)
    return [
        cell(runner.name),
        cell(runner.host or "-"),
        cell(runner.state.value),
        f"{len(runner.running)}/{runner.slots}",
        ago(runner.last_heartbeat, board.now) + (" **silent**" if silent else ""),
        cell(runner.message or "", 60),
    ]


def _result_row(task: Task, board: Dashboard) -> list[str]:
    last = task.attempts[-1] if task.attempts else None
    shown = last.outcome_detail if last is not None else None
    detail = f" ({shown})" if shown and shown != task.status.value else ""
    return [
        cell(task.id),
        cell(task.title, 60),
        cell(task.status.value + detail),
        cell(last.mode if last else task.mode),
        str(len(task.attempts)),
        money(task_cost(task)),
        ago(task.updated_at, board.now),
    ]


def status_markdown(board: Dashboard, branch: str | None = None) -> str:
    """The content of STATUS.md."""
    stamp = board.now.strftime("%Y-%m-%d %H:%M:%S UTC")
    where = f" of `{branch}`" if branch else ""
    lines = [
        f"# coordinator status{where}",
        "",
        f"As of {stamp}: rewritten by every change to this branch; `coordinator status --watch` shows it live.",
        "",
        "## Queue",
        "",
        *_queue(board),
        "",
        f"## Running ({len(board.running)})",
        "",
    ]
    running = [_running_row(t, board) for t in board.running[:RUNNING_ROWS]]
    lines += _table(["task", "title", "runner", "mode", "attempt", "elapsed"], running) if running else ["None."]
    if len(board.running) > RUNNING_ROWS:
        lines += ["", f"… and {len(board.running) - RUNNING_ROWS} more (`coordinator list --status running`)."]
    lines += ["", f"## Runners ({len(board.runners)})", ""]
    runners = [_runner_row(r, board) for r in board.runners]
    headers = ["runner", "host", "state", "busy", "last heartbeat", "note"]
    lines += _table(headers, runners) if runners else ["None has reported yet."]
    lines += ["", "## Latest results", ""]
    results = [_result_row(t, board) for t in board.latest]
    headers = ["task", "title", "outcome", "mode", "attempts", "cost", "ended"]
    lines += _table(headers, results) if results else ["None yet."]
    lines += ["", f"## Spend today ({board.now:%Y-%m-%d} UTC)", ""]
    lines.append(f"{money(board.spent_today_usd)} recorded by {board.paid_attempts_today} attempt(s).")
    if board.budget:
        lines += ["", cell(board.budget, 200)]
    return "\n".join(lines) + "\n"
