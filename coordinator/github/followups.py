"""What a review of (or a comment on) a pull request means, decided from the event and the state branch alone
(pure): a follow-up of the issue's task whose pull request it is, or nothing.

- Only a task's own pull request counts: its number is the one the issue's task records, and (when the event
  says) its head is the branch the task pushed. Every other pull request is ignored, silently.
- ``pull_request_review.submitted`` with state ``changes_requested`` → a follow-up, no mention needed;
  ``commented`` → a follow-up when the review's body or one of its comments mentions coordinator (``@claude``,
  ``github.mention`` on the state branch): the comments are fetched by the caller, so the plan says
  ``if-mentioned``; ``approved`` and anything else → nothing.
- ``pull_request_review_comment`` → nothing: the review is the unit. Every review comment (a reply in a thread
  too, which GitHub wraps in a one-comment review of its own) also arrives as part of a submitted review, whose
  comments are fetched with it; acting on both would run the same request twice.
- ``issue_comment.created`` on the pull request that mentions coordinator → a follow-up.
- The same review or comment again → nothing (one follow-up per review or comment).

All of it needs the reviewer's or commenter's write access (the gate, checked on GitHub by the caller); a bot
counts only when allow-listed, and coordinator's own words (its marker) never count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from coordinator.core.transitions.followups import existing_follow_up
from coordinator.github.events import (
    IssueCommentEvent,
    PullRequestReviewCommentEvent,
    PullRequestReviewEvent,
    User,
)
from coordinator.models import GitHubConfig, Task

Action = Literal["ignore", "follow-up", "if-mentioned"]
_OURS = "<!-- coordinator:"
#: Review states that ask for a follow-up: one that requests changes always, a comment only when it mentions us.
CHANGES_REQUESTED, COMMENTED = "changes_requested", "commented"


@dataclass(frozen=True)
class FollowUpPlan:
    """What to do with a review or a comment on a pull request: ``action`` for the issue task ``task_id`` (the
    task whose pull request it is), and ``why`` (logged)."""

    action: Action
    why: str
    task_id: str | None = None


def mentions(text: str, mention: str) -> bool:
    """Whether ``text`` mentions ``mention`` (``@claude``) as a word: not ``@claude-bot``, not ``x@claude.ai``."""
    pattern = rf"(?<![\w@./-]){re.escape(mention)}(?![\w-])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def pull_task(
    tasks: Iterable[Task], config: GitHubConfig, *, repository: str, number: int, head_ref: str | None
) -> Task | None:
    """The issue task whose pull request ``number`` of ``repository`` is (its head ``head_ref``, when known,
    being the branch the task pushed); None for any other pull request."""
    for task in tasks:
        link = task.github
        if link is None or task.follow_up is not None or link.refused is not None or link.pull_number != number:
            continue
        if link.repository.lower() != repository.lower():
            continue
        if head_ref is not None and head_ref != config.branch_prefix + task.id:
            continue
        return task
    return None


def plan_review(event: PullRequestReviewEvent, tasks: Mapping[str, Task], config: GitHubConfig) -> FollowUpPlan:
    """What a submitted review asks for (see the module docstring)."""
    review, pull = event.review, event.pull
    if event.action != "submitted" or review.submitted_at is None:
        return FollowUpPlan("ignore", f"only submitted reviews count, not {event.name}")
    task = pull_task(tasks.values(), config, repository=event.repository, number=pull.number, head_ref=pull.head_ref)
    if task is None:
        return FollowUpPlan("ignore", f"pull request #{pull.number} is not the pull request of an issue's task")
    refusal = _refusal(review.author, review.body, config, pull.state)
    if refusal is not None:
        return FollowUpPlan("ignore", refusal, task.id)
    made = existing_follow_up(tasks.values(), task.id, ("review", review.id))
    if made is not None:
        return FollowUpPlan("ignore", f"review {review.id} is followed up by {made.id} already", task.id)
    if review.state == CHANGES_REQUESTED:
        return FollowUpPlan("follow-up", f"{review.author.login} requested changes on #{pull.number}", task.id)
    if review.state != COMMENTED:
        return FollowUpPlan("ignore", f"a review that is {review.state.replace('_', ' ')} asks for no change", task.id)
    if mentions(review.body, config.mention):
        return FollowUpPlan("follow-up", f"{review.author.login} asked {config.mention} in a review", task.id)
    return FollowUpPlan("if-mentioned", f"a review by {review.author.login}: follow-up if it mentions", task.id)


def plan_review_comment(event: PullRequestReviewCommentEvent) -> FollowUpPlan:
    """A review comment on its own: nothing (its review is handled as a whole, see the module docstring)."""
    comment = event.comment
    where = f"review {comment.review_id}" if comment.review_id else "its review"
    return FollowUpPlan(
        "ignore",
        f"review comment {comment.id} on #{event.pull.number} is handled with {where} (pull_request_review event), "
        "so nothing runs twice",
    )


def plan_pull_comment(event: IssueCommentEvent, tasks: Mapping[str, Task], config: GitHubConfig) -> FollowUpPlan:
    """What a comment in a pull request's conversation asks for (see the module docstring)."""
    number, comment = event.issue.number, event.comment
    if event.action != "created":
        return FollowUpPlan("ignore", f"only new comments count, not {event.name}")
    task = pull_task(tasks.values(), config, repository=event.repository, number=number, head_ref=None)
    if task is None:
        return FollowUpPlan("ignore", f"pull request #{number} is not the pull request of an issue's task")
    refusal = _refusal(comment.author, comment.body, config, event.issue.state)
    if refusal is not None:
        return FollowUpPlan("ignore", refusal, task.id)
    if not mentions(comment.body, config.mention):
        return FollowUpPlan("ignore", f"a comment on #{number} that does not mention {config.mention}", task.id)
    made = existing_follow_up(tasks.values(), task.id, ("comment", comment.id))
    if made is not None:
        return FollowUpPlan("ignore", f"comment {comment.id} is followed up by {made.id} already", task.id)
    return FollowUpPlan("follow-up", f"{comment.author.login} asked {config.mention} on #{number}", task.id)


def _refusal(author: User, body: str, config: GitHubConfig, pull_state: str) -> str | None:
    """Why a review or comment by ``author`` can make no follow-up whoever wrote it (None: it may)."""
    if pull_state != "open":
        return "the pull request is closed: reopen it to ask for changes"
    if _OURS in body:
        return "coordinator's own words"
    if author.is_bot and author.login not in config.allowed_bots:
        return f"written by the bot {author.login}, which is not in github.allowed_bots"
    return None
