"""What a new comment on an issue means for its task, decided from the event and the state branch alone (pure).

- ``/retry [feedback]``: an ended task starts a new round in its last mode, the feedback in its prompt; a task
  that waits or runs takes the feedback for its next attempt.
- ``/cancel``: a task that waits or runs is cancelled (a running agent stops at its next lease renewal).
- ``/escalate [mode]``: the next attempt uses the next stronger (or the named) mode; an ended task starts a new
  round in it.
- ``/priority LEVEL``: a task that has not ended gets that priority.
- ``/plan``: an open issue with no task waiting or running becomes a plan (a new round of an ended task); with
  one, a polite reply says so.
- ``/approve``, ``/replan [feedback]``: the issue's plan (see :mod:`coordinator.core.transitions.plan_approval`,
  which says why when the plan is not in a state for it).
- a slash word meant for coordinator that it cannot carry out: one short help reply (a lone unknown slash word
  only on an issue coordinator has a task for).
- a plain comment while the task waits or runs: it goes into the next attempt's prompt.
- a plain comment (or ``/retry <text>``) while the task waits for an answer to its agent's question: the answer;
  the task goes on (resuming the agent's session where the runner that asked still has it).

Everything but ignoring needs the commenter's write access (checked on GitHub by the caller). coordinator's own
comments and comments by bots that are not allow-listed are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from coordinator.github.commands import HELP, Command, Unknown, read_command
from coordinator.github.events import IssueCommentEvent
from coordinator.github.triage import task_id_of
from coordinator.models import GitHubConfig, Task, TaskStatus

Action = Literal[
    "ignore",
    "feedback",
    "answer",
    "retry",
    "cancel",
    "escalate",
    "priority",
    "help",
    "not-now",
    "plan",
    "approve",
    "replan",
]
_OURS = "<!-- coordinator:"
_ACTIVE = (TaskStatus.QUEUED, TaskStatus.BLOCKED, TaskStatus.RUNNING, TaskStatus.NEEDS_INPUT)
_ACTIONS: dict[str, Action] = {"cancel": "cancel", "escalate": "escalate", "priority": "priority", "retry": "retry"}


@dataclass(frozen=True)
class CommentPlan:
    """What to do with a comment: ``action`` on ``task_id``, ``why`` (logged; for ``help`` and ``not-now`` it is
    what the reply or the reaction answers), and the command it carries, if any."""

    action: Action
    task_id: str
    why: str
    command: Command | None = None

    @property
    def is_command(self) -> bool:
        """A slash command (which a person without write access gets an answer to); else a plain comment."""
        return self.command is not None or self.action == "help"


def plan_comment(
    event: IssueCommentEvent, task: Task | None, config: GitHubConfig, modes: tuple[str, ...]
) -> CommentPlan:
    """What ``event`` (a comment) asks of the issue's task (``task``: as the state branch has it, or None)."""
    # The issue's task, or the follow-up of it that waits for an answer (the caller chose which).
    tid = task.id if task is not None and task.follow_up is not None else task_id_of(event.issue.number)
    author = event.comment.author
    if event.action != "created":
        return CommentPlan("ignore", tid, f"only new comments count, not issue_comment.{event.action}")
    if event.issue.is_pull:
        return CommentPlan("ignore", tid, "a comment on a pull request, not on an issue")
    if _OURS in event.comment.body:
        return CommentPlan("ignore", tid, "coordinator's own comment")
    if author.is_bot and author.login not in config.allowed_bots:
        return CommentPlan("ignore", tid, f"a comment by the bot {author.login}")
    command = read_command(event.comment.body, modes=modes)
    ours = task is not None and task.github is not None and task.github.issue == event.issue.number
    if isinstance(command, Unknown) and (command.addressed or ours):
        return CommentPlan("help", tid, f"{command.why}. {HELP}")
    if isinstance(command, Command) and command.name == "plan" and (task is None or ours):
        return _plan_command(event, task, command, tid)
    if not ours or task is None:
        if not isinstance(command, Command):
            return CommentPlan("ignore", tid, f"issue #{event.issue.number} has no task")
        return CommentPlan("help", tid, f"this issue has no task yet: add the label `{config.trigger_label}`")
    if task.status == TaskStatus.NEEDS_INPUT and (
        not isinstance(command, Command) or (command.name == "retry" and command.text)
    ):
        given = command if isinstance(command, Command) else None
        return CommentPlan("answer", tid, f"an answer to {tid}'s question by {author.login}", given)
    if not isinstance(command, Command):  # a plain comment (an unknown word on our issue got help above)
        if task.status in _ACTIVE:
            return CommentPlan("feedback", tid, f"a comment for {tid}'s next attempt")
        return CommentPlan("ignore", tid, f"{tid} is {task.status.value}: a comment does not restart it (/retry does)")
    return _command_plan(event, task, config, command, tid)


def _command_plan(
    event: IssueCommentEvent, task: Task, config: GitHubConfig, command: Command, tid: str
) -> CommentPlan:
    active, name = task.status in _ACTIVE, command.name
    if name in ("approve", "replan"):  # the transition says why when the plan is not in a state for it
        return CommentPlan(
            "approve" if name == "approve" else "replan",
            tid,
            f"/{name} of {tid} by {event.comment.author.login}",
            command,
        )
    if name in ("retry", "escalate") and not active:
        labelled = config.trigger_label in event.issue.labels or config.plan_label in event.issue.labels
        if event.issue.state != "open" or not labelled:
            why = f"{tid} starts again only on an open issue with the label `{config.trigger_label}`"
            return CommentPlan("not-now", tid, why, command)
        return CommentPlan("retry", tid, f"/{name} of {tid} by {event.comment.author.login}", command)
    if name == "retry":
        if task.status == TaskStatus.NEEDS_INPUT:
            return CommentPlan("not-now", tid, f"{tid} waits for an answer to its question: reply with it", command)
        if not command.text:
            return CommentPlan("not-now", tid, f"{tid} is {task.status.value} already", command)
        return CommentPlan("feedback", tid, f"/retry feedback for {tid}'s next attempt", command)
    if name in ("cancel", "escalate") and not active:
        return CommentPlan("not-now", tid, f"{tid} is {task.status.value}: nothing to {name}", command)
    if name == "priority" and task.is_terminal:
        return CommentPlan("not-now", tid, f"{tid} is {task.status.value}", command)
    return CommentPlan(_ACTIONS[name], tid, f"/{name} of {tid} by {event.comment.author.login}", command)


def _plan_command(event: IssueCommentEvent, task: Task | None, command: Command, tid: str) -> CommentPlan:
    """``/plan``: the issue becomes a plan when nothing of it waits or runs (and it is open)."""
    if task is not None and not task.is_terminal:
        what = "plan" if task.kind == "plan" else "task"
        why = (
            f"Thanks! This issue has a {what} already: `{tid}` is {task.status.value.replace('_', ' ')}. `/plan` "
            "makes a plan of an issue whose task ended (or that has none); `/cancel` this one first to plan instead."
        )
        return CommentPlan("help", tid, why, command)
    if event.issue.state != "open":
        return CommentPlan("not-now", tid, f"issue #{event.issue.number} is closed: reopen it to plan it", command)
    return CommentPlan("plan", tid, f"/plan of issue #{event.issue.number} by {event.comment.author.login}", command)
