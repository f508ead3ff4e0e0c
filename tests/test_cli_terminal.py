"""Output that is safe for a terminal: nothing from the branch reaches it raw, and ``--json`` stays exact.

The security issue found a title with clear-screen, OSC 0, OSC 52, OSC 8 and an RLO override reaching the
terminal raw in ``show``, ``list`` and ``status``. Titles are now refused at the door, so the hostile text is put
everywhere else a person or an agent can write: the body, reasons, summaries, runner messages, the submitter's
name, file names, and (by hand, as a hostile branch would) a title in a task file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coordinator.cli.app import cli
from coordinator.core import transitions as T
from coordinator.models import Runner
from coordinator.store.layout import shard_of, task_path
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from coordinator.text import is_unsafe
from tests.gitutil import edit_branch
from tests.test_text import HOSTILE

#: A file name on the branch holding the hostile text ("/" would make it a folder).
HOSTILE_FILE_NAME = HOSTILE.replace("/", "_") + ".json"


def run(remote: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--remote", str(remote), *args], input=input, catch_exceptions=False)


def coordinator_command() -> list[str]:
    """The installed ``coordinator`` script of this interpreter's environment (else ``python -m coordinator``)."""
    script = Path(sys.executable).parent / ("coordinator.exe" if sys.platform == "win32" else "coordinator")
    return [str(script)] if script.exists() else [sys.executable, "-m", "coordinator"]


def assert_terminal_safe(raw: bytes) -> None:
    """No escape, control (but newline), bidi, zero-width or tag character in what a terminal would receive."""
    assert b"\x1b" not in raw and b"\x07" not in raw and b"\r" not in raw
    text = raw.decode("utf-8")
    found = sorted({f"U+{ord(c):04X}" for c in text if c != "\n" and is_unsafe(c)})
    assert not found, f"unsafe characters reached the terminal: {found}"


def hostile_task_document(now: datetime) -> dict[str, object]:
    """A task file as a hostile branch (or a prompt-injected agent's result) could hold it; the title is valid."""
    stamp = now.isoformat()
    attempt = {
        "number": 1,
        "runner": HOSTILE,
        "mode": "simple",
        "model": HOSTILE,
        "outcome": "failed",
        "reason": HOSTILE,
        "error": HOSTILE,
        "summary": HOSTILE,
        "branch": HOSTILE,
        "commit": HOSTILE,
        "log": HOSTILE,
    }
    return {
        "id": "task-9",
        "title": "A plain title",
        "body": f"first line\n{HOSTILE}\r\nlast line",
        "source": {"kind": HOSTILE, "actor": HOSTILE},
        "group": HOSTILE,
        "created_at": stamp,
        "updated_at": stamp,
        "mode": HOSTILE,
        "requires": [],
        "depends_on": [HOSTILE],
        "status": "blocked",
        "status_reason": HOSTILE,
        "attempts": [attempt],
    }


@pytest.fixture
def hostile_remote(remote_path: Path, tmp_path: Path) -> Path:
    """A state branch where every free-text field, a runner message and a file name carry escape sequences."""
    assert run(remote_path, "init").exit_code == 0
    assert run(remote_path, "submit", "Plain title", "--body-file", "-", input=HOSTILE).exit_code == 0
    assert run(remote_path, "claim", "--runner", "box-1").exit_code == 0
    assert run(remote_path, "fail", "task-1", "--runner", "box-1", "--reason", HOSTILE).exit_code == 0
    assert run(remote_path, "cancel", "task-1", "--reason", HOSTILE).exit_code == 0
    now = datetime.now(UTC)
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "c") as store:
        runner = Runner(name="box-1", last_heartbeat=now, message=HOSTILE, capabilities=["gpu"])
        store.update(lambda s, when: T.heartbeat(s, runner=runner, now=when))
    edit_branch(
        remote_path,
        tmp_path / "hand",
        {
            task_path("task-9"): json.dumps(hostile_task_document(now)),
            # A title no submit accepts any more, in a hand-written file: an unreadable-file problem.
            task_path("task-8"): json.dumps({**hostile_task_document(now), "id": "task-8", "title": HOSTILE}),
            f"tasks/{shard_of('x')}/{HOSTILE_FILE_NAME}": "{}",
        },
    )
    return remote_path


