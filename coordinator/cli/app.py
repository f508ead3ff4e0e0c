"""The ``coordinator`` command: click lives here and nowhere else.

Commands import the library lazily so that ``coordinator --help`` stays fast. Every expected error is a
``CoordinatorError``; it is printed as one line (``error: …``) and mapped to an exit code: 2 for bad input,
1 for failures, 3 when ``claim`` finds nothing to claim.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from coordinator import __version__
from coordinator.ids import DEFAULT_STATE_BRANCH

if TYPE_CHECKING:
    from coordinator.core.state import State
    from coordinator.core.transitions import Change
    from coordinator.store.store import StateStore

EXIT_NOTHING_TO_CLAIM = 3

F = TypeVar("F", bound=Callable[..., Any])


class CoordinatorGroup(click.Group):
    """A click group that prints expected errors as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from coordinator.errors import CoordinatorError

        try:
            return super().invoke(ctx)
        except CoordinatorError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@dataclass
class Settings:
    """Global options shared by every command."""

    remote: str | None
    branch: str
    cwd: Path | None = None  # relative local remotes are resolved against this (default: the current folder)

    def open_store(self) -> StateStore:
        """A store for the configured remote, or a clear error saying how to configure one."""
        from coordinator.errors import ConfigError, init_command
        from coordinator.store.remote import Remote
        from coordinator.store.store import StateStore

        if not self.remote:
            raise ConfigError(
                "no remote given: pass --remote URL or set COORDINATOR_REMOTE "
                "(to try it locally: git init --bare /tmp/state.git && coordinator --remote /tmp/state.git init)"
            )
        try:
            remote = Remote.parse(self.remote, cwd=self.cwd)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if remote.is_local and not remote.url.startswith("file://") and not Path(remote.url).exists():
            raise ConfigError(
                f"no git repository at {remote.url}: create one with 'git init --bare {remote.url}', "
                f"then run '{init_command(remote.url, self.branch)}'"
            )
        return StateStore(remote, self.branch)


@contextmanager
def store_for(ctx: click.Context) -> Iterator[StateStore]:
    settings: Settings = ctx.obj
    store = settings.open_store()
    try:
        yield store
    finally:
        store.close()


def actor() -> str:
    name = os.environ.get("COORDINATOR_ACTOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # getuser raises various errors when no user name is set (containers)
        return "unknown"


def usage_error(message: str) -> NoReturn:
    from coordinator.errors import UsageError

    raise UsageError(message)


def echo_json(value: Any) -> None:
    from coordinator.cli.render import to_json

    click.echo(to_json(value))


def check_id(value: str) -> str:
    """A task id given on the command line, or a usage error saying what ids look like."""
    return _checked_name("task id", value)


def _checked_name(kind: str, value: str) -> str:
    from coordinator.ids import check_name

    try:
        return check_name(kind, value)
    except ValueError as exc:
        usage_error(str(exc))


def now() -> Any:
    from coordinator.timeutil import utcnow

    return utcnow()


def apply(ctx: click.Context, transition: Callable[[State, Any], Change]) -> Change:
    with store_for(ctx) as store:
        return store.update(transition)


@click.group(cls=CoordinatorGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="coordinator", message="%(prog)s %(version)s")
@click.option(
    "--remote",
    envvar="COORDINATOR_REMOTE",
    metavar="URL",
    help="Git remote holding the state branch (path of a bare repo, ssh or https URL). [env: COORDINATOR_REMOTE]",
)
@click.option(
    "--branch",
    envvar="COORDINATOR_BRANCH",
    default=DEFAULT_STATE_BRANCH,
    show_default=True,
    metavar="NAME",
    help="The state branch. [env: COORDINATOR_BRANCH]",
)
@click.pass_context
def cli(ctx: click.Context, remote: str | None, branch: str) -> None:
    """A task queue for Claude Code whose state lives on a git branch.

    \b
    Quick start (all local):
      git init --bare /tmp/state.git
      export COORDINATOR_REMOTE=/tmp/state.git
      coordinator init
      coordinator submit "Add a README section about install"
      coordinator list
    """
    if not branch or branch.startswith(("/", "-")) or ".." in branch or branch.endswith((".lock", "/")):
        raise click.BadParameter(f"'{branch}' is not a valid branch name", param_hint="--branch")
    ctx.obj = Settings(remote=remote, branch=branch)


@cli.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the state branch on the remote (safe to run again)."""
    with store_for(ctx) as store:
        created = store.init()
        state = store.read(fresh=False)
    if created:
        click.echo(f"created state branch '{store.branch}' on {store.remote} (schema v{state.meta.schema_version})")
    else:
        click.echo(
            f"state branch '{store.branch}' on {store.remote} exists already "
            f"(schema v{state.meta.schema_version}, {len(state.tasks)} tasks)"
        )


def runner_name(name: str) -> str:
    """A runner name given on the command line, or a usage error."""
    return _checked_name("runner name", name)


def _register_more_commands() -> None:
    # Imported for their @cli.command side effects; kept in their own modules to keep this one readable.
    import importlib

    for module in (
        "coordinator.cli.tasks_cmd",
        "coordinator.cli.work_cmd",
        "coordinator.cli.runner_cmd",
        "coordinator.cli.demo_cmd",
    ):
        importlib.import_module(module)


_register_more_commands()
