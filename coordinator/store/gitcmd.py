"""Running git: argv lists only, a fixed locale so messages can be parsed, and credentials redacted."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coordinator.errors import ConfigError


@dataclass(frozen=True)
class GitOutput:
    """What a git command printed, decoded."""

    returncode: int
    stdout: str
    stderr: str


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for git: English messages (we parse them) and never a credential prompt."""
    env = dict(os.environ)
    env.update({"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0"})
    # A prompt for an ssh passphrase would hang a daemon; fail instead.
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    if extra:
        env.update(extra)
    return env


def run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
    timeout: float = 300,
) -> GitOutput:
    """Run ``git ARGS`` in ``cwd`` and return its output (never raises on a non-zero exit)."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=git_env(env),
            input=input_bytes,
            stdin=None if input_bytes is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError("git is not installed or not on PATH: install git 2.29 or newer") from None
    except subprocess.TimeoutExpired:
        return GitOutput(returncode=124, stdout="", stderr=f"git {args[0]} timed out after {timeout:.0f} s")
    return GitOutput(
        returncode=proc.returncode,
        stdout=proc.stdout.decode("utf-8", "replace"),
        stderr=proc.stderr.decode("utf-8", "replace"),
    )


def last_lines(text: str, count: int = 3) -> str:
    """The last non-empty lines of git's output, joined for a one-line error message."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-count:])
