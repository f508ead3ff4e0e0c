"""Claim throughput and latency of the git-branch state store, against a raw git compare-and-swap baseline.

Run ``python benchmarks/claim.py`` (a few minutes) or ``python benchmarks/claim.py --quick`` (about a minute).
Everything happens in temporary directories (a local bare repository is the remote); nothing is written to the
user's cache folder. The script prints a report and always exits 0: targets are shown as PASS/MISS, not asserted.

Sections:
1. Raw baseline: the least work one claim needs with git's own tools and the store's transport (one blob, one
   tree, one commit written by one-shot plumbing commands, then a plain ``git push <bare path> <sha>:<ref>``
   from a local cache repository; fetch only after losing a race), at N=1 and N=4 processes.
2. The store: ``StateStore.update(claim ...)`` in a loop until nothing is claimable, at N=1 and N=4 processes,
   then a check that every task was claimed exactly once.
3. Growth: in-process claim p50 with 200 vs 10,000 tasks on the branch, and with 10,000 tasks ever submitted of
   which 9,800 ended and were archived by ``coordinator gc`` (200 live), with a per-phase breakdown.
4. The store's in-process p50 divided by the raw baseline's p50.
Sections 3 and 4 take their claims in alternating blocks (raw, 200, 10,000, 10,000 archived), so all ratios compare
figures from the same time window even when other work on the machine comes and goes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from coordinator.store.store import RACE_SPELLINGS as STORE_RACE_SPELLINGS

BRANCH = "coordinator/state"
RAW_REF = "refs/heads/x"
LEASE_TTL = timedelta(hours=1)  # long enough that no lease expires during a run

GROWTH_TARGET = 1.3  # p50 at 10,000 tasks / p50 at 200 tasks
ARCHIVE_TARGET = 1.1  # p50 at 10,000 ever submitted (9,800 archived) / p50 at 200 tasks
BASELINE_TARGET = 2.0  # store in-process p50 / raw baseline p50

#: Every way git says "another push landed first": the store's own list, so both loops judge races alike.
RACE_SPELLINGS = STORE_RACE_SPELLINGS


@dataclass(frozen=True)
class Sizes:
    """How much work each section does (``--quick`` shrinks it)."""

    raw_claims: int  # raw baseline, N=1
    raw_claims_per_writer: int  # raw baseline, N=4
    store_tasks: int  # tasks seeded for the N=1 and N=4 store runs
    growth_small: int
    growth_large: int
    growth_claims: int  # claims timed at each growth size
    writers: int = 4
    warmup: int = 3


FULL = Sizes(
    raw_claims=200, raw_claims_per_writer=50, store_tasks=200, growth_small=200, growth_large=10_000, growth_claims=100
)
QUICK = Sizes(
    raw_claims=100, raw_claims_per_writer=25, store_tasks=100, growth_small=200, growth_large=10_000, growth_claims=40
)


# --- small helpers ---


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """p50 and p95 of ``samples`` (seconds), interpolated within the observed range."""
    if len(samples) < 2:
        only = samples[0] if samples else float("nan")
        return only, only
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94]


def ms(seconds: float) -> str:
    """Seconds as a short millisecond figure."""
    return f"{seconds * 1000:7.1f} ms"


def verdict(value: float, target: float) -> str:
    """PASS when ``value`` is within ``target`` (lower is better)."""
    return "PASS" if value <= target else "MISS"


def git_environment() -> dict[str, str]:
    """The environment the store runs git with, plus an identity so commit-tree works anywhere."""
    from coordinator.gitcmd import git_env

    return git_env(
        {
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@localhost",
        }
    )


def git(args: Sequence[str], cwd: Path, env: dict[str, str], data: bytes | None = None) -> tuple[int, str]:
    """Run one git command; returns its exit code and stdout+stderr."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        input=data,
        stdin=None if data is not None else subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return proc.returncode, proc.stdout.decode() + proc.stderr.decode()


def git_ok(args: Sequence[str], cwd: Path, env: dict[str, str], data: bytes | None = None) -> str:
    """Run one git command that must succeed; returns its stripped stdout."""
    rc, out = git(args, cwd, env, data)
    if rc != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {out.strip()}")
    return out.strip()


