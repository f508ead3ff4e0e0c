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
