"""Runner services on this machine: build the :class:`ServiceSpec` from the user's options (refusing anything
that would put a secret into a unit file), find where this user's services live, and carry out a
:class:`Plan` (write, remove, call ``systemctl --user`` / ``launchctl`` / ``schtasks``)."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from coordinator.errors import ConfigError, CoordinatorError, UsageError
from coordinator.ops.envfile import read_env_file
from coordinator.ops.service_plans import PLATFORMS, Command, Places, Plan, Platform
from coordinator.ops.service_units import ServiceSpec, runner_arguments
from coordinator.store.remote import Remote

_COMMAND_TIMEOUT = 120.0
#: Variables a runner reads from its environment that a service does not inherit from the user's shell.
RUNNER_SECRETS = (
    "COORDINATOR_GITHUB_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
)


def this_platform() -> Platform:
    """The platform coordinator runs on (anything that is neither Windows nor macOS counts as Linux)."""
    if sys.platform == "win32":
        return "windows"
    return "macos" if sys.platform == "darwin" else "linux"


def places_for(platform: Platform, env: Mapping[str, str] = os.environ) -> Places:
    """Where this user's services live on ``platform`` (another platform's only for ``--print``)."""
    from coordinator.runner.build import data_dir

    home = Path.home()
    getuid = getattr(os, "getuid", None)  # POSIX only; launchd's domain is gui/<uid>
    domain = env.get("USERDOMAIN", "")
    user = env.get("USERNAME") or _login()
    return Places(
        platform=platform,
        home=home,
        config_home=Path(env.get("XDG_CONFIG_HOME") or home / ".config"),
        data_dir=data_dir(),
        uid=getuid() if getuid is not None else 501,
        user=f"{domain}\\{user}" if domain else user,
    )


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # getuser raises various errors when no user name is set (containers)
        return "user"


def build_spec(
    name: str,
    *,
    platform: Platform,
    repo: Path | None,
    config: Path | None,
    env_file: Path | None,
    remote: str | None,
    branch: str | None,
) -> ServiceSpec:
    """The service of runner ``name`` with these options, checked: the clone, config and env file exist (paths
    made absolute: a service does not start in the current folder), and a remote holding a token is refused (a
    unit file is no place for a secret: it belongs in the env file)."""
    from coordinator.ids import check_name
    from coordinator.runner.build import check_repo
    from coordinator.runner.config import default_config_path

    try:
        check_name("runner name", name)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if repo is not None:
        # Checked as the runner will check it; another platform's clone (--print) is only made absolute.
        repo = check_repo(repo) if platform == this_platform() else repo.expanduser().resolve()
    if config is not None:
        config = config.expanduser().resolve()
        if not config.is_file():
            raise ConfigError(f"runner config {config} does not exist: create it or drop --config")
    elif repo is None and not default_config_path().is_file():
        raise UsageError(
            "the runner needs its clone: pass --repo PATH (or --config FILE naming repo = ...), e.g. "
            f"coordinator service install --name {name} --repo ~/src/myproject"
        )
    if env_file is not None:
        env_file = env_file.expanduser().resolve()
        read_env_file(env_file)  # a malformed file is refused now, not at the service's first start
    if remote and Remote.parse(remote).secrets:
        raise ConfigError(
            "the remote holds a token, and a service file is no place for a secret: put "
            "COORDINATOR_REMOTE=<the URL> in an env file (chmod 600) and pass --env-file FILE instead of --remote"
        )
    return ServiceSpec(
        name=name,
        python=_python(platform),
        runner_args=runner_arguments(
            name,
            repo=str(repo) if repo else None,
            config=str(config) if config else None,
            remote=remote,
            branch=branch,
        ),
        working_dir=str(repo or Path.home()),
        log_file=str(_log_folder(name) / "service.log"),
        env_file=str(env_file) if env_file else None,
    )


def _python(platform: Platform) -> str:
    """This interpreter; on Windows its windowless twin (``pythonw.exe``), so no console opens at logon."""
    python = Path(sys.executable)
    if platform == "windows" and python.name.lower() == "python.exe" and python.with_name("pythonw.exe").exists():
        return str(python.with_name("pythonw.exe"))
    return str(python)


def _log_folder(name: str) -> Path:
    import platformdirs

    return Path(platformdirs.user_log_dir("coordinator", appauthor=False)) / name


def missing_secrets(env_file: Path | None, env: Mapping[str, str] = os.environ) -> list[str]:
    """Variables set in this shell that the runner uses but the service will not see (not in the env file)."""
    from coordinator.github.settings import TOKEN_VARIABLES

    given = set(read_env_file(env_file)) if env_file is not None else set()
    # One variable of a kind is enough: a GitHub token in the file covers GITHUB_TOKEN in the shell.
    for kind in (TOKEN_VARIABLES, ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")):
        if given & set(kind):
            given |= set(kind)
    return [name for name in RUNNER_SECRETS if env.get(name, "").strip() and name not in given]


def execute(plan: Plan) -> list[str]:
    """Carry out ``plan``; returns what was done, one line each. When a command fails, the files this plan
    wrote are removed again (nothing half-installed stays) and the error names the command and its output."""
    done: list[str] = []
    for folder in plan.folders:
        folder.mkdir(parents=True, exist_ok=True)
    for write in plan.writes:
        write.path.parent.mkdir(parents=True, exist_ok=True)
        write.path.write_text(write.text, encoding=write.encoding)
        done.append(f"wrote {write.path}")
    done += _run_all(plan, plan.commands)
    for path in plan.removes:
        if path.exists():
            path.unlink()
            done.append(f"removed {path}")
    return done + _run_all(plan, plan.after)


def _run_all(plan: Plan, commands: tuple[Command, ...]) -> list[str]:
    done: list[str] = []
    for command in commands:
        try:
            code, output = run_command(command)
        except CoordinatorError:
            _undo(plan)
            raise
        if code != 0 and not command.may_fail:
            _undo(plan)
            raise CoordinatorError(f"'{command}' failed (exit {code}): {_tail(output)}")
        done.append(f"ran {command}")
    return done


def run_command(command: Command) -> tuple[int, str]:
    """Exit code and output (stdout and stderr) of ``command``; a missing tool is a ``ConfigError``."""
    try:
        proc = subprocess.run(
            list(command.argv),
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            timeout=_COMMAND_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError(
            f"'{command.argv[0]}' is not on PATH, so this system's service manager cannot be used: run "
            "'coordinator service install --print ...' and set the service up by hand"
        ) from None
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {_COMMAND_TIMEOUT:.0f} s"
    return proc.returncode, proc.stdout + proc.stderr


def _undo(plan: Plan) -> None:
    for write in plan.writes:
        write.path.unlink(missing_ok=True)


def _tail(output: str) -> str:
    from coordinator.text import terminal_safe

    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return terminal_safe(" / ".join(lines[-3:])) or "no output"


def known_platform(value: str) -> Platform:
    """``value`` as a platform name, or a usage error listing them."""
    for platform in PLATFORMS:
        if value == platform:
            return platform
    raise UsageError(f"unknown platform {value!r}: use one of {', '.join(PLATFORMS)}")
