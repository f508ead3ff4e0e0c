"""The one way to build a runner: a ``RunnerConfig`` in, a ready ``RunnerDaemon`` out.

The CLI, the demo, the tests and the benchmarks all build runners here, so whatever they vary is a config key a
user can set too (see README: "Running a runner").
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coordinator.agents.base import Agent
from coordinator.agents.containment import Containment
from coordinator.diff_scan import scan_diff
from coordinator.errors import ConfigError
from coordinator.gitcmd import GitIdentity, git_out
from coordinator.redaction import Redactor, Secret
from coordinator.runner.clock import SYSTEM_CLOCK, Clock
from coordinator.runner.config import RunnerConfig
from coordinator.runner.daemon import RunnerDaemon
from coordinator.runner.github_side import RunnerGitHub
from coordinator.runner.permissions import Ceiling
from coordinator.runner.worktree import Scanner, WorktreeManager
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore


@dataclass(frozen=True)
class StateLocation:
    """Where a runner's queue lives, and why that remote was chosen (said at start and by ``--dry-run``)."""

    remote: Remote
    branch: str
    why: str


def check_repo(path: Path) -> Path:
    """The top of the clone at ``path``; a one-line ``ConfigError`` when it is missing, not a git repository,
    or a bare repository (a runner needs a clone with a work tree)."""
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"--repo {path} does not exist: clone the target repository there first")
    bare = git_out(["rev-parse", "--is-bare-repository"], cwd=path)
    if bare is None:
        raise ConfigError(f"--repo {path} is not a git repository: clone the target repository there first")
    if bare == "true":
        raise ConfigError(
            f"--repo {path} is a bare repository: runners need a clone with a work tree "
            f"(git clone {path} <folder>, then --repo <folder>)"
        )
    top = git_out(["rev-parse", "--show-toplevel"], cwd=path)
    if not top:
        raise ConfigError(f"--repo {path} is inside a git directory, not a work tree: pass the clone's top folder")
    return Path(top).resolve()


def locate_state(config: RunnerConfig, *, remote_from: str = "the config file") -> StateLocation:
    """The state remote: ``config.remote`` (whose origin ``remote_from`` names), else the clone's ``origin``."""
    repo = check_repo(config.repo)
    if config.remote:
        spec, why, cwd = config.remote, remote_from, None
    else:
        origin = git_out(["remote", "get-url", "origin"], cwd=repo)
        if origin is None:
            raise ConfigError(
                f"{repo} has no 'origin' remote to hold the state branch: add one "
                f"(git -C {repo} remote add origin URL) or pass --remote URL"
            )
        # The origin of a clone may be a path relative to the clone itself.
        spec, why, cwd = origin, f"the origin of {repo}", repo
    try:
        remote = Remote.parse(spec, cwd=cwd)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return StateLocation(remote=remote, branch=config.branch, why=why)


def build_agent(
    config: RunnerConfig,
    *,
    allow_missing: bool = False,
    containment: Containment | None = None,
    redactor: Redactor | None = None,
) -> Agent:
    """The agent the config names, checked for what it needs (``allow_missing``: a claude CLI that is not
    installed still gives an agent, for ``--dry-run`` to show what it would run)."""
    if config.agent == "command":
        from coordinator.agents.command import CommandAgent

        if not config.agent_command:
            raise ConfigError("--agent command needs --agent-command CMD (the executable to run for each task)")
        return CommandAgent(
            config.agent_command,
            kill_grace_seconds=config.kill_grace_seconds,
            containment=containment,
            redactor=redactor,
        )
    if config.agent == "scripted":
        from coordinator.agents.scripted import ScriptedAgent

        return ScriptedAgent()
    from coordinator.agents.claude import ClaudeAgent

    executable = shutil.which(config.claude_path)
    if executable is None and allow_missing:
        executable = config.claude_path
    if executable is None:
        raise ConfigError(
            f"the claude CLI ('{config.claude_path}') is not on PATH: install it with "
            "'npm install -g @anthropic-ai/claude-code', or pass --claude-path PATH"
        )
    return ClaudeAgent(
        executable,
        extra_env=config.agent_env,
        kill_grace_seconds=config.kill_grace_seconds,
        containment=containment,
        redactor=redactor,
    )


def runner_redactor(config: RunnerConfig, state: StateLocation) -> Redactor:
    """What this runner keeps out of logs, results and commits: secret-looking variables of its environment and of
    ``agent_env``, the variables its config names, and the state remote's credentials."""
    remote = [Secret(value, "the state remote's credentials") for value in state.remote.secrets if value]
    return Redactor.from_env(
        {**os.environ, **config.agent_env},
        names=config.secret_env_names,
        patterns=config.secret_env_patterns,
        not_secret=config.not_secret_env_names,
        extra_values=remote,
    )


def secret_scanner(redactor: Redactor) -> Scanner:
    """Finds secrets in what an attempt would commit: added lines and new file names of every commit, and the
    commit messages; each finding names the file and the kind of secret, never the value."""

    def scan(patches: str, messages: str) -> list[str]:
        found = [finding.describe() for finding in scan_diff(patches, redactor)]
        if redactor.find(messages, confident_only=True):
            found.append("a commit message holds a secret")
        return found

    return scan


def runner_identity(config: RunnerConfig) -> GitIdentity:
    """Author of every commit this runner makes, on the state branch and on task branches."""
    return GitIdentity(name=f"coordinator ({config.name})")


