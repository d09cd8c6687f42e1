"""FW-05 billing for field work, FW-10 customer information updates and FW-11 unbadged assets: accepted
with 202, queued, delivered once to their target through the platform's relay, retried while it is
down. The API and relay functions in-process, the simulators over HTTP."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from localhub.aws.throttling import AwsThrottling
from localhub.hub import LocalHub
from tests.conftest import sample_event
from tests.integration.callers import post_field_work as post
from utilhub.platform.relay import RETRY_LATER_SECONDS

API = "FieldWorkActivitiesFunction"
RELAY = "FieldWorkRelayFunction"


def sample_body(name: str) -> dict[str, Any]:
    return json.loads(sample_event(f"field_work/activities/{name}")["body"])  # type: ignore[no-any-return]


def ccb_operations(hub: LocalHub, operation: str) -> list[str]:
    return [m["id"] for m in hub.simulators["CCB"].received if m["operation"] == operation]


def test_a_billable_completion_sent_twice_is_billed_once_at_ccb(hub: LocalHub) -> None:
    # Given the sample ODM completion with two charges
    event = sample_event("field_work/activities/billing-charges.json")

    # When ODM sends it twice and the queue delivers
    first = hub.invoke(API, event).result
    second = hub.invoke(API, event).result
    hub.drain()

    # Then both are accepted, and CCB holds one set of charges for it
    assert (first["statusCode"], second["statusCode"]) == (202, 202)
    assert ccb_operations(hub, "billable-charges") == ["ODM-COMP-77"]
    assert hub.simulators["CCB"].records["CHARGES#ODM-COMP-77"]["charges"][1]["amount"] == 12.5


def test_a_notification_while_ccb_is_down_is_retried_by_the_queue(hub: LocalHub) -> None:
    # Given CCB down for the next call
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 1})

    # When an unbadged asset is notified and the queue delivers, then redelivers
    assert post(hub, "/field-work/unbadged-assets", sample_body("unbadged-assets.json")).status == 202
    hub.drain()
    hub.expire_visibility()
    hub.drain()

    # Then CCB has the item once
    assert ccb_operations(hub, "items") == ["ODM-UB-9"]


def test_customer_updates_reach_mwm_activities_still_open_at_the_service_point(hub: LocalHub) -> None:
    # Given two activities at SP-2001 linked in MWM, one of them completed since
    for activity_id in ("FA-OPEN", "FA-DONE"):
        body = {"sourceSystem": "CCB", "activityId": activity_id, "activityType": "CONNECT", "servicePointId": "SP-2001"}
        assert post(hub, "/field-work/activities", body).status == 202
    assert hub.settle(timeout=60) == []
    done = {"eventId": "E-DONE", "event": "COMPLETE", "at": "2026-12-01T08:00:00Z", "fromSystem": "MWM"}
    assert post(hub, "/field-work/activities/CCB/FA-DONE/events", done).status == 202
    hub.drain()

    # When CCB sends the customer's new details for the service point
    assert post(hub, "/field-work/customer-updates", sample_body("customer-updates.json")).status == 202
    hub.drain()

    # Then MWM's open activity has them, and the completed one does not
    mwm = hub.simulators["MWM"]
    open_record = mwm.records[f"ACTIVITY#{mwm.book.by_external_id['CCB:FA-OPEN']}"]  # type: ignore[attr-defined]
    done_record = mwm.records[f"ACTIVITY#{mwm.book.by_external_id['CCB:FA-DONE']}"]  # type: ignore[attr-defined]
    assert open_record["customer"] == {"name": "Marge Bouvier", "phone": "+1 217 555 0142"}
    assert "customer" not in done_record


def open_activity_in_mwm(hub: LocalHub, activity_id: str, service_point_id: str) -> dict[str, Any]:
    """An activity at the service point, linked in MWM: its record in the MWM simulator (a live view)."""
    body = {"sourceSystem": "CCB", "activityId": activity_id, "activityType": "CONNECT", "servicePointId": service_point_id}
    assert post(hub, "/field-work/activities", body).status == 202
    assert hub.settle(timeout=60) == []
    mwm = hub.simulators["MWM"]
    return mwm.records[f"ACTIVITY#{mwm.book.by_external_id[f'CCB:{activity_id}']}"]  # type: ignore[attr-defined]


def customer_update(update_id: str, changed_at: str, name: str, service_point_id: str = "SP-2101") -> dict[str, Any]:
    return {"updateId": update_id, "servicePointId": service_point_id, "changedAt": changed_at, "customer": {"name": name}}


def test_an_activity_whose_first_submission_stopped_after_its_record_still_gets_its_customer_updates(hub: LocalHub) -> None:
    # Given an activity whose first submission recorded it, then failed writing it under its service point
    # (DynamoDB's UpdateItem throttled past the SDK's retries), and that CCB sent again, as a source retries a 503
    body = {"sourceSystem": "CCB", "activityId": "FA-RETRY", "activityType": "CONNECT", "servicePointId": "SP-2201"}
    with AwsThrottling(1.0, services=frozenset({"dynamodb"}), operations=frozenset({"dynamodb.UpdateItem"})):
        assert post(hub, "/field-work/activities", body).status == 503
    assert post(hub, "/field-work/activities", body).status == 202
    assert hub.settle(timeout=60) == []
    mwm = hub.simulators["MWM"]
    record = mwm.records[f"ACTIVITY#{mwm.book.by_external_id['CCB:FA-RETRY']}"]  # type: ignore[attr-defined]

    # When CCB sends the customer's new details for the service point
    assert post(hub, "/field-work/customer-updates", customer_update("CU-RETRY", "2026-12-01T10:00:00Z", "Ned", "SP-2201")).status == 202
    hub.drain()

    # Then MWM's open activity has them
    assert record["customer"]["name"] == "Ned"
    assert [e["eventId"] for e in record["events"]] == ["FW-10-CU-RETRY"]


def test_an_older_customer_update_arriving_after_a_newer_one_is_not_applied(hub: LocalHub) -> None:
    # Given an open activity at SP-2101 linked in MWM
    record = open_activity_in_mwm(hub, "FA-ORDER-1", "SP-2101")

    # When CCB's newer update reaches the hub first, then the older one
    assert post(hub, "/field-work/customer-updates", customer_update("CU-NEW", "2026-12-01T10:00:00Z", "Marge Simpson")).status == 202
    hub.drain()
    assert post(hub, "/field-work/customer-updates", customer_update("CU-OLD", "2026-12-01T09:00:00Z", "Marge Bouvier")).status == 202
    hub.drain()

    # Then MWM keeps the newer details, and received the older update never
    assert record["customer"]["name"] == "Marge Simpson"
    assert [e["eventId"] for e in record["events"]] == ["FW-10-CU-NEW"]


def test_a_customer_update_redelivered_after_a_newer_one_got_through_is_not_applied(hub: LocalHub) -> None:
    # Given an open activity at SP-2102, and MWM down for the next call
    record = open_activity_in_mwm(hub, "FA-ORDER-2", "SP-2102")
    hub.simulators["MWM"].add_fault({"kind": "down", "count": 1})

    # When the older update fails, the newer one gets through, and the queue hands the older one over again
    older = customer_update("CU-1", "2026-12-01T09:00:00Z", "Edna Krabappel", "SP-2102")
    assert post(hub, "/field-work/customer-updates", older).status == 202
    hub.drain()
    newer = customer_update("CU-2", "2026-12-01T11:00:00Z", "Edna Flanders", "SP-2102")
    assert post(hub, "/field-work/customer-updates", newer).status == 202
    hub.drain()
    hub.expire_visibility()
    hub.drain()

    # Then MWM ends with the newer details, the older one skipped (nothing left on the queue)
    assert record["customer"]["name"] == "Edna Flanders"
    assert [e["eventId"] for e in record["events"]] == ["FW-10-CU-2"]
    assert hub.drain() == 0


def test_a_customer_update_waits_while_another_of_its_service_point_is_delivered(hub: LocalHub) -> None:
    import boto3

    from utilhub.packs.field_work.customer_updates import CustomerUpdateOrder, ServicePointBusy
    from utilhub.packs.field_work.model import CustomerInformationIn

    # Given an update of SP-2103 held by a delivery still running (its claim taken)
    record = open_activity_in_mwm(hub, "FA-ORDER-3", "SP-2103")
    order = CustomerUpdateOrder(boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"]))
    running = CustomerInformationIn.model_validate(customer_update("CU-RUN", "2026-12-01T09:00:00Z", "Ned", "SP-2103"))
    assert order.claim(running) is None

    # When another update of the service point is delivered meanwhile
    assert post(hub, "/field-work/customer-updates", customer_update("CU-WAIT", "2026-12-01T10:00:00Z", "Maude", "SP-2103")).status == 202
    hub.drain()

    # Then it is not forwarded while the claim is held, and the queue hands it over again in 10 s (the first of the
    # relay's backoffs), not after the queue's visibility timeout (360 s)
    assert "customer" not in record
    assert [round(s) for s in relay_queue_invisible_for(hub)] == [RETRY_LATER_SECONDS[0]]
    # a second claim is refused, and the update goes once the claim is given back
    with pytest.raises(ServicePointBusy):
        order.claim(CustomerInformationIn.model_validate(customer_update("CU-X", "2026-12-01T10:30:00Z", "Rod", "SP-2103")))
    order.release(running, applied=False)
    hub.expire_visibility()
    hub.drain()
    assert record["customer"]["name"] == "Maude"


def relay_queue_invisible_for(hub: LocalHub) -> list[float]:
    """How many seconds each message of the field work relay queue has left before it is visible again."""
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import sqs_backends

    queue_name = hub.resources()["FieldWorkRelayQueue"].rsplit("/", 1)[-1]
    queue = sqs_backends["123456789012"]["eu-west-1"].queues[queue_name]
    now = unix_time_millis()
    return [(m.visible_at - now) / 1000 for m in queue._messages if m.visible_at > now]


def test_bad_notifications_are_422(hub: LocalHub) -> None:
    # Given a completion without charges, a negative amount, and an unbadged asset with a bad type
    no_charges = {**sample_body("billing-charges.json"), "charges": []}
    negative = {**sample_body("billing-charges.json"), "charges": [{"chargeType": "X", "amount": -5, "currency": "USD"}]}
    bad_type = {**sample_body("unbadged-assets.json"), "assetType": "ct enclosure"}

    # When each is posted
    answers = [
        post(hub, "/field-work/billing-charges", no_charges),
        post(hub, "/field-work/billing-charges", negative),
        post(hub, "/field-work/unbadged-assets", bad_type),
    ]

    # Then each is a 422 pointing at the field
    assert [a.status for a in answers] == [422, 422, 422]
    assert [a.json()["errors"][0]["pointer"] for a in answers] == ["#/charges", "#/charges/0/amount", "#/assetType"]


def test_unbadged_assets_are_refused_under_v1_9(aws_endpoint: str) -> None:
    from localhub.aws.endpoint import reset

    reset(aws_endpoint)
    hub = LocalHub(parameters={"FieldWorkModel": "v1.9"}).start()
    try:
        response = post(hub, "/field-work/unbadged-assets", sample_body("unbadged-assets.json"))
        assert response.status == 422
        assert "UTILHUB_FIELD_WORK_MODEL" in response.json()["detail"]
    finally:
        assert hub.stop() == []


def test_relay_sample_batch_delivered_twice_reaches_ccb_once(hub: LocalHub) -> None:
    # Given the relay's sample batch (a billable completion and an unbadged asset)
    batch = sample_event("field_work/notifications/sqs.json")

    # When it is delivered twice (the queue may redeliver)
    first = hub.invoke(RELAY, batch).result
    second = hub.invoke(RELAY, batch).result

    # Then no record fails, and CCB got each once
    assert first == second == {"batchItemFailures": []}
    assert ccb_operations(hub, "billable-charges") == ["ODM-COMP-77"]
    assert ccb_operations(hub, "items") == ["ODM-UB-9"]


def test_redelivering_now_passes_over_a_failed_message_no_longer_in_flight(hub: LocalHub) -> None:
    # Given a notification that failed while CCB was down (its receipt kept for an early redelivery)
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 1})
    assert post(hub, "/field-work/unbadged-assets", sample_body("unbadged-assets.json")).status == 202
    hub.drain()
    # ...and since then received again and its receipt replaced, as SQS does once its visibility timeout ends
    # (here: the queue purged, so the kept receipt names a message that is no longer there)
    boto3.client("sqs").purge_queue(QueueUrl=hub.resources()["FieldWorkRelayQueue"])

    # When every failed message is made visible at once
    made_visible = hub.expire_visibility()

    # Then the stale receipt is passed over (not an error that stops the caller), and nothing is made visible
    assert made_visible == 0
