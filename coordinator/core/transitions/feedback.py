"""What a task keeps of what people said to it after it was made (``/retry`` hints, comments, answers): bounded,
because the task's file is rewritten at every lease renewal."""

from __future__ import annotations

from coordinator.models import Feedback, Task

#: What a task keeps of what people said: the latest ones.
MAX_FEEDBACK = 30
#: The longest single piece of feedback kept (the rest is cut, saying so).
MAX_FEEDBACK_CHARS = 4_000


def feedback_text(text: str) -> str:
    """``text`` as feedback keeps it: stripped and cut to :data:`MAX_FEEDBACK_CHARS`."""
    text = text.strip()
    if len(text) <= MAX_FEEDBACK_CHARS:
        return text
    note = f"\n[... {len(text) - MAX_FEEDBACK_CHARS} more characters not kept]"
    return text[: MAX_FEEDBACK_CHARS - len(note)] + note


def with_feedback(task: Task, feedback: Feedback | None) -> list[Feedback]:
    """``task``'s feedback with ``feedback`` added (cut to size), keeping the latest :data:`MAX_FEEDBACK`."""
    text = feedback_text(feedback.text) if feedback is not None else ""
    if feedback is None or not text:  # nothing visible to say (blank lines): an empty quote helps no one
        return list(task.feedback)
    added = feedback.model_copy(update={"text": text, "seq": last_seq(task) + 1})
    return [*task.feedback, added][-MAX_FEEDBACK:]


def last_seq(task: Task) -> int:
    """The number of the latest feedback ``task`` was given (0: none). Numbers are never reused, so an attempt
    that noted it at its start tells what was said after (clocks of different machines cannot)."""
    return max((f.seq for f in task.feedback), default=0)
