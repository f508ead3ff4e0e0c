"""Runners as services: the three service formats rendered as pure functions (checked on every platform), the
env-file format, the status parsers, and ``coordinator service`` end to end with a fake ``systemctl`` on PATH
that records its calls."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from coordinator.errors import ConfigError
from coordinator.ops.envfile import parse_env_text
from coordinator.ops.service_plans import Places, install_plan, read_status, status_command, uninstall_plan
from coordinator.ops.service_units import (
    ServiceSpec,
    launchd_plist,
    runner_arguments,
    systemd_quote,
    systemd_unit,
    task_scheduler_xml,
)
from tests.runner_helpers import Project
from tests.user_machine import run, user_env

SPEC = ServiceSpec(
    name="box-1",
    python="/opt/my tools/bin/python3",
    runner_args=runner_arguments("box-1", repo="/src/my project", config=None, remote="/srv/state.git", branch=None),
    working_dir="/src/my project",
    log_file="/home/ada/.local/state/coordinator/log/box-1/service.log",
    env_file="/home/ada/.config/coordinator/box-1.env",
)
TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def places(platform: str, root: Path = Path("/home/ada")) -> Places:
    return Places(platform, root, root / ".config", root / ".local/share/coordinator", uid=501, user="CORP\\ada")  # type: ignore[arg-type]


class TestUnits:
    def test_the_systemd_unit_runs_the_runner_with_the_env_file_and_stops_it_gently(self) -> None:
        unit = systemd_unit(SPEC)
        assert (
            'ExecStart="/opt/my tools/bin/python3" -m coordinator runner --name box-1 --repo "/src/my project"' in unit
        )
        assert "--remote /srv/state.git" in unit
        assert "EnvironmentFile=/home/ada/.config/coordinator/box-1.env\n" in unit
        assert "KillMode=mixed\n" in unit  # SIGTERM to the runner only: it gives its agents their grace period
        assert "TimeoutStopSec=45\n" in unit
        assert "WantedBy=default.target" in unit

    def test_systemd_arguments_are_quoted_and_never_expanded(self) -> None:
        assert systemd_quote("plain-arg") == "plain-arg"
        assert systemd_quote("50%") == "50%%"  # % is a specifier
        assert systemd_quote("$HOME") == "$$HOME"  # $ would be a variable
        assert systemd_quote('a "b"') == '"a \\"b\\""'
        assert systemd_quote("C:\\x") == '"C:\\\\x"'

    def test_the_launchd_agent_loads_the_env_file_through_service_run(self) -> None:
        plist = plistlib.loads(launchd_plist(SPEC).encode())
        assert plist["Label"] == "dev.coordinator.runner.box-1"
        arguments = plist["ProgramArguments"]
        assert arguments[:6] == ["/opt/my tools/bin/python3", "-m", "coordinator", "service", "run", "--env-file"]
        assert arguments[arguments.index("--") + 1 :] == list(SPEC.runner_args)
        assert plist["KeepAlive"] == {"SuccessfulExit": False}
        assert plist["StandardOutPath"] == SPEC.log_file
        assert plist["ExitTimeOut"] == 45

    def test_the_scheduled_task_has_no_time_limit_and_restarts(self) -> None:
        root = ET.fromstring(task_scheduler_xml(SPEC, user="CORP\\ada").split("\n", 1)[1])
        assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == SPEC.python
        arguments = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS) or ""
        assert arguments.startswith("-m coordinator service run --log-file ")
        assert '--repo "/src/my project"' in arguments
        assert root.findtext("t:Settings/t:ExecutionTimeLimit", namespaces=TASK_NS) == "PT0S"
        assert root.findtext("t:Settings/t:RestartOnFailure/t:Count", namespaces=TASK_NS) == "999"
        assert root.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=TASK_NS) == "CORP\\ada"

    def test_xml_special_characters_are_escaped(self) -> None:
        spec = ServiceSpec("box-1", "C:\\a&b\\pythonw.exe", ("runner", "--name", "box-1"), "C:\\<x>", "C:\\l.log")
        root = ET.fromstring(task_scheduler_xml(spec, user="ada").split("\n", 1)[1])
        assert root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == "C:\\a&b\\pythonw.exe"


class TestPlans:
    def test_each_platform_installs_and_uninstalls_with_its_own_tool(self) -> None:
        linux = install_plan(SPEC, places("linux"))
        assert [c.argv[:3] for c in linux.commands] == [
            ("systemctl", "--user", "daemon-reload"),
            ("systemctl", "--user", "enable"),
            ("systemctl", "--user", "restart"),
        ]
        assert linux.writes[0].path == Path("/home/ada/.config/systemd/user/coordinator-runner-box-1.service")
        mac = install_plan(SPEC, places("macos"))
        assert [str(c) for c in mac.commands][-1].startswith("launchctl bootstrap gui/501 ")
        windows = install_plan(SPEC, places("windows"))
        assert windows.writes[0].encoding == "utf-16"
        assert str(windows.commands[1]).startswith("schtasks /Create /TN coordinator-runner-box-1 /XML ")
        assert [c.argv[1] for c in uninstall_plan("box-1", places("windows")).commands] == ["/End", "/Delete"]
        assert uninstall_plan("box-1", places("linux")).commands[0].argv[2:4] == ("disable", "--now")
        assert status_command("box-1", places("macos")).argv == (
            "launchctl",
            "print",
            "gui/501/dev.coordinator.runner.box-1",
        )

    def test_a_service_is_stopped_before_its_file_goes(self) -> None:
        linux = uninstall_plan("box-1", places("linux"))
        assert [c.argv[2] for c in linux.commands] == ["disable"]
        assert [c.argv[2] for c in linux.after] == ["daemon-reload"]
        for platform in ("macos", "windows"):
            plan = uninstall_plan("box-1", places(platform))
            assert plan.commands and plan.removes and not plan.after

    def test_status_answers_are_read_for_every_platform(self) -> None:
        show = "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nUnitFileState=enabled\n"
        assert read_status("linux", 0, show) == (True, "active (running), pid 4242, enabled at login")
        assert read_status("linux", 0, "LoadState=not-found\nActiveState=inactive\n") == (False, "not installed")
        printed = "gui/501/dev.coordinator.runner.box-1 = {\n\tactive count = 1\n\tstate = running\n\tpid = 77\n}"
        assert read_status("macos", 0, printed) == (True, "running, pid 77")
        assert read_status("macos", 113, "Could not find service") == (False, "not loaded")
        query = "Folder: \\\nTaskName:      \\coordinator-runner-box-1\nStatus:        Ready\nLast Result:   1\n"
        assert read_status("windows", 0, query) == (False, "Ready (last result 1)")


def test_secrets_the_service_would_miss_are_named(tmp_path: Path) -> None:
    from coordinator.ops.service_manager import missing_secrets

    shell = {"GITHUB_TOKEN": "ghp_x", "ANTHROPIC_API_KEY": "sk-ant-x", "HOME": "/home/ada"}
    assert missing_secrets(None, shell) == ["GITHUB_TOKEN", "ANTHROPIC_API_KEY"]
    env_file = tmp_path / "box.env"
    env_file.write_text("COORDINATOR_GITHUB_TOKEN=ghp_y\n", encoding="utf-8")
    assert missing_secrets(env_file, shell) == ["ANTHROPIC_API_KEY"]  # one GitHub token is enough


class TestEnvFile:
    def test_the_systemd_subset_is_read(self) -> None:
        text = '# secrets\n\nCOORDINATOR_GITHUB_TOKEN=ghp_abc\nexport A=\'x y\'\nB="q\\"uote"\nC=\n'
        assert parse_env_text(text, "f.env") == {
            "COORDINATOR_GITHUB_TOKEN": "ghp_abc",
            "A": "x y",
            "B": 'q"uote',
            "C": "",
        }

    def test_a_bad_line_is_named_without_its_value(self) -> None:
        with pytest.raises(ConfigError) as caught:
            parse_env_text("OK=1\nthis holds sk-ant-secret\n", "box.env")
        assert str(caught.value).startswith("box.env, line 2: not a KEY=VALUE line")
        assert "sk-ant-secret" not in str(caught.value)


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="installs through systemctl (Linux)")

FAKE_SYSTEMCTL = """#!{python}
import json, os, sys
from pathlib import Path
with open(os.environ["FAKE_SYSTEMCTL_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[1:2] == [os.environ.get("FAKE_SYSTEMCTL_FAIL", "-")]:
    print("Job for unit failed", file=sys.stderr)
    sys.exit(1)
if args[1:2] == ["show"]:
    unit = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user" / args[2]
    if unit.exists():
        print("LoadState=loaded\\nActiveState=active\\nSubState=running\\nMainPID=4242\\nUnitFileState=enabled")
    else:
        print("LoadState=not-found\\nActiveState=inactive\\nSubState=dead\\nMainPID=0\\nUnitFileState=")
"""


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, str]:
    """A user's environment with a fake systemctl first on PATH, recording each call in a log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL.format(python=sys.executable), encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    extra = {"FAKE_SYSTEMCTL_LOG": str(tmp_path / "calls.log"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    return user_env(tmp_path / "home", extra, path_first=[bin_dir])


def calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["FAKE_SYSTEMCTL_LOG"])
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return [json.loads(line) for line in lines]


@linux_only
def test_install_status_uninstall_through_the_command(
    project: Project, tmp_path: Path, machine: dict[str, str]
) -> None:
    clone = project.clone("box-1")
    secrets = tmp_path / "box-1.env"
    secrets.write_text("COORDINATOR_GITHUB_TOKEN=ghp_notarealtoken0123456789\n", encoding="utf-8")
    done = run(["service", "install", "--name", "box-1", "--repo", str(clone), "--env-file", str(secrets)], machine)
    assert done.returncode == 0, done.stderr
    unit = Path(machine["XDG_CONFIG_HOME"]) / "systemd" / "user" / "coordinator-runner-box-1.service"
    text = unit.read_text(encoding="utf-8")
    assert f"--repo {clone}" in text
    assert f"EnvironmentFile={secrets}" in text
    assert "ghp_" not in text
    service = "coordinator-runner-box-1.service"
    assert calls(machine) == [
        ["--user", "daemon-reload"],
        ["--user", "enable", service],
        ["--user", "restart", service],
    ]
    assert "loginctl enable-linger" in done.stdout

    status = run(["service", "status", "--name", "box-1"], machine)
    assert status.returncode == 0
    assert status.stdout.startswith("runner box-1: active (running), pid 4242, enabled at login")
    calls(machine)

    removed = run(["service", "uninstall", "--name", "box-1"], machine)
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists()
    assert calls(machine) == [["--user", "disable", "--now", service], ["--user", "daemon-reload"]]
    gone = run(["service", "status", "--name", "box-1"], machine)
    assert gone.returncode == 1
    assert "not installed" in gone.stdout


@linux_only
def test_print_shows_the_unit_and_calls_nothing(project: Project, machine: dict[str, str]) -> None:
    clone = project.clone("box-1")
    done = run(["service", "install", "--name", "box-1", "--repo", str(clone), "--print"], machine)
    assert done.returncode == 0, done.stderr
    assert "[Service]" in done.stdout
    assert "systemctl --user enable coordinator-runner-box-1.service" in done.stdout
    assert calls(machine) == []
    assert not (Path(machine["XDG_CONFIG_HOME"]) / "systemd").exists()
    windows = run(
        ["service", "install", "--name", "box-1", "--repo", str(clone), "--print", "--platform", "windows"], machine
    )
    assert "<ExecutionTimeLimit>PT0S</ExecutionTimeLimit>" in windows.stdout


@linux_only
def test_a_failing_systemctl_leaves_nothing_installed(project: Project, machine: dict[str, str]) -> None:
    clone = project.clone("box-1")
    done = run(
        ["service", "install", "--name", "box-1", "--repo", str(clone)], {**machine, "FAKE_SYSTEMCTL_FAIL": "restart"}
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: 'systemctl --user restart coordinator-runner-box-1.service' failed (exit 1)")
    assert "Traceback" not in done.stderr
    assert not (Path(machine["XDG_CONFIG_HOME"]) / "systemd" / "user" / "coordinator-runner-box-1.service").exists()


@linux_only
def test_without_systemctl_the_error_says_to_use_print(
    project: Project, tmp_path: Path, machine: dict[str, str]
) -> None:
    clone = project.clone("box-1")
    only_git = tmp_path / "only-git"
    only_git.mkdir()
    os.symlink(shutil.which("git") or "git", only_git / "git")
    done = run(["service", "install", "--name", "box-1", "--repo", str(clone)], {**machine, "PATH": str(only_git)})
    assert done.returncode == 2
    assert "'systemctl' is not on PATH" in done.stderr
    assert "--print" in done.stderr


def test_secrets_never_go_into_the_service_file(project: Project, machine: dict[str, str]) -> None:
    clone = project.clone("box-1")
    remote = "https://x-access-token:ghp_notarealtoken0123456789@github.com/o/r.git"
    done = run(["service", "install", "--name", "box-1", "--repo", str(clone), "--print", "--remote", remote], machine)
    assert done.returncode == 2
    assert "pass --env-file FILE instead of --remote" in done.stderr
    assert "ghp_" not in done.stdout + done.stderr


@linux_only
def test_a_token_in_the_shell_but_not_in_the_env_file_is_pointed_out(project: Project, machine: dict[str, str]) -> None:
    clone = project.clone("box-1")
    done = run(["service", "install", "--name", "box-1", "--repo", str(clone)], {**machine, "GITHUB_TOKEN": "ghp_x"})
    assert done.returncode == 0, done.stderr
    assert "note: GITHUB_TOKEN is set in this shell, but the service does not see it" in done.stdout
    assert "ghp_x" not in done.stdout


def test_service_run_loads_the_env_file_and_logs_to_the_file(project: Project, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    settings = tmp_path / "queue.env"
    settings.write_text(f"COORDINATOR_REMOTE={project.origin}\n", encoding="utf-8")
    log = tmp_path / "logs" / "service.log"
    project.submit("visible through the env file's remote")
    done = run(["service", "run", "--env-file", str(settings), "--log-file", str(log), "--", "list"], env)
    assert done.returncode == 0, done.stderr
    assert "visible through the env file's remote" in log.read_text(encoding="utf-8")
    without = run(["list"], env)
    assert without.returncode == 2
    assert "no remote given" in without.stderr
