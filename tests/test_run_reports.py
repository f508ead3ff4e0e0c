"""A pipeline run's tracking comment, the pure part (issue 12): the report record made with the run, marked
pending by any change that shows on the comment (whoever builds that change), recorded by compare-and-swap
transitions, and the comment's text with every phase, the total, a call for a person, and untrusted text made
safe."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coordinator.core import transitions as T
from coordinator.core.pipeline_runs import run_summary
from coordinator.core.run_reports import report_of, text_digest, with_run_reports
from coordinator.core.state import State
from coordinator.core.transitions.pipelines import run_pipeline, set_pipeline
from coordinator.core.transitions.run_reports import RunDelivery, record_run_delivery, take_run_creation
from coordinator.errors import InvalidTransition
from coordinator.github.run_comment import is_run_comment, render_run, run_marker
from coordinator.models import AttemptResult, GitHubConfig, Phase, Pipeline, RunReport
from tests.core_helpers import NOW, TTL, apply, minutes

RUN = "pipe-nightly-1"


def nightly(issue: int | None = None) -> Pipeline:
    """Three phases: build, then docs (non-critical), then publish."""
    phases = [
        Phase(name="build", title="Build"),
        Phase(name="docs", title="Docs", critical=False),
        Phase(name="publish", title="Publish", needs=["build"]),
    ]
    return Pipeline(name="nightly", phases=phases, issue=issue)


def a_run(*, issue: int | None = 7, on_definition: bool = False) -> State:
    state = State()
    apply(state, set_pipeline(state, pipeline=nightly(issue if on_definition else None), by="alice", now=NOW))
    given = None if on_definition else issue
    apply(state, with_run_reports(state, run_pipeline(state, name="nightly", by="alice", now=NOW, issue=given)))
    return state


def step(state: State, change: T.Change) -> T.Change:
    """Apply ``change`` as the store commits it: with the run reports it touches marked."""
    return apply(state, with_run_reports(state, change))


def claim(state: State, runner: str = "r1") -> str:
    claimed = step(state, T.claim(state, runner=runner, capabilities=[], lease_ttl=TTL, now=NOW)).task
    assert claimed is not None
    return claimed.id


def delivered(state: State) -> RunReport:
    """Record a delivery of the current text (what a reporter does after posting it)."""
    report = report_of(state, RUN)
    assert report is not None
    text = current(state, report)
    assert text is not None
    done = RunDelivery(by="r1#1", comment_id=55, digest=text_digest(text))
    apply(state, record_run_delivery(state, run=RUN, delivery=done, current=current, now=NOW))
    found = report_of(state, RUN)
    assert found is not None
    return found


def current(state: State, report: RunReport) -> str | None:
    summary = run_summary(state, report.run)
    return None if summary is None else render_run(summary, report, state.github)


def test_a_run_with_an_issue_brings_its_pending_report_in_the_same_commit() -> None:
    state = a_run(issue=7)
    report = report_of(state, RUN)
    assert report == RunReport(run=RUN, pipeline="nightly", issue=7, pending=True, updated_at=NOW)
    by_definition = a_run(issue=9, on_definition=True)
    assert (found := report_of(by_definition, RUN)) is not None and found.issue == 9
    assert report_of(a_run(issue=None), RUN) is None  # no issue: no record, nothing posted ever
    with pytest.raises(Exception, match="--issue 0 is not an issue number"):
        run_pipeline(state, name="nightly", by="alice", now=NOW, issue=0)


def test_a_change_that_shows_on_the_comment_marks_the_report_pending_and_a_renewal_does_not() -> None:
    state = a_run()
    assert not delivered(state).pending
    task_id = claim(state)
    report = report_of(state, RUN)
    assert report is not None and report.pending  # claimed: the comment says "running on r1"
    delivered(state)
    renewed = with_run_reports(state, T.renew(state, task_id=task_id, runner="r1", lease_ttl=TTL, now=NOW))
    assert not any(isinstance(r, RunReport) for r in renewed.records)  # nothing to tell GitHub
    failed = report_of(state, RUN)
    assert failed is not None
    backed_off = failed.model_copy(update={"pending": True, "attempts": 3, "retry_at": NOW + minutes(30)})
    state.put_record("runs", RUN, backed_off)
    step(state, T.complete(state, task_id=task_id, runner="r1", result=AttemptResult(cost_usd=0.5), now=NOW))
    again = report_of(state, RUN)
    assert again is not None and again.pending and again.attempts == 0 and again.retry_at is None


def test_a_task_of_no_reporting_run_costs_nothing() -> None:
    state = a_run(issue=None)
    change = T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW)
    assert with_run_reports(state, change) is change


def test_a_delivery_clears_pending_only_when_its_text_is_still_the_current_one() -> None:
    state = a_run()
    report = report_of(state, RUN)
    assert report is not None
    old_text = current(state, report)
    assert old_text is not None
    claim(state)  # the run moved on after the text was rendered
    posted = RunDelivery(by="r1#1", comment_id=55, digest=text_digest(old_text))
    apply(state, record_run_delivery(state, run=RUN, delivery=posted, current=current, now=NOW))
    after = report_of(state, RUN)
    assert after is not None and after.pending and after.comment_id == 55
    assert after.delivered_digest == text_digest(old_text)
    assert not delivered(state).pending


def test_a_failed_delivery_backs_off_keeps_pending_and_honours_github() -> None:
    state = a_run()
    failed = RunDelivery(by="r1#1", error="comment: 502 Bad Gateway")
    apply(state, record_run_delivery(state, run=RUN, delivery=failed, current=current, now=NOW))
    report = report_of(state, RUN)
    assert report is not None and report.pending and report.attempts == 1
    assert report.retry_at == NOW + timedelta(seconds=15) and report.last_error == "comment: 502 Bad Gateway"
    limited = RunDelivery(by="r1#1", error="rate limited", retry_after=600)
    apply(state, record_run_delivery(state, run=RUN, delivery=limited, current=current, now=NOW))
    report = report_of(state, RUN)
    assert report is not None and report.attempts == 2 and report.retry_at == NOW + timedelta(seconds=600)


def test_one_process_at_a_time_may_create_the_comment() -> None:
    state = a_run()
    apply(state, take_run_creation(state, run=RUN, by="r1#1", now=NOW))
    with pytest.raises(InvalidTransition, match="r1#1 is creating"):
        take_run_creation(state, run=RUN, by="r2#2", now=NOW + minutes(1))
    apply(state, take_run_creation(state, run=RUN, by="r2#2", now=NOW + minutes(6)))  # r1 died: it lapsed
    text = current(state, report_of(state, RUN))  # type: ignore[arg-type]
    assert text is not None
    made = RunDelivery(by="r2#2", comment_id=99, digest=text_digest(text))
    apply(state, record_run_delivery(state, run=RUN, delivery=made, current=current, now=NOW))
    report = report_of(state, RUN)
    assert report is not None and report.creating_by is None and report.comment_id == 99
    with pytest.raises(InvalidTransition, match="has its tracking comment already"):
        take_run_creation(state, run=RUN, by="r1#1", now=NOW)
    apply(state, take_run_creation(state, run=RUN, by="r1#1", now=NOW, gone=99))  # deleted on GitHub
    assert (report := report_of(state, RUN)) is not None and report.comment_id is None


def finished(state: State, *, publish_ok: bool) -> None:
    build = claim(state)
    step(state, T.complete(state, task_id=build, runner="r1", result=AttemptResult(cost_usd=0.25), now=NOW))
    docs, publish = claim(state, "r1"), claim(state, "r2")
    assert {docs, publish} == {f"{RUN}-docs", f"{RUN}-publish"}
    step(state, T.fail(state, task_id=f"{RUN}-docs", runner="r1", reason="no | docs", now=NOW, retryable=False))
    if publish_ok:
        step(state, T.complete(state, task_id=f"{RUN}-publish", runner="r2", result=AttemptResult(), now=NOW))
    else:
        why = "@someone said Fixes #3 <!-- hidden --> token"
        step(state, T.fail(state, task_id=f"{RUN}-publish", runner="r2", reason=why, now=NOW, retryable=False))


def test_the_comment_shows_every_phase_and_the_total() -> None:
    state = a_run()
    finished(state, publish_ok=True)
    report = report_of(state, RUN)
    assert report is not None and report.pending
    text = current(state, report)
    assert text is not None and is_run_comment(text, RUN) and text.startswith(run_marker(RUN))
    assert "✅ **Succeeded**: pipeline `nightly`, run 1 (3 of 3 phases ended)" in text
    assert "| `build` | ✅ succeeded | 1 | 0s | $0.2500 |  |" in text
    assert "| `docs` (non-critical) | ❌ failed | 1 | 0s | $0.0000 | no \\| docs |" in text
    assert "| `publish` | ✅ succeeded | 1 | 0s | $0.0000 |  |" in text
    assert "**Total:** $0.2500" in text
    assert "person must look" not in text


def test_a_critical_failure_calls_the_maintainers_and_untrusted_reasons_stay_inert() -> None:
    state = a_run()
    state.config = state.config.model_copy(update={"github": GitHubConfig(maintainers=["alice", "org/ops"])})
    finished(state, publish_ok=False)
    text = current(state, report_of(state, RUN))  # type: ignore[arg-type]
    assert text is not None
    assert "❌ **Failed**" in text
    assert "🙋 **A person must look** (@alice @org/ops): critical phase `publish` failed, so the run stopped" in text
    assert f"Retry it with `coordinator retry {RUN}-publish`" in text
    publish_row = next(line for line in text.splitlines() if line.startswith("| `publish`"))
    assert "@&#8203;someone" in publish_row and "Fixes&#8203; #3" in publish_row  # notifies nobody, closes nothing
    assert "hidden" not in publish_row and text.count("<!--") == 1  # only the marker
    nobody = State()
    nobody.tasks, nobody.records = state.tasks, state.records
    plain = current(nobody, report_of(state, RUN))  # type: ignore[arg-type]
    assert plain is not None and "coordinator github --set maintainers=LOGIN" in plain and " (@" not in plain


def test_a_scheduled_run_of_a_pipeline_with_an_issue_reports_there_too() -> None:
    from coordinator.core.transitions.schedules import add_schedule, tick
    from coordinator.models import Schedule
    from tests.core_helpers import hours

    state = State()
    apply(state, set_pipeline(state, pipeline=nightly(issue=11), by="alice", now=NOW))
    schedule = Schedule(name="every-hour", cron="@hourly", title="nightly", pipeline="nightly", created_at=NOW)
    apply(state, add_schedule(state, schedule, NOW))
    step(state, tick(state, NOW + hours(1)))
    report = report_of(state, RUN)
    assert report is not None and report.issue == 11 and report.pending


def test_gc_drops_a_delivered_report_with_its_phases_and_keeps_a_pending_one() -> None:
    from coordinator.core.archive import GcRequest, archive_batch

    state = a_run()
    for _ in range(3):
        task_id = claim(state)
        step(state, T.complete(state, task_id=task_id, runner="r1", result=AttemptResult(), now=NOW))
    request = GcRequest(older_than=timedelta(days=1))
    later = NOW + timedelta(days=2)
    pending = archive_batch(state, request, later)
    assert ("runs", RUN) not in pending.deletes  # its comment still waits for the final text
    delivered(state)
    done = archive_batch(state, request, later)
    assert ("runs", RUN) in done.deletes and sum(1 for kind, _ in done.deletes if kind == "tasks") == 3
