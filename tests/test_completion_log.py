"""The completion log (`coordinator log`): the state branch's history read as events, newest first, derived from
the audit lines of the commits (never edited). A scripted history on a real bare remote, then the command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.core.completion_log import Commit, events
from coordinator.core.transitions.locks import acquire, release
from coordinator.models import AttemptResult
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

AT = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "kind", "task", "who", "detail"),
    [
        ("submit task-1: Fix the login bug", "submitted", "task-1", None, "Fix the login bug"),
        ("claim task-1 by box-1, attempt 2 (complex)", "claimed", "task-1", "box-1", "complex"),
        ("complete task-1 by box-1, attempt 2", "succeeded", "task-1", "box-1", None),
        (
            "fail task-1 attempt 1 by box-1, requeue, escalate simple -> complex: max_turns",
            "escalated",
            "task-1",
            "box-1",
            "simple -> complex",
        ),
        (
            "fail task-1 attempt 1 by box-1, requeue: tests fail; see log",
            "attempt failed",
            "task-1",
            "box-1",
            "tests fail; see log",
        ),
        ("release task-1 attempt 3 by box-2, requeue: usage limit", "handed back", "task-1", "box-2", "usage limit"),
        (
            "fail task-1 attempt 3 by box-1, task failed: attempts exhausted",
            "failed",
            "task-1",
            "box-1",
            "attempts exhausted",
        ),
        ("requeue task-4 (lease of box-9 expired)", "lease expired", "task-4", "box-9", None),
        ("cancel issue-7 by alice on GitHub", "cancelled", "issue-7", "alice on GitHub", None),
        ("retry task-1 by bob, round 1", "retried", "task-1", "bob", "1"),
        ("question from task-3 attempt 1 by box-1: which colour?", "asked", "task-3", "box-1", "which colour?"),
        ("escalate issue-2 to expert by alice", "escalated", "issue-2", "alice", "expert"),
        ("github issue-7: delivered comment, labels", "delivered", "issue-7", None, "comment, labels"),
        ("acquire lock db by deploy-1 for 600s", "lock acquired", None, "deploy-1", "600s"),
        ("force-release lock db held by deploy-1 by ops: host died", "lock forced", None, "ops", "deploy-1: host died"),
        ("set modes by alice: simple.max_turns 20 -> 30", "other", None, "coordinator", None),
    ],
)
def test_each_audit_line_is_one_event(
    line: str, kind: str, task: str | None, who: str | None, detail: str | None
) -> None:
    [event] = events([Commit(sha="c1", author="coordinator", at=AT, message=line)])
    assert (event.kind, event.task, event.who, event.detail) == (kind, task, who, detail)


def test_a_commit_of_several_lines_gives_their_events_in_order() -> None:
    message = "complete task-1 by r1, attempt 1; unblock task-2; claim task-2 by r1, attempt 1 (simple)"
    found = events([Commit(sha="c9", author="r1", at=AT, message=message)])
    assert [(e.kind, e.task) for e in found] == [
        ("succeeded", "task-1"),
        ("unblocked", "task-2"),
        ("claimed", "task-2"),
    ]
    assert {e.commit for e in found} == {"c9"}


def test_the_log_of_a_scripted_history_as_the_command_shows_it(project: Project, tmp_path: Path) -> None:
    ttl = timedelta(minutes=10)
    project.submit("Fix A")
    project.submit("Fix B", depends_on=("task-1",))
    project.update(lambda s, now: T.claim(s, runner="r1", capabilities=[], lease_ttl=ttl, now=now))
    project.update(lambda s, now: T.fail(s, task_id="task-1", runner="r1", reason="boom", now=now, next_mode="complex"))
    project.update(lambda s, now: T.claim(s, runner="r2", capabilities=[], lease_ttl=ttl, now=now))
    project.update(
        lambda s, now: T.complete(s, task_id="task-1", runner="r2", result=AttemptResult(cost_usd=0.1), now=now)
    )
    project.update(lambda s, now: acquire(s, name="db", owner="deploy", ttl=ttl, now=now))
    project.update(lambda s, now: release(s, name="db", owner="ops", now=now, force=True, reason="stuck"))
    project.update(lambda s, now: T.cancel(s, task_id="task-2", now=now, by="alice"))

    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    shown = run(["log", "--json"], env)
    assert shown.returncode == 0, shown.stderr
    found = [(e["kind"], e["task"] or e["lock"], e["who"]) for e in json.loads(shown.stdout)]
    assert found[:9] == [
        ("cancelled", "task-2", "alice"),
        ("lock forced", "db", "ops"),
        ("lock acquired", "db", "deploy"),
        ("succeeded", "task-1", "r2"),
        ("unblocked", "task-2", None),
        ("claimed", "task-1", "r2"),
        ("escalated", "task-1", "r1"),
        ("claimed", "task-1", "r1"),
        ("submitted", "task-2", None),
    ]
    only = json.loads(run(["log", "--task", "task-1", "--json"], env).stdout)
    assert {e["task"] for e in only} == {"task-1"} and len(only) == 5
    table = run(["log", "--task", "task-1"], env).stdout
    assert table.splitlines()[0].split() == ["WHEN", "(UTC)", "EVENT", "TASK", "WHO", "DETAIL", "COMMIT"]
    assert "simple -> complex" in table
    assert run(["log", "--since", "1d", "--limit", "2", "--json"], env).stdout.count('"kind"') == 2
    bad = run(["log", "--since", "yesterday"], env)
    assert bad.returncode == 2 and "--since: 'yesterday' is not a window" in bad.stderr
