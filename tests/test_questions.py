"""An agent that asks: ``COORDINATOR-VERDICT: needs-input: <question>`` makes its task wait (``needs_input``), an
answer queues it again, and the runner that asked resumes the agent's session (``claude --resume``) or, when it
cannot, starts fresh with the answer in the prompt. Pure transitions first, then the runner as users start it with
the real ``claude`` CLI (against a fake Anthropic API on 127.0.0.1) and ``coordinator answer``."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from coordinator.agents.base import failed_verdict, needs_input_verdict
from coordinator.core import transitions as T
from coordinator.core.scheduling import pick_next
from coordinator.core.state import State
from coordinator.core.transitions.feedback import with_feedback
from coordinator.core.transitions.questions import RESUME_WINDOW, answer, ask
from coordinator.errors import InvalidTransition, NotLeaseHolder
from coordinator.models import AttemptOutcome, AttemptResult, Feedback, Runner, TaskStatus
from coordinator.runner.prompt import build_prompt, build_resume_prompt
from tests.core_helpers import apply
from tests.fakes.anthropic_api import FakeAnthropic, Reply, Text, last_user_text
from tests.fakes.claude_env import claude_env
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
QUESTION = "Which colour should the button be?"


def _asked(runner: str = "box-a", session: str | None = "sess-1") -> tuple[State, str]:
    """A state where ``runner``'s attempt 1 at a task asked :data:`QUESTION` (its session: ``session``)."""
    state = State()
    submitted = apply(state, T.submit(state, T.SubmitRequest(title="Paint the button"), NOW))
    assert submitted.task is not None
    tid = submitted.task.id
    apply(state, T.claim(state, runner=runner, capabilities=[], lease_ttl=timedelta(minutes=5), now=NOW))
    result = AttemptResult(session_id=session, summary=f"Looked around.\nCOORDINATOR-VERDICT: needs-input: {QUESTION}")
    apply(
        state, ask(state, task_id=tid, runner=runner, question=QUESTION, result=result, now=NOW + timedelta(minutes=1))
    )
    return state, tid


def _feedback(text: str, at: datetime) -> Feedback:
    return Feedback(author="alice", at=at, text=text)


def test_the_verdict_lines_are_read_from_the_end_of_the_agents_text() -> None:
    assert needs_input_verdict(f"I looked.\nCOORDINATOR-VERDICT: needs-input: {QUESTION}\n") == QUESTION
    assert needs_input_verdict("COORDINATOR-VERDICT: needs-input") == "(the agent asked for input without saying what)"
    assert needs_input_verdict("Done. I could ask COORDINATOR-VERDICT: needs-input: x but I did not") is None
    assert needs_input_verdict("COORDINATOR-VERDICT: needs-input: early\n" + "more\n" * 5) is None
    # The two verdicts do not read each other's line.
    assert failed_verdict(f"COORDINATOR-VERDICT: needs-input: {QUESTION}") is None
    assert needs_input_verdict("COORDINATOR-VERDICT: failed: no tests") is None


def test_a_question_makes_the_task_wait_without_using_an_attempt() -> None:
    state, tid = _asked()
    task = state.tasks[tid]
    assert task.status == TaskStatus.NEEDS_INPUT and task.lease is None
    assert task.question is not None and task.question.text == QUESTION and task.question.attempt == 1
    attempt = task.attempts[0]
    assert attempt.outcome == AttemptOutcome.NEEDS_INPUT and not attempt.counted
    assert task.attempts_left() == task.max_attempts
    # Nobody claims a task that waits for an answer.
    assert pick_next(state, capabilities=[], now=NOW + timedelta(hours=1), runner="box-a") is None


def test_an_answer_queues_it_kept_for_the_runner_that_has_the_session() -> None:
    state, tid = _asked()
    later = NOW + timedelta(minutes=5)
    apply(state, answer(state, task_id=tid, feedback=_feedback("blue", later), now=later))
    task = state.tasks[tid]
    assert task.status == TaskStatus.QUEUED and task.status_reason == "answered by alice"
    assert task.question is not None and task.question.answered_by == "alice"
    assert [(f.kind, f.text, f.round) for f in task.feedback] == [("answer", "blue", 0)]
    assert task.resume is not None
    assert (task.resume.session_id, task.resume.runner, task.resume.attempt) == ("sess-1", "box-a", 1)
    assert task.resume.until == later + RESUME_WINDOW
    # The runner that asked is alive: another runner leaves the task alone until the window ends.
    alive = Runner(name="box-a", last_heartbeat=later, heartbeat_seconds=30)
    apply(state, T.heartbeat(state, runner=alive, now=later))
    assert pick_next(state, capabilities=[], now=later, runner="box-b") is None
    assert pick_next(state, capabilities=[], now=later, runner="box-a") is not None
    assert pick_next(state, capabilities=[], now=later + RESUME_WINDOW, runner="box-b") is not None


