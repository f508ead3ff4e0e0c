"""A stand-in runner for the containment tests: one Containment, one agent run in a slot thread, then it waits to
be killed.

usage: python -m tests.containment_runner STATE_DIR WORK_DIR

Prints ``WATCHDOG <pid>`` once the watchdog runs; the agent (tests/containment_agent.py, with a sleeping child
and a setsid'd grandchild) writes its pids to ``WORK_DIR/pids.txt``.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from coordinator.agents.containment import Containment
from coordinator.agents.process import run_process

AGENT = Path(__file__).resolve().parent / "containment_agent.py"


def main() -> None:
    state_dir, work_dir = Path(sys.argv[1]), Path(sys.argv[2])
    containment = Containment(state_dir, kill_grace_seconds=2)
    for line in containment.stop_leftovers():
        print(f"LEFTOVER {line}", flush=True)
    containment.start()
    print(f"WATCHDOG {containment.watchdog_pid}", flush=True)
    argv = [sys.executable, str(AGENT), str(work_dir / "pids.txt"), "--child-sleeps"]
    slot = threading.Thread(
        target=run_process,
        args=(argv,),
        kwargs={
            "cwd": work_dir,
            "log_path": work_dir / "agent.log",
            "timeout_seconds": 120,
            "containment": containment,
        },
        name="slot-1",
        daemon=True,
    )
    slot.start()
    time.sleep(120)  # the test kills us long before


if __name__ == "__main__":
    main()
