"""The doctor's checks of this machine: git and its identity, the claude CLI and its credentials, the folders a
runner writes to and their free space. Each probe measures and hands the judgement to :mod:`checks`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from coordinator.errors import ConfigError
from coordinator.gitcmd import run_git
from coordinator.ops.checks import Check, fail, judge_claude_version, judge_free_disk, judge_git_version, ok, warn
from coordinator.ops.setup import DoctorSetup

#: Variables the claude CLI authenticates with (names only are ever reported).
CLAUDE_CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN")
#: Variables that send the CLI to a cloud provider, which authenticates by its own means.
CLAUDE_PROVIDER_VARS = ("CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX")
_VERSION_TIMEOUT = 30.0


def probe_git(setup: DoctorSetup) -> list[Check]:
    """git's version, and whether commits made by hand in the clone have an author."""
    where = setup.repo or Path.home()
    try:
        done = run_git(["--version"], cwd=where, timeout=_VERSION_TIMEOUT)
    except ConfigError:
        return [judge_git_version(None)]
    checks = [judge_git_version(done.stdout if done.ok else None)]
    if done.ok:
        checks.append(_identity(where))
    return checks


def _identity(where: Path) -> Check:
    values = {key: run_git(["config", "--get", f"user.{key}"], cwd=where).stdout.strip() for key in ("name", "email")}
    missing = [f"user.{key}" for key, value in values.items() if not value]
    if missing:
        return warn(
            "git identity",
            f"{' and '.join(missing)} not set: runners commit as 'coordinator (NAME)' anyway, but your own "
            "commits (e.g. of the workflow file) fail",
            'git config --global user.name "Your Name" && git config --global user.email you@example.com',
        )
    return ok("git identity", f"{values['name']} <{values['email']}>")


def probe_claude(setup: DoctorSetup, env: Mapping[str, str] = os.environ) -> list[Check]:
    """The claude CLI: on PATH, its version, and credentials it can use (only for the claude agent)."""
    if setup.agent != "claude":
        return [ok("claude", f"not needed: the runner's agent is '{setup.agent}'")]
    found = shutil.which(setup.claude_path)
    if found is None:
        return [
            fail(
                "claude",
                f"the claude CLI ('{setup.claude_path}') is not on PATH",
                "npm install -g @anthropic-ai/claude-code (or set claude_path / --claude-path to where it is)",
            )
        ]
    return [judge_claude_version(found, _version_of(found)), claude_credentials({**env, **setup.agent_env})]


def _version_of(executable: str) -> str | None:
    try:
        done = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=_VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def claude_credentials(env: Mapping[str, str]) -> Check:
    """Whether the claude CLI has credentials: a variable, its login file, or (macOS) its keychain entry.

    Only presence is checked, never a value (nothing is printed or sent); a wrong key shows at the first task
    (the runner then stops claiming and says so).
    """
    named = [name for name in (*CLAUDE_CREDENTIAL_VARS, *CLAUDE_PROVIDER_VARS) if env.get(name, "").strip()]
    if named:
        return ok("claude credentials", f"{', '.join(named)} set")
    config_dir = Path(env.get("CLAUDE_CONFIG_DIR") or Path(env.get("HOME") or Path.home()) / ".claude")
    login = config_dir / ".credentials.json"
    if login.is_file():
        return ok("claude credentials", f"logged in ({login})")
    if sys.platform == "darwin" and _in_keychain():
        return ok("claude credentials", "logged in (macOS keychain entry 'Claude Code-credentials')")
    return fail(
        "claude credentials",
        f"no {', '.join(CLAUDE_CREDENTIAL_VARS)} and no login of the claude CLI ({login})",
        "run 'claude' once and log in with /login, or put ANTHROPIC_API_KEY=... in the runner's environment "
        "(an env file for 'coordinator service install --env-file', or agent_env in the runner config)",
    )


def _in_keychain() -> bool:
    """Whether the CLI's login is in the macOS keychain (attributes only: the secret is never read)."""
    try:
        done = subprocess.run(
            ["security", "find-generic-password", "-s", "Claude Code-credentials"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=_VERSION_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def probe_folders(setup: DoctorSetup) -> list[Check]:
    """Each folder a runner writes to can be written (a file made and removed; a missing folder's nearest
    existing parent must take it), and the free space of their disks."""
    checks: list[Check] = []
    places: list[tuple[str, int]] = []
    for what, path in setup.folders:
        problem, existing = writable(path)
        name = f"{what} folder"
        setting = _SETTINGS.get(what, "the runner config")
        if problem and existing is not None and not existing.is_dir():
            checks.append(fail(name, problem, f"move the file {existing} away, or set {setting} to another folder"))
        elif problem:
            fix = f"make {existing or path} writable for this user, or set {setting} to another folder"
            checks.append(fail(name, problem, fix))
        else:
            checks.append(ok(name, f"{path} is writable" + ("" if existing == path else " (will be created)")))
        if existing is not None:
            places.append((what, shutil.disk_usage(existing if existing.is_dir() else existing.parent).free))
    return [*checks, judge_free_disk(places)]


_SETTINGS = {
    "worktrees": "worktree_root (runner config)",
    "logs": "log_dir (--log-dir)",
    "cache": "cache_dir (COORDINATOR_CACHE_DIR)",
}


def writable(path: Path) -> tuple[str, Path | None]:
    """``("", existing)`` when a runner can write in ``path`` (``existing``: the folder that was tried, ``path`` or
    its nearest existing parent), else what is wrong. Nothing is left behind."""
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            return f"no part of {path} exists", None
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder", existing
    try:
        handle, name = tempfile.mkstemp(prefix=".coordinator-doctor-", dir=existing)
    except OSError as error:
        return f"cannot write in {existing}: {error.strerror or error}", existing
    os.close(handle)
    os.unlink(name)
    return "", existing
