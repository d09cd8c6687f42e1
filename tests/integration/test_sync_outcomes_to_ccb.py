"""CCB hears the outcome of what it sent (syncrequests/outcomes.py): each final transition of a sync request of
MD-01..10/18 (to MDM), FW-06 (to WAM/ODM) and DA-02 (to DACS) reaches CCB's simulator once, in order per request,
through the shared FIFO queue and SyncRequestsCcbOutcomesFunction, switchable per flow (OutcomesToCcb).
Functions in-process, resources from the template in moto, CCB's simulator checking its own acknowledgement contract."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from localhub.aws.endpoint import reset
from localhub.aws.throttling import AwsThrottling
from localhub.hub import LocalHub
from tests.helpers import JSON, post_json

OUTCOMES = "SyncRequestsCcbOutcomesFunction"
MD_CLAIMS = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
DACS_CLAIMS = {"client_id": "ccb", "scope": "utilhub/dacs", "token_use": "access"}


def person(
    sync_request_id: str, entity_id: str = "P-1", name: str = "Ada Lovelace", changed: str = "2026-11-20T09:00:00Z"
) -> dict[str, Any]:
    return {"syncRequestId": sync_request_id, "entityType": "PERSON", "entityId": entity_id, "changedAt": changed, "data": {"name": name}}


def service_point(sync_request_id: str, entity_id: str = "SP-0101") -> dict[str, Any]:
    data = {"premiseId": "PR-0101", "spType": "E-RES"}
    return {
        "syncRequestId": sync_request_id,
        "entityType": "SERVICE_POINT",
        "entityId": entity_id,
        "changedAt": "2026-11-20T09:00:00Z",
        "data": data,
    }


def told(hub: LocalHub, sync_request_id: str) -> list[dict[str, Any]]:
    """What CCB recorded of a request's outcomes, in the order it was told."""
    return hub.simulators["CCB"].records.get(f"SYNC-ACK#{sync_request_id}", {}).get("acknowledgements", [])  # type: ignore[no-any-return]


def calls(hub: LocalHub) -> list[tuple[str, bool]]:
    """Every acknowledgement CCB received, (request, whether CCB had it already)."""
    return [(m["id"], m["repeat"]) for m in hub.simulators["CCB"].received if m.get("operation") == "sync-request-acknowledgement"]


def history(hub: LocalHub, collection: str, sync_request_id: str, claims: dict[str, Any]) -> list[dict[str, Any]]:
    response = hub.call_api("GET", f"{collection}/{sync_request_id}", claims=claims)
    assert response.status == 200, response.body
    return response.json()["history"]  # type: ignore[no-any-return]


def marks(hub: LocalHub, flow: str, sync_request_id: str) -> dict[str, Any]:
    """What the request's item holds of an outcome owed to CCB (syncrequests/store.py): its mark and its index entry."""
    table = boto3.resource("dynamodb").Table(hub.resources()["SyncRequestTable"])
    item = table.get_item(Key={"pk": f"{flow}#REQ#{sync_request_id}"}, ConsistentRead=True)["Item"]
    return {k: item[k] for k in ("outcomeOwed", "gsi1pk") if k in item}


def cycle(hub: LocalHub, monitor: str) -> None:
    run = hub.run_schedule(monitor)
    assert not run.failed, run.error
    hub.drain()


@pytest.fixture
def switched_off(aws_endpoint: str) -> Iterator[LocalHub]:
    """The hub deployed with OutcomesToCcb empty: no flow's outcomes are told to CCB."""
    reset(aws_endpoint)
    local = LocalHub(parameters={"OutcomesToCcb": "", "DacsAcknowledgementsToCcb": "true"}).start()
    local.drain()
    yield local
    assert local.stop() == []


@pytest.fixture
def no_requeues(aws_endpoint: str) -> Iterator[LocalHub]:
    """The hub deployed with SyncTimeoutRequeues 0: a request's first time-out is ERROR."""
    reset(aws_endpoint)
    local = LocalHub(parameters={"SyncTimeoutRequeues": "0"}).start()
    local.drain()
    yield local
    assert local.stop() == []


# ---------------------------------------------------------------------------- MD-01..10, MD-18 (to MDM)


