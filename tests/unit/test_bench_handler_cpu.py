"""The handler CPU section of the benchmarks (benchmarks/handler_cpu.py): a row for every integration point it
claims, each with the hub's figure and its floor, and a floor that would send another message than the hub's path
is refused. No figure is compared with a time: speed is the benchmark's to report."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from benchmarks import handler_cpu
from benchmarks.cpu import Plan

TINY = Plan(iterations=2, rounds=1, memory_messages=0)
CLAIMED = ("MD-11", "MD-13", "MD-16", "FW-06", "DA-02", "DA-04", "FW-01", "FW-02", "FW-03", "CU-01", "CU-02", "OC-01")


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


def test_md16s_hub_path_runs_the_handlers_own_update_and_the_relays_deduplication_id(monkeypatch: pytest.MonkeyPatch) -> None:
    from utilhub.packs.meter_data.billing.relays import bill_status_update as real_update
    from utilhub.platform import relay

    # Given the functions MD-16's intake runs (accept_bill_status) to build MDM's update and to queue it on its FIFO queue
    updates: list[str] = []
    hashed: list[str] = []
    real_hash = relay.deduplication_id

    def update(usage_transaction_id: str, status: Any) -> Any:
        updates.append(f"{usage_transaction_id}#{status.eventId}")
        return real_update(usage_transaction_id, status)

    def deduplication_id(message: relay.RelayMessage) -> str:
        hashed.append(message.eventId)
        return real_hash(message)

    monkeypatch.setattr(handler_cpu, "bill_status_update", update)
    monkeypatch.setattr(relay, "deduplication_id", deduplication_id)

    # When the section's MD-16 hub path handles its message
    sent = handler_cpu.md16().hub()

    # Then it ran those very functions once each, for the event it sends, not copies of them
    event_id = f"UT-5001#{json.loads(sent)['eventId']}"
    assert (updates, hashed) == ([event_id], [event_id])


@pytest.mark.parametrize(
    ("make", "functions"),
    [
        (handler_cpu.md11, ("distinct_requests", "queued_messages", "mdm_request", "determinants_of", "ccb_request")),
        (handler_cpu.fw01, ("creation_input", "record_of", "in_target")),
        (handler_cpu.fw02, ("event_from", "forward_message", "record_of")),
        (handler_cpu.cu02, ("takes_updates", "update_message", "state_of", "change_of", "merged")),
    ],
    ids=lambda value: getattr(value, "__name__", "functions"),
)
def test_a_hub_path_runs_the_packs_own_functions(
    monkeypatch: pytest.MonkeyPatch, make: handler_cpu.PointFactory, functions: tuple[str, ...]
) -> None:
    # Given the functions of the pack that the point's handlers call to build what they store, queue and send
    called: list[str] = []

    def counted(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            called.append(name)
            return real(*args, **kwargs)

        return call

    point = make()
    for name in functions:
        monkeypatch.setattr(handler_cpu, name, counted(name, getattr(handler_cpu, name)))

    # When the section's hub path handles its message
    sent = point.hub()

    # Then each of them ran, and the target's message is the floor's
    assert sorted(set(called)) == sorted(functions)
    assert sent == point.floor()
