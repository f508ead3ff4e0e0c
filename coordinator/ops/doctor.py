"""``coordinator doctor``: every check of this machine and its queue, run side by side (most wait on a network
or a subprocess), reported in a fixed order. A check that breaks unexpectedly is reported as a FAIL naming
the error, never as a traceback."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from coordinator.ops.checks import Check, fail, judge_skew
from coordinator.ops.probe_github import probe_github
from coordinator.ops.probe_local import probe_claude, probe_folders, probe_git
from coordinator.ops.probe_remote import StateReport, probe_state
from coordinator.ops.setup import DoctorSetup
from coordinator.timeutil import utcnow

T = TypeVar("T")


def run_doctor(
    setup: DoctorSetup, *, now: Callable[[], datetime] = utcnow, env: Mapping[str, str] = os.environ
) -> list[Check]:
    """All checks for ``setup``, in report order: settings, git, claude, remote and state branch, GitHub, clock,
    folders and disk. ``now`` is this machine's clock (tests pass their own); ``env`` is where tokens and
    credentials are looked for (names only are ever reported)."""
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="doctor") as pool:
        git = pool.submit(probe_git, setup)
        claude = pool.submit(probe_claude, setup, env)
        state = pool.submit(probe_state, setup, now)
        github = pool.submit(probe_github, setup.remote, now, env)
        folders = pool.submit(probe_folders, setup)
        state_report = _result(state, "remote", StateReport)
        github_checks, github_skew = _result(github, "github token", lambda checks: (checks, None))
    measured = list(state_report.skew)
    if github_skew is not None:
        measured.append(("GitHub's clock", github_skew))
    clock = judge_skew(measured, unmeasured=state_report.unmeasured)
    return [
        setup.settings,
        *_result(git, "git", list),
        *_result(claude, "claude", list),
        *state_report.checks,
        *github_checks,
        clock,
        *_result(folders, "folders", list),
    ]


def _result(future: Future[T], name: str, wrap: Callable[[list[Check]], T]) -> T:
    """The probe's result, or a FAIL naming what broke (a bug or an unexpected environment, never a traceback)."""
    try:
        return future.result()
    except Exception as error:  # one broken probe must not hide the others' results
        detail = f"the check itself failed: {type(error).__name__}: {error}"
        return wrap([fail(name, detail, "report this with the output of 'coordinator doctor --json'")])
