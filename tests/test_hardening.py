"""The runner process marks itself non-dumpable on Linux, so its agents cannot read its environment."""

from __future__ import annotations

import subprocess
import sys

import pytest

from coordinator.runner.hardening import make_undumpable


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_DUMPABLE) is Linux only")
def test_a_process_that_calls_it_is_no_longer_dumpable() -> None:
    code = (
        "import ctypes, ctypes.util\n"
        "from coordinator.runner.hardening import make_undumpable\n"
        "libc = ctypes.CDLL(ctypes.util.find_library('c'))\n"
        "before = libc.prctl(3, 0, 0, 0, 0)\n"
        "print(before, make_undumpable(), libc.prctl(3, 0, 0, 0, 0))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1", "True", "0"]


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="elsewhere it must do nothing")
def test_elsewhere_it_does_nothing() -> None:
    assert make_undumpable() is False
