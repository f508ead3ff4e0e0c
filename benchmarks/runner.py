"""Runner throughput and submit-to-claim latency, against the raw git compare-and-swap claim rate.

Run ``python benchmarks/runner.py`` (about 2 minutes on 2 cores) or ``python benchmarks/runner.py --quick``
(about a minute). Everything happens in temporary directories: a local bare
repository is the target repository's origin and holds the state branch, every runner has its own clone, object
cache (``COORDINATOR_CACHE_DIR``) and log folder, and no runner config file is read. The script prints a report
and always exits 0: targets are shown as PASS/MISS, not asserted.

Sections:
1. Raw baseline: claim.py's raw plumbing claim loop (one blob, one tree, one commit, plain push) at N=1, measured
   before and after section 2; the mean of the two rates is the yardstick.
2. Runner throughput: ``python -m coordinator runner --once --poll 0.05 --slots 1 --agent command`` running
   ``true``, as 1 and 4 separate processes draining tasks seeded in one commit; wall time from launch until the
   last task succeeded, an exactly-once check, and where a task's time goes: from the timestamps the N=1 run left
   on the branch, then from an in-process ``RunnerDaemon`` whose methods (and git processes) are timed.
3. Submit-to-claim latency: an idle runner process (``--poll 1.0``, not ``--once``); tasks submitted one at a time
   from this process at random moments; time until the claim and until the attempt started.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import claim  # the raw baseline lives there; importing it runs nothing

BRANCH = "coordinator/state"
THROUGHPUT_TARGET = 0.25  # runner tasks/s at N=1 / raw CAS claims/s
LATENCY_SLACK = 0.5  # submit->claim p50 target: poll interval + this many seconds
THROUGHPUT_POLL = 0.05  # --poll of the throughput runners (the CLI's minimum)
LATENCY_POLL = 1.0  # --poll of the idle runner in section 3
PROCESS_TIMEOUT = 600.0  # a runner that has not finished by then is killed and reported


@dataclass(frozen=True)
class Sizes:
    """How much work each section does (``--quick`` shrinks it)."""

    raw_claims: int  # raw baseline claims per measurement (two measurements)
    tasks: int  # tasks seeded for each throughput run
    inprocess_tasks: int  # tasks of the instrumented in-process run
    latency_samples: int  # submissions in section 3
    runners: int = 4


FULL = Sizes(raw_claims=200, tasks=100, inprocess_tasks=40, latency_samples=20)
QUICK = Sizes(raw_claims=100, tasks=40, inprocess_tasks=20, latency_samples=10)


# --- small helpers ---


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean, NaN for no values."""
    return statistics.fmean(values) if values else float("nan")


def secs(value: float) -> str:
    """Seconds with a unit, short."""
    return f"{value:6.2f} s"


def ms(value: float) -> str:
    """Seconds as milliseconds, fixed width."""
    return f"{value * 1000:7.1f} ms"


def agent_command() -> tuple[str, str]:
    """The no-op agent as a command line for ``--agent-command``, and how it was found."""
    true = shutil.which("true")
    if true:
        return (shlex.quote(true) if os.name != "nt" else f'"{true}"'), 'shutil.which("true")'
    argv = [sys.executable, "-c", "pass"]
    line = shlex.join(argv) if os.name != "nt" else subprocess.list2cmdline(argv)
    return line, "no `true` on PATH: sys.executable -c pass"


#: Put in the runner processes as ``sitecustomize``: on ``StateStore.close`` it appends the store's counters
#: (pushes, lost races, fetches) and how many polls it made to ``$BENCH_STORE_STATS``, one JSON line per store.
#: It wraps two methods of the class in that process only. It takes its variables out of the environment first,
#: so the processes a runner starts (git, the agent) neither see them nor load the hook's imports.
STATS_HOOK = """
import json, os

_runner, _target = os.environ.pop("BENCH_RUNNER", None), os.environ.pop("BENCH_STORE_STATS", None)
if _runner and _target:
    from coordinator.store import store as _store

    _close, _poll = _store.StateStore.close, _store.StateStore.poll

    def _counting_poll(self):
        self.__dict__["_bench_polls"] = self.__dict__.get("_bench_polls", 0) + 1
        return _poll(self)

    def _reporting_close(self):
        line = dict(self.stats, polls=self.__dict__.get("_bench_polls", 0), runner=_runner)
        with open(_target, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\\n")
        return _close(self)

    _store.StateStore.poll, _store.StateStore.close = _counting_poll, _reporting_close
"""


