"""The Claude Code CLI as an agent: build the headless command line and run it in the work tree.

The command is ``claude -p --output-format stream-json --verbose --include-partial-messages --model M --max-turns N
--permission-mode P [...] -- PROMPT``.
The prompt goes last, after ``--``, because the CLI's option parser would otherwise take a prompt starting with
``-`` for an unknown option (rc=1) and ``--allowedTools``/``--disallowedTools`` take a variable number of values
that would swallow a positional prompt placed after them. A prompt too long for a command line (and, on Windows,
any prompt when ``claude`` is a ``.cmd`` wrapper, whose arguments cmd.exe would interpret) is sent on stdin
instead, which ``claude -p`` reads when no prompt argument is given. How the output is read:
:mod:`coordinator.agents.claude_output`.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from datetime import datetime

from coordinator.agents.base import AgentRequest, AgentResult
from coordinator.agents.claude_output import classify
from coordinator.agents.containment import Containment
from coordinator.agents.launch import launch, resolve_executable
from coordinator.redaction import Redactor
from coordinator.timeutil import utcnow

#: Above this many UTF-8 bytes the prompt goes on stdin: Linux refuses single arguments over 128 KiB.
MAX_PROMPT_ARG_BYTES = 100_000
#: Windows command lines are limited to 32767 characters in total.
MAX_PROMPT_ARG_CHARS_WINDOWS = 24_000


class ClaudeAgent:
    """Runs ``claude -p`` headless in the work tree; see the module docstring for the command line."""

    def __init__(
        self,
        executable: str = "claude",
        extra_env: Mapping[str, str] | None = None,
        kill_grace_seconds: float = 10,
        *,
        clock: Callable[[], datetime] = utcnow,
        containment: Containment | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        """``extra_env`` is added to every run (the request's own ``env`` wins); ``clock`` is for tests;
        ``containment`` (the runner's) makes every run die with the runner."""
        self.executable = executable
        self.containment = containment
        self.redactor = redactor
        self.extra_env: dict[str, str] = dict(extra_env or {})
        self.kill_grace_seconds = kill_grace_seconds
        self._clock = clock

    def prompt_on_stdin(self, request: AgentRequest) -> bool:
        """Whether the prompt is sent on stdin rather than as the last argument (see the module docstring)."""
        if len(request.prompt.encode("utf-8")) > MAX_PROMPT_ARG_BYTES:
            return True
        if sys.platform == "win32":
            exe = resolve_executable(self.executable).lower()
            return exe.endswith((".cmd", ".bat")) or len(request.prompt) > MAX_PROMPT_ARG_CHARS_WINDOWS
        return False

    def command_line(self, request: AgentRequest) -> list[str]:
        """The exact command ``run`` executes (the prompt is missing from it when it goes on stdin)."""
        mode = request.mode
        argv = [
            resolve_executable(self.executable),
            "-p",
            # Events as they happen, so a run cut short still shows what it spent (see claude_output).
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--model",
            mode.model,
            "--max-turns",
            str(mode.max_turns),
            "--permission-mode",
            mode.permission_mode,
        ]
        if request.resume_session:
            argv += ["--resume", request.resume_session]
        if mode.max_budget_usd is not None:
            # Plain decimal: "%g" would print tiny budgets as "1e-05", which is no amount the CLI accepts.
            argv += ["--max-budget-usd", f"{mode.max_budget_usd:.6f}".rstrip("0").rstrip(".")]
        if mode.append_system_prompt:
            argv += ["--append-system-prompt", mode.append_system_prompt]
        # Both flags take a variable number of values (one argument per tool, as in the CLI's help); nothing
        # positional follows them before the "--" below.
        if mode.allowed_tools:
            argv += ["--allowedTools", *mode.allowed_tools]
        if mode.disallowed_tools:
            argv += ["--disallowedTools", *mode.disallowed_tools]
        if not self.prompt_on_stdin(request):
            argv += ["--", request.prompt]
        return argv

    def run(self, request: AgentRequest, stop: threading.Event) -> AgentResult:
        """Run the CLI to completion, timeout or stop and classify the outcome."""
        return launch(
            self.command_line(request),
            request,
            stop,
            env={**self.extra_env, **request.env},
            stdin_text=request.prompt if self.prompt_on_stdin(request) else None,
            kill_grace_seconds=self.kill_grace_seconds,
            what="the claude CLI",
            read=classify,
            clock=self._clock,
            containment=self.containment,
            redactor=self.redactor,
        )
