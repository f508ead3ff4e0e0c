"""Self-tuning: proposals from what successful attempts needed, and none where history cannot support one."""

from __future__ import annotations

from datetime import timedelta

from coordinator.core.state import State
from coordinator.core.tuning import apply_tuning, propose_tuning, tuned_modes
from coordinator.models import AttemptOutcome, Task, TaskStatus
from coordinator.modes import ModesConfig
from tests.core_helpers import NOW
from tests.metrics_history import F, S, attempt, task

DAY = NOW - timedelta(days=1)


def successes(count: int, *, mode: str = "simple", first: int = 1) -> list[Task]:
    """``count`` tasks whose one attempt succeeded, the n-th after 30 x n seconds and n turns."""
    return [
        task(n, TaskStatus.SUCCEEDED, [attempt(1, mode, S, at=DAY, seconds=30 * n, turns=n)], at=DAY)
        for n in range(first, first + count)
    ]


def proposals(tasks: list[Task], **kw: object) -> dict[str, tuple[int, int | None, str]]:
    report = propose_tuning(tasks, modes=ModesConfig(), since=NOW - timedelta(days=30), now=NOW, **kw)  # type: ignore[arg-type]
    return {f"{p.mode}.{p.setting}": (p.current, p.proposed, p.why) for p in report.proposals}


def test_twenty_successes_give_p95_times_one_and_a_quarter() -> None:
    found = proposals(successes(20))
    # durations 30..600 s: p95 = rank 19 = 570 s; x 1.25 = 712.5 s, up to the whole minute: 720 s
    assert found["simple.timeout_seconds"] == (900, 720, "p95 9m30s x 1.25 = 12m00s")
    # turns 1..20: p95 = 19; x 1.25 = 23.75 -> 24 (raised: successes came close to the limit of 20)
    assert found["simple.max_turns"] == (20, 24, "p95 19 x 1.25 = 24")


def test_too_few_samples_propose_nothing_and_say_why() -> None:
    found = proposals(successes(19))
    assert found["simple.timeout_seconds"] == (
        900,
        None,
        "19 successful attempts recorded it, 20 needed: no proposal",
    )
    assert found["complex.max_turns"][1:] == (None, "0 successful attempts recorded it, 20 needed: no proposal")
    assert propose_tuning(successes(19), modes=ModesConfig(), since=None, now=NOW).changes == ()


def test_a_limit_many_attempts_hit_is_not_lowered() -> None:
    hit = [
        task(n, TaskStatus.FAILED, [attempt(1, "simple", F, at=DAY, seconds=900, detail="timeout")], at=DAY)
        for n in range(100, 103)
    ]
    found = proposals(successes(20) + hit)  # 3 of 23 attempts (13 %) hit the timeout
    current, proposed, why = found["simple.timeout_seconds"]
    assert (current, proposed) == (900, None)
    assert why == (
        "p95 9m30s x 1.25 = 12m00s, but 3 of 23 attempts hit the limit: the successes cannot show what those "
        "needed, so it is not lowered"
    )
    assert found["simple.max_turns"][1] == 24  # raising is still evidence-based


def test_a_small_change_is_kept_and_old_attempts_are_outside_the_window() -> None:
    modes = ModesConfig.model_validate({"modes": {"simple": {"model": "haiku", "max_turns": 23}}})
    report = propose_tuning(successes(20), modes=modes, since=NOW - timedelta(days=30), now=NOW)
    turns = next(p for p in report.proposals if p.setting == "max_turns")
    assert (turns.proposed, turns.why) == (None, "p95 19 x 1.25 = 24, within 10% of the current value: kept")
    assert propose_tuning(successes(20), modes=modes, since=NOW - timedelta(hours=1), now=NOW).changes == ()


def test_tuned_modes_change_only_the_proposed_settings_and_apply_goes_through_set_modes() -> None:
    state = State.build(successes(20))
    report = propose_tuning(successes(20), modes=state.modes, since=None, now=NOW)
    tuned = tuned_modes(state.modes, report)
    assert (tuned.modes["simple"].timeout_seconds, tuned.modes["simple"].max_turns) == (720, 24)
    assert tuned.modes["complex"] == state.modes.modes["complex"]
    assert tuned.modes["simple"].model == "haiku"
    change = apply_tuning(state, since=None, now=NOW, by="alice")
    assert change.message == "set modes by alice via tune: simple.max_turns 20 -> 24; simple.timeout_seconds 900 -> 720"
    assert change.config is not None and change.config.modes == tuned
    nothing = apply_tuning(State.build(successes(3)), since=None, now=NOW, by="alice")
    assert nothing.empty


def test_attempts_without_turns_do_not_count_for_max_turns() -> None:
    no_turns = [
        task(n, TaskStatus.SUCCEEDED, [attempt(1, "simple", AttemptOutcome.SUCCEEDED, at=DAY, turns=None)], at=DAY)
        for n in range(1, 26)
    ]
    found = proposals(no_turns)
    assert found["simple.max_turns"][1:] == (None, "0 successful attempts recorded it, 20 needed: no proposal")
    assert found["simple.timeout_seconds"][1] == 120  # 25 x 60 s: p95 60 s x 1.25 = 75 s, up to whole minutes
