"""The webhook endpoint: how fast GitHub gets its answer, how soon a labelled issue's agent starts, and the GitHub
REST calls a task costs, all on 127.0.0.1.

Run ``python benchmarks/webhook.py`` (about 25 s on 2 cores) or ``python benchmarks/webhook.py --quick`` (about
15 s). Everything happens in a temporary directory: a local bare repository is the target
repository's origin and holds the state branch; the fake GitHub of the tests (``tests/fakes/github_server.py``)
plays GitHub; ``python -m coordinator webhook serve --port 0`` and ``python -m coordinator runner --poll 1
--agent command`` run as subprocesses, as a user starts them. The agent is a tiny Python script that writes the
moment it started into a file named after its task. The script prints a report and always exits 0: targets are
shown as PASS/MISS, not asserted.

Sections:
1. Labelled issue -> agent started: issues labelled one at a time, each at a random moment of the runner's poll
   cycle; from posting the signed ``issues.labeled`` delivery until the agent wrote its start time. Each task is
   let finish (its final comment delivered) before the next, so the REST calls of its whole life are counted on
   the fake GitHub: those of the webhook's ingest (its log line says ``github_calls=N``) and the runner's.
2. Answer time: signed ``issues.labeled`` deliveries posted one after the other (a new connection each, as GitHub
   does) while the webhook's worker ingests the earlier ones and the runner works; then a burst posted all at
   once. The time from sending the request to having read the answer, measured by the client.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT))  # the tests' fake GitHub and payload helpers
import claim  # noqa: E402 (after the path): the percentiles, the verdict and the git helpers live there

from coordinator.webhook.signature import signature_of  # noqa: E402
from tests.fakes.github_events import issues_event  # noqa: E402
from tests.fakes.github_server import FakeGitHub  # noqa: E402

REPO = "octo/repo"
TOKEN = "ghp_" + "benchWebhookToken0123456789abcdefghij"[:36]
SECRET = "bench-" + "webhook-secret-0123456789abcdef"
TRIGGER = "claude"
POLL = 1.0  # the runner's --poll
ANSWER_TARGET = 0.100  # answer time p95, seconds
START_TARGET = 2.0  # labelled issue -> agent started p50, seconds
_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))/")
_CALLS = re.compile(r"delivery=(\S+) .*github_calls=(\d+)")


@dataclass(frozen=True)
class Sizes:
    """How much each section does (``--quick`` shrinks it)."""

    starts: int  # issues of section 1
    stream: int  # deliveries posted one after the other in section 2
    burst: int  # deliveries posted at once in section 2


FULL = Sizes(starts=10, stream=100, burst=50)
QUICK = Sizes(starts=5, stream=40, burst=25)

AGENT = """import os, pathlib, time
started = time.time()
pathlib.Path({folder!r}, os.environ["COORDINATOR_TASK_ID"]).write_text(repr(started), encoding="utf-8")
"""


class Process:
    """A subprocess whose output lines are collected by a thread."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0) if os.name == "nt" else 0,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        """The first output line matching ``pattern``, waiting for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    found = pattern.search(line)
                    if found:
                        return found
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"no line matching {pattern.pattern}:\n" + "\n".join(self.lines[-20:]))
                self._changed.wait(0.5)

    def stop(self, timeout: float = 120) -> int | None:
        """SIGTERM (CTRL_BREAK on Windows), then the exit code (None: killed after ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.CTRL_BREAK_EVENT if os.name == "nt" else signal.SIGTERM)  # type: ignore[attr-defined]
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def environment(scratch: Path, name: str, gh: FakeGitHub) -> dict[str, str]:
    """A child's environment: its own cache and data folders, no runner config file, GitHub's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COORDINATOR_")}
    env.update(
        COORDINATOR_CACHE_DIR=str(scratch / f"cache-{name}"),
        COORDINATOR_DATA_DIR=str(scratch / f"data-{name}"),
        COORDINATOR_RUNNER_CONFIG=str(scratch / "no-runner-config.toml"),
        GITHUB_API_URL=gh.url,
        GITHUB_TOKEN=TOKEN,
        GITHUB_REPOSITORY=REPO,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
    )
    return env


