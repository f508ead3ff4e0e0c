"""What the doctor checks: the runner's settings as ``coordinator runner`` would read them (flags, config file,
environment), gathered once at the edge. Missing runner settings are no error: the doctor then checks the
command-line side only, and says so."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.errors import ConfigError
from coordinator.ids import DEFAULT_STATE_BRANCH
from coordinator.ops.checks import Check, fail, ok, warn
from coordinator.store.remote import Remote


@dataclass(frozen=True)
class DoctorSetup:
    """Where the queue is and what a runner here would use. ``remote`` is None when none is configured
    (``remote_why`` then says what to pass); ``folders`` are ``(what, path)`` pairs a runner writes to."""

    remote: Remote | None
    remote_why: str
    branch: str = DEFAULT_STATE_BRANCH
    repo: Path | None = None
    agent: str = "claude"
    claude_path: str = "claude"
    agent_env: Mapping[str, str] = field(default_factory=dict)
    folders: tuple[tuple[str, Path], ...] = ()
    cache_dir: Path | None = None
    #: The runner-settings check: what was found (or what is wrong with it).
    settings: Check = field(default_factory=lambda: ok("runner settings", "not checked"))


def doctor_setup(
    config_file: Path | None, overrides: dict[str, Any], *, remote: str | None, branch: str | None
) -> DoctorSetup:
    """The setup from the runner config (``config_file`` or the default one) with ``overrides`` (flags) on top;
    ``remote``/``branch`` are the global options when given (flag or environment), which win like they do for a
    runner (None: the config file's, else the defaults)."""
    from coordinator.runner.build import check_repo, locate_state, worktree_root
    from coordinator.runner.config import default_config_path, load_config
    from coordinator.store.store import default_cache_dir

    raw = _raw_values(config_file or default_config_path())
    raw.update({k: v for k, v in overrides.items() if v is not None})
    explicit_remote = remote or raw.get("remote")
    if not raw.get("name") or not raw.get("repo"):
        return _command_line_only(raw, explicit_remote, branch or str(raw.get("branch") or DEFAULT_STATE_BRANCH))
    try:
        config = load_config(config_file, {**overrides, "remote": remote, "branch": branch})
        repo = check_repo(config.repo)
        state = locate_state(config, remote_from="--remote / COORDINATOR_REMOTE" if remote else "the config file")
    except ConfigError as error:
        given, why = _given_remote(explicit_remote)
        return DoctorSetup(
            remote=given,
            remote_why=why,
            branch=branch or DEFAULT_STATE_BRANCH,
            settings=fail("runner settings", str(error), "fix the setting named, then run 'coordinator doctor' again"),
        )
    cache = config.cache_dir or default_cache_dir()
    return DoctorSetup(
        remote=state.remote,
        remote_why=state.why,
        branch=state.branch,
        repo=repo,
        agent=config.agent,
        claude_path=config.claude_path,
        agent_env=dict(config.agent_env),
        folders=(
            ("worktrees", worktree_root(config, repo)),
            ("logs", config.resolved_log_dir()),
            ("cache", cache),
        ),
        cache_dir=config.cache_dir,
        settings=ok("runner settings", f"runner {config.name}, clone {repo}, agent {config.agent}"),
    )


def _command_line_only(raw: dict[str, Any], remote: str | None, branch: str) -> DoctorSetup:
    """Without a runner name and clone, only the command-line side: the remote given, and the default folders."""
    import platformdirs

    from coordinator.runner.build import data_dir
    from coordinator.store.store import default_cache_dir

    folders = (
        ("worktrees", data_dir() / "wt"),
        ("logs", Path(platformdirs.user_log_dir("coordinator", appauthor=False))),
        ("cache", default_cache_dir()),
    )
    settings = warn(
        "runner settings",
        "no runner name and clone given (flags or config file): the runner's own folders and clone not checked",
        "run 'coordinator doctor --name NAME --repo PATH' (or --config FILE) with the runner's settings",
    )
    given, why = _given_remote(remote)
    return DoctorSetup(
        remote=given,
        remote_why=why,
        branch=branch,
        claude_path=str(raw.get("claude_path") or "claude"),
        agent=str(raw.get("agent") or "claude"),
        folders=folders,
        settings=settings,
    )


def _given_remote(spec: str | None) -> tuple[Remote | None, str]:
    """The remote named by the options or the config file, and where it came from (or what is wrong with it)."""
    if not spec:
        return None, "no state remote given: pass --remote URL, set COORDINATOR_REMOTE, or pass --repo of a clone"
    try:
        return Remote.parse(spec), "--remote / COORDINATOR_REMOTE / the config file"
    except ValueError as error:
        return None, str(error)


def _raw_values(path: Path) -> dict[str, Any]:
    """The runner config file's keys as written (unvalidated), or none when it is missing or unreadable (the
    validated load then says what is wrong)."""
    if not path.is_file():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return {"name": "?", "repo": "?"}  # let load_config report the error in full
    found = values.get("runner", values)
    return dict(found) if isinstance(found, dict) else {}


def environment_names(env: Mapping[str, str] = os.environ) -> set[str]:
    """Names of the variables set (non-empty) in ``env``: the doctor reports names, never values."""
    return {name for name, value in env.items() if value.strip()}
