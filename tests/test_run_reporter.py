"""A pipeline run's one tracking comment, delivered (issue 12): real state branches on a bare remote, the real REST
adapter against the fake GitHub on 127.0.0.1. A 3-phase run keeps exactly one comment that ends showing every
phase and the total; a critical failure calls the maintainers; edits failing 502 for a while still end with the
final text, once; two reporters racing create one comment; a run without an issue posts nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from coordinator.core import transitions as T
from coordinator.core.run_reports import report_of, text_digest
from coordinator.core.transitions.pipelines import run_pipeline, set_pipeline
from coordinator.github.rest import RestGitHub
from coordinator.github.run_comment import run_marker
from coordinator.github.run_reporter import RunReporter
from coordinator.github.settings import GitHubSettings
from coordinator.models import AttemptResult, Phase, Pipeline, RunReport
from coordinator.redaction import Redactor
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from tests.fakes.github_server import FakeGitHub
from tests.github_scenarios import REPO, TOKEN, fake_github, set_github_config

RUN = "pipe-nightly-1"
TTL = timedelta(minutes=10)
SECRET = "s3cret-value-of-the-runner-0123456789"


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with fake_github() as fake:
        yield fake


def reporter(gh: FakeGitHub, store: StateStore, who: str = "r1", **kw: Any) -> RunReporter:
    api = RestGitHub(GitHubSettings(api_url=gh.url, token=TOKEN, repository=REPO))
    return RunReporter(
        store=store,
        api=api,
        who=who,
        repository=REPO,
        redact=Redactor([SECRET]).redact,
        now=kw.pop("now", lambda: datetime.now().astimezone()),
        echo=kw.pop("echo", lambda line: None),
        sleep=lambda seconds: None,
    )


def start_run(store: StateStore, issue: int | None) -> None:
    phases = [
        Phase(name="build", title="Build"),
        Phase(name="docs", title="Docs", critical=False),
        Phase(name="publish", title="Publish", needs=["build"]),
    ]
    store.update(lambda s, now: set_pipeline(s, pipeline=Pipeline(name="nightly", phases=phases), by="a", now=now))
    store.update(lambda s, now: run_pipeline(s, name="nightly", by="alice", now=now, issue=issue))


def claim(store: StateStore, runner: str = "r1") -> str:
    change = store.update(lambda s, now: T.claim(s, runner=runner, capabilities=[], lease_ttl=TTL, now=now))
    assert change.task is not None
    return change.task.id


def complete(store: StateStore, task_id: str, runner: str = "r1", cost: float = 0.1) -> None:
    result = AttemptResult(cost_usd=cost, summary=f"done {SECRET}")
    store.update(lambda s, now: T.complete(s, task_id=task_id, runner=runner, result=result, now=now))


def fail(store: StateStore, task_id: str, reason: str, runner: str = "r1") -> None:
    store.update(lambda s, now: T.fail(s, task_id=task_id, runner=runner, reason=reason, now=now, retryable=False))


def run_comments(gh: FakeGitHub, issue: int) -> list[str]:
    return [c["body"] for c in gh.issue_comments(issue) if c["body"].startswith(run_marker(RUN))]


def report(store: StateStore) -> RunReport:
    found = report_of(store.read(), RUN)
    assert found is not None
    return found


def test_a_three_phase_run_keeps_exactly_one_comment_that_ends_with_every_outcome_and_the_total(
    gh: FakeGitHub, store: StateStore
) -> None:
    issue = gh.add_issue("Nightly runs", author="alice")
    start_run(store, issue)
    side = reporter(gh, store)
    assert side.deliver_due() == 1
    [first] = run_comments(gh, issue)
    assert "⚙️ **Running**: pipeline `nightly`, run 1 (0 of 3 phases ended)" in first and "⏳ queued" in first
    build = claim(store)
    side.deliver_due()
    assert "⚙️ running on r1" in run_comments(gh, issue)[0]
    complete(store, build, cost=0.25)
    docs, publish = claim(store, "r1"), claim(store, "r2")
    fail(store, docs, f"docs tool crashed; it printed {SECRET}")
    side.deliver_due()
    complete(store, publish, runner="r2", cost=0.5)
    side.deliver_due()
    [final] = run_comments(gh, issue)
    assert "✅ **Succeeded**: pipeline `nightly`, run 1 (3 of 3 phases ended)" in final
    assert "| `build` | ✅ succeeded | 1 |" in final and "$0.2500" in final
    assert "| `docs` (non-critical) | ❌ failed | 1 |" in final and "docs tool crashed" in final
    assert "| `publish` | ✅ succeeded | 1 |" in final and "**Total:** $0.7500" in final
    assert SECRET not in final and "[REDACTED" in final  # the runner's secret in an agent's reason
    done = report(store)
    assert not done.pending and done.delivered_digest == text_digest(final) and done.comment_id is not None
    assert len(gh.issue_comments(issue)) == 1
    calls = gh.call_count()
    assert side.deliver_due() == 0 and gh.call_count() == calls  # nothing pending: GitHub is not asked


def test_a_critical_failure_mentions_the_maintainers(gh: FakeGitHub, store: StateStore) -> None:
    set_github_config(store, maintainers=["alice", "octo/ops"])
    issue = gh.add_issue("Nightly runs", author="alice")
    start_run(store, issue)
    build = claim(store)
    fail(store, build, "compile error")
    side = reporter(gh, store)
    side.deliver_due()
    [text] = run_comments(gh, issue)
    assert "❌ **Failed**" in text and "| `build` | ❌ failed | 1 |" in text and "compile error" in text
    assert "🙋 **A person must look** (@alice @octo/ops): critical phase `build` failed, so the run stopped" in text
    assert "| `publish` | 🚫 cancelled | 0 |" in text  # the rest of the run was stopped
    assert not report(store).pending


def test_edits_failing_502_for_a_while_still_end_with_the_final_text_exactly_once(
    gh: FakeGitHub, store: StateStore
) -> None:
    issue = gh.add_issue("Nightly runs", author="alice")
    start_run(store, issue)
    clock = {"now": datetime.now().astimezone()}
    warnings: list[str] = []
    side = reporter(gh, store, now=lambda: clock["now"], echo=warnings.append)
    # The creation is answered 502 after GitHub made the comment (a gateway timeout): never sent again blindly.
    gh.fail("POST */issues/*/comments", 502, times=1, carry_out=True)
    assert not side.deliver("pipe-nightly-1")
    failed = report(store)
    assert failed.pending and failed.attempts == 1 and failed.retry_at is not None
    assert "502" in (failed.last_error or "")
    assert len(gh.issue_comments(issue)) == 1 and warnings
    build = claim(store)
    complete(store, build)
    gh.fail("PATCH */issues/comments/*", 502)  # every edit, for a while
    for _ in range(3):
        clock["now"] += timedelta(hours=2)  # past any backoff
        side.deliver_due()
    waiting = report(store)
    assert waiting.pending and waiting.attempts == 3  # not lost: still to be told (the phase's end reset the backoff)
    assert waiting.comment_id is not None  # found by its marker after the ambiguous creation, and kept
    gh.clear_failures()
    for task_id in (claim(store), claim(store, "r2")):
        complete(store, task_id, runner="r1" if task_id.endswith("docs") else "r2")
    clock["now"] += timedelta(hours=2)
    side.deliver_due()
    assert side.deliver_due(honour_backoff=False) == 0
    [final] = run_comments(gh, issue)
    assert len(gh.issue_comments(issue)) == 1
    assert "✅ **Succeeded**" in final and final.count("✅ succeeded") == 3
    done = report(store)
    assert not done.pending and done.delivered_digest == text_digest(final) and done.last_error is None
    assert gh.call_count("POST */comments") == 1


def test_two_reporters_racing_create_one_comment(gh: FakeGitHub, store: StateStore, tmp_path: Path) -> None:
    issue = gh.add_issue("Nightly runs", author="alice")
    start_run(store, issue)
    others = [
        StateStore(Remote.parse(str(store.remote)), cache_dir=tmp_path / f"cache-{n}", max_wait_seconds=60)
        for n in range(3)
    ]
    sides = [reporter(gh, s, who=f"r{n}") for n, s in enumerate(others)]
    for other in others:
        other.read()
    barrier = threading.Barrier(len(sides))

    def race(side: RunReporter) -> None:
        barrier.wait()
        side.deliver(RUN)

    threads = [threading.Thread(target=race, args=(side,)) for side in sides]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for other in others:
        other.read()
        for side in sides:
            side.deliver_due(honour_backoff=False)
        other.close()
    assert len(run_comments(gh, issue)) == 1 and gh.call_count("POST */comments") == 1
    assert not report(store).pending


def test_a_run_without_an_issue_posts_nothing(gh: FakeGitHub, store: StateStore) -> None:
    start_run(store, None)
    side = reporter(gh, store)
    build = claim(store)
    complete(store, build)
    assert side.deliver_due(honour_backoff=False) == 0
    assert "runs" not in store.read().records or not store.read().records["runs"]
    assert gh.call_count() == 0


def test_a_deleted_comment_is_made_again_once(gh: FakeGitHub, store: StateStore) -> None:
    from tests.github_scenarios import delete_comment

    issue = gh.add_issue("Nightly runs", author="alice")
    start_run(store, issue)
    side = reporter(gh, store)
    side.deliver_due()
    first = report(store).comment_id
    assert first is not None
    delete_comment(gh, first)
    complete(store, claim(store))
    side.deliver_due()
    [again] = run_comments(gh, issue)
    assert "✅ succeeded" in again and report(store).comment_id not in (None, first)
