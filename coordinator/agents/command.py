"""Any executable as an agent: it runs in the work tree, gets the prompt on stdin and the task in env vars.

Environment given to the command (on top of the runner's own and the request's ``env``):

- ``COORDINATOR_TASK_ID``, ``COORDINATOR_TASK_TITLE``, ``COORDINATOR_ATTEMPT``
- ``COORDINATOR_MODE`` (mode name), ``COORDINATOR_MODEL``, ``COORDINATOR_MAX_TURNS``
- ``COORDINATOR_WORKDIR`` (also the working directory), ``COORDINATOR_LOG`` (where its output is logged)
- ``COORDINATOR_RESUME_SESSION``: set when the attempt continues a session the command reported earlier (its
  ``session_id``); the prompt then holds only what is new. A command that cannot resume it should print a result
  line with ``"error": "No conversation found with session ID: …"`` and exit non-zero: the runner starts fresh.

Outcome: exit code 0 is ``succeeded``, anything else ``execution_error``; running past the mode's
``timeout_seconds`` is ``timeout`` and being stopped is ``stopped`` (the whole process tree is ended either way).
The summary is the last ~4000 characters of stdout.

Optional result line: if the last non-empty line of stdout is a JSON object, these keys are used when present:
``summary`` (str), ``error`` (str), ``outcome`` (an ``AgentOutcome`` value such as ``"max_turns"`` or
``"usage_limit"``), ``model`` (str), ``cost_usd`` (number), ``turns`` (int), ``session_id`` (str),
``tokens`` (``{"input", "output", "cache_read", "cache_creation"}``) and ``resets_at`` (ISO 8601 or epoch
seconds, for ``usage_limit``; one hour from now when missing). That line is then left out of the default summary.
Limits on the command's word: a non-zero exit is never reported as ``succeeded``, and timeout/stop always win.
Unknown keys and invalid values are ignored.

A command that cannot be started at all (not installed, not executable) is reported as ``auth_error``: like a
missing login, it means this runner is misconfigured and no task will succeed on it as it is.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.containment import Containment
from coordinator.agents.launch import DEFAULT_COOLDOWN, ERROR_LIMIT, SUMMARY_LIMIT, launch, number, tail, whole
from coordinator.models import Tokens
from coordinator.redaction import Redactor
from coordinator.timeutil import utcnow


def split_command(command: str | Sequence[str]) -> list[str]:
    """A command string split like a shell would (POSIX rules, or Windows rules on Windows), or a copy of a list."""
    if not isinstance(command, str):
        return [str(part) for part in command]
    if os.name != "nt":
        return shlex.split(command, posix=True)
    # Non-POSIX shlex keeps the quotes around a quoted token ("C:\Program Files\x.exe"); drop them.
    parts = shlex.split(command, posix=False)
    return [p[1:-1] if len(p) >= 2 and p[0] == p[-1] and p[0] in "\"'" else p for p in parts]


def _result_line(stdout: str) -> tuple[dict[str, Any] | None, str]:
    """The trailing JSON-object line (if any) and stdout without it."""
    lines = stdout.rstrip().splitlines()
    if not lines:
        return None, stdout
    last = lines[-1].strip()
    if not (last.startswith("{") and last.endswith("}")):
        return None, stdout
    try:
        parsed = json.loads(last)
    except ValueError:
        return None, stdout
    if not isinstance(parsed, dict):
        return None, stdout
    return parsed, "\n".join(lines[:-1])


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _reset_time(value: object) -> datetime | None:
    seconds = number(value)
    if seconds is not None and seconds > 0:
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    return None


def _tokens(value: object) -> Tokens | None:
    if not isinstance(value, Mapping):
        return None
    counts = {k: whole(value.get(k)) or 0 for k in ("input", "output", "cache_read", "cache_creation")}
    return Tokens(**counts)


def interpret(
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
    """Turn a command's exit code and output into an :class:`AgentResult` (see the module docstring)."""
    reported, rest = _result_line(stdout)
    info = reported or {}
    summary = _text(info.get("summary"))
    result = AgentResult(
        outcome=AgentOutcome.SUCCEEDED if rc == 0 else AgentOutcome.EXECUTION_ERROR,
        duration_seconds=duration_seconds,
        exit_code=rc,
        model=_text(info.get("model")) or default_model,
        cost_usd=number(info.get("cost_usd")),
        tokens=_tokens(info.get("tokens")) or Tokens(),
        turns=whole(info.get("turns")),
        session_id=_text(info.get("session_id")),
        summary=tail(summary if summary is not None else rest, SUMMARY_LIMIT),
    )
    if stopped:
        return replace(result, outcome=AgentOutcome.STOPPED, error="stopped before it finished")
    if timed_out:
        return replace(result, outcome=AgentOutcome.TIMEOUT, error=f"timed out after {duration_seconds:.0f}s")

    try:
        claimed = AgentOutcome(info["outcome"]) if "outcome" in info else None
    except ValueError:
        claimed = None  # not one of ours: fall back to the exit code
    if claimed is not None and not (claimed is AgentOutcome.SUCCEEDED and rc != 0):
        result = replace(result, outcome=claimed)
    if result.outcome is AgentOutcome.USAGE_LIMIT:
        resets_at = _reset_time(info.get("resets_at")) or now.astimezone(UTC) + DEFAULT_COOLDOWN
        result = replace(result, resets_at=resets_at)
    if result.outcome is not AgentOutcome.SUCCEEDED:
        error = (
            _text(info.get("error"))
            or tail(stderr, ERROR_LIMIT)
            or tail(rest, ERROR_LIMIT)
            or f"command exited with code {rc}"
        )
        result = replace(result, error=error[:ERROR_LIMIT])
    return result