def child_environment(scratch: Path, name: str) -> dict[str, str]:
    """Environment of one runner process: its own object cache, no runner config file, no inherited remote,
    and the counters hook (see ``STATS_HOOK``)."""
    env = {
        k: v
        for k, v in os.environ.items()
        # A user's COORDINATOR_REMOTE/BRANCH would point the runner at their real state branch.
        if k not in ("COORDINATOR_REMOTE", "COORDINATOR_BRANCH")
    }
    env["COORDINATOR_CACHE_DIR"] = str(scratch / f"cache-{name}")
    env["COORDINATOR_DATA_DIR"] = str(scratch / f"data-{name}")
    # A path that does not exist: load_config then uses defaults + flags, never the user's runner.toml.
    env["COORDINATOR_RUNNER_CONFIG"] = str(scratch / "no-runner-config.toml")
    env["PYTHONUNBUFFERED"] = "1"  # the runner's log file shows lines as they happen (for a post-mortem)
    hook = scratch / "stats-hook"
    if not (hook / "sitecustomize.py").exists():
        hook.mkdir(exist_ok=True)
        (hook / "sitecustomize.py").write_text(STATS_HOOK, encoding="utf-8")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH", "")]))
    env["BENCH_STORE_STATS"] = str(scratch / "store-stats.jsonl")
    env["BENCH_RUNNER"] = name
    return env


def store_stats(scratch: Path) -> dict[str, dict[str, int]]:
    """The counters the runner processes' stores reported when they closed, by runner name."""
    path = scratch / "store-stats.jsonl"
    found: dict[str, dict[str, int]] = {}
    if path.exists():
        for row in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(row)
            found[str(record.pop("runner"))] = record
    return found


def children_cpu() -> float:
    """CPU seconds used so far by this process's reaped children and their own reaped children (NaN on Windows).

    A runner's git and agent processes are reaped by the runner, so they are counted once the runner is reaped.
    """
    try:
        import resource
    except ImportError:
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def to_epoch(when: datetime | None) -> float:
    """A timezone-aware datetime as epoch seconds (NaN for None), comparable with ``time.time()``."""
    return when.timestamp() if when is not None else float("nan")


# --- the project: origin (main + state branch), clones ---


@dataclass
class Project:
    """A bare origin holding a sample ``main`` and the state branch, in a scratch folder."""

    root: Path
    origin: Path

    def clone(self, name: str) -> Path:
        """A fresh clone of origin for one runner."""
        path = self.root / name
        claim.git_ok(["clone", "--quiet", str(self.origin), str(path)], self.root, claim.git_environment())
        return path

    def store(self, name: str) -> Any:
        """A state store on origin with its own cache (close it when done)."""
        return claim.open_store(self.origin, self.root / f"cache-{name}")


def make_project(root: Path, tasks: int) -> Project:
    """origin.git with a README on main, an initialised state branch and ``tasks`` queued tasks in ONE commit."""
    from coordinator.core.transitions import Change

    env = claim.git_environment()
    origin = root / "origin.git"
    claim.git_ok(["init", "--bare", "--quiet", "--initial-branch=main", str(origin)], root, env)
    seed = root / "seed"
    claim.git_ok(["init", "--quiet", "--initial-branch=main", str(seed)], root, env)
    (seed / "README.md").write_text("# sample\n", encoding="utf-8")
    claim.git_ok(["add", "."], seed, env)
    claim.git_ok(["-c", "commit.gpgsign=false", "commit", "--quiet", "-m", "initial"], seed, env)
    claim.git_ok(["push", "--quiet", str(origin), "main"], seed, env)
    project = Project(root, origin)
    with project.store("seed") as store:
        store.init()
        if tasks:
            seeded = claim.make_tasks(tasks)
            store.update(lambda state, now: Change(message=f"seed {tasks} tasks", tasks=seeded))
    return project


def read_state(project: Project) -> Any:
    """The state at origin's tip, read by a fresh store."""
    with project.store(f"check-{time.monotonic_ns()}") as store:
        return store.read()


def claim_times(origin: Path) -> dict[tuple[str, int], float]:
    """When each claim was decided: ``lease.acquired_at`` (the claim transition's ``now``) from every claim commit.

    A task's final file no longer holds its lease, so this walks the branch history: one ``git log`` and one
    ``git cat-file --batch`` for the task files at the claim commits.
    """
    from coordinator.models import Task
    from coordinator.store.layout import task_path

    env = claim.git_environment()
    log = claim.git_ok(["log", "--format=%H %s", f"refs/heads/{BRANCH}"], origin, env)
    wanted: list[tuple[str, str]] = []
    for row in log.splitlines():
        sha, _, subject = row.partition(" ")
        # A claim may share its commit with the result before it ("complete task-3 ...; claim task-4 ...").
        for found in re.finditer(r"(?:^|; )claim (\S+) by \S+, attempt \d+", subject):
            wanted.append((sha, found.group(1)))
    if not wanted:
        return {}
    request = "".join(f"{sha}:{task_path(task_id)}\n" for sha, task_id in wanted)
    proc = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=origin, env=env, input=request.encode(), capture_output=True, check=True
    )
    out = proc.stdout
    times: dict[tuple[str, int], float] = {}
    pos = 0
    for _ in wanted:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        task = Task.model_validate_json(out[header_end + 1 : header_end + 1 + size])
        pos = header_end + 1 + size + 1
        if task.lease is not None:
            times[(task.id, task.lease.attempt)] = to_epoch(task.lease.acquired_at)
    return times


