"""The installed workflow ticks the schedules on its timer: a job of its own that may write the state branch and
nothing else, and whose script hands ``coordinator tick`` the repository as its remote."""

from __future__ import annotations

from pathlib import Path

from coordinator.store.remote import Remote
from tests.test_github_workflow import REFERENCE, load, needs_bash, run_step, step_script


def test_the_workflow_runs_on_a_timer_and_ticks_in_a_job_of_least_privilege() -> None:
    document = load(REFERENCE.read_text(encoding="utf-8"))
    assert document["on"]["schedule"] == [{"cron": "*/15 * * * *"}]
    job = document["jobs"]["tick"]
    assert job["permissions"] == {"contents": "write"}  # the state branch; no issue, no pull request
    assert job["if"] == "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'"
    assert job["concurrency"] == {"group": "coordinator-tick", "cancel-in-progress": False}
    assert job["steps"][-1]["run"].rstrip().endswith("coordinator tick")
    assert not any(step.get("uses", "").startswith("actions/checkout@") for step in job["steps"])
    # The timer does not ingest (there is no event to ingest); the self-hosted runner job still runs on it.
    assert document["jobs"]["ingest"]["if"] == "github.event_name != 'schedule'"
    assert "needs.ingest.result != 'failure'" in document["jobs"]["run-tasks"]["if"]


@needs_bash
def test_tick_gets_the_repository_as_its_remote_with_its_token(tmp_path: Path) -> None:
    env = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "octo/widgets",
        "COORDINATOR_GITHUB_TOKEN": "ghs_abc123",
    }
    record, _ = run_step(step_script("tick", "coordinator tick"), tmp_path, env)
    assert record["argv"] == ["tick"]
    remote = Remote.parse(record["env"]["COORDINATOR_REMOTE"])
    assert remote.url == "https://github.com/octo/widgets.git"  # what coordinator shows: no token
    assert remote.auth_header is not None and "ghs_abc123" in remote.secrets
