"""Leases through the command line, as a script acting as runners would use them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import make_bare_remote
from tests.user_machine import run, user_env

pytestmark = pytest.mark.slow


def test_a_late_success_completes_the_task_its_own_expiry_failed(tmp_path: Path) -> None:
    # issue 7: submit --max-attempts 1; claim --runner a --lease-ttl 5; 6 s later claim --runner b fails the task
    # (budget spent); then `complete task-1 --runner a` must complete it and unblock its dependents.
    remote = make_bare_remote(tmp_path / "state.git")
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(remote)})
    assert run(["init"], env).returncode == 0
    assert run(["submit", "only one try", "--max-attempts", "1"], env).stdout == "task-1\n"
    assert run(["submit", "after it", "--depends-on", "task-1"], env).stdout == "task-2\n"
    assert run(["claim", "--runner", "a", "--lease-ttl", "5"], env).returncode == 0
    time.sleep(6)
    nothing = run(["claim", "--runner", "b", "--json"], env)
    assert nothing.returncode == 3 and nothing.stdout.strip() == "null"
    assert json.loads(run(["show", "task-1", "--json"], env).stdout)["status"] == "failed"
    done = run(["complete", "task-1", "--runner", "a"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "task-1 succeeded\n"
    assert json.loads(run(["show", "task-2", "--json"], env).stdout)["status"] == "queued"


def test_modes_set_with_unchanged_content_commits_nothing(tmp_path: Path) -> None:
    remote = make_bare_remote(tmp_path / "state.git")
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(remote), "COORDINATOR_ACTOR": "alice"})
    run(["init"], env)
    current = tmp_path / "modes.json"
    current.write_text(run(["modes", "--json"], env).stdout)
    unchanged = run(["modes", "--set", str(current)], env)
    assert unchanged.returncode == 0 and "the modes are unchanged: nothing to commit" in unchanged.stdout
    changed = json.loads(current.read_text())
    changed["modes"]["simple"]["max_turns"] = 7
    current.write_text(json.dumps(changed))
    shown = run(["modes", "--set", str(current)], env)
    assert shown.returncode == 0, shown.stderr
    assert "by alice" in shown.stdout and "set modes by alice: simple.max_turns 20 -> 7" in shown.stdout
