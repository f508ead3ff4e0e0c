"""Doctor's results and the pure judgements behind them: every check is OK, WARN or FAIL, says what it saw, and
(unless OK) the fix, i.e. the next command to run. No I/O here: the probes measure, these functions judge."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: The oldest git coordinator supports (``git push --porcelain`` answers and ``for-each-ref`` formats it parses).
MIN_GIT = (2, 29, 0)
#: The claude CLI version the end-to-end tests run against.
TESTED_CLAUDE = (2, 1, 332)
#: Free space below which a runner is likely to fail (worktrees, logs, the object cache).
FAIL_FREE_BYTES = 1 << 30
WARN_FREE_BYTES = 5 << 30
#: Clock skew worth a warning (the store reports commits dated this far ahead), and one that breaks leases
#: (a lease is taken over when it expired more than an hour ago by this machine's clock).
WARN_SKEW_SECONDS = 120.0
FAIL_SKEW_SECONDS = 1800.0

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


class Status(StrEnum):
    """How a check came out; a FAIL makes ``coordinator doctor`` exit 1."""

    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report: ``name``, ``status``, what was seen (``detail``) and the ``fix``."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, Any]:
        """The check as ``--json`` prints it."""
        return {"name": self.name, "status": self.status.value, "detail": self.detail, "fix": self.fix}


def ok(name: str, detail: str) -> Check:
    """A passed check."""
    return Check(name, Status.OK, detail)


def warn(name: str, detail: str, fix: str) -> Check:
    """A check that works but deserves attention."""
    return Check(name, Status.WARN, detail, fix)


def fail(name: str, detail: str, fix: str) -> Check:
    """A check that stops runners from working."""
    return Check(name, Status.FAIL, detail, fix)


def exit_code(checks: Iterable[Check]) -> int:
    """1 when any check failed, else 0 (warnings do not fail the doctor)."""
    return 1 if any(check.status is Status.FAIL for check in checks) else 0


def summary(checks: Sequence[Check]) -> str:
    """The last line of the report: counts, and what to do next."""
    fails = sum(1 for c in checks if c.status is Status.FAIL)
    warns = sum(1 for c in checks if c.status is Status.WARN)
    if not fails and not warns:
        return f"all {len(checks)} checks passed"
    counts = f"{fails} failed, {warns} warning(s), {len(checks) - fails - warns} passed"
    if fails:
        return f"{counts}: fix what failed, then run 'coordinator doctor' again"
    return f"{counts}: the runner can work; the warnings say what to improve"


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``X.Y[.Z]`` in ``text`` (``git version 2.39.5``, ``2.1.332 (Claude Code)``), or None."""
    found = _VERSION.search(text)
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)


def dotted(version: tuple[int, ...]) -> str:
    """``(2, 29, 0)`` -> ``2.29.0``."""
    return ".".join(str(part) for part in version)


def judge_git_version(output: str | None) -> Check:
    """``git --version`` output (None: git did not run) against :data:`MIN_GIT`."""
    fix = f"install git {dotted(MIN_GIT)} or newer (https://git-scm.com/downloads) and put it on PATH"
    if output is None:
        return fail("git", "git is not installed or not on PATH", fix)
    version = parse_version(output)
    if version is None:
        return fail("git", f"cannot read the version from {output.strip()!r}", fix)
    if version < MIN_GIT:
        return fail("git", f"git {dotted(version)} is older than {dotted(MIN_GIT)}", fix)
    return ok("git", f"git {dotted(version)} ({dotted(MIN_GIT)} or newer needed)")


def judge_claude_version(path: str, output: str | None) -> Check:
    """``claude --version`` output (None: it did not run) of the CLI at ``path``, against :data:`TESTED_CLAUDE`."""
    upgrade = "npm install -g @anthropic-ai/claude-code@latest"
    if output is None:
        return fail("claude", f"{path} --version failed", f"reinstall it: {upgrade}")
    version = parse_version(output)
    if version is None:
        return fail("claude", f"{path} --version said {output.strip()[:80]!r}, not a version", f"reinstall: {upgrade}")
    if version < TESTED_CLAUDE:
        return warn(
            "claude",
            f"claude {dotted(version)} at {path} is older than {dotted(TESTED_CLAUDE)}, the version coordinator "
            "is tested with",
            upgrade,
        )
    return ok("claude", f"claude {dotted(version)} at {path}")


def judge_free_disk(places: Sequence[tuple[str, int]]) -> Check:
    """Free bytes of each ``(what, free)`` place (worktrees, logs, cache); the least free one decides."""
    if not places:
        return warn("free disk", "no folder to measure", "pass --repo PATH (or --config FILE) to check a runner")
    what, free = min(places, key=lambda place: place[1])
    seen = ", ".join(f"{_gib(size)} for {name}" for name, size in places)
    fix = f"free space on the disk of {what} (or move it: worktree_root, log_dir, cache_dir in the runner config)"
    if free < FAIL_FREE_BYTES:
        return fail("free disk", f"only {seen} (under {_gib(FAIL_FREE_BYTES)})", fix)
    if free < WARN_FREE_BYTES:
        return warn("free disk", f"{seen} (under {_gib(WARN_FREE_BYTES)})", fix)
    return ok("free disk", seen)


def judge_skew(measured: Sequence[tuple[str, float]], unmeasured: str = "") -> Check:
    """Clock skew: ``(source, seconds)`` where seconds > 0 means the source's clock is ahead of this machine's.

    ``unmeasured`` says why nothing could be measured when ``measured`` is empty.
    """
    fix = "turn on time synchronisation (NTP) on this machine (Linux: 'timedatectl set-ntp true'; macOS: System "
    fix += "Settings > General > Date & Time; Windows: 'w32tm /resync') and on the machine whose clock is off"
    if not measured:
        return ok("clock", unmeasured or "nothing to compare with")
    source, seconds = max(measured, key=lambda item: abs(item[1]))
    direction = "ahead of" if seconds > 0 else "behind"
    said = f"{source} is {abs(seconds):.0f} s {direction} this machine's clock"
    if abs(seconds) >= FAIL_SKEW_SECONDS:
        return fail("clock", said + " (leases are judged by this clock)", fix)
    if abs(seconds) >= WARN_SKEW_SECONDS:
        return warn("clock", said, fix)
    sources = ", ".join(name for name, _ in measured)
    return ok("clock", f"within {WARN_SKEW_SECONDS:.0f} s of {sources}")


def _gib(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB"