def exactly_once(state: Any, task_ids: Sequence[str]) -> tuple[bool, str]:
    """Whether every task succeeded with exactly one attempt, and a line saying so."""
    from coordinator.models import AttemptOutcome, TaskStatus

    tasks = [state.tasks.get(task_id) for task_id in task_ids]
    present = [t for t in tasks if t is not None]
    succeeded = [t for t in present if t.status == TaskStatus.SUCCEEDED]
    once = [
        t
        for t in succeeded
        if len(t.attempts) == 1 and t.attempts[0].outcome == AttemptOutcome.SUCCEEDED and t.lease is None
    ]
    ok = len(once) == len(task_ids) and not state.problems
    line = (
        f"check: {len(present)}/{len(task_ids)} tasks on the branch, {len(succeeded)} succeeded, {len(once)} with "
        f"exactly one attempt (succeeded, lease released), {len(state.problems)} unreadable files: "
        f"{'OK' if ok else 'FAILED'}"
    )
    return ok, line


# --- runner processes ---


@dataclass
class RunnerProcess:
    """One ``python -m coordinator runner`` process and where its output goes."""

    name: str
    proc: subprocess.Popen[bytes]
    output: Path
    exited_at: float = float("nan")

    def tail(self, lines: int = 15) -> str:
        """The last lines it printed (for a failure report)."""
        text = self.output.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def warnings(self) -> int:
        """How many lines it printed mention a warning or an error."""
        text = self.output.read_text(encoding="utf-8", errors="replace")
        return sum(1 for row in text.splitlines() if re.search(r"\b(warning|error|ERROR)\b", row))


def start_runner(project: Project, name: str, repo: Path, command: str, *, poll: float, once: bool) -> RunnerProcess:
    """Start ``python -m coordinator runner`` on ``repo`` (the state branch is on the clone's origin)."""
    argv = [
        sys.executable,
        "-m",
        "coordinator",
        "runner",
        "--name",
        name,
        "--repo",
        str(repo),
        "--agent",
        "command",
        "--agent-command",
        command,
        "--poll",
        f"{poll:g}",
        "--slots",
        "1",
        "--log-dir",
        str(project.root / "logs" / name),
        *(["--once"] if once else []),
    ]
    output = project.root / f"{name}.out"
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            argv,
            cwd=project.root,
            env=child_environment(project.root, name),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            # Windows delivers CTRL_BREAK_EVENT only to a process group of its own.
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) if os.name == "nt" else 0,
        )
    return RunnerProcess(name, proc, output)


def wait_all(runners: Sequence[RunnerProcess], timeout: float) -> None:
    """Wait for every process, noting when each exited; kill those still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    pending = list(runners)
    while pending:
        for runner in list(pending):
            if runner.proc.poll() is not None:
                runner.exited_at = time.time()
                pending.remove(runner)
        if pending and time.monotonic() > deadline:
            for runner in pending:
                runner.proc.kill()
                runner.proc.wait()
                runner.exited_at = time.time()
            break
        time.sleep(0.01)


def stop_runner(runner: RunnerProcess, timeout: float = 60.0) -> tuple[int | None, float]:
    """Ask a runner to stop as an operator would (SIGTERM; Ctrl-Break on Windows); exit code and seconds taken."""
    began = time.perf_counter()
    if os.name == "nt":
        runner.proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
    else:
        runner.proc.send_signal(signal.SIGTERM)
    try:
        code: int | None = runner.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        runner.proc.kill()
        runner.proc.wait()
        code = None
    return code, time.perf_counter() - began


# --- 2. throughput ---


@dataclass
class TaskTimes:
    """Timestamps (epoch seconds) one task left on the branch."""

    task_id: str
    runner: str
    claimed: float  # claim transition's now (lease.acquired_at in the claim commit)
    started: float  # attempt started_at: the runner's clock when its slot thread began the attempt
    agent: float  # agent run duration (seconds)
    finished: float  # attempt finished_at: after the agent and the commit of its changes
    completed: float  # task updated_at: the complete transition's now (just before the result commit's push)


@dataclass
class Throughput:
    """One throughput run."""

    runners: int
    tasks: int
    launched: float
    times: list[TaskTimes]
    exits: list[tuple[str, int | None, float]]  # name, exit code, seconds from launch
    check: tuple[bool, str]
    warnings: int
    cpu: float  # CPU seconds (user + system) of the runner processes and every process they ran; NaN if unknown
    stats: dict[str, dict[str, int]]  # runner -> its store's counters (pushes, rejections, fetches, polls)
    commits: int  # commits on the state branch after the run, the seed commits included
    notes: list[str] = field(default_factory=list)

    @property
    def ran(self) -> float:
        """Launch until the last process exited."""
        return max((took for _, _, took in self.exits), default=float("nan"))

    @property
    def last_success(self) -> float:
        """When the last task's result was decided (epoch)."""
        return max((t.completed for t in self.times), default=float("nan"))

    @property
    def wall(self) -> float:
        """Launch of the processes until the last task succeeded."""
        return self.last_success - self.launched

    @property
    def rate(self) -> float:
        """Tasks per second over ``wall``."""
        return self.tasks / self.wall

    @property
    def steady_wall(self) -> float:
        """First claim until the last task succeeded (no interpreter start, no start-up heartbeat)."""
        return self.last_success - min(t.claimed for t in self.times)