def test_a_dead_keeper_does_not_hold_the_task_and_no_session_means_no_keeping() -> None:
    state, tid = _asked()
    later = NOW + timedelta(minutes=5)
    apply(state, answer(state, task_id=tid, feedback=_feedback("blue", later), now=later))
    # No heartbeat of box-a at all (it never said it was alive): anyone takes it.
    assert pick_next(state, capabilities=[], now=later, runner="box-b") is not None
    silent = Runner(name="box-a", last_heartbeat=NOW - timedelta(hours=1), heartbeat_seconds=30)
    apply(state, T.heartbeat(state, runner=silent, now=NOW - timedelta(hours=1)))
    assert pick_next(state, capabilities=[], now=later, runner="box-b") is not None
    no_session, tid2 = _asked(session=None)
    apply(no_session, answer(no_session, task_id=tid2, feedback=_feedback("blue", later), now=later))
    assert no_session.tasks[tid2].resume is None
    # A "session id" that is an option (a command agent reports what it likes) never reaches --resume.
    flag, tid3 = _asked(session="--dangerously-skip-permissions")
    apply(flag, answer(flag, task_id=tid3, feedback=_feedback("blue", later), now=later))
    assert flag.tasks[tid3].resume is None


def test_only_a_waiting_task_takes_an_answer_and_a_late_question_is_refused() -> None:
    state = State()
    tid = apply(state, T.submit(state, T.SubmitRequest(title="Paint"), NOW)).task.id  # type: ignore[union-attr]
    apply(state, T.claim(state, runner="box-a", capabilities=[], lease_ttl=timedelta(minutes=5), now=NOW))
    with pytest.raises(InvalidTransition, match="only a task that asked a question takes an answer"):
        answer(state, task_id=tid, feedback=_feedback("blue", NOW), now=NOW)
    apply(state, T.cancel(state, task_id=tid, now=NOW, by="bob"))
    # The question of a cancelled attempt comes too late: the runner drops the report, as it does a result.
    with pytest.raises(NotLeaseHolder, match="its attempt 1 ended: cancelled"):
        ask(state, task_id=tid, runner="box-a", question=QUESTION, now=NOW, attempt=1)


def test_the_resume_prompt_holds_only_what_was_said_after_the_attempt_started() -> None:
    state, tid = _asked()
    # alice's first comment came before attempt 1 was claimed: its prompt held it, the session knows it.
    task = state.tasks[tid].model_copy(update={"feedback": [_feedback("said before the attempt", NOW)]})
    task = task.model_copy(update={"feedback": with_feedback(task, _feedback("later", NOW))})
    task = task.model_copy(update={"feedback": with_feedback(task, _feedback("blue, with a <b>border</b>", NOW))})
    assert [f.seq for f in task.feedback] == [0, 1, 2]
    prompt = build_resume_prompt(task, seen=1)
    assert "blue, with a <b>border</b>" in prompt and "said before" not in prompt and "later" not in prompt
    assert "needs-input" in prompt and "Continue the task" in prompt
    fresh = build_prompt(task, branch="coordinator/x", attempt=2)
    assert "said before the attempt" in fresh and "COORDINATOR-VERDICT: needs-input: <your question>" in fresh


def test_an_attempt_notes_the_last_feedback_its_prompt_held() -> None:
    state, tid = _asked()
    later = NOW + timedelta(minutes=5)
    apply(state, answer(state, task_id=tid, feedback=_feedback("blue", later), now=later))
    apply(state, T.claim(state, runner="box-a", capabilities=[], lease_ttl=timedelta(minutes=5), now=later))
    first, second = state.tasks[tid].attempts
    assert (first.feedback_seen, second.feedback_seen) == (0, 1)


# --- the runner as users start it, with the real claude CLI --------------------------------------------------


def _agent(body: dict[str, Any]) -> Reply:
    """Asks which colour, unless it was told; then paints."""
    if "blue" in last_user_text(body):
        return Text("Painted the button blue.")
    return Text(f"I need one decision first.\nCOORDINATOR-VERDICT: needs-input: {QUESTION}")


