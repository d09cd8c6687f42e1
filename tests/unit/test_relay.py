"""The relay's backoff for an event that must wait for another of its entity (utilhub.platform.relay)."""

from __future__ import annotations

from utilhub.packs.field_work.customer_updates import LEASE
from utilhub.platform.relay import retry_later_seconds


def test_an_event_to_retry_later_waits_longer_each_time_and_past_the_longest_hold_by_the_last_receive() -> None:
    assert [retry_later_seconds(n) for n in range(1, 8)] == [10, 20, 40, 80, 80, 80, 80]
    # the relay queues hand a record over 5 times before their DLQ: the waits before the 5th outlast the
    # longest an update holds its service point (FW-10's lease), so only an entity held for good sends it there
    assert sum(retry_later_seconds(n) for n in range(1, 5)) > LEASE.total_seconds()
