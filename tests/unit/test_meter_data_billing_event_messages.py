"""The billing event messages (utilhub.packs.meter_data.billing.events) and what the relay makes of a target's
answer (utilhub.packs.meter_data.billing.relays): pure, the connector replaced by a recording stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from utilhub.packs.meter_data.billing import relays as billing_relays
from utilhub.packs.meter_data.billing.events import (
    BILL_EVENTS_USED_ON_BILL,
    BillStatusIn,
    ReplacementReadsIn,
    UsageAdjustmentIn,
)
from utilhub.platform.connectors import TargetRejected, TargetResponse, TargetUnavailable
from utilhub.platform.relay import RelayMessage

READS = {"notificationId": "RR-1", "saId": "SA-1", "usageTransactionId": "UT-1", "periodStart": "2026-10-01", "periodEnd": "2026-10-31"}


def test_used_on_bill_follows_seed_002_detail_10() -> None:
    # Given the three bill events CCB notifies
    # Then a completed bill and a frozen segment mean used on bill, a canceled segment not
    assert BILL_EVENTS_USED_ON_BILL == {"BILL_COMPLETED": True, "SEGMENT_FROZEN": True, "SEGMENT_CANCELED": False}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"periodEnd": "2026-09-30"}, "periodEnd"),
        ({"usageTransactionId": "UT 1"}, "usageTransactionId"),
        ({"notificationId": "x" * 65}, "notificationId"),
        ({"extra": 1}, "extra"),
    ],
)
def test_replacement_reads_refuse_a_bad_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ReplacementReadsIn.model_validate({**READS, **changes})
    assert [e["loc"][0] for e in raised.value.errors()] == [field]


def test_a_bill_status_needs_a_known_event_and_an_aware_time() -> None:
    with pytest.raises(ValidationError):
        BillStatusIn.model_validate({"eventId": "E-1", "event": "BILL_PRINTED"})
    with pytest.raises(ValidationError):
        BillStatusIn.model_validate({"eventId": "E-1", "event": "BILL_COMPLETED", "at": "2026-11-02T07:30:00"})
    assert BillStatusIn.model_validate({"eventId": "E-1", "event": "SEGMENT_FROZEN"}).at is None


def test_an_adjustment_of_nothing_or_of_no_number_is_refused() -> None:
    body = {"adjustmentId": "A-1", "saId": "SA-1", "periodStart": "2026-10-01", "periodEnd": "2026-10-31", "uom": "kwh", "reason": "r"}
    assert UsageAdjustmentIn.model_validate({**body, "quantity": -1.5}).uom == "KWH"
    for quantity in (0, float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            UsageAdjustmentIn.model_validate({**body, "quantity": quantity})


class StandIn:
    """A connector that records calls and answers with ``outcome`` (a response or an exception)."""

    def __init__(self, outcome: TargetResponse | Exception) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, path: str, body: bytes | None = None, **_: Any) -> TargetResponse:
        self.calls.append((method, path, json.loads(body or b"{}")))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> list[StandIn]:
    made: list[StandIn] = []

    def connector_for(system: str) -> StandIn:
        return made[0]

    monkeypatch.setattr(billing_relays, "connector_for", connector_for)
    return made


def message(relay: str, event_id: str, payload: dict[str, Any]) -> RelayMessage:
    return RelayMessage(relay=relay, eventId=event_id, payload=payload)


def test_replacement_reads_become_an_off_cycle_bill_request_at_ccb(target: list[StandIn]) -> None:
    target.append(StandIn(TargetResponse(201, "application/json", b"{}")))
    outcome = billing_relays.request_off_cycle_bill(message("MD-13", "RR-1", READS))
    assert outcome == {"delivered": "CCB"}
    method, path, body = target[0].calls[0]
    assert (method, path) == ("POST", "off-cycle-bill-requests")
    assert body == {**{k: v for k, v in READS.items() if k != "notificationId"}, "requestId": "RR-1", "source": "MDM_REPLACEMENT_READS"}


def test_the_usage_transaction_id_is_quoted_into_mdms_path(target: list[StandIn]) -> None:
    target.append(StandIn(TargetResponse(200, "application/json", b"{}")))
    update = {"eventId": "E-1", "usageTransactionId": "UT:1.a", "usedOnBill": False, "event": "SEGMENT_CANCELED"}
    billing_relays.update_used_on_bill(message("MD-16", "UT:1.a#E-1", update))
    assert target[0].calls[0][1] == "usage-transactions/UT%3A1.a/bill-usage"


def test_a_409_is_an_earlier_delivery_and_another_4xx_a_refusal_raised_for_the_relay_to_keep(target: list[StandIn]) -> None:
    change = {"changeId": "C-1", "servicePointId": "SP-1", "billCycle": "BC02", "effectiveDate": "2026-12-01"}
    target.append(StandIn(TargetRejected(409, "C-1 was already taken")))
    assert billing_relays.notify_bill_cycle_change(message("MD-20", "C-1", change)) == {"delivered": "CCB", "duplicate": True}
    target[0] = StandIn(TargetRejected(422, "unknown service point"))
    # the relay moves the refused event to its dead-letter queue (platform.relay; tested over the queues)
    with pytest.raises(TargetRejected) as refused:
        billing_relays.notify_bill_cycle_change(message("MD-20", "C-1", change))
    assert (refused.value.status, refused.value.reason) == (422, "unknown service point")


def test_a_target_down_raises_so_the_queue_redelivers(target: list[StandIn]) -> None:
    target.append(StandIn(TargetUnavailable("CCB answered 503")))
    with pytest.raises(TargetUnavailable):
        billing_relays.request_off_cycle_bill(message("MD-13", "RR-1", READS))
