"""Several OS processes writing one state branch at once: exactly-once claims, no lost updates."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from coordinator.core import transitions as T
from coordinator.models import TaskStatus
from coordinator.store.store import StateStore
from tests.gitutil import branch_log

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def seed(store: StateStore, count: int) -> None:
    state = store.read()
    now = datetime.now(UTC)
    tasks = tuple(
        T.submit(state, T.SubmitRequest(title=f"t{i}", task_id=f"job-{i:03d}"), now).tasks[0] for i in range(count)
    )
    store.update(lambda s, n: T.Change(message=f"seed {count} tasks", tasks=tasks))


def run_workers(remote: Path, tmp_path: Path, names: list[str], shared_cache: bool) -> dict[str, list[str]]:
    start = tmp_path / "go"
    procs = {}
    for name in names:
        cache = tmp_path / ("cache-shared" if shared_cache else f"cache-{name}")
        out = tmp_path / f"{name}.out"
        procs[name] = (
            subprocess.Popen(
                [sys.executable, "-m", "tests.claim_worker", str(remote), str(cache), name, str(out), str(start)],
                cwd=ROOT,
            ),
            out,
        )
    start.touch()
    claims = {}
    for name, (proc, out) in procs.items():
        assert proc.wait(timeout=180) == 0, f"worker {name} failed"
        claims[name] = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    return claims


@pytest.mark.parametrize("shared_cache", [False, True], ids=["own-caches", "shared-cache"])
def test_four_processes_claim_100_tasks_exactly_once(
    store: StateStore, remote_path: Path, tmp_path: Path, shared_cache: bool
) -> None:
    seed(store, 100)
    claims = run_workers(remote_path, tmp_path, ["w1", "w2", "w3", "w4"], shared_cache)

    everything = [task_id for ids in claims.values() for task_id in ids]
    duplicates = [task_id for task_id, n in Counter(everything).items() if n > 1]
    assert duplicates == []
    assert sorted(everything) == [f"job-{i:03d}" for i in range(100)]
    assert sum(1 for ids in claims.values() if ids) >= 2, "the processes did not actually run concurrently"

    state = store.read()
    for name, ids in claims.items():
        for task_id in ids:
            task = state.tasks[task_id]
            assert task.status == TaskStatus.RUNNING
            assert len(task.attempts) == 1
            assert task.lease is not None and task.lease.runner == name
    # no update lost: one commit per claim, on top of init + seed
    subjects = branch_log(remote_path)
    assert len(subjects) == 100 + 2
    assert sum(1 for s in subjects if s.startswith("claim ")) == 100


def test_concurrent_cli_submits_lose_nothing(store: StateStore, remote_path: Path, tmp_path: Path) -> None:
    """Three `coordinator submit` loops at once (sharing one machine's cache): every task lands, ids unique."""
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from coordinator.cli.app import cli\n"
        "for i in range(8):\n"
        "    r = CliRunner().invoke(cli, ['--remote', sys.argv[1], 'submit', f'{sys.argv[2]}-{i}'])\n"
        "    assert r.exit_code == 0, (r.output, repr(r.exception), r.exc_info)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(remote_path), name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("alice", "bob", "carol")
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    state = store.read()
    titles = sorted(t.title for t in state.tasks.values())
    assert titles == sorted(f"{n}-{i}" for n in ("alice", "bob", "carol") for i in range(8))
    assert sorted(state.tasks) == sorted(f"task-{i}" for i in range(1, 25))