def test_each_outcome_of_a_meter_data_request_reaches_ccb_once_in_order_after_a_redelivery(hub: LocalHub) -> None:
    # Given MDM refusing the first message, and CCB down for its first call
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "contact locked in MDM"})
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 1})
    assert post_json(hub, "/meter-data/sync-requests", person("SR-O1"), MD_CLAIMS).status == 202

    # When the request fails, CCB's first delivery fails and the queue redelivers it
    cycle(hub, "MeterDataSyncMonitorFunction")
    hub.expire_visibility()
    hub.drain()
    # And the request is resubmitted and synchronized
    assert hub.call_api("POST", "/meter-data/sync-requests/SR-O1/resubmission", claims=MD_CLAIMS).status == 202
    cycle(hub, "MeterDataSyncMonitorFunction")

    # Then CCB holds the two outcomes, NEGATIVE with MDM's reason then POSITIVE, each told once, as the hub recorded them
    steps = history(hub, "/meter-data/sync-requests", "SR-O1", MD_CLAIMS)
    assert [h["status"] for h in steps] == ["PENDING", "SENT", "ERROR", "PENDING", "SENT", "SYNCHRONIZED"]
    acks = told(hub, "SR-O1")
    assert [(a["result"], a["target"], a["entityType"], a["entityId"]) for a in acks] == [
        ("NEGATIVE", "MDM", "PERSON", "P-1"),
        ("POSITIVE", "MDM", "PERSON", "P-1"),
    ]
    assert [a["reason"] for a in acks] == [steps[2]["reason"], steps[5]["reason"]]
    assert acks[0]["reason"] == "contact locked in MDM"
    assert calls(hub) == [("SR-O1", False), ("SR-O1", False)]
    # And each outcome queued by the write that made it, the request owes none (and is out of the monitor's index)
    assert marks(hub, "meter-data", "SR-O1") == {}


def test_an_outcome_redriven_after_a_newer_one_was_told_is_skipped_and_ccb_keeps_the_newer(hub: LocalHub) -> None:
    ops = {"client_id": "ops", "scope": "utilhub/ops", "token_use": "access"}
    # Given MDM refusing the first message, and CCB refusing the first outcome it is told (kept in the dead-letter queue)
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "contact locked in MDM"})
    hub.simulators["CCB"].add_fault({"kind": "refuse", "count": 1, "status": 422, "reason": "acknowledgements paused"})
    assert post_json(hub, "/meter-data/sync-requests", person("SR-O9", "P-9"), MD_CLAIMS).status == 202
    cycle(hub, "MeterDataSyncMonitorFunction")
    hub.drain()
    assert told(hub, "SR-O9") == []
    # And, resubmitted, the request is synchronized and CCB is told that outcome
    assert hub.call_api("POST", "/meter-data/sync-requests/SR-O9/resubmission", claims=MD_CLAIMS).status == 202
    cycle(hub, "MeterDataSyncMonitorFunction")
    assert [a["result"] for a in told(hub, "SR-O9")] == ["POSITIVE"]

    # When an operator redrives the outcomes' dead-letter queue (the first outcome, NEGATIVE, comes back after the second)
    redriven = hub.call_api("POST", "/ops/dead-letters/sync-requests%2Fccb-outcomes/redrive", body=b"", claims=ops)
    assert redriven.status == 202, redriven.body
    assert redriven.json()["messages"] == 1
    hub.drain()

    # Then the older outcome is acknowledged without CCB being told, and CCB still holds the request's last state
    assert [a["result"] for a in told(hub, "SR-O9")] == ["POSITIVE"]
    assert calls(hub) == [("SR-O9", False)]
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=hub.resources()["CcbOutcomeQueue"], AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")
    dead = hub.call_api("GET", "/ops/dead-letters", claims=ops).json()["items"]
    assert {item["queue"]: item["messages"] for item in dead}["sync-requests/ccb-outcomes"] == 0


