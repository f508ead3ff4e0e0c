"""Running git: one way, one environment policy.

Every git process the coordinator starts goes through :func:`run_git`: an argv list (never a shell), a fixed
English locale (messages are parsed), no credential prompt that could hang a daemon, and none of the
``GIT_DIR``-style variables a git hook or parent git process may have set (inherited, they would point our
commands at another repository).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coordinator.errors import ConfigError

#: Set by git hooks or a parent git process; inherited, they would point our git calls at another repository.
REPO_ENV_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)

#: ``-c`` options that keep a command from starting a background gc, which could repack or prune while
#: other threads run git in the same repository (worktrees); the object cache keeps its auto gc.
NO_AUTO_GC = ("-c", "gc.auto=0", "-c", "maintenance.auto=false")

DEFAULT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class GitOutput:
    """What a git command printed, decoded (UTF-8, undecodable bytes replaced)."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """True when git exited 0."""
        return self.returncode == 0


@dataclass(frozen=True)
class GitIdentity:
    """Author and committer of the commits the coordinator makes."""

    name: str = "coordinator"
    email: str = "coordinator@localhost"

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("email", self.email)):
            if not value.strip() or any(c in value for c in "<>\n\r"):
                raise ValueError(f"invalid git identity {label}: {value!r}")

    def env(self) -> dict[str, str]:
        """Environment variables that make git use this identity (also for an agent's own commits)."""
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def config_args(self) -> list[str]:
        """``-c`` options that set this identity for one git command, whatever the git config says."""
        return ["-c", f"user.name={self.name}", "-c", f"user.email={self.email}"]


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of our own git processes: the runner's own (credentials included), English messages,
    no prompts, no inherited repository pointers; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if k not in REPO_ENV_VARS}
    env.update({"LC_ALL": "C", "LANG": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never"})
    # A prompt for an ssh passphrase would hang a daemon; fail instead.
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    if extra:
        env.update(extra)
    return env


#: How an agent's ssh runs: no user config, no agent, no key files, never a prompt (it can't use the runner
#: user's keys unless the owner allows it with ``agent_git_credentials``).
AGENT_SSH_COMMAND = (
    f"ssh -F {os.devnull} -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -o IdentityFile={os.devnull}"
)


def agent_git_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variables that keep an agent's git (and ssh) away from the runner user's credentials: no credential helper,
    no askpass program, no extra HTTP headers, no ssh agent or key, no prompt. Merged on top of the agent's
    environment; ``base`` (default ``os.environ``) tells which ``GIT_CONFIG_*`` entries to keep.

    An agent runs as the same OS user and can still read that user's files: this stops inheritance, not a
    determined agent (see README, Security).
    """
    base = os.environ if base is None else base
    try:
        count = max(0, int(base.get("GIT_CONFIG_COUNT") or 0))
    except ValueError:
        count = 0
    overrides = (
        ("credential.helper", ""),  # an empty value resets the list of helpers, whatever the config files say
        ("core.askPass", ""),
        ("http.extraHeader", ""),  # the same for headers (e.g. an Authorization header set by CI)
        ("core.sshCommand", AGENT_SSH_COMMAND),
    )
    env = {"GIT_CONFIG_COUNT": str(count + len(overrides))}
    for index, (key, value) in enumerate(overrides, start=count):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GCM_INTERACTIVE": "never",
            "GIT_ASKPASS": "",  # set but empty: git then asks no program at all (not even SSH_ASKPASS)
            "SSH_ASKPASS": "",
            "SSH_AUTH_SOCK": "",
            "GIT_SSH": "",
            "GIT_SSH_COMMAND": AGENT_SSH_COMMAND,
        }
    )
    return env


def run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    input_data: bytes | str | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    no_auto_gc: bool = False,
) -> GitOutput:
    """Run ``git ARGS`` in ``cwd`` and return its output; never raises for a non-zero exit or a timeout
    (``timed_out`` is set and ``returncode`` is 124). Raises ``ConfigError`` when git is not installed."""
    argv = ["git", *(NO_AUTO_GC if no_auto_gc else ()), *args]
    data = input_data.encode("utf-8") if isinstance(input_data, str) else input_data
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=git_env(env),
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        if not Path(cwd).is_dir():
            return GitOutput(returncode=128, stdout="", stderr=f"fatal: cannot change to '{cwd}': {exc.strerror}")
        raise ConfigError("git is not installed or not on PATH: install git 2.29 or newer") from None
    except subprocess.TimeoutExpired:
        return GitOutput(
            returncode=124, stdout="", stderr=f"git {args[0]} timed out after {timeout:.0f} s", timed_out=True
        )
    return GitOutput(
        returncode=proc.returncode,
        stdout=proc.stdout.decode("utf-8", "replace"),
        stderr=proc.stderr.decode("utf-8", "replace"),
    )


def git_out(args: Sequence[str], *, cwd: Path) -> str | None:
    """Stripped stdout of a git look-up that may legitimately fail (None then)."""
    done = run_git(args, cwd=cwd)
    return done.stdout.strip() if done.ok else None


def last_lines(text: str, count: int = 3) -> str:
    """The last non-empty lines of git's output, joined for a one-line error message."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " / ".join(lines[-count:])
