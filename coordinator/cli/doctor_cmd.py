"""``coordinator doctor``: is this machine ready to run tasks, and what to do when it is not."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from coordinator.cli.app import Settings, cli, echo_json

if TYPE_CHECKING:
    from coordinator.ops.checks import Check

_MARKS = {"OK": "ok  ", "WARN": "WARN", "FAIL": "FAIL"}


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option("--name", metavar="NAME", help="The runner's name (as given to 'coordinator runner').")
@click.option("--repo", type=click.Path(file_okay=False, path_type=Path), help="The runner's clone.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Runner config file (TOML). [default: COORDINATOR_RUNNER_CONFIG or the user config folder]",
)
@click.option("--claude-path", metavar="PATH", help="The claude executable. [default: claude]")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path), help="The runner's log folder.")
@click.pass_context
def doctor(
    ctx: click.Context,
    as_json: bool,
    name: str | None,
    repo: Path | None,
    config_file: Path | None,
    claude_path: str | None,
    log_dir: Path | None,
) -> None:
    """Check this machine and the queue: git, the claude CLI and its credentials, the GitHub token, the remote
    and the state branch, clocks, folders and free disk. Each check says OK, WARN or FAIL and the fix.

    Give the runner's settings (--name and --repo, or --config) to check what that runner uses. Exit 1 when
    anything failed. Nothing is written anywhere (the push check is a dry run).
    """
    from coordinator.ops.checks import exit_code, summary
    from coordinator.ops.doctor import run_doctor
    from coordinator.ops.setup import doctor_setup

    settings: Settings = ctx.obj
    overrides = {"name": name, "repo": repo, "claude_path": claude_path, "log_dir": log_dir}
    parent = ctx.parent
    source = parent.get_parameter_source("branch") if parent is not None else None
    branch = settings.branch if source is not None and source.name != "DEFAULT" else None
    setup = doctor_setup(config_file, overrides, remote=settings.remote, branch=branch)
    checks = run_doctor(setup)
    if as_json:
        echo_json({"ok": exit_code(checks) == 0, "checks": [check.as_json() for check in checks]})
    else:
        _print_report(checks)
        click.echo(summary(checks))
    ctx.exit(exit_code(checks))


def _print_report(checks: list[Check]) -> None:
    from coordinator.text import terminal_safe

    width = max(len(check.name) for check in checks)
    for check in checks:
        # Details quote git's and GitHub's words: shown escaped, like everything from outside.
        click.echo(f"{_MARKS[check.status.value]}  {check.name:<{width}}  {terminal_safe(check.detail)}")
        if check.fix:
            click.echo(f"      {'':<{width}}  fix: {terminal_safe(check.fix)}")
