"""Pipelines (issue 12): a definition kept on the state branch, runs as dependent tasks pipe-<name>-<n>-<phase>;
a non-critical phase that fails lets the run go on; a critical one cancels the rest of the run (a running phase
included) and calls a person; the run's summary is one record. The shipped example (the predecessor's daily
maintenance) is the definition of the end-to-end test."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from coordinator.core import transitions as T
from coordinator.core.deliveries import needs_person
from coordinator.core.pipeline_runs import run_summary
from coordinator.core.state import State
from coordinator.core.transitions.pipelines import run_pipeline, set_pipeline
from coordinator.models import AttemptOutcome, AttemptResult, Phase, Pipeline, TaskStatus
from tests.core_helpers import NOW, apply
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "daily-maintenance.toml"
TTL = timedelta(minutes=10)


def _daily() -> Pipeline:
    return Pipeline.model_validate({**tomllib.loads(EXAMPLE.read_text(encoding="utf-8")), "name": "daily"})


def _state_with_a_run() -> tuple[State, list[str]]:
    state = State()
    apply(state, set_pipeline(state, pipeline=_daily(), by="alice", now=NOW))
    change = apply(state, run_pipeline(state, name="daily", by="alice", now=NOW))
    return state, [t.id for t in change.tasks]


def _claim(state: State, expected: str, runner: str = "r1") -> None:
    claimed = apply(state, T.claim(state, runner=runner, capabilities=[], lease_ttl=TTL, now=NOW)).task
    assert claimed is not None and claimed.id == expected, claimed


def _end(state: State, task_id: str, *, ok: bool, runner: str = "r1") -> None:
    if ok:
        apply(state, T.complete(state, task_id=task_id, runner=runner, result=AttemptResult(), now=NOW))
    else:
        apply(state, T.fail(state, task_id=task_id, runner=runner, reason="red", now=NOW, retryable=False))


def test_a_definition_must_make_sense() -> None:
    with pytest.raises(ValidationError, match="phase names must be unique: a"):
        Pipeline(name="p", phases=[Phase(name="a", title="A"), Phase(name="a", title="A again")])
    with pytest.raises(ValidationError, match="phase a needs b, which is not a phase before it"):
        Pipeline(name="p", phases=[Phase(name="a", title="A", needs=["b"]), Phase(name="b", title="B")])


def test_a_run_queues_the_phases_as_dependent_tasks() -> None:
    state, ids = _state_with_a_run()
    assert ids == [f"pipe-daily-1-{p}" for p in ("diagnostic", "sync", "tests", "cleanup", "improvement")]
    tasks = state.tasks
    assert tasks[ids[0]].status == TaskStatus.QUEUED and tasks[ids[1]].depends_on == [ids[0]]
    assert tasks[ids[3]].depends_on == tasks[ids[4]].depends_on == [ids[2]]  # cleanup and improvement in parallel
    assert tasks[ids[0]].timeout_seconds == 600 and tasks[ids[0]].max_attempts == 2
    assert not tasks[ids[3]].critical and tasks[ids[2]].critical and tasks[ids[2]].mode == "complex"
    assert {t.run for t in tasks.values()} == {"pipe-daily-1"}
    again = run_pipeline(state, name="daily", by="alice", now=NOW)
    assert again.tasks[0].id == "pipe-daily-2-diagnostic"


def test_a_non_critical_phase_that_fails_lets_the_others_finish() -> None:
    state, ids = _state_with_a_run()
    for task_id in ids[:3]:
        _claim(state, task_id)
        _end(state, task_id, ok=True)
    _claim(state, ids[3], "r1")
    _claim(state, ids[4], "r2")
    _end(state, ids[3], ok=False)
    _end(state, ids[4], ok=True, runner="r2")
    summary = run_summary(state, "pipe-daily-1")
    assert summary is not None and summary.status == "succeeded"
    assert [p.task.status for p in summary.phases] == [TaskStatus.SUCCEEDED] * 3 + [
        TaskStatus.FAILED,
        TaskStatus.SUCCEEDED,
    ]


def test_a_critical_phase_that_fails_cancels_the_rest_of_the_run_and_calls_a_person() -> None:
    state = State()
    parallel = Pipeline(
        name="release",
        phases=[
            Phase(name="build", title="Build"),
            Phase(name="docs", title="Docs", needs=[]),  # runs alongside build
            Phase(name="publish", title="Publish", needs=["build", "docs"]),
        ],
    )
    apply(state, set_pipeline(state, pipeline=parallel, by="alice", now=NOW))
    ids = [t.id for t in apply(state, run_pipeline(state, name="release", by="alice", now=NOW)).tasks]
    _claim(state, ids[0], "r1")
    _claim(state, ids[1], "r2")
    change = apply(state, T.fail(state, task_id=ids[0], runner="r1", reason="compile error", now=NOW, retryable=False))
    docs = state.tasks[ids[1]]
    assert docs.status == TaskStatus.CANCELLED and docs.lease is None  # its agent stops at the next renewal
    assert docs.attempts[-1].outcome == AttemptOutcome.CANCELLED
    assert docs.status_reason == "phase pipe-release-1-build failed (critical): the run stops; a person must look"
    assert state.tasks[ids[2]].status == TaskStatus.CANCELLED
    assert "cancel pipe-release-1-docs (run pipe-release-1 stops: pipe-release-1-build failed)" in change.message
    assert needs_person(state.tasks[ids[0]]) is not None
    summary = run_summary(state, "pipe-release-1")
    assert summary is not None and summary.status == "failed"


AGENT = """
import os, sys
print("cleanup is not possible today" if "cleanup" in os.environ["COORDINATOR_TASK_ID"] else "done")
sys.exit(1 if "cleanup" in os.environ["COORDINATOR_TASK_ID"] else 0)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_the_daily_example_runs_from_the_command_line(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    added = run(["pipeline", "set", "daily", "--file", str(EXAMPLE)], env)
    assert added.returncode == 0 and "add pipeline daily by" in added.stdout, added.stderr
    assert "diagnostic -> sync -> tests -> cleanup -> improvement" in run(["pipeline", "list"], env).stdout
    started = run(["pipeline", "run", "daily"], env)
    assert started.returncode == 0 and "run pipeline daily #1" in started.stdout, started.stderr
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    runner = ["runner", "--name", "r1", "--repo", str(project.clone("box")), "--once", "--slots", "2", "--poll", "0.2"]
    runner += ["--agent", "command", "--agent-command", f"{sys.executable} {agent}"]
    done = run(runner, user_env(tmp_path / "home"))
    assert done.returncode == 0, done.stdout + done.stderr
    shown = json.loads(run(["pipeline", "show", "daily", "--json"], env).stdout)["run"]
    assert shown["status"] == "succeeded"
    assert [(p["task"].rsplit("-", 1)[1], p["status"]) for p in shown["phases"]] == [
        ("diagnostic", "succeeded"),
        ("sync", "succeeded"),
        ("tests", "succeeded"),
        ("cleanup", "failed"),
        ("improvement", "succeeded"),
    ]
    table = run(["pipeline", "show", "daily"], env).stdout
    assert "run pipe-daily-1: succeeded" in table and "pipe-daily-1-cleanup" in table
    bad = tmp_path / "bad.toml"
    bad.write_text('[[phases]]\nname = "a"\ntitle = "A"\nneeds = ["z"]\n')
    refused = run(["pipeline", "set", "broken", "--file", str(bad)], env)
    assert refused.returncode == 2 and "phase a needs z" in refused.stderr and "Traceback" not in refused.stderr


def test_a_schedule_that_names_a_pipeline_starts_a_run_once_per_slot(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    assert run(["pipeline", "set", "daily", "--file", str(EXAMPLE)], env).returncode == 0
    missing = run(["schedule", "add", "nightly", "--cron", "@hourly", "--pipeline", "weekly"], env)
    assert missing.returncode == 2 and "--pipeline: no pipeline 'weekly'" in missing.stderr
    both = run(["schedule", "add", "nightly", "--cron", "@hourly", "--pipeline", "daily", "--title", "x"], env)
    assert both.returncode == 2 and "one of the two" in both.stderr
    added = run(["schedule", "add", "nightly", "--cron", "@hourly", "--pipeline", "daily"], env)
    assert added.returncode == 0, added.stderr
    ticked = run(["tick", "--now", "+2h"], env)
    assert ticked.returncode == 0 and "enqueued pipe-daily-1-diagnostic: daily #1" in ticked.stdout, ticked.stderr
    assert run(["tick", "--now", "+2h"], env).stdout.strip() == "nothing due"
    state = project.state()
    assert sorted(t for t in state.tasks if t.startswith("pipe-daily-1-")) == sorted(
        f"pipe-daily-1-{p}" for p in ("diagnostic", "sync", "tests", "cleanup", "improvement")
    )