def task_times(state: Any, claims: dict[tuple[str, int], float], task_ids: Sequence[str]) -> list[TaskTimes]:
    """Per-task timestamps of tasks that have a (first) attempt."""
    found = []
    for task_id in task_ids:
        task = state.tasks.get(task_id)
        if task is None or not task.attempts:
            continue
        attempt = task.attempts[0]
        found.append(
            TaskTimes(
                task_id,
                attempt.runner,
                claims.get((task_id, attempt.number), float("nan")),
                to_epoch(attempt.started_at),
                attempt.duration_seconds or 0.0,
                to_epoch(attempt.finished_at),
                to_epoch(task.updated_at),
            )
        )
    return sorted(found, key=lambda t: t.claimed)


def throughput_run(scratch: Path, sizes: Sizes, count: int, command: str) -> Throughput:
    """``count`` runner processes draining ``sizes.tasks`` seeded tasks with ``--once``."""
    project = make_project(scratch, sizes.tasks)
    names = [f"r{i + 1}" for i in range(count)]
    clones = {name: project.clone(name) for name in names}
    task_ids = [f"task-{i}" for i in range(sizes.tasks)]
    cpu_before = children_cpu()
    launched = time.time()
    runners = [start_runner(project, name, clones[name], command, poll=THROUGHPUT_POLL, once=True) for name in names]
    wait_all(runners, PROCESS_TIMEOUT)
    cpu = children_cpu() - cpu_before
    state = read_state(project)
    times = task_times(state, claim_times(project.origin), task_ids)
    result = Throughput(
        count,
        sizes.tasks,
        launched,
        times,
        [(r.name, r.proc.returncode, r.exited_at - launched) for r in runners],
        exactly_once(state, task_ids),
        sum(r.warnings() for r in runners),
        cpu,
        store_stats(project.root),
        int(claim.git_ok(["rev-list", "--count", f"refs/heads/{BRANCH}"], project.origin, claim.git_environment())),
    )
    if not result.check[0] or any(code != 0 for _, code, _ in result.exits):
        for runner in runners:
            result.notes.append(f"last output of {runner.name} (exit {runner.proc.returncode}):")
            result.notes.extend(f"    {row}" for row in runner.tail().splitlines())
    return result


def timestamp_breakdown(run: Throughput) -> list[tuple[str, list[float]]]:
    """Consecutive intervals of each task's life at N=1, from the timestamps on the branch."""
    times = run.times
    rows: list[tuple[str, list[float]]] = [
        ("claim decided -> attempt started (claim commit built + pushed, slot thread started)", []),
        ("attempt started -> finished (fetch base, worktree create, agent, commit of changes)", []),
        ("    of which the agent run (attempt duration_seconds)", []),
        ("attempt finished -> result decided (outbox file, store lock, result transition)", []),
        ("result decided -> next claim decided (result commit + push, worktree remove, claim)", []),
    ]
    for index, task in enumerate(times):
        rows[0][1].append(task.started - task.claimed)
        rows[1][1].append(task.finished - task.started)
        rows[2][1].append(task.agent)
        rows[3][1].append(task.completed - task.finished)
        if index + 1 < len(times):
            rows[4][1].append(times[index + 1].claimed - task.completed)
    return rows


# --- 2b. the in-process instrumented runner ---


