"""The three ways an operating system keeps a runner running, rendered as pure functions of a
:class:`ServiceSpec`: a systemd user unit (Linux), a launchd agent (macOS), a Task Scheduler task (Windows).
Each runs ``coordinator runner`` with the user's options; secrets stay in an env file, never in the unit."""

from __future__ import annotations

import plistlib
import re
import subprocess
from dataclasses import dataclass
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class ServiceSpec:
    """What the service runs: ``python -m coordinator`` + ``runner_args``, with ``env_file`` loaded first, output
    to ``log_file`` (launchd, Windows; systemd uses the journal), stopped within ``stop_seconds``."""

    name: str
    python: str
    runner_args: tuple[str, ...]
    working_dir: str
    log_file: str
    env_file: str | None = None
    stop_seconds: int = 45


def runner_arguments(
    name: str, *, repo: str | None, config: str | None, remote: str | None, branch: str | None
) -> tuple[str, ...]:
    """``runner --name NAME [--repo R] [--config C] [--remote U] [--branch B]``: the command the service runs."""
    args = ["runner", "--name", name]
    for option, value in (("--repo", repo), ("--config", config), ("--remote", remote), ("--branch", branch)):
        if value:
            args += [option, value]
    return tuple(args)


def unit_name(name: str) -> str:
    """The systemd unit of runner ``name``."""
    return f"coordinator-runner-{name}.service"


def launchd_label(name: str) -> str:
    """The launchd label of runner ``name``."""
    return f"dev.coordinator.runner.{name}"


def task_name(name: str) -> str:
    """The Task Scheduler task of runner ``name``."""
    return f"coordinator-runner-{name}"


def wrapped_arguments(spec: ServiceSpec, *, log: bool) -> list[str]:
    """``-m coordinator service run [--log-file L] [--env-file F] -- runner …``: loads the env file (launchd and
    Task Scheduler have no env files of their own) and, with ``log``, sends the output to the log file."""
    args = ["-m", "coordinator", "service", "run"]
    if log:
        args += ["--log-file", spec.log_file]
    if spec.env_file:
        args += ["--env-file", spec.env_file]
    return [*args, "--", *spec.runner_args]


def systemd_unit(spec: ServiceSpec) -> str:
    """A systemd user unit. ``KillMode=mixed``: the stop signal goes to the runner only, which gives its agents
    their grace period and stops them itself; whatever is left is killed after ``TimeoutStopSec``."""
    command = " ".join(systemd_quote(arg) for arg in [spec.python, "-m", "coordinator", *spec.runner_args])
    lines = [
        "[Unit]",
        f"Description=coordinator runner {spec.name}",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"WorkingDirectory={systemd_quote(spec.working_dir)}",
    ]
    if spec.env_file:
        lines.append(f"EnvironmentFile={_systemd_escape(spec.env_file)}")
    lines += [
        "Environment=PYTHONUNBUFFERED=1",
        f"ExecStart={command}",
        "Restart=on-failure",
        "RestartSec=30",
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={spec.stop_seconds}",
        "",
        "[Install]",
        "WantedBy=default.target",
    ]
    return "\n".join(lines) + "\n"


def systemd_quote(arg: str) -> str:
    """One argument of ``ExecStart=``: quoted when it holds a space or quote, with ``%`` and ``$`` escaped (systemd
    would expand them as specifiers and variables)."""
    escaped = _systemd_escape(arg)
    if escaped and not re.search(r"[\s\"'\\;]", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _systemd_escape(text: str) -> str:
    return text.replace("%", "%%").replace("$", "$$")


def launchd_plist(spec: ServiceSpec) -> str:
    """A launchd agent (``~/Library/LaunchAgents``): started at login, restarted when it fails (not after a clean
    stop), stdout and stderr to the log file, ``ExitTimeOut`` before launchd kills it."""
    plist = {
        "Label": launchd_label(spec.name),
        "ProgramArguments": [spec.python, *wrapped_arguments(spec, log=False)],
        "WorkingDirectory": spec.working_dir,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 30,
        "ExitTimeOut": spec.stop_seconds,
        "ProcessType": "Background",
        "StandardOutPath": spec.log_file,
        "StandardErrorPath": spec.log_file,
    }
    return plistlib.dumps(plist, sort_keys=False).decode("utf-8")


def task_scheduler_xml(spec: ServiceSpec, *, user: str) -> str:
    """A Task Scheduler task for ``user`` (``DOMAIN\\name``): starts at their logon, restarts every minute after
    a failure, never stopped for running long (the default would end it after 72 hours) or on battery."""
    command = escape(spec.python)
    arguments = escape(subprocess.list2cmdline(wrapped_arguments(spec, log=True)))
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>coordinator runner {escape(spec.name)}</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>{escape(user)}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>{escape(user)}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
    <StartWhenAvailable>true</StartWhenAvailable>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{command}</Command>
      <Arguments>{arguments}</Arguments>
      <WorkingDirectory>{escape(spec.working_dir)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
"""
