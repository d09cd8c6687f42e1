"""The field work points that relay one system's notification to another (the platform's relay):

- FW-05 billing for field work: a WAM/ODM completion with charges becomes CCB billable charges, once
  per completion;
- FW-10 customer information updates: a customer's new details in CCB reach MWM's activities at the
  service point that are still open (looked up when the update is delivered), newest last: an update
  changed no later than one already applied is skipped, and one service point's updates are delivered
  one at a time (:mod:`utilhub.packs.field_work.customer_updates`);
- FW-11 unbadged assets (implementation model v2.1 only): an asset ODM recorded without a badge number
  becomes a CCB item, once per notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from utilhub.packs.field_work.model import ActivityEventIn, BillableCompletionIn, CustomerInformationIn, UnbadgedAssetIn
from utilhub.packs.field_work.wiring import activity_store, client_for, connector_for, customer_update_order
from utilhub.platform import problems, relay
from utilhub.platform.connectors import TargetRejected
from utilhub.platform.settings import get_settings

JSON = "application/json"


def _queue() -> str:
    return get_settings().field_work.require("field_work_relay_queue_url")


def accept_billable_completion(completion: BillableCompletionIn) -> dict[str, Any]:
    relay.accept("FW-05", completion.completionId, completion.model_dump(mode="json"), _queue())
    return {"completionId": completion.completionId, "status": "ACCEPTED"}


def accept_customer_update(update: CustomerInformationIn) -> dict[str, Any]:
    relay.accept("FW-10", update.updateId, update.model_dump(mode="json"), _queue())
    return {"updateId": update.updateId, "status": "ACCEPTED"}


def accept_unbadged_asset(asset: UnbadgedAssetIn) -> dict[str, Any]:
    model = get_settings().field_work.field_work_model
    if model != "v2.1":
        reason = f"Unbadged assets come from ODM, under implementation model v2.1; this hub runs {model} (UTILHUB_FIELD_WORK_MODEL)."
        raise problems.invalid(reason, [problems.FieldError("#/notificationId", reason)])
    relay.accept("FW-11", asset.notificationId, asset.model_dump(mode="json"), _queue())
    return {"notificationId": asset.notificationId, "status": "ACCEPTED"}


def _post_once(system: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """POST to ``system``; its refusal of a duplicate (409) means an earlier delivery got there."""
    import json

    try:
        connector_for(system).request("POST", path, json.dumps(body).encode(), content_type=JSON)
    except TargetRejected as exc:
        if exc.status != 409:
            raise
        return {"delivered": system, "duplicate": True}
    return {"delivered": system}


def bill_completion(message: relay.RelayMessage) -> Mapping[str, Any]:
    completion = BillableCompletionIn.model_validate(message.payload)
    return _post_once("CCB", "billable-charges", completion.model_dump(mode="json"))


def forward_customer_update(message: relay.RelayMessage) -> Mapping[str, Any]:
    update = CustomerInformationIn.model_validate(message.payload)
    order = customer_update_order()
    if (stale := order.claim(update)) is not None:  # raises ServicePointBusy: the queue hands it over again later
        return {"forwardedTo": [], "skipped": stale}
    forwarded = []
    try:
        for record in activity_store().at_service_point(update.servicePointId):
            if record.status == "LINKED" and "MWM" in record.links:  # only activities still open
                event = ActivityEventIn(
                    eventId=f"FW-10-{update.updateId}",
                    event="UPDATE",
                    at=update.changedAt,
                    fromSystem="CCB",
                    changes={"customer": update.customer.model_dump()},
                )
                client_for("MWM").send_event(record.links["MWM"], event)
                forwarded.append(record.links["MWM"])
    except BaseException:
        order.release(update, applied=False)  # the next update of the service point need not wait for the lease
        raise
    order.release(update, applied=True)
    return {"forwardedTo": forwarded}


def create_item(message: relay.RelayMessage) -> Mapping[str, Any]:
    asset = UnbadgedAssetIn.model_validate(message.payload)
    return _post_once("CCB", "items", asset.model_dump(mode="json"))


DELIVERERS: dict[str, relay.Deliverer] = {"FW-05": bill_completion, "FW-10": forward_customer_update, "FW-11": create_item}


def deliver_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return relay.deliver_batch(event, context, DELIVERERS)
