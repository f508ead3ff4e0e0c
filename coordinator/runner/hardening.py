"""Making the runner process harder to read for the agents it starts (they run as the same OS user).

On Linux a process of the same user can read another's environment (``/proc/PID/environ``) and memory, and trace
it, unless that process is marked non-dumpable. The runner holds what its agents must not have (the state
remote's token, GitHub tokens), so it marks itself non-dumpable at start. Agents are unaffected: a new program
is dumpable again. This is hardening, not a boundary: see README, Security.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def make_undumpable() -> bool:
    """Mark this process non-dumpable (Linux); True when it is now. Elsewhere it does nothing and says False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            return False
        return int(libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False