class Recorder:
    """Times wrapped methods and every ``subprocess.run`` (git) call, attributing git calls to the innermost
    wrapped method running in the same thread. Nothing in coordinator/ is changed: instances are wrapped."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[float, float]]] = defaultdict(list)  # label -> (began, ended)
        self.git: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)  # (phase, command) -> ...
        self.lock_waits: dict[str, list[tuple[float, float]]] = defaultdict(list)  # thread kind -> ...
        self._local = threading.local()

    def phase(self) -> str:
        """The innermost wrapped method running in this thread."""
        stack = getattr(self._local, "stack", None)
        if stack:
            return str(stack[-1])
        return "main loop (other)" if threading.current_thread() is threading.main_thread() else "slot thread"

    def wrap(self, owner: Any, attribute: str, label: str) -> None:
        """Time every call of ``owner.attribute`` under ``label``."""
        original = getattr(owner, attribute)
        recorder = self

        @wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack = recorder._local.__dict__.setdefault("stack", [])
            stack.append(label)
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                stack.pop()
                recorder.calls[label].append((began, time.perf_counter()))

        setattr(owner, attribute, timed)

    @contextmanager
    def patched_subprocess(self) -> Iterator[None]:
        """Record every ``subprocess.run`` whose program is git (the store's and the worktree manager's)."""
        original = subprocess.run
        recorder = self

        def run(*args: Any, **kwargs: Any) -> Any:
            argv = args[0] if args else kwargs.get("args")
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                if isinstance(argv, list | tuple) and argv and str(argv[0]) == "git":
                    recorder.git[(recorder.phase(), git_subcommand(argv))].append((began, time.perf_counter()))

        subprocess.run = run
        try:
            yield
        finally:
            subprocess.run = original


def git_subcommand(argv: Sequence[Any]) -> str:
    """``git -c a=b worktree add ...`` -> ``worktree add``."""
    words = [str(a) for a in argv[1:]]
    index = 0
    while index < len(words) and words[index].startswith("-"):
        index += 2 if words[index] in ("-c", "-C") else 1
    rest = words[index:]
    if not rest:
        return "?"
    if rest[0] == "worktree" and len(rest) > 1:
        return f"worktree {rest[1]}"
    return rest[0]


class TimedLock:
    """Stands in for the store's RLock to measure how long each thread waits for it."""

    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the wrapped lock, recording the wait."""
        if self._inner.acquire(blocking=False):
            return True
        if not blocking:
            return False
        began = time.perf_counter()
        got = bool(self._inner.acquire(True, timeout))
        kind = "main loop" if threading.current_thread() is threading.main_thread() else "slot thread"
        self._recorder.lock_waits[kind].append((began, time.perf_counter()))
        return got

    def release(self) -> None:
        """Release the wrapped lock."""
        self._inner.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class InProcess:
    """What the instrumented in-process run measured, restricted to its busy window."""

    tasks: int
    window: float  # start of the first claim -> end of the last attempt (worktree removed)
    calls: dict[str, list[float]]  # label -> durations
    git: dict[tuple[str, str], list[float]]  # (phase, git command) -> durations
    lock_waits: dict[str, list[float]]  # thread kind -> seconds waited for the store lock
    check: tuple[bool, str]
    true_alone: float  # median seconds of the agent command alone via subprocess.run in this process
    poll_seconds: float


#: Phases of one task, in order, as (label, owner, method): the owner is "daemon", "attempts", "worktrees" or
#: "agent" (the objects of a runner built by coordinator.runner.build).
PHASES = (
    ("claim (store.update: transition, commit, push)", "daemon", "_claim"),
    ("fetch base (git fetch origin main)", "worktrees", "fetch_base"),
    ("resolve base", "worktrees", "resolve_base"),
    ("worktree create", "worktrees", "create"),
    ("agent run (CommandAgent.run)", "agent", "run"),
    ("commit of changes (none here), secret scan, copy to the clone", "attempts", "_keep_work"),
    ("result commit (outbox file + store.update)", "daemon", "_record"),
    ("worktree remove", "worktrees", "remove"),
)
POLL_LABEL = "main loop: poll (ls-remote; fetch if moved)"
ATTEMPT_LABEL = "slot thread: whole attempt"


def inprocess_run(
    scratch: Path,
    sizes: Sizes,
    command: str,
) -> InProcess:
    """One runner built as ``coordinator runner`` builds it, run in this process with its methods timed."""
    from coordinator.agents.command import split_command
    from coordinator.runner.build import build_runner
    from coordinator.runner.config import RunnerConfig

    count = sizes.inprocess_tasks
    project = make_project(scratch, count)
    repo = project.clone("r1")
    config = RunnerConfig(
        name="r1",
        repo=repo,
        slots=1,
        poll_seconds=THROUGHPUT_POLL,
        agent="command",
        agent_command=command,
        log_dir=project.root / "logs" / "r1",
        cache_dir=project.root / "cache-r1",
    )
    lines: list[str] = []
    daemon = build_runner(config, echo=lines.append)  # exactly as `coordinator runner` builds it
    store = daemon.store
    recorder = Recorder()
    owners = {"daemon": daemon, "attempts": daemon.attempts, "worktrees": daemon.worktrees, "agent": daemon.agent}
    for label, owner, attribute in PHASES:
        recorder.wrap(owners[owner], attribute, label)
    recorder.wrap(daemon, "_attempt", ATTEMPT_LABEL)
    recorder.wrap(store, "poll", POLL_LABEL)
    store._lock = TimedLock(store._lock, recorder)  # the store only uses it as a context manager
    argv = split_command(command)  # as CommandAgent splits it
    true_alone = statistics.median(
        _timed(lambda: subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False))
        for _ in range(20)
    )
    try:
        with recorder.patched_subprocess():
            store.read()  # as the CLI does before it starts the daemon
            daemon.run(once=True)
    finally:
        store.close()
    # The busy window: from the first claim to the end of the last attempt. Start-up (heartbeat), the claim that
    # found nothing after the last task and the shutdown heartbeat fall outside it and are left out of every figure.
    start = recorder.calls[PHASES[0][0]][0][0]
    end = recorder.calls[ATTEMPT_LABEL][-1][1]

    def inside(intervals: list[tuple[float, float]]) -> list[float]:
        return [ended - began for began, ended in intervals if start <= began < end]

    state = read_state(project)
    return InProcess(
        count,
        end - start,
        {label: inside(values) for label, values in recorder.calls.items()},
        {key: inside(values) for key, values in recorder.git.items()},
        {kind: inside(values) for kind, values in recorder.lock_waits.items()},
        exactly_once(state, [f"task-{i}" for i in range(count)]),
        true_alone,
        THROUGHPUT_POLL,
    )


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


# --- 3. latency ---


@dataclass
class Latency:
    """Submit-to-claim samples of the idle runner."""

    submit: list[float]  # seconds the submitting update() took (its push landed at the end)
    to_claim: list[float]  # push landed -> claim transition's now
    to_start: list[float]  # push landed -> attempt started_at
    check: tuple[bool, str]
    stop_code: int | None
    stop_seconds: float
    warnings: int
    stats: dict[str, int] | None  # the runner's store counters (see STATS_HOOK)
    seconds: float  # from the runner's launch until it was told to stop
    notes: list[str] = field(default_factory=list)


def latency_run(scratch: Path, sizes: Sizes, command: str, rng: random.Random) -> Latency:
    """Submit tasks one at a time at random moments to an idle runner polling every ``LATENCY_POLL`` s."""
    from coordinator.core import transitions
    from coordinator.models import TaskStatus

    project = make_project(scratch, 0)
    repo = project.clone("idle")
    launched = time.perf_counter()
    runner = start_runner(project, "idle", repo, command, poll=LATENCY_POLL, once=False)
    submitted: list[tuple[str, float, float]] = []  # id, before update(), after update()
    notes: list[str] = []
    with project.store("bench") as store:
        try:
            # Ready once its start-up heartbeat is on the branch; then give it one loop to settle into polling.
            deadline = time.monotonic() + 60
            while "idle" not in store.read().runners and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(LATENCY_POLL)
            for number in range(sizes.latency_samples):
                # A random moment relative to the runner's poll timer.
                time.sleep(rng.uniform(0.0, 1.5 * LATENCY_POLL))
                began = time.time()
                change = store.update(
                    lambda state, now, n=number: transitions.submit(
                        state, transitions.SubmitRequest(title=f"latency probe {n}"), now
                    )
                )
                landed = time.time()
                submitted.append((change.task.id, began, landed))
                # Wait until it is done, so the next one finds the runner idle again (reads only: no commits).
                time.sleep(LATENCY_POLL)
                deadline = time.monotonic() + 30
                while store.read().tasks[change.task.id].status != TaskStatus.SUCCEEDED:
                    if time.monotonic() > deadline or runner.proc.poll() is not None:
                        notes.append(f"{change.task.id} not done after 30 s; stopping the samples")
                        break
                    time.sleep(0.1)
                else:
                    continue
                break
        finally:
            seconds = time.perf_counter() - launched
            code, took = stop_runner(runner)
    state = read_state(project)
    claims = claim_times(project.origin)
    to_claim, to_start = [], []
    for task_id, _began, landed in submitted:
        task = state.tasks.get(task_id)
        if task is None or not task.attempts:
            continue
        to_claim.append(claims.get((task_id, 1), float("nan")) - landed)
        to_start.append(to_epoch(task.attempts[0].started_at) - landed)
    if code != 0:
        notes.append(f"last output of the runner (exit {code}):")
        notes.extend(f"    {row}" for row in runner.tail().splitlines())
    return Latency(
        [landed - began for _, began, landed in submitted],
        to_claim,
        to_start,
        exactly_once(state, [task_id for task_id, _, _ in submitted]),
        code,
        took,
        runner.warnings(),
        store_stats(project.root).get("idle"),
        seconds,
        notes,
    )


# --- the report ---


def raw_rate(sizes: Sizes) -> claim.RunResult:
    """claim.py's raw baseline at N=1 (``sizes.raw_claims`` claims after its warm-up)."""
    raw_sizes = claim.Sizes(
        raw_claims=sizes.raw_claims,
        raw_claims_per_writer=0,
        store_tasks=0,
        growth_small=0,
        growth_large=0,
        growth_claims=0,
    )
    result, _, _ = claim.raw_single(raw_sizes)
    return result


