"""A command agent for the steering end-to-end tests (``--agent-command "python steer_agent.py OUT"``).

It keeps what it was given in OUT: the prompt (stdin) in ``prompt-<attempt>.txt``, the mode in
``mode-<attempt>.txt``. What it does is read from ``OUT/plan``, one step per line, one line per run:

- ``succeed``: write notes.md in the work tree and exit 0;
- ``fail``: exit 1 (an execution error: counted, and the next attempt escalates);
- ``wait``: write ``waiting-<attempt>`` (holding its pid), wait until ``OUT/go`` exists, then fail;
- ``hang``: write ``waiting-<attempt>`` and sleep until it is stopped.

Only the standard library, so any Python runs it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

#: How long a step waits at most (a test that forgets to let it go still ends).
_LONGEST_WAIT_SECONDS = 120


def main() -> int:
    """Record the prompt and mode, then do the next step of the plan."""
    out = Path(sys.argv[1])
    attempt = os.environ["COORDINATOR_ATTEMPT"]
    (out / f"prompt-{attempt}.txt").write_text(sys.stdin.read(), encoding="utf-8")
    (out / f"mode-{attempt}.txt").write_text(os.environ["COORDINATOR_MODE"], encoding="utf-8")
    runs = len(list(out.glob("prompt-*.txt")))
    plan = (out / "plan").read_text(encoding="utf-8").split()
    step = plan[runs - 1] if runs <= len(plan) else plan[-1]
    if step == "succeed":
        Path("notes.md").write_text(f"# Notes\n\nwritten by attempt {attempt}\n", encoding="utf-8")
        print(f"Added notes.md (attempt {attempt}).")
        return 0
    if step in ("wait", "hang"):
        (out / f"waiting-{attempt}").write_text(str(os.getpid()), encoding="utf-8")
        deadline = time.monotonic() + _LONGEST_WAIT_SECONDS
        while time.monotonic() < deadline and not (step == "wait" and (out / "go").exists()):
            time.sleep(0.1)
    print(f"attempt {attempt}: the tests fail")
    return 1


if __name__ == "__main__":
    sys.exit(main())