def test_show_list_and_status_print_hostile_text_escaped(hostile_remote: Path) -> None:
    for args in (["show", "task-1"], ["show", "task-9"], ["list"], ["status"]):
        result = run(hostile_remote, *args)
        assert result.exit_code == 0, result.output
        assert_terminal_safe(result.stdout_bytes)
        assert_terminal_safe(result.stderr_bytes)
    shown = run(hostile_remote, "show", "task-9").output
    assert "\\x1b]52;c;ZXZpbA==\\x07" in shown  # visible, so a person sees what was attempted
    assert "\\u202eevil" in shown
    assert "  first line\n" in shown and "  last line" in shown  # the body keeps its lines
    status = run(hostile_remote, "status").output
    assert "unreadable files" in status and task_path("task-8") in status


def test_json_output_stays_exact(hostile_remote: Path, tmp_path: Path) -> None:
    task = json.loads(run(hostile_remote, "show", "task-9", "--json").output)
    expected = hostile_task_document(datetime.now(UTC))
    for field in ("body", "group", "mode", "status_reason", "depends_on"):
        assert task[field] == expected[field]
    assert task["source"]["actor"] == HOSTILE
    assert task["attempts"][0]["summary"] == HOSTILE
    first = json.loads(run(hostile_remote, "show", "task-1", "--json").output)
    assert first["body"] == HOSTILE
    assert first["attempts"][0]["reason"] == HOSTILE
    status = json.loads(run(hostile_remote, "status", "--json").output)
    assert status["runners"][0]["message"] == HOSTILE
    assert any(p["path"].endswith(HOSTILE_FILE_NAME) for p in status["problems"])


def test_a_hostile_title_is_refused_with_a_safe_error(remote_path: Path) -> None:
    assert run(remote_path, "init").exit_code == 0
    result = run(remote_path, "submit", HOSTILE)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the title holds a control or invisible formatting character (\\x1b at")
    assert_terminal_safe(result.stderr_bytes)
    assert run(remote_path, "list").output.strip() == "no tasks"


def test_the_installed_command_prints_hostile_text_escaped(hostile_remote: Path, tmp_path: Path) -> None:
    env_command = [*coordinator_command(), "--remote", str(hostile_remote)]
    for args in (["show", "task-9"], ["list"], ["status"], ["show", "task-8"]):
        done = subprocess.run([*env_command, *args], capture_output=True, check=False, timeout=60)
        assert done.returncode == (1 if args == ["show", "task-8"] else 0), done.stderr
        assert_terminal_safe(done.stdout)
        assert_terminal_safe(done.stderr)
    exact = subprocess.run([*env_command, "show", "task-9", "--json"], capture_output=True, check=True, timeout=60)
    assert json.loads(exact.stdout)["source"]["actor"] == HOSTILE
    refused = subprocess.run([*env_command, "submit", HOSTILE], capture_output=True, check=False, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr.count(b"\n") == 1
    assert_terminal_safe(refused.stderr)


def test_an_old_deadline_and_a_future_one_still_render(remote_path: Path) -> None:
    # ago() on the far future (the +100 years bound) and the past must print, not crash.
    assert run(remote_path, "init").exit_code == 0
    assert run(remote_path, "submit", "far", "--deadline", f"+{100 * 365}d").exit_code == 0
    past = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert run(remote_path, "submit", "late", "--deadline", past).exit_code == 0
    shown = run(remote_path, "show", "task-1").output
    assert "deadline:" in shown and "in 36" in shown
    assert "ago)" in run(remote_path, "show", "task-2").output
