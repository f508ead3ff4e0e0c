"""Named locks across machines (issue 12): acquire, renew, release and force-release as pure transitions, the
`coordinator lock` commands as scripts use them (exit 0 acquired or free, 3 busy), and tasks that need a lock
(`submit --lock NAME`): never two at once, while tasks without it run in parallel."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.core.scheduling import pick_next
from coordinator.core.state import State
from coordinator.core.transitions.locks import LockBusy, acquire, holder, release
from coordinator.errors import CoordinatorError, UsageError
from coordinator.models import NamedLock, TaskStatus
from tests.core_helpers import apply
from tests.gitutil import git
from tests.runner_helpers import Project
from tests.user_machine import coordinator_command, run, user_env

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)


def _held(owner: str = "deploy-1", at: datetime = NOW) -> State:
    state = State()
    apply(state, acquire(state, name="db", owner=owner, ttl=TTL, now=at))
    return state


def test_one_holder_at_a_time_its_holder_renews_and_an_expired_hold_is_taken_over() -> None:
    state = _held()
    record = state.records["locks"]["db"]
    assert isinstance(record, NamedLock) and record.owner == "deploy-1" and record.expires_at == NOW + TTL
    assert holder(state, "db", NOW) == "deploy-1"
    with pytest.raises(LockBusy, match="lock db is held by deploy-1"):
        acquire(state, name="db", owner="deploy-2", ttl=TTL, now=NOW + timedelta(minutes=5))
    renewed = acquire(state, name="db", owner="deploy-1", ttl=TTL, now=NOW + timedelta(minutes=5))
    assert renewed.message.startswith("renew lock db by deploy-1")
    later = NOW + TTL + timedelta(seconds=1)
    assert holder(state, "db", later) is None
    taken = acquire(state, name="db", owner="deploy-2", ttl=TTL, now=later)
    assert "taking over from deploy-1, expired" in taken.message


def test_only_the_holder_releases_unless_forced_with_a_reason() -> None:
    state = _held()
    with pytest.raises(CoordinatorError, match="only its holder releases it") as refused:
        release(state, name="db", owner="someone", now=NOW)
    assert refused.value.exit_code == 1
    with pytest.raises(UsageError, match="--force --reason TEXT"):
        release(state, name="db", owner="ops", now=NOW, force=True)
    forced = release(state, name="db", owner="ops", now=NOW, force=True, reason="stuck deploy\nsince noon")
    assert forced.message == "force-release lock db held by deploy-1 by ops: stuck deploy since noon"
    assert forced.deletes == (("locks", "db"),)
    assert release(State(), name="db", owner="x", now=NOW).message == "lock db is not held"


def test_a_task_needing_a_lock_waits_while_it_is_held_by_a_script_or_a_running_task() -> None:
    state = _held()
    needs = apply(state, T.submit(state, T.SubmitRequest(title="migrate", locks=("db",)), NOW)).task
    free = apply(state, T.submit(state, T.SubmitRequest(title="docs"), NOW)).task
    assert needs is not None and free is not None and needs.locks == ["db"]
    picked = pick_next(state, capabilities=[], now=NOW)
    assert picked is not None and picked.id == free.id
    apply(state, release(state, name="db", owner="deploy-1", now=NOW))
    claimed = apply(state, T.claim(state, runner="r1", capabilities=[], lease_ttl=TTL, now=NOW)).task
    assert claimed is not None and claimed.id == needs.id
    # While the task runs, the lock is taken: a script cannot have it, another task needing it waits.
    with pytest.raises(LockBusy, match=f"held by task {needs.id} on r1"):
        acquire(state, name="db", owner="deploy-2", ttl=TTL, now=NOW)
    second = apply(state, T.submit(state, T.SubmitRequest(title="migrate again", locks=("db",)), NOW)).task
    assert second is not None
    nxt = pick_next(state, capabilities=[], now=NOW)
    assert nxt is not None and nxt.id == free.id


# --- as scripts and people use it -----------------------------------------------------------------------------


def test_four_processes_contend_for_one_lock_and_exactly_one_gets_it(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    contenders = [
        subprocess.Popen(
            [*coordinator_command(), "lock", "acquire", "db", "--owner", f"p{n}", "--ttl", "600"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in contenders]
    winners = [out for code, out, _ in results if code == 0]
    assert len(winners) == 1, results
    assert sorted(code for code, _, _ in results) == [0, 3, 3, 3]
    owner = winners[0].split(" by ")[1].split()[0]
    assert all(f"lock db is held by {owner}" in err for code, _, err in results if code == 3)
    check = run(["lock", "check", "db"], env)
    assert check.returncode == 3 and f"lock db is held by {owner}" in check.stdout
    assert owner in run(["lock", "list"], env).stdout
    # The holder is stuck: someone forces it free, and the branch's history keeps why.
    forced = run(["lock", "release", "db", "--force", "--reason", "deploy host is down", "--owner", "ops"], env)
    assert forced.returncode == 0, forced.stderr
    log = git("log", "--format=%B", "coordinator/state", cwd=project.origin)
    assert f"force-release lock db held by {owner} by ops: deploy host is down" in log
    assert run(["lock", "check", "db"], env).returncode == 0
    assert "Traceback" not in "".join(err for _, _, err in results)


def test_acquire_waits_for_an_expiring_hold(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    assert run(["lock", "acquire", "db", "--owner", "first", "--ttl", "2"], env).returncode == 0
    waited = run(["lock", "acquire", "db", "--owner", "second", "--wait", "30"], env)
    assert waited.returncode == 0, waited.stderr
    assert "acquire lock db by second" in waited.stdout and "taking over from first, expired" in waited.stdout


AGENT = """
import sys, time
time.sleep(1.5)
print("done")
"""


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_tasks_needing_one_lock_never_overlap_while_others_run_alongside(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(project.origin)})
    ids = []
    for title, lock in (("migrate a", "db"), ("migrate b", "db"), ("write docs", None)):
        args = ["submit", title, *(["--lock", lock] if lock else [])]
        done = run(args, env)
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.strip())
    # A script holds the lock first: the runner runs only the task that does not need it.
    assert run(["lock", "acquire", "db", "--owner", "backup"], env).returncode == 0
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    clone = project.clone("box")
    runner = ["runner", "--name", "r1", "--repo", str(clone), "--once", "--slots", "3", "--poll", "0.2"]
    runner += ["--agent", "command", "--agent-command", f"{sys.executable} {agent}"]
    first = run(runner, user_env(tmp_path / "home"))
    assert first.returncode == 0, first.stdout + first.stderr
    tasks = project.state().tasks
    assert tasks[ids[2]].status == TaskStatus.SUCCEEDED
    assert tasks[ids[0]].status == tasks[ids[1]].status == TaskStatus.QUEUED
    shown = run(["show", ids[0]], env)
    assert shown.returncode == 0
    assert run(["lock", "release", "db", "--owner", "backup"], env).returncode == 0
    second = run(runner, user_env(tmp_path / "home"))
    assert second.returncode == 0, second.stdout + second.stderr
    tasks = project.state().tasks
    spans = []
    for task_id in ids[:2]:
        attempt = tasks[task_id].attempts[-1]
        assert tasks[task_id].status == TaskStatus.SUCCEEDED and attempt.started_at and attempt.finished_at
        spans.append((attempt.started_at, attempt.finished_at))
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start, f"two tasks held lock db at once: {spans}"
