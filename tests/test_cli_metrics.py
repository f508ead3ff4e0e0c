"""``coordinator metrics`` and ``coordinator tune`` on a recorded history on a real bare remote, in-process and as
the command a user types."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from coordinator.cli.app import cli
from coordinator.store.remote import Remote
from coordinator.store.store import StateStore
from coordinator.timeutil import utcnow
from tests.gitutil import branch_log
from tests.metrics_history import S, attempt, recorded_history, task, write_history
from tests.user_machine import run as run_installed
from tests.user_machine import user_env


def run(remote: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--remote", str(remote), *args], env=env, catch_exceptions=False)


@pytest.fixture
def history(remote_path: Path, tmp_path: Path) -> Path:
    """A state branch holding the recorded history of tests/metrics_history.py, ended a day ago."""
    with StateStore(Remote.parse(str(remote_path)), cache_dir=tmp_path / "writer") as store:
        store.init()
        write_history(store, recorded_history(utcnow()))
    return remote_path


def add_successes(remote: Path, tmp_path: Path, count: int) -> None:
    """``count`` more tasks whose simple attempt succeeded after 30 x n seconds and n turns."""
    day = utcnow() - timedelta(days=1)
    tasks = [
        task(n, S, [attempt(1, "simple", S, at=day, seconds=30 * (n - 200), turns=n - 200)], at=day)  # type: ignore[arg-type]
        for n in range(201, 201 + count)
    ]
    with StateStore(Remote.parse(str(remote)), cache_dir=tmp_path / "writer") as store:
        write_history(store, tasks)


def test_metrics_json_gives_the_hand_computed_figures(history: Path) -> None:
    result = run(history, "metrics", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tasks"] == 7
    assert data["success_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert data["cost_usd"] == pytest.approx(1.72)
    assert data["counterfactual_usd"] == pytest.approx(4.30)
    assert data["saving"] == pytest.approx(0.60)
    assert data["open_tasks"] == 1


def test_since_selects_the_window(history: Path) -> None:
    month = json.loads(run(history, "metrics", "--since", "30d", "--json").output)
    assert (month["tasks"], month["cost_usd"]) == (8, pytest.approx(1.735))
    assert json.loads(run(history, "metrics", "--since", "all", "--json").output)["tasks"] == 8
    assert json.loads(run(history, "metrics", "--since", "2h", "--json").output)["tasks"] == 0
    bad = run(history, "metrics", "--since", "lastweek")
    assert bad.exit_code == 2
    assert bad.output == (
        "error: --since: 'lastweek' is not a window: use a span like 7d, 24h, 2w, a date like 2026-11-01, or all\n"
    )


def test_metrics_text_shows_the_saving_with_its_method(history: Path) -> None:
    result = run(history, "metrics")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "tasks that ended since " in text and "(7d): 7 (5 succeeded, 1 failed, 1 cancelled)" in text
    assert "still open: 1 (spent $0.01 so far; not counted until they end)" in text
    assert "success rate: 83% (5 of the 6 that succeeded or failed" in text
    assert (
        "saving from escalation: 60%: spent $1.72 where running every task directly in expert would have cost "
        "about $4.30 ($2.58 saved)"
    ) in text
    assert "  measured: 1 task that reached expert count the recorded cost of their expert attempts" in text
    assert "  unpriced: 1 task recorded a cost without tokens and count it on both sides ($0.10)" in text
    assert "price check: the table prices the tokens of 9 recorded attempts at $1.62, they recorded $1.62" in text
    assert "MODE     ATTEMPTS  SUCCEEDED" in text
    assert "simple   6         50% (3/6)" in text


def test_not_enough_data_is_said_not_computed(remote_path: Path) -> None:
    assert run(remote_path, "init").exit_code == 0
    result = run(remote_path, "metrics")
    assert result.exit_code == 0
    assert "saving from escalation: not enough data (0 ended tasks with recorded spend, at least 5 are needed)" in (
        result.output
    )
    data = json.loads(run(remote_path, "metrics", "--json").output)
    assert (data["tasks"], data["counterfactual_usd"], data["saving"]) == (0, None, None)


def test_a_price_file_overrides_the_table_and_a_bad_one_is_one_line(history: Path, tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({"models": {"claude-opus-5-5": {"input": 8, "output": 40, "cache_write": 10, "cache_read": 0.4}}})
    )
    data = json.loads(run(history, "metrics", "--prices", str(prices), "--json").output)
    # repriced tasks double (0.6 + 1.2 + 0.6 + 1.2 -> 7.2); the measured expert attempt stays 0.60; unpriced 0.10
    assert data["counterfactual_usd"] == pytest.approx(7.90)
    # the expert attempt recorded half of what the file says opus costs: the table prices the 9 at $2.22, not $1.62
    assert data["counterfactual"]["price_check"]["doubtful"] is True
    text = run(history, "metrics", "--prices", str(prices)).output
    assert "; doubtful: the price table is far from the recorded costs (see the price check)" in text
    assert "recorded $1.62 (+" in text and "the table may be out of date: pass --prices FILE.json" in text
    prices.write_text('{"models": {"claude-opus-5-5": {"input": "cheap"}}}')
    bad = run(history, "metrics", "--prices", str(prices))
    assert bad.exit_code == 2
    assert bad.output.startswith(f"error: --prices {prices}: ")
    assert bad.output.count("\n") == 1


def test_plot_draws_a_png(history: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "cost.png"
    result = run(history, "metrics", "--plot", str(target))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {target}\n")
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    month = run(history, "metrics", "--since", "30d", "--plot", str(target))  # ten days apart: the quiet ones too
    assert month.exit_code == 0, month.output
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    from coordinator.cli.metrics_plot import _every_day

    assert _every_day(["2026-02-27", "2026-03-02"]) == ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]
    wrong = run(history, "metrics", "--plot", str(tmp_path / "nowhere" / "cost.png"))
    assert (wrong.exit_code, wrong.output.count("\n")) == (2, 1)
    assert "no folder" in wrong.output


def test_plot_without_matplotlib_names_the_extra(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    result = run(history, "metrics", "--plot", str(tmp_path / "cost.png"))
    assert result.exit_code == 2
    assert result.output == (
        "error: --plot needs matplotlib, which is not installed: run pip install 'coordinator-queue[plot]' "
        "(or pip install matplotlib), then run the command again\n"
    )
    assert not (tmp_path / "cost.png").exists()


def test_tune_with_too_few_samples_proposes_nothing_and_commits_nothing(history: Path) -> None:
    before = branch_log(history, "coordinator/state")
    result = run(history, "tune", "--apply")
    assert result.exit_code == 0, result.output
    # simple succeeded in tasks 1, 2, 7 and 8 (ten days ago, inside the 30 days tune looks at); task 7's command
    # agent recorded no turns
    assert "simple.timeout_seconds 900 kept: 4 successful attempts recorded it, 20 needed: no proposal" in result.output
    assert "simple.max_turns 20 kept: 3 successful attempts recorded it, 20 needed: no proposal" in result.output
    assert result.output.rstrip().endswith("nothing to change: nothing applied")
    assert branch_log(history, "coordinator/state") == before


def test_tune_shows_the_diff_and_apply_commits_it(history: Path, tmp_path: Path) -> None:
    add_successes(history, tmp_path, 20)
    shown = run(history, "tune")
    assert shown.exit_code == 0, shown.output
    # simple's 24 successes: 60 s (tasks 1, 7, 8), 120 s (task 2) and 30..600 s: p95 = rank 23 of 24 = 570 s
    assert "simple.timeout_seconds 900 -> 720: p95 9m30s x 1.25 = 12m00s" in shown.output
    assert shown.output.rstrip().endswith("to commit these changes: coordinator tune --apply")
    applied = run(history, "tune", "--apply", env={"COORDINATOR_ACTOR": "alice"})
    assert applied.exit_code == 0, applied.output
    assert "applied: set modes by alice via tune: simple.max_turns 20 -> 24; simple.timeout_seconds 900 -> 720" in (
        applied.output
    )
    assert branch_log(history, "coordinator/state")[0].startswith("set modes by alice via tune: ")
    modes = json.loads(run(history, "modes", "--json").output)["modes"]
    assert (modes["simple"]["timeout_seconds"], modes["simple"]["max_turns"]) == (720, 24)
    again = run(history, "tune", "--apply")
    assert "simple.timeout_seconds 720 kept" in again.output
    assert again.output.rstrip().endswith("nothing to change: nothing applied")


def test_the_commands_a_user_types(history: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", {"COORDINATOR_REMOTE": str(history), "COORDINATOR_ACTOR": "bob"})
    metrics = run_installed(["metrics", "--json", "--since", "30d"], env)
    assert metrics.returncode == 0, metrics.stderr
    data = json.loads(metrics.stdout)
    assert (data["tasks"], data["cost_usd"], data["counterfactual_usd"]) == (
        8,
        pytest.approx(1.735),
        pytest.approx(4.9),
    )
    assert data["saving"] == pytest.approx(1 - 1.735 / 4.9, abs=1e-4)
    add_successes(history, tmp_path, 20)
    tune = run_installed(["tune", "--apply", "--json"], env)
    assert tune.returncode == 0, tune.stderr
    assert json.loads(tune.stdout)["applied"].startswith("set modes by bob via tune: simple.max_turns 20 -> 24")
    wrong = run_installed(["tune", "--min-samples", "0"], env)
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("error: invalid value for '--min-samples'")
    assert "Traceback" not in wrong.stderr


def test_the_cli_default_sample_size_is_the_cores() -> None:
    from coordinator.cli import metrics_cmd
    from coordinator.core import tuning

    assert metrics_cmd.DEFAULT_MIN_SAMPLES == tuning.DEFAULT_MIN_SAMPLES