def make_origin(scratch: Path) -> Path:
    """origin.git with a README on main and an initialised state branch."""
    env = claim.git_environment()
    origin = scratch / "origin.git"
    claim.git_ok(["init", "--bare", "--quiet", "--initial-branch=main", str(origin)], scratch, env)
    seed = scratch / "seed"
    claim.git_ok(["init", "--quiet", "--initial-branch=main", str(seed)], scratch, env)
    (seed / "README.md").write_text("# sample\n", encoding="utf-8")
    claim.git_ok(["add", "."], seed, env)
    claim.git_ok(["-c", "commit.gpgsign=false", "commit", "--quiet", "-m", "initial"], seed, env)
    claim.git_ok(["push", "--quiet", str(origin), "main"], seed, env)
    with claim.open_store(origin, scratch / "cache-seed") as store:
        store.init()
    claim.git_ok(["clone", "--quiet", str(origin), str(scratch / "clone")], scratch, env)
    return origin


def start_webhook(scratch: Path, gh: FakeGitHub, origin: Path) -> tuple[Process, int]:
    env = environment(scratch, "webhook", gh)
    env.update(COORDINATOR_WEBHOOK_SECRET=SECRET, COORDINATOR_REMOTE=str(origin))
    served = Process([sys.executable, "-m", "coordinator", "webhook", "serve", "--port", "0"], env, scratch)
    return served, int(served.wait_for(_LISTENING).group(2))


def start_runner(scratch: Path, gh: FakeGitHub) -> Process:
    starts = scratch / "starts"
    starts.mkdir()
    agent = scratch / "agent.py"
    agent.write_text(AGENT.format(folder=str(starts)), encoding="utf-8")
    command = shlex.join([sys.executable, str(agent)]) if os.name != "nt" else f'"{sys.executable}" "{agent}"'
    argv = [sys.executable, "-m", "coordinator", "runner", "--name", "r1", "--repo", str(scratch / "clone")]
    argv += ["--poll", f"{POLL:g}", "--agent", "command", "--agent-command", command]
    argv += ["--log-dir", str(scratch / "logs")]
    runner = Process(argv, environment(scratch, "runner", gh), scratch)
    runner.wait_for(re.compile(r"runner r1: \d+ slot"))
    return runner


def post(port: int, number: int, gh: FakeGitHub, delivery: str) -> tuple[int, float]:
    """Post the signed ``issues.labeled`` delivery of issue ``number``; its status and answer time (seconds)."""
    body = json.dumps(issues_event(gh, number, "labeled", sender="alice", label=TRIGGER)).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature_of(SECRET.encode(), body),
    }
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    return answer.status, time.perf_counter() - started


def new_issue(gh: FakeGitHub, title: str) -> int:
    number = gh.add_issue(title, body="Benchmark task: nothing to change.", author="bob")
    gh.label(number, TRIGGER, by="alice")
    return number


def task_done(origin: Path, scratch: Path, task_id: str) -> bool:
    """The task succeeded and GitHub was told everything (no delivery pending)."""
    with claim.open_store(origin, scratch / "cache-check") as store:
        task = store.read().tasks.get(task_id)
    return task is not None and task.status.value == "succeeded" and task.github is not None and not task.github.pending


