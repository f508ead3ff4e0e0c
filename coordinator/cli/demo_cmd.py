"""``coordinator demo``: README's first command after install."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from coordinator.cli.app import cli, usage_error
from coordinator.text import terminal_safe


def _sandbox_root(directory: Path | None) -> Path:
    """A new temporary folder, or ``--dir`` when it is new or empty (the demo never writes over anything)."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="coordinator-demo-")).resolve()
    root = directory.resolve()
    if root.exists() and any(root.iterdir()):
        usage_error(
            f"--dir {root} is not empty (a demo ran there before?): give a new or empty folder, "
            "or leave --dir out to use a new temporary one"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        usage_error(f"--dir {root}: cannot create it ({exc.strerror}): give a folder you can write to")
    return root


@cli.command()
@click.option(
    "--agent",
    type=click.Choice(["scripted", "claude"]),
    default="scripted",
    show_default=True,
    help="The built-in scripted agent (offline), or the real claude CLI (needs its credentials).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to build the sandbox: a new or empty folder. [default: a new temporary folder, kept afterwards]",
)
def demo(agent: str, directory: Path | None) -> None:
    """Run the whole thing locally: a sample repo, a state branch, tasks, two runners, and the results."""
    from coordinator.cli.render import task_rows
    from coordinator.demo import build_sandbox, run_runners, submit_demo_tasks, summary_lines, wait_for_tip
    from coordinator.store.remote import Remote
    from coordinator.store.store import StateStore
    from coordinator.timeutil import utcnow

    root = _sandbox_root(directory)
    started = time.monotonic()

    def say(message: str) -> None:
        for line in message.splitlines() or [""]:
            click.echo(f"[{time.monotonic() - started:5.1f}s] {terminal_safe(line)}")

    if agent == "claude":
        from coordinator.runner.build import build_agent
        from coordinator.runner.config import RunnerConfig

        build_agent(RunnerConfig(name="demo", repo=root, agent="claude"))  # says how to install it, if missing

    say(f"building a sandbox in {root}")
    origin = build_sandbox(root)
    with StateStore(Remote.parse(str(origin)), cache_dir=root / "cache") as store:
        store.init()
        ids = submit_demo_tasks(store)
        say(f"submitted {len(ids)} tasks; starting runner-a [linux] and runner-b [linux, gpu]")
        run_runners(root, agent=agent, echo=say)
        state = wait_for_tip(store)
    click.echo("")
    tasks = sorted(state.tasks.values(), key=lambda t: (t.created_at, t.id))
    click.echo(task_rows(tasks, utcnow()))
    click.echo("")
    for line in summary_lines(state):
        click.echo(line)
    done_by = {t.id: t.attempts[-1].runner for t in tasks if t.attempts}
    example = next(iter(done_by.items()), None)
    click.echo(f"\nfinished in {time.monotonic() - started:.1f}s. Where to look next:")
    click.echo(f"  coordinator --remote {origin} status            # runners and counts")
    click.echo(f"  coordinator --remote {origin} show task-2       # one task, every attempt")
    click.echo(f"  git -C {origin} log --oneline coordinator/state  # the audit log")
    if example:
        click.echo(f"  git -C {root / example[1]} log --stat coordinator/{example[0]}  # a task branch")
    click.echo(f"  {root / 'logs'}  # every attempt's full agent output")
    click.echo("  coordinator runner --help                          # run it for real on your repository")
