"""A fake ``claude`` executable that replays a captured CLI run from ``tests/fixtures/claude-cli``.

Environment:

- ``FAKE_CLAUDE_CASE``: the case to replay (``v330_basic`` → ``v330_basic.stdout``/``.stderr``/``.rc``);
  without it, prints nothing and exits 0.
- ``FAKE_CLAUDE_FIXTURES``: another folder holding the cases.
- ``FAKE_CLAUDE_ARGV_LOG``: append ``{"argv": [...], "cwd": ..., "stdin": ...}`` as one JSON line.
- ``FAKE_CLAUDE_WRITE``: ``path:content``, writes that file (relative to the working directory) first.
- ``FAKE_CLAUDE_SLEEP``: seconds to sleep before replaying (to exercise timeouts and stops).

Exits with the case's ``.rc`` (0 when the case has none). Uses only the standard library, so any Python runs it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

DEFAULT_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "claude-cli"


def _read_stdin() -> str | None:
    # stdin is closed (DEVNULL) in normal runs; a pipe carries the prompt when it is too long for argv.
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return None
        return sys.stdin.read()
    except (OSError, ValueError):
        return None


def _write_file(spec: str) -> None:
    # Split at the first ":" that is not a Windows drive letter ("C:\\x.txt:content").
    start = 2 if re.match(r"^[A-Za-z]:[\\/]", spec) else 0
    cut = spec.find(":", start)
    if cut < 0:
        raise SystemExit(f"FAKE_CLAUDE_WRITE must be path:content, got {spec!r}")
    path = Path(spec[:cut])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec[cut + 1 :], encoding="utf-8")


def main() -> int:
    """Replay the case chosen by the environment; return its exit code."""
    argv_log = os.environ.get("FAKE_CLAUDE_ARGV_LOG")
    if argv_log:
        record = {"argv": sys.argv[1:], "cwd": os.getcwd(), "stdin": _read_stdin()}
        with open(argv_log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    if os.environ.get("FAKE_CLAUDE_WRITE"):
        _write_file(os.environ["FAKE_CLAUDE_WRITE"])
    if os.environ.get("FAKE_CLAUDE_SLEEP"):
        time.sleep(float(os.environ["FAKE_CLAUDE_SLEEP"]))
    case = os.environ.get("FAKE_CLAUDE_CASE")
    if not case:
        return 0
    folder = Path(os.environ.get("FAKE_CLAUDE_FIXTURES") or DEFAULT_FIXTURES)
    stdout = folder / f"{case}.stdout"
    if not stdout.exists():
        print(f"fake claude: no fixture {stdout}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(stdout.read_bytes())
    sys.stdout.flush()
    stderr = folder / f"{case}.stderr"
    if stderr.exists():
        sys.stderr.buffer.write(stderr.read_bytes())
        sys.stderr.flush()
    rc = folder / f"{case}.rc"
    return int(rc.read_text().strip() or 0) if rc.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
