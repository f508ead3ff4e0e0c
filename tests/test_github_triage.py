"""What an ``issues`` event means for the issue's task (:func:`coordinator.github.triage.plan`), from GitHub's
recorded webhook payloads and variants of them, against tasks in every status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from coordinator.github.events import IssuesEvent, parse
from coordinator.github.triage import Action, Plan, plan, task_id_of, trigger_time
from coordinator.models import GitHubConfig, Task, TaskStatus
from tests.github_payloads import issues_event, payload
from tests.github_tasks import LABELLED_AT, issue_task, later, link

CONFIG = GitHubConfig()
WAITING = (TaskStatus.QUEUED, TaskStatus.BLOCKED)
ENDED = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)
ALIVE = (*WAITING, TaskStatus.RUNNING)


def event(action: str, *, delivery: str | None = "delivery-2", **changes: Any) -> IssuesEvent:
    """An ``issues`` event parsed from the recorded payload for ``action`` (see ``issues_event``)."""
    changes.setdefault("labels", ("bug", "claude"))
    parsed = parse("issues", issues_event(action, **changes), delivery=delivery)
    assert isinstance(parsed, IssuesEvent)
    return parsed


def task_in(status: TaskStatus, **fields: Any) -> Task:
    return issue_task(1, status=status, **fields)


# -- a trigger with no task yet ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_event", "action", "why"),
    [
        (event("opened"), "submit", "issue #1 triggered by Codertocat"),
        (event("labeled", label="claude"), "submit", "issue #1 triggered by Codertocat"),
        (event("reopened"), "submit", "issue #1 triggered by Codertocat"),
        (event("opened", labels=("bug",)), "ignore", "no 'claude' label on issue #1"),
        (event("reopened", labels=()), "ignore", "no 'claude' label on issue #1"),
        (event("labeled", label="bug"), "ignore", "no 'claude' label on issue #1"),
        (event("labeled", label="claude", state="closed"), "ignore", "issue #1 is closed"),
        (event("opened", state="closed"), "ignore", "issue #1 is closed"),
        (event("edited"), "ignore", "edits count only while the task waits"),
        (event("closed", state="closed"), "ignore", "the issue was closed; no task of it is waiting or running"),
        (event("unlabeled", label="claude", labels=("bug",)), "ignore", "label 'claude' removed; no task"),
        (event("unlabeled", label="bug"), "ignore", "label 'bug' is not the trigger label"),
    ],
)
def test_an_event_for_an_issue_without_a_task(the_event: IssuesEvent, action: Action, why: str) -> None:
    made = plan(the_event, None, CONFIG)
    assert (made.action, made.task_id) == (action, "issue-1")
    assert why in made.why


def test_the_recorded_labeled_payload_triggers_when_its_label_is_the_trigger_label() -> None:
    # The recorded delivery applies "bug": with "bug" as the trigger label it is a trigger, as recorded.
    recorded = parse("issues", payload("issues.labeled"), delivery="d")
    assert isinstance(recorded, IssuesEvent)
    assert plan(recorded, None, CONFIG).action == "ignore"
    assert plan(recorded, None, GitHubConfig(trigger_label="bug")).action == "submit"


def test_the_trigger_label_is_the_branch_setting() -> None:
    config = GitHubConfig(trigger_label="coordinator")
    assert plan(event("labeled", label="claude"), None, config).action == "ignore"
    both = event("labeled", label="coordinator", labels=("claude", "coordinator"))
    assert plan(both, None, config).action == "submit"
    assert plan(event("closed", state="closed"), task_in(TaskStatus.QUEUED), config).action == "cancel"
    unlabel_other = event("unlabeled", label="claude", labels=("coordinator",))
    assert plan(unlabel_other, task_in(TaskStatus.QUEUED), config).action == "update-labels"


# -- a trigger while the task exists ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ALIVE)
@pytest.mark.parametrize("action", ["opened", "labeled", "reopened"])
def test_a_trigger_while_the_task_waits_or_runs_is_ignored(status: TaskStatus, action: str) -> None:
    made = plan(event(action, label="claude", updated_at=later(60)), task_in(status), CONFIG)
    assert made.action == "ignore"
    assert f"issue-1 is {status.value} already" in made.why


@pytest.mark.parametrize("status", ENDED)
@pytest.mark.parametrize("action", ["labeled", "reopened"])
def test_a_newer_trigger_after_the_task_ended_starts_a_new_round(status: TaskStatus, action: str) -> None:
    made = plan(event(action, label="claude", updated_at=later(1)), task_in(status), CONFIG)
    assert made == Plan("retrigger", "issue-1", f"issue-1 was {status.value}; triggered again by Codertocat")


@pytest.mark.parametrize(
    ("delivery", "updated_at", "recorded_delivery"),
    [
        ("delivery-1", LABELLED_AT, "delivery-1"),  # the same delivery again
        ("delivery-1", later(30), "delivery-1"),  # the same delivery id, whatever its times say
        ("delivery-9", LABELLED_AT, "delivery-1"),  # another delivery of the same trigger (equal time)
        ("delivery-9", later(-5), "delivery-1"),  # an older trigger delivered late
        (None, LABELLED_AT, None),  # no delivery ids known (Actions' event file): the time decides
        (None, later(-1), "delivery-1"),
    ],
)
@pytest.mark.parametrize("status", ENDED)
def test_a_trigger_handled_already_is_ignored(
    delivery: str | None, updated_at: datetime, recorded_delivery: str | None, status: TaskStatus
) -> None:
    task = task_in(status, github=link(trigger={"delivery": recorded_delivery}))
    made = plan(event("labeled", label="claude", delivery=delivery, updated_at=updated_at), task, CONFIG)
    assert made.action == "ignore"
    assert made.why == f"this trigger was handled already (issue-1 is {status.value})"


def test_an_opened_trigger_is_timed_by_the_issue_creation() -> None:
    # "opened" payloads carry the issue's creation; a later edit must not make an old "opened" a new trigger.
    opened = event("opened", created_at=later(-10), updated_at=later(10))
    assert trigger_time(opened) == later(-10)
    assert plan(opened, task_in(TaskStatus.SUCCEEDED), CONFIG).action == "ignore"
    labeled = event("labeled", label="claude", created_at=later(-10), updated_at=later(10))
    assert trigger_time(labeled) == later(10)
    assert plan(labeled, task_in(TaskStatus.SUCCEEDED), CONFIG).action == "retrigger"


@pytest.mark.parametrize("status", ENDED)
def test_a_closed_issue_does_not_trigger_a_new_round(status: TaskStatus) -> None:
    made = plan(event("labeled", label="claude", state="closed", updated_at=later(5)), task_in(status), CONFIG)
    assert (made.action, made.why) == ("ignore", "issue #1 is closed")


# -- edits and other labels while the task waits --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (TaskStatus.QUEUED, "update-text"),
        (TaskStatus.BLOCKED, "update-text"),
        (TaskStatus.RUNNING, "ignore"),
        (TaskStatus.SUCCEEDED, "ignore"),
        (TaskStatus.FAILED, "ignore"),
        (TaskStatus.CANCELLED, "ignore"),
    ],
)
def test_an_edit_counts_only_while_the_task_waits(status: TaskStatus, action: Action) -> None:
    assert plan(event("edited", updated_at=later(1)), task_in(status), CONFIG).action == action


def test_an_edit_of_an_issue_whose_trigger_label_is_gone_is_ignored() -> None:
    assert plan(event("edited", labels=("bug",)), task_in(TaskStatus.QUEUED), CONFIG).action == "ignore"


@pytest.mark.parametrize(
    ("action", "status", "planned"),
    [
        ("labeled", TaskStatus.QUEUED, "update-labels"),
        ("labeled", TaskStatus.BLOCKED, "update-labels"),
        ("labeled", TaskStatus.RUNNING, "ignore"),
        ("labeled", TaskStatus.SUCCEEDED, "ignore"),
        ("unlabeled", TaskStatus.QUEUED, "update-labels"),
        ("unlabeled", TaskStatus.BLOCKED, "update-labels"),
        ("unlabeled", TaskStatus.RUNNING, "ignore"),
        ("unlabeled", TaskStatus.FAILED, "ignore"),
    ],
)
def test_other_labels_change_the_settings_only_while_the_task_waits(
    action: str, status: TaskStatus, planned: Action
) -> None:
    labels = ("claude", "priority:high") if action == "labeled" else ("claude",)
    made = plan(event(action, label="priority:high", labels=labels), task_in(status), CONFIG)
    assert made.action == planned
    if planned == "update-labels":
        assert "label 'priority:high'" in made.why and "while issue-1 waits" in made.why


# -- cancelling ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ALIVE)
@pytest.mark.parametrize(
    ("the_event", "why"),
    [
        (event("closed", state="closed"), "the issue was closed"),
        (event("closed", state="closed", labels=()), "the issue was closed"),
        (event("unlabeled", label="claude", labels=("bug",)), "label 'claude' removed"),
    ],
)
def test_closing_or_unlabelling_cancels_a_task_that_has_not_ended(
    status: TaskStatus, the_event: IssuesEvent, why: str
) -> None:
    assert plan(the_event, task_in(status), CONFIG) == Plan("cancel", "issue-1", why)


@pytest.mark.parametrize("status", ENDED)
@pytest.mark.parametrize(
    "the_event", [event("closed", state="closed"), event("unlabeled", label="claude", labels=("bug",))]
)
def test_closing_or_unlabelling_leaves_an_ended_task_alone(status: TaskStatus, the_event: IssuesEvent) -> None:
    made = plan(the_event, task_in(status), CONFIG)
    assert made.action == "ignore" and "no task of it is waiting or running" in made.why


# -- everything else ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    ["assigned", "unassigned", "milestoned", "demilestoned", "pinned", "unpinned", "locked", "unlocked", "typed"],
)
@pytest.mark.parametrize("status", [None, *ALIVE, *ENDED])
def test_other_actions_are_ignored_saying_so(action: str, status: TaskStatus | None) -> None:
    task = task_in(status) if status is not None else None
    made = plan(event(action), task, CONFIG)
    assert made == Plan("ignore", "issue-1", f"coordinator does not act on issues.{action}")


@pytest.mark.parametrize(
    "the_event",
    [
        event("opened"),
        event("labeled", label="claude", updated_at=later(5)),
        event("reopened", updated_at=later(5)),
        event("edited"),
        event("closed", state="closed"),
        event("unlabeled", label="claude", labels=()),
        event("labeled", label="priority:high", labels=("claude", "priority:high")),
    ],
)
@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.SUCCEEDED])
def test_a_task_named_issue_n_that_was_not_made_from_an_issue_is_left_alone(
    the_event: IssuesEvent, status: TaskStatus
) -> None:
    hand_made = Task(
        id="issue-1",
        title="a task someone named issue-1",
        status=status,
        created_at=LABELLED_AT,
        updated_at=LABELLED_AT,
    )
    made = plan(the_event, hand_made, CONFIG)
    assert made.action == "ignore"
    assert "was not made from an issue" in made.why


@pytest.mark.parametrize(
    ("the_link", "said"),
    [
        (link(1, repository="someone/else"), "someone/else"),
        (link(1, repository="Codertocat/Other"), "Codertocat/Other"),
        (link(7), "issue #7"),
    ],
)
@pytest.mark.parametrize(
    "the_event",
    [
        event("labeled", label="claude", updated_at=later(5)),
        event("edited"),
        event("closed", state="closed"),
        event("unlabeled", label="claude", labels=()),
    ],
)
@pytest.mark.parametrize("status", [TaskStatus.QUEUED, TaskStatus.CANCELLED])
def test_a_task_of_another_issue_under_this_id_is_left_alone(
    the_link: Any, said: str, the_event: IssuesEvent, status: TaskStatus
) -> None:
    # The id issue-1 holds a task of another repository's issue, or of another issue (copied or hand-made):
    # an event of Codertocat/Hello-World#1 must neither cancel, change nor restart it.
    made = plan(the_event, task_in(status, github=the_link), CONFIG)
    assert made.action == "ignore"
    assert said in made.why


def test_the_repository_is_compared_as_github_does_without_case() -> None:
    task = task_in(TaskStatus.QUEUED, github=link(1, repository="codertocat/hello-world"))
    assert plan(event("closed", state="closed"), task, CONFIG).action == "cancel"


# -- the gate ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "gated"),
    [
        ("submit", True),
        ("retrigger", True),
        ("update-text", True),
        ("update-labels", True),
        ("cancel", False),
        ("ignore", False),
    ],
)
def test_only_what_makes_or_changes_work_needs_write_access(action: Action, gated: bool) -> None:
    assert Plan(action, "issue-1", "why").gated is gated


def test_task_ids_of_issues() -> None:
    assert [task_id_of(n) for n in (1, 42, 10**6)] == ["issue-1", "issue-42", "issue-1000000"]
