"""Recurring tasks in the pure core: which slot of a schedule is due at ``now`` (time zones and DST included), and
the tick transition that turns it into a task once. No clock is read: every time is a parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator.core.recurring import due_occurrences, next_slot, schedules_of
from coordinator.core.state import State
from coordinator.core.transitions import Change
from coordinator.core.transitions.schedules import (
    ScheduleNotFound,
    add_schedule,
    remove_schedule,
    tick,
    tick_outcome,
)
from coordinator.cron import check_cron, latest_occurrence, next_occurrence, slot_key, zone
from coordinator.errors import UsageError
from coordinator.models import Limits, Priority, Schedule, TaskStatus
from coordinator.models.schedule import REMEMBERED_SLOTS
from coordinator.modes import ModesConfig

START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_schedule(name: str = "nightly", cron: str = "0 3 * * *", **fields: Any) -> Schedule:
    fields.setdefault("title", f"run {name}")
    fields.setdefault("created_at", START)
    return Schedule(name=name, cron=cron, **fields)


def state_with(*schedules: Schedule) -> State:
    state = State()
    for schedule in schedules:
        state.put_record("schedules", schedule.name, schedule)
    return state


def apply(state: State, change: Change) -> Change:
    """Write a change into ``state`` as the store does after committing it (tasks, records, deletes)."""
    for task in change.tasks:
        state.put_task(task)
    for record in change.records:
        assert isinstance(record, Schedule)
        state.put_record("schedules", record.name, record)
    for collection, key in change.deletes:
        state.remove_record(collection, key)
    return change


def slots(cron: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Every occurrence in [start, end], stepping forward (the reference the latest occurrence must agree with)."""
    found, at = [], start - timedelta(seconds=1)
    while (at := next_occurrence(cron, zone(tz), at)) is not None and at <= end:  # type: ignore[assignment]
        found.append(at)
    return found