def data_dir() -> Path:
    """Where runners keep worktrees and their own state: ``COORDINATOR_DATA_DIR``, else the platform's per-user
    data folder (``~/.local/share/coordinator``, ``~/Library/Application Support/coordinator``,
    ``%LOCALAPPDATA%\\coordinator``), which survives reboots."""
    configured = os.environ.get("COORDINATOR_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("coordinator", appauthor=False))


def runner_state_dir(config: RunnerConfig) -> Path:
    """This runner's own folder on this machine (records of the agents it runs): ``<data dir>/runners/NAME``."""
    return data_dir().resolve() / "runners" / config.name


def worktree_root(config: RunnerConfig, repo: Path) -> Path:
    """The folder of this clone's worktrees: ``worktree_root``, else ``<data dir>/wt/<clone name>-<hash>``.

    Never inside a ``.git`` directory: Claude Code refuses every edit under a path with a ``.git`` component,
    so an agent working there could not change a single file. Short, for Windows' path limits.
    """
    if config.worktree_root is not None:
        root = config.worktree_root.expanduser().resolve()
    else:
        key = hashlib.sha256(str(repo).encode("utf-8", "surrogateescape")).hexdigest()[:8]
        root = data_dir().resolve() / "wt" / f"{repo.name[:20]}-{key}"
    if ".git" in root.parts:
        raise ConfigError(
            f"worktree_root {root} is inside a .git directory, where the claude CLI refuses every edit: "
            "pick a folder outside any .git directory"
        )
    return root


def build_runner(
    config: RunnerConfig,
    *,
    state: StateLocation | None = None,
    echo: Callable[[str], None] = print,
    clock: Clock = SYSTEM_CLOCK,
    dry_run: bool = False,
) -> RunnerDaemon:
    """A runner as ``coordinator runner`` starts it; ``state`` defaults to :func:`locate_state`, ``clock`` (for
    tests) to the system clock. ``dry_run`` builds one that is only looked at, so a missing agent is no error."""
    repo = check_repo(config.repo)
    state = state or locate_state(config)
    # Agents die with their runner: a watchdog, pid files and per-attempt markers (not for a dry run).
    containment = (
        None
        if dry_run
        else Containment(runner_state_dir(config) / "agents", kill_grace_seconds=config.kill_grace_seconds, echo=echo)
    )
    redactor = runner_redactor(config, state)
    agent = build_agent(config, allow_missing=dry_run, containment=containment, redactor=redactor)
    identity = runner_identity(config)
    worktrees = WorktreeManager(
        repo, root=worktree_root(config, repo), runner=config.name, author=identity, scan=secret_scanner(redactor)
    )
    store = StateStore(state.remote, state.branch, cache_dir=config.cache_dir, author=str(identity), clock=clock.now)
    ceiling = Ceiling(
        max_permission_mode=config.max_permission_mode,
        denied_tools=tuple(config.denied_tools),
        honour_system_prompt=config.honour_branch_system_prompt,
    )
    github = None if dry_run else runner_github(config, store, worktrees, redactor, clock=clock, echo=echo)
    return RunnerDaemon(
        config,
        github=github,
        store=store,
        agent=agent,
        worktrees=worktrees,
        ceiling=ceiling,
        containment=containment,
        redactor=redactor,
        clock=clock,
        echo=echo,
    )


def runner_github(
    config: RunnerConfig,
    store: StateStore,
    worktrees: WorktreeManager,
    redactor: Redactor,
    *,
    clock: Clock,
    echo: Callable[[str], None],
) -> RunnerGitHub | None:
    """The runner's GitHub side when a token is set (``COORDINATOR_GITHUB_TOKEN``, ``GITHUB_TOKEN`` or
    ``GH_TOKEN``), for the repository ``GITHUB_REPOSITORY`` names or the state remote is; None (the runner then
    takes no task of an issue) without a token or a repository."""
    from coordinator.github.rest import RestGitHub
    from coordinator.github.run_reporter import RunReporter
    from coordinator.github.settings import GitHubSettings, github_repository, token_in
    from coordinator.github.wiring import courier_for
    from coordinator.runner.pusher import ClonePusher

    if not token_in(os.environ):
        return None
    repository = os.environ.get("GITHUB_REPOSITORY") or github_repository(store.remote.url)
    if not repository:
        # A developer's GITHUB_TOKEN is common; with a local queue it must not stop the runner.
        echo(
            f"note: a GitHub token is set, but the state remote {store.remote.url} is not on github.com and "
            "GITHUB_REPOSITORY is unset: this runner takes no tasks of GitHub issues"
        )
        return None
    settings = GitHubSettings.from_env(repository=repository)
    api = RestGitHub(settings)
    pusher = ClonePusher(worktrees.repo, store.remote, base=lambda: worktrees.resolve_base(config.base))
    courier = courier_for(
        store,
        api,
        who=config.name,
        repository=settings.repository,
        redactor=redactor,
        now=clock.now,
        echo=echo,
        pusher=pusher,
    )
    reports = RunReporter(
        store=store,
        api=api,
        who=config.name,
        repository=repository,
        redact=redactor.redact,
        now=clock.now,
        echo=echo,
    )
    return RunnerGitHub(
        api=api,
        courier=courier,
        config=lambda: store.state.github,
        monotonic=clock.monotonic,
        echo=echo,
        reports=reports,
    )
