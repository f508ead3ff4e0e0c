"""Delivering a task's pending GitHub side effects (push, pull request, tracking comment, status label) in one
pass, each made safe to repeat: the comment is edited with its whole current text, a pull request is looked up by
``head=owner:branch`` before a second is ever made, labels are added and removed by name, and a comment is only
created by the one process that holds the task's creation window (after looking for one by its marker whenever a
previous try may have made it). What the pass did is returned as a :class:`DeliveryRecord` for the state branch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from coordinator.core.deliveries import needs_person, status_label, work_commit
from coordinator.core.transitions.followups import threads
from coordinator.core.transitions.github import DeliveryRecord
from coordinator.errors import CoordinatorError
from coordinator.github.api import GitHubAPI, GitHubError
from coordinator.github.pushing import ChangeLister, Pusher, PushError, WorkflowsNotPushed, workflow_paths
from coordinator.github.status_labels import believed_present, learned, wanted_labels
from coordinator.github.tracking import (
    is_tracking_comment,
    pull_body,
    pushed_branch,
    render,
    reply_marker,
    thread_reply,
)
from coordinator.models import DELIVERY_ORDER, GitHubConfig, GitHubLink, Task

_ALREADY_EXISTS = 422
#: Tries of a call that is safe to repeat (an edit with the whole text, a label by name) within one pass.
_IDEMPOTENT_TRIES = 3
_LONGEST_PAUSE_SECONDS = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class Family:
    """An issue's task (``root``), its follow-ups and, for a plan, its subtasks: the tracking comment shows them
    all."""

    root: Task
    follow_ups: Sequence[Task] = ()
    children: Sequence[Task] = ()


@dataclass(frozen=True)
class ReplyRecord:
    """What one pass at a follow-up's thread replies did: ``error`` None when every thread has its reply."""

    made: int = 0
    error: str | None = None
    retry_after: float | None = None


@dataclass
class _Pass:
    """One delivery pass in progress: the link as it becomes, and what was done."""

    link: GitHubLink
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    error: str | None = None
    retry_after: float | None = None
    stop: bool = False
    #: The repository's label node ids as this pass knows them ({}: forget them; None: none known).
    label_ids: dict[str, str] | None = None
    #: The comment and the labels go apart (by REST) in this pass: a node id was wrong.
    apart: bool = False
    #: The link's node ids found wrong ("issue_node", "comment_node"): never used again.
    forget: list[str] = field(default_factory=list)

    def failed(self, kind: str, exc: CoordinatorError) -> None:
        self.error = self.error or f"{kind}: {exc}"
        if isinstance(exc, WorkflowsNotPushed):  # people must see why: the comment of this pass says it
            self.link = self.link.model_copy(update={"last_error": f"{kind}: {exc}"})
        if isinstance(exc, GitHubError):
            self.stop = exc.transient  # GitHub is down or throttling: the next calls would fail too
            if exc.retry_after is not None:
                self.retry_after = max(self.retry_after or 0.0, exc.retry_after)


