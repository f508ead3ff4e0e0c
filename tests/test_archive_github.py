"""An issue whose task was archived (`coordinator gc`) and is labelled again: its id is taken for good, so the
ingest says so and ends well, rather than failing the workflow run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core.archive import GcRequest
from coordinator.core.transitions import Change
from coordinator.models import TaskStatus
from coordinator.store.gc import collect
from coordinator.store.store import StateStore
from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import TRIGGER, event, fake_github, labelled_issue, side


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        yield fake


def test_a_relabelled_issue_whose_task_was_archived_is_ignored_saying_why(
    store: StateStore, remote_path: Path, gh: FakeGitHub, tmp_path: Path
) -> None:
    ingest = side(remote_path, gh, tmp_path / "cache-ingest")
    try:
        number = labelled_issue(gh)
        ingest.handle(event(gh, number, "labeled", sender="alice", label=TRIGGER))
        task = ingest.task(number)
        long_ago = datetime.now(UTC) - timedelta(days=30)
        assert task.github is not None
        old = task.model_copy(
            update={
                "status": TaskStatus.CANCELLED,
                "updated_at": long_ago,
                "github": task.github.model_copy(update={"pending": []}),
            }
        )
        store.update(lambda s, now: Change(message="the task ended long ago", tasks=(old,)))
        assert collect(store, GcRequest(older_than=timedelta(days=7))).archived == 1
        gh.unlabel(number, TRIGGER, by="alice")
        gh.label(number, TRIGGER, by="alice")
        outcome = ingest.handle(event(gh, number, "labeled", sender="alice", label=TRIGGER))
        assert (
            outcome.message
            == f"ignored: issue-{number} ended and was archived by 'coordinator gc': it does not start again"
        )
    finally:
        ingest.close()
