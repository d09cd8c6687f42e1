"""The runtime's schedule loop: what is due fires once and moves on to its next run."""

from __future__ import annotations

import datetime

from localhub.aws.schedules import parse
from localhub.server import take_due


def at(hour: int, minute: int, second: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 11, 30, hour, minute, second, tzinfo=datetime.UTC)  # a Monday


def test_a_due_schedule_fires_once_and_moves_to_its_next_run() -> None:
    schedules = {
        "Monitor": parse("rate(1 minute)"),
        "Nightly": parse("cron(0 2 * * ? *)"),
        "Once": parse("at(2026-11-30T09:00:30)"),
    }
    start = at(9, 0)
    due = {name: schedule.next_run(start) for name, schedule in schedules.items()}
    assert due == {"Monitor": at(9, 1), "Nightly": at(2, 0) + datetime.timedelta(days=1), "Once": at(9, 0, 30)}

    assert take_due(schedules, due, at(9, 0, 30)) == ["Once"]
    assert due["Once"] is None  # a one-time schedule never comes back
    assert take_due(schedules, due, at(9, 0, 45)) == []
    assert take_due(schedules, due, at(9, 1, 0)) == ["Monitor"]
    assert due["Monitor"] == at(9, 2)
    assert take_due(schedules, due, at(9, 1, 1)) == []  # not twice for one time
    assert take_due(schedules, due, at(2, 0) + datetime.timedelta(days=1)) == ["Monitor", "Nightly"]
    assert due["Nightly"] == at(2, 0) + datetime.timedelta(days=2)
