"""FW-06 service point sync, CCB -> WAM (v1.9) / ODM (v2.1), through the real handlers, moto and the
field system simulators: the API function for intake and queries, the monitor on its schedule, the
delivery function on its queue. Statuses, resubmission and the status query are the engine's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from localhub.aws.endpoint import reset
from localhub.hub import ApiResponse, LocalHub
from localhub.simulators.field import FieldSystemSimulator
from tests.conftest import sample_event
from tests.helpers import JSON, post_json

API = "FieldWorkSpSyncRequestsFunction"
MONITOR = "FieldWorkSpSyncMonitorFunction"
DELIVERY = "FieldWorkSpSyncDeliveryFunction"
COLLECTION = "/field-work/sync-requests"


def service_point(
    sync_request_id: str, entity_id: str = "SP-0101", sp_type: str = "E-RES", changed: str = "2026-11-20T09:00:00Z", **data: Any
) -> dict[str, Any]:
    return {
        "syncRequestId": sync_request_id,
        "entityType": "SERVICE_POINT",
        "entityId": entity_id,
        "changedAt": changed,
        "data": {"premiseId": "PR-0101", "spType": sp_type, **data},
    }


def submit(hub: LocalHub, body: dict[str, Any] | str, claims: dict[str, Any] | None = None) -> ApiResponse:
    return post_json(hub, COLLECTION, body, claims or hub.claims_of("CCB"))


def status_of(hub: LocalHub, sync_request_id: str) -> dict[str, Any]:
    response = hub.call_api("GET", f"{COLLECTION}/{sync_request_id}", claims=hub.claims_of("CCB"))
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def odm(hub: LocalHub) -> FieldSystemSimulator:
    simulator = hub.simulators["ODM"]
    assert isinstance(simulator, FieldSystemSimulator)
    return simulator


def cycle(hub: LocalHub) -> dict[str, int]:
    """One monitor run, then delivery until the queue is empty."""
    run = hub.run_schedule(MONITOR)
    assert not run.failed, run.error
    hub.drain()
    return run.result  # type: ignore[no-any-return]


@pytest.fixture
def v19_hub(aws_endpoint: str) -> Iterator[LocalHub]:
    reset(aws_endpoint)
    hub = LocalHub(parameters={"FieldWorkModel": "v1.9"}).start()
    yield hub
    assert hub.stop() == []


# ---------------------------------------------------------------------------- both implementation models


def test_sample_request_reaches_odm_under_v2_1_and_is_cross_referenced(hub: LocalHub) -> None:
    # Given CCB posts the sample service point sync request (default model v2.1)
    response = hub.invoke(API, sample_event("field_work/sp_sync_requests/submit.json")).result
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"]) == {"syncRequestId": "FW6-1001", "status": "PENDING"}

    # When the delivery queue is drained (its service point free, it was queued at its intake: the monitor queues nothing)
    assert cycle(hub)["queued"] == 0

    # Then the request is SYNCHRONIZED (the engine's status query, from the sample event) ...
    body = json.loads(hub.invoke(API, sample_event("field_work/sp_sync_requests/query.json")).result["body"])
    assert body["status"] == "SYNCHRONIZED", body
    assert [h["status"] for h in body["history"]] == ["PENDING", "SENT", "SYNCHRONIZED"]
    # ... ODM keeps the service point under its own id and code, WAM got nothing
    record = hub.simulators["ODM"].records["SERVICE_POINT#SP-0001"]
    assert record["id"].startswith("OSP-")
    assert record["image"]["servicePointType"] == "ELECTRIC_RESIDENTIAL"
    assert record["image"]["address"]["city"] == "London"
    assert record["image"]["latitude"] == 51.5362
    assert body["history"][-1]["reason"] == f"acknowledged by ODM as {record['id']}"
    assert hub.simulators["WAM"].received_total == 0
    # ... and CCB's service point is cross-referenced to ODM's
    xref = boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"])
    assert xref.get_item(Key={"pk": "SERVICE_POINT#CCB#SP-0001"})["Item"]["link_ODM"] == record["id"]


def test_under_v1_9_the_service_point_goes_to_wam_in_wam_codes(v19_hub: LocalHub) -> None:
    # Given the hub under implementation model v1.9
    # When CCB posts a service point sync request and it is worked
    assert submit(v19_hub, service_point("FW6-V19", sp_type="g-com")).status == 202
    cycle(v19_hub)

    # Then WAM keeps it (SP type translated to WAM's code, case-insensitively from CCB's), ODM got nothing
    state = status_of(v19_hub, "FW6-V19")
    assert state["status"] == "SYNCHRONIZED", state
    record = v19_hub.simulators["WAM"].records["SERVICE_POINT#SP-0101"]
    assert record["id"].startswith("WSP-")
    assert record["image"]["servicePointType"] == "GAS-COM"
    assert state["history"][-1]["reason"] == f"acknowledged by WAM as {record['id']}"
    assert v19_hub.simulators["ODM"].received_total == 0


def test_ccb_xml_service_point_is_validated_and_synchronized(hub: LocalHub) -> None:
    # Given CCB's XML sync request (the sample), the format MD-01 takes too
    response = hub.invoke(API, sample_event("field_work/sp_sync_requests/submit-xml.json")).result
    assert response["statusCode"] == 202, response

    # When it is worked
    cycle(hub)

    # Then ODM holds it, read from the XML
    assert status_of(hub, "FW6-1002")["status"] == "SYNCHRONIZED"
    image = hub.simulators["ODM"].records["SERVICE_POINT#SP-0002"]["image"]
    assert image["premiseId"] == "PR-0002"
    assert image["servicePointType"] == "GAS_RESIDENTIAL"
    assert image["address"] == {"line1": "1 Navy Yard", "city": "Arlington", "state": "VA", "postalCode": "22202", "country": "US"}


def test_batch_sample_stores_each_request_once_and_both_are_synchronized(hub: LocalHub) -> None:
    response = hub.invoke(API, sample_event("field_work/sp_sync_requests/submit-batch.json")).result
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"])["accepted"] == 2
    cycle(hub)
    assert status_of(hub, "FW6-2001")["status"] == status_of(hub, "FW6-2002")["status"] == "SYNCHRONIZED"
    assert {k for k in hub.simulators["ODM"].records if k.startswith("SERVICE_POINT#")} == {
        "SERVICE_POINT#SP-0003",
        "SERVICE_POINT#SP-0004",
    }


# ---------------------------------------------------------------------------- duplicates and changes


def test_the_same_request_twice_creates_nothing_new_and_reaches_odm_once(hub: LocalHub) -> None:
    # Given CCB posts the same sync request twice
    first, second = submit(hub, service_point("FW6-D1")), submit(hub, service_point("FW6-D1"))
    assert first.status == second.status == 202
    assert second.json() == {"syncRequestId": "FW6-D1", "status": "SENT"}  # the first went at its intake
    # When it is worked
    assert cycle(hub)["queued"] == 0
    # Then ODM applied it once
    assert odm(hub).service_points.applied == {"FW6-D1": 1}
    # And other content under the same id is a 409
    assert submit(hub, service_point("FW6-D1", sp_type="W-RES")).status == 409


def test_a_redelivered_message_does_not_reach_odm_twice(hub: LocalHub) -> None:
    # Given a request claimed by the monitor and queued
    submit(hub, service_point("FW6-R1"))
    hub.run_schedule(MONITOR)
    sqs = boto3.client("sqs")
    message = sqs.receive_message(QueueUrl=hub.resources()["FieldWorkSpSyncDeliveryQueue"], MessageSystemAttributeNames=["All"])[
        "Messages"
    ][0]
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }
    # When the same record is delivered twice (an SQS duplicate)
    for _ in range(2):
        assert hub.invoke(DELIVERY, {"Records": [record]}).result == {"batchItemFailures": []}
    # Then ODM received it once and the request is SYNCHRONIZED
    assert hub.simulators["ODM"].received_total == 1
    assert status_of(hub, "FW6-R1")["status"] == "SYNCHRONIZED"


def test_a_changed_service_point_is_updated_and_an_unchanged_one_discarded(hub: LocalHub) -> None:
    # Given a service point synchronized once
    submit(hub, service_point("FW6-U1"))
    cycle(hub)
    created = dict(hub.simulators["ODM"].records["SERVICE_POINT#SP-0101"])

    # When CCB sends it changed, then the same image again under a new request
    submit(hub, service_point("FW6-U2", changed="2026-11-21T09:00:00Z", timeZone="Europe/Paris"))
    cycle(hub)
    submit(hub, service_point("FW6-U3", changed="2026-11-22T09:00:00Z", timeZone="Europe/Paris"))
    cycle(hub)

    # Then ODM updated the one record it keeps, and the unchanged image never left the hub
    updated = hub.simulators["ODM"].records["SERVICE_POINT#SP-0101"]
    assert updated["id"] == created["id"]
    assert (created["version"], updated["version"]) == (1, 2)
    assert updated["image"]["timeZone"] == "Europe/Paris"
    assert status_of(hub, "FW6-U2")["status"] == "SYNCHRONIZED"
    assert status_of(hub, "FW6-U3")["status"] == "DISCARDED"
    assert odm(hub).service_points.applied == {"FW6-U1": 1, "FW6-U2": 1}
    assert odm(hub).service_points.older_images == 0


# ---------------------------------------------------------------------------- faults, resubmission, acknowledgements


def test_odm_down_is_retried_by_the_queue_and_nothing_is_lost(hub: LocalHub) -> None:
    # Given ODM is down for two calls
    hub.simulators["ODM"].add_fault({"kind": "down", "count": 2})
    submit(hub, service_point("FW6-F1"))
    # When the request is worked, then redelivered after each failure
    cycle(hub)
    assert status_of(hub, "FW6-F1")["status"] == "SENT"  # delivery failed, the message comes back later
    for _ in range(2):
        hub.expire_visibility()
        hub.drain()
    # Then it is SYNCHRONIZED and ODM holds one record of it
    assert status_of(hub, "FW6-F1")["status"] == "SYNCHRONIZED"
    assert odm(hub).service_points.applied == {"FW6-F1": 1}


def test_a_message_that_never_gets_through_ends_in_the_dlq(hub: LocalHub) -> None:
    hub.simulators["ODM"].add_fault({"kind": "down", "count": 50})
    submit(hub, service_point("FW6-F2"))
    cycle(hub)
    for _ in range(6):
        hub.expire_visibility()
        hub.drain()
    dlq = hub.resources()["FieldWorkSpSyncDeadLetterQueue"]
    messages = boto3.client("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["syncRequestId"] for m in messages] == ["FW6-F2"]


def test_a_refusal_ends_in_error_and_resubmission_synchronizes_it(hub: LocalHub) -> None:
    # Given ODM refuses the first delivery
    hub.simulators["ODM"].add_fault({"kind": "reject", "count": 1, "reason": "service point locked in ODM"})
    submit(hub, service_point("FW6-E1"))
    cycle(hub)
    state = status_of(hub, "FW6-E1")
    assert state["status"] == "ERROR"
    assert state["history"][-1]["reason"] == "service point locked in ODM"

    # When CCB resubmits it (the engine's route, from the sample event)
    submit(hub, service_point("FW6-1001", entity_id="SP-0102"))  # the id the sample names, refused too
    hub.simulators["ODM"].add_fault({"kind": "reject", "count": 1})
    cycle(hub)
    resubmitted = hub.invoke(API, sample_event("field_work/sp_sync_requests/resubmit.json")).result
    assert json.loads(resubmitted["body"]) == {"syncRequestId": "FW6-1001", "status": "PENDING"}
    response = hub.call_api("POST", f"{COLLECTION}/FW6-E1/resubmission", claims=hub.claims_of("CCB"))
    assert response.json() == {"syncRequestId": "FW6-E1", "status": "PENDING"}
    cycle(hub)

    # Then both are SYNCHRONIZED, the history telling the whole story
    assert [h["status"] for h in status_of(hub, "FW6-E1")["history"]] == ["PENDING", "SENT", "ERROR", "PENDING", "SENT", "SYNCHRONIZED"]
    assert status_of(hub, "FW6-1001")["status"] == "SYNCHRONIZED"
    # And a request not in ERROR cannot be resubmitted
    assert hub.call_api("POST", f"{COLLECTION}/FW6-E1/resubmission", claims=hub.claims_of("CCB")).status == 409


def test_a_later_acknowledgement_from_odm_needs_the_ack_scope(hub: LocalHub) -> None:
    # Given ODM accepts the request with its answer to follow
    hub.simulators["ODM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, service_point("FW6-1001"))
    cycle(hub)
    assert status_of(hub, "FW6-1001")["status"] == "SENT"
    ack = json.dumps({"result": "POSITIVE", "targetId": "OSP-900001"})
    # When CCB's token tries to acknowledge its own request: refused
    assert hub.call_api("POST", f"{COLLECTION}/FW6-1001/acknowledgement", body=ack, headers=JSON, claims=hub.claims_of("CCB")).status == 403
    # When ODM acknowledges (the sample event carries the ack scope)
    response = hub.invoke(API, sample_event("field_work/sp_sync_requests/acknowledge.json")).result
    # Then the request is SYNCHRONIZED
    assert json.loads(response["body"]) == {"syncRequestId": "FW6-1001", "status": "SYNCHRONIZED"}
    late = hub.call_api("POST", f"{COLLECTION}/FW6-1001/acknowledgement", body=ack, headers=JSON, claims=hub.claims_of("ODM"))
    assert late.json()["status"] == "SYNCHRONIZED"


def test_a_code_odm_does_not_know_ends_in_error_not_in_retries(hub: LocalHub) -> None:
    from utilhub.platform import aws

    # Given this deployment's map override sends CCB's E-RES to a code ODM does not have
    override = {
        "ServicePointType": {
            "columns": ["COMMON", "CCB", "WAM", "ODM"],
            "rows": [{"COMMON": "ELECTRIC-RESIDENTIAL", "CCB": "E-RES", "WAM": "ELEC-RES", "ODM": "ELECTRIC_HOUSE"}],
        }
    }
    ssm = boto3.client("ssm")
    name = hub.resources()["DomainValueMapsParameter"]
    ssm.put_parameter(Name=name, Value=json.dumps(override), Type="String", Overwrite=True)
    aws.clear_parameter_caches()  # the functions' cache of the parameter (max age 300 s) starts afresh
    try:
        # When CCB posts an E-RES service point and it is worked
        assert submit(hub, service_point("FW6-K1")).status == 202
        cycle(hub)
        # Then ODM refused it (422) and the request is in ERROR with ODM's status (never its message: it repeats the value), not retried
        state = status_of(hub, "FW6-K1")
        assert state["status"] == "ERROR", state
        assert state["history"][-1]["reason"] == "ODM refused the message (422): HTTP 422"
        assert "ELECTRIC_HOUSE" not in json.dumps(state)
        assert "SERVICE_POINT#SP-0101" not in hub.simulators["ODM"].records
        assert hub.drain() == 0
        # And a CCB type the overriding map no longer has is refused at intake
        assert submit(hub, service_point("FW6-K2", sp_type="G-RES")).status == 422
    finally:
        ssm.put_parameter(Name=name, Value="{}", Type="String", Overwrite=True)
        aws.clear_parameter_caches()


# ---------------------------------------------------------------------------- bad requests


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({**service_point("FW6-B1"), "data": {"spType": "E-RES"}}, "#/data/premiseId"),
        (service_point("FW6-B2", sp_type="X-UNKNOWN"), "#/data/spType"),
        ({**service_point("FW6-B3"), "entityType": "PERSON"}, "#/entityType"),
        ({**service_point("FW6-B4"), "changedAt": "yesterday"}, "#/changedAt"),
        ({**service_point("FW6-B5"), "data": {"premiseId": "PR-1", "spType": "E-RES", "latitude": 91}}, "#/data/latitude"),
        # ODM takes JSON, yet no control character reaches it: NUL, ESC, CR are refused as on every route
        (service_point("FW6-B6", timeZone="Europe/Paris\u0000"), "#/data/timeZone"),
        (service_point("FW6-B7", address={"line1": "1 Grid Lane\u001b[2J"}), "#/data/address/line1"),
        (service_point("FW6-B8", billCycle="BC\r01"), "#/data/billCycle"),
        # what ODM would refuse is refused at intake, not sent to end in ERROR: half a location
        (service_point("FW6-B9", latitude=48.85), "#/data"),
    ],
)
def test_a_bad_request_is_a_422_naming_the_field_and_nothing_is_stored(hub: LocalHub, body: dict[str, Any], pointer: str) -> None:
    # When CCB posts a request that breaks the contract
    response = submit(hub, body)
    # Then it is a 422 problem pointing at the field
    assert response.status == 422, response.body
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    # And nothing was stored: the status query does not know it
    assert hub.call_api("GET", f"{COLLECTION}/{body['syncRequestId']}", claims=hub.claims_of("CCB")).status == 404


def test_xml_of_an_entity_type_this_flow_does_not_sync_is_422(hub: LocalHub) -> None:
    xml = (
        '<SyncRequest xmlns="urn:utilhub:ccb:sync-request:v1"><SyncRequestId>FW6-X1</SyncRequestId>'
        "<EntityType>PERSON</EntityType><EntityId>P-1</EntityId><ChangedAt>2026-11-20T09:00:00Z</ChangedAt>"
        "<Person><Name>Ada Lovelace</Name></Person></SyncRequest>"
    )
    response = hub.call_api("POST", COLLECTION, body=xml, headers={"content-type": "application/xml"}, claims=hub.claims_of("CCB"))
    assert response.status == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["#/entityType"]


def test_unknown_request_is_404_and_tokens_need_the_field_work_scope(hub: LocalHub) -> None:
    assert hub.call_api("GET", f"{COLLECTION}/FW6-NONE", claims=hub.claims_of("CCB")).status == 404
    meter_data = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
    assert submit(hub, service_point("FW6-S1"), claims=meter_data).status == 403
    assert hub.call_api("POST", COLLECTION, body=json.dumps(service_point("FW6-S2")), headers=JSON, claims=None).status == 401
