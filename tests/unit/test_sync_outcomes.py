"""The outcomes of sync requests told to CCB (utilhub.syncrequests.outcomes): what is queued for each final transition,
in which message group, under which event id, and what CCB is sent. Pure: the queue and CCB are recorded calls.
The store's part (only a written final transition is told) and the delivery through the FIFO queue are in
tests/integration/test_sync_outcomes_to_ccb.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from utilhub.platform.relay import RelayMessage
from utilhub.syncrequests.model import SyncStatus
from utilhub.syncrequests.outcomes import (
    NOTICE,
    RELAY,
    Ccb,
    CcbAcknowledgement,
    CcbNotice,
    CcbNotices,
    CcbOutcomes,
    FinalTransition,
    acknowledgement_of,
    flows_of,
)

QUEUE = "https://sqs.local/000000000000/outcomes.fifo"


class Queue:
    """relay.accept, recorded."""

    def __init__(self, fail: bool = False) -> None:
        self.accepted: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, relay: str, event_id: str, payload: dict[str, Any], queue_url: str, *, group: str | None = None) -> None:
        if self.fail:
            raise EndpointConnectionError(endpoint_url=queue_url)
        self.accepted.append({"relay": relay, "eventId": event_id, "payload": payload, "queue": queue_url, "group": group})


def final(request_id: str, status: SyncStatus, minute: int, reason: str = "accepted") -> FinalTransition:
    return FinalTransition(request_id, "PERSON", "P-1", status, reason, datetime(2026, 11, 20, 9, minute, tzinfo=UTC))


def test_each_final_transition_is_queued_in_its_requests_group_with_ccbs_acknowledgement() -> None:
    # Given the meter data flow switched on
    queue = Queue()
    outcomes = CcbOutcomes("meter-data", "MDM", QUEUE, flows_of("meter-data, field-work"), accept=queue)

    # When a request fails, then (resubmitted) is synchronized, and another is synchronized
    outcomes([final("SR-1", SyncStatus.ERROR, 1, "contact locked in MDM")])
    outcomes([final("SR-1", SyncStatus.SYNCHRONIZED, 5), final("SR-2", SyncStatus.SYNCHRONIZED, 5)])

    # Then each is one message, in its request's group, in the order written, under an id of its own
    assert [(m["group"], m["payload"]["result"]) for m in queue.accepted] == [
        ("meter-data#SR-1", "NEGATIVE"),
        ("meter-data#SR-1", "POSITIVE"),
        ("meter-data#SR-2", "POSITIVE"),
    ]
    assert len({m["eventId"] for m in queue.accepted}) == 3
    assert {m["relay"] for m in queue.accepted} == {RELAY}
    assert {m["queue"] for m in queue.accepted} == {QUEUE}
    # And the payload is CCB's acknowledgement of that outcome
    assert queue.accepted[0]["payload"] == {
        "syncRequestId": "SR-1",
        "target": "MDM",
        "entityType": "PERSON",
        "entityId": "P-1",
        "result": "NEGATIVE",
        "reason": "contact locked in MDM",
        "acknowledgedAt": "2026-11-20T09:01:00+00:00",
    }


def test_the_same_transition_gives_the_same_event_id_a_later_outcome_another() -> None:
    # Given two tellings of one transition (a redelivered message) and a later outcome of the same request and status
    queue = Queue()
    outcomes = CcbOutcomes("dacs", "DACS", QUEUE, {"dacs"}, accept=queue)
    outcomes([final("DSR-1", SyncStatus.ERROR, 1)])
    outcomes([final("DSR-1", SyncStatus.ERROR, 1)])
    outcomes([final("DSR-1", SyncStatus.ERROR, 9)])

    # Then the first two are one event (the relay's idempotency key and the queue's deduplication take it once),
    # the third a new one
    ids = [m["eventId"] for m in queue.accepted]
    assert ids[0] == ids[1] != ids[2]


@pytest.mark.parametrize(("queue_url", "flows"), [(QUEUE, {"field-work", "dacs"}), (None, {"meter-data"}), ("", {"meter-data"})])
def test_a_flow_not_switched_on_or_without_a_queue_tells_nothing(queue_url: str | None, flows: set[str]) -> None:
    queue = Queue()
    outcomes = CcbOutcomes("meter-data", "MDM", queue_url, flows, accept=queue)
    outcomes([final("SR-1", SyncStatus.SYNCHRONIZED, 1)])
    assert (outcomes.enabled, queue.accepted) == (False, [])


def test_an_outcome_that_cannot_be_queued_is_counted_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given SQS unavailable (the transition is already written: failing its caller would not write it again)
    counted: list[str] = []
    monkeypatch.setattr("utilhub.syncrequests.outcomes.metrics.add_metric", lambda name, unit, value: counted.append(name))
    outcomes = CcbOutcomes("meter-data", "MDM", QUEUE, {"meter-data"}, accept=Queue(fail=True))

    # When an outcome is told, Then nothing raises and the failure is counted (alarmed: SyncOutcomeQueueFailedAlarm)
    # (and it is not among the outcomes queued: its request keeps owing it, for the monitor to queue again)
    assert outcomes([final("SR-1", SyncStatus.SYNCHRONIZED, 1)]) == []
    assert counted == ["SyncOutcomeQueueFailed"]


def test_flows_of_reads_a_comma_separated_setting() -> None:
    assert flows_of(" meter-data,,dacs ") == {"meter-data", "dacs"}
    assert flows_of("") == frozenset()


def test_ccb_is_sent_the_acknowledgement_at_its_requests_path() -> None:
    # Given a queued outcome of a request whose id needs quoting
    calls: list[tuple[str, str, bytes]] = []
    ack = CcbAcknowledgement(
        syncRequestId="SR 1/a",
        target="ODM",
        entityType="SERVICE_POINT",
        entityId="SP-1",
        result="POSITIVE",
        reason="accepted",
        acknowledgedAt="2026-11-20T09:01:00+00:00",
    )
    message = RelayMessage(relay=RELAY, eventId="field-work#SR 1/a#SYNCHRONIZED#t", payload=ack.model_dump())

    # When the deliverer tells CCB
    answer = Ccb(lambda method, path, body: calls.append((method, path, body))).tell(message)

    # Then it is one PUT of the acknowledgement to the request's quoted path
    assert [(method, path) for method, path, _ in calls] == [("PUT", "sync-requests/SR%201%2Fa/acknowledgement")]
    assert json.loads(calls[0][2]) == ack.model_dump()
    assert answer == {"notified": "CCB", "result": "POSITIVE"}


def test_an_outcome_older_than_its_requests_last_final_transition_is_not_told(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given two outcomes of one request (ERROR at 09:01, then SYNCHRONIZED at 09:05), the store's last final being 09:05
    counted: list[str] = []
    monkeypatch.setattr("utilhub.syncrequests.outcomes.metrics.add_metric", lambda name, unit, value: counted.append(name))
    outcomes = CcbOutcomes("meter-data", "MDM", QUEUE, {"meter-data"})
    older = FinalTransition("SR#1", "PERSON", "P-1", SyncStatus.ERROR, "refused", datetime(2026, 11, 20, 9, 1, tzinfo=UTC))
    newer = FinalTransition("SR#1", "PERSON", "P-1", SyncStatus.SYNCHRONIZED, "stored", datetime(2026, 11, 20, 9, 5, tzinfo=UTC))
    asked: list[tuple[str, str]] = []

    def last_final_at(flow: str, sync_request_id: str) -> datetime:
        asked.append((flow, sync_request_id))
        return newer.at

    calls: list[tuple[str, str, bytes]] = []
    ccb = Ccb(lambda method, path, body: calls.append((method, path, body)), last_final_at)

    def message(transition: FinalTransition) -> RelayMessage:
        ack = acknowledgement_of("MDM", transition)
        return RelayMessage(relay=RELAY, eventId=outcomes.event_id(transition), payload=ack.model_dump())

    # When the older one is handed over after the newer (redriven from the dead-letter queue), then the newer again
    skipped = ccb.tell(message(older))
    told = ccb.tell(message(newer))

    # Then only the newer reaches CCB; the older is acknowledged, counted, and its request read under its own flow
    assert [json.loads(body)["result"] for _, _, body in calls] == ["POSITIVE"]
    assert skipped == {"notified": None, "superseded": True, "result": "NEGATIVE"}
    assert told == {"notified": "CCB", "result": "POSITIVE"}
    assert counted == ["SyncOutcomesSuperseded"]
    assert asked == [("meter-data", "SR#1"), ("meter-data", "SR#1")]


# ---------------------------------------------------------------------------- MD-11: usage requests in ERROR


def test_a_usage_request_in_error_is_queued_as_ccbs_usage_request_status() -> None:
    from utilhub.packs.meter_data.billing.usage_requests.ccb_errors import UsageErrorsToCcb

    # Given the usage requests switched on
    queue = Queue()
    errors = UsageErrorsToCcb(CcbNotices(QUEUE, True, accept=queue))

    # When a request is made ERROR twice (resubmitted in between)
    errors({"pk": "UR 1", "saId": "SA-1"}, "MDM refused it: HTTP 404", "2026-11-20T09:01:00+00:00")
    errors({"pk": "UR 1", "saId": "SA-1"}, "MDM refused it: HTTP 404", "2026-11-20T09:05:00+00:00")

    # Then each is a notice in the request's group, under an id of its own, put at CCB's usage request status path
    assert [m["group"] for m in queue.accepted] == ["usage-requests#UR 1"] * 2
    assert len({m["eventId"] for m in queue.accepted}) == 2
    assert {m["relay"] for m in queue.accepted} == {NOTICE}
    assert queue.accepted[0]["payload"] == {
        "path": "usage-requests/UR%201/status",
        "body": {
            "usageRequestId": "UR 1",
            "saId": "SA-1",
            "status": "ERROR",
            "reason": "MDM refused it: HTTP 404",
            "at": "2026-11-20T09:01:00+00:00",
        },
    }


def test_usage_requests_switched_off_or_without_a_queue_tell_nothing() -> None:
    queue = Queue()
    notice = CcbNotice(path="usage-requests/UR-1/status", body={})
    CcbNotices(QUEUE, False, accept=queue)("e", "g", notice)
    CcbNotices(None, True, accept=queue)("e", "g", notice)
    assert queue.accepted == []


def test_a_notice_is_put_at_its_path() -> None:
    calls: list[tuple[str, str, bytes]] = []
    message = RelayMessage(relay=NOTICE, eventId="e", payload={"path": "usage-requests/UR-1/status", "body": {"status": "ERROR"}})
    Ccb(lambda method, path, body: calls.append((method, path, body))).put(message)
    assert calls == [("PUT", "usage-requests/UR-1/status", b'{"status": "ERROR"}')]
