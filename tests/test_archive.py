"""The archive (`coordinator gc`): ended tasks leave the live tree for packs, stay readable, keep their ids taken;
on real bare remotes, with real `coordinator` processes where a user would type the command."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core.archive import GcRequest, archivable, archive_batch, parse_age
from coordinator.core.archive_layout import parse_index
from coordinator.core.transitions import Change, SubmitRequest, cancel, submit
from coordinator.errors import UsageError
from coordinator.models import Attempt, AttemptOutcome, FollowUp, GitHubLink, Task, TaskStatus, Trigger
from coordinator.store.gc import collect
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from tests.core_helpers import HandClock, make_task
from tests.user_machine import run, user_env

BRANCH = "coordinator/state"
#: The day the tasks of these tests ended; "now" for gc is a week and more later.
ENDED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> HandClock:
    return HandClock(ENDED)


@pytest.fixture
def timed_store(remote_path: Path, tmp_path: Path, clock: HandClock) -> Iterator[StateStore]:
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "cache-t", clock=clock) as store:
        store.init()
        yield store


def git(remote: Path, *args: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(remote), *args], capture_output=True, text=True, check=True)
    return done.stdout


def ended(task_id: str, status: TaskStatus = TaskStatus.SUCCEEDED, **fields: object) -> Task:
    attempt = Attempt(number=1, runner="r1", mode="simple", outcome=AttemptOutcome.SUCCEEDED, cost_usd=0.25)
    return make_task(task_id, status=status, created_at=ENDED, attempts=[attempt], **fields)  # type: ignore[arg-type]


def seed(store: StateStore, tasks: list[Task]) -> None:
    """Write tasks in one commit, as they would be after their lives."""
    store.update(lambda state, now: Change(message=f"seed {len(tasks)} tasks", tasks=tuple(tasks)))


def branch_files(remote: Path) -> list[str]:
    return git(remote, "ls-tree", "-r", "--name-only", BRANCH).split()


def pack_lines(remote: Path) -> list[dict[str, object]]:
    packs = [f for f in branch_files(remote) if f.startswith("archive/") and f.endswith(".jsonl")]
    return [json.loads(line) for pack in packs for line in git(remote, "show", f"{BRANCH}:{pack}").splitlines()]


def test_gc_moves_ended_tasks_into_a_pack_and_show_still_reads_them(
    timed_store: StateStore, remote_path: Path, clock: HandClock, tmp_path: Path
) -> None:
    seed(timed_store, [ended("task-1"), ended("task-2", TaskStatus.FAILED), make_task("task-3")])
    clock.now = ENDED + timedelta(days=6)
    assert collect(timed_store, GcRequest()).archived == 0  # not 7 days yet
    clock.now = ENDED + timedelta(days=8)

    report = collect(timed_store, GcRequest())

    assert (report.archived, report.commits, report.live, report.archived_total) == (2, 1, 1, 2)
    files = branch_files(remote_path)
    assert [f.rsplit("/", 1)[-1] for f in files if f.startswith("tasks/")] == ["task-3.json"]
    assert sorted(line["id"] for line in pack_lines(remote_path)) == ["task-1", "task-2"]
    assert git(remote_path, "log", "-1", "--format=%s", BRANCH).startswith("gc: archive 2 task(s) ended before")
    # A reader that never saw the tasks live finds them through the index, with everything they held.
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "fresh") as fresh:
        state = fresh.read()
        assert sorted(state.archived) == ["task-1", "task-2"] and sorted(state.tasks) == ["task-3"]
        archived = fresh.archived_task("task-2")
        assert archived is not None and archived.status == TaskStatus.FAILED
        assert archived.attempts[0].cost_usd == 0.25
        assert sorted(t.id for t in fresh.all_tasks()) == ["task-1", "task-2", "task-3"]
        assert not state.problems
    # ... and so does `coordinator show`, as a user types it.
    shown = run(["--remote", str(remote_path), "show", "task-2"], user_env(tmp_path / "home"))
    assert shown.returncode == 0, shown.stderr
    assert (
        shown.stdout.startswith("task-2: title of task-2")
        and "archived by 'coordinator gc' in archive/" in shown.stdout
    )
    as_json = run(["--remote", str(remote_path), "show", "task-1", "--json"], user_env(tmp_path / "home"))
    assert json.loads(as_json.stdout)["status"] == "succeeded"


def test_an_archived_id_is_never_given_again(timed_store: StateStore, clock: HandClock) -> None:
    for title in ("one", "two"):
        timed_store.update(lambda state, now, title=title: submit(state, SubmitRequest(title=title), now))
    timed_store.update(lambda state, now: cancel(state, task_id="task-2", now=now, by="me"))
    timed_store.update(lambda state, now: cancel(state, task_id="task-1", now=now, by="me"))
    clock.now += timedelta(days=8)
    assert collect(timed_store, GcRequest()).archived == 2
    assert not timed_store.state.tasks

    made = timed_store.update(lambda state, now: submit(state, SubmitRequest(title="three"), now))
    assert made.task is not None and made.task.id == "task-3"
    with pytest.raises(UsageError, match="exists already in the archive"):
        timed_store.update(lambda state, now: submit(state, SubmitRequest(title="again", task_id="task-1"), now))
    with pytest.raises(UsageError, match="archived by 'coordinator gc'"):
        timed_store.update(lambda state, now: submit(state, SubmitRequest(title="x", depends_on=("task-2",)), now))


def test_a_lost_id_counter_is_rebuilt_above_the_archived_ids(timed_store: StateStore, clock: HandClock) -> None:
    seed(timed_store, [ended("task-40")])
    clock.now += timedelta(days=8)
    collect(timed_store, GcRequest())
    # meta.json is replaced by garbage by hand: the counter is rebuilt from every id the branch holds.
    timed_store.update(lambda state, now: Change(message="break meta", files=(("meta.json", b"{not json"),)))
    made = timed_store.update(lambda state, now: submit(state, SubmitRequest(title="next"), now))
    assert made.task is not None and made.task.id == "task-41"


def test_gc_leaves_what_a_live_task_still_needs() -> None:
    from coordinator.core.state import State

    now = ENDED + timedelta(days=30)
    trigger = Trigger(actor="me", permission="write", event="issues.labeled", label="claude", at=ENDED)
    github = GitHubLink(repository="o/r", issue=7, url="https://github.com/o/r/issues/7", trigger=trigger)
    follow = FollowUp(of="issue-7", number=1, pull=9, author="rev", at=ENDED)
    state = State.build(
        [
            ended("dep-of-blocked"),
            make_task("blocked", status=TaskStatus.BLOCKED, depends_on=["dep-of-blocked"]),
            ended("dep-of-failed"),
            ended("failed-dependent", TaskStatus.FAILED, depends_on=["dep-of-failed"], updated_at=now),
            ended("issue-7", github=github),
            ended("issue-7-f1", follow_up=follow, github=github, updated_at=now - timedelta(hours=1)),
            ended("issue-8", github=GitHubLink(repository="o/r", issue=8, trigger=trigger, pending=["comment"])),
            ended("recent", updated_at=now - timedelta(days=2)),
            ended("old-and-free"),
            ended("old-free-dependent", TaskStatus.CANCELLED, depends_on=["old-dep"]),
            ended("old-dep"),
        ]
    )
    chosen = [t.id for t in archivable(state, now, timedelta(days=7))]
    # The blocked task and the failed dependent (retry would wait for it) hold their dependencies; issue-7 goes
    # only with its follow-up, which ended too recently; issue-8 still has a comment to deliver.
    assert sorted(chosen) == ["old-and-free", "old-dep", "old-free-dependent"]
    # A batch limit never splits a dependency from what depends on it.
    change = archive_batch(state, GcRequest(limit=1), now)
    assert [key for _, key in change.deletes] == ["old-and-free"]


def test_gc_in_batches_writes_one_pack_per_commit(timed_store: StateStore, remote_path: Path, clock: HandClock) -> None:
    seed(timed_store, [ended(f"task-{i}") for i in range(1, 8)])
    clock.now += timedelta(days=8)
    report = collect(timed_store, GcRequest(limit=3))
    assert (report.archived, report.commits) == (7, 3)
    packs = [f for f in branch_files(remote_path) if f.endswith(".jsonl")]
    assert len(packs) == 3 and all(p.startswith("archive/2026-03/") for p in packs)
    index = [f for f in branch_files(remote_path) if f.startswith("archive/index/")]
    entries = [e for f in index for e in parse_index(git(remote_path, "show", f"{BRANCH}:{f}").encode())[0]]
    assert sorted(e.task_id for e in entries) == sorted(f"task-{i}" for i in range(1, 8))
    assert all(e.pack in packs and e.status == "succeeded" for e in entries)


def test_two_gc_processes_at_once_archive_every_task_exactly_once(
    timed_store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    # More than two batches of 500, so both processes have work to race for.
    seed(timed_store, [ended(f"task-{i}") for i in range(1, 1101)])
    homes = [tmp_path / "home-a", tmp_path / "home-b"]
    procs = [
        subprocess.Popen(
            [*_command(), "--remote", str(remote_path), "gc", "--older-than", "2d", "--json"],
            env=user_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for home in homes
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    # Two writers that computed the same batch from the same tip in the same second build the very same commit
    # (same tree, parent, message and time): the second push finds it there already, and both report it.
    assert all(r["archived_total"] == 1100 and r["live"] == 0 for r in reports)
    assert sum(r["archived"] for r in reports) >= 1100
    assert git(remote_path, "log", "--format=%s", BRANCH).count("gc: archive") == 3  # 500 + 500 + 100
    lines = pack_lines(remote_path)
    assert len(lines) == 1100 and len({line["id"] for line in lines}) == 1100
    assert not [f for f in branch_files(remote_path) if f.startswith("tasks/")]
    state = timed_store.read()
    assert len(state.archived) == 1100 and not state.tasks and not state.problems


def _command() -> list[str]:
    from tests.user_machine import coordinator_command

    return coordinator_command()


def test_gc_refuses_a_bad_age_in_one_line(remote_path: Path, timed_store: StateStore, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    for age, said in (("3h", "at least 1d"), ("soon", "not an age")):
        done = run(["--remote", str(remote_path), "gc", "--older-than", age], env)
        assert done.returncode != 0 and said in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    before = git(remote_path, "rev-parse", BRANCH)
    dry = run(["--remote", str(remote_path), "gc", "--dry-run"], env)
    assert dry.returncode == 0 and dry.stdout.startswith("nothing to archive")
    assert git(remote_path, "rev-parse", BRANCH) == before


def test_parse_age() -> None:
    assert parse_age("7d") == timedelta(days=7)
    assert parse_age("36h") == timedelta(hours=36)
    assert parse_age("2w") == timedelta(days=14)
    with pytest.raises(ValueError, match=r"e\.g\. 7d"):
        parse_age("7 days")


def test_metrics_count_archived_tasks_as_they_counted_live_ones(
    timed_store: StateStore, remote_path: Path, clock: HandClock, tmp_path: Path
) -> None:
    seed(timed_store, [ended(f"task-{n}") for n in range(1, 7)] + [ended("task-7", TaskStatus.FAILED)])
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(remote_path)})
    before = json.loads(run(["metrics", "--since", "all", "--json"], env).stdout)
    clock.now = ENDED + timedelta(days=30)
    report = collect(timed_store, GcRequest(older_than=timedelta(days=7)))
    assert report.archived == 7 and report.live == 0
    after = json.loads(run(["metrics", "--since", "all", "--json"], env).stdout)
    assert (after["tasks"], after["success_rate"], after["cost_usd"]) == (7, before["success_rate"], 1.75)
    assert after["tasks"] == before["tasks"]


def test_a_plan_and_its_children_are_archived_together() -> None:
    from coordinator.core.state import State

    now = ENDED + timedelta(days=30)
    state = State.build(
        [
            ended("task-1", depends_on=["task-1.1", "task-1.v1"], kind="plan", updated_at=now - timedelta(days=8)),
            ended("task-1.1", parent="task-1", updated_at=now - timedelta(days=9)),
            # A child that ended recently (its retry re-opened the plan, which ended again) holds the family back.
            ended("task-1.v1", parent="task-1", kind="verify", updated_at=now - timedelta(days=1)),
            ended("task-2", kind="plan", depends_on=["task-2.1"], updated_at=now - timedelta(days=8)),
            ended("task-2.1", parent="task-2"),
        ]
    )
    assert sorted(t.id for t in archivable(state, now, timedelta(days=7))) == ["task-2", "task-2.1"]
