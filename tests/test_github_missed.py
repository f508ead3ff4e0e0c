"""Which label application counts as a trigger that never reached ingest (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from coordinator.github.api import IssueEvent
from coordinator.github.missed import RECENT, latest_trigger
from coordinator.models import GitHubConfig, TaskStatus
from tests.github_tasks import issue_task, link

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CONFIG = GitHubConfig()


def labeled(minutes_ago: float, *, by: str = "alice", label: str = "claude", kind: str = "labeled") -> IssueEvent:
    return IssueEvent(kind, by, NOW - timedelta(minutes=minutes_ago), label)


@pytest.mark.parametrize(
    ("events", "found"),
    [
        ([labeled(5)], 0),
        ([labeled(30), labeled(5, label="bug")], 0),
        ([labeled(30), labeled(20, kind="unlabeled"), labeled(5)], 2),
        ([labeled(5), labeled(1, kind="unlabeled")], None),  # taken off again: no trigger now
        ([labeled(RECENT.total_seconds() / 60 + 1)], None),  # too old: it predates the workflow, say
        ([labeled(5, label="other")], None),
        ([labeled(5, label="claude:plan")], 0),  # the plan label triggers too
        ([labeled(30), labeled(5, label="claude:plan")], 1),  # the latest of the two
        ([], None),
    ],
)
def test_the_latest_recent_application_still_in_force_counts(events: list[IssueEvent], found: int | None) -> None:
    expected = events[found] if found is not None else None
    assert latest_trigger(events, None, CONFIG, NOW) == expected


def test_a_label_the_ended_task_was_triggered_by_is_not_a_new_trigger() -> None:
    trigger_at = NOW - timedelta(minutes=5)
    ended = issue_task(status=TaskStatus.SUCCEEDED, github=link(1, trigger={"at": trigger_at}))
    assert latest_trigger([labeled(5)], ended, CONFIG, NOW) is None
    assert latest_trigger([labeled(5), labeled(3, kind="unlabeled"), labeled(1)], ended, CONFIG, NOW) is not None