def test_an_outcome_sqs_refused_to_queue_is_told_by_the_monitor_once(hub: LocalHub) -> None:
    # Given a request claimed by the monitor (its message queued), then SQS refusing the functions' SendMessage calls
    # (throttled beyond boto3's retries) while MDM's answer makes it SYNCHRONIZED
    assert post_json(hub, "/meter-data/sync-requests", person("SR-Q1"), MD_CLAIMS).status == 202
    run = hub.run_schedule("MeterDataSyncMonitorFunction")
    assert not run.failed, run.error
    with AwsThrottling(1.0, operations=frozenset({"sqs.SendMessage"})) as refused:
        hub.drain()
    assert [h["status"] for h in history(hub, "/meter-data/sync-requests", "SR-Q1", MD_CLAIMS)] == ["PENDING", "SENT", "SYNCHRONIZED"]
    assert refused.report()["throttled"] != []
    # Then CCB has not heard it yet, and the request owes it
    assert told(hub, "SR-Q1") == []
    assert marks(hub, "meter-data", "SR-Q1")["outcomeOwed"].startswith("meter-data#SR-Q1#SYNCHRONIZED#")

    # When the monitor runs within the grace the writer has to queue it, then after it, then again
    cycle(hub, "MeterDataSyncMonitorFunction")
    assert told(hub, "SR-Q1") == []
    for minutes in (5, 10):
        run = hub.run_schedule("MeterDataSyncMonitorFunction", at=datetime.now(UTC) + timedelta(minutes=minutes))
        assert not run.failed, run.error
        hub.drain()

    # Then CCB heard the outcome once, as the hub recorded it, and nothing is owed any more
    steps = history(hub, "/meter-data/sync-requests", "SR-Q1", MD_CLAIMS)
    assert [(a["result"], a["reason"], a["acknowledgedAt"]) for a in told(hub, "SR-Q1")] == [
        ("POSITIVE", steps[2]["reason"], datetime.fromisoformat(steps[2]["at"].replace("Z", "+00:00")).isoformat())
    ]
    assert calls(hub) == [("SR-Q1", False)]
    assert marks(hub, "meter-data", "SR-Q1") == {}


def test_an_outcome_delivered_again_by_the_queue_is_told_once(hub: LocalHub) -> None:
    # Given a synchronized request whose outcome's message is read before the function takes it (CCB down at first)
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 1})
    assert post_json(hub, "/meter-data/sync-requests", person("SR-O2", "P-2"), MD_CLAIMS).status == 202
    cycle(hub, "MeterDataSyncMonitorFunction")
    hub.expire_visibility()
    sqs = boto3.client("sqs")
    queue = hub.resources()["CcbOutcomeQueue"]
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    hub.drain()
    assert [a["result"] for a in told(hub, "SR-O2")] == ["POSITIVE"]

    # When SQS hands the same message over again (at least once delivery)
    record = {
        "messageId": "again-" + message["MessageId"],
        "receiptHandle": "again",
        "body": message["Body"],
        "attributes": {**message["Attributes"], "ApproximateReceiveCount": "2"},
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{sqs.meta.region_name}:000000000000:{queue.rsplit('/', 1)[1]}",
        "awsRegion": sqs.meta.region_name,
    }
    invocation = hub.invoke(OUTCOMES, {"Records": [record]})

    # Then nothing fails and CCB was called once
    assert invocation.result == {"batchItemFailures": []}
    assert calls(hub) == [("SR-O2", False)]


def test_a_late_positive_acknowledgement_after_a_time_out_is_a_second_outcome(no_requeues: LocalHub) -> None:
    from tests.integration.test_meter_data_person_sync import run_monitor_after_the_ack_timeout

    hub = no_requeues
    # Given a request MDM accepted, acknowledgement to follow, timed out (no re-queues: its first time-out is ERROR)
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    assert post_json(hub, "/meter-data/sync-requests", person("SR-O3", "P-3"), MD_CLAIMS).status == 202
    cycle(hub, "MeterDataSyncMonitorFunction")
    assert run_monitor_after_the_ack_timeout(hub).timed_out == 1
    hub.drain()
    assert [a["result"] for a in told(hub, "SR-O3")] == ["NEGATIVE"]

    # When MDM's positive acknowledgement comes after all
    ack = json.dumps({"result": "POSITIVE", "reason": "stored late"})
    mdm = {"client_id": "mdm", "scope": "utilhub/meter-data-ack", "token_use": "access"}
    answered = hub.call_api("POST", "/meter-data/sync-requests/SR-O3/acknowledgement", body=ack, headers=JSON, claims=mdm)
    assert answered.status == 200, answered.body
    hub.drain()

    # Then CCB hears both, in order: the time-out's NEGATIVE, then the POSITIVE
    assert [a["result"] for a in told(hub, "SR-O3")] == ["NEGATIVE", "POSITIVE"]
    assert calls(hub) == [("SR-O3", False), ("SR-O3", False)]


# ---------------------------------------------------------------------------- FW-06 (to WAM/ODM)


