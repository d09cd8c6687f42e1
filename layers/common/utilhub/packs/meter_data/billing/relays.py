"""The meter data points that relay one application's billing event to the other (the platform's relay):

- MD-13 replacement reads: MDM changed determinants it had sent; CCB receives an off-cycle bill generation
  request, once per notification (CCB answers MDM nothing; MDM gets the hub's 202 only);
- MD-16 usage transaction info update: a bill completed or a segment frozen (used on bill) or canceled
  (not used on bill) in CCB; MDM receives the flag for the usage transaction, once per event, a transaction's
  events in the order CCB gave them (their own FIFO queue, one message group per usage transaction);
- MD-20 bill cycle change: MDM changed a service point's bill cycle relationship; CCB receives it once.

A target that is down (5xx, 429, no answer) leaves the event to the queue, which redelivers it and after
its last try keeps it in the dead-letter queue. A target's refusal of a duplicate (409) means an earlier
delivery got there. Any other refusal (4xx) is a business answer: retrying will not change it, so it is
recorded as the event's outcome (kept under the event's idempotency key, logged, counted as the
``RelayRefused`` metric an alarm watches) and the event is not retried into the DLQ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from utilhub.packs.meter_data.billing.events import (
    BILL_EVENTS_USED_ON_BILL,
    BillCycleChangeIn,
    BillStatusIn,
    OffCycleBillRequest,
    ReplacementReadsIn,
    UsedOnBillUpdate,
)
from utilhub.packs.meter_data.wiring import connector_for
from utilhub.platform import relay
from utilhub.platform.budget import JSON
from utilhub.platform.connectors import TargetRejected
from utilhub.platform.settings import get_settings

REPLACEMENT_READS = "MD-13"
BILL_STATUS = "MD-16"
BILL_CYCLE_CHANGE = "MD-20"


def _queue() -> str:
    return get_settings().meter_data.require("meter_data_relay_queue_url")


def accept_replacement_reads(notification: ReplacementReadsIn) -> dict[str, Any]:
    relay.accept(REPLACEMENT_READS, notification.notificationId, notification.model_dump(mode="json"), _queue())
    return {"notificationId": notification.notificationId, "status": "ACCEPTED"}


def bill_status_update(usage_transaction_id: str, status: BillStatusIn) -> UsedOnBillUpdate:
    """MD-16's update for MDM of CCB's bill status event ``status`` of the usage transaction ``usage_transaction_id``."""
    return UsedOnBillUpdate(
        eventId=status.eventId,
        usageTransactionId=usage_transaction_id,
        usedOnBill=BILL_EVENTS_USED_ON_BILL[status.event],
        event=status.event,
        at=status.at,
        billId=status.billId,
        billSegmentId=status.billSegmentId,
    )


def bill_status_event_id(usage_transaction_id: str, status: BillStatusIn) -> str:
    """The relay's id of a bill status event: one CCB event id names one usage transaction's update."""
    return f"{usage_transaction_id}#{status.eventId}"


def accept_bill_status(usage_transaction_id: str, status: BillStatusIn) -> dict[str, Any]:
    update = bill_status_update(usage_transaction_id, status)
    # keyed on the usage transaction and the event; a transaction's events reach MDM one at a time in the order CCB
    # gave them (FIFO, group = usage transaction), so a redelivered "completed" can never land after a later "canceled"
    relay.accept(
        BILL_STATUS,
        bill_status_event_id(usage_transaction_id, status),
        update.model_dump(mode="json"),
        get_settings().meter_data.require("meter_data_bill_status_queue_url"),
        group=usage_transaction_id,
    )
    return {"usageTransactionId": usage_transaction_id, "eventId": status.eventId, "usedOnBill": update.usedOnBill, "status": "ACCEPTED"}


def accept_bill_cycle_change(change: BillCycleChangeIn) -> dict[str, Any]:
    relay.accept(BILL_CYCLE_CHANGE, change.changeId, change.model_dump(mode="json"), _queue())
    return {"changeId": change.changeId, "status": "ACCEPTED"}


def _post_once(system: Literal["CCB", "MDM"], path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST ``body`` to ``system`` once: 409 is an earlier delivery that got there; another refusal raises
    (the relay keeps the event in its dead-letter queue for an operator)."""
    try:
        connector_for(system).request("POST", path, json.dumps(body).encode(), content_type=JSON)
    except TargetRejected as exc:
        if exc.status != 409:
            raise
        return {"delivered": system, "duplicate": True}
    return {"delivered": system}


def off_cycle_bill_request(message: relay.RelayMessage) -> dict[str, Any]:
    """What CCB receives for MD-13's relayed notification."""
    reads = ReplacementReadsIn.model_validate(message.payload)
    request = OffCycleBillRequest(
        requestId=reads.notificationId,
        saId=reads.saId,
        usageTransactionId=reads.usageTransactionId,
        periodStart=reads.periodStart,
        periodEnd=reads.periodEnd,
        reason=reads.reason,
    )
    return request.model_dump(mode="json", exclude_none=True)


def request_off_cycle_bill(message: relay.RelayMessage) -> Mapping[str, Any]:
    return _post_once("CCB", "off-cycle-bill-requests", off_cycle_bill_request(message))


def used_on_bill_update(message: relay.RelayMessage) -> tuple[str, dict[str, Any]]:
    """Where and what MDM receives for MD-16's relayed event."""
    update = UsedOnBillUpdate.model_validate(message.payload)
    path = f"usage-transactions/{quote(update.usageTransactionId, safe='')}/bill-usage"
    return path, update.model_dump(mode="json", exclude_none=True)


def update_used_on_bill(message: relay.RelayMessage) -> Mapping[str, Any]:
    path, body = used_on_bill_update(message)
    return _post_once("MDM", path, body)


def notify_bill_cycle_change(message: relay.RelayMessage) -> Mapping[str, Any]:
    change = BillCycleChangeIn.model_validate(message.payload)
    return _post_once("CCB", "bill-cycle-changes", change.model_dump(mode="json", exclude_none=True))


DELIVERERS: dict[str, relay.Deliverer] = {
    REPLACEMENT_READS: request_off_cycle_bill,
    BILL_STATUS: update_used_on_bill,
    BILL_CYCLE_CHANGE: notify_bill_cycle_change,
}


def deliver_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return relay.deliver_batch(event, context, DELIVERERS)
