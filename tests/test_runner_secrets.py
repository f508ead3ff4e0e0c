"""Secrets never leave the machine, end to end: an agent that dumps the runner's environment (through json.dumps,
both ways, and into a file it leaves behind) gets none of it onto the state branch, the task branch or the log."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator.models import TaskStatus
from tests.gitutil import git
from tests.runner_helpers import make_project, run_once

pytestmark = pytest.mark.slow

DUMP_THE_ENVIRONMENT = """
import json, os, pathlib
env = dict(os.environ)
pathlib.Path("debug").mkdir(exist_ok=True)
pathlib.Path("debug/env.json").write_text(json.dumps(env, ensure_ascii=False))
pathlib.Path("debug/env-ascii.json").write_text(json.dumps(env))
print(json.dumps({"summary": "dumped " + json.dumps(env) + " " + json.dumps(env, ensure_ascii=False)}))
"""

SECRETS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from('"\\\\\\n\\t/%@:'),
    min_size=12,
    max_size=40,
).filter(lambda s: s.strip() == s and len(s.strip()) >= 12 and "\\x00" not in s)


def _forms(secret: str) -> list[str]:
    return [secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]]


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=SECRETS)
def test_an_environment_dump_leaves_no_secret_anywhere(secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_API_KEY", secret)  # a secret of the runner's environment the agent inherits
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        monkeypatch.setenv("COORDINATOR_DATA_DIR", str(root / "data"))
        project = make_project(root / "p")
        try:
            task_id = project.submit("debug the service")
            agent = root / "dump.py"
            agent.write_text(DUMP_THE_ENVIRONMENT, encoding="utf-8")
            daemon = project.daemon("r1", agent_command=f"{sys.executable} {agent}")
            run_once(daemon)
            task = project.state().tasks[task_id]
            assert task.status == TaskStatus.FAILED, daemon.lines  # type: ignore[attr-defined]
            assert task.attempts[0].outcome_detail == "secret_in_changes"
            assert "debug/env.json" in (task.attempts[0].reason or "")
            work_clone = next((root / "data" / "wt").glob("*/repo.git"))
            places = {
                "the state branch": git("log", "-p", "--all", cwd=project.origin),
                "the task branch": git("log", "-p", "--all", cwd=work_clone),
                "the clone": git("log", "-p", "--all", cwd=daemon.worktrees.repo),
                "the log": "".join(p.read_text(encoding="utf-8") for p in daemon.log_dir.glob("*.log")),
            }
            for where, text in places.items():
                for form in _forms(secret):
                    assert form not in text, f"the secret reached {where}"
        finally:
            project.store.close()


WRITES_THE_DEV_DATABASE_SETUP = """
import json, pathlib
pathlib.Path("compose.yml").write_text("services:\\n  db:\\n    environment:\\n      POSTGRES_PASSWORD: postgres\\n")
print(json.dumps({"summary": "added the dev database"}))
"""


@pytest.mark.parametrize("declared", [False, True], ids=["a-secret-by-its-name", "declared-not-secret"])
def test_a_variable_declared_not_secret_stops_no_commit_of_its_ordinary_value(
    declared: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``DB_PASSWORD=postgres`` (a throw-away database): by its name a secret, so a commit holding the word
    'postgres' is refused, unless the runner's owner says the variable is not secret."""
    monkeypatch.setenv("DB_PASSWORD", "postgres")
    project = make_project(tmp_path / "p")
    try:
        task_id = project.submit("set up the dev database")
        agent = tmp_path / "agent.py"
        agent.write_text(WRITES_THE_DEV_DATABASE_SETUP, encoding="utf-8")
        config = {"not_secret_env_names": ["db_password"]} if declared else {}
        daemon = project.daemon("r1", agent_command=f"{sys.executable} {agent}", **config)
        run_once(daemon)
        attempt = project.state().tasks[task_id].attempts[0]
        if declared:
            assert attempt.outcome_detail != "secret_in_changes" and attempt.commit, attempt.reason
            assert "POSTGRES_PASSWORD: postgres" in git(
                "show", f"{attempt.commit}:compose.yml", cwd=daemon.worktrees.repo
            )
        else:
            assert attempt.outcome_detail == "secret_in_changes" and "compose.yml" in (attempt.reason or "")
            assert "the value of DB_PASSWORD" in (attempt.reason or "")
    finally:
        project.store.close()
