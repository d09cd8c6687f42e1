"""No personal data where it does not belong: a marker value in a name, an address and a meter id, posted through
the main points (a CU customer, an OC order, an FW activity, an MD sync request, a DACS record) and failed in every
way a fault run fails them (a target refusing it with a 422 whose body repeats the value, a target down until the
transaction is FAILED, in ERROR or its message dead-lettered, a validation error at intake), is then found in no
stored reason, no answer of a GET route or a refusal, no acknowledgement CCB received, no Step Functions execution
history, and no log line. The data itself is legitimately kept where the hub keeps data (its table items): only
reasons, histories and logs are searched.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from localhub.aws import sfn_waits
from localhub.server import LocalRuntime
from tests.helpers import synchronize_service_points_over_http, until

MARKER = f"Zq{uuid.uuid4().hex[:10]}Marker"
# a card number of this run (PCI DSS: never kept readable, not even in the hub's table items)
PAN = "4" + str(uuid.uuid4().int)[:15]
EVENTS = Path(__file__).resolve().parents[2] / "events"
# the attributes of the hub's table items that say why (not the data itself)
REASON_ATTRIBUTES = ("reason", "history", "refusal", "error", "failure")


def sample_body(relative: str) -> Any:
    return json.loads(json.loads((EVENTS / relative).read_text(encoding="utf-8"))["body"])


def refuse(client: httpx.Client, system: str, count: int = 1) -> None:
    """The target refuses the hub's next calls with a 422 whose detail repeats the value, as real targets do."""
    fault = {"kind": "refuse", "count": count, "reason": f"the value {MARKER} is not accepted"}
    assert client.post(f"/_local/sim/{system}/faults", json=fault).status_code == 201


def down(client: httpx.Client, system: str) -> None:
    assert client.post(f"/_local/sim/{system}/faults", json={"kind": "down", "count": 100_000}).status_code == 201


def back(client: httpx.Client, system: str) -> None:
    assert client.delete(f"/_local/sim/{system}/faults").status_code == 204


def ended(client: httpx.Client, path: str, statuses: set[str], timeout: float = 90.0) -> dict[str, Any]:
    body = until(lambda: (b := client.get(path).json()).get("status") in statuses and b, timeout)
    assert body, client.get(path).text
    return body  # type: ignore[no-any-return]


def order(order_id: str) -> dict[str, Any]:
    """An OSM order whose accounts carry the marker in their names."""
    return {
        "orderId": order_id,
        "revision": 1,
        "lines": [
            {
                "lineId": "L1",
                "action": "ADD",
                "billingType": "Service Bundle",
                "billingSystemId": "BRM1",
                "serviceAccount": {"id": f"{order_id}-SA", "name": f"Flat 1, {MARKER} Row"},
                "billingAccount": {"id": f"{order_id}-BA", "name": f"{MARKER} Lovelace"},
                "billingProfile": {
                    "id": f"{order_id}-BP",
                    "paymentMethod": "Credit Card",
                    "creditCard": {"number": PAN, "expiry": "1229", "holderName": f"{MARKER} Lovelace"},
                },
            }
        ],
    }


def activity(activity_id: str) -> dict[str, Any]:
    body = sample_body("field_work/activities/create-activity.json")
    return {
        **body,
        "activityId": activity_id,
        "meterId": f"M-{MARKER}",
        "customer": {"name": f"{MARKER} Simpson", "phone": "+1 217 555 0100"},
    }


def person(sync_request_id: str, entity_id: str) -> dict[str, Any]:
    return {
        "syncRequestId": sync_request_id,
        "entityType": "PERSON",
        "entityId": entity_id,
        "changedAt": "2026-12-01T09:00:00Z",
        "data": {"name": f"{MARKER} Byron", "address": {"line1": f"12 {MARKER} Street", "city": "Springfield"}},
    }


def customer_order(order_id: str) -> dict[str, Any]:
    body = sample_body("customer/siebel_customers/synchronize-order.json")
    body = {**body, "orderId": order_id, "lines": body["lines"][:1]}
    line = copy.deepcopy(body["lines"][0])
    line["billingAccount"]["id"] = f"{order_id}-ACC"
    line["billingAccount"]["name"] = f"{MARKER} Simpson"
    line["billingAccount"]["address"]["line1"] = f"742 {MARKER} Terrace"
    body["lines"] = [line]
    return body


