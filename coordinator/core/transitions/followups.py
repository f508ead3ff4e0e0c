"""Follow-ups of an issue's task: a review of its pull request (or a comment there) by someone with write access
becomes task ``issue-<N>-f<k>``, in the issue's group (it never runs beside the task or another follow-up: they
queue), on the same branch, reported in the same tracking comment. Pure: functions of ``(state, request, now)``.

The same review (or comment) delivered twice, or by two racing ingests, gives one follow-up: the transition finds
the one that exists (by the review's or the comment's id) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from coordinator.core.deliveries import next_try
from coordinator.core.state import State
from coordinator.core.transitions.change import Change, Draft, short
from coordinator.core.transitions.tasks import SubmitRequest, submit
from coordinator.errors import InvalidTransition
from coordinator.models import FollowUp, GitHubLink, ReviewNote, Source, Task, Trigger


@dataclass(frozen=True)
class FollowUpRequest:
    """A review (or a comment) on the pull request of task ``of``, by ``author`` with ``permission``."""

    of: str
    pull: int
    pull_url: str
    kind: Literal["review", "comment"]
    author: str
    permission: str
    event: str
    at: datetime
    body: str = ""
    url: str = ""
    review_id: int | None = None
    comment_id: int | None = None
    state: str | None = None
    author_id: int | None = None
    delivery: str | None = None
    notes: tuple[ReviewNote, ...] = field(default_factory=tuple)

    @property
    def key(self) -> tuple[str, int]:
        """What makes the follow-up unique (see :attr:`FollowUp.key`)."""
        return (self.kind, self.review_id or self.comment_id or 0)


def follow_ups_of(tasks: Iterable[Task], task_id: str) -> list[Task]:
    """The follow-ups of task ``task_id``, in the order they were made."""
    found = [t for t in tasks if t.follow_up is not None and t.follow_up.of == task_id]
    return sorted(found, key=lambda t: (t.follow_up.number if t.follow_up else 0, t.id))


def family(tasks: Mapping[str, Task], task: Task) -> tuple[Task, list[Task]]:
    """The issue's task ``task`` belongs to (itself, or the task it follows up) and all its follow-ups."""
    root = tasks.get(task.follow_up.of, task) if task.follow_up is not None else task
    return root, follow_ups_of(tasks.values(), root.id)


def existing_follow_up(tasks: Iterable[Task], of: str, key: tuple[str, int]) -> Task | None:
    """The follow-up of ``of`` made from the review or comment ``key`` already, if any."""
    return next((t for t in follow_ups_of(tasks, of) if t.follow_up is not None and t.follow_up.key == key), None)


def add_follow_up(state: State, *, request: FollowUpRequest, now: datetime) -> Change:
    """Queue the follow-up ``request`` asks for (nothing when the same review or comment made one already)."""
    original = state.tasks.get(request.of)
    if original is None or original.github is None or original.follow_up is not None:
        raise InvalidTransition(request.of, "is not the task of an issue: only its pull request gets follow-ups")
    made = existing_follow_up(state.tasks.values(), request.of, request.key)
    if made is not None:
        return Change(message=f"{made.id} follows this {request.kind} already", task=made)
    earlier = follow_ups_of(state.tasks.values(), request.of)
    number = 1 + max((t.follow_up.number for t in earlier if t.follow_up is not None), default=0)
    while f"{request.of}-f{number}" in state.tasks:
        number += 1  # a task of that name made by hand: never overwritten
    task_id = f"{request.of}-f{number}"
    link = _link(original.github, request, state.github.trigger_label)
    change = submit(state, _submission(state, original, request, task_id, number, link), now)
    assert change.task is not None
    follow_up = FollowUp(
        of=request.of,
        number=number,
        pull=request.pull,
        kind=request.kind,
        review_id=request.review_id,
        comment_id=request.comment_id,
        state=request.state,
        author=request.author,
        body=request.body,
        url=request.url,
        at=request.at,
        notes=list(request.notes),
    )
    task = change.task.model_copy(update={"follow_up": follow_up})
    what = f"{request.kind} by {request.author} on pull request #{request.pull}"
    return Change(message=f"follow-up {task_id} of {request.of}: {what}", tasks=(task,), task=task)