class Deliverer:
    """Delivers for one process (``who``: a runner or an ingest) with its GitHub client, redacting every text."""

    def __init__(
        self,
        api: GitHubAPI,
        *,
        who: str,
        redact: Callable[[str], str],
        pusher: Pusher | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api, self.who, self.redact, self.pusher = api, who, redact, pusher
        self._sleep = sleep

    def _again(self, call: Callable[[], T]) -> T:
        """``call()``, repeated after a short pause when GitHub answers with a transient error: only for calls
        that are safe to repeat (a write GitHub may have carried out is never sent twice this way)."""
        for attempt in range(1, _IDEMPOTENT_TRIES + 1):
            try:
                return call()
            except GitHubError as exc:
                if not exc.transient or attempt == _IDEMPOTENT_TRIES:
                    raise
                pause = exc.retry_after if exc.retry_after is not None else float(2 ** (attempt - 1))
                if pause > _LONGEST_PAUSE_SECONDS:
                    raise  # a long wait is the backoff's job, not this pass's
                self._sleep(pause)
        raise AssertionError("unreachable")

    def deliver(
        self,
        task: Task,
        config: GitHubConfig,
        *,
        may_create: bool,
        look_first: bool,
        family: Family | None = None,
        label_ids: Mapping[str, str] | None = None,
    ) -> DeliveryRecord:
        """Deliver what is pending on ``task``. ``may_create``: this process holds the creation window;
        ``look_first``: an earlier try may have created the comment, so look for its marker before creating;
        ``family``: the issue's task and follow-ups ``task`` belongs to, all shown in the tracking comment;
        ``label_ids``: the node ids of the repository's labels kept on the state branch."""
        link = task.github
        assert link is not None
        known = dict(label_ids) if label_ids else None
        work = _Pass(link, label_ids=known)
        steps = {"push": self._push, "pull": self._pull, "comment": self._comment, "labels": self._labels}
        # A push or a pull request changes what the comment shows (the branch, the link): edit it in this pass.
        kinds = [
            k for k in DELIVERY_ORDER if k in link.pending or (k == "comment" and {"push", "pull"} & {*link.pending})
        ]
        for kind in kinds:
            if work.stop:
                break
            try:
                if kind == "comment" and task.follow_up is not None:
                    self._follow_up_comment(task, config, work, family or Family(task))
                else:
                    steps[kind](task, config, work, may_create=may_create, look_first=look_first, family=family)
            except (GitHubError, PushError) as exc:
                work.failed(kind, exc)
        final = work.link
        return DeliveryRecord(
            revision=link.revision,
            done=tuple(work.done),
            comment_id=final.comment_id,
            comment_node=final.comment_node,
            forget=tuple(work.forget),
            label_ids=work.label_ids if work.label_ids != known else None,
            pushed=final.pushed,
            pull_number=final.pull_number,
            pull_url=final.pull_url,
            status_label=final.status_label,
            needs_human=final.needs_human,
            error=self.redact(work.error) if work.error else None,
            retry_after=work.retry_after,
            skipped=tuple(work.skipped),
        )

    def _push(self, task: Task, config: GitHubConfig, work: _Pass, **_: object) -> None:
        commit = work_commit(task)
        if commit is None or work.link.pushed == commit:
            work.done.append("push")
            return
        if self.pusher is None or not self.pusher.has(commit):
            work.skipped.append("push")  # only the runner that made the commits can push them
            return
        self._refuse_workflows(commit, pushed_branch(task, config), config)
        self.pusher.push(commit, pushed_branch(task, config), previous=work.link.pushed)
        work.link = work.link.model_copy(update={"pushed": commit})
        work.done.append("push")

    def _refuse_workflows(self, commit: str, branch: str, config: GitHubConfig) -> None:
        """Never push an agent's change to what GitHub Actions runs, unless the repository allows it."""
        if config.push_workflow_changes or not isinstance(self.pusher, ChangeLister):
            return
        found = workflow_paths(self.pusher.new_paths(commit, branch))
        if found:
            shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
            raise WorkflowsNotPushed(
                f"not pushed: the agent changed {shown}, which GitHub Actions would run with this repository's "
                f"secrets; look at {branch} on the runner and push it yourself if it is right, or allow such "
                "pushes with 'coordinator github --set push_workflow_changes=true'"
            )

    def _pull(self, task: Task, config: GitHubConfig, work: _Pass, **_: object) -> None:
        link = work.link
        if link.pull_number is not None:
            work.done.append("pull")
            return
        if self.pusher is None or link.pushed is None or link.pushed != work_commit(task):
            work.skipped.append("pull")  # the branch must be pushed first
            return
        owner = link.repository.split("/", 1)[0]
        head, branch = f"{owner}:{pushed_branch(task, config)}", pushed_branch(task, config)
        try:
            pull = self.api.create_pull(
                link.repository,
                base=self.pusher.base_branch,
                head=branch,
                title=self.redact(task.title),
                body=self.redact(pull_body(task, config)),
                draft=link.pr_policy == "draft",
            )
        except GitHubError as exc:
            found = self.api.find_pull(link.repository, head) if exc.status == _ALREADY_EXISTS else None
            if found is None:
                raise
            pull = found
        work.link = link.model_copy(update={"pull_number": pull.number, "pull_url": pull.html_url})
        work.done.append("pull")
        actor = link.trigger.actor
        try:
            self.api.request_reviewers(link.repository, pull.number, [actor])
        except GitHubError as exc:
            if exc.transient:
                raise
            # Refused for good (e.g. the actor opened the PR themselves): the PR stands without the request.

    def _comment(
        self,
        task: Task,
        config: GitHubConfig,
        work: _Pass,
        *,
        may_create: bool,
        look_first: bool,
        family: Family | None = None,
    ) -> None:
        link = work.link
        shown = task.model_copy(update={"github": link})
        body = self.redact(
            render(shown, config, family.follow_ups, family.children) if family is not None else render(shown, config)
        )
        if self._together(task, config, work, body, may_create=may_create, look_first=look_first):
            return
        link = work.link
        if link.comment_id is not None:
            try:
                comment_id = link.comment_id
                edited = self._again(lambda: self.api.edit_comment(link.repository, comment_id, body))
                work.link = link.model_copy(update={"comment_node": edited.node_id or link.comment_node})
                work.done.append("comment")
                return
            except GitHubError as exc:
                if exc.status != 404:
                    raise
                work.link = link = link.model_copy(update={"comment_id": None, "comment_node": None})  # deleted
        if not may_create:
            work.skipped.append("comment")
            return
        if look_first:
            found = next(
                (c for c in self.api.comments(link.repository, link.issue) if is_tracking_comment(c.body, task.id)),
                None,
            )
            if found is not None:
                self._again(lambda: self.api.edit_comment(link.repository, found.id, body))
                work.link = link.model_copy(update={"comment_id": found.id, "comment_node": found.node_id or None})
                work.done.append("comment")
                return
        made = self.api.create_comment(link.repository, link.issue, body)
        work.link = link.model_copy(update={"comment_id": made.id, "comment_node": made.node_id or None})
        work.done.append("comment")

    def _follow_up_comment(self, task: Task, config: GitHubConfig, work: _Pass, family: Family) -> None:
        """The issue's tracking comment, edited from a follow-up: never created by one (the issue's task makes
        it); left for later while the issue's task has none (or it was deleted)."""
        root, link = family.root, work.link
        comment_id = link.comment_id or (root.github.comment_id if root.github is not None else None)
        if comment_id is None or root.github is None:
            work.skipped.append("comment")
            return
        shown = task.model_copy(update={"github": link})
        follow_ups = [shown if f.id == task.id else f for f in family.follow_ups]
        if not any(f.id == task.id for f in follow_ups):
            follow_ups.append(shown)
        body = self.redact(render(root, config, follow_ups, family.children))
        try:
            self._again(lambda: self.api.edit_comment(link.repository, comment_id, body))
        except GitHubError as exc:
            if exc.status != 404:
                raise
            work.skipped.append("comment")  # deleted: the issue's task makes a new one, this one edits it then
            return
        work.link = link.model_copy(update={"comment_id": comment_id})
        work.done.append("comment")

    def reply(self, task: Task, config: GitHubConfig) -> ReplyRecord:
        """Reply once in each review thread the follow-up ``task`` addressed. Safe to repeat: the pull request's
        review comments are read first, and a thread that has this follow-up's reply (its marker) gets none."""
        follow_up, link = task.follow_up, task.github
        assert follow_up is not None and link is not None
        body = self.redact(thread_reply(task, config))
        made = 0
        try:
            present = self._again(lambda: self.api.pull_comments(link.repository, follow_up.pull))
            answered = {c.in_reply_to for c in present if reply_marker(task.id) in c.body}
            for thread in threads(follow_up):
                if thread in answered:
                    continue
                try:
                    self.api.reply_to_review_comment(link.repository, follow_up.pull, thread, body)
                except GitHubError as exc:
                    if exc.status != 404:
                        raise
                    continue  # the thread was deleted: nobody to answer there
                made += 1
        except GitHubError as exc:
            return ReplyRecord(made, self.redact(f"replies: {exc}"), exc.retry_after)
        return ReplyRecord(made)

    def _labels(self, task: Task, config: GitHubConfig, work: _Pass, **_: object) -> None:
        if "labels" in work.done:  # sent together with the comment
            return
        link = work.link
        wanted, ours = wanted_labels(task, config)
        if wanted:
            answer = self._again(lambda: self.api.add_labels(link.repository, link.issue, sorted(wanted)))
            present = set(answer)
            work.label_ids = learned(work.label_ids, answer, ours) or work.label_ids
        else:  # nothing to add; the needs-human label may have to go (a new round started)
            present = {config.needs_human_label} if link.needs_human else set()
        self._remove_stale(link, ours & present - wanted)
        self._labelled(task, config, work)

    def _remove_stale(self, link: GitHubLink, stale: set[str]) -> None:
        for label in sorted(stale):
            self._again(partial(self.api.remove_label, link.repository, link.issue, label))

    def _labelled(self, task: Task, config: GitHubConfig, work: _Pass) -> None:
        person = needs_person(task) is not None and task.follow_up is None
        shown = status_label(task, config) if config.status_labels else work.link.status_label
        work.link = work.link.model_copy(update={"status_label": shown, "needs_human": person})
        work.done.append("labels")

    def _together(
        self, task: Task, config: GitHubConfig, work: _Pass, body: str, *, may_create: bool, look_first: bool
    ) -> bool:
        """The comment and the labels in one GraphQL request, when the issue's node id is known (and the comment's,
        for an edit); False: send them apart, by REST. Ids that turn out wrong are forgotten for the next pass."""
        link = work.link
        creating = link.comment_id is None
        if "labels" not in link.pending or not link.issue_node or work.apart:
            return False
        if (creating and (not may_create or look_first)) or (not creating and not link.comment_node):
            return False  # the REST path looks for the marker first, or leaves the comment to the window's holder
        wanted, ours = wanted_labels(task, config)
        remove = believed_present(link, config) - wanted
        if not wanted and (creating or not remove):
            return False  # no label to add or take off: the comment alone is one REST request
        ids = work.label_ids or {}
        if any(name not in ids for name in wanted | remove):
            return False  # the first time a label is set it goes by REST, which tells its id
        add, drop = {n: ids[n] for n in wanted}, {n: ids[n] for n in remove}
        labels = self._send_together(link, work, body, add=add, drop=drop)
        if labels is None:
            return "comment" in work.done  # the labels go by REST next, in this pass
        self._remove_stale(work.link, (ours - wanted) & set(labels))  # e.g. one a person put back
        self._labelled(task, config, work)
        return True

    def _send_together(
        self, link: GitHubLink, work: _Pass, body: str, *, add: dict[str, str], drop: dict[str, str]
    ) -> dict[str, str] | None:
        """Create or edit the comment and change the labels in one request; the labels after, or None when an id
        was wrong (then they are forgotten, and what is left goes by REST)."""
        issue_node = link.issue_node or ""
        if link.comment_id is None:
            batch = self.api.create_with_labels(link.repository, link.issue, issue_node=issue_node, body=body, add=add)
            if batch.comment is not None:
                made = {"comment_id": batch.comment.id, "comment_node": batch.comment.node_id or None}
                work.link = link.model_copy(update=made)
                work.done.append("comment")
        else:
            comment = (link.comment_node or "", body)
            batch = self._again(
                lambda: self.api.edit_with_labels(
                    link.repository, link.issue, issue_node=issue_node, comment=comment, add=add, remove=drop
                )
            )
        if batch.error is None and batch.labels is not None:
            if "comment" not in work.done:
                work.done.append("comment")
            return batch.labels
        if batch.error is not None and batch.error.transient:
            raise batch.error
        work.apart = True
        if batch.failed in ("comment", "issue"):  # REST finds out whether the comment is there (makes one if not)
            node = f"{batch.failed}_node"
            work.forget.append(node)
            work.link = work.link.model_copy(update={node: None})
        else:
            work.label_ids = {}
        return None