def too_long(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    """``body`` with the field at ``path`` made longer than any name may be: refused at intake (422)."""
    invalid = copy.deepcopy(body)
    holder: Any = invalid
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = MARKER + "x" * 300
    return invalid


def reasons_in_tables(endpoint: str | None, resources: dict[str, str]) -> list[str]:
    """Every reason-like attribute of every item of the hub's tables, as text."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    found = []
    for logical_id, name in resources.items():
        if not logical_id.endswith("Table"):
            continue
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                for attribute, value in item.items():
                    if any(word in attribute.lower() for word in REASON_ATTRIBUTES):
                        found.append(f"{logical_id} {item.get('pk') or item.get('id')} {attribute}: {json.dumps(value)}")
    return found


def items_in_tables(endpoint: str | None, resources: dict[str, str]) -> list[str]:
    """Every item of the hub's tables, as text."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    return [
        f"{logical_id} {json.dumps(item)}"
        for logical_id, name in resources.items()
        if logical_id.endswith("Table")
        for page in dynamodb.get_paginator("scan").paginate(TableName=name)
        for item in page["Items"]
    ]


def execution_histories(endpoint: str | None) -> list[str]:
    """Every event of every execution of every state machine (input, output, errors and causes)."""
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint)
    found = []
    for machine in sfn.list_state_machines()["stateMachines"]:
        for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            found.append(f"{execution['name']} describe: {json.dumps(described, default=str)}")
            events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            found += [f"{execution['name']} event: {json.dumps(event, default=str)}" for event in events]
    return found


