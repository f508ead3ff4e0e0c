"""The reported symptom end to end: a state branch with a root gitlink and a zero-padded ``tasks`` entry.

A ``coordinator runner --once`` (a real process, the scripted agent, a clone whose origin holds the state
branch) once looped on it twice a second for minutes (``fatal: unable to read …``); now it runs every task and
exits, and ``coordinator status`` lists the odd entries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from coordinator.models import TaskStatus
from tests.gitutil import RawEntry, commit_onto, git, ls_tree, read_raw_tree, write_blob, write_raw_tree
from tests.runner_helpers import Project

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
MISSING_COMMIT = "5" * 40
BRANCH = "coordinator/state"


def make_hostile(origin: Path) -> None:
    """Rewrite the tip's root by hand: ``tasks`` with the mode ``040000``, a gitlink to a commit that does not
    exist, and a symbolic link whose name is not UTF-8."""
    tip = git("rev-parse", BRANCH, cwd=origin).strip()
    entries = [
        RawEntry(b"040000", e.name, e.sha) if e.name == b"tasks" else e
        for e in read_raw_tree(origin, f"{tip}^{{tree}}")
    ]
    entries.append(RawEntry(b"160000", b"vendored", MISSING_COMMIT))
    entries.append(RawEntry(b"120000", b"\xff-link", write_blob(origin, b"meta.json")))
    commit_onto(origin, write_raw_tree(origin, entries), tip)


def coordinator(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coordinator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        timeout=timeout,  # a bound, not a measurement: the runner used to loop for minutes
        check=False,
    )


def test_a_runner_once_runs_every_task_on_a_hostile_branch_and_exits(project: Project, tmp_path: Path) -> None:
    ids = [project.submit(f"task {i}", body="[demo: seconds 0.05]") for i in range(3)]
    make_hostile(project.origin)
    env = {"COORDINATOR_DATA_DIR": str(tmp_path / "data"), "COORDINATOR_CACHE_DIR": str(tmp_path / "cache")}
    clone = project.clone("box")

    done = coordinator(
        "runner", "--name", "box", "--repo", str(clone), "--agent", "scripted", "--once", "--poll", "0.1", env=env
    )

    assert done.returncode == 0, done.stdout + done.stderr
    state = project.state()
    assert {task_id: state.tasks[task_id].status for task_id in ids} == dict.fromkeys(ids, TaskStatus.SUCCEEDED)
    assert ls_tree(project.origin, BRANCH)[b"vendored"] == ("160000", "commit", MISSING_COMMIT)
    status = coordinator("--remote", str(project.origin), "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    problems = {p["path"]: p["reason"] for p in json.loads(status.stdout)["problems"]}
    assert problems == {
        "vendored": "is a submodule (gitlink); coordinator ignores it",
        # JSON is exact: a byte that is not UTF-8 travels as its surrogateescape code point (text output: \xff).
        "\udcff-link": "is a symbolic link; coordinator ignores it",
    }
    text = coordinator("--remote", str(project.origin), "status", env=env)
    assert text.returncode == 0, text.stderr
    assert "vendored: is a submodule (gitlink)" in text.stdout
    assert "\\xff-link: is a symbolic link" in text.stdout


def test_a_runner_pointed_at_a_code_branch_stops_with_one_line(project: Project, tmp_path: Path) -> None:
    env = {"COORDINATOR_DATA_DIR": str(tmp_path / "data"), "COORDINATOR_CACHE_DIR": str(tmp_path / "cache")}
    before = git("rev-parse", "main", cwd=project.origin)
    clone = project.clone("box")
    done = coordinator(
        "--branch", "main", "runner", "--name", "box", "--repo", str(clone), "--agent", "scripted", "--once", env=env
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is not a state branch" in done.stderr and "Traceback" not in done.stderr
    assert git("rev-parse", "main", cwd=project.origin) == before