def test_a_service_point_synchronized_to_odm_is_told_to_ccb_once(hub: LocalHub) -> None:
    assert post_json(hub, "/field-work/sync-requests", service_point("FW6-O1"), hub.claims_of("CCB")).status == 202
    cycle(hub, "FieldWorkSpSyncMonitorFunction")
    hub.drain()
    [ack] = told(hub, "FW6-O1")
    assert (ack["result"], ack["target"], ack["entityType"], ack["entityId"]) == ("POSITIVE", "ODM", "SERVICE_POINT", "SP-0101")
    assert calls(hub) == [("FW6-O1", False)]


# ---------------------------------------------------------------------------- DA-02 (to DACS)


def test_a_dacs_request_completed_by_its_upload_is_told_to_ccb_once(hub: LocalHub) -> None:
    # Given the hub as deployed by default (DACS sends no acknowledgements: a file in upload/ completes its requests)
    assert post_json(hub, "/dacs/sync-requests", person("DSR-O1", "P-D1"), DACS_CLAIMS).status == 202
    run = hub.run_schedule("DacsIncrementalExtractFunction")
    assert not run.failed, run.error
    hub.drain()
    hub.drain()
    [ack] = told(hub, "DSR-O1")
    assert (ack["result"], ack["target"], ack["entityType"]) == ("POSITIVE", "DACS", "PERSON")
    assert calls(hub) == [("DSR-O1", False)]


# ---------------------------------------------------------------------------- MD-11 usage requests in ERROR


USAGE_RELEASE = "MeterDataUsageReleaseFunction"


def usage_statuses(hub: LocalHub, usage_request_id: str) -> list[dict[str, Any]]:
    return hub.simulators["CCB"].records.get(f"USAGE-REQUEST-STATUS#{usage_request_id}", {}).get("statuses", [])  # type: ignore[no-any-return]


def usage_calls(hub: LocalHub) -> list[tuple[str, bool]]:
    return [(m["id"], m["repeat"]) for m in hub.simulators["CCB"].received if m.get("operation") == "usage-request-status"]


