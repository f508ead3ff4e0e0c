"""What installing, removing or asking about a runner service does on each platform, as data: the files to
write or remove and the commands to run (``systemctl --user``, ``launchctl``, ``schtasks``). Pure, so
``--print`` shows exactly what ``install`` would do, and every platform's plan is tested on every platform."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from coordinator.ops.service_units import (
    ServiceSpec,
    launchd_label,
    launchd_plist,
    systemd_unit,
    task_name,
    task_scheduler_xml,
    unit_name,
)

Platform = Literal["linux", "macos", "windows"]
PLATFORMS: tuple[Platform, ...] = ("linux", "macos", "windows")


@dataclass(frozen=True)
class Places:
    """Where a user's services live: ``config_home`` (XDG, Linux), ``home`` (macOS), ``data_dir`` (the task's XML
    on Windows), the ``uid`` of launchd's GUI domain, the Windows ``user`` (``DOMAIN\\name``)."""

    platform: Platform
    home: Path
    config_home: Path
    data_dir: Path
    uid: int = 0
    user: str = ""


@dataclass(frozen=True)
class Command:
    """A command to run; ``may_fail`` when failing is expected (stopping what is not running)."""

    argv: tuple[str, ...]
    may_fail: bool = False

    def __str__(self) -> str:
        import subprocess

        return subprocess.list2cmdline(self.argv) if self.argv[0] == "schtasks" else " ".join(map(_sh, self.argv))


@dataclass(frozen=True)
class FileWrite:
    """A file to write (``encoding``: schtasks reads its XML as UTF-16)."""

    path: Path
    text: str
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Plan:
    """Folders to make, files to write, commands to run, files to remove, and commands to run ``after`` that, in
    that order (a unit is stopped before its file goes, and systemd reloaded after)."""

    folders: tuple[Path, ...] = ()
    writes: tuple[FileWrite, ...] = ()
    commands: tuple[Command, ...] = ()
    removes: tuple[Path, ...] = ()
    after: tuple[Command, ...] = ()


def service_file(name: str, places: Places) -> Path:
    """The file that defines runner ``name``'s service."""
    if places.platform == "linux":
        return places.config_home / "systemd" / "user" / unit_name(name)
    if places.platform == "macos":
        return places.home / "Library" / "LaunchAgents" / f"{launchd_label(name)}.plist"
    return places.data_dir / "service" / f"{task_name(name)}.xml"


def install_plan(spec: ServiceSpec, places: Places) -> Plan:
    """Write the service file, register it, start it now and at every login (replacing an older one)."""
    path = service_file(spec.name, places)
    if places.platform == "linux":
        unit = unit_name(spec.name)
        return Plan(
            writes=(FileWrite(path, systemd_unit(spec)),),
            commands=(
                Command(("systemctl", "--user", "daemon-reload")),
                Command(("systemctl", "--user", "enable", unit)),
                Command(("systemctl", "--user", "restart", unit)),
            ),
        )
    logs = (Path(spec.log_file).parent,)
    if places.platform == "macos":
        domain = f"gui/{places.uid}"
        return Plan(
            folders=logs,
            writes=(FileWrite(path, launchd_plist(spec)),),
            commands=(
                Command(("launchctl", "bootout", f"{domain}/{launchd_label(spec.name)}"), may_fail=True),
                Command(("launchctl", "bootstrap", domain, str(path))),
            ),
        )
    task = task_name(spec.name)
    return Plan(
        folders=logs,
        writes=(FileWrite(path, task_scheduler_xml(spec, user=places.user), encoding="utf-16"),),
        commands=(
            Command(("schtasks", "/End", "/TN", task), may_fail=True),
            Command(("schtasks", "/Create", "/TN", task, "/XML", str(path), "/F")),
            Command(("schtasks", "/Run", "/TN", task)),
        ),
    )


def uninstall_plan(name: str, places: Places) -> Plan:
    """Stop the service, unregister it and remove its file (a runner stopping this way hands its tasks back)."""
    path = service_file(name, places)
    if places.platform == "linux":
        return Plan(
            commands=(Command(("systemctl", "--user", "disable", "--now", unit_name(name)), may_fail=True),),
            removes=(path,),
            after=(Command(("systemctl", "--user", "daemon-reload")),),
        )
    if places.platform == "macos":
        return Plan(
            commands=(Command(("launchctl", "bootout", f"gui/{places.uid}/{launchd_label(name)}"), may_fail=True),),
            removes=(path,),
        )
    task = task_name(name)
    return Plan(
        commands=(
            Command(("schtasks", "/End", "/TN", task), may_fail=True),
            Command(("schtasks", "/Delete", "/TN", task, "/F"), may_fail=True),
        ),
        removes=(path,),
    )


def status_command(name: str, places: Places) -> Command:
    """The command that tells whether runner ``name``'s service runs."""
    if places.platform == "linux":
        properties = "--property=LoadState,ActiveState,SubState,MainPID,UnitFileState"
        return Command(("systemctl", "--user", "show", unit_name(name), properties), may_fail=True)
    if places.platform == "macos":
        return Command(("launchctl", "print", f"gui/{places.uid}/{launchd_label(name)}"), may_fail=True)
    return Command(("schtasks", "/Query", "/TN", task_name(name), "/FO", "LIST", "/V"), may_fail=True)


def read_status(platform: Platform, returncode: int, output: str) -> tuple[bool, str]:
    """Whether the service runs, and its state in words, from the status command's answer."""
    if platform == "linux":
        fields = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
        if returncode != 0 or fields.get("LoadState") in (None, "not-found"):
            return False, "not installed"
        running = fields.get("ActiveState") == "active"
        pid = f", pid {fields['MainPID']}" if running and fields.get("MainPID", "0") != "0" else ""
        state = f"{fields.get('ActiveState', '?')} ({fields.get('SubState', '?')}){pid}"
        return running, f"{state}, {fields.get('UnitFileState', '?')} at login"
    if platform == "macos":
        if returncode != 0:
            return False, "not loaded"
        found = _values(output, " = ")
        running = found.get("state") == "running"
        pid = f", pid {found['pid']}" if "pid" in found else ""
        return running, f"{found.get('state', '?')}{pid}"
    if returncode != 0:
        return False, "not installed"
    found = _values(output, ":")
    status = found.get("Status", "?")
    return status == "Running", f"{status} (last result {found.get('Last Result', '?')})"


def _values(output: str, separator: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, found, value = line.strip().partition(separator)
        if found and key.strip() not in values:
            values[key.strip()] = value.strip()
    return values


def _sh(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