def short_jitter(rng: random.Random, attempt: int) -> None:
    """The store's backoff after a lost race (a few ms of full jitter), so both sides retry alike."""
    time.sleep(rng.uniform(0, 0.005 * min(attempt, 4)))


@contextmanager
def temp_dir(label: str) -> Iterator[Path]:
    """A scratch directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"coordinator-bench-{label}-") as path:
        yield Path(path)


# --- 1. raw git CAS baseline ---


class RawWriter:
    """One writer doing the minimal plumbing claim loop against a bare remote."""

    def __init__(self, remote: Path, cache: Path, name: str) -> None:
        self.remote = str(remote)
        self.cache = cache
        self.name = name
        self.env = git_environment()
        self.rng = random.Random()
        self.tip = ""
        self.pushed_last = False
        self.rejections = 0
        self.fetches = 0
        if not (cache / "HEAD").exists():
            git_ok(["init", "--bare", "--quiet", str(cache)], cache.parent, self.env)
        self.fetch()

    def fetch(self) -> None:
        """Fetch only the branch (as the store does) and read the tip from the fetched ref."""
        self.fetches += 1
        git_ok(
            ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.remote, f"+{RAW_REF}:refs/bench/tip"],
            self.cache,
            self.env,
        )
        # fetch writes a loose ref: reading the file costs no process (the store asks its long-lived cat-file).
        ref = self.cache / "refs" / "bench" / "tip"
        self.tip = (
            ref.read_text().strip() if ref.exists() else git_ok(["rev-parse", "refs/bench/tip"], self.cache, self.env)
        )

    def build(self, number: int) -> str:
        """One blob (the changed task file), a tree holding it, a commit on the tip: three plumbing calls."""
        task = f'{{"id": "task-{number}", "status": "running", "runner": "{self.name}", "at": {time.time()}}}\n'
        blob = git_ok(["hash-object", "-w", "--stdin"], self.cache, self.env, task.encode())
        tree = git_ok(["mktree"], self.cache, self.env, f"100644 blob {blob}\ttask-{number}.json\n".encode())
        return git_ok(
            ["commit-tree", tree, "-p", self.tip, "-m", f"claim task-{number} by {self.name}"], self.cache, self.env
        )

    def push(self, commit: str) -> bool:
        """Plain (never forced) push; False when another writer's push landed first."""
        rc, out = git(["push", "--porcelain", "--no-verify", self.remote, f"{commit}:{RAW_REF}"], self.cache, self.env)
        if rc == 0:
            return True
        if any(spelling in out for spelling in RACE_SPELLINGS):
            self.rejections += 1
            return False
        raise RuntimeError(f"push failed: {out.strip()}")

    def claim(self, number: int) -> tuple[float, float]:
        """One claim until it lands; returns (time building objects, time pushing) of the winning attempt."""
        attempt = 0
        while True:
            if not self.pushed_last:
                self.fetch()
            started = time.perf_counter()
            commit = self.build(number)
            built = time.perf_counter()
            if self.push(commit):
                self.tip, self.pushed_last = commit, True
                return built - started, time.perf_counter() - built
            self.pushed_last = False
            attempt += 1
            short_jitter(self.rng, attempt)


def raw_seed(remote: Path, scratch: Path) -> None:
    """The bare remote with a first commit on the raw branch."""
    env = git_environment()
    git_ok(["init", "--bare", "--quiet", str(remote)], scratch, env)
    blob = git_ok(["hash-object", "-w", "--stdin"], remote, env, b"{}\n")
    tree = git_ok(["mktree"], remote, env, f"100644 blob {blob}\tmeta.json\n".encode())
    commit = git_ok(["commit-tree", tree, "-m", "init"], remote, env)
    git_ok(["update-ref", RAW_REF, commit], remote, env)


def raw_worker(remote: str, cache: str, name: str, claims: int, barrier: Any, results: Any) -> None:
    """A baseline writer process: claim ``claims`` times, report latencies."""
    writer = RawWriter(Path(remote), Path(cache), name)
    barrier.wait()
    latencies: list[float] = []
    start = time.perf_counter()
    for number in range(claims):
        began = time.perf_counter()
        writer.claim(number)
        latencies.append(time.perf_counter() - began)
    results.put(
        {
            "name": name,
            "latencies": latencies,
            "start": start,
            "end": time.perf_counter(),
            "rejections": writer.rejections,
            "fetches": writer.fetches,
        }
    )


