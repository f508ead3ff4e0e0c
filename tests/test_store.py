"""The git state store against real bare remotes: CAS, freshness, corrupt files, credentials."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.errors import RemoteError, SchemaTooNew, StateBranchMissing
from coordinator.models import TaskStatus
from coordinator.redaction import REDACTED
from coordinator.store.layout import shard_of as task_shard
from coordinator.store.layout import task_path
from coordinator.store.objects import ObjectCache
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from tests.gitutil import branch_log, edit_branch, read_branch_file

TTL = timedelta(minutes=5)


def submit(store: StateStore, title: str, **kwargs: object) -> str:
    change = store.update(lambda s, now: T.submit(s, T.SubmitRequest(title=title, **kwargs), now))  # type: ignore[arg-type]
    assert change.task is not None
    return change.task.id


def claim(store: StateStore, runner: str = "runner-a", caps: tuple[str, ...] = ()) -> str | None:
    change = store.update(lambda s, now: T.claim(s, runner=runner, capabilities=caps, lease_ttl=TTL, now=now))
    return change.task.id if change.task else None


def other_store(remote_path: Path, tmp_path: Path, name: str) -> StateStore:
    return StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / f"cache-{name}")


def test_init_creates_orphan_branch_with_readme_meta_and_config(remote_path: Path, tmp_path: Path) -> None:
    with other_store(remote_path, tmp_path, "x") as store:
        assert store.init() is True
        assert store.init() is False  # idempotent
    meta = json.loads(read_branch_file(remote_path, "meta.json"))
    assert meta["schema_version"] == 1
    config = json.loads(read_branch_file(remote_path, "config.json"))
    assert config["modes"]["modes"]["simple"]["escalate_to"] == "complex"
    assert "tasks/<2 hex>/<task-id>.json" in read_branch_file(remote_path, "README.md")
    assert branch_log(remote_path) == ["init state branch"]


def test_missing_branch_names_the_init_command(remote_path: Path, tmp_path: Path) -> None:
    with other_store(remote_path, tmp_path, "x") as store, pytest.raises(StateBranchMissing) as err:
        store.read()
    assert f"coordinator --remote {remote_path} init" in str(err.value)


def test_a_missing_branch_on_a_remote_with_a_token_names_no_command_that_could_not_authenticate() -> None:
    remote = Remote.parse("https://x-access-token:ghp_secret123456@github.com/o/r.git")
    said = str(StateBranchMissing(str(remote), "coordinator/state", credentials=bool(remote.secrets)))
    assert "ghp_secret" not in said and "--remote https://" not in said
    assert said.endswith(
        "run 'coordinator init' with the same --remote or COORDINATOR_REMOTE as now (its token is not shown here)"
    )
    branch = str(StateBranchMissing(str(remote), "queue", credentials=True))
    assert "run 'coordinator --branch queue init' with the same --remote" in branch


def test_tasks_are_sharded_files_and_commit_messages_are_an_audit_log(store: StateStore, remote_path: Path) -> None:
    task_id = submit(store, "Fix the login bug")
    assert claim(store) == task_id
    raw = json.loads(read_branch_file(remote_path, f"tasks/{task_shard(task_id)}/{task_id}.json"))
    assert raw["status"] == "running"
    assert raw["lease"]["runner"] == "runner-a"
    assert branch_log(remote_path)[:2] == [
        "claim task-1 by runner-a, attempt 1 (simple)",
        "submit task-1: Fix the login bug",
    ]


def test_a_stale_writer_loses_the_race_then_reapplies_on_fresh_state(
    store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    with other_store(remote_path, tmp_path, "b") as other:
        other.read()  # b caches the tip...
        submit(store, "one")  # ...which a moves on
        submit(other, "two")  # b's optimistic push is rejected, b re-fetches and re-applies
        assert other.stats["rejections"] == 1
    state = store.read()
    assert sorted(t.title for t in state.tasks.values()) == ["one", "two"]
    assert sorted(state.tasks) == ["task-1", "task-2"]  # the id counter was not lost either


def test_nothing_to_claim_is_rechecked_on_a_fresh_fetch(store: StateStore, remote_path: Path, tmp_path: Path) -> None:
    with other_store(remote_path, tmp_path, "b") as other:
        other.read()
        task_id = submit(store, "new work")
        fetches = other.stats["fetches"]
        assert claim(other) == task_id  # its cached state had nothing queued
        assert other.stats["fetches"] == fetches + 1


def test_a_writer_that_pushed_last_does_not_fetch(store: StateStore) -> None:
    submit(store, "a")
    fetches = store.stats["fetches"]
    for title in "bcde":
        submit(store, title)
    assert store.stats["fetches"] == fetches


def test_corrupt_task_file_is_reported_and_skipped(store: StateStore, remote_path: Path, tmp_path: Path) -> None:
    good = submit(store, "good")
    bad = submit(store, "bad")
    edit_branch(remote_path, tmp_path / "hand", {task_path(bad): "{not json"})
    state = store.read()
    assert bad not in state.tasks
    problem = state.problem_for("tasks", bad)
    assert problem is not None and problem.path == task_path(bad)
    assert "Invalid JSON" in problem.reason or "invalid" in problem.reason.lower()
    assert claim(store) == good
    assert claim(store) is None  # the corrupt one is skipped, not retried forever
    # Fixing the file brings the task back.
    fixed = json.loads(read_branch_file(remote_path, task_path(good)))
    fixed.update({"id": bad, "title": "bad but fixed", "status": "queued", "attempts": []})
    fixed.pop("lease", None)
    edit_branch(remote_path, tmp_path / "hand", {task_path(bad): json.dumps(fixed)})
    state = store.read()
    assert state.problem_for("tasks", bad) is None and not state.problems
    assert state.tasks[bad].title == "bad but fixed"


def test_invalid_task_fields_and_misplaced_files_are_problems(
    store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    task_id = submit(store, "x")
    raw = json.loads(read_branch_file(remote_path, task_path(task_id)))
    misplaced = {**raw, "id": "task-9"}
    raw["priority"] = "urgent!!"
    wrong_place = f"tasks/{'00' if task_shard('task-9') != '00' else '01'}/task-9.json"
    edit_branch(
        remote_path, tmp_path / "hand", {task_path(task_id): json.dumps(raw), wrong_place: json.dumps(misplaced)}
    )
    state = store.read()
    assert "priority" in str(state.problem_for("tasks", task_id))
    assert "belongs at" in str(state.problem_for("tasks", "task-9"))


def test_invalid_config_falls_back_to_default_modes_and_is_reported(
    store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    edit_branch(remote_path, tmp_path / "hand", {"config.json": '{"modes": {"default_mode": "nope"}}'})
    state = store.read()
    assert "config.json" in state.problems
    assert "simple" in state.modes.modes


def test_unknown_fields_written_by_a_newer_version_survive_a_rewrite(
    store: StateStore, remote_path: Path, tmp_path: Path
) -> None:
    task_id = submit(store, "x")
    raw = json.loads(read_branch_file(remote_path, task_path(task_id)))
    raw["labels_v9"] = ["from", "the", "future"]
    raw["source"]["sso_org"] = "acme"
    edit_branch(remote_path, tmp_path / "hand", {task_path(task_id): json.dumps(raw)})
    store.read()
    claim(store)
    after = json.loads(read_branch_file(remote_path, task_path(task_id)))
    assert after["status"] == "running"
    assert after["labels_v9"] == ["from", "the", "future"]
    assert after["source"]["sso_org"] == "acme"


def test_a_newer_schema_version_refuses_writes(store: StateStore, remote_path: Path, tmp_path: Path) -> None:
    edit_branch(remote_path, tmp_path / "hand", {"meta.json": json.dumps({"schema_version": 99})})
    store.read()  # reading is fine
    with pytest.raises(SchemaTooNew, match="pipx upgrade coordinator-queue"):
        submit(store, "x")


def test_a_rejection_that_is_not_a_race_is_an_error_not_a_retry_loop(store: StateStore, remote_path: Path) -> None:
    hook = remote_path / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'branch is protected' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    if os.name == "nt":
        pytest.skip("shell hooks")
    with pytest.raises(RemoteError, match="branch is protected"):
        submit(store, "x")


def test_what_the_remote_says_is_shown_escaped(store: StateStore, remote_path: Path) -> None:
    if os.name == "nt":
        pytest.skip("shell hooks")
    hook = remote_path / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\nprintf 'no\\033]0;owned\\007 way\\n' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(RemoteError) as err:
        submit(store, "x")
    assert "\x1b" not in str(err.value) and "\x07" not in str(err.value)
    assert "no\\x1b]0;owned\\x07 way" in str(err.value)


def test_snapshot_rereads_only_what_changed(store: StateStore, remote_path: Path, tmp_path: Path) -> None:
    state = store.read()
    now = datetime.now(UTC)
    tasks = [T.submit(state, T.SubmitRequest(title=f"t{i}", task_id=f"seed-{i}"), now).tasks[0] for i in range(300)]
    store.update(lambda s, n: T.Change(message="seed 300 tasks", tasks=tuple(tasks)))
    with other_store(remote_path, tmp_path, "b") as other:
        other.read()
        claim(store)  # another writer changes one task
        reads: list[str] = []
        original = ObjectCache.read

        def counting(self: ObjectCache, sha: str) -> tuple[str, bytes]:
            reads.append(sha)
            return original(self, sha)

        ObjectCache.read = counting  # type: ignore[method-assign]
        try:
            state = other.read()
        finally:
            ObjectCache.read = original  # type: ignore[method-assign]
        assert sum(1 for t in state.tasks.values() if t.status == TaskStatus.RUNNING) == 1
        # commit, root tree, tasks tree, one shard tree, one task blob: never the other 299 tasks.
        assert len(reads) <= 6, reads


def test_token_in_https_url_never_reaches_argv_or_messages() -> None:
    remote = Remote.parse("https://x-access-token:ghs_SECRET123@127.0.0.1:9/o/r.git")
    assert remote.url == "https://127.0.0.1:9/o/r.git"
    assert "ghs_SECRET123" not in repr(remote)
    env = remote.git_env()
    assert any(v.startswith("Authorization: Basic ") for v in env.values())
    assert remote.redact("fatal: https://x-access-token:ghs_SECRET123@host failed ghs_SECRET123") == (
        f"fatal: https://{REDACTED}@host failed {REDACTED}"
    )


def test_unreachable_https_remote_error_does_not_leak_the_token(tmp_path: Path) -> None:
    remote = Remote.parse("https://user:ghp_TOPSECRET@127.0.0.1:9/o/r.git")
    with StateStore(remote, cache_dir=tmp_path / "c") as store, pytest.raises(RemoteError) as err:
        store.read()
    assert "ghp_TOPSECRET" not in str(err.value)
    assert "127.0.0.1" in str(err.value)


def test_relative_local_remote_is_made_absolute(tmp_path: Path) -> None:
    assert Remote.parse("state.git", cwd=tmp_path).url == str((tmp_path / "state.git").resolve())
    assert Remote.parse("git@github.com:o/r.git").url == "git@github.com:o/r.git"
    assert not Remote.parse("git@github.com:o/r.git").is_local


def test_private_refs_of_dead_writers_are_cleaned_up(remote_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "shared-cache"
    with StateStore(Remote.parse(str(remote_path)), cache_dir=cache) as first:
        first.init()
        first.read()
        repo = next((cache / "remotes").glob("*.git"))
        from tests.gitutil import git

        tip = first.tip or ""
        git("update-ref", "refs/coordinator/w/1000-1-dead", tip, cwd=repo)  # a writer killed long ago
        recent = f"refs/coordinator/w/{int(__import__('time').time())}-2-alive"
        git("update-ref", recent, tip, cwd=repo)
    with StateStore(Remote.parse(str(remote_path)), cache_dir=cache) as second:
        second.read()
        refs = git("for-each-ref", "--format=%(refname)", "refs/coordinator/w", cwd=repo).split()
    assert "refs/coordinator/w/1000-1-dead" not in refs
    assert recent in refs
