"""The prompt a task turns into: the person's words plus what the agent must know about where it runs."""

from __future__ import annotations

from coordinator.agents.base import VERDICT_PREFIX
from coordinator.models import Task


def build_prompt(task: Task, *, branch: str, attempt: int) -> str:
    """The prompt for one attempt at ``task``; earlier failed attempts are summarised so the agent can learn."""
    lines = [f"# Task {task.id}: {task.title}", ""]
    if task.body.strip():
        lines += [task.body.strip(), ""]
    earlier = [a for a in task.attempts if a.number < attempt and a.outcome.value not in ("running", "succeeded")]
    if earlier:
        lines.append("## Earlier attempts")
        for previous in earlier:
            why = previous.error or previous.reason or previous.outcome_detail or previous.outcome.value
            lines.append(f"- attempt {previous.number} ({previous.mode}): {why}")
        lines.append("")
    lines += [
        "## How to work",
        f"You are in a git worktree on branch `{branch}`, created for this task. Make the change, keep it focused,",
        "and run the project's tests if there are any. Commit your work with a clear message (uncommitted changes",
        "are committed for you when you finish). Do not push. End with a short summary of what you did.",
        f"If you could not complete the task, make your last line `{VERDICT_PREFIX}: <why>`.",
    ]
    return "\n".join(lines) + "\n"