def test_a_marker_posted_through_every_point_and_failed_every_way_is_in_no_reason_history_or_log(
    runtime: LocalRuntime, client: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    answers: list[str] = []  # what the hub answered: refusals, GET routes

    def answered(response: httpx.Response) -> httpx.Response:
        answers.append(f"{response.request.method} {response.request.url.path} {response.status_code}: {response.text}")
        return response

    # ------------------------------------------------------------------ refused at intake (422): every point
    refused = [
        answered(client.post("/order-to-cash/fulfillment-orders", json=too_long(order("PII-O3"), "lines", 0, "billingAccount", "name"))),
        answered(client.post("/field-work/activities", json=too_long(activity("PII-A3"), "customer", "name"))),
        answered(client.post("/meter-data/sync-requests", json=too_long(person("PII-S3", "PII-P3"), "data", "name"))),
        answered(client.post("/dacs/sync-requests", json=too_long(person("PII-D3", "PII-DP3"), "data", "name"))),
        answered(client.post("/customer/siebel/orders", json=too_long(customer_order("PII-C3"), "lines", 0, "billingAccount", "name"))),
    ]
    assert [r.status_code for r in refused] == [422] * 5, [r.text for r in refused]

    with sfn_waits.scaled(0.001):
        # ------------------------------------------------------------------ OC-01: BRM refuses; BRM down until FAILED
        refuse(client, "brm")
        assert client.post("/order-to-cash/fulfillment-orders", json=order("PII-O1")).status_code == 202
        o1 = ended(client, "/order-to-cash/fulfillment-orders/PII-O1/revisions/1", {"SUCCEEDED", "FAILED"})
        assert o1["status"] == "FAILED", o1
        down(client, "brm")
        assert client.post("/order-to-cash/fulfillment-orders", json=order("PII-O2")).status_code == 202
        o2 = ended(client, "/order-to-cash/fulfillment-orders/PII-O2/revisions/1", {"SUCCEEDED", "FAILED"})
        assert o2["status"] == "FAILED", o2
        back(client, "brm")
        answered(client.get("/order-to-cash/fulfillment-orders/PII-O1/revisions/1"))
        answered(client.get("/order-to-cash/fulfillment-orders/PII-O2/revisions/1"))

        # ------------------------------------------------------------------ FW-01: ODM refuses; ODM down until ERROR
        synchronize_service_points_over_http(client, activity("PII-A1")["servicePointId"])  # ODM keeps the SP (FW-06)
        refuse(client, "odm")
        assert client.post("/field-work/activities", json=activity("PII-A1")).status_code == 202
        assert ended(client, "/field-work/activities/CCB/PII-A1", {"LINKED", "ERROR"})["status"] == "ERROR"
        down(client, "odm")
        assert client.post("/field-work/activities", json=activity("PII-A2")).status_code == 202
        assert ended(client, "/field-work/activities/CCB/PII-A2", {"LINKED", "ERROR"}, timeout=180)["status"] == "ERROR"
        back(client, "odm")
        answered(client.get("/field-work/activities/CCB/PII-A1"))
        answered(client.get("/field-work/activities/CCB/PII-A2"))

    # ------------------------------------------------------------------ MD-01: MDM refuses (ERROR, relayed to CCB)
    refuse(client, "mdm")
    assert client.post("/meter-data/sync-requests", json=person("PII-S1", "PII-P1")).status_code == 202
    assert client.post("/_local/schedules/MeterDataSyncMonitorFunction/run").status_code == 200
    assert ended(client, "/meter-data/sync-requests/PII-S1", {"SYNCHRONIZED", "ERROR"})["status"] == "ERROR"
    answered(client.get("/meter-data/sync-requests/PII-S1"))
    # and MDM down: the delivery fails on every try until its message is dead-lettered
    down(client, "mdm")
    assert client.post("/meter-data/sync-requests", json=person("PII-S2", "PII-P2")).status_code == 202
    assert client.post("/_local/schedules/MeterDataSyncMonitorFunction/run").status_code == 200
    sqs = boto3.client("sqs", endpoint_url=runtime.aws_endpoint)
    resources = client.get("/_local/resources").json()

    def dead_lettered() -> bool:
        client.post("/_local/queues/redeliver-now")
        attributes = sqs.get_queue_attributes(
            QueueUrl=resources["MdmDeliveryDeadLetterQueue"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"]) > 0

    assert until(dead_lettered, timeout=60), "MD-01's delivery never reached its dead-letter queue"
    back(client, "mdm")
    answered(client.get("/meter-data/sync-requests/PII-S2"))

    # ------------------------------------------------------------------ CU-01: CCB refuses; CCB down (502)
    refuse(client, "ccb")
    answered(client.post("/customer/siebel/orders", json=customer_order("PII-C1")))
    down(client, "ccb")
    answered(client.post("/customer/siebel/orders", json=customer_order("PII-C2")))
    back(client, "ccb")
    assert [a.split(" ")[2] for a in answers[-2:]] != ["202:", "202:"], answers[-2:]
    answered(client.get("/customer/siebel/accounts/PII-C1-ACC"))

    # ------------------------------------------------------------------ DA-02: a DACS record written and moved
    assert client.post("/dacs/sync-requests", json=person("PII-D1", "PII-DP1")).status_code == 202
    assert client.post("/_local/schedules/DacsIncrementalExtractFunction/run").status_code == 200
    ended(client, "/dacs/sync-requests/PII-D1", {"SYNCHRONIZED", "ERROR"})
    answered(client.get("/dacs/sync-requests/PII-D1"))

    # Then the marker is in no stored reason, no answer, no acknowledgement CCB received, no execution history, no log line
    ccb_acknowledgements = [
        f"{key}: {json.dumps(record)}"
        for key, record in client.get("/_local/sim/ccb/state").json()["records"].items()
        if key.startswith(("SYNC-ACK#", "USAGE-REQUEST-STATUS#"))
    ]
    searched = {
        "stored reasons": reasons_in_tables(runtime.aws_endpoint, resources),
        "answers": answers,
        "acknowledgements to CCB": ccb_acknowledgements,
        "execution histories": execution_histories(runtime.aws_endpoint),
    }
    logs = capfd.readouterr()
    searched["log lines"] = [line for line in (logs.out + logs.err).splitlines() if line.strip()]
    assert len(searched["execution histories"]) > 10
    assert searched["stored reasons"]
    assert searched["log lines"]
    found = {where: [entry[:400] for entry in entries if MARKER in entry or PAN in entry] for where, entries in searched.items()}
    assert found == {where: [] for where in searched}, json.dumps(found, indent=1)
    # And the card number is in no item of the hub's tables either (kept masked and encrypted, docs/security.md)
    assert [item[:400] for item in items_in_tables(runtime.aws_endpoint, resources) if PAN in item] == []
