"""A pipeline run's tracking comment, rendered whole from the run's phase tasks as the state branch holds them (so
a late retry never shows an older state), found again by its hidden marker. Pure: no I/O.

Everything a runner or an agent could have written (a phase's reason, which can hold agent output; a runner's
name) is shown made safe: invisible text removed, one line, table pipes escaped, mentions and closing keywords
made inert. The whole text is redacted by whoever posts it.
"""

from __future__ import annotations

from coordinator.core.pipeline_runs import RunSummary, ended_badly
from coordinator.github.sanitize import clip, sanitize
from coordinator.github.tracking import MAX_COMMENT_CHARS, inert
from coordinator.models import GitHubConfig, RunReport, Task, TaskStatus

_REASON_CHARS = 300
_MARKER = "<!-- coordinator:run {} -->"
_STATUS = {
    TaskStatus.QUEUED: "⏳ queued",
    TaskStatus.BLOCKED: "⏳ waiting",
    TaskStatus.RUNNING: "⚙️ running",
    TaskStatus.NEEDS_INPUT: "❓ needs an answer",
    TaskStatus.SUCCEEDED: "✅ succeeded",
    TaskStatus.FAILED: "❌ failed",
    TaskStatus.CANCELLED: "🚫 cancelled",
}
_RUN_STATUS = {"running": "⚙️ **Running**", "succeeded": "✅ **Succeeded**", "failed": "❌ **Failed**"}


def run_marker(run: str) -> str:
    """The hidden first line that identifies the tracking comment of run ``run``."""
    return _MARKER.format(run)


def is_run_comment(body: str, run: str) -> bool:
    """Whether a comment's body is the tracking comment of run ``run`` (it starts with the marker)."""
    return body.lstrip().startswith(run_marker(run))


def render_run(summary: RunSummary, report: RunReport, config: GitHubConfig) -> str:
    """The tracking comment's whole text for the run as it stands: each phase with its status, attempts,
    duration, cost and (when it did not succeed) a short reason; the total; and, when a critical phase failed,
    a call for a person that mentions the maintainers."""
    number = summary.run.rsplit("-", 1)[-1]
    ended = sum(1 for p in summary.phases if p.task.is_terminal)
    lines = [
        run_marker(summary.run),
        f"{_RUN_STATUS[summary.status]}: pipeline `{report.pipeline}`, run {number} "
        f"({ended} of {len(summary.phases)} phases ended)",
        "",
        "| Phase | Status | Attempts | Duration | Cost | Why |",
        "|---|---|---|---|---|---|",
    ]
    for phase in summary.phases:
        task = phase.task
        name = task.id.removeprefix(f"{summary.run}-")
        kind = "" if task.critical else " (non-critical)"
        cells = [
            f"`{name}`{kind}",
            _status(task),
            str(phase.attempts),
            duration_text(phase.seconds),
            f"${phase.cost_usd:.4f}",
            _why(task),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"**Total:** ${summary.cost_usd:.4f} · {duration_text(summary.seconds)} of work", ""]
    lines += _person_call(summary, config)
    lines.append(
        f"<sub>Run `{summary.run}` · `coordinator pipeline show {report.pipeline} --run {number}` · coordinator "
        "updates this comment as the run moves on</sub>"
    )
    return clip("\n".join(lines), MAX_COMMENT_CHARS)


def _status(task: Task) -> str:
    shown = _STATUS[task.status]
    if task.status == TaskStatus.RUNNING and task.lease is not None:
        return f"{shown} on {_one_line(task.lease.runner)}"
    return shown


def _why(task: Task) -> str:
    """A phase's reason, when it did not succeed (or waits for a person): one safe line."""
    if task.status == TaskStatus.SUCCEEDED or not task.status_reason:
        return ""
    return _one_line(task.status_reason)


def _person_call(summary: RunSummary, config: GitHubConfig) -> list[str]:
    """A critical phase that failed for good stops the run: a person must look (one cancelled was stopped by a
    person, or by such a failure, already named)."""
    stopped = [t for t in ended_badly(summary) if t.critical and t.status == TaskStatus.FAILED]
    if not stopped:
        return []
    names = ", ".join(f"`{t.id.removeprefix(f'{summary.run}-')}`" for t in stopped)
    called = " ".join(f"@{name}" for name in config.maintainers)
    who = f" ({called})" if called else ""
    hint = "" if called else " (name who is called with 'coordinator github --set maintainers=LOGIN')"
    retry = " or ".join(f"`coordinator retry {t.id}`" for t in stopped)
    return [
        f"🙋 **A person must look**{who}: critical phase {names} failed, so the run stopped{hint}. "
        f"Retry it with {retry}, or start a new run.",
        "",
    ]


def duration_text(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``1h 02m``."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _one_line(text: str) -> str:
    """Untrusted text as one safe table cell: invisible text removed, inert, pipes escaped, at most 300 chars."""
    flat = " ".join(inert(sanitize(text)).split()).replace("|", "\\|")
    return flat if len(flat) <= _REASON_CHARS else flat[: _REASON_CHARS - 1] + "…"