def _link(original: GitHubLink, request: FollowUpRequest, label: str) -> GitHubLink:
    """The follow-up's GitHub side: the issue's tracking comment and pull request, its own trigger (the review);
    nothing pushed yet (its first push moves the pull request's branch on)."""
    trigger = Trigger(
        actor=request.author,
        actor_id=request.author_id,
        permission=request.permission,
        event=request.event,
        delivery=request.delivery,
        label=label,
        at=request.at,
        comments=0,
    )
    return GitHubLink(
        repository=original.repository,
        issue=original.issue,
        url=original.url,
        trigger=trigger,
        pr_policy=original.pr_policy,
        comment_id=original.comment_id,
        pull_number=request.pull,
        pull_url=request.pull_url,
    )


def _submission(
    state: State, original: Task, request: FollowUpRequest, task_id: str, number: int, link: GitHubLink
) -> SubmitRequest:
    limit = state.limits.max_title_chars
    title = f"Follow-up {number} on #{request.pull}: {original.title}"
    source = Source(
        kind=f"github-{request.kind}",
        actor=request.author,
        permission=request.permission,
        at=request.at,
        repository=link.repository,
        issue=link.issue,
        url=request.url or None,
        event=request.event,
    )
    mode = original.requested_mode if original.requested_mode in state.modes.modes else None
    return SubmitRequest(
        title=title if len(title) <= limit else title[: limit - 1] + "…",
        body=original.body,
        priority=original.priority,
        mode=mode,
        requires=tuple(original.requires),
        source=source,
        group=original.group or original.id,
        task_id=task_id,
        github=link,
    )


def record_replies(
    state: State, *, task_id: str, error: str | None, now: datetime, retry_after: float | None = None
) -> Change:
    """Note that a follow-up's replies in the review threads it addressed were all posted (``error`` None), or
    why not: the next try then waits (the same backoff as the other deliveries)."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.follow_up is None:
        raise InvalidTransition(task_id, "is not a follow-up: it has no review threads to reply in")
    tries = task.follow_up.reply_tries + 1 if error else 0
    follow_up = task.follow_up.model_copy(
        update={
            "replied": error is None,
            "reply_error": error,
            "reply_tries": tries,
            "reply_retry_at": next_try(tries, now, retry_after) if error else None,
        }
    )
    if follow_up == task.follow_up:
        return Change(message=f"{task_id} replies unchanged", task=task)
    updated = task.model_copy(update={"follow_up": follow_up})
    draft.put(updated)
    done = "replied in its review threads" if error is None else f"replies failed: {short(error)}"
    draft.lines.append(f"github {task_id}: {done}")
    return draft.change(task=updated)


def replies_due(task: Task, now: datetime) -> bool:
    """Whether ``task`` is a follow-up that ended and still owes its review threads their replies (now)."""
    follow_up, link = task.follow_up, task.github
    if follow_up is None or link is None or link.refused is not None or follow_up.replied or not task.is_terminal:
        return False
    if not threads(follow_up):
        return False  # no review thread to answer (a comment on the pull request's conversation)
    if "push" in link.pending:
        return False  # the reply names the commit: it waits for the push
    return follow_up.reply_retry_at is None or follow_up.reply_retry_at <= now


def threads(follow_up: FollowUp) -> list[int]:
    """The review threads a follow-up addressed, by their first comment (a reply is answered in its thread)."""
    return list(dict.fromkeys(note.in_reply_to or note.id for note in follow_up.notes))


def cancel_with_follow_ups(state: State, *, task_id: str, now: datetime, by: str) -> Change:
    """Cancel the issue's task ``task_id`` and its follow-ups, those that have not ended (the issue was closed or
    lost its label: nothing of it should run any more, a running agent included)."""
    from coordinator.core.transitions.tasks import cancel

    task = Draft(state).get(task_id)
    active = [t for t in (task, *follow_ups_of(state.tasks.values(), task_id)) if not t.is_terminal]
    if not active:
        raise InvalidTransition(task_id, f"is {task.status.value} and has no follow-up waiting or running")
    changes = [cancel(state, task_id=t.id, now=now, by=by) for t in active]
    return Change(
        message="; ".join(c.message for c in changes),
        tasks=tuple(t for c in changes for t in c.tasks),
        task=changes[0].task,
    )
