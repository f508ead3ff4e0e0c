"""``coordinator service``: keep a runner running as a service of the operating system (a systemd user unit, a
launchd agent, a Task Scheduler task), and ``service run``, what those services start."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from coordinator.cli.app import Settings, cli, state_options

if TYPE_CHECKING:
    from coordinator.ops.service_plans import Places, Plan

_PLATFORM = click.Choice(["linux", "macos", "windows"])
_MANAGERS = {"linux": "a systemd user service", "macos": "a launchd agent", "windows": "a Task Scheduler task"}


@cli.group()
def service() -> None:
    """Run a runner as a service: started at login, restarted when it fails (systemd, launchd, Task Scheduler).

    \b
      coordinator service install --name box-1 --repo ~/src/myproject --env-file ~/.config/coordinator/box-1.env
      coordinator service status --name box-1
      coordinator service uninstall --name box-1
    Add --print to see the service file and the commands instead of installing.
    """


def _common(function: click.decorators.FC) -> click.decorators.FC:
    function = click.option(
        "--platform", type=_PLATFORM, help="With --print: show another platform's service. [default: this one]"
    )(function)
    function = click.option("--print", "print_only", is_flag=True, help="Show what would be done; change nothing.")(
        function
    )
    return click.option("--name", required=True, metavar="NAME", help="The runner's name.")(function)


@service.command()
@_common
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), help="The runner's clone.")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="The runner's config file."
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="KEY=VALUE file of secrets the runner needs (tokens, API keys); never copied into the service file.",
)
@click.pass_context
def install(
    ctx: click.Context,
    name: str,
    print_only: bool,
    platform: str | None,
    repo: Path | None,
    config_file: Path | None,
    env_file: Path | None,
) -> None:
    """Install runner NAME as a service and start it (an installed one is replaced and restarted)."""
    from coordinator.ops.service_manager import build_spec, execute, missing_secrets
    from coordinator.ops.service_plans import install_plan

    settings: Settings = ctx.obj
    places = _places(platform, print_only)
    branch = settings.branch if settings.branch != _default_branch() else None
    spec = build_spec(
        name,
        platform=places.platform,
        repo=repo,
        config=config_file,
        env_file=env_file,
        remote=settings.remote,
        branch=branch,
    )
    plan = install_plan(spec, places)
    if print_only:
        _print_plan(plan)
        return
    for line in execute(plan):
        click.echo(f"  {line}")
    click.echo(f"installed runner {name} as {_MANAGERS[places.platform]}; it starts now and at every login")
    for line in _after_install(places, name):
        click.echo(line)
    for variable in missing_secrets(Path(spec.env_file) if spec.env_file else None):
        click.echo(
            f"note: {variable} is set in this shell, but the service does not see it: put it in an env file "
            "(chmod 600) and install again with --env-file FILE"
        )


install.params += state_options()


@service.command()
@_common
def uninstall(name: str, print_only: bool, platform: str | None) -> None:
    """Stop runner NAME's service and remove it (its running tasks are handed back, uncounted)."""
    from coordinator.ops.service_manager import execute
    from coordinator.ops.service_plans import uninstall_plan

    places = _places(platform, print_only)
    plan = uninstall_plan(name, places)
    if print_only:
        _print_plan(plan)
        return
    for line in execute(plan):
        click.echo(f"  {line}")
    click.echo(f"uninstalled runner {name}'s service")


@service.command()
@_common
@click.pass_context
def status(ctx: click.Context, name: str, print_only: bool, platform: str | None) -> None:
    """Whether runner NAME's service is installed and running (exit 0 only when it runs)."""
    from coordinator.ops.service_manager import run_command
    from coordinator.ops.service_plans import read_status, service_file, status_command

    places = _places(platform, print_only)
    command = status_command(name, places)
    if print_only:
        click.echo(str(command))
        return
    code, output = run_command(command)
    running, words = read_status(places.platform, code, output)
    path = service_file(name, places)
    click.echo(f"runner {name}: {words}; service file {path}{'' if path.exists() else ' (missing)'}")
    ctx.exit(0 if running else 1)


@service.command(
    "run", hidden=True, context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_command_line(env_file: Path | None, log_file: Path | None, args: tuple[str, ...]) -> None:
    """What a service starts: load the env file, send output to the log file, then run ``coordinator ARGS``."""
    from coordinator.ops.envfile import read_env_file

    if env_file is not None:
        os.environ.update(read_env_file(env_file))
    if log_file is not None:
        _log_to(log_file)
    cli.main(args=list(args), prog_name="coordinator")


def _log_to(path: Path) -> None:
    """Send this process's output (and its children's) to ``path``, appended, line by line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a", encoding="utf-8", buffering=1)
    for fd in (1, 2):
        with contextlib.suppress(OSError):  # pythonw on Windows starts without these descriptors
            os.dup2(handle.fileno(), fd)
    sys.stdout = sys.stderr = handle


def _places(platform: str | None, print_only: bool) -> Places:
    from coordinator.ops.service_manager import known_platform, places_for, this_platform

    here = this_platform()
    chosen = known_platform(platform or here)
    if chosen != here and not print_only:
        raise click.UsageError(f"--platform {chosen} goes with --print: this machine is {here}")
    return places_for(chosen)


def _default_branch() -> str:
    from coordinator.ids import DEFAULT_STATE_BRANCH

    return DEFAULT_STATE_BRANCH


def _print_plan(plan: Plan) -> None:
    for write in plan.writes:
        click.echo(f"# {write.path}" + ("" if write.encoding == "utf-8" else f" (written as {write.encoding})"))
        click.echo(write.text.rstrip("\n"))
    if plan.commands:
        click.echo("# then run:")
    for command in plan.commands:
        click.echo(f"{command}" + ("    # may fail: nothing to stop" if command.may_fail else ""))
    for path in plan.removes:
        click.echo(f"# remove {path}")
    for command in plan.after:
        click.echo(str(command))


def _after_install(places: Places, name: str) -> list[str]:
    from coordinator.ops.service_units import unit_name

    status = f"status: coordinator service status --name {name}"
    if places.platform == "linux":
        return [
            status,
            f"logs: journalctl --user -u {unit_name(name)} -f",
            "note: user services stop at logout; to keep it running and start it at boot: loginctl enable-linger $USER",
        ]
    return [status]