@dataclass
class RunResult:
    """What one measured run produced."""

    writers: int
    latencies: list[float]
    wall: float
    retries: int
    fetches: int
    longest: float = 0.0  # the slowest update() call, including one that found nothing to claim
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Claims per second over the whole run."""
        return len(self.latencies) / self.wall if self.wall > 0 else float("nan")


def raw_single(sizes: Sizes) -> tuple[RunResult, list[float], list[float]]:
    """The baseline in this process at N=1; also returns the object-building and push times."""
    with temp_dir("raw1") as scratch:
        remote = scratch / "remote.git"
        raw_seed(remote, scratch)
        writer = RawWriter(remote, scratch / "cache.git", "w0")
        for number in range(sizes.warmup):
            writer.claim(-1 - number)
        latencies, builds, pushes = [], [], []
        start = time.perf_counter()
        for number in range(sizes.raw_claims):
            began = time.perf_counter()
            build, push = writer.claim(number)
            latencies.append(time.perf_counter() - began)
            builds.append(build)
            pushes.append(push)
        wall = time.perf_counter() - start
        return RunResult(1, latencies, wall, writer.rejections, writer.fetches - 1, max(latencies)), builds, pushes


def raw_multi(sizes: Sizes) -> RunResult:
    """The baseline with ``sizes.writers`` processes racing on one branch; checks no push was lost."""
    n = sizes.writers
    ctx = mp.get_context("spawn")
    with temp_dir("rawN") as scratch:
        remote = scratch / "remote.git"
        raw_seed(remote, scratch)
        barrier, results = ctx.Barrier(n), ctx.Queue()
        procs = [
            ctx.Process(
                target=raw_worker,
                args=(
                    str(remote),
                    str(scratch / f"cache{i}.git"),
                    f"w{i}",
                    sizes.raw_claims_per_writer,
                    barrier,
                    results,
                ),
            )
            for i in range(n)
        ]
        for proc in procs:
            proc.start()
        reports = [results.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
        count = int(git_ok(["rev-list", "--count", RAW_REF], remote, git_environment()))
        expected = 1 + n * sizes.raw_claims_per_writer
        result = RunResult(
            n,
            [x for r in reports for x in r["latencies"]],
            max(r["end"] for r in reports) - min(r["start"] for r in reports),
            sum(r["rejections"] for r in reports),
            sum(r["fetches"] for r in reports) - n,
            max(x for r in reports for x in r["latencies"]),
        )
        lost = ", ".join(f"{r['name']} {r['rejections']}" for r in sorted(reports, key=lambda r: r["name"]))
        result.notes.append(f"each writer makes {sizes.raw_claims_per_writer} claims; lost races: {lost}")
        result.notes.append(
            f"commits on the branch: {count} (expected {expected}: "
            f"{'no lost update' if count == expected else 'LOST UPDATES'})"
        )
        return result


# --- 2. the store ---


def make_ended_tasks(count: int, first: int) -> tuple[Any, ...]:
    """``count`` tasks that succeeded a month ago (what ``coordinator gc`` archives), numbered from ``first``."""
    from coordinator.models import Task, TaskStatus
    from coordinator.timeutil import utcnow

    then = utcnow() - timedelta(days=30)
    return tuple(
        Task(
            id=f"task-{i}",
            title=f"benchmark task {i}",
            created_at=then,
            updated_at=then,
            status=TaskStatus.SUCCEEDED,
        )
        for i in range(first, first + count)
    )


def make_tasks(count: int) -> tuple[Any, ...]:
    """``count`` queued tasks created at the same instant (a bulk import: the scheduler's hardest case)."""
    from coordinator.models import Task
    from coordinator.timeutil import utcnow

    now = utcnow()
    return tuple(
        Task(id=f"task-{i}", title=f"benchmark task {i}", created_at=now, updated_at=now) for i in range(count)
    )


def open_store(remote: Path, cache: Path) -> Any:
    """A store on the local bare ``remote`` with its object cache in ``cache``."""
    from coordinator.store.remote import Remote
    from coordinator.store.store import StateStore

    return StateStore(Remote.parse(str(remote)), BRANCH, cache_dir=cache)


def seed_branch(remote: Path, cache: Path, count: int, archived: int = 0) -> float:
    """Create the remote, init the state branch and add ``count`` tasks in ONE commit, ``archived`` of them ended
    a month ago and then archived by gc (its own commits, 500 tasks each); returns seconds taken."""
    from coordinator.core.archive import GcRequest
    from coordinator.core.transitions import Change
    from coordinator.store.gc import collect

    env = git_environment()
    git_ok(["init", "--bare", "--quiet", str(remote)], remote.parent, env)
    started = time.perf_counter()
    with open_store(remote, cache) as store:
        store.init()
        tasks = make_tasks(count - archived) + make_ended_tasks(archived, count - archived)
        store.update(lambda state, now: Change(message=f"seed {count} tasks", tasks=tasks))
        if archived:
            report = collect(store, GcRequest())
            assert report.archived == archived and report.live == count - archived, report
    # A branch reaches 10,000 tasks over months, and by then the remote has been repacked (git's auto gc on a
    # bare remote, GitHub's own maintenance). Seeded in minutes, the 500-task gc batches would leave one pack
    # each (20 for 9,800 archived), and every object lookup of every later push would pay for them: about +12 %
    # on a push, measured, while the archive's tree entries cost nothing measurable. So every seeded remote,
    # whatever its size, is repacked once, as time would have.
    git_ok(["repack", "-a", "-d", "-q"], remote, env)
    return time.perf_counter() - started


def claim_transition(runner: str) -> Callable[[Any, Any], Any]:
    """The transition a runner applies to claim its next task."""
    from coordinator.core.transitions import claim

    def transition(state: Any, now: Any) -> Any:
        return claim(state, runner=runner, capabilities=(), lease_ttl=LEASE_TTL, now=now)

    return transition


def store_worker(remote: str, cache: str, runner: str, barrier: Any, results: Any) -> None:
    """A store writer process: claim until nothing is claimable, timing each ``store.update``."""
    with open_store(Path(remote), Path(cache)) as store:
        store.read()  # start warm (git helpers running, state parsed), as a long-lived runner would be
        transition = claim_transition(runner)
        barrier.wait()
        latencies: list[float] = []
        claimed: list[str] = []
        start = end = time.perf_counter()
        while True:
            began = time.perf_counter()
            change = store.update(transition)
            if change.task is None:
                # The call that found nothing also counts: a writer that always loses the race spends the
                # whole run inside it, and only this figure shows that.
                last_call = time.perf_counter() - began
                break
            end = time.perf_counter()
            latencies.append(end - began)
            claimed.append(change.task.id)
        results.put(
            {
                "runner": runner,
                "latencies": latencies,
                "claimed": claimed,
                "start": start,
                "end": end,
                "last_call": last_call,
                "stats": dict(store.stats),
            }
        )


def verify_claims(remote: Path, cache: Path, seeded: int, claimers: dict[str, str]) -> list[str]:
    """Lines saying whether every task was claimed exactly once, judged on the final state of the branch."""
    from coordinator.models import TaskStatus

    with open_store(remote, cache) as store:
        state = store.read()
    tasks = state.tasks
    running_once = [t for t in tasks.values() if t.status == TaskStatus.RUNNING and len(t.attempts) == 1]
    holder_ok = [t for t in running_once if t.lease is not None and claimers.get(t.id) == t.lease.runner]
    problems = len(state.problems)
    ok = len(tasks) == seeded and len(running_once) == seeded and len(holder_ok) == seeded and not problems
    return [
        f"final state: {len(tasks)}/{seeded} tasks on the branch, {len(running_once)} RUNNING with exactly one "
        f"attempt, {len(holder_ok)} leased to the writer that reported claiming them, {problems} unreadable files",
        f"exactly-once check: {'OK' if ok else 'FAILED'}",
    ]


def store_run(sizes: Sizes, writers: int) -> RunResult:
    """``writers`` store processes draining ``sizes.store_tasks`` seeded tasks."""
    ctx = mp.get_context("spawn")
    with temp_dir(f"store{writers}") as scratch:
        remote = scratch / "remote.git"
        seed_branch(remote, scratch / "seed-cache", sizes.store_tasks)
        barrier, results = ctx.Barrier(writers), ctx.Queue()
        procs = [
            ctx.Process(
                target=store_worker, args=(str(remote), str(scratch / f"cache{i}"), f"runner-{i}", barrier, results)
            )
            for i in range(writers)
        ]
        for proc in procs:
            proc.start()
        reports = [results.get(timeout=900) for _ in procs]
        for proc in procs:
            proc.join()
        claimers: dict[str, str] = {}
        twice = 0
        for report in reports:
            for task_id in report["claimed"]:
                twice += task_id in claimers
                claimers[task_id] = report["runner"]
        result = RunResult(
            writers,
            [x for r in reports for x in r["latencies"]],
            max(r["end"] for r in reports) - min(r["start"] for r in reports),
            sum(r["stats"]["rejections"] for r in reports),
            sum(r["stats"]["fetches"] for r in reports),
            max(x for r in reports for x in [*r["latencies"], r["last_call"]]),
        )
        for r in sorted(reports, key=lambda r: r["runner"]):
            stats = r["stats"]
            result.notes.append(
                f"{r['runner']}: {len(r['claimed']):4d} claims, {stats['rejections']:4d} lost races, "
                f"{stats['fetches']:4d} fetches; last update() (found nothing) took {r['last_call']:.2f} s"
            )
        result.notes.append(f"tasks reported as claimed by two writers: {twice}")
        result.notes.extend(verify_claims(remote, scratch / "check-cache", sizes.store_tasks, claimers))
        return result


# --- 3 and 4. in-process: growth with phases, and the ratio to the raw baseline ---


class Phases:
    """Wall time spent in named store methods, by wrapping them on one instance (the code is not changed)."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.active = False

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        """Time every call of ``owner.attribute`` under ``label`` (skipped if the store no longer has it)."""
        original = getattr(owner, attribute, None)
        if original is None:
            return

        @wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if self.active:
                    self.times[label].append(time.perf_counter() - began)

        setattr(owner, attribute, timed)

    def per_claim(self, claims: int) -> dict[str, float]:
        """Mean seconds per claim in each phase."""
        return {label: sum(values) / claims for label, values in self.times.items()}


@dataclass
class Growth:
    """In-process claims at one branch size."""

    tasks: int
    seed_seconds: float
    first_read_seconds: float
    latencies: list[float]
    phases: dict[str, float]
    archived: int = 0

    @property
    def label(self) -> str:
        """``10000 tasks`` or ``10000 (9800 archived)``."""
        return f"{self.tasks} ({self.archived} archived)" if self.archived else f"{self.tasks} tasks"


#: STATUS.md is rendered inside the commit build: shown apart, and not counted twice in the phases' sum.
STATUS_PHASE = "  of which STATUS.md render"


class StoreClaimer:
    """A warm in-process writer on a freshly seeded branch; claims in blocks, timing each claim and its phases."""

    def __init__(self, scratch: Path, tasks: int, archived: int = 0) -> None:
        scratch.mkdir()
        remote = scratch / "remote.git"
        self.tasks, self.archived = tasks, archived
        self.seed_seconds = seed_branch(remote, scratch / "seed-cache", tasks, archived)
        # A different cache than the seeder's: this writer fetches and parses the branch like a new runner.
        self.store = open_store(remote, scratch / "cache")
        began = time.perf_counter()
        self.store.read()
        self.first_read = time.perf_counter() - began
        self.latencies: list[float] = []
        self.phases = Phases()
        transition = claim_transition("runner-0")

        def timed_transition(state: Any, now: Any) -> Any:
            started = time.perf_counter()
            try:
                return transition(state, now)
            finally:
                if self.phases.active:
                    self.phases.times["transition (claim + scheduling)"].append(time.perf_counter() - started)

        self.transition = timed_transition
        self.phases.wrap(self.store, "fetch", "fetch")
        self.phases.wrap(self.store, "_commit", "commit build (blobs, trees, commit)")
        self.phases.wrap(self.store, "_push", "push")
        self.phases.wrap(self.store._snapshot, "advance", "snapshot advance")
        self.phases.wrap(self.store, "_status", STATUS_PHASE)

    def warm_up(self, count: int) -> None:
        """Untimed claims (first commit built, helpers running)."""
        for _ in range(count):
            self.store.update(self.transition)

    def claim_block(self, count: int) -> None:
        """``count`` timed claims."""
        self.phases.active = True
        for _ in range(count):
            began = time.perf_counter()
            self.store.update(self.transition)
            self.latencies.append(time.perf_counter() - began)
        self.phases.active = False

    def close(self) -> None:
        """Stop the store's git helpers."""
        self.store.close()

    def result(self) -> Growth:
        """What this writer measured."""
        return Growth(
            self.tasks,
            self.seed_seconds,
            self.first_read,
            self.latencies,
            self.phases.per_claim(len(self.latencies)),
            self.archived,
        )


def paired_run(sizes: Sizes) -> tuple[list[float], list[Growth]]:
    """Raw baseline, store at the small size, at the large size and at the large size with all but the small size
    archived, claiming in alternating blocks.

    The targets are ratios between these four, and other load on the machine drifts over a run: taking blocks of
    10 claims in turn (rotating who goes first) puts all of them in the same time window.
    """
    block = 10
    with ExitStack() as stack:
        scratch = stack.enter_context(temp_dir("paired"))
        raw_seed(scratch / "raw-remote.git", scratch)
        raw = RawWriter(scratch / "raw-remote.git", scratch / "raw-cache.git", "w0")
        stores = []
        archived = sizes.growth_large - sizes.growth_small
        for tasks, gone in ((sizes.growth_small, 0), (sizes.growth_large, 0), (sizes.growth_large, archived)):
            claimer = StoreClaimer(scratch / f"store{tasks}-{gone}", tasks, gone)
            stack.callback(claimer.close)
            stores.append(claimer)
        raw_latencies: list[float] = []
        counter = iter(range(10**9))

        def raw_block(count: int) -> None:
            for _ in range(count):
                began = time.perf_counter()
                raw.claim(next(counter))
                raw_latencies.append(time.perf_counter() - began)

        raw_block(sizes.warmup)
        raw_latencies.clear()
        for claimer in stores:
            claimer.warm_up(sizes.warmup)
        contenders = [raw_block, *(claimer.claim_block for claimer in stores)]
        for round_number in range(-(-sizes.growth_claims // block)):
            shift = round_number % len(contenders)
            for run_block in contenders[shift:] + contenders[:shift]:
                run_block(block)
        return raw_latencies, [claimer.result() for claimer in stores]


# --- the report ---


def line(label: str, result: RunResult) -> str:
    """One row of a rate/latency table."""
    p50, p95 = percentiles(result.latencies)
    retries = result.retries / len(result.latencies) if result.latencies else float("nan")
    return (
        f"  {label:<28} N={result.writers}  {len(result.latencies):4d} claims  {result.rate:6.1f} claims/s  "
        f"p50 {ms(p50)}  p95 {ms(p95)}  max {result.longest:5.2f} s  retries/claim {retries:4.2f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run every section and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts: about a minute on 2 cores")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL

    with temp_dir("home-cache") as default_cache:
        # Belt and braces: every store gets an explicit cache_dir, but nothing may fall back to the home folder.
        os.environ["COORDINATOR_CACHE_DIR"] = str(default_cache)
        git_version = git_ok(["--version"], default_cache, git_environment())
        print(
            f"claim benchmark ({'quick' if args.quick else 'full'}): {git_version}, Python "
            f"{sys.version.split()[0]}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at start); "
            "remote = a bare repository on the local disk"
        )
        print()
        total_started = time.perf_counter()

        print("1. Raw git CAS baseline (hash-object + mktree + commit-tree, plain push; fetch only after a lost race)")
        raw1, builds, pushes = raw_single(sizes)
        print(line("raw plumbing", raw1))
        print(
            f"  {'':<28}       of which: objects (3 one-shot processes) p50 {ms(percentiles(builds)[0])}, "
            f"push p50 {ms(percentiles(pushes)[0])}"
        )
        rawn = raw_multi(sizes)
        print(line("raw plumbing", rawn))
        for note in rawn.notes:
            print(f"  {'':<28}       {note}")
        print()

        print(
            f"2. Store claims (StateStore.update(claim), separate processes, {sizes.store_tasks} queued tasks, "
            "each writer until nothing is claimable)"
        )
        store_results = []
        for writers in (1, sizes.writers):
            result = store_run(sizes, writers)
            store_results.append(result)
            print(line("store", result))
            for note in result.notes:
                print(f"  {'':<28}       {note}")
        s1, sn = store_results
        print(
            f"  N={sizes.writers} vs N=1: throughput x{sn.rate / s1.rate:.2f}, "
            f"p95 x{percentiles(sn.latencies)[1] / percentiles(s1.latencies)[1]:.1f}; "
            f"store vs raw at N={sizes.writers}: throughput x{sn.rate / rawn.rate:.2f}"
        )
        print()

        print(
            f"3. Growth: in-process claims (N=1, {sizes.growth_claims} timed after {sizes.warmup} warm-up per size), "
            "tasks seeded in one commit;\n   measured in alternating blocks of 10 claims with the raw baseline "
            "(same time window for every ratio)"
        )
        paired_raw, growth = paired_run(sizes)
        for g in growth:
            p50, p95 = percentiles(g.latencies)
            print(
                f"  {g.label:>22}: p50 {ms(p50)}  p95 {ms(p95)}   (seed commit+push{' and gc' if g.archived else ''} "
                f"{g.seed_seconds:5.2f} s, first read by a fresh writer {g.first_read_seconds:5.2f} s)"
            )
        labels = list(dict.fromkeys(label for g in growth for label in g.phases))
        print(f"  mean per claim by phase:{'':<14}" + "".join(f"{g.label:>24}" for g in growth))
        for label in labels:
            print(f"    {label:<36}" + "".join(f"{g.phases.get(label, 0.0) * 1000:>21.1f} ms" for g in growth))
        for label, values in (
            (
                "other (update loop, clock, checks)",
                [
                    statistics.fmean(g.latencies) - sum(v for k, v in g.phases.items() if k != STATUS_PHASE)
                    for g in growth
                ],
            ),
            ("total (mean of update() calls)", [statistics.fmean(g.latencies) for g in growth]),
        ):
            print(f"    {label:<36}" + "".join(f"{value * 1000:>21.1f} ms" for value in values))
        small, large, archived = (percentiles(g.latencies)[0] for g in growth)
        growth_ratio, archive_ratio = large / small, archived / small
        print(
            f"  ratio p50 {sizes.growth_large} / {sizes.growth_small} tasks: {growth_ratio:.2f}x   "
            f"target <= {GROWTH_TARGET}x: {verdict(growth_ratio, GROWTH_TARGET)}"
        )
        print(
            f"  ratio p50 {growth[2].label} / {sizes.growth_small} tasks: {archive_ratio:.2f}x   "
            f"target <= {ARCHIVE_TARGET}x: {verdict(archive_ratio, ARCHIVE_TARGET)}"
        )
        print()

        raw_p50, raw_p95 = percentiles(paired_raw)
        baseline_ratio = small / raw_p50
        print("4. Store vs raw baseline (N=1)")
        print(f"  raw baseline in the same window: p50 {ms(raw_p50)}  p95 {ms(raw_p95)}")
        print(
            f"  store in-process p50 at {sizes.growth_small} tasks {ms(small)} / raw baseline p50 {ms(raw_p50)} "
            f"= {baseline_ratio:.2f}x   target <= {BASELINE_TARGET}x: {verdict(baseline_ratio, BASELINE_TARGET)}"
        )
        separate = percentiles(s1.latencies)[0] / percentiles(raw1.latencies)[0]
        print(f"  (not interleaved: store process N=1 p50 from 2. / raw N=1 p50 from 1. = {separate:.2f}x)")
        print()

        print("Targets")
        print(
            f"  growth 200 -> 10,000 tasks  <= {GROWTH_TARGET}x   measured {growth_ratio:5.2f}x   "
            f"{verdict(growth_ratio, GROWTH_TARGET)}"
        )
        print(
            f"  archive: 10,000 ever (9,800 archived) vs 200 <= {ARCHIVE_TARGET}x   measured {archive_ratio:5.2f}x   "
            f"{verdict(archive_ratio, ARCHIVE_TARGET)}"
        )
        print(
            f"  store / raw baseline p50    <= {BASELINE_TARGET}x   measured {baseline_ratio:5.2f}x   "
            f"{verdict(baseline_ratio, BASELINE_TARGET)}"
        )
        print(f"(total {time.perf_counter() - total_started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