def local(times: list[datetime], tz: str) -> list[str]:
    return [t.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M%z") for t in times]


# ------------------------------------------------------------------------------------------- which slot is due


def test_the_latest_occurrence_counts_from_its_own_minute() -> None:
    assert latest_occurrence("0 3 * * *", zone("UTC"), utc("2026-03-02T03:00:00")) == utc("2026-03-02T03:00")
    assert latest_occurrence("0 3 * * *", zone("UTC"), utc("2026-03-02T03:00:59")) == utc("2026-03-02T03:00")
    assert latest_occurrence("0 3 * * *", zone("UTC"), utc("2026-03-02T02:59:59")) == utc("2026-03-01T03:00")


def test_a_slot_missed_while_nothing_ticked_is_enqueued_once_the_latest_one() -> None:
    state = state_with(make_schedule("hourly", "0 * * * *"))
    # Nothing ticked from 00:00 to 05:30: five slots went by, one task is made, for the latest.
    change = apply(state, tick(state, utc("2026-03-01T05:30")))
    assert [t.id for t in change.tasks] == ["sched-hourly-20260301t0500"]
    assert tick(state, utc("2026-03-01T05:59")).empty
    assert [t.id for t in tick(state, utc("2026-03-01T06:00")).tasks] == ["sched-hourly-20260301t0600"]


def test_nothing_before_the_schedule_was_added_is_due() -> None:
    schedule = make_schedule("daily", "0 3 * * *", created_at=utc("2026-03-01T03:00:30"))
    assert due_occurrences([schedule], utc("2026-03-01T12:00")).due == ()
    assert next_slot(schedule, utc("2026-03-01T12:00")) == utc("2026-03-02T03:00")
    (due,) = due_occurrences([schedule], utc("2026-03-02T03:00")).due
    assert due.slot == utc("2026-03-02T03:00") and due.task_id == "sched-daily-20260302t0300"


@pytest.mark.parametrize(
    ("tz", "cron", "expected"),
    [
        # Spring forward, Berlin 2026-03-29 02:00 -> 03:00: 02:30 does not exist; the daily job runs once, at
        # 03:00 (right after the jump), and the hourly one has no 02:00.
        ("Europe/Berlin", "30 2 * * *", ["03-28 02:30+0100", "03-29 03:00+0200", "03-30 02:30+0200"]),
        ("Europe/Berlin", "0 * * 3 *", ["03-29 00:00+0100", "03-29 01:00+0100", "03-29 03:00+0200"]),
        # Fall back, Berlin 2026-10-25 03:00 -> 02:00: 02:30 happens twice; a daily job runs once (the first),
        # an hourly one runs in both 02:00 hours (they are an hour apart).
        ("Europe/Berlin", "30 2 * * *", ["10-24 02:30+0200", "10-25 02:30+0200", "10-26 02:30+0100"]),
        ("Europe/Berlin", "0 * * 10 *", ["10-25 01:00+0200", "10-25 02:00+0200", "10-25 02:00+0100"]),
        ("Europe/Berlin", "*/30 2 * * *", ["10-25 02:00+0200", "10-25 02:30+0200", "10-26 02:00+0100"]),
        # New York, 2026-11-01 02:00 -> 01:00: 01:15 once.
        ("America/New_York", "15 1 * * *", ["10-31 01:15-0400", "11-01 01:15-0400", "11-02 01:15-0500"]),
    ],
    ids=["spring-daily", "spring-hourly", "fall-daily", "fall-hourly", "fall-fixed-hour-steps", "new-york-fall"],
)
def test_daylight_saving_time_changes(tz: str, cron: str, expected: list[str]) -> None:
    month, day = (int(part) for part in expected[0][:5].split("-"))
    start = datetime(2026, month, day, tzinfo=UTC) - timedelta(days=1)
    found = local(slots(cron, tz, start, start + timedelta(days=4)), tz)
    at = found.index(expected[0])
    assert found[at : at + 3] == expected


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"])
@pytest.mark.parametrize("cron", ["30 2 * * *", "0 * * * *", "*/15 * * * *", "0 */2 * * *", "45 1,2,3 * * *"])
def test_the_latest_occurrence_agrees_with_stepping_forward_across_dst(tz: str, cron: str) -> None:
    for change_day in (utc("2026-03-28T12:00"), utc("2026-10-24T12:00"), utc("2026-04-04T12:00")):
        expected = slots(cron, tz, change_day - timedelta(days=1), change_day + timedelta(days=2))
        for minute in range(0, 36 * 60, 7):
            now = change_day + timedelta(minutes=minute, seconds=13)
            assert latest_occurrence(cron, zone(tz), now) == max(s for s in expected if s <= now), now


def test_a_daily_job_gets_one_task_a_day_through_both_changes() -> None:
    schedule = make_schedule("berlin", "30 2 * * *", timezone="Europe/Berlin")
    state = state_with(schedule)
    made: list[str] = []
    for day_start in (utc("2026-03-27T00:00"), utc("2026-10-23T00:00")):
        for minute in range(0, 4 * 24 * 60, 10):  # a tick every 10 minutes for four days
            made += [t.id for t in apply(state, tick(state, day_start + timedelta(minutes=minute))).tasks]
    days = [task_id.removeprefix("sched-berlin-")[:8] for task_id in made]
    # One a day: four days twice, and each time the day before (the slot missed before the first tick).
    assert len(days) == len(set(days)) == 10
    assert "sched-berlin-20260329t0100" in made  # 03:00 CEST, right after the jump
    assert "sched-berlin-20261025t0030" in made and "sched-berlin-20261025t0130" not in made


# ------------------------------------------------------------------------------------------- the tick transition


def test_the_task_of_an_occurrence_carries_the_schedule() -> None:
    schedule = make_schedule(
        "deps",
        "0 6 * * 1",
        timezone="Asia/Tokyo",
        title="Update dependencies",
        body="Run the updater.",
        mode="complex",
        priority=Priority.HIGH,
        requires=["linux"],
        created_by="alice",
    )
    state = state_with(schedule)
    change = apply(state, tick(state, utc("2026-03-08T21:05")))  # Monday 06:05 in Tokyo
    (task,) = change.tasks
    assert task.id == "sched-deps-20260308t2100" == f"sched-deps-{slot_key(utc('2026-03-08T21:00'))}"
    assert (task.title, task.body, task.mode, task.priority) == (
        "Update dependencies",
        "Run the updater.",
        "complex",
        "high",
    )
    assert (task.requires, task.group, task.status) == (["linux"], "schedule-deps", TaskStatus.QUEUED)
    assert (task.source.kind, task.source.actor, task.source.event) == ("schedule", "alice", "schedule.tick")
    assert change.message == "tick deps: submit sched-deps-20260308t2100: Update dependencies"
    assert schedules_of(state)["deps"].enqueued == [utc("2026-03-08T21:00")]


def test_several_schedules_due_at_once_are_one_change() -> None:
    state = state_with(make_schedule("a", "*/5 * * * *"), make_schedule("b", "0 * * * *"), make_schedule("c"))
    change = tick(state, utc("2026-03-01T01:02"))
    assert [t.id for t in change.tasks] == ["sched-a-20260301t0100", "sched-b-20260301t0100"]
    assert [r.name for r in change.records if isinstance(r, Schedule)] == ["a", "b"]


def test_a_slot_is_never_enqueued_twice_even_after_its_task_left_the_live_tree() -> None:
    state = state_with(make_schedule("monthly", "0 0 1 * *"))
    (task,) = apply(state, tick(state, utc("2026-03-01T00:01"))).tasks
    state.remove_task(task.id)  # archived (coordinator gc) a week later
    assert tick(state, utc("2026-03-09T00:00")).empty


def test_a_tick_far_ahead_does_not_hold_back_the_slots_before_it() -> None:
    state = state_with(make_schedule("hourly", "0 * * * *"))
    apply(state, tick(state, utc("2026-03-05T00:00")))  # `tick --now` days ahead
    assert [t.id for t in tick(state, utc("2026-03-01T02:00")).tasks] == ["sched-hourly-20260301t0200"]


def test_a_task_already_there_is_only_remembered() -> None:
    state = state_with(make_schedule("hourly", "0 * * * *"))
    apply(state, tick(state, utc("2026-03-01T01:00")))
    # Removed and added again: the new schedule remembers nothing, the task of that slot is there.
    apply(state, remove_schedule(state, "hourly", START))
    state.put_record("schedules", "hourly", make_schedule("hourly", "0 * * * *"))
    change = apply(state, tick(state, utc("2026-03-01T01:30")))
    assert change.tasks == () and change.message == "tick hourly: sched-hourly-20260301t0100 exists already"
    assert tick(state, utc("2026-03-01T01:40")).empty


def test_a_schedule_remembers_only_its_latest_slots() -> None:
    state = state_with(make_schedule("minutely", "* * * * *"))
    for minute in range(REMEMBERED_SLOTS + 5):
        apply(state, tick(state, START + timedelta(minutes=minute)))
    enqueued = schedules_of(state)["minutely"].enqueued
    assert enqueued == [START + timedelta(minutes=m) for m in range(5, REMEMBERED_SLOTS + 5)]


def test_a_mode_removed_since_gives_the_default_mode() -> None:
    state = state_with(make_schedule("x", "0 * * * *", mode="complex"))
    modes = ModesConfig()
    state.modes = modes.model_copy(update={"modes": {k: v for k, v in modes.modes.items() if k != "complex"}})
    change = tick(state, utc("2026-03-01T01:00"))
    assert change.tasks[0].mode == state.modes.default_mode
    assert "(mode complex is gone: the default mode)" in change.message


def test_a_schedule_whose_task_is_refused_now_is_skipped_and_the_others_go_on() -> None:
    state = state_with(make_schedule("long", "0 * * * *", body="x" * 200), make_schedule("short", "0 * * * *"))
    state.limits = Limits(max_body_bytes=100)  # lowered after the schedule was added
    outcome = tick_outcome(state, utc("2026-03-01T01:00"))
    assert [t.id for t in outcome.tasks] == ["sched-short-20260301t0100"]
    (skipped,) = outcome.skipped
    assert skipped.schedule == "long" and "the body is 200 bytes, over the limit of 100" in skipped.reason


def test_a_zone_this_machine_lacks_skips_that_schedule_only() -> None:
    state = state_with(make_schedule("mars", "0 * * * *", timezone="Mars/Olympus"), make_schedule("earth", "@hourly"))
    outcome = tick_outcome(state, utc("2026-03-01T01:00"))
    assert [t.id for t in outcome.tasks] == ["sched-earth-20260301t0100"]
    assert outcome.skipped[0].schedule == "mars" and "unknown time zone 'Mars/Olympus'" in outcome.skipped[0].reason


@settings(max_examples=60, deadline=None)
@given(
    cron=st.sampled_from(["*/7 * * * *", "0 * * * *", "30 2 * * *", "0 9 * * 1-5", "15 */3 * * *"]),
    tz=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu"]),
    gaps=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=25),
)
def test_any_sequence_of_ticks_makes_each_slot_once_and_leaves_the_latest_done(
    cron: str, tz: str, gaps: list[int]
) -> None:
    state = state_with(make_schedule("p", cron, timezone=tz, created_at=utc("2026-10-20T00:00")))
    now, made = utc("2026-10-20T00:00"), []
    for gap in gaps:
        now += timedelta(minutes=gap)
        made += [t.id for t in apply(state, tick(state, now)).tasks]
        latest = latest_occurrence(cron, zone(tz), now)
        assert latest is None or latest < utc("2026-10-20T00:00") or latest in schedules_of(state)["p"].enqueued
    assert len(made) == len(set(made))
    assert made == sorted(made)  # slots only move forward