class CommandAgent:
    """Runs a configured command as the agent (see the module docstring for its contract)."""

    def __init__(
        self,
        command: str | Sequence[str],
        kill_grace_seconds: float = 10,
        *,
        clock: Callable[[], datetime] = utcnow,
        containment: Containment | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        """``command``: a command line (split with shell-like rules) or an argv list; ``containment`` (the
        runner's) makes every run die with the runner."""
        self.containment = containment
        self.redactor = redactor
        self.argv = split_command(command)
        if not self.argv:
            raise ValueError("the agent command is empty")
        self.kill_grace_seconds = kill_grace_seconds
        self._clock = clock

    def command_line(self, request: AgentRequest) -> list[str]:
        """The command as executed; a relative path with a folder in it is taken relative to the work tree."""
        exe = self.argv[0]
        # POSIX resolves a relative program against the child's cwd, Windows against ours: make both the tree.
        if not os.path.isabs(exe) and ("/" in exe or os.sep in exe):
            exe = str(Path(request.workdir) / exe)
        elif sys.platform == "win32":
            exe = shutil.which(exe) or exe  # CreateProcess finds only .exe files; PATHEXT finds .cmd/.bat too
        return [exe, *self.argv[1:]]

    def environment(self, request: AgentRequest) -> dict[str, str]:
        """The variables the command gets on top of the runner's environment."""
        return {
            **request.env,
            "COORDINATOR_TASK_ID": request.task_id,
            "COORDINATOR_TASK_TITLE": request.title,
            "COORDINATOR_ATTEMPT": str(request.attempt),
            "COORDINATOR_MODE": request.mode_name,
            "COORDINATOR_MODEL": request.mode.model,
            "COORDINATOR_WORKDIR": str(request.workdir),
            "COORDINATOR_MAX_TURNS": str(request.mode.max_turns),
            "COORDINATOR_LOG": str(request.log_path),
            # The session to continue (the command's own notion of one: the session_id it reported earlier).
            **({"COORDINATOR_RESUME_SESSION": request.resume_session} if request.resume_session else {}),
        }

    def run(self, request: AgentRequest, stop: threading.Event) -> AgentResult:
        """Run the command with the prompt on stdin until it exits, times out or is stopped."""
        return launch(
            self.command_line(request),
            request,
            stop,
            env=self.environment(request),
            stdin_text=request.prompt,
            kill_grace_seconds=self.kill_grace_seconds,
            what="the agent command",
            read=interpret,
            clock=self._clock,
            containment=self.containment,
            redactor=self.redactor,
        )
