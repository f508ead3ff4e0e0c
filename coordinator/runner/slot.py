"""One task this runner is working on, and the signals between the slot's thread and the rest of the runner."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from coordinator.models import PlanFile, Task, Verification


@dataclass
class Slot:
    """One task being worked on: ``stop`` asks its agent to end early, ``done`` says the agent has ended."""

    task: Task
    attempt: int
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    #: Set when the agent is stopped because the runner shuts down (the task is handed back, not failed).
    shutting_down: bool = False
    #: Set when the agent is stopped because its lease is gone (cancelled, or taken over).
    lease_lost: bool = False
    #: Set once the attempt's result is being recorded: from then on a vanished lease is expected.
    recording: bool = False
    #: The plan a planning attempt wrote (a ``plan`` task), read before its worktree goes.
    plan: PlanFile | None = None
    #: What a verify child found (a plan's integrated branch: merged, verified green or red).
    verification: Verification | None = None
    #: A verify child: the subtasks' branches it fetched to merge, and their commits then.
    tips: dict[str, str] = field(default_factory=dict)
    #: Why the attempt failed in a way neither a retry nor a stronger mode mends (a red verification: a fix
    #: child mends it; conflicting dependencies: a person does); the task fails without another attempt.
    for_good: str | None = None
    thread: threading.Thread | None = None
