"""A queued task of an issue that waits for the daily budget says so in its tracking comment, and stops saying
it once claims are allowed again (issue 11: "waiting tasks say why ... in their tracking comments")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.core.transitions.budget import set_budget
from coordinator.models import GITHUB_CAPABILITY, Budget, TaskStatus
from coordinator.store.store import StateStore
from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import TRIGGER, event, fake_github, labelled_issue, side, tracking_comments


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        yield fake


def test_the_tracking_comment_says_the_task_waits_for_the_budget(
    store: StateStore, remote_path: Path, gh: FakeGitHub, tmp_path: Path
) -> None:
    ingest = side(remote_path, gh, tmp_path / "cache-ingest")
    runner = side(remote_path, gh, tmp_path / "cache-runner", who="r1")
    try:
        number = labelled_issue(gh)
        ingest.handle(event(gh, number, "labeled", sender="alice", label=TRIGGER))
        runner.store.update(lambda s, now: set_budget(s, budget=Budget(max_daily_usd=0), by="ops"))

        def claim() -> T.Change:
            return runner.store.update(
                lambda s, now: T.claim(
                    s, runner="r1", capabilities=[GITHUB_CAPABILITY], lease_ttl=timedelta(minutes=10), now=now
                )
            )

        held = claim()
        assert held.task is None and held.refused is not None
        task = runner.task(number)
        assert task.status == TaskStatus.QUEUED
        assert task.status_reason is not None and task.status_reason.startswith("waits for the daily budget")
        runner.courier.deliver(task.id)
        [comment] = [c["body"] for c in tracking_comments(gh, number)]
        assert "Queued" in comment and "waits for the daily budget: claims resume at" in comment
        assert claim().empty  # said once: the next refused claim writes nothing

        runner.store.update(lambda s, now: set_budget(s, budget=Budget(max_daily_usd=None), by="ops"))
        claimed = claim()
        assert claimed.task is not None and claimed.task.id == task.id and claimed.task.status_reason is None
    finally:
        ingest.close()
        runner.close()
