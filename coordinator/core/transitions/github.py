"""Transitions of tasks that come from GitHub issues: created or restarted by a trigger, updated while queued,
refused when the trigger cannot be verified, and the record of what was delivered back to GitHub."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from coordinator.core.deliveries import CREATE_WINDOW, creation_free, next_try
from coordinator.core.state import State
from coordinator.core.transitions.change import Change, Draft, require_mode, short
from coordinator.core.transitions.plans import new_round_kind
from coordinator.core.transitions.results import fail
from coordinator.core.transitions.tasks import META_PATH, SubmitRequest, submit
from coordinator.errors import InvalidTransition, UsageError
from coordinator.models import (
    DELIVERY_ORDER,
    AttemptResult,
    GitHubLink,
    Meta,
    Priority,
    PrPolicy,
    Task,
    TaskStatus,
    Trigger,
)

_ACTIVE = (TaskStatus.QUEUED, TaskStatus.BLOCKED)


@dataclass(frozen=True)
class IssueSettings:
    """What an issue's labels ask of its task (see :func:`coordinator.github.labels.read_labels`)."""

    priority: Priority = Priority.MEDIUM
    mode: str | None = None
    requires: tuple[str, ...] = ()
    pr_policy: PrPolicy = "draft"
    #: Labels that looked like settings but were not valid (said in the ingest's output, never fatal).
    ignored: tuple[str, ...] = ()
    #: Named locks the task holds while it runs (``lock:NAME``).
    locks: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeliveryRecord:
    """What one delivery pass achieved (``done``: kinds delivered) for the task at ``revision``."""

    revision: int
    done: tuple[str, ...] = ()
    comment_id: int | None = None
    comment_node: str | None = None
    #: Node ids of the link found wrong (``issue_node``, ``comment_node``): forgotten, never sent again.
    forget: tuple[str, ...] = ()
    #: The repository's label node ids as the pass left them (None: unchanged; empty: forget them).
    label_ids: dict[str, str] | None = None
    pushed: str | None = None
    pull_number: int | None = None
    pull_url: str | None = None
    status_label: str | None = None
    #: The needs-human label as this pass left it (None: not touched).
    needs_human: bool | None = None
    error: str | None = None
    retry_after: float | None = None
    #: Kinds this deliverer cannot do (e.g. a push of commits only their runner has): left for others.
    skipped: tuple[str, ...] = field(default_factory=tuple)


def submit_issue(state: State, request: SubmitRequest, *, by: str, now: datetime) -> Change:
    """Add the task of an issue; ``by`` (this ingest) may create its tracking comment for a while."""
    change = submit(state, request, now)
    task = change.task
    assert task is not None and task.github is not None
    link = task.github.model_copy(update={"creating_by": by, "creating_until": now + CREATE_WINDOW})
    task = task.model_copy(update={"github": link})
    return Change(message=change.message, tasks=(task,), meta=change.meta, task=task)


