"""A plan through the REAL claude CLI (against a fake Anthropic API on 127.0.0.1), started as README says: the
planning attempt writes .coordinator/plan.json with the CLI's Write tool; three subtasks (b after a) write their
files; the verify command fails once on the integrated branch, a fix child (the CLI again) mends it, verify
passes, and the plan succeeds with its report."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from coordinator.models import TaskStatus
from tests.fakes.anthropic_api import FakeAnthropic, Reply, Text, ToolUse, working_directory
from tests.fakes.claude_env import claude_env
from tests.gitutil import git
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name == "nt", reason="POSIX paths")]

PLAN = {
    "subtasks": [
        {"key": "a", "title": "Write a.md", "body": "a file named a.md saying hello"},
        {"key": "b", "title": "Write b.md", "body": "a file named b.md saying bye", "depends_on": ["a"]},
        {"key": "c", "title": "Write c.md", "body": "a file named c.md"},
    ]
}
CHECK = """
import pathlib, sys
missing = [n for n in ("a.md", "b.md", "c.md", "fixed.md") if not pathlib.Path(n).is_file()]
print("missing:", *missing)
sys.exit(1 if missing else 0)
"""


def _after_tool(body: dict[str, Any]) -> bool:
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def reply(body: dict[str, Any]) -> Reply:
    """The model: plans when asked to plan, else writes the file its subtask names."""
    said = json.dumps(body.get("messages") or [])
    where = working_directory(body)
    if "How to work: plan, do not implement" in said:
        if _after_tool(body):
            return Text("Planned two subtasks: a, then b.")
        return ToolUse.write(f"{where}/.coordinator/plan.json", json.dumps(PLAN))
    if "fails verification" in said:  # the fix child: the failing output is in its prompt
        name = "fixed.md" if "missing: fixed.md" in said else "wrong.md"
    else:
        name = next(n for n in ("b.md", "c.md", "a.md") if f"Write {n}" in said)
    if _after_tool(body):
        return Text(f"Wrote {name}.")
    return ToolUse.write(f"{where}/{name}", f"{name} by the agent\n")


def test_a_plan_runs_through_the_real_cli(project: Project, claude_exe: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    check = tmp_path / "check.py"
    check.write_text(CHECK)
    env = user_env(home, {"COORDINATOR_REMOTE": str(project.origin)})
    made = run(
        ["plan", "Add two notes", "--body", "a.md then b.md", "--verify-command", f"{sys.executable} {check}"], env
    )
    assert made.returncode == 0, made.stderr
    plan_id = made.stdout.strip()
    clone = project.clone("box")
    with FakeAnthropic(reply) as api:
        runner_env = user_env(home, {**claude_env(api.url, home), "COORDINATOR_REMOTE": str(project.origin)})
        runner_env["PATH"] = os.pathsep.join([str(Path(claude_exe).parent), runner_env["PATH"]])
        result = run(["runner", "--name", "r1", "--repo", str(clone), "--once"], runner_env)
    assert result.returncode == 0, result.stdout + result.stderr
    tasks = project.state().tasks
    plan = tasks[plan_id]
    assert plan.status == TaskStatus.SUCCEEDED, (plan.status_reason, result.stdout)
    a, b, c = (tasks[f"{plan_id}.{n}"] for n in (1, 2, 3))
    v1, f1, v2 = tasks[f"{plan_id}.v1"], tasks[f"{plan_id}.f1"], tasks[f"{plan_id}.v2"]
    assert (a.title, b.title, b.depends_on) == ("Write a.md", "Write b.md", [a.id])
    assert a.attempts[0].cost_usd and a.attempts[0].summary == "Wrote a.md."
    red, green = v1.attempts[0].verification, v2.attempts[0].verification
    assert red is not None and not red.passed and "missing: fixed.md" in red.output
    assert f1.status == TaskStatus.SUCCEEDED and f1.attempts[0].summary == "Wrote fixed.md."
    assert green is not None and green.passed
    assert plan.plan is not None and plan.plan.report is not None
    report = plan.plan.report
    assert [line.id for line in report.children] == [a.id, b.id, c.id, v1.id, f1.id, v2.id]
    assert report.verify_runs == 2 and report.fixes == 1 and report.cost_usd > 0
    files = git("ls-tree", "--name-only", f"refs/heads/coordinator/{plan_id}", cwd=project.origin).split()
    assert {"a.md", "b.md", "c.md", "fixed.md"} <= set(files) and ".coordinator" not in files
