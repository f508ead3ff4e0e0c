"""The agent watchdog: a tiny process per runner (POSIX) that ends the runner's agents when the runner dies.

The runner starts it once (:class:`coordinator.agents.containment.Containment`), in a session of its own so that
a Ctrl-C or a hangup meant for the runner does not reach it, and keeps the write end of a pipe to its stdin. The
watchdog reads lines from it:

- ``watch <marker>``: an attempt with this marker is starting (sent before the agent is started);
- ``unwatch <marker>``: that attempt's processes are all gone.

When the pipe reaches end of file the runner closed it or died, however it died (even SIGKILL: the kernel closes
a dead process's files). The watchdog then ends every process that carries a watched marker (SIGTERM, ``--grace``
seconds, SIGKILL), removes the pid files of the attempts it ended (``--records``), and exits. It ignores SIGINT,
SIGTERM and SIGHUP; only SIGKILL stops it early (the runner's next start then stops the leftovers from the pid
files). What it did goes to its stderr, which the runner points at ``watchdog.log`` in its state folder.

Deliberately light: stdlib and the marker helpers only, so it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from coordinator.agents.markers import end_carriers, find_carriers, is_marker
from coordinator.agents.pidfiles import remove_record

#: The line the watchdog prints once it ignores the signals above and reads its pipe.
READY = "ready"


def _log(message: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    sys.stderr.write(f"{stamp} watchdog {os.getpid()}: {message}\n")
    sys.stderr.flush()


def apply(line: str, watched: set[str]) -> None:
    """Apply one protocol line to the set of watched markers (anything malformed is logged and ignored)."""
    words = line.split()
    if len(words) == 2 and words[0] in {"watch", "unwatch"} and is_marker(words[1]):
        if words[0] == "watch":
            watched.add(words[1])
        else:
            watched.discard(words[1])
    elif words:
        _log(f"ignored a malformed line: {line.strip()[:100]!r}")


def end_watched(watched: set[str], *, grace_seconds: float, records: Path | None) -> None:
    """End every process of the watched attempts and remove their pid files (those that are fully gone)."""
    found = end_carriers(watched, grace_seconds=grace_seconds)
    left = find_carriers(watched)
    for marker in sorted(watched):
        if left[marker]:
            _log(f"attempt {marker}: could not end pids {sorted(left[marker])}; the runner's next start retries")
            continue
        if records is not None:
            remove_record(records, marker)
        if found[marker]:
            _log(f"attempt {marker}: ended pids {sorted(found[marker])}")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m coordinator.agents.watchdog",
        description="End a runner's agents when the runner dies (started by the runner itself; see the module).",
    )
    parser.add_argument("--grace", type=float, default=5.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--records", type=Path, default=None, help="the runner's folder of agent pid files")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the watchdog until its stdin ends; see the module docstring."""
    arguments = _arguments(argv)
    if sys.platform != "win32":
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    try:
        print(READY, flush=True)
        sys.stdout.close()  # nothing else is said there; the runner stops reading
    except OSError:
        return 0  # the runner is gone already, before it could watch anything
    runner = os.getppid()
    watched: set[str] = set()
    for raw in sys.stdin.buffer:
        apply(raw.decode("ascii", errors="replace"), watched)
    if watched:
        _log(f"runner {runner} gone with {len(watched)} attempt(s) running: ending their processes")
        end_watched(watched, grace_seconds=arguments.grace, records=arguments.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
