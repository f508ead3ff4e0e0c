"""The ``coordinator`` command: click lives here and nowhere else.

Commands import the library lazily so that ``coordinator --help`` stays fast. Every expected error is a
``CoordinatorError``; it is printed as one line (``error: …``) and mapped to an exit code: 2 for bad input,
1 for failures, 3 when ``claim`` finds nothing to claim.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator, Sequence
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
    """A click group that prints every expected error as one line (``error: …``) instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from coordinator.errors import CoordinatorError

        try:
            return super().invoke(ctx)
        except CoordinatorError as exc:
            click.echo(error_line(str(exc)), err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; click's own usage errors are printed as one line too (click prints four)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as exc:  # plain `coordinator`: the help text, as click shows it
            exc.show()
            code = exc.exit_code
        except click.ClickException as exc:
            click.echo(click_error_line(exc), err=True)
            code = exc.exit_code
        except click.Abort:
            click.echo("aborted", err=True)
            code = 1
        sys.exit(code if isinstance(code, int) else 0)


#: Raised by click 8.2+ for a bare ``coordinator``; it shows the help, which is what a new user needs.
_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


def error_line(message: str) -> str:
    """``error: <message>`` on one line, with anything a terminal would act on shown escaped."""
    from coordinator.text import terminal_safe

    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return "error: " + terminal_safe(" / ".join(lines))


def click_error_line(exc: click.ClickException) -> str:
    """One line for a click error (bad option, missing option, bad value), naming the command's help."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    if message[1:2].islower():  # "Missing option" -> "missing option", like our own messages; "URL" stays
        message = message[0].lower() + message[1:]
    ctx: click.Context | None = getattr(exc, "ctx", None)
    hint = f" (see '{_command_path(ctx)} --help')" if ctx is not None else ""
    return error_line(message + hint)


def _command_path(ctx: click.Context) -> str:
    """``coordinator claim``: the command as a user types it, whatever the program was called (``python -m``)."""
    names: list[str] = []
    current: click.Context | None = ctx
    while current is not None:
        names.append(current.info_name or "")
        current = current.parent
    names[-1] = "coordinator"
    return " ".join(reversed(names))


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


#: The longest actor name written to the audit log.
MAX_ACTOR_CHARS = 100


def actor() -> str:
    """Who is acting, for the audit log: ``COORDINATOR_ACTOR``, else the login name.

    A name holding a newline would forge a line of the commit-message audit log, so control and invisible
    characters are refused (a usage error) by every command that writes one.
    """
    from coordinator.text import first_unsafe

    name = os.environ.get("COORDINATOR_ACTOR")
    where = "COORDINATOR_ACTOR"
    if not name:
        where = "your login name (set COORDINATOR_ACTOR to override it)"
        try:
            name = getpass.getuser()
        except Exception:  # getuser raises various errors when no user name is set (containers)
            return "unknown"
    found = first_unsafe(name)
    if found is not None:
        usage_error(
            f"{where} holds a control or invisible character ({found[1]} at position {found[0] + 1}): "
            "use a plain name, e.g. export COORDINATOR_ACTOR=alice"
        )
    if len(name) > MAX_ACTOR_CHARS:
        usage_error(f"{where} is {len(name)} characters long: use a name of at most {MAX_ACTOR_CHARS}")
    return name


def usage_error(message: str) -> NoReturn:
    from coordinator.errors import UsageError

    raise UsageError(message)


def read_text_option(stream: Any, option: str) -> str:
    """The text of a file given to ``option`` (opened in binary mode), or a usage error when it is not UTF-8."""
    data: bytes = stream.read()
    try:
        return data.decode("utf-8-sig")  # a BOM (Windows editors write one) is not part of the text
    except UnicodeDecodeError as exc:
        name = getattr(stream, "name", "<stdin>")
        usage_error(
            f"{option} {name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "save it as UTF-8; binary inputs belong in the repository (name their path instead)"
        )


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


@click.group(
    name="coordinator",
    cls=CoordinatorGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
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
    ctx.obj = Settings(remote=remote, branch=_checked_branch(branch))


@cli.command()
@click.option(
    "--github",
    is_flag=True,
    help="Also write .github/workflows/coordinator.yml into the repository; the state branch goes to its origin "
    "unless --remote is given.",
)
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --github: the clone to write the workflow into. [default: the repository of the current folder]",
)
@click.option("--force", is_flag=True, help="With --github: replace a workflow file that differs from this version's.")
@click.pass_context
def init(ctx: click.Context, github: bool, repo: Path | None, force: bool) -> None:
    """Create the state branch on the remote (safe to run again); with --github, the workflow that feeds it."""
    if github:
        from coordinator.cli.github_init import init_github

        init_github(ctx.obj, repo, force=force)
        return
    if repo is not None or force:
        usage_error("--repo and --force go with --github: run 'coordinator init --github' to set up GitHub")
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


def _checked_branch(branch: str) -> str:
    from coordinator.ids import check_branch

    try:
        return check_branch(branch)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--branch'") from None


def given_after_the_command(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``coordinator init --remote X``: a global option given after the command means the same as before it."""
    if value is None or param.name is None:
        return
    settings: Settings = ctx.obj
    if param.name == "branch":
        value = _checked_branch(value)
    setattr(settings, param.name, value)
    if ctx.parent is not None:  # commands that ask where an option came from (runner) see it as given
        ctx.parent.params[param.name] = value
        ctx.parent.set_parameter_source(param.name, click.core.ParameterSource.COMMANDLINE)


def state_options() -> list[click.Option]:
    """``--remote`` and ``--branch`` for a command to take after itself, meaning the same as before it."""
    return [
        click.Option(
            ["--remote"],
            metavar="URL",
            expose_value=False,
            callback=given_after_the_command,
            help="Git remote holding the state branch (also accepted before the command). [env: COORDINATOR_REMOTE]",
        ),
        click.Option(
            ["--branch"],
            metavar="NAME",
            expose_value=False,
            callback=given_after_the_command,
            help="The state branch (also accepted before the command). "
            f"[env: COORDINATOR_BRANCH; default: {DEFAULT_STATE_BRANCH}]",
        ),
    ]


def _accept_global_options_after_commands() -> None:
    """Give every command that uses the state branch ``--remote`` and ``--branch`` of its own."""
    for name, command in cli.commands.items():
        if name not in _COMMANDS_WITHOUT_STATE_OPTIONS:
            command.params += state_options()


#: The demo builds its own remote: it takes neither option.
_COMMANDS_WITHOUT_STATE_OPTIONS = frozenset({"demo", "service"})


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
        "coordinator.cli.modes_cmd",
        "coordinator.cli.demo_cmd",
        "coordinator.cli.ingest_cmd",
        "coordinator.cli.github_cmd",
        "coordinator.cli.plans_cmd",
        "coordinator.cli.limits_cmd",
        "coordinator.cli.approve_cmd",
        "coordinator.cli.webhook_cmd",
        "coordinator.cli.lock_cmd",
        "coordinator.cli.log_cmd",
        "coordinator.cli.pipeline_cmd",
        "coordinator.cli.metrics_cmd",
        "coordinator.cli.schedule_cmd",
        "coordinator.cli.doctor_cmd",
        "coordinator.cli.service_cmd",
        "coordinator.cli.budget_cmd",
        "coordinator.cli.gc_cmd",
    ):
        importlib.import_module(module)
    _accept_global_options_after_commands()


_register_more_commands()
