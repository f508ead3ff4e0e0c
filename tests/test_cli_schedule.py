"""``coordinator schedule add|list|remove`` and ``coordinator tick`` as a user types them: the installed command as a
subprocess on a real bare remote, three ticks racing for one slot, and a one-line error (exit 2, nothing written)
for every bad input."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from coordinator.cli.app import cli
from tests.gitutil import branch_log, edit_branch, read_branch_file
from tests.user_machine import coordinator_command, run, user_env


@pytest.fixture
def env(tmp_path: Path, remote_path: Path) -> dict[str, str]:
    """A user's environment whose COORDINATOR_REMOTE is an initialised state branch."""
    environment = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(remote_path), "COORDINATOR_ACTOR": "alice"})
    done = run(["init"], environment)
    assert done.returncode == 0, done.stderr
    return environment


def ok(args: list[str], env: dict[str, str]) -> str:
    done = run(args, env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def hour_after_next(now: datetime) -> datetime:
    """The top of the hour after the next one: an occurrence of '0 * * * *' certainly after any schedule added now."""
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def far_from_now_in_berlin() -> str:
    """A daily cron twelve hours away in Berlin: never due in the two hours the hourly schedule below is ticked in.

    A fixed '30 2 * * *' made this test fail when it ran shortly after midnight UTC."""
    hour = (datetime.now(UTC) + timedelta(hours=12)).astimezone(ZoneInfo("Europe/Berlin")).hour
    return f"30 {hour} * * *"


def test_a_schedule_added_listed_ticked_and_removed_through_the_command(env: dict[str, str], remote_path: Path) -> None:
    daily = far_from_now_in_berlin()
    added = ok(
        [
            "schedule",
            "add",
            "nightly",
            "--cron",
            daily,
            "--timezone",
            "Europe/Berlin",
            "--title",
            "Nightly checks",
            "--body",
            "Run the checks.",
            "--priority",
            "high",
            "--requires",
            "linux",
            "--mode",
            "complex",
        ],
        env,
    )
    assert added.startswith("added schedule nightly: next task sched-nightly-")
    assert "Europe/Berlin)" in added
    ok(["schedule", "add", "hourly", "--cron", "0 * * * *", "--title", "Hourly"], env)
    listed = ok(["schedule", "list"], env).splitlines()
    assert listed[0].split() == ["NAME", "CRON", "TIMEZONE", "NEXT", "LAST", "TASK", "MODE", "PRIORITY", "TITLE"]
    assert listed[1].split()[:3] == ["hourly", "0", "*"] and listed[2].split()[0] == "nightly"
    as_json = json.loads(ok(["schedule", "list", "--json"], env))
    assert [s["name"] for s in as_json] == ["hourly", "nightly"]
    nightly = as_json[1]
    assert (nightly["cron"], nightly["timezone"], nightly["mode"], nightly["requires"]) == (
        daily,
        "Europe/Berlin",
        "complex",
        ["linux"],
    )
    assert nightly["created_by"] == "alice" and nightly["next_slot"].endswith(":30:00Z")
    stored = json.loads(read_branch_file(remote_path, "schedules/nightly.json"))
    assert stored["title"] == "Nightly checks" and stored["enqueued"] == []

    slot = hour_after_next(datetime.now(UTC))
    assert ok(["tick", "--now", iso(slot + timedelta(minutes=5))], env) == (
        f"enqueued sched-hourly-{slot:%Y%m%dt%H%M}: Hourly\n"
    )
    assert ok(["tick", "--now", iso(slot + timedelta(minutes=6))], env) == "nothing due\n"
    task = json.loads(ok(["show", f"sched-hourly-{slot:%Y%m%dt%H%M}", "--json"], env))
    assert (task["status"], task["group"], task["source"]["kind"], task["source"]["actor"]) == (
        "queued",
        "schedule-hourly",
        "schedule",
        "alice",
    )
    assert "LAST TASK" in ok(["schedule", "list"], env) and f"sched-hourly-{slot:%Y%m%dt%H%M}" in ok(
        ["schedule", "list"], env
    )

    assert (
        ok(["schedule", "remove", "hourly"], env)
        == "removed schedule hourly (tasks it enqueued stay: coordinator list)\n"
    )
    assert [s["name"] for s in json.loads(ok(["schedule", "list", "--json"], env))] == ["nightly"]
    assert branch_log(remote_path)[:4] == [
        "schedule remove hourly",
        f"tick hourly: submit sched-hourly-{slot:%Y%m%dt%H%M}: Hourly",
        "schedule add hourly: '0 * * * *'",
        f"schedule add nightly: '{daily}' (Europe/Berlin)",
    ]


def test_three_ticks_at_once_for_one_slot_make_one_task(env: dict[str, str], remote_path: Path) -> None:
    for name in ("a", "b"):
        ok(["schedule", "add", name, "--cron", "0 * * * *", "--title", f"job {name}"], env)
    slot = hour_after_next(datetime.now(UTC))
    # Three machines (own caches), each a second apart in what it takes as now: their commits differ, so two of
    # them lose the compare-and-swap race (or read the branch after the winner) and must find nothing left to do.
    ticks = [
        subprocess.Popen(
            [*coordinator_command(), "tick", "--now", iso(slot + timedelta(minutes=1, seconds=i))],
            env={**env, "COORDINATOR_CACHE_DIR": str(Path(env["HOME"]) / f"cache-{i}")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outputs = [t.communicate(timeout=120) for t in ticks]
    assert [t.returncode for t in ticks] == [0, 0, 0], outputs
    said = sorted(line for out, _ in outputs for line in out.splitlines())
    assert said[:2] == [f"enqueued sched-a-{slot:%Y%m%dt%H%M}: job a", f"enqueued sched-b-{slot:%Y%m%dt%H%M}: job b"]
    assert said[2:] == ["nothing due", "nothing due"]
    assert [line for line in branch_log(remote_path) if line.startswith("tick ")] == [
        f"tick a: submit sched-a-{slot:%Y%m%dt%H%M}: job a; tick b: submit sched-b-{slot:%Y%m%dt%H%M}: job b"
    ]
    # A late tick for the same slot never rewrites the task a runner holds by now.
    claimed = json.loads(ok(["claim", "--runner", "box-1", "--json"], env))
    assert ok(["tick", "--now", iso(slot + timedelta(minutes=2))], env) == "nothing due\n"
    assert json.loads(ok(["show", claimed["id"], "--json"], env))["status"] == "running"
    assert sorted(t["id"] for t in json.loads(ok(["list", "--json"], env))) == [
        f"sched-a-{slot:%Y%m%dt%H%M}",
        f"sched-b-{slot:%Y%m%dt%H%M}",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cron", "61 * * * *"], "error: --cron: cron expression '61 * * * *' is not valid (out of range)"),
        (["--cron", "0 3 * *"], "error: --cron: cron expression '0 3 * *' has 4 fields, not five"),
        (["--cron", "0 0 31 2 *"], "error: --cron: cron expression '0 0 31 2 *' never matches a date"),
        (["--cron", "@reboot"], "error: --cron: unknown cron alias '@reboot'"),
        (["--cron", "0 3 * * *", "--timezone", "Mars/Olympus"], "error: --timezone: unknown time zone 'Mars/Olympus'"),
        (["--cron", "0 3 * * *", "--timezone", "../../etc/passwd"], "error: --timezone: '../../etc/passwd' is not a"),
        (["--cron", "0 3 * * *", "--mode", "turbo"], "error: --mode: unknown mode 'turbo': use one of complex"),
        (["--cron", "0 3 * * *", "--requires", "GPU!"], "error: --requires: invalid capability 'GPU!'"),
        (["--cron", "0 3 * * *", "--body", "a", "--body-file", "-"], "error: give either --body or --body-file"),
    ],
    ids=["range", "fields", "never", "alias", "zone", "zone-path", "mode", "capability", "two-bodies"],
)
def test_bad_input_is_one_line_exit_2_and_nothing_is_written(
    env: dict[str, str], remote_path: Path, args: list[str], message: str
) -> None:
    before = branch_log(remote_path)
    done = run(["schedule", "add", "x", "--title", "t", *args], env)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(message), done.stderr
    assert branch_log(remote_path) == before


def cli_run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_more_bad_input_names_what_to_do(remote_path: Path) -> None:
    remote = ["--remote", str(remote_path)]
    assert cli_run(*remote, "init").exit_code == 0
    bad_name = cli_run(*remote, "schedule", "add", "Nightly Job", "--cron", "@daily", "--title", "t")
    assert bad_name.exit_code == 2 and bad_name.stderr.startswith("error: NAME: invalid schedule name 'Nightly Job'")
    long_name = cli_run(*remote, "schedule", "add", "n" * 81, "--cron", "@daily", "--title", "t")
    assert long_name.exit_code == 2 and "use at most 80 (it becomes part of its tasks' ids)" in long_name.stderr
    assert cli_run(*remote, "schedule", "add", "x", "--cron", "@daily", "--title", "t").exit_code == 0
    again = cli_run(*remote, "schedule", "add", "x", "--cron", "@daily", "--title", "t")
    assert again.exit_code == 2 and "schedule 'x' exists already: remove it first with" in again.stderr
    missing = cli_run(*remote, "schedule", "remove", "y")
    assert missing.exit_code == 1
    assert missing.stderr == "error: no schedule 'y' on the state branch: run 'coordinator schedule list' to see them\n"
    bad_now = cli_run(*remote, "tick", "--now", "tomorrow")
    assert bad_now.exit_code == 2 and bad_now.stderr.startswith("error: --now: 'tomorrow' is not a date")
    no_title = cli_run(*remote, "schedule", "add", "z", "--cron", "@daily")
    assert no_title.exit_code == 2 and "give --title (a task at each occurrence) or --pipeline NAME" in no_title.stderr


def test_the_state_options_work_after_the_subcommand_and_a_bad_file_is_reported(
    remote_path: Path, tmp_path: Path
) -> None:
    assert cli_run("init", "--remote", str(remote_path)).exit_code == 0
    added = cli_run("schedule", "add", "x", "--cron", "@daily", "--title", "t", "--remote", str(remote_path))
    assert added.exit_code == 0, added.output
    edit_branch(remote_path, tmp_path / "work", {"schedules/broken.json": '{"name": "broken", "cron": "61 * * * *"}'})
    listed = cli_run("schedule", "list", "--remote", str(remote_path))
    assert listed.exit_code == 0 and listed.stdout.splitlines()[1].startswith("x ")
    assert "warning: schedules/broken.json is unreadable" in listed.output
    ticked = cli_run("--remote", str(remote_path), "tick", "--now", "+2d")
    assert ticked.exit_code == 0 and ticked.stdout.startswith("enqueued sched-x-")
    assert cli_run("--remote", str(remote_path), "schedule", "remove", "broken").exit_code == 0


def test_a_schedule_with_a_zone_this_machine_lacks_is_skipped_with_a_warning(remote_path: Path, tmp_path: Path) -> None:
    assert cli_run("--remote", str(remote_path), "init").exit_code == 0
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    schedule = {"name": "far", "cron": "@hourly", "timezone": "Mars/Olympus", "title": "t", "created_at": created}
    edit_branch(remote_path, tmp_path / "work", {"schedules/far.json": json.dumps(schedule)})
    ticked = cli_run("--remote", str(remote_path), "tick", "--now", "+3h")
    assert ticked.exit_code == 0 and ticked.stdout == "nothing due\n"
    assert ticked.stderr.startswith("warning: schedule far skipped: unknown time zone 'Mars/Olympus'")