def raw_line(label: str, result: claim.RunResult) -> str:
    """One row for a raw baseline measurement."""
    p50, p95 = claim.percentiles(result.latencies)
    return (
        f"  {label:<7} {len(result.latencies):4d} claims  {result.rate:6.1f} claims/s  "
        f"p50 {ms(p50)}  p95 {ms(p95)}  retries {result.retries}"
    )


def print_throughput(run: Throughput, raw: float) -> None:
    """The lines of one throughput run."""
    print(
        f"  N={run.runners}  {run.tasks} tasks  launch -> last task succeeded {secs(run.wall)}  "
        f"{run.rate:5.2f} tasks/s  = {run.rate / raw:.3f} x raw"
    )
    print(
        f"        steady (first claim -> last task succeeded) {secs(run.steady_wall)}  "
        f"{run.tasks / run.steady_wall:5.2f} tasks/s  = {run.tasks / run.steady_wall / raw:.3f} x raw"
    )
    per_runner: dict[str, int] = defaultdict(int)
    for task in run.times:
        per_runner[task.runner] += 1
    exits = ", ".join(f"{name} {code} after {took:.2f} s" for name, code, took in run.exits)
    for name, _, _ in run.exits:
        counters = run.stats.get(name)
        if counters is None:
            print(f"        {name}: {per_runner.get(name, 0):3d} tasks (its store counters were not reported)")
            continue
        print(
            f"        {name}: {per_runner.get(name, 0):3d} tasks, {counters['pushes']:3d} pushes, "
            f"{counters['rejections']:3d} lost races, {counters['fetches']:3d} fetches, {counters['polls']:4d} polls"
        )
    print(f"        commits on the state branch: {run.commits} (2 of them: init, seed)")
    print(f"        processes exited (code, since launch): {exits}; warning lines printed: {run.warnings}")
    cores = os.cpu_count() or 1
    print(
        f"        CPU used by the runners and everything they ran: {run.cpu:.1f} s = {ms(run.cpu / run.tasks)} per "
        f"task, {run.cpu / run.ran / cores:.0%} of {cores} cores while they ran"
    )
    print(f"        {run.check[1]}")
    for note in run.notes:
        print(f"        {note}")


