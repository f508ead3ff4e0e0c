"""An agent that cannot go on without a person's answer: its task waits (``needs_input``) with the question, and
an answer queues it again, kept for a while for the runner that can resume the agent's session. Pure transitions
of ``(state, request, now)``."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from coordinator.core.state import State
from coordinator.core.transitions.attempts import finish_attempt, reported_attempt, superseded
from coordinator.core.transitions.change import Change, Draft, short
from coordinator.core.transitions.feedback import with_feedback
from coordinator.errors import InvalidTransition
from coordinator.models import Attempt, AttemptOutcome, AttemptResult, Feedback, Question, Resume, Task, TaskStatus

#: How long a task whose agent's session can be resumed is kept for the runner that has that session.
RESUME_WINDOW = timedelta(minutes=15)
#: What a session id looks like (Claude's are UUIDs); anything else is not resumed.
SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
#: The longest question kept (the agent's text; the rest is cut, saying so).
MAX_QUESTION_CHARS = 2_000


def question_text(text: str) -> str:
    """``text`` as a question keeps it: stripped, cut to :data:`MAX_QUESTION_CHARS`."""
    text = text.strip() or "(the agent asked for input without saying what)"
    if len(text) <= MAX_QUESTION_CHARS:
        return text
    return text[: MAX_QUESTION_CHARS - 1] + "…"


def ask(
    state: State,
    *,
    task_id: str,
    runner: str,
    question: str,
    now: datetime,
    result: AttemptResult | None = None,
    attempt: int | None = None,
) -> Change:
    """Record an attempt whose agent asked ``question``: the attempt ends without using the budget and the task
    waits for an answer. A late report (the task moved on) only records the attempt's result."""
    draft = Draft(state)
    task = draft.get(task_id)
    number = reported_attempt(task, runner, attempt)
    reason = f"asked: {short(question)}"
    attempts = finish_attempt(
        task, number, now, outcome=AttemptOutcome.NEEDS_INPUT, counted=False, reason=reason, result=result
    )
    updated = task.model_copy(update={"attempts": attempts, "updated_at": now})
    if task.is_terminal or superseded(task, number) or task.status != TaskStatus.RUNNING:
        draft.put(updated)
        draft.lines.append(f"record late question of {task_id} attempt {number} by {runner}")
        return draft.change(task=updated)
    asked = Question(text=question_text(question), asked_at=now, attempt=number, round=task.round)
    updated = updated.model_copy(
        update={
            "status": TaskStatus.NEEDS_INPUT,
            "status_reason": f"attempt {number} asked a question; an answer resumes it",
            "lease": None,
            "question": asked,
            "resume": None,
            "mode": task.next_mode or task.mode,
            "next_mode": None,
        }
    )
    draft.put(updated)
    draft.lines.append(f"question from {task_id} attempt {number} by {runner}: {short(question)}")
    return draft.change(task=updated)


def answer(state: State, *, task_id: str, feedback: Feedback, now: datetime) -> Change:
    """A person's answer to the question of a waiting task: it queues again, the answer in its next prompt, and
    kept for the runner that can resume the asking attempt's session for :data:`RESUME_WINDOW`."""
    draft = Draft(state)
    task = draft.get(task_id)
    if task.status != TaskStatus.NEEDS_INPUT or task.question is None:
        raise InvalidTransition(task_id, f"is {task.status.value}; only a task that asked a question takes an answer")
    given = feedback.model_copy(update={"kind": "answer", "round": task.round})
    question = task.question.model_copy(update={"answered_by": feedback.author, "answered_at": now})
    updated = task.model_copy(
        update={
            "status": TaskStatus.QUEUED,
            "status_reason": f"answered by {feedback.author}",
            "question": question,
            "feedback": with_feedback(task, given),
            "resume": resumable(task, task.question.attempt, now),
            "updated_at": now,
        }
    )
    draft.put(updated)
    draft.lines.append(f"answer for {task_id} by {feedback.author}")
    return draft.change(task=updated)


def resumable(task: Task, number: int, now: datetime) -> Resume | None:
    """The session of attempt ``number`` of ``task`` to resume, kept for its runner for a while; None when that
    attempt reported no session."""
    asked: Attempt | None = next((a for a in task.attempts if a.number == number), None)
    if asked is None or not asked.session_id or not SESSION_ID.match(asked.session_id):
        return None  # an id that is not one (a command agent may report anything) is never passed to --resume
    return Resume(session_id=asked.session_id, runner=asked.runner, attempt=number, until=now + RESUME_WINDOW)


def last_session(task: Task, now: datetime) -> Resume | None:
    """The session of the task's latest attempt that reported one (for ``/retry``), kept for its runner."""
    for attempt in reversed(task.attempts):
        if attempt.session_id and attempt.outcome != AttemptOutcome.RUNNING:
            return resumable(task, attempt.number, now)
    return None
