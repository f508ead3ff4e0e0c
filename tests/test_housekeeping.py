"""A runner's housekeeping: gc of the state branch as config.json says, old logs and idle worktrees pruned."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from coordinator.core.transitions import Change
from coordinator.models import Task, TaskStatus
from coordinator.runner.housekeeping import Housekeeping, prune_logs
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from coordinator.timeutil import utcnow
from tests.gitutil import git
from tests.runner_helpers import Project, run_once

DAY = 86400


def seed_ended(project: Project, count: int, days_ago: float) -> None:
    """``count`` tasks that succeeded ``days_ago``, written by a store whose clock says it is then."""
    then = utcnow() - timedelta(days=days_ago)
    tasks = tuple(
        Task(id=f"old-{i}", title=f"old {i}", created_at=then, updated_at=then, status=TaskStatus.SUCCEEDED)
        for i in range(count)
    )
    cache = project.root / f"cache-seed-{days_ago}"
    with StateStore(Remote.parse(str(project.origin)), cache_dir=cache, clock=lambda: then) as past:
        past.update(lambda state, now: Change(message="seed", tasks=tasks))


def touch(path: Path, days_ago: float) -> None:
    stamp = time.time() - days_ago * DAY
    os.utime(path, (stamp, stamp))


def test_a_runner_archives_what_ended_long_ago_and_prunes_its_old_logs(project: Project) -> None:
    seed_ended(project, 3, days_ago=10)
    fresh = project.submit("still to do")
    logs = project.root / "logs" / "r1"
    logs.mkdir(parents=True)
    (logs / "old.log").write_text("x")
    touch(logs / "old.log", 20)
    (logs / "new.log").write_text("y")

    daemon = project.daemon("r1", agent_command="true")
    assert run_once(daemon) == 0

    state = project.state()
    assert sorted(state.archived) == ["old-0", "old-1", "old-2"]
    assert fresh in state.tasks and state.tasks[fresh].status == TaskStatus.SUCCEEDED
    assert not (logs / "old.log").exists() and (logs / "new.log").exists()
    assert any(line.startswith("archived 3 task(s) that ended more than 7 day(s) ago") for line in daemon.lines)  # type: ignore[attr-defined]


def test_archive_after_days_zero_turns_the_runners_gc_off(project: Project) -> None:
    seed_ended(project, 2, days_ago=30)
    project.update(
        lambda state, now: Change(message="no gc", config=state.config.model_copy(update={"archive_after_days": 0}))
    )
    assert run_once(project.daemon("r1", agent_command="true")) == 0
    assert not project.state().archived and len(project.state().tasks) == 2


def test_idle_worktrees_past_retention_are_pruned_with_their_work_saved(project: Project) -> None:
    daemon = project.daemon("r1", agent_command="true")
    try:
        base = daemon.worktrees.resolve_base()
        idle, recent, running = (daemon.worktrees.create(t, base) for t in ("task-7", "task-8", "task-9"))
        (idle.path / "half-done.txt").write_text("work in progress\n")
        for wt in (idle, running):
            touch(wt.path, 20)

        housekeeping = Housekeeping.of(daemon)
        housekeeping.running = lambda: ["task-9"]
        housekeeping.run()

        assert not idle.path.exists() and recent.path.exists() and running.path.exists()
        clone = daemon.worktrees.clone.path
        saved = git("show", "--name-only", "--format=%s", idle.branch, cwd=clone)
        assert "half-done.txt" in saved and "idle worktree of r1" in saved
        assert any(line.startswith("removed 1 idle worktree(s)") for line in daemon.lines)  # type: ignore[attr-defined]
    finally:
        daemon.store.close()


def test_prune_logs_keeps_everything_when_retention_is_zero(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("a")
    touch(tmp_path / "a.log", 400)
    assert prune_logs(tmp_path, 0, utcnow()) == 0 and (tmp_path / "a.log").exists()
    assert prune_logs(tmp_path, 14, utcnow()) == 1 and not (tmp_path / "a.log").exists()
    assert prune_logs(tmp_path / "missing", 14, utcnow()) == 0