def wait_until(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def agent_started(mark: Path, timeout: float = 60) -> float:
    """The start time the agent wrote into ``mark`` (waiting for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = mark.read_text(encoding="utf-8").strip() if mark.exists() else ""
        if text:
            return float(text)
        time.sleep(0.02)
    raise RuntimeError(f"no agent start in {mark}")


@dataclass
class Starts:
    latencies: list[float]
    answers: list[float]
    calls: list[tuple[int, int]]  # per task: (webhook ingest, runner)


def starts_section(scratch: Path, gh: FakeGitHub, origin: Path, port: int, webhook: Process, count: int) -> Starts:
    result = Starts([], [], [])
    for index in range(count):
        number = new_issue(gh, f"Start {index}")
        time.sleep(random.uniform(0, POLL))  # a random moment of the runner's poll cycle
        before = gh.call_count()
        posted = time.time()
        status, answered = post(port, number, gh, f"start-{number}")
        if status != 202:
            raise RuntimeError(f"delivery of issue {number} answered {status}")
        result.answers.append(answered)
        task_id = f"issue-{number}"
        result.latencies.append(agent_started(scratch / "starts" / task_id) - posted)
        wait_until(lambda: task_done(origin, scratch, task_id), f"{task_id} finished")  # noqa: B023 (called here)
        ingest = int(webhook.wait_for(re.compile(rf"delivery=start-{number} .*github_calls=(\d+)")).group(1))
        result.calls.append((ingest, gh.call_count() - before - ingest))
    return result


def answers_section(gh: FakeGitHub, port: int, sizes: Sizes) -> tuple[list[float], list[float]]:
    numbers = [new_issue(gh, f"Stream {i}") for i in range(sizes.stream + sizes.burst)]
    stream: list[float] = []
    for number in numbers[: sizes.stream]:
        status, answered = post(port, number, gh, f"stream-{number}")
        if status != 202:
            raise RuntimeError(f"delivery of issue {number} answered {status}")
        stream.append(answered)
        time.sleep(0.02)
    burst_numbers = numbers[sizes.stream :]
    barrier = threading.Barrier(len(burst_numbers))

    def one(number: int) -> float:
        barrier.wait(30)
        status, answered = post(port, number, gh, f"burst-{number}")
        if not 200 <= status < 300:
            raise RuntimeError(f"delivery of issue {number} answered {status}")
        return answered

    with ThreadPoolExecutor(max_workers=len(burst_numbers)) as pool:
        burst = list(pool.map(one, burst_numbers))
    return stream, burst


def p50_p95(samples: Sequence[float]) -> tuple[float, float]:
    return claim.percentiles(samples)


def report(starts: Starts, stream: list[float], burst: list[float], stopped: int | None) -> None:
    start_p50, start_p95 = p50_p95(starts.latencies)
    stream_p50, stream_p95 = p50_p95(stream)
    burst_p50, burst_p95 = p50_p95(burst)
    ingest = [c[0] for c in starts.calls]
    runner = [c[1] for c in starts.calls]
    print(f"1. Labelled issue -> agent started ({len(starts.latencies)} issues, runner --poll {POLL:g})")
    print(f"   p50 {start_p50:.2f} s   p95 {start_p95:.2f} s   max {max(starts.latencies):.2f} s")
    print(
        f"   REST calls per task (label to final comment): {statistics.median([a + b for a, b in starts.calls]):g} "
        f"median (webhook ingest {statistics.median(ingest):g}, runner {statistics.median(runner):g}); "
        f"all: {sorted(a + b for a, b in starts.calls)}"
    )
    print("2. Answer time (client side, new connection per delivery)")
    print(f"   one after the other ({len(stream)}): p50 {stream_p50 * 1000:.1f} ms   p95 {stream_p95 * 1000:.1f} ms")
    print(f"   burst of {len(burst)} at once:        p50 {burst_p50 * 1000:.1f} ms   p95 {burst_p95 * 1000:.1f} ms")
    print(f"   (the {len(starts.answers)} deliveries of section 1: p50 {p50_p95(starts.answers)[0] * 1000:.1f} ms)")
    print(f"   webhook serve stopped by SIGTERM after its queue: exit code {stopped}")
    print("Targets")
    rows = [
        (
            "answer time p95 (one after the other)",
            f"{ANSWER_TARGET * 1000:g} ms",
            f"{stream_p95 * 1000:.1f} ms",
            claim.verdict(stream_p95, ANSWER_TARGET),
        ),
        (
            "answer time p95 (burst)",
            f"{ANSWER_TARGET * 1000:g} ms",
            f"{burst_p95 * 1000:.1f} ms",
            claim.verdict(burst_p95, ANSWER_TARGET),
        ),
        (
            "labelled issue -> agent started p50",
            f"{START_TARGET:g} s",
            f"{start_p50:.2f} s",
            claim.verdict(start_p50, START_TARGET),
        ),
    ]
    for name, target, measured, verdict in rows:
        print(f"  {name:<40} <= {target:<8} measured {measured:>9}   {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer issues and deliveries")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-webhook-") as folder, FakeGitHub(REPO, token=TOKEN) as gh:
        scratch = Path(folder)
        gh.set_permission("alice", "write")
        origin = make_origin(scratch)
        webhook, port = start_webhook(scratch, gh, origin)
        runner = start_runner(scratch, gh)
        try:
            starts = starts_section(scratch, gh, origin, port, webhook, sizes.starts)
            stream, burst = answers_section(gh, port, sizes)
        finally:
            runner.stop()
            stopped = webhook.stop(timeout=300)
        report(starts, stream, burst, stopped)
    print(f"(total {time.perf_counter() - total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
