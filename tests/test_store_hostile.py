"""A hostile state branch can't stop the queue: property tests over hand-written trees.

Every example writes a tree by hand with git itself (``git hash-object --literally`` keeps zero-padded and odd
modes, odd names, gitlinks to commits that do not exist), commits it onto the state branch of a bare remote, and
checks that reading never fails, every valid task is listed, every odd entry is reported with a reason, and
``submit`` and ``claim`` succeed while keeping every entry they did not change exactly as it was (only
zero-padded modes in the trees a write rewrote lose their leading zeros), with nothing new for ``git fsck``.
The example count is kept small for the suite; ``HOSTILE_EXAMPLES=300 pytest tests/test_store_hostile.py`` is a
deeper run (about eight minutes here).
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator.cli.app import cli
from coordinator.core import transitions as T
from coordinator.core.dashboard import STATUS_PATH
from coordinator.core.state import State
from coordinator.core.transitions import Change
from coordinator.models import BranchConfig, Meta, Runner, Task
from coordinator.store.layout import collection, path_of, shard_of
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from tests.conftest import make_bare_remote
from tests.gitutil import (
    RawEntry,
    commit_onto,
    fsck_messages,
    git,
    ls_tree,
    objects_between,
    raw_paths,
    read_raw_tree,
    write_blob,
    write_raw_tree,
)

BRANCH = "coordinator/state"
DIR_MODES = {b"40000", b"040000"}
#: What a write must never add to the branch, whatever the branch held before.
NEVER_OURS = {"zeroPaddedFilemode", "treeNotSorted", "duplicateEntries", "badTree", "missingSpaceBeforeDate"}
NOW = datetime(2030, 1, 1, tzinfo=UTC)
MISSING_COMMIT = "5" * 40
RUNNER = "fuzz-runner"


# --- a hand-written tree ---


@dataclass
class Node:
    """An entry to write: a blob (``data``), a directory (``children``) or an object that is not stored."""

    mode: bytes
    data: bytes | None = None
    children: dict[bytes, Node] | None = None
    missing: str | None = None
    valid: bool = False  # a record coordinator must read (a task or runner file at its right place)

    def store(self, repo: Path) -> str:
        if self.children is not None:
            entries = [RawEntry(child.mode, name, child.store(repo)) for name, child in self.children.items()]
            return write_raw_tree(repo, entries)
        if self.data is not None:
            return write_blob(repo, self.data)
        assert self.missing is not None
        return self.missing


def git_reads_as(mode: bytes) -> str:
    """What git makes of a mode: it parses it as octal and looks at the file-type bits only."""
    kind = int(mode, 8) & 0o170000
    return {0o040000: "dir", 0o100000: "file", 0o120000: "symlink"}.get(kind, "gitlink")


def garbage_dir() -> dict[bytes, Node]:
    return {b"junk.txt": Node(b"100644", data=b"not a record")}


#: Hostile entries by kind: the mode as written and what it holds (git's own reading of the mode decides what
#: object it must be: a directory for 40755, nothing at all for a gitlink-like mode).
KINDS: dict[str, tuple[bytes, str]] = {
    "file": (b"100644", "blob"),
    "executable": (b"100755", "blob"),
    "symlink": (b"120000", "blob"),
    "gitlink": (b"160000", "missing"),
    "dir": (b"40000", "dir"),
    "zero-padded dir": (b"040000", "dir"),
    "mode 100600": (b"100600", "blob"),
    "zero-padded file": (b"0100644", "blob"),
    "mode 120777": (b"120777", "blob"),
    "mode 140000": (b"140000", "missing"),
    "mode 1": (b"1", "missing"),
    "mode 40755": (b"40755", "dir"),
}

NAMES = st.one_of(
    st.sampled_from(
        [
            b"notes.txt",
            b"task-1.json.bak",
            b".hidden",
            b"a.b.c",
            b"my task.json",
            b"task 2.json",
            "tâche-1.json".encode(),
            "日本.json".encode(),
            b"\xff\xfe.json",
            b"clear\x1b[2J.json",
            b"two\nlines.json",
            "\u202enosj.1-ksat".encode(),
            b"TASK-1.JSON",
            b"task-3",
            b"task-1.json",
            b"task-40.json",
            b"..",
            b".git",
            b"ab",
            b"zz",
            b"-",
            b"x" * 120,
        ]
    ),
    st.text(alphabet="abz019 ._-é日", min_size=1, max_size=12).map(str.encode),
)
CONTENT = st.sampled_from([b"{not json", b"", b"\xff\xfe\x00", b"[]", b'{"id": 5}', b"null", b"../meta.json"])


def hostile_node(kind: str, content: bytes) -> Node:
    mode, holds = KINDS[kind]
    if holds == "blob":
        return Node(mode, data=content)
    if holds == "dir":
        return Node(mode, children=garbage_dir())
    return Node(mode, missing=MISSING_COMMIT)


def make_tasks(count: int) -> list[Task]:
    state = State()
    return [
        T.submit(state, T.SubmitRequest(title=f"valid {i}", task_id=f"task-{i}"), NOW).tasks[0]
        for i in range(1, count + 1)
    ]


@dataclass
class Branch:
    """A hand-written state branch: the tree, the tasks coordinator must read, the problems it must report."""

    root: dict[bytes, Node]
    tasks: list[Task]
    label: list[str] = field(default_factory=list)

    def expected_problems(self) -> set[str]:
        """Paths coordinator must report, derived from the tree by the rules of the contract."""
        found: set[bytes] = set()
        for name, node in self.root.items():
            if name in (b"tasks", b"runners"):
                found |= _collection_problems(name, node, sharded=name == b"tasks")
            elif name in (b"config.json", b"meta.json"):
                if not node.valid:
                    found.add(name)
            elif git_reads_as(node.mode) not in ("file", "dir"):
                found.add(name)
        return {path.decode("utf-8", "surrogateescape") for path in found}


def _collection_problems(top: bytes, node: Node, *, sharded: bool) -> set[bytes]:
    if git_reads_as(node.mode) != "dir" or node.children is None:
        return {top}
    found: set[bytes] = set()
    folders = node.children.items() if sharded else [(b"", node)]
    for shard, folder in folders:
        where = top + b"/" + shard if sharded else top
        if git_reads_as(folder.mode) != "dir" or folder.children is None:
            found.add(where)
            continue
        found |= {where + b"/" + name for name, child in folder.children.items() if not child.valid}
    return found


@st.composite
def hostile_branches(draw: st.DrawFn) -> Branch:
    tasks = make_tasks(draw(st.integers(0, 4)))
    meta = Meta(created_at=NOW, next_task_number=len(tasks) + 1)
    root: dict[bytes, Node] = {b"meta.json": Node(b"100644", data=meta.to_json(), valid=True)}
    branch = Branch(root, tasks)
    meta_kind = draw(st.sampled_from(["valid", "valid", "valid", "garbage", "symlink", "gitlink", "dir"]))
    branch.label.append(f"meta {meta_kind}")
    if meta_kind != "valid":  # still the marker of a state branch, but unreadable
        root[b"meta.json"] = hostile_node({"garbage": "file"}.get(meta_kind, meta_kind), b"{not json")
    shards: dict[bytes, Node] = {}
    for task in tasks:
        shard = shards.setdefault(
            shard_of(task.id).encode(), Node(draw(st.sampled_from(sorted(DIR_MODES))), children={})
        )
        assert shard.children is not None
        mode = draw(st.sampled_from([b"100644", b"100755"]))
        shard.children[f"{task.id}.json".encode()] = Node(mode, data=task.to_json(), valid=True)
    runners: dict[bytes, Node] = {}

    config = draw(st.sampled_from(["valid", "absent", "garbage", "dir", "symlink", "gitlink"]))
    branch.label.append(f"config {config}")
    if config == "valid":
        root[b"config.json"] = Node(b"100644", data=BranchConfig().to_json(), valid=True)
    elif config != "absent":
        kind = {"garbage": "file"}.get(config, config)
        root[b"config.json"] = hostile_node(kind, b"{not json")

    for place, name, kind, content in draw(
        st.lists(
            st.tuples(
                st.sampled_from(["root", "tasks", "shard", "runners"]), NAMES, st.sampled_from(sorted(KINDS)), CONTENT
            ),
            max_size=6,
        )
    ):
        if place == "root":
            folder = root
        elif place == "tasks":
            folder = shards
        elif place == "runners":
            folder = runners
        else:
            key = next(iter(shards), shard_of("task-40").encode())
            shard = shards.setdefault(key, Node(b"40000", children={}))
            if shard.children is None:
                continue
            folder = shard.children
        if name in folder or (place == "root" and name in (b"meta.json", b"config.json", b"tasks", b"runners")):
            continue
        folder[name] = hostile_node(kind, content)
        branch.label.append(f"{kind} {place}/{name!r}")

    _structural(draw, branch, shards, runners, len(tasks))
    if shards and b"tasks" not in root:
        root[b"tasks"] = Node(draw(st.sampled_from(sorted(DIR_MODES))), children=shards)
    if runners and b"runners" not in root:
        root[b"runners"] = Node(b"40000", children=runners)
    return branch


def _structural(
    draw: st.DrawFn, branch: Branch, shards: dict[bytes, Node], runners: dict[bytes, Node], count: int
) -> None:
    """A file where a directory is expected, or a directory where a file is."""
    case = draw(st.sampled_from(["none", "tasks", "next shard", "runners", "task file is a dir"]))
    kind = draw(st.sampled_from(["file", "symlink", "gitlink", "mode 40755"]))
    branch.label.append(f"structure: {case} ({kind})")
    if case == "tasks":
        branch.root[b"tasks"] = hostile_node(kind, b"{}")
        branch.tasks = []  # they are not on the branch any more
    elif case == "runners":
        branch.root[b"runners"] = hostile_node(kind, b"{}")
    elif case == "next shard":
        shard = shard_of(f"task-{count + 1}").encode()
        if shard not in shards:
            shards[shard] = hostile_node(kind, b"{}")
    elif case == "task file is a dir":
        shard = shards.setdefault(shard_of("task-60").encode(), Node(b"40000", children={}))
        if shard.children is not None:
            shard.children[b"task-60.json"] = Node(b"40000", children=garbage_dir())


# --- the world the examples share ---


@dataclass
class World:
    remote: Path
    scratch: Path
    steady: StateStore  # reads every example incrementally; must agree with a fresh reader
    counter: Iterator[int] = field(default_factory=itertools.count)

    def fresh_store(self) -> StateStore:
        return StateStore(Remote.parse(str(self.remote)), cache_dir=self.scratch / f"cache-{next(self.counter)}")

    def tip(self) -> str:
        return git("rev-parse", BRANCH, cwd=self.remote).strip()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    scratch = tmp_path_factory.mktemp("hostile")
    remote = make_bare_remote(scratch / "remote.git")
    with StateStore(Remote.parse(str(remote)), cache_dir=scratch / "steady") as steady:
        steady.init()
        yield World(remote, scratch, steady)


def comparable(state: State) -> tuple[object, ...]:
    return (
        {k: t.model_dump() for k, t in state.tasks.items()},
        {k: r.model_dump() for k, r in state.runners.items()},
        state.meta.model_dump(),
        state.modes.model_dump(),
        {p.path: (p.reason, p.collection, p.key) for p in state.problems.values()},
    )


def written_paths(change: Change) -> set[str]:
    """The files a change wrote or deleted (what a write may touch, with the directories above them)."""
    records = [*change.tasks, *change.runners, *change.records, *(m for m in (change.meta, change.config) if m)]
    paths = {path_of(record) for record in records} | {STATUS_PATH, *(path for path, _ in change.files)}
    return paths | {collection(directory).path(key) for directory, key in change.deletes}


def check_untouched_entries_kept(remote: Path, old: str, new: str, written: set[str]) -> None:
    """Every entry the write did not change is in the new tree with exactly its old mode and object."""
    touched = {p.encode() for p in written}
    rewritten = {b"/".join(p.split(b"/")[:i]) for p in touched for i in range(1, p.count(b"/") + 1)}
    before, after = ls_tree(remote, old), ls_tree(remote, new)

    def replaced(path: bytes) -> bool:  # written or deleted, or inside a directory a written file replaced
        return any(path == t or path.startswith(t + b"/") for t in touched)

    for path, listed in before.items():
        if replaced(path):
            continue
        if path in rewritten:
            assert after[path][1] == "tree", f"{path!r} must be a directory now: {after.get(path)}"
            continue
        assert after.get(path) == listed, f"{path!r} changed from {listed} to {after.get(path)}"
    assert set(after) - set(before) <= touched | rewritten
    raw_before, raw_after = raw_paths(remote, f"{old}^{{tree}}"), raw_paths(remote, f"{new}^{{tree}}")
    for path, entry in raw_before.items():
        if replaced(path) or path in rewritten:
            continue
        kept = raw_after[path]
        parent = path.rpartition(b"/")[0]
        in_rewritten_tree = parent == b"" or parent in rewritten
        assert kept.sha == entry.sha
        if in_rewritten_tree:
            assert int(kept.mode, 8) == int(entry.mode, 8) and not kept.mode.startswith(b"0"), (path, entry, kept)
        else:
            assert kept.mode == entry.mode, (path, entry, kept)
    for path in touched | rewritten:
        if path in raw_after:
            assert not raw_after[path].mode.startswith(b"0")


def check_fsck_finds_nothing_new(remote: Path, old: str, new: str) -> None:
    """``git fsck --strict`` says nothing about the objects the write added that it did not say about the branch
    before (entries kept as they were carry their old names and modes), and never a zero-padded mode."""
    messages = fsck_messages(remote)
    added = objects_between(remote, new, old)
    inherited = set().union(*(ids for sha, ids in messages.items() if sha not in added))
    for sha in added:
        ours = messages.get(sha, set())
        assert not ours & NEVER_OURS, f"{sha}: {ours}"
        assert ours <= inherited, f"{sha}: {ours - inherited}"


def status_problems(remote: Path) -> dict[str, str]:
    result = CliRunner().invoke(cli, ["--remote", str(remote), "status", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return {p["path"]: p["reason"] for p in json.loads(result.stdout)["problems"]}


def write_and_check(world: World, store: StateStore, transition: T.Transition) -> Change:
    old = world.tip()
    change = store.update(transition)
    new = world.tip()
    assert new != old and store.tip == new
    check_untouched_entries_kept(world.remote, old, new, written_paths(change))
    check_fsck_finds_nothing_new(world.remote, old, new)
    return change


@settings(
    max_examples=int(os.environ.get("HOSTILE_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(branch=hostile_branches())
def test_a_hostile_tree_never_stops_reading_or_writing(world: World, branch: Branch) -> None:
    tree = Node(b"40000", children=branch.root).store(world.remote)
    commit_onto(world.remote, tree, world.tip())
    expected = branch.expected_problems()

    with world.fresh_store() as store:
        state = store.read()
        assert {t: state.tasks[t].model_dump() for t in state.tasks} == {t.id: t.model_dump() for t in branch.tasks}
        assert set(state.problems) == expected, branch.label
        assert all(p.reason and p.path == path for path, p in state.problems.items())  # kept exactly
        assert comparable(world.steady.read()) == comparable(state)  # incremental reading agrees
        assert set(status_problems(world.remote)) == expected  # --json is exact

        submitted = write_and_check(world, store, lambda s, now: T.submit(s, T.SubmitRequest(title="new work"), now))
        assert submitted.task is not None
        beat = Runner(name=RUNNER, last_heartbeat=NOW)
        ttl = timedelta(minutes=5)
        claimed = write_and_check(
            world,
            store,
            lambda s, now: T.claim(s, runner=RUNNER, capabilities=(), lease_ttl=ttl, now=now, heartbeat=beat),
        )
        assert claimed.task is not None

        after = store.read()
        assert set(after.tasks) == {t.id for t in branch.tasks} | {submitted.task.id}
        gone = written_paths(submitted) | written_paths(claimed)
        still = {p for p in expected if not any(p == g or g.startswith(p + "/") for g in gone)}
        assert set(after.problems) == still, branch.label
    with world.fresh_store() as cold:
        assert comparable(cold.read()) == comparable(world.steady.read())


# --- the reported symptoms and what the examples above found, one by one ---


def state_root(tasks: list[Task], tasks_mode: bytes = b"40000") -> dict[bytes, Node]:
    """A well-formed state branch holding ``tasks`` (the tasks directory written with ``tasks_mode``)."""
    shards: dict[bytes, Node] = {}
    for task in tasks:
        shard = shards.setdefault(shard_of(task.id).encode(), Node(b"40000", children={}))
        assert shard.children is not None
        shard.children[f"{task.id}.json".encode()] = Node(b"100644", data=task.to_json(), valid=True)
    meta = Meta(created_at=NOW, next_task_number=len(tasks) + 1)
    root = {
        b"meta.json": Node(b"100644", data=meta.to_json(), valid=True),
        b"config.json": Node(b"100644", data=BranchConfig().to_json(), valid=True),
    }
    if shards:
        root[b"tasks"] = Node(tasks_mode, children=shards)
    return root


def hand_commit(remote: Path, root: dict[bytes, Node]) -> str:
    parent = git("rev-parse", "--verify", "--quiet", BRANCH, cwd=remote).strip() if _has_branch(remote) else None
    return commit_onto(remote, Node(b"40000", children=root).store(remote), parent)


def _has_branch(remote: Path) -> bool:
    return bool(git("for-each-ref", f"refs/heads/{BRANCH}", cwd=remote).strip())


def cli_run(remote: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--remote", str(remote), *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_zero_padded_tasks_directory_lists_its_tasks_and_submit_keeps_them(remote_path: Path) -> None:
    tasks = make_tasks(3)
    old = hand_commit(remote_path, state_root(tasks, tasks_mode=b"040000"))
    code, listed = cli_run(remote_path, "list")
    assert code == 0 and all(t.id in listed for t in tasks), listed
    code, out = cli_run(remote_path, "submit", "four")
    assert (code, out.strip()) == (0, "task-4")
    after = ls_tree(remote_path, BRANCH)
    for task in tasks:
        assert (
            after[f"tasks/{shard_of(task.id)}/{task.id}.json".encode()]
            == ls_tree(remote_path, old)[f"tasks/{shard_of(task.id)}/{task.id}.json".encode()]
        )
    root = {e.name: e.mode for e in read_raw_tree(remote_path, f"{BRANCH}^{{tree}}")}
    assert root[b"tasks"] == b"40000"  # rewritten, so written the way strict remotes accept


def test_a_root_gitlink_is_reported_and_never_stops_submit_or_claim(remote_path: Path) -> None:
    root = state_root(make_tasks(1))
    root[b"vendored"] = Node(b"160000", missing=MISSING_COMMIT)
    hand_commit(remote_path, root)
    assert cli_run(remote_path, "submit", "two") == (0, "task-2\n")
    code, out = cli_run(remote_path, "claim", "--runner", "box-1")
    assert code == 0 and out.startswith("task-"), out
    assert status_problems(remote_path) == {"vendored": "is a submodule (gitlink); coordinator ignores it"}
    assert ls_tree(remote_path, BRANCH)[b"vendored"] == ("160000", "commit", MISSING_COMMIT)


def test_a_directory_with_an_odd_mode_is_read_and_kept_as_git_reads_it(remote_path: Path, tmp_path: Path) -> None:
    # git reads 40755 as a directory; reading it as anything else hid these tasks, and the next write dropped them.
    tasks = make_tasks(2)
    root = state_root(tasks, tasks_mode=b"40755")
    root[b"a.b"] = Node(b"100644", data=b"sorted before 'a/' by git, after 'a' by a naive sort")
    root[b"a"] = Node(b"40755", children=garbage_dir())
    hand_commit(remote_path, root)
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "c") as store:
        assert sorted(store.read().tasks) == ["task-1", "task-2"]
        assert not store.read().problems
        old = store.tip or ""
        change = store.update(lambda s, now: T.submit(s, T.SubmitRequest(title="three"), now))
        check_untouched_entries_kept(remote_path, old, store.tip or "", written_paths(change))
        check_fsck_finds_nothing_new(remote_path, old, store.tip or "")
        assert sorted(store.read().tasks) == ["task-1", "task-2", "task-3"]


def test_zero_padded_and_odd_file_modes_are_read_as_files_and_never_written_zero_padded(
    remote_path: Path, tmp_path: Path
) -> None:
    tasks = make_tasks(2)
    root = state_root(tasks)
    shard = root[b"tasks"].children[shard_of("task-1").encode()]  # type: ignore[index]
    shard.children[b"task-1.json"].mode = b"0100644"  # type: ignore[index]
    root[b"notes.txt"] = Node(b"0100644", data=b"hand-made")
    root[b"private.txt"] = Node(b"100600", data=b"hand-made too")
    hand_commit(remote_path, root)
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "c") as store:
        state = store.read()
        assert sorted(state.tasks) == ["task-1", "task-2"] and not state.problems
        old = store.tip or ""
        change = store.update(lambda s, now: T.submit(s, T.SubmitRequest(title="three"), now))
        check_untouched_entries_kept(remote_path, old, store.tip or "", written_paths(change))
        check_fsck_finds_nothing_new(remote_path, old, store.tip or "")
    modes = {e.name: e.mode for e in read_raw_tree(remote_path, f"{BRANCH}^{{tree}}")}
    assert modes[b"notes.txt"] == b"100644"
    assert modes[b"private.txt"] == b"100600"  # odd, but nothing strict hosts refuse: kept as it was


def test_one_blob_meant_as_two_records_is_judged_as_each(remote_path: Path, tmp_path: Path) -> None:
    # The parse cache once held one verdict per blob: a config blob that failed as a task then failed as config.
    root = state_root([])
    config = root[b"config.json"]
    root[b"tasks"] = Node(
        b"40000", children={shard_of("task-9").encode(): Node(b"40000", children={b"task-9.json": config})}
    )
    hand_commit(remote_path, root)
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "c") as store:
        assert set(store.read().problems) == {f"tasks/{shard_of('task-9')}/task-9.json"}
        root[b"config.json"] = Node(b"100644", data=json.dumps(BranchConfig().model_dump(mode="json")).encode())
        hand_commit(remote_path, root)
        assert "config.json" not in store.read().problems
        root[b"config.json"] = config
        hand_commit(remote_path, root)
        assert "config.json" not in store.read().problems


def test_an_unreadable_meta_reads_as_the_defaults_whether_read_fresh_or_incrementally(
    remote_path: Path, tmp_path: Path
) -> None:
    root = state_root(make_tasks(3))
    hand_commit(remote_path, root)
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "steady") as steady:
        assert steady.read().meta.next_task_number == 4
        root[b"meta.json"] = Node(b"120000", data=b"../elsewhere")
        hand_commit(remote_path, root)
        with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "fresh") as fresh:
            assert comparable(steady.read()) == comparable(fresh.read())
        assert "meta.json" in steady.state.problems
        change = steady.update(lambda s, now: T.submit(s, T.SubmitRequest(title="four"), now))
        assert change.task is not None and change.task.id == "task-4"  # ids are never reused
        assert "meta.json" not in steady.read().problems  # the write put a real meta.json back


def test_a_delete_under_a_file_or_of_a_missing_file_changes_nothing(remote_path: Path, tmp_path: Path) -> None:
    root = state_root(make_tasks(1))
    root[b"runners"] = Node(b"100644", data=b"a file where a directory belongs")
    root[b"empty"] = Node(b"40000", children={})
    hand_commit(remote_path, root)
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "c") as store:
        store.read()
        old = store.tip or ""
        gone = (("runners", "box-1"), ("tasks", "task-77"))
        store.update(lambda s, now: Change(message="clean up", meta=s.meta, deletes=gone))
        before, after = ls_tree(remote_path, old), ls_tree(remote_path, BRANCH)
        rewritten = (b"meta.json", STATUS_PATH.encode())  # STATUS.md is rewritten by every commit
        assert {p: v for p, v in after.items() if p not in rewritten} == {
            p: v for p, v in before.items() if p not in rewritten
        }


def test_names_and_reasons_are_shown_escaped_on_one_line(remote_path: Path) -> None:
    # Anyone who can push to the branch chooses these bytes; they must not drive the terminal of whoever looks.
    root = state_root([])
    root[b"evil\x1b[2J\nname"] = Node(b"120000", data=b"meta.json")
    hostile_config = {"modes": {"default_mode": "simple", "modes": {"\x1b]0;owned\x07": {"model": 5}}}}
    root[b"config.json"] = Node(b"100644", data=json.dumps(hostile_config).encode())
    hand_commit(remote_path, root)
    code, out = cli_run(remote_path, "status")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "  evil\\x1b[2J\\nname: is a symbolic link; coordinator ignores it" in out.splitlines()
    config_line = next(line for line in out.splitlines() if line.startswith("  config.json: "))
    assert "\\x1b]0;owned\\x07" in config_line
