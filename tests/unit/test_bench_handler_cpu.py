"""The handler CPU section of the benchmarks (benchmarks/handler_cpu.py): a row for every integration point it
claims, each with the hub's figure and its floor, and a floor that would send another message than the hub's path
is refused. No figure is compared with a time: speed is the benchmark's to report."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks import handler_cpu
from benchmarks.cpu import Plan

TINY = Plan(iterations=2, rounds=1, memory_messages=0)
CLAIMED = ("MD-11", "MD-13", "MD-16", "FW-06", "DA-02", "FW-01", "OC-01")


def test_the_section_reports_a_row_for_every_point_it_claims() -> None:
    # Given the section's points
    # When it measures them
    rows = handler_cpu.measure(TINY)

    # Then each point claimed has one row, in order, with the hub's figure, its floor and their ratio
    assert [row.measure.split(" ")[0] for row in rows] == list(CLAIMED)
    for row in rows:
        assert row.hub > 0, row
        assert row.floor is not None, row
        assert row.floor > 0, row
        assert row.ratio == row.hub / row.floor
        assert row.unit == "µs/msg"
        assert row.note.startswith("floor: ")
    # and the report prints every one of them
    report = handler_cpu.report(rows)
    assert [point for point in CLAIMED if point not in report] == []


@pytest.mark.parametrize("make", handler_cpu.POINTS, ids=lambda make: make.__name__)
def test_each_floor_sends_the_very_message_of_the_hubs_path(make: handler_cpu.PointFactory) -> None:
    # Given a point
    point = make()

    # When its hub path and its floor each build the target's message
    hub, floor = point.hub(), point.floor()

    # Then they are the same bytes, and not empty
    assert hub == floor
    assert hub


def test_a_floor_that_sends_another_message_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a point whose floor builds a message of its own
    real = handler_cpu.md13()
    cheating = dataclasses.replace(real, floor=lambda: b"{}")
    monkeypatch.setattr(handler_cpu, "POINTS", (lambda: cheating,))

    # When the section measures it, Then it stops, naming the point
    with pytest.raises(AssertionError, match="MD-13"):
        handler_cpu.measure(TINY)
