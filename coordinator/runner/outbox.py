"""Results waiting to be recorded on the state branch, kept on disk until they are.

An attempt's result is written here *before* the runner tries to commit it, and removed only once the commit
landed (or the branch said it can never apply). A runner that loses its network, or is killed between the end
of an agent run and the commit, delivers what is here when it next starts: a result is never lost.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from coordinator.models import AttemptResult, PlanFile


class Report(BaseModel):
    """One result to record: ``complete`` or ``fail`` (``counted=False`` = handed back without using a try)."""

    kind: Literal["complete", "fail", "ask"]
    task_id: str
    attempt: int
    runner: str
    result: AttemptResult
    reason: str = ""
    retryable: bool = True
    counted: bool = True
    next_mode: str | None = None
    #: The task's GitHub trigger could not be verified: fail it and deliver nothing for it.
    refuse: bool = False
    #: ``ask``: the agent's question (the task waits for an answer).
    question: str | None = None
    #: ``complete`` of a plan task: the subtasks its planning attempt wrote (enqueued with the result).
    plan: PlanFile | None = None

    @property
    def key(self) -> str:
        """File name of this report."""
        return f"{self.task_id}.attempt-{self.attempt}.json"


class Outbox:
    """A folder of pending reports, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def put(self, report: Report) -> Path:
        """Persist a report (replacing an older one for the same attempt)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / report.key
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(report.model_dump_json(indent=2))
        os.replace(tmp, target)
        return target

    def remove(self, report: Report) -> None:
        """Forget a delivered report."""
        (self.folder / report.key).unlink(missing_ok=True)

    def pending(self) -> Iterator[tuple[Path, Report | None]]:
        """Every stored report (None for a file that no longer parses, so the caller can set it aside)."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.json")):
            try:
                yield path, Report.model_validate_json(path.read_text(encoding="utf-8"))
            except (ValidationError, OSError, UnicodeDecodeError):
                yield path, None
