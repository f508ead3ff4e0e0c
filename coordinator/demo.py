"""``coordinator demo``: the whole product on one machine, with no network and no credentials.

It builds a sandbox (a bare "origin" holding a sample project and the state branch, one clone per runner),
submits a handful of tasks, runs two runners at once with the built-in scripted agent (or the real ``claude``),
and summarises what happened: statuses, escalations, cost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from coordinator.core import transitions
from coordinator.core.state import State
from coordinator.errors import RemoteError
from coordinator.gitcmd import GitIdentity, last_lines, run_git
from coordinator.models import Priority, Source, TaskStatus
from coordinator.runner.build import build_runner
from coordinator.runner.config import RunnerConfig
from coordinator.runner.daemon import RunnerDaemon
from coordinator.store.store import StateStore

_IDENTITY = GitIdentity(name="coordinator demo", email="demo@localhost")


@dataclass(frozen=True)
class DemoTask:
    """A task the demo submits."""

    title: str
    priority: Priority
    body: str = ""
    requires: tuple[str, ...] = ()
    depends_on_title: str | None = None
    deadline_minutes: int | None = None


DEMO_TASKS = (
    DemoTask(
        "Write the release notes for 1.4", Priority.CRITICAL, "Summarise the changes since 1.3.", deadline_minutes=30
    ),
    DemoTask(
        "Refactor the parser into small functions",
        Priority.HIGH,
        "The parser is one long function. [demo: fail-in simple] [demo: seconds 1.0]",
    ),
    DemoTask(
        "Document the new parser functions",
        Priority.MEDIUM,
        "Add docstrings.",
        depends_on_title="Refactor the parser into small functions",
    ),
    DemoTask("Benchmark the parser on the GPU box", Priority.MEDIUM, "Time parse() on big inputs.", requires=("gpu",)),
    DemoTask("Add a CONTRIBUTING guide", Priority.MEDIUM, "How to run the tests and send a change."),
    DemoTask("Fix a typo in the README", Priority.LOW, "'recieve' -> 'receive'."),
)

RUNNERS = (("runner-a", ("linux",)), ("runner-b", ("linux", "gpu")))


def _git(*args: str, cwd: Path) -> None:
    done = run_git([*_IDENTITY.config_args(), "-c", "commit.gpgsign=false", *args], cwd=cwd)
    if not done.ok:
        raise RemoteError(f"demo sandbox: git {args[0]} failed: {last_lines(done.stderr)}")


def build_sandbox(root: Path) -> Path:
    """A bare origin with a sample project on ``main``, and one clone per runner; returns the origin."""
    origin = root / "origin.git"
    _git("init", "--bare", "--quiet", "--initial-branch=main", str(origin), cwd=root)
    seed = root / "seed"
    _git("init", "--quiet", "--initial-branch=main", str(seed), cwd=root)
    (seed / "README.md").write_text("# parser\n\nA tiny parser. You will recieve tokens.\n", encoding="utf-8")
    (seed / "parser.py").write_text(
        "def parse(text):\n    out = []\n    for word in text.split():\n        out.append(word.lower())\n"
        "    return out\n",
        encoding="utf-8",
    )
    _git("add", ".", cwd=seed)
    _git("commit", "--quiet", "-m", "Sample project", cwd=seed)
    _git("push", "--quiet", str(origin), "main", cwd=seed)
    for name, _ in RUNNERS:
        _git("clone", "--quiet", str(origin), str(root / name), cwd=root)
    return origin


def submit_demo_tasks(store: StateStore) -> dict[str, str]:
    """Submit DEMO_TASKS; returns title -> task id."""
    ids: dict[str, str] = {}
    source = Source(kind="demo", actor="demo", permission="local", event="demo")
    for spec in DEMO_TASKS:

        def submit(state: State, now: datetime, spec: DemoTask = spec) -> transitions.Change:
            request = transitions.SubmitRequest(
                title=spec.title,
                body=spec.body,
                priority=spec.priority,
                requires=spec.requires,
                depends_on=(ids[spec.depends_on_title],) if spec.depends_on_title else (),
                deadline=now + timedelta(minutes=spec.deadline_minutes) if spec.deadline_minutes else None,
                source=source,
            )
            return transitions.submit(state, request, now)

        change = store.update(submit)
        assert change.task is not None
        ids[spec.title] = change.task.id
    return ids


def run_runners(
    root: Path,
    *,
    agent: str,
    echo: Callable[[str], None],
    poll_seconds: float = 0.2,
) -> list[RunnerDaemon]:
    """Run the demo runners at once, each until nothing is claimable; returns them when all stopped."""
    daemons: list[RunnerDaemon] = []
    for name, capabilities in RUNNERS:
        config = RunnerConfig(
            name=name,
            repo=root / name,
            capabilities=list(capabilities),
            slots=1,
            poll_seconds=poll_seconds,
            lease_ttl_seconds=120,
            heartbeat_seconds=60,
            agent=agent,
            log_dir=root / "logs" / name,
            worktree_root=root / "worktrees",
            cache_dir=root / "cache",
            shutdown_grace_seconds=5,
        )

        def runner_echo(message: str, name: str = name) -> None:
            echo(f"{name}  {message}")

        daemons.append(build_runner(config, echo=runner_echo))
    threads = [threading.Thread(target=d.run, kwargs={"once": True}, daemon=True) for d in daemons]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)
    except KeyboardInterrupt:
        for daemon in daemons:
            daemon.request_stop(force=True)
        for thread in threads:
            thread.join()
        raise
    finally:
        for daemon in daemons:
            daemon.store.close()
    return daemons


def summary_lines(state: State) -> list[str]:
    """Escalation and cost figures of a finished demo."""
    attempts = [a for t in state.tasks.values() for a in t.attempts]
    by_mode: dict[str, tuple[int, float]] = {}
    for attempt in attempts:
        count, cost = by_mode.get(attempt.mode, (0, 0.0))
        by_mode[attempt.mode] = (count + 1, cost + (attempt.cost_usd or 0.0))
    escalated = [t for t in state.tasks.values() if len({a.mode for a in t.attempts}) > 1]
    first_try = [
        t
        for t in state.tasks.values()
        if t.status == TaskStatus.SUCCEEDED and len(t.attempts) == 1 and t.attempts[0].mode == t.requested_mode
    ]
    total = sum(cost for _, cost in by_mode.values())
    lines = [
        f"attempts: {len(attempts)} for {len(state.tasks)} tasks; "
        f"{len(first_try)} succeeded on the first, cheap attempt"
    ]
    for mode, (count, cost) in sorted(by_mode.items(), key=lambda kv: kv[1][1]):
        lines.append(f"  {mode:<8} {count} attempt(s)  ${cost:.4f}")
    for task in escalated:
        path = " -> ".join(f"{a.mode} ({a.outcome_detail or a.outcome.value})" for a in task.attempts)
        lines.append(f"escalated {task.id}: {path}")
    lines.append(f"total cost: ${total:.4f}")
    return lines


def wait_for_tip(store: StateStore, seconds: float = 2.0) -> State:
    """A fresh read (runners may still be pushing their last heartbeat)."""
    deadline = time.monotonic() + seconds
    state = store.read()
    while time.monotonic() < deadline and any(t.status == TaskStatus.RUNNING for t in state.tasks.values()):
        time.sleep(0.1)
        state = store.read()
    return state
