"""``coordinator status --watch``: STATUS.md's facts, live in the terminal (rich).

It looks at the branch every ``interval`` seconds with one ``git ls-remote`` and fetches only when the branch
moved, so watching costs the remote next to nothing. In a terminal the view is redrawn in place; when the output
is not a terminal (a pipe, a log file) a new view is printed each time the branch moves. Ctrl-C ends it.

Everything shown comes from the branch (titles from anyone who can open an issue): it goes into rich as ``Text``
(never parsed as rich markup) after :func:`coordinator.text.terminal_safe`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from coordinator.core.dashboard import Dashboard, ago, dashboard, elapsed, money, task_cost
from coordinator.errors import CoordinatorError
from coordinator.models import Runner, Task, TaskStatus
from coordinator.store.store import StateStore
from coordinator.text import terminal_safe
from coordinator.timeutil import utcnow


def _text(value: str, width: int = 60) -> Text:
    flat = terminal_safe(" ".join(value.split()))
    return Text(flat if len(flat) <= width else flat[: width - 1] + "…")


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Text]], empty: str) -> RenderableType:
    if not rows:
        return Text(f"{title}: {empty}")
    table = Table(title=title, title_justify="left", expand=False)
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*row)
    return table


def _rows(board: Dashboard) -> tuple[list[list[Text]], list[list[Text]], list[list[Text]]]:
    """The rows of the running tasks, the runners and the latest results."""
    now = board.now
    running = [
        [_text(t.id), _text(t.title, 40), _text(t.lease.runner if t.lease else "-"), _text(t.mode), _since(t, now)]
        for t in board.running
    ]
    runners = [
        [_text(r.name), _text(r.host or "-"), _text(r.state.value), Text(f"{len(r.running)}/{r.slots}"), _heard(r, now)]
        for r in board.runners
    ]
    latest = [
        [_text(t.id), _text(t.title, 40), _text(t.status.value), Text(money(task_cost(t))), _ended(t, now)]
        for t in board.latest
    ]
    return running, runners, latest


def _since(task: Task, now: datetime) -> Text:
    return Text(elapsed(task, now))


def _ended(task: Task, now: datetime) -> Text:
    return Text(ago(task.updated_at, now))


def _heard(runner: Runner, now: datetime) -> Text:
    return Text(ago(runner.last_heartbeat, now) + (" SILENT" if runner.is_silent(now) else ""))


def render(board: Dashboard, branch: str, trouble: str | None = None) -> RenderableType:
    """The view of one moment: queue, running tasks, runners, latest results, today's spend."""
    shown = [s for s in TaskStatus if board.counts.get(s)] or [TaskStatus.QUEUED]
    queue = Table(title="Queue", title_justify="left")
    for status in shown:
        queue.add_column(status.value.replace("_", " "), justify="right")
    queue.add_column("archived", justify="right")
    queue.add_row(*[str(board.counts.get(s, 0)) for s in shown], str(board.archived))
    running, runners, latest = _rows(board)
    spent = money(board.spent_today_usd)
    parts: list[RenderableType] = [
        Text(f"coordinator status of {terminal_safe(branch)} as of {board.now:%H:%M:%S} UTC (Ctrl-C to stop)"),
        queue,
        _table("Running", ["task", "title", "runner", "mode", "elapsed"], running, "none"),
        _table("Runners", ["runner", "host", "state", "busy", "last heartbeat"], runners, "none has reported yet"),
        _table("Latest results", ["task", "title", "outcome", "cost", "ended"], latest, "none yet"),
        Text(f"Spend today ({board.now:%Y-%m-%d} UTC): {spent} by {board.paid_attempts_today} attempt(s)"),
    ]
    if board.budget:
        parts.append(_text(board.budget, 200))
    if trouble:
        parts.append(Text(f"warning: {terminal_safe(trouble)} (trying again)"))
    return Group(*parts)


def watch_status(store: StateStore, interval: float, console: Console | None = None) -> None:
    """Show the dashboard until interrupted: redrawn in place in a terminal, a new view per change otherwise."""
    console = console or Console()
    store.read()
    try:
        if console.is_terminal:
            with Live(render(dashboard(store.state, utcnow()), store.branch), console=console) as live:
                while True:
                    time.sleep(interval)
                    live.update(render(dashboard(store.state, utcnow()), store.branch, _look(store)))
        shown: str | None = None
        while True:
            trouble = _look(store) if shown is not None else None
            if store.tip != shown or trouble:
                console.print(render(dashboard(store.state, utcnow()), store.branch, trouble))
                shown = store.tip
            time.sleep(interval)
    except KeyboardInterrupt:
        return


def _look(store: StateStore) -> str | None:
    """One cheap look at the branch; what went wrong, if anything."""
    try:
        store.poll()
    except CoordinatorError as exc:
        return str(exc)
    return None
