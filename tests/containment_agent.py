"""An agent for the containment tests: it starts processes that try to outlive it and writes their pids to a file.

usage: python tests/containment_agent.py PIDS_FILE [--agent-exits] [--child-sleeps]

The agent starts a child; the child starts a grandchild in a session of its own (``os.setsid``, as a detached
server would), writes both pids and exits at once, so the grandchild is orphaned and outside the agent's process
group (with ``--child-sleeps`` the child sleeps instead). The agent then writes its own pid and ``ready``, and
sleeps, or exits with 0 (``--agent-exits``). Every process keeps the inherited stdout (a detached process usually
does), so a leftover also holds the output pipe. Stdlib only: it runs by path, from any working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SLEEP = "import time; time.sleep(120)"


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def _wait_for(path: Path, word: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and any(line.startswith(word) for line in path.read_text(encoding="utf-8").splitlines()):
            return
        time.sleep(0.02)
    raise SystemExit(f"no {word!r} line in {path}")


def child(pids_file: Path, *, sleeps: bool) -> None:
    """Start the setsid'd grandchild, record both, then exit (leaving it orphaned) or sleep."""
    grandchild = subprocess.Popen([sys.executable, "-c", SLEEP], start_new_session=True)
    _append(pids_file, f"child {os.getpid()}")
    _append(pids_file, f"grandchild {grandchild.pid}")
    if sleeps:
        time.sleep(120)


def agent(pids_file: Path, *, exits: bool, child_sleeps: bool) -> None:
    """Start the child, wait until it recorded the grandchild, record itself, then sleep or exit."""
    subprocess.Popen([sys.executable, __file__, str(pids_file), "--child", *(["--child-sleeps"] * child_sleeps)])
    _wait_for(pids_file, "grandchild")
    _append(pids_file, f"agent {os.getpid()}")
    _append(pids_file, "ready")
    print("agent ready", flush=True)
    if not exits:
        time.sleep(120)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    if "--child" in sys.argv:
        child(target, sleeps="--child-sleeps" in sys.argv)
    else:
        agent(target, exits="--agent-exits" in sys.argv, child_sleeps="--child-sleeps" in sys.argv)
