"""The transactions journal's writes on the template's own table (moto's server): a head never goes back to an
older state written after a newer one (the hop is still recorded), and a finished head expires while a failed or
running one stays (platform/journal.py, docs/operations.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from localhub.hub import LocalHub
from utilhub.platform import aws
from utilhub.platform.journal import Journal
from utilhub.platform.observability import metrics

T1 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
T2 = T1 + timedelta(seconds=3)


def journal(hub: LocalHub, at: datetime) -> Journal:
    """The journal as a function sees it whose step happened at ``at``."""
    assert hub.stack is not None
    return Journal(aws.table(hub.stack.physical["JournalTable"].ref), retention_days=35, clock=lambda: at)


def test_an_older_state_written_after_a_newer_one_leaves_the_head_as_the_newer_put_it(hub: LocalHub) -> None:
    metrics.clear_metrics()
    # Given a sync request synchronized at T2, its journal write done first
    journal(hub, T2).changed("MD-01", "SR-LWW", "SYNCHRONIZED", reason="acknowledged", step="synchronized")
    # When the write of its SENT at T1 comes after it (a redelivered, older step)
    journal(hub, T1).changed("MD-01", "SR-LWW", "SENT", reason="sent", step="sent")
    # Then the head still says SYNCHRONIZED since T2, both hops are in the timeline in their order, and nothing failed
    found = journal(hub, T2)
    head = found.head("MD-01", "SR-LWW")
    assert head is not None
    assert (head["state"], head["detailState"], head["updatedAt"], head["reason"]) == (
        "COMPLETED",
        "SYNCHRONIZED",
        T2.isoformat(),
        "acknowledged",
    )
    assert [(h["step"], h["at"]) for h in found.timeline("MD-01", "SR-LWW")] == [("sent", T1.isoformat()), ("synchronized", T2.isoformat())]
    assert "JournalWriteFailed" not in metrics.metric_set
    # And a newer state still moves it on
    journal(hub, T2 + timedelta(seconds=1)).changed("MD-01", "SR-LWW", "PENDING", reason="resubmitted", step="pending")
    assert found.head("MD-01", "SR-LWW")["detailState"] == "PENDING"  # type: ignore[index]


def test_a_finished_head_expires_and_a_failed_or_resubmitted_one_stays(hub: LocalHub) -> None:
    def expires(transaction_id: str) -> object:
        head = journal(hub, T1).head("OC-01", transaction_id)
        assert head is not None
        return head.get("expiresAt")

    # Given an order revision running, then failed: the operators' work list, which never expires
    journal(hub, T1).changed("OC-01", "ORD-TTL/1", "RUNNING", step="intake", system="OSM")
    assert expires("ORD-TTL/1") is None
    journal(hub, T2).changed("OC-01", "ORD-TTL/1", "FAILED", reason="BRM down", step="workflow failed")
    assert expires("ORD-TTL/1") is None
    # When it is resubmitted and succeeds
    journal(hub, T2 + timedelta(seconds=1)).changed("OC-01", "ORD-TTL/1", "RUNNING", step="resubmission")
    done = T2 + timedelta(seconds=2)
    journal(hub, done).changed("OC-01", "ORD-TTL/1", "SUCCEEDED", step="workflow succeeded")
    # Then its head expires with the table's TTL the retention after it finished
    assert expires("ORD-TTL/1") == int((done + timedelta(days=35)).timestamp())
    # And a finished head sent back to work (a discarded sync request resubmitted) keeps no expiry any more
    journal(hub, T1).changed("MD-01", "SR-TTL", "DISCARDED", step="discarded")
    assert journal(hub, T1).head("MD-01", "SR-TTL")["expiresAt"] == int((T1 + timedelta(days=35)).timestamp())  # type: ignore[index]
    journal(hub, T2).changed("MD-01", "SR-TTL", "PENDING", step="pending")
    assert "expiresAt" not in journal(hub, T2).head("MD-01", "SR-TTL")  # type: ignore[operator]


def test_a_listing_continues_after_any_item_of_a_page(hub: LocalHub) -> None:
    # Given three failed order revisions, listed newest first
    for n in range(3):
        journal(hub, T1 + timedelta(seconds=n)).changed("OC-01", f"ORD-PAGE/{n}", "FAILED", reason="BRM down")
    page = journal(hub, T2).transactions(point="OC-01", state="FAILED")
    assert [t["id"] for t in page.items] == ["ORD-PAGE/2", "ORD-PAGE/1", "ORD-PAGE/0"]
    # When a listing continues from the cursor after its first item (a bulk resubmission cut short there)
    rest = journal(hub, T2).transactions(point="OC-01", state="FAILED", cursor=page.after[0])
    # Then it lists the others, from the next on
    assert [t["id"] for t in rest.items] == ["ORD-PAGE/1", "ORD-PAGE/0"]
    assert len(page.after) == len(page.items)
