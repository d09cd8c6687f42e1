"""MD-01 person sync, CCB -> MDM, through the real handlers, moto and the MDM simulator.

Each test drives the hub as API Gateway, EventBridge and the SQS poller would: the API
function for intake and queries, the monitor on its schedule, the delivery function on
its queue. The MDM simulator validates every message against the MDM XSD.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from localhub.hub import ApiResponse, LocalHub
from tests.conftest import sample_event
from tests.helpers import JSON as JSON  # re-exported: the monitor's tests import it from here
from tests.helpers import post_json
from utilhub.platform import wiring

API = "MeterDataSyncRequestsFunction"
MONITOR = "MeterDataSyncMonitorFunction"
CLAIMS = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
MDM_CLAIMS = {"client_id": "mdm", "scope": "utilhub/meter-data-ack", "token_use": "access"}


def person(
    sync_request_id: str, entity_id: str = "P-1", name: str = "Ada Lovelace", changed: str = "2026-11-20T09:00:00Z", **data: Any
) -> dict[str, Any]:
    return {
        "syncRequestId": sync_request_id,
        "entityType": "PERSON",
        "entityId": entity_id,
        "changedAt": changed,
        "data": {"name": name, **data},
    }


def submit(
    hub: LocalHub, body: dict[str, Any] | str, headers: dict[str, str] | None = None, claims: dict[str, Any] | None = CLAIMS
) -> ApiResponse:
    return post_json(hub, "/meter-data/sync-requests", body, claims, headers)


def status_of(hub: LocalHub, sync_request_id: str) -> dict[str, Any]:
    response = hub.call_api("GET", f"/meter-data/sync-requests/{sync_request_id}", claims=CLAIMS)
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def cycle(hub: LocalHub) -> dict[str, int]:
    """One monitor run, then delivery until the queue is empty."""
    run = hub.run_schedule(MONITOR)
    assert not run.failed, run.error
    hub.drain()
    return run.result  # type: ignore[no-any-return]


def run_monitor_after_the_ack_timeout(hub: LocalHub) -> Any:
    """The monitor, run as if the first acknowledgement window had passed for everything SENT now (at its first
    attempt: :class:`~utilhub.syncrequests.lifecycle.AckTimeouts`)."""
    from localhub.lambda_.runtime import function_environment
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.wiring import monitor_for, store_for

    spec = hub.function(MONITOR)
    with function_environment(spec.environment):
        wiring.reset()
        monitor = monitor_for(FLOW)
        window = store_for(FLOW).timeouts.first
        monitor._now = lambda: datetime.now(UTC) + window + timedelta(seconds=1)
        report = monitor.run()
    wiring.reset()
    return report


# ---------------------------------------------------------------------------- the happy path


def test_person_from_sample_event_is_synchronized_end_to_end(hub: LocalHub) -> None:
    # Given CCB posts the sample person sync request
    response = hub.invoke(API, sample_event("meter_data/sync_requests/submit-person.json")).result
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"]) == {"syncRequestId": "SR-1001", "status": "PENDING"}
    # When the delivery queue is drained (its person free, it was queued at its intake: the monitor queues nothing)
    assert cycle(hub)["queued"] == 0
    # Then the request is SYNCHRONIZED with its history, and MDM has the contact
    body = json.loads(hub.invoke(API, sample_event("meter_data/sync_requests/query.json")).result["body"])
    assert body["status"] == "SYNCHRONIZED", body
    assert [h["status"] for h in body["history"]] == ["PENDING", "SENT", "SYNCHRONIZED"]
    assert all(h["at"] and h["reason"] for h in body["history"])
    record = hub.simulators["MDM"].records["PERSON#P-0001"]
    assert record["data"]["ContactName"] == "Ada Lovelace"
    assert record["data"]["Phone"] == {"type": "MOBILE", "value": "+44 20 7946 0001"}


def test_ccb_xml_person_is_validated_and_synchronized(hub: LocalHub) -> None:
    # Given the sample CCB XML message
    response = hub.invoke(API, sample_event("meter_data/sync_requests/submit-person-xml.json")).result
    assert response["statusCode"] == 202, response
    # When it is worked
    cycle(hub)
    # Then MDM holds Grace Hopper under an MDM contact id, cross-referenced to the CCB person
    record = hub.simulators["MDM"].records["PERSON#P-0002"]
    assert record["data"]["ContactName"] == "Grace Hopper"
    assert status_of(hub, "SR-1002")["status"] == "SYNCHRONIZED"
    xref = boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"])
    assert xref.get_item(Key={"pk": "PERSON#CCB#P-0002"})["Item"]["link_MDM"] == record["mdmId"]
    assert xref.get_item(Key={"pk": f"PERSON#MDM#{record['mdmId']}"})["Item"]["link_CCB"] == "P-0002"


def test_correlation_id_is_returned_and_reaches_mdm(hub: LocalHub) -> None:
    response = submit(hub, person("SR-C1"), headers={"X-Correlation-Id": "corr-abc-123"})
    assert response.headers["x-correlation-id"] == "corr-abc-123"
    cycle(hub)
    assert hub.simulators["MDM"].received[-1]["correlationId"] == "corr-abc-123"


def test_correlation_id_is_generated_when_absent(hub: LocalHub) -> None:
    response = submit(hub, person("SR-C2"))
    assert len(response.headers["x-correlation-id"]) >= 32


# ---------------------------------------------------------------------------- duplicates and changes


def test_same_sync_request_id_twice_creates_nothing_new(hub: LocalHub) -> None:
    first = submit(hub, person("SR-D1"))
    second = submit(hub, person("SR-D1"))
    assert (first.status, second.status) == (202, 202)
    assert second.json() == {"syncRequestId": "SR-D1", "status": "SENT"}  # the first went at its intake
    assert len(status_of(hub, "SR-D1")["history"]) == 2
    assert cycle(hub)["queued"] == 0
    assert len(hub.simulators["MDM"].received) == 1
    # and once synchronized, the same id again answers the current status and sends nothing
    assert submit(hub, person("SR-D1")).json()["status"] == "SYNCHRONIZED"
    assert cycle(hub)["queued"] == 0


def test_same_sync_request_id_with_other_content_is_409(hub: LocalHub) -> None:
    submit(hub, person("SR-D2", name="Ada"))
    response = submit(hub, person("SR-D2", name="Someone else"))
    assert response.status == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert status_of(hub, "SR-D2")["status"] == "SENT"  # the first, sent at its intake, unchanged by the refused one


def test_unchanged_data_is_discarded(hub: LocalHub) -> None:
    submit(hub, person("SR-U1", changed="2026-11-20T09:00:00Z"))
    cycle(hub)
    # When CCB sends the same image again under a new request (its person free: planned at its intake)
    submit(hub, person("SR-U2", changed="2026-11-20T10:00:00Z"))
    cycle(hub)
    # Then it is discarded with its reason, and MDM sees nothing more
    state = status_of(hub, "SR-U2")
    assert state["status"] == "DISCARDED"
    assert "unchanged" in state["history"][-1]["reason"]
    assert len(hub.simulators["MDM"].received) == 1


def test_changed_data_is_sent_and_mdm_keeps_one_contact(hub: LocalHub) -> None:
    submit(hub, person("SR-V1", name="Ada Lovelace"))
    cycle(hub)
    submit(hub, person("SR-V2", name="Ada King", changed="2026-11-21T09:00:00Z"))
    cycle(hub)
    assert status_of(hub, "SR-V2")["status"] == "SYNCHRONIZED"
    record = hub.simulators["MDM"].records["PERSON#P-1"]
    assert (record["data"]["ContactName"], record["version"]) == ("Ada King", 2)


def test_one_request_in_flight_per_entity_and_order_kept(hub: LocalHub) -> None:
    # Given two changes of one person, posted newest first in one batch (a load: it waits for the monitor's run)
    batch = {"requests": [person("SR-O2", name="second", changed="2026-11-20T10:00:00Z"), person("SR-O1", name="first")]}
    assert post_json(hub, "/meter-data/sync-requests:batch", batch, CLAIMS).status == 202
    # When the monitor runs once (nothing delivered yet)
    first_run = hub.run_schedule(MONITOR).result
    # Then only the oldest is in flight; the other waits
    assert (first_run["queued"], first_run["waiting"]) == (1, 1)
    assert status_of(hub, "SR-O1")["status"] == "SENT"
    assert status_of(hub, "SR-O2")["status"] == "PENDING"
    # And MDM sees them in order of change
    hub.drain()
    cycle(hub)
    assert [r["syncRequestId"] for r in hub.simulators["MDM"].received] == ["SR-O1", "SR-O2"]
    assert hub.simulators["MDM"].records["PERSON#P-1"]["data"]["ContactName"] == "second"


def test_an_older_image_after_a_newer_one_is_discarded(hub: LocalHub) -> None:
    submit(hub, person("SR-N2", name="newer", changed="2026-11-20T10:00:00Z"))
    cycle(hub)
    submit(hub, person("SR-N1", name="older", changed="2026-11-20T09:00:00Z"))
    cycle(hub)
    state = status_of(hub, "SR-N1")
    assert state["status"] == "DISCARDED"
    assert "older" in state["history"][-1]["reason"]
    assert hub.simulators["MDM"].records["PERSON#P-1"]["data"]["ContactName"] == "newer"


# ---------------------------------------------------------------------------- acknowledgements and faults


def test_negative_acknowledgement_goes_to_error_and_resubmission_recovers(hub: LocalHub) -> None:
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "contact locked in MDM"})
    submit(hub, person("SR-E1"))
    cycle(hub)
    state = status_of(hub, "SR-E1")
    assert state["status"] == "ERROR"
    assert state["history"][-1]["reason"] == "contact locked in MDM"
    # When it is resubmitted
    response = hub.call_api("POST", "/meter-data/sync-requests/SR-E1/resubmission", claims=CLAIMS)
    assert response.json() == {"syncRequestId": "SR-E1", "status": "PENDING"}
    cycle(hub)
    assert [h["status"] for h in status_of(hub, "SR-E1")["history"]] == ["PENDING", "SENT", "ERROR", "PENDING", "SENT", "SYNCHRONIZED"]


def test_resubmission_of_a_request_not_in_error_is_409(hub: LocalHub) -> None:
    # a request of a batch: PENDING until the monitor's run (a single post would go at its intake)
    assert post_json(hub, "/meter-data/sync-requests:batch", {"requests": [person("SR-E2")]}, CLAIMS).status == 202
    assert hub.call_api("POST", "/meter-data/sync-requests/SR-E2/resubmission", claims=CLAIMS).status == 202  # PENDING: no-op
    cycle(hub)
    assert hub.call_api("POST", "/meter-data/sync-requests/SR-E2/resubmission", claims=CLAIMS).status == 409


def test_mdm_outage_is_redelivered_and_nothing_is_lost(hub: LocalHub) -> None:
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 2})
    submit(hub, person("SR-F1"))
    cycle(hub)
    assert status_of(hub, "SR-F1")["status"] == "SENT"  # delivery failed, message back on the queue later
    for _ in range(2):
        hub.expire_visibility()
        hub.drain()
    assert status_of(hub, "SR-F1")["status"] == "SYNCHRONIZED"
    assert len(hub.simulators["MDM"].records) == 1


def test_message_that_never_gets_through_ends_in_the_dlq(hub: LocalHub) -> None:
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 50})
    submit(hub, person("SR-F2"))
    cycle(hub)
    for _ in range(6):
        hub.expire_visibility()
        hub.drain()
    sqs = boto3.client("sqs")
    dlq = hub.resources()["MdmDeliveryDeadLetterQueue"]
    messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["syncRequestId"] for m in messages] == ["SR-F2"]


def test_a_redelivered_message_does_not_reach_mdm_twice(hub: LocalHub) -> None:
    submit(hub, person("SR-R1"))
    hub.run_schedule(MONITOR)
    event: dict[str, Any] = {"Records": []}
    sqs = boto3.client("sqs")
    queue = hub.resources()["MdmDeliveryQueue"]
    message = sqs.receive_message(QueueUrl=queue, MessageSystemAttributeNames=["All"])["Messages"][0]
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }
    event["Records"] = [record]
    # When the same record is delivered twice (an SQS duplicate)
    for _ in range(2):
        result = hub.invoke("MeterDataDeliveryFunction", event)
        assert result.result == {"batchItemFailures": []}
    # Then MDM received it once
    assert len(hub.simulators["MDM"].received) == 1
    assert status_of(hub, "SR-R1")["status"] == "SYNCHRONIZED"


def test_asynchronous_acknowledgement(hub: LocalHub) -> None:
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-A1"))
    cycle(hub)
    assert status_of(hub, "SR-A1")["status"] == "SENT"
    ack = json.dumps({"result": "POSITIVE", "targetId": "C-777"})
    response = hub.call_api("POST", "/meter-data/sync-requests/SR-A1/acknowledgement", body=ack, headers=JSON, claims=MDM_CLAIMS)
    assert response.json() == {"syncRequestId": "SR-A1", "status": "SYNCHRONIZED"}
    # the same acknowledgement again is answered, not applied twice; a contrary one is refused
    assert hub.call_api("POST", "/meter-data/sync-requests/SR-A1/acknowledgement", body=ack, headers=JSON, claims=MDM_CLAIMS).status == 200
    negative = json.dumps({"result": "NEGATIVE", "reason": "late"})
    assert (
        hub.call_api("POST", "/meter-data/sync-requests/SR-A1/acknowledgement", body=negative, headers=JSON, claims=MDM_CLAIMS).status
        == 409
    )


def test_missing_acknowledgement_is_queued_again_when_overdue(hub: LocalHub) -> None:
    # (the time-outs in full, up to ERROR: test_sync_request_timeouts.py)
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-T1"))
    cycle(hub)
    # When the monitor runs after the acknowledgement timeout
    report = run_monitor_after_the_ack_timeout(hub)
    assert (report.timeout_requeued, report.timed_out) == (1, 0)
    state = status_of(hub, "SR-T1")
    assert (state["status"], state["attempt"]) == ("SENT", 2)
    assert state["history"][-1]["reason"].startswith("no acknowledgement from MDM within")


# ---------------------------------------------------------------------------- bad and hostile input


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ("name=x", "application/x-www-form-urlencoded", 415),
        ("", "application/json", 400),
    ],
)
def test_malformed_bodies_are_4xx_problems(hub: LocalHub, body: str, content_type: str, status: int) -> None:
    response = hub.call_api("POST", "/meter-data/sync-requests", body=body, headers={"content-type": content_type}, claims=CLAIMS)
    assert response.status == status
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert set(problem) >= {"type", "title", "status", "detail"}
    assert problem["status"] == status


def test_missing_required_field_lists_the_field(hub: LocalHub) -> None:
    body = person("SR-B1")
    del body["data"]["name"]
    response = submit(hub, body)
    assert response.status == 422
    assert {"pointer": "#/data/name", "detail": "Field required"} in response.json()["errors"]
    # and a rejected request is never stored
    assert hub.call_api("GET", "/meter-data/sync-requests/SR-B1", claims=CLAIMS).status == 404


def test_body_over_the_limit_is_413(hub: LocalHub) -> None:
    response = submit(hub, person("SR-B2", notes="x" * 300_000))
    assert response.status == 413


def test_xml_with_an_external_entity_is_refused(hub: LocalHub) -> None:
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<SyncRequest xmlns="urn:utilhub:ccb:sync-request:v1"><SyncRequestId>SR-X</SyncRequestId>'
        "<EntityType>PERSON</EntityType><EntityId>P</EntityId><ChangedAt>2026-11-20T09:00:00Z</ChangedAt>"
        "<Person><Name>&x;</Name></Person></SyncRequest>"
    )
    response = hub.call_api("POST", "/meter-data/sync-requests", body=xxe, headers={"content-type": "application/xml"}, claims=CLAIMS)
    assert response.status == 400
    assert b"root:" not in response.body


def test_xml_against_the_xsd_lists_every_violation(hub: LocalHub) -> None:
    xml = '<SyncRequest xmlns="urn:utilhub:ccb:sync-request:v1"><SyncRequestId>SR-X</SyncRequestId><Person/></SyncRequest>'
    response = hub.call_api("POST", "/meter-data/sync-requests", body=xml, headers={"content-type": "application/xml"}, claims=CLAIMS)
    assert response.status == 422
    assert response.json()["errors"]


def test_unknown_request_is_404(hub: LocalHub) -> None:
    response = hub.call_api("GET", "/meter-data/sync-requests/nope", claims=CLAIMS)
    assert response.status == 404
    assert response.json()["status"] == 404


# ---------------------------------------------------------------------------- auth


def test_no_verified_token_is_401(hub: LocalHub) -> None:
    assert submit(hub, person("SR-S1"), claims=None).status == 401


def test_token_without_the_pack_scope_is_403(hub: LocalHub) -> None:
    response = submit(hub, person("SR-S2"), claims={"client_id": "x", "scope": "utilhub/order-to-cash"})
    assert response.status == 403
    assert hub.call_api("GET", "/meter-data/sync-requests/SR-S2", claims=CLAIMS).status == 404


# ---------------------------------------------------------------------------- idempotency key


def test_idempotency_key_replays_the_first_answer_and_refuses_other_content(hub: LocalHub) -> None:
    headers = {"Idempotency-Key": "key-1"}
    first = submit(hub, person("SR-K1"), headers=headers)
    cycle(hub)
    again = submit(hub, person("SR-K1"), headers=headers)
    assert (first.status, again.status) == (202, 202)
    assert again.json() == first.json() == {"syncRequestId": "SR-K1", "status": "PENDING"}
    assert submit(hub, person("SR-K2"), headers=headers).status == 409


# ---------------------------------------------------------------------------- batch


def test_batch_intake_stores_each_request_once(hub: LocalHub) -> None:
    response = hub.invoke(API, sample_event("meter_data/sync_requests/submit-batch.json")).result
    body = json.loads(response["body"])
    assert (response["statusCode"], body["accepted"]) == (202, 3)
    again = json.loads(hub.invoke(API, sample_event("meter_data/sync_requests/submit-batch.json")).result["body"])
    assert again["accepted"] == 0
    assert [r["created"] for r in again["results"]] == [False, False, False]
    cycle(hub)
    assert set(hub.simulators["MDM"].records) == {"PERSON#P-0101", "SERVICE_POINT#SP-0101", "PERSON#P-0102"}


def test_service_agreement_before_its_service_point_waits_then_goes_by_itself(hub: LocalHub) -> None:
    # Given an SA whose service point MDM does not know yet
    sa = {
        "syncRequestId": "SR-SA1",
        "entityType": "SERVICE_AGREEMENT",
        "entityId": "SA-1",
        "changedAt": "2026-11-20T10:00:00Z",
        "data": {"accountId": "AC-1", "servicePointIds": ["SP-1"]},
    }
    submit(hub, sa)
    cycle(hub)
    # Then it is not sent: it waits, naming the service point
    state = status_of(hub, "SR-SA1")
    assert (state["status"], state["history"][-1]["reason"]) == ("WAITING", "waiting for SERVICE_POINT SP-1: not yet synchronized to MDM")
    assert list(hub.simulators["MDM"].received) == []
    # When the service point is synchronized, the SA goes through without being resubmitted
    sp = {
        "syncRequestId": "SR-SP1",
        "entityType": "SERVICE_POINT",
        "entityId": "SP-1",
        "changedAt": "2026-11-20T10:00:00Z",
        "data": {"premiseId": "PR-1"},
    }
    submit(hub, sp)
    cycle(hub)
    cycle(hub)
    assert status_of(hub, "SR-SA1")["status"] == "SYNCHRONIZED"
    assert hub.simulators["MDM"].records["SERVICE_AGREEMENT#SA-1"]["data"]["ServicePoints"] == {"ServicePointId": "SP-1"}


def test_batch_with_one_invalid_request_stores_nothing(hub: LocalHub) -> None:
    batch = {"requests": [person("SR-BA1"), {**person("SR-BA2"), "data": {}}]}
    response = hub.call_api("POST", "/meter-data/sync-requests:batch", body=json.dumps(batch), headers=JSON, claims=CLAIMS)
    assert response.status == 422
    assert response.json()["errors"][0]["pointer"] == "#/requests/1/data/name"
    assert hub.call_api("GET", "/meter-data/sync-requests/SR-BA1", claims=CLAIMS).status == 404


def test_batch_over_100_is_refused(hub: LocalHub) -> None:
    batch = {"requests": [person(f"SR-M{i}", entity_id=f"P-{i}") for i in range(101)]}
    response = hub.call_api("POST", "/meter-data/sync-requests:batch", body=json.dumps(batch), headers=JSON, claims=CLAIMS)
    assert response.status == 422


def test_batch_of_100_is_stored(hub: LocalHub) -> None:
    batch = {"requests": [person(f"SR-H{i}", entity_id=f"P-{i}") for i in range(100)]}
    response = hub.call_api("POST", "/meter-data/sync-requests:batch", body=json.dumps(batch), headers=JSON, claims=CLAIMS)
    assert (response.status, response.json()["accepted"]) == (202, 100)


def test_mdm_credentials_come_from_the_secret_and_a_wrong_one_is_refused(hub: LocalHub) -> None:
    # Given MDM expects other credentials than those in MdmConnectionSecret
    hub.simulators["MDM"].credentials = {"username": "utilhub", "password": "not-the-secret"}
    submit(hub, person("SR-CR1"))
    cycle(hub)
    # Then MDM's 401 is a refusal the hub records, not a retry loop
    state = status_of(hub, "SR-CR1")
    assert state["status"] == "ERROR"
    assert "MDM refused the message (401)" in state["history"][-1]["reason"]


def test_a_person_changed_in_the_ccb_simulator_reaches_mdm(hub: LocalHub) -> None:
    # Given a person changed in CCB, which sends its XML sync request to the hub
    ccb = requests_put(hub, "CCB", "/persons/P-77", {"name": "Mary Somerville", "phones": [{"type": "HOME", "number": "+44 1 2345"}]})
    assert ccb["hubStatus"] == 202, ccb
    # When the monitor and the delivery run
    cycle(hub)
    # Then MDM has the contact, and the request is SYNCHRONIZED
    assert hub.simulators["MDM"].records["PERSON#P-77"]["data"]["ContactName"] == "Mary Somerville"
    assert status_of(hub, ccb["syncRequestId"])["status"] == "SYNCHRONIZED"


def test_the_ccb_simulator_refuses_an_invalid_person(hub: LocalHub) -> None:
    response = requests_put(hub, "CCB", "/persons/P-78", {"phones": []}, expect=400)
    assert "invalid person" in response


def requests_put(hub: LocalHub, system: str, path: str, body: dict[str, Any], expect: int = 200) -> Any:
    import requests

    response = requests.put(f"{hub.simulator_url(system)}{path}", json=body, timeout=30)
    assert response.status_code == expect, response.text
    return response.json() if expect == 200 else response.text


def test_data_mdm_cannot_take_ends_in_error_not_in_retries(hub: LocalHub) -> None:
    from localhub.lambda_.runtime import function_environment
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.model import SyncRequestIn
    from utilhub.syncrequests.wiring import store_for

    # Given a meter stored by an earlier version of the hub, before its data model required a meter type
    with function_environment(hub.function(API).environment):
        stored = SyncRequestIn.model_validate(
            {
                "syncRequestId": "SR-M1",
                "entityType": "METER",
                "entityId": "M-1",
                "changedAt": "2026-11-20T09:00:00Z",
                "data": {"badgeNumber": "B-1"},
            }
        )
        store_for(FLOW).create(stored, "cid-upgrade")
    wiring.reset()
    # When it is worked
    cycle(hub)
    # Then it is ERROR with the reason at once, MDM never saw it, and nothing waits in redelivery
    state = status_of(hub, "SR-M1")
    assert state["status"] == "ERROR"
    assert state["history"][-1]["reason"].startswith("could not be rendered for MDM")
    assert list(hub.simulators["MDM"].received) == []
    assert hub.drain() == 0


def test_a_late_older_change_after_an_unchanged_newer_one_is_not_sent(hub: LocalHub) -> None:
    # Given Alice (09:01) synchronized, then Alice again (09:03) discarded as unchanged
    submit(hub, person("SR-L1", name="Alice", changed="2026-11-20T09:01:00Z"))
    cycle(hub)
    submit(hub, person("SR-L3", name="Alice", changed="2026-11-20T09:03:00Z"))
    cycle(hub)
    assert status_of(hub, "SR-L3")["status"] == "DISCARDED"
    # When Bob (09:02) arrives late
    submit(hub, person("SR-L2", name="Bob", changed="2026-11-20T09:02:00Z"))
    cycle(hub)
    # Then it is discarded as older, and MDM keeps CCB's latest image
    assert status_of(hub, "SR-L2")["status"] == "DISCARDED"
    assert hub.simulators["MDM"].records["PERSON#P-1"]["data"]["ContactName"] == "Alice"


def test_a_busy_entity_does_not_starve_its_shard(hub: LocalHub) -> None:
    from localhub.lambda_.runtime import invoke

    # Given one person with a request in flight and five more waiting, and another person in the same shard
    from utilhub.syncrequests.store import shard_of

    shards = 8  # the default of UTILHUB_SYNC_REQUEST_SHARDS, which the template does not change
    busy = "P-BUSY"
    other = next(f"P-{i}" for i in range(1000) if shard_of("PERSON", f"P-{i}", shards) == shard_of("PERSON", busy, shards))
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-B0", entity_id=busy, changed="2026-11-20T08:00:00Z"))
    cycle(hub)  # SR-B0 stays SENT: MDM will acknowledge later
    for i in range(1, 6):
        submit(hub, person(f"SR-B{i}", entity_id=busy, name=f"v{i}", changed=f"2026-11-20T09:0{i}:00Z"))
    # (in a batch: a load waits for the monitor, which this test is about)
    other_batch = {"requests": [person("SR-OTHER", entity_id=other, changed="2026-11-20T10:00:00Z")]}
    assert post_json(hub, "/meter-data/sync-requests:batch", other_batch, CLAIMS).status == 202
    assert status_of(hub, "SR-OTHER")["status"] == "PENDING"
    # When the monitor runs with pages of 3 (the busy person's waiting requests fill the first two)
    spec = hub.function(MONITOR)
    result = invoke(spec, {}, extra_environment={"UTILHUB_SYNC_MONITOR_PAGE_SIZE": "3"})
    assert not result.failed, result.error
    # Then the other person is still sent
    assert status_of(hub, "SR-OTHER")["status"] == "SENT"
    assert status_of(hub, "SR-B1")["status"] == "PENDING"


def test_claims_are_queued_even_when_the_monitor_fails_mid_run(hub: LocalHub) -> None:
    from localhub.lambda_.runtime import function_environment
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.wiring import monitor_for

    # a request of a batch: a load waits for the monitor's run (a single post would go at its intake)
    assert post_json(hub, "/meter-data/sync-requests:batch", {"requests": [person("SR-X1", entity_id="P-X1")]}, CLAIMS).status == 202
    spec = hub.function(MONITOR)
    with function_environment(spec.environment):
        monitor = monitor_for(FLOW)
        real_page = monitor._store.pending_page
        shard = monitor._store.shard_of("PERSON", "P-X1")

        def throttled_after_its_shard(s: int, limit: int, start: Any = None, **options: Any) -> Any:
            # Given DynamoDB throttles every shard after the one holding the request
            if s > shard:
                raise RuntimeError("throttled")
            return real_page(s, limit, start, **options)

        monitor._store.pending_page = throttled_after_its_shard  # type: ignore[method-assign, assignment]
        # When the monitor run fails part way
        with pytest.raises(RuntimeError):
            monitor.run()
    wiring.reset()
    # the claim made before the failure was queued: delivery finds it (and then the outcome's relay to CCB)
    assert hub.drain() == 2
    assert status_of(hub, "SR-X1")["status"] == "SYNCHRONIZED"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("[" * 50_000 + "]" * 50_000, 400),  # nested beyond any parser's depth
        (json.dumps(person("SR-H1", changed="9999-12-31T23:59:59-12:00")), 422),  # past the calendar in UTC
        (json.dumps(person("SR-H2", name="Ada\u0001")), 422),  # a control character
        (json.dumps(person("SR-H3", readings=[1e9] * 20_000)), 413),  # small posted, too large once stored
    ],
)
def test_hostile_bodies_are_4xx_never_5xx(hub: LocalHub, body: str, status: int) -> None:
    response = submit(hub, body)
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/problem+json"


def test_a_control_character_is_pointed_at(hub: LocalHub) -> None:
    response = submit(hub, person("SR-H4", notes={"line": "a\u0000b"}))
    assert response.json()["errors"] == [
        {"pointer": "#/data/notes/line", "detail": "contains a control character (only TAB and LF are allowed in text)"}
    ]


def test_a_source_token_cannot_acknowledge_its_own_requests(hub: LocalHub) -> None:
    # Given a request SENT and waiting for MDM's acknowledgement
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-Z1"))
    cycle(hub)
    # When CCB's token (meter-data scope) posts a positive acknowledgement, Then it is refused
    ack = json.dumps({"result": "POSITIVE", "targetId": "FORGED"})
    assert hub.call_api("POST", "/meter-data/sync-requests/SR-Z1/acknowledgement", body=ack, headers=JSON, claims=CLAIMS).status == 403
    assert status_of(hub, "SR-Z1")["status"] == "SENT"
    # and MDM's token (meter-data-ack) cannot submit sync requests
    assert submit(hub, person("SR-Z2"), claims=MDM_CLAIMS).status == 403


# ---------------------------------------------------------------------------- a fault run


def test_a_throttled_intake_answers_503_with_retry_after_and_stores_nothing(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given DynamoDB throttling every call the API function makes
    with AwsThrottling(1.0, services=frozenset({"dynamodb"})) as throttling:
        response = submit(hub, person("SR-TH1"))
    # Then the sender is told to come back, as a problem
    assert (response.status, response.headers["content-type"], response.headers["retry-after"]) == (503, "application/problem+json", "1")
    assert throttling.throttled
    assert hub.call_api("GET", "/meter-data/sync-requests/SR-TH1", claims=CLAIMS).status == 404
    # and the same request later is taken
    assert submit(hub, person("SR-TH1")).status == 202


def test_a_rate_of_zero_counts_each_functions_aws_calls_and_throttles_none(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given throttling at a rate of 0, When a person sync request is taken
    with AwsThrottling(0.0) as counting:
        assert submit(hub, person("SR-TH2")).status == 202
    # Then nothing was throttled, and its intake's calls are counted per function and operation
    report = counting.report()
    assert report["throttled"] == []
    seen = {(c["function"].rsplit("-", 1)[-1], c["operation"]): c["count"] for c in report["seen"]}
    assert seen.get(("MeterDataSyncRequestsFunction", "dynamodb.PutItem"), 0) >= 1
    assert sum(seen.values()) == report["calls"]


def dead_letters(hub: LocalHub) -> list[str]:
    sqs = boto3.client("sqs")
    dlq = hub.resources()["MdmDeliveryDeadLetterQueue"]
    found: list[str] = []
    while messages := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", []):
        found += [json.loads(m["Body"])["syncRequestId"] for m in messages]
    return found


def test_a_fault_run_loses_nothing_and_applies_nothing_twice(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given ten people changed twice each, five of the requests sent twice, MDM down for a while,
    # and a fifth of the AWS calls the functions make throttled beyond boto3's own retries
    changes = [
        person(f"SR-FR{i}-{v}", entity_id=f"P-FR{i}", name=f"Person {i} v{v}", changed=f"2026-11-20T0{v}:00:00Z")
        for v in (1, 2)
        for i in range(10)
    ]
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 4})
    with AwsThrottling(0.2, seed=7) as throttling:
        for body in changes + changes[:5]:
            for _ in range(20):  # the sender retries what the hub answers 503
                response = submit(hub, body)
                if response.status != 503:
                    break
            assert response.status == 202, response.body
        for _ in range(12):  # the schedule runs again after a failed run; SQS redelivers after a failed batch
            hub.run_schedule(MONITOR)
            hub.drain()
            hub.expire_visibility()
    # the faults hit intake, the monitor and delivery (and the outcomes' relay to CCB, when it ran meanwhile)
    throttled = {function.rsplit("-", 1)[-1] for function, _ in throttling.throttled}
    assert throttled - {"SyncRequestsCcbOutcomesFunction"} == {API, MONITOR, "MeterDataDeliveryFunction"}
    # When the run goes on without faults, and the monitor runs once the acknowledgement timeout has passed
    for _ in range(6):
        cycle(hub)
        hub.expire_visibility()
    in_dlq = set(dead_letters(hub))
    run_monitor_after_the_ack_timeout(hub)
    for _ in range(2):
        cycle(hub)
    # Then every request has ended: SYNCHRONIZED, DISCARDED (an older image), or ERROR with its reason. What
    # the DLQ holds was sent again by itself and synchronized, without an operator: queued again when overdue,
    # or given back by the record of a claim the throttled run could not forget (locally SQS redelivers at
    # once, before the failed attempt's idempotency claim lapses; on AWS the 360 s visibility timeout outlasts
    # it); a request claimed whose message never left was given back the same way
    states = {body["syncRequestId"]: status_of(hub, body["syncRequestId"]) for body in changes}
    for state in states.values():
        assert state["status"] in {"SYNCHRONIZED", "DISCARDED", "ERROR"}, state
        assert state["history"][-1]["reason"], state
    assert in_dlq
    for sync_request_id in in_dlq:
        assert states[sync_request_id]["status"] in {"SYNCHRONIZED", "DISCARDED"}, states[sync_request_id]
        assert [h["status"] for h in states[sync_request_id]["history"]].count("SENT") > 1, states[sync_request_id]
    # When the operator resubmits what is in ERROR
    for sync_request_id, state in states.items():
        if state["status"] == "ERROR":
            assert hub.call_api("POST", f"/meter-data/sync-requests/{sync_request_id}/resubmission", claims=CLAIMS).status == 202
    for _ in range(3):
        cycle(hub)
    # Then nothing is lost: every request ends SYNCHRONIZED, or DISCARDED for a newer image of its person
    final = {sync_request_id: status_of(hub, sync_request_id)["status"] for sync_request_id in states}
    assert set(final.values()) <= {"SYNCHRONIZED", "DISCARDED"}, final
    assert all(final[f"SR-FR{i}-2"] == "SYNCHRONIZED" for i in range(10)), final
    # and MDM holds each person once, with the newest image
    mdm = hub.simulators["MDM"].records
    assert sorted(mdm) == sorted(f"PERSON#P-FR{i}" for i in range(10))
    assert all(mdm[f"PERSON#P-FR{i}"]["data"]["ContactName"] == f"Person {i} v2" for i in range(10)), mdm


def test_a_delivery_whose_outcome_cannot_be_recorded_still_synchronizes(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.exceptions import ClientError

    def throttled(*_: Any, **__: Any) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}}, "UpdateItem")

    # Given DynamoDB throttling the update that records a delivery's outcome
    monkeypatch.setattr(DynamoDBPersistenceLayer, "_update_record", throttled)
    submit(hub, person("SR-IR1"))
    # When the request is delivered once
    cycle(hub)
    # Then MDM's acknowledgement is applied all the same, and MDM got the message once
    assert status_of(hub, "SR-IR1")["status"] == "SYNCHRONIZED"
    assert [r["syncRequestId"] for r in hub.simulators["MDM"].received] == ["SR-IR1"]
