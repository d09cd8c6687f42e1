"""The relay's backoff for an event that must wait for another of its entity (utilhub.platform.relay)."""

from __future__ import annotations

from utilhub.packs.field_work.customer_updates import LEASE
from utilhub.platform.relay import retry_later_seconds


def test_an_event_to_retry_later_waits_longer_each_time_and_past_the_longest_hold_by_the_last_receive() -> None:
    assert [retry_later_seconds(n) for n in range(1, 8)] == [10, 20, 40, 80, 80, 80, 80]
    # the relay queues hand a record over 5 times before their DLQ: the waits before the 5th outlast the
    # longest an update holds its service point (FW-10's lease), so only an entity held for good sends it there
    assert sum(retry_later_seconds(n) for n in range(1, 5)) > LEASE.total_seconds()


def test_only_a_relay_named_by_its_integration_point_journals_its_events() -> None:
    from utilhub.platform.relay import journaled

    assert [journaled(r) for r in ("MD-13", "MD-16", "MD-20", "FW-05", "FW-10", "FW-11", "DA-04")] == [True] * 7
    # the engine's outcome relays tell CCB of transactions journaled under their own points
    assert [journaled(r) for r in ("SYNC-OUTCOME", "CCB-NOTICE", "MD-1", "md-13")] == [False] * 4


def test_a_relayed_event_is_received_when_queued_completed_when_delivered_and_failed_when_refused_or_dead_lettered() -> None:
    from utilhub.platform.journal import COMPLETED, FAILED, RECEIVED, normalised
    from utilhub.platform.relay import DEAD_LETTERED, DELIVERED, QUEUED, REFUSED

    assert [normalised(s) for s in (QUEUED, DELIVERED, REFUSED, DEAD_LETTERED)] == [RECEIVED, COMPLETED, FAILED, FAILED]


def test_a_compound_event_id_is_journaled_with_its_parts_joined_as_the_operations_api_names_them() -> None:
    from utilhub.platform.relay import journal_id

    assert (journal_id("UT-5001#E-1"), journal_id("MDM-BCC-3001")) == ("UT-5001/E-1", "MDM-BCC-3001")