# ------------------------------------------------------------------------------------------- adding and removing


def test_adding_checks_the_name_the_zone_the_mode_and_what_its_tasks_would_hold() -> None:
    state = state_with(make_schedule("taken"))
    with pytest.raises(UsageError, match="schedule 'taken' exists already: remove it first"):
        add_schedule(state, make_schedule("taken"), START)
    with pytest.raises(UsageError, match="--timezone: unknown time zone 'Mars/Olympus'"):
        add_schedule(state, make_schedule("x", timezone="Mars/Olympus"), START)
    with pytest.raises(UsageError, match="--mode: unknown mode 'turbo': use one of complex, expert, simple"):
        add_schedule(state, make_schedule("x", mode="turbo"), START)
    state.limits = Limits(max_title_chars=5)
    with pytest.raises(UsageError, match="over the limit of 5"):
        add_schedule(state, make_schedule("x", title="far too long"), START)
    change = add_schedule(state_with(), make_schedule("x", timezone="Europe/Berlin"), START)
    assert change.message == "schedule add x: '0 3 * * *' (Europe/Berlin)" and change.tasks == ()


def test_removing_an_unknown_schedule_says_how_to_list_them() -> None:
    with pytest.raises(ScheduleNotFound, match="no schedule 'x' on the state branch: run 'coordinator schedule list'"):
        remove_schedule(state_with(), "x", START)
    assert remove_schedule(state_with(make_schedule("x")), "x", START).deletes == (("schedules", "x"),)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "the cron expression is empty"),
        ("61 * * * *", r"'61 \* \* \* \*' is not valid \(out of range\)"),
        ("* * *", "has 3 fields, not five"),
        ("0 0 * * * 2026", "has 6 fields, not five"),
        ("@reboot", "unknown cron alias '@reboot'"),
        ("0 0 31 2 *", "never matches a date"),
        ("every day", "has 2 fields"),
        ("a b c d e", "is not valid"),
    ],
)
def test_a_bad_cron_expression_is_refused_saying_what_to_write(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_cron(expression)


def test_cron_expressions_are_kept_normalised() -> None:
    assert check_cron("  0   3 * *  1-5 ") == "0 3 * * 1-5"
    assert check_cron("@DAILY") == "@daily"
    assert make_schedule(cron="@Hourly").cron == "@hourly"


def test_the_next_slot_skips_slots_enqueued_by_a_tick_run_ahead() -> None:
    state = state_with(make_schedule("hourly", "0 * * * *"))
    apply(state, tick(state, utc("2026-03-01T02:10")))
    assert next_slot(schedules_of(state)["hourly"], utc("2026-03-01T00:30")) == utc("2026-03-01T01:00")
    assert next_slot(schedules_of(state)["hourly"], utc("2026-03-01T01:30")) == utc("2026-03-01T03:00")