def _runner_once(claude_exe: str, home: Path, clone: Path, api: FakeAnthropic) -> str:
    env = user_env(home, claude_env(api.url, home), path_first=[Path(claude_exe).parent])
    result = run(["runner", "--name", "r1", "--repo", str(clone), "--once"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _answer(project: Project, home: Path, task_id: str, text: str) -> None:
    env = user_env(home, {"COORDINATOR_REMOTE": str(project.origin)})
    result = run(["answer", task_id, text], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{task_id} queued: answered"


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_the_agent_asks_a_person_answers_and_the_same_session_goes_on(
    project: Project, claude_exe: str, tmp_path: Path
) -> None:
    task_id, clone, home = project.submit("Paint the button"), project.clone("box"), tmp_path / "home"
    with FakeAnthropic(_agent) as api:
        _runner_once(claude_exe, home, clone, api)
        task = project.state().tasks[task_id]
        assert task.status == TaskStatus.NEEDS_INPUT, task.status_reason
        assert task.question is not None and task.question.text == QUESTION
        session = task.attempts[0].session_id
        assert session and task.attempts[0].outcome == AttemptOutcome.NEEDS_INPUT

        shown = run(["show", task_id], user_env(home, {"COORDINATOR_REMOTE": str(project.origin)}))
        assert "status:    needs_input" in shown.stdout
        assert f"question:  {QUESTION}; answer with 'coordinator answer {task_id} TEXT'" in shown.stdout

        _answer(project, home, task_id, "blue")
        asked = len(api.message_requests)
        _runner_once(claude_exe, home, clone, api)
        resumed = api.message_requests[asked]
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED, task.status_reason
    second = task.attempts[1]
    assert second.resumed_session == session and second.fresh_because is None
    # The resumed conversation carries the first attempt's question, and the new prompt only the answer.
    sent = json.dumps(resumed.body["messages"])
    assert "needs-input: " + QUESTION in sent
    assert "The task goes on" in sent and "# Task" not in last_user_text(resumed.body)


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_a_session_the_runner_no_longer_has_starts_fresh_with_the_answer_and_says_so(
    project: Project, claude_exe: str, tmp_path: Path
) -> None:
    task_id, clone, home = project.submit("Paint the button"), project.clone("box"), tmp_path / "home"
    with FakeAnthropic(_agent) as api:
        _runner_once(claude_exe, home, clone, api)
        _answer(project, home, task_id, "blue")
        shutil.rmtree(home / ".claude" / "projects")  # the CLI's sessions are gone (cleaned up, a new disk)
        asked = len(api.message_requests)
        output = _runner_once(claude_exe, home, clone, api)
        fresh = api.message_requests[asked:]
    task = project.state().tasks[task_id]
    assert task.status == TaskStatus.SUCCEEDED, task.status_reason
    second = task.attempts[1]
    assert second.resumed_session is None and second.fresh_because == "its session could not be resumed here"
    assert "could not be resumed; starting fresh" in output
    first_prompt = json.dumps(fresh[0].body["messages"])
    assert "# Task" in first_prompt and "answered your question" in first_prompt and "blue" in first_prompt


def test_answer_without_text_is_a_usage_error_naming_the_command(project: Project, tmp_path: Path) -> None:
    task_id = project.submit("Paint the button")
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    empty = run(["answer", task_id], env)
    assert empty.returncode == 2 and f"coordinator answer {task_id}" in empty.stderr
    wrong = run(["answer", task_id, "blue"], env)
    assert wrong.returncode != 0 and "only a task that asked a question takes an answer" in wrong.stderr
    assert "Traceback" not in empty.stderr + wrong.stderr


def test_a_retry_of_an_issue_task_keeps_it_for_the_runner_with_the_last_session() -> None:
    from coordinator.core.transitions.github import IssueSettings
    from coordinator.core.transitions.steering import retry_with_feedback
    from tests.github_tasks import IssueLife, later, trigger

    life = IssueLife()
    life.claim("runner-a")
    life.fail("no tests", runner="runner-a", result=AttemptResult(session_id="sess-9"), retryable=False)
    assert life.task.status == TaskStatus.FAILED
    hint = Feedback(author="alice", at=later(30), text="more tests please", kind="retry")
    task = life.step(
        lambda s, now: retry_with_feedback(
            s,
            task_id=life.id,
            trigger=trigger(at=later(30), delivery="d-2", event="issue_comment.created", comment_id=7),
            title="Spelling",
            body="",
            settings=IssueSettings(),
            feedback=hint,
            now=now,
        )
    )
    assert task.status == TaskStatus.QUEUED and task.round == 1
    assert task.resume is not None and (task.resume.session_id, task.resume.runner) == ("sess-9", "runner-a")
    assert task.resume.until == life.now + RESUME_WINDOW
    # The resumed attempt's prompt holds the hint (said after the session's attempt started).
    assert "more tests please" in build_resume_prompt(task, seen=task.attempts[0].feedback_seen)