def test_a_usage_request_error_sqs_refused_to_queue_is_told_by_the_release_schedule_once(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a usage request for an SA MDM does not hold, and SQS refusing the functions' SendMessage calls (throttled
    # beyond boto3's retries) while it ends in ERROR
    usage = {"usageRequestId": "UR-Q1", "saId": "SA-99999", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"}
    assert post_json(hub, "/meter-data/usage-requests", usage, MD_CLAIMS).status == 202
    with AwsThrottling(1.0, operations=frozenset({"sqs.SendMessage"})) as refused:
        hub.drain()
    assert refused.report()["throttled"] != []
    steps = hub.call_api("GET", "/meter-data/usage-requests/UR-Q1", claims=MD_CLAIMS).json()["history"]
    assert steps[-1]["status"] == "ERROR"
    # Then CCB has not heard it, and the request owes it
    assert usage_statuses(hub, "UR-Q1") == []
    table = boto3.resource("dynamodb").Table(hub.resources()["MeterDataUsageRequestTable"])
    assert "outcomeOwed" in table.get_item(Key={"pk": "UR-Q1"}, ConsistentRead=True)["Item"]

    # When the release schedule runs within the grace, then (the grace spent) twice after it
    run = hub.run_schedule(USAGE_RELEASE)
    assert (run.failed, run.result["outcomesRetold"]) == (False, 0), run.error
    monkeypatch.setattr("utilhub.packs.meter_data.billing.usage_requests.service.OUTCOME_GRACE", timedelta(0))
    retold = []
    for _ in range(2):
        run = hub.run_schedule(USAGE_RELEASE)
        assert not run.failed, run.error
        retold.append(run.result["outcomesRetold"])
        hub.drain()

    # Then CCB heard the ERROR once, with the reason and time the hub recorded, and nothing is owed any more
    assert retold == [1, 0]
    assert [(s["status"], s["reason"], s["at"]) for s in usage_statuses(hub, "UR-Q1")] == [("ERROR", steps[-1]["reason"], steps[-1]["at"])]
    assert usage_calls(hub) == [("UR-Q1", False)]
    item = table.get_item(Key={"pk": "UR-Q1"}, ConsistentRead=True)["Item"]
    assert ("outcomeOwed" in item, "gsi1pk" in item) == (False, False)


def test_each_error_of_a_usage_request_reaches_ccb_once_in_order_after_a_redelivery(hub: LocalHub) -> None:
    # Given a usage request for an SA MDM does not hold, and CCB down for its first call
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 1})
    usage = {"usageRequestId": "UR-O1", "saId": "SA-99999", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"}
    assert post_json(hub, "/meter-data/usage-requests", usage, MD_CLAIMS).status == 202

    # When it ends in ERROR, CCB's first delivery fails and the queue redelivers it
    hub.drain()
    hub.expire_visibility()
    hub.drain()
    # And it is resubmitted and fails again
    assert hub.call_api("POST", "/meter-data/usage-requests/UR-O1/resubmission", claims=MD_CLAIMS).status == 202
    hub.drain()

    # Then CCB holds both ERRORs, in order, with the reasons and times the hub recorded, each told once
    steps = hub.call_api("GET", "/meter-data/usage-requests/UR-O1", claims=MD_CLAIMS).json()["history"]
    errors = [h for h in steps if h["status"] == "ERROR"]
    assert len(errors) == 2
    told_ccb = usage_statuses(hub, "UR-O1")
    assert [(s["usageRequestId"], s["saId"], s["status"]) for s in told_ccb] == [("UR-O1", "SA-99999", "ERROR")] * 2
    assert [s["reason"] for s in told_ccb] == [e["reason"] for e in errors]
    assert "MDM refused it: HTTP 404" in told_ccb[0]["reason"]
    assert told_ccb[0]["at"] < told_ccb[1]["at"]
    assert usage_calls(hub) == [("UR-O1", False), ("UR-O1", False)]
    # And a completed usage request tells CCB nothing of its status (its determinants are the answer)
    done = {"usageRequestId": "UR-O2", "saId": "SA-00002", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"}
    assert post_json(hub, "/meter-data/usage-requests", done, MD_CLAIMS).status == 202
    hub.drain()
    assert hub.call_api("GET", "/meter-data/usage-requests/UR-O2", claims=MD_CLAIMS).json()["status"] == "COMPLETED"
    assert usage_statuses(hub, "UR-O2") == []


# ---------------------------------------------------------------------------- the switch


def test_with_the_switch_off_no_flow_tells_ccb_and_dacs_own_relay_still_does(switched_off: LocalHub) -> None:
    hub = switched_off
    # Given a meter data request and a field work request synchronized, and one refused by MDM
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "contact locked in MDM"})
    assert post_json(hub, "/meter-data/sync-requests", person("SR-X1"), MD_CLAIMS).status == 202
    assert post_json(hub, "/meter-data/sync-requests", person("SR-X2", "P-X2"), MD_CLAIMS).status == 202
    assert post_json(hub, "/field-work/sync-requests", service_point("FW6-X1"), hub.claims_of("CCB")).status == 202
    cycle(hub, "MeterDataSyncMonitorFunction")
    cycle(hub, "FieldWorkSpSyncMonitorFunction")
    assert {history(hub, "/meter-data/sync-requests", i, MD_CLAIMS)[-1]["status"] for i in ("SR-X1", "SR-X2")} == {"ERROR", "SYNCHRONIZED"}

    # And a usage request that ends in ERROR (MD-11)
    usage = {"usageRequestId": "UR-X1", "saId": "SA-99999", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"}
    assert post_json(hub, "/meter-data/usage-requests", usage, MD_CLAIMS).status == 202
    hub.drain()
    assert hub.call_api("GET", "/meter-data/usage-requests/UR-X1", claims=MD_CLAIMS).json()["status"] == "ERROR"

    # Then CCB was told none of them, and nothing waits in the outcomes' queue
    assert calls(hub) == []
    assert usage_calls(hub) == []
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=hub.resources()["CcbOutcomeQueue"], AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0")

    # And with DACS's acknowledgements configured (DacsAcknowledgementsToCcb), DA-04's own relay tells CCB of them, once
    # (it does with OutcomesToCcb naming dacs too: tests/integration/test_dacs_incremental_sync.py)
    from localhub.simulators.dacs import DacsSimulator

    assert post_json(hub, "/dacs/sync-requests", person("DSR-X1", "P-DX1"), DACS_CLAIMS).status == 202
    run = hub.run_schedule("DacsIncrementalExtractFunction")
    assert not run.failed, run.error
    hub.drain()
    dacs = hub.simulators["DACS"]
    assert isinstance(dacs, DacsSimulator)
    dacs.import_uploads()
    assert dacs.send_acknowledgements() == 1
    hub.drain()
    assert [a["result"] for a in told(hub, "DSR-X1")] == ["POSITIVE"]
    assert calls(hub) == [("DSR-X1", False)]
