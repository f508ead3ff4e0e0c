"""Running `coordinator` the way a user does: the installed command, a fresh HOME (so the default data, cache and
config folders of the platform are used), no COORDINATOR_* settings the user did not make, and the real
`claude` CLI on PATH when a test needs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_TEST_ONLY = ("COORDINATOR_DATA_DIR", "COORDINATOR_CACHE_DIR", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")


def coordinator_command() -> list[str]:
    """The installed console script (next to this Python), else ``python -m coordinator``."""
    beside = Path(sys.executable).with_name("coordinator.exe" if os.name == "nt" else "coordinator")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("coordinator")
    return [found] if found else [sys.executable, "-m", "coordinator"]


def user_env(home: Path, extra: Mapping[str, str] | None = None, *, path_first: Sequence[Path] = ()) -> dict[str, str]:
    """A user's environment with ``home`` as HOME: the platform's default folders live under it."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _TEST_ONLY and not k.startswith("COORDINATOR_")}
    env.update({"HOME": str(home), "USERPROFILE": str(home), "LOCALAPPDATA": str(home / "AppData" / "Local")})
    env["PYTHONPATH"] = str(ROOT)  # the code under test, also when the console script is not installed
    if path_first:
        env["PATH"] = os.pathsep.join([*(str(p) for p in path_first), env.get("PATH", "")])
    env.update(extra or {})
    return env


def run(args: Sequence[str], env: Mapping[str, str], *, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``coordinator ARGS`` to completion, output captured."""
    return subprocess.run(
        [*coordinator_command(), *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def start(args: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """``coordinator ARGS`` in the background, stdout and stderr together."""
    return subprocess.Popen(
        [*coordinator_command(), *args], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
