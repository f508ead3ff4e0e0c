"""``coordinator limits`` as a user types it (the installed command on a real bare remote): the limits shown and
changed, what ``submit`` then refuses (naming the command that raises the limit), and one-line errors that write
nothing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gitutil import branch_log, read_branch_file
from tests.user_machine import run, user_env


def test_limits_are_shown_changed_and_enforced_by_submit(tmp_path: Path, remote_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(remote_path), "COORDINATOR_ACTOR": "alice"})
    assert run(["init"], env).returncode == 0
    shown = run(["limits"], env)
    assert shown.returncode == 0 and shown.stdout.splitlines() == [
        "LIMIT            VALUE",
        "max_body_bytes   65536",
        "max_title_chars  256",
    ]

    said = run(["limits", "--set", "max_title_chars=20", "--set", "max_body_bytes=100"], env)
    assert said.returncode == 0, said.stderr
    assert said.stdout.startswith("set limits by alice: max_body_bytes 65536 -> 100; max_title_chars 256 -> 20\n")
    assert json.loads(run(["limits", "--json"], env).stdout) == {"max_body_bytes": 100, "max_title_chars": 20}
    assert json.loads(read_branch_file(remote_path, "config.json"))["limits"] == {
        "max_body_bytes": 100,
        "max_title_chars": 20,
    }
    assert branch_log(remote_path)[0].startswith("set limits by alice")

    long_title = run(["submit", "a title longer than twenty characters"], env)
    assert long_title.returncode == 2 and long_title.stderr.count("\n") == 1
    assert "over the limit of 20" in long_title.stderr
    assert "'coordinator limits --set max_title_chars=N'" in long_title.stderr
    big_body = run(["submit", "short", "--body", "x" * 101], env)
    assert (
        big_body.returncode == 2
        and "101 bytes, over the limit of 100 bytes (see 'coordinator limits')" in big_body.stderr
    )
    assert run(["submit", "short", "--body", "x" * 100], env).returncode == 0

    again = run(["limits", "--set", "max_title_chars=20"], env)
    assert again.returncode == 0 and again.stdout.startswith("limits unchanged\n")


def test_a_bad_limit_is_one_line_exit_2_and_nothing_is_written(tmp_path: Path, remote_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(remote_path)})
    assert run(["init"], env).returncode == 0
    before = branch_log(remote_path)
    for assignment, says in [
        ("max_title_chars=0", "max_title_chars: Input should be greater than or equal to 1"),
        ("max_body_bytes=lots", "max_body_bytes: Input should be a valid integer"),
        ("max_body_bytes=99999999999", "max_body_bytes: Input should be less than or equal to 16777216"),
        ("width=3", "use KEY=VALUE with KEY one of max_body_bytes, max_title_chars"),
        ("max_title_chars", "use KEY=VALUE"),
    ]:
        done = run(["limits", "--set", assignment], env)
        assert done.returncode == 2 and done.stdout == "", done.stdout
        assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert branch_log(remote_path) == before
