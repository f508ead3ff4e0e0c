"""The doctor's checks of the state remote: reachable, writable (a dry-run push, so nothing is left behind), the
state branch and its schema version, and the clock against the remote's."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from coordinator.errors import CoordinatorError, SchemaTooNew, StateBranchMissing, init_command
from coordinator.gitcmd import GitIdentity, last_lines, run_git
from coordinator.models import SCHEMA_VERSION
from coordinator.ops.checks import Check, fail, ok, warn
from coordinator.ops.clock_sources import http_date_skew
from coordinator.ops.setup import DoctorSetup
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from coordinator.text import terminal_safe

_PROBE_TIMEOUT = 60.0


@dataclass(frozen=True)
class StateReport:
    """The remote's checks, and the clocks measured on the way (``skew``: source, seconds ahead of this one)."""

    checks: list[Check]
    skew: list[tuple[str, float]] = field(default_factory=list)
    unmeasured: str = "not measured: the remote was not reached"


def probe_state(setup: DoctorSetup, now: Callable[[], datetime]) -> StateReport:
    """Remote, write access, state branch and clocks: one connection after another (each needs the one before)."""
    remote = setup.remote
    if remote is None:
        return StateReport([fail("remote", setup.remote_why, "coordinator doctor --remote URL (or --name N --repo P)")])
    try:
        store = StateStore(remote, setup.branch, cache_dir=setup.cache_dir, clock=now)
    except (CoordinatorError, OSError) as error:
        fix = "set cache_dir (or COORDINATOR_CACHE_DIR) to a writable folder"
        return StateReport([fail("remote", f"cannot open the local object cache: {error}", fix)])
    try:
        try:
            tip = store.remote_tip()
        except CoordinatorError as error:
            fix = f"check the URL and your access: git ls-remote {remote.url}"
            return StateReport([fail("remote", str(error), fix)])
        checks = [ok("remote", f"{remote.url} answers ({setup.remote_why})"), push_access(remote)]
        state_check, commit_skew = _state_branch(store, setup.branch, tip)
        checks.append(state_check)
        measured, unmeasured = _clocks(remote, commit_skew, now)
        return StateReport(checks, measured, unmeasured)
    finally:
        store.close()


def push_access(remote: Remote) -> Check:
    """Whether this machine may push to ``remote``: a ``--dry-run`` push of a new, empty commit to a unique
    branch name. git asks the server for push access (https: the receive-pack handshake needs write rights; ssh:
    a read-only key is refused) but sends nothing, so the remote is left exactly as it was."""
    fix = "give this machine write access to the remote (a token or key allowed to push; 'Contents: write')"
    local = _local_path(remote)
    if local is not None:
        unwritable = [p for p in (local / "objects", local / "refs") if p.is_dir() and not os.access(p, os.W_OK)]
        if unwritable:
            return fail("remote writable", f"{unwritable[0]} is not writable for this user", fix)
    with tempfile.TemporaryDirectory(prefix="coordinator-doctor-", ignore_cleanup_errors=True) as folder:
        scratch = Path(folder)
        run_git(["init", "--bare", "--quiet", str(scratch)], cwd=scratch)
        tree = run_git(["mktree"], cwd=scratch, input_data="").stdout.strip()
        message = "coordinator doctor: push probe"
        made = run_git(["commit-tree", tree, "-m", message], cwd=scratch, env=GitIdentity().env())
        ref = f"refs/heads/coordinator-doctor-probe-{secrets.token_hex(4)}"
        pushed = run_git(
            ["push", "--dry-run", "--porcelain", "--no-verify", remote.url, f"{made.stdout.strip()}:{ref}"],
            cwd=scratch,
            env=remote.git_env(),
            timeout=_PROBE_TIMEOUT,
        )
    if not pushed.ok:
        said = terminal_safe(remote.redact(last_lines(pushed.stderr or pushed.stdout)))
        return fail("remote writable", f"a dry-run push to {remote.url} was refused: {said}", fix)
    return ok("remote writable", "a dry-run push was accepted (nothing was written)")


def _local_path(remote: Remote) -> Path | None:
    """The git directory of a remote on this machine (where a dry run checks no file permissions)."""
    if not remote.is_local:
        return None
    path = Path(remote.url.removeprefix("file://"))
    return path / ".git" if (path / ".git").is_dir() else path


def _state_branch(store: StateStore, branch: str, tip: str | None) -> tuple[Check, list[tuple[str, float]]]:
    """The state branch and its schema version, and the commits seen dated ahead of this clock."""
    name = "state branch"
    remote = str(store.remote)
    create = init_command(remote, branch, bool(store.remote.secrets))
    if tip is None:
        return fail(name, f"no branch '{branch}' on {remote}", create), []
    try:
        state = store.read()
    except StateBranchMissing:
        return fail(name, f"no branch '{branch}' on {remote}", create), []
    except CoordinatorError as error:
        return fail(name, str(error), f"pick the state branch with --branch, or {init_command(remote, 'NEW')}"), []
    skew = [(f"the newest commit on {branch} (by {who})", ahead) for who, ahead in store.skew.items()]
    version = state.meta.schema_version
    if version > SCHEMA_VERSION:
        upgrade = "pipx upgrade coordinator-queue (or pip install -U coordinator-queue)"
        return fail(name, str(SchemaTooNew(version, SCHEMA_VERSION)).split(":")[0], upgrade), skew
    detail = f"'{branch}': schema v{version}, {len(state.tasks)} task(s), {len(state.runners)} runner(s)"
    if state.problems:
        return warn(name, f"{detail}; {len(state.problems)} unreadable entr(ies)", "coordinator status"), skew
    return ok(name, detail), skew


def _clocks(
    remote: Remote, commit_skew: list[tuple[str, float]], now: Callable[[], datetime]
) -> tuple[list[tuple[str, float]], str]:
    """Skew against the remote's HTTP ``Date`` (http and https remotes) and commits dated ahead of this clock;
    and, when nothing was measured, why."""
    measured = list(commit_skew)
    parts = urlsplit(remote.url)
    if parts.scheme in {"http", "https"} and parts.netloc:
        server = f"{parts.scheme}://{parts.netloc}/"
        seconds = http_date_skew(server, now)
        if seconds is not None:
            measured.append((f"the clock of {parts.netloc}", seconds))
    if remote.is_local:
        return measured, "the remote is on this machine: one clock"
    return measured, "no commit on the state branch is dated ahead of this clock (the remote tells no time)"
