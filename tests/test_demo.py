"""`coordinator demo` (README's first command) works offline and shows what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_every_task_escalates_one_and_reports_cost(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "coordinator", "demo", "--dir", str(tmp_path / "demo")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "runner-a  claimed" in out and "runner-b  claimed" in out  # two runners at once, live progress
    table = [line for line in out.splitlines() if line.startswith("task-")]
    assert len(table) == 6 and all(" succeeded " in line for line in table), out
    assert "escalated task-2: simple (max_turns) -> complex (succeeded)" in out
    assert "total cost: $" in out
    assert "Where to look next" in out
    # The GPU task went to the only runner with that capability.
    show = subprocess.run(
        [
            sys.executable,
            "-m",
            "coordinator",
            "--remote",
            str(tmp_path / "demo" / "origin.git"),
            "show",
            "task-4",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"runner": "runner-b"' in show.stdout