def retrigger(
    state: State,
    *,
    task_id: str,
    trigger: Trigger,
    title: str,
    body: str,
    settings: IssueSettings,
    now: datetime,
    as_plan: bool | None = None,
) -> Change:
    """A new round for an issue's task that ended, triggered again (re-labelled or reopened): the issue's text
    and labels as they are now, the new trigger, the same tracking comment. ``as_plan``: the round is a plan's
    (True) or a task's (False), as the label that triggered it says; None keeps what the task was."""
    draft = Draft(state)
    task = draft.get(task_id)
    if not task.is_terminal or task.github is None:
        raise InvalidTransition(task_id, f"is {task.status.value}; only an ended task of an issue starts again")
    mode = _mode(state, settings.mode) or task.requested_mode or state.modes.default_mode
    link = _next_round_link(task.github, trigger, settings.pr_policy)
    updated = task.model_copy(
        update={
            **new_round_kind(state, task, task.kind == "plan" if as_plan is None else as_plan),
            "title": title,
            "body": body,
            "round": task.round + 1,
            "mode": mode,
            "requested_mode": mode,
            "priority": settings.priority,
            "requires": sorted(set(settings.requires)),
            "locks": sorted(set(settings.locks)),
            "status": TaskStatus.QUEUED,
            "status_reason": f"triggered again by {trigger.actor} ({trigger.event})",
            "lease": None,
            "github": link,
            "next_mode": None,
            "question": None,
            "resume": None,
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"retrigger {task_id} by {trigger.actor}, round {updated.round}: {short(title)}")
    return draft.change(task=updated)


def _next_round_link(link: GitHubLink, trigger: Trigger, pr_policy: PrPolicy) -> GitHubLink:
    """The link of a new round: the same tracking comment and pushed branch, but a pull request of its own (the
    last one may be merged or closed; an open one is found again by its branch, never duplicated). A link that
    was refused may have been forged: nothing of it is kept but the issue it names, which the event confirmed."""
    if link.refused is not None:
        return GitHubLink(
            repository=link.repository, issue=link.issue, url=link.url, trigger=trigger, pr_policy=pr_policy
        )
    return link.model_copy(update={"trigger": trigger, "pr_policy": pr_policy, "pull_number": None, "pull_url": None})


def update_issue_task(
    state: State,
    *,
    task_id: str,
    by: str,
    now: datetime,
    title: str | None = None,
    body: str | None = None,
    settings: IssueSettings | None = None,
) -> Change:
    """Take a queued task's new issue text or labels (edited by someone with write access before it ran)."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.status not in _ACTIVE:
        raise InvalidTransition(task_id, f"is {task.status.value}; only a waiting task takes the issue's changes")
    update: dict[str, object] = {"updated_at": now}
    if title is not None:
        update["title"] = title
    if body is not None:
        update["body"] = body
    if settings is not None:
        update.update(
            priority=settings.priority, requires=sorted(set(settings.requires)), locks=sorted(set(settings.locks))
        )
        if task.github is not None:
            update["github"] = task.github.model_copy(update={"pr_policy": settings.pr_policy})
        mode = _mode(state, settings.mode)
        if mode is not None and not task.attempts:
            update.update(mode=mode, requested_mode=mode)
    updated = task.model_copy(update=update)
    if updated == task.model_copy(update={"updated_at": now}):
        return Change(message=f"{task_id} unchanged", task=task)
    draft.put(updated)
    draft.lines.append(f"update {task_id} from its issue (by {by})")
    return draft.change(task=updated)


def _mode(state: State, mode: str | None) -> str | None:
    """``mode`` if it is configured on the branch (a ``mode:`` label naming no mode is ignored), else None."""
    if mode is None:
        return None
    try:
        return require_mode(state.modes, mode)
    except UsageError:
        return None


def refuse(
    state: State, *, task_id: str, runner: str, attempt: int, reason: str, now: datetime, result: AttemptResult
) -> Change:
    """Fail a task whose GitHub trigger could not be verified, and deliver nothing for it (its link may be
    forged: nothing it names is touched on GitHub)."""
    change = fail(
        state, task_id=task_id, runner=runner, reason=reason, now=now, result=result, retryable=False, attempt=attempt
    )
    tasks = tuple(_refused(t, reason) if t.id == task_id else t for t in change.tasks)
    task = next((t for t in tasks if t.id == task_id), change.task)
    return Change(message=change.message, tasks=tasks, runners=change.runners, meta=change.meta, task=task)


def refuse_link(state: State, *, task_id: str, reason: str, now: datetime) -> Change:
    """Deliver nothing for a task whose trigger GitHub does not confirm (whoever found out records it, so nobody
    asks GitHub about it again); a runner that claims it fails it for the same reason."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.github is None or task.github.refused is not None:
        return Change(message=f"{task_id} unchanged", task=task)
    updated = _refused(task, reason)
    draft.put(updated)
    draft.lines.append(f"github {task_id}: nothing is delivered: {short(reason)}")
    return draft.change(task=updated)


def _refused(task: Task, reason: str) -> Task:
    if task.github is None:
        return task
    link = task.github.model_copy(update={"refused": reason, "pending": [], "creating_by": None})
    return task.model_copy(update={"github": link})


def take_creation(state: State, *, task_id: str, by: str, now: datetime, gone: int | None = None) -> Change:
    """Let ``by`` create the task's tracking comment for a while; refused while someone else may. ``gone``: the
    comment the task names answered 404 (someone deleted it): it is forgotten, so that a new one can be made."""
    draft = Draft(state)
    task = draft.get(task_id)
    link = _link(task)
    if link.comment_id is not None and link.comment_id != gone:
        return Change(message=f"{task_id} has its tracking comment", task=task)
    if not creation_free(link, now) and link.creating_by != by:
        raise InvalidTransition(task_id, f"{link.creating_by} may be creating its tracking comment")
    window = {"comment_id": None, "comment_node": None, "creating_by": by, "creating_until": now + CREATE_WINDOW}
    updated = task.model_copy(update={"github": link.model_copy(update=window)})
    draft.put(updated)
    draft.lines.append(f"{by} creates the tracking comment of {task_id}")
    return draft.change(task=updated)


def record_delivery(state: State, *, task_id: str, by: str, record: DeliveryRecord, now: datetime) -> Change:
    """Note what a delivery pass did: done kinds stop being pending (the comment and labels only when the task
    did not change since the pass read it; a comment written from an older revision is written again, as it may
    have replaced a newer text), and a failure schedules the next try with backoff."""
    draft = Draft(state)
    task = draft.get(task_id)
    link = _link(task)
    same = link.revision == record.revision
    done = set(record.done) if same else set(record.done) & {"push", "pull"}
    update: dict[str, object] = {}
    for name in ("comment_id", "comment_node", "pushed", "pull_number", "pull_url", "status_label", "needs_human"):
        value = getattr(record, name)
        if value is not None and value != getattr(link, name):
            update[name] = value
    for name in set(record.forget) & {"issue_node", "comment_node"}:
        if getattr(record, name, None) is None:  # not one this pass found again (a comment made anew)
            update[name] = None
    pending = [k for k in link.pending if k not in done]
    shows_more = bool({"pushed", "pull_number", "pull_url"} & update.keys())
    if shows_more:
        # The comment must show the new branch or pull request, and a comment written at this revision by
        # another deliverer (without them) must not count as done.
        update["revision"] = link.revision + 1
    if (shows_more and "comment" not in done) or (not same and "comment" in record.done):
        pending.append("comment")  # a stale pass may have written an older text over a newer one
    update["pending"] = [k for k in DELIVERY_ORDER if k in pending]
    if link.creating_by == by:
        update.update(creating_by=None, creating_until=None)
    failures = link.delivery_attempts + 1 if record.error else 0
    update.update(
        delivery_attempts=failures,
        retry_at=next_try(failures, now, record.retry_after) if record.error else None,
        github_wait_until=now + timedelta(seconds=record.retry_after) if record.retry_after else None,
        last_error=record.error,
    )
    updated = task.model_copy(update={"github": link.model_copy(update=update)})
    meta = _with_label_ids(state, link.repository, record.label_ids)
    if updated == task and meta is None:
        return Change(message=f"{task_id} deliveries unchanged", task=task)
    draft.put(updated)
    what = ", ".join(k for k in record.done) or "nothing"
    draft.lines.append(f"github {task_id}: delivered {what}" + (f"; {short(record.error)}" if record.error else ""))
    return draft.change(task=updated, meta=meta)


def keep_label_ids(state: State, *, repository: str, ids: dict[str, str], now: datetime) -> Change:
    """Keep the node ids of the labels coordinator sets on ``repository`` (made by ``init --github``)."""
    meta = _with_label_ids(state, repository, {**state.meta.github_labels.get(repository, {}), **ids})
    return Change(message=f"github {repository}: keep the ids of {len(ids)} labels", meta=meta)


def _with_label_ids(state: State, repository: str, ids: dict[str, str] | None) -> Meta | None:
    """``meta.json`` with the repository's label node ids as a delivery left them, or None: no change."""
    kept = state.meta.github_labels
    if ids is None or kept.get(repository, {}) == ids or META_PATH in state.problems:
        return None  # an unreadable meta.json is rebuilt by the next submit, with its counter; not here
    labels = {repo: found for repo, found in kept.items() if repo != repository}
    if ids:
        labels[repository] = dict(ids)
    return state.meta.model_copy(update={"github_labels": labels})


def _link(task: Task) -> GitHubLink:
    if task.github is None:
        raise InvalidTransition(task.id, "does not come from a GitHub issue")
    return task.github
