"""What the subprocess agents (``claude`` and ``command``) share: starting the executable in the work tree, and
the limits and helpers for reading what it reported."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.containment import Containment
from coordinator.agents.process import run_process
from coordinator.redaction import Redactor

#: How much of the agent's final text is kept as the attempt's summary, and of an error message.
SUMMARY_LIMIT = 4000
ERROR_LIMIT = 2000
#: When a usage limit gives no usable reset time, cool down this long.
DEFAULT_COOLDOWN = timedelta(hours=1)


def tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text`` (stripped), marked when cut."""
    text = text.strip()
    return text if len(text) <= limit else "[…] " + text[-(limit - 4) :]


def number(value: object) -> float | None:
    """A JSON number as a float (booleans are not numbers here)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def whole(value: object) -> int | None:
    """A non-negative JSON integer, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def resolve_executable(executable: str) -> str:
    """The program to start: on Windows, ``CreateProcess`` finds only ``.exe`` files, while npm installs
    ``claude.cmd``; ``shutil.which`` finds those through ``PATHEXT``."""
    if sys.platform == "win32":
        return shutil.which(executable) or executable
    return executable


class OutputReader(Protocol):
    """Turns what an agent process did into an ``AgentResult`` (pure: tested against captured outputs)."""

    def __call__(
        self,
        rc: int | None,
        stdout: str,
        stderr: str,
        *,
        timed_out: bool,
        stopped: bool,
        duration_seconds: float,
        now: datetime,
        default_model: str | None = None,
    ) -> AgentResult:
        """The result of one run."""
        ...


def launch(
    argv: Sequence[str],
    request: AgentRequest,
    stop: threading.Event,
    *,
    env: Mapping[str, str],
    stdin_text: str | None,
    kill_grace_seconds: float,
    what: str,
    read: OutputReader,
    clock: Callable[[], datetime],
    containment: Containment | None = None,
    redactor: Redactor | None = None,
) -> AgentResult:
    """Run ``argv`` in the request's work tree until it exits, times out (the mode's timeout) or is stopped,
    then ``read`` what it did. A program that cannot be started at all means this runner is misconfigured
    (``what`` names it in the error): no task can succeed on it as it is. ``containment`` (the runner's) makes
    the agent die with the runner too."""
    model = request.mode.model
    if not request.workdir.is_dir():
        return AgentResult(
            AgentOutcome.EXECUTION_ERROR, 0.0, model=model, error=f"work tree missing: {request.workdir}"
        )
    done = run_process(
        argv,
        cwd=request.workdir,
        log_path=request.log_path,
        env=env,
        stdin_text=stdin_text,
        timeout_seconds=request.mode.timeout_seconds,
        stop=stop,
        kill_grace_seconds=kill_grace_seconds,
        containment=containment,
        redactor=redactor,
    )
    if done.start_error is not None:
        return AgentResult(
            AgentOutcome.AUTH_ERROR, done.duration_seconds, model=model, error=f"cannot run {what}: {done.start_error}"
        )
    result = read(
        done.rc,
        done.stdout,
        done.stderr,
        timed_out=done.timed_out,
        stopped=done.stopped,
        duration_seconds=done.duration_seconds,
        now=clock(),
        default_model=model,
    )
    # Redacted again after parsing, field by field: a secret the agent printed inside JSON (escaped) is a
    # plain string now, and must not reach the branch or a commit message.
    return redactor.redact_deep(result) if redactor is not None else result