def print_inprocess(result: InProcess) -> None:
    """Per-task phases, git processes and lock waits of the instrumented run."""
    n = result.tasks
    print(f"  {n} tasks, mean per task {ms(result.window / n)} ({n / result.window:.2f} tasks/s over the busy window)")
    print(f"  {result.check[1]}")
    git_by_phase: dict[str, tuple[int, float]] = {}
    for (phase, _command), values in result.git.items():
        count, total = git_by_phase.get(phase, (0, 0.0))
        git_by_phase[phase] = (count + len(values), total + sum(values))
    print(f"    {'phase (mean per task)':<50} {'time':>10}  {'share':>6}   git processes in it: count, time")
    accounted = 0.0
    for label, _, _ in PHASES:
        total = sum(result.calls.get(label, []))
        accounted += total
        count, git_total = git_by_phase.get(label, (0, 0.0))
        print(f"    {label:<50} {ms(total / n)}  {total / result.window:6.1%}   {count / n:4.1f}  {ms(git_total / n)}")
    rest = result.window - accounted
    print(f"    {'rest (thread hand-over, loop wake-up, Python)':<50} {ms(rest / n)}  {rest / result.window:6.1%}")
    polls = result.calls.get(POLL_LABEL, [])
    poll_count, _ = git_by_phase.get(POLL_LABEL, (0, 0.0))
    print(
        f"    meanwhile on the main loop: {len(polls) / n:.1f} polls per task at --poll {result.poll_seconds:g} "
        f"({ms(mean(polls))} each, {poll_count / max(len(polls), 1):.1f} git processes each)"
    )
    for kind, waits in sorted(result.lock_waits.items()):
        print(
            f"    the {kind} waited for the store lock {len(waits) / n:.1f} times per task, {ms(sum(waits) / n)} "
            f"per task (max {ms(max(waits, default=0.0))})"
        )
    agent = result.calls.get(PHASES[4][0], [])
    slow = sum(1 for value in agent if value >= 0.09)
    print(
        f"    agent run p50 {ms(claim.percentiles(agent)[0])}, mean {ms(mean(agent))}, {slow} of {len(agent)} took "
        f">= 90 ms; the same command alone via subprocess.run: {ms(result.true_alone)}"
    )
    by_command: dict[str, list[float]] = defaultdict(list)
    for (_phase, command), values in result.git.items():
        by_command[command].extend(values)
    total_git = sum(sum(v) for v in by_command.values())
    print(
        f"    git processes per task, polls included: {sum(len(v) for v in by_command.values()) / n:.1f}, "
        f"{ms(total_git / n)} per task; by command:"
    )
    for command, values in sorted(by_command.items(), key=lambda kv: -sum(kv[1])):
        print(f"      {command:<16} {len(values) / n:5.1f} per task  mean {ms(mean(values))}  {ms(sum(values) / n)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run every section and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts: about a minute on 2 cores")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random submit spacing in section 3")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rng = random.Random(args.seed)
    command, found = agent_command()

    with claim.temp_dir("runner-home") as home:
        # Belt and braces: every store here and in the runner processes gets an explicit cache folder.
        os.environ["COORDINATOR_CACHE_DIR"] = str(home / "default-cache")
        os.environ["COORDINATOR_DATA_DIR"] = str(home / "data")
        os.environ["COORDINATOR_RUNNER_CONFIG"] = str(home / "no-runner-config.toml")
        git_version = claim.git_ok(["--version"], home, claim.git_environment())
        print(
            f"runner benchmark ({'quick' if args.quick else 'full'}): {git_version}, Python "
            f"{sys.version.split()[0]}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at start); "
            "remote = a bare repository on the local disk"
        )
        print(f"agent: --agent command --agent-command {command}   ({found})")
        print()
        total_started = time.perf_counter()

        print("1. Raw git CAS baseline (claim.py's RawWriter: hash-object + mktree + commit-tree, plain push), N=1")
        raw_before = raw_rate(sizes)
        print(raw_line("before", raw_before))
        runs = []
        for count in (1, sizes.runners):
            with claim.temp_dir(f"runner{count}") as scratch:
                runs.append(throughput_run(scratch, sizes, count, command))
        raw_after = raw_rate(sizes)
        print(raw_line("after", raw_after) + "   (after the two runs of section 2)")
        raw = (raw_before.rate + raw_after.rate) / 2
        print(f"  mean {raw:.1f} claims/s: the yardstick of every ratio below")
        print()

        print(
            f"2. Runner throughput: separate `python -m coordinator runner --once --poll {THROUGHPUT_POLL:g} "
            f"--slots 1` processes,\n   each with its own clone, cache and log folder; {sizes.tasks} tasks "
            "seeded in one commit"
        )
        for run in runs:
            print_throughput(run, raw)
        one, many = runs
        print(f"  N={many.runners} vs N=1: throughput x{many.rate / one.rate:.2f}")
        print()
        print("  Where a task's time goes at N=1, from the timestamps of the N=1 run on the branch (mean, p50):")
        for label, values in timestamp_breakdown(one):
            print(f"    {label:<86} {ms(mean(values))} {ms(claim.percentiles(values)[0])}")
        cycle = one.steady_wall / one.tasks
        print(f"    {'cycle (steady wall / tasks)':<86} {ms(cycle)}")
        print()
        print(
            "  The same, in detail: one RunnerDaemon in this process, built as `coordinator runner` builds it "
            f"(--poll {THROUGHPUT_POLL:g}),\n  methods and git processes timed by wrapping instances"
        )
        with claim.temp_dir("inprocess") as scratch:
            detail = inprocess_run(scratch, sizes, command)
        print_inprocess(detail)
        print()

        print(
            f"3. Submit -> claim latency: an idle `coordinator runner --poll {LATENCY_POLL:g}` process (not --once); "
            f"{sizes.latency_samples} tasks\n   submitted one at a time by a store in this process at random moments "
            f"(0-{1.5 * LATENCY_POLL:g} s apart, each after the previous one succeeded)"
        )
        with claim.temp_dir("latency") as scratch:
            latency = latency_run(scratch, sizes, command, rng)
        submit_p50, _ = claim.percentiles(latency.submit)
        claim_p50, claim_p95 = claim.percentiles(latency.to_claim)
        start_p50, start_p95 = claim.percentiles(latency.to_start)
        print(f"  poll interval used: {LATENCY_POLL:g} s; submit update() p50 {ms(submit_p50)} (measured from its end)")
        print(
            f"  submit landed -> claim decided (lease.acquired_at)   p50 {secs(claim_p50)}  p95 {secs(claim_p95)}  "
            f"min {secs(min(latency.to_claim, default=float('nan')))}  "
            f"max {secs(max(latency.to_claim, default=float('nan')))}"
        )
        print(
            f"  submit landed -> attempt started (started_at)        p50 {secs(start_p50)}  p95 {secs(start_p95)}  "
            f"min {secs(min(latency.to_start, default=float('nan')))}  "
            f"max {secs(max(latency.to_start, default=float('nan')))}"
        )
        print(f"  {latency.check[1]}")
        print(
            f"  stopped with {'CTRL_BREAK_EVENT' if os.name == 'nt' else 'SIGTERM'}: exit code {latency.stop_code} "
            f"after {latency.stop_seconds:.2f} s; warning lines printed: {latency.warnings}"
        )
        if latency.stats is not None:
            counters = latency.stats
            print(
                f"  the runner's store over its {latency.seconds:.0f} s: {counters['polls']} polls (ls-remote), "
                f"{counters['fetches']} fetches, {counters['pushes']} pushes ({counters['rejections']} lost races)"
            )
        for note in latency.notes:
            print(f"  {note}")
        print()

        ratio = one.rate / raw
        latency_target = LATENCY_POLL + LATENCY_SLACK
        print("Targets")
        print(
            f"  N=1 runner tasks/s / raw CAS claims/s  >= {THROUGHPUT_TARGET}    measured {ratio:5.3f} "
            f"({one.rate:.2f} / {raw:.1f})   {'PASS' if ratio >= THROUGHPUT_TARGET else 'MISS'}"
        )
        print(
            f"  submit -> attempt started p50          <= {latency_target:g} s   measured {start_p50:5.2f} s"
            f"            {claim.verdict(start_p50, latency_target)}"
        )
        checks = all(check[0] for check in (*(run.check for run in runs), detail.check, latency.check))
        print(f"  exactly-once checks (every run): {'OK' if checks else 'FAILED'}")
        print(f"(total {time.perf_counter() - total_started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
