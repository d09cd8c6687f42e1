"""A scheduled run's clock: now, or the time its schedule fired when that is later (utilhub.platform.scheduled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from utilhub.platform.scheduled import scheduled_clock, scheduled_time

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


class Wall:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_the_event_time_is_read_as_eventbridge_writes_it() -> None:
    assert scheduled_time({"time": "2026-12-07T03:00:00Z"}) == NOW
    assert scheduled_time({"time": "2026-12-07T04:00:00+01:00"}) == NOW
    assert scheduled_time({"time": "2026-12-07T03:00:00"}) == NOW  # no zone: UTC, as EventBridge means it
    for event in (None, {}, {"time": 17}, {"time": "yesterday"}):
        assert scheduled_time(event) is None


def test_a_schedule_that_fired_now_or_before_runs_on_the_wall_clock() -> None:
    wall = Wall()
    for event in (None, {"time": "2026-12-07T03:00:00Z"}, {"time": "2026-12-07T02:59:00Z"}, {"time": "not a time"}):
        clock = scheduled_clock(event, now=wall)
        wall.now = NOW + timedelta(seconds=30)
        assert clock() == NOW + timedelta(seconds=30)
        wall.now = NOW


def test_a_schedule_that_fired_later_runs_ahead_of_the_wall_clock_by_as_much_and_goes_on() -> None:
    wall = Wall()
    clock = scheduled_clock({"time": "2026-12-07T04:30:00Z"}, now=wall)
    assert clock() == NOW + timedelta(minutes=90)
    wall.now = NOW + timedelta(seconds=42)
    assert clock() == NOW + timedelta(minutes=90, seconds=42)
