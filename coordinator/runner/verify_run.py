"""Running a plan's verify command on its integrated branch: like an agent (its own process tree, the agent's
environment without the runner's credentials, the attempt's log, the mode's timeout, stopped with the task),
but judged by its exit code alone. It runs code the subtasks wrote, so it is as untrusted as an agent."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from coordinator.agents.base import AgentOutcome, AgentRequest, AgentResult
from coordinator.agents.command import split_command
from coordinator.agents.containment import Containment
from coordinator.agents.launch import resolve_executable, tail
from coordinator.agents.process import run_process
from coordinator.models import Verification
from coordinator.models.plan_state import MAX_VERIFY_OUTPUT
from coordinator.redaction import Redactor


def run_verify(
    command: str,
    request: AgentRequest,
    stop: threading.Event,
    *,
    head: str,
    merged: list[str],
    containment: Containment | None = None,
    redactor: Redactor | None = None,
) -> tuple[AgentResult, Verification | None]:
    """Run ``command`` (split like a shell would, but run without one) in the request's work tree: (what it
    means for the attempt, what it found — None when it did not run to an end: stopped, or it cannot start)."""
    argv = split_command(command)
    if not argv:
        return AgentResult(AgentOutcome.EXECUTION_ERROR, 0.0, error="the verify command is empty"), None
    exe = argv[0]
    if not os.path.isabs(exe) and ("/" in exe or os.sep in exe):
        exe = str(Path(request.workdir) / exe)  # a script of the project, wherever the runner started
    done = run_process(
        [resolve_executable(exe), *argv[1:]],
        cwd=request.workdir,
        log_path=request.log_path,
        env=request.env,
        timeout_seconds=request.mode.timeout_seconds,
        stop=stop,
        containment=containment,
        redactor=redactor,
    )
    if done.start_error is not None:
        why = (
            f"the verify command cannot start: {done.start_error}; set it with coordinator plans --set verify_command=…"
        )
        return AgentResult(AgentOutcome.EXECUTION_ERROR, done.duration_seconds, error=why), None
    if done.stopped:
        return AgentResult(AgentOutcome.STOPPED, done.duration_seconds, error="the verify command was stopped"), None
    output = tail(f"{done.stdout}\n{done.stderr}", MAX_VERIFY_OUTPUT - 8)
    passed = done.rc == 0 and not done.timed_out
    said = f"timed out after {request.mode.timeout_seconds} s" if done.timed_out else f"exited {done.rc}"
    found = Verification(passed=passed, command=command, exit_code=done.rc, output=output, merged=merged, head=head)
    if passed:
        summary = f"verified: `{command}` passed on {head[:12]}"
        return AgentResult(AgentOutcome.SUCCEEDED, done.duration_seconds, exit_code=0, summary=summary), found
    error = f"verification failed: `{command}` {said}"
    return AgentResult(AgentOutcome.EXECUTION_ERROR, done.duration_seconds, exit_code=done.rc, error=error), found
