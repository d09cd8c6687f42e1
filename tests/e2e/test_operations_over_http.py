"""The operations API over HTTP with the operator's own token (OperationsTransactionsFunction): an order revision
failed by a BRM outage is found among the failed transactions, traced from OSM's intake to BRM's answers,
resubmitted through the operations API once BRM is back (which runs OC-01's own resubmission with the operator's
token), and found COMPLETED. The workflow's Retry waits run at a thousandth of their length."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from localhub.aws import sfn_waits
from tests.helpers import until

ORDER = {
    "orderId": "E2E-OPS",
    "revision": 1,
    "lines": [
        {
            "lineId": "L1",
            "action": "ADD",
            "billingType": "Service Bundle",
            "billingSystemId": "BRM1",
            "serviceAccount": {"id": "E2E-OPS-SA"},
            "billingAccount": {"id": "E2E-OPS-BA"},
            "billingProfile": {
                "id": "E2E-OPS-BP",
                "paymentMethod": "Credit Card",
                "creditCard": {"number": "4111111111111111", "expiry": "1229", "holderName": "E2E Holder"},
            },
        }
    ],
}
TRANSACTION = f"/ops/transactions/OC-01/{quote('E2E-OPS/1', safe='')}"


def state_of(client: httpx.Client) -> dict[str, Any]:
    answer = client.get(TRANSACTION)
    return answer.json() if answer.status_code == 200 else {}


def until_state(client: httpx.Client, *states: str, timeout: float = 30.0) -> dict[str, Any]:
    found = until(lambda: (body := state_of(client)).get("state") in states and body, timeout, interval=0.05)
    if not found:
        raise AssertionError(f"{TRANSACTION} did not reach {states}: {state_of(client)}")
    return found


def test_an_order_failed_by_a_brm_outage_is_found_traced_resubmitted_and_completed_through_the_operations_api(client: httpx.Client) -> None:
    with sfn_waits.scaled(0.001):
        # Given OSM's order revision failed by BRM down for longer than the workflow retries
        assert client.post("/_local/sim/brm/faults", json={"kind": "down", "count": 1000}).status_code == 201
        assert client.post("/order-to-cash/fulfillment-orders", json=ORDER).status_code == 202
        until_state(client, "FAILED")

        # When an operator finds the failed OC-01 transactions and traces the one found
        found = client.get("/ops/transactions", params={"point": "OC-01", "state": "FAILED"})
        trace = client.get(TRANSACTION)

        # Then it is there under its id, with a timeline from OSM's intake through BRM's answers to the failure
        assert found.status_code == 200, found.text
        assert [(t["point"], t["id"], t["state"]) for t in found.json()["items"]] == [("OC-01", "E2E-OPS/1", "FAILED")]
        assert trace.status_code == 200, trace.text
        hops = [(h["step"], h["system"], h["outcome"]) for h in trace.json()["timeline"]]
        assert hops[0] == ("intake", "OSM", "RUNNING")
        assert ("call POST /billing-systems/BRM1/accounts", "BRM", "HTTP 503") in hops, hops
        assert hops[-1] == ("workflow failed", "hub", "FAILED")

        # When BRM is back and the operator resubmits it through the operations API
        assert client.delete("/_local/sim/brm/faults").status_code == 204
        resubmitted = client.post(f"{TRANSACTION}/resubmission")
        assert resubmitted.status_code == 202, resubmitted.text
        assert resubmitted.json() == {"point": "OC-01", "id": "E2E-OPS/1", "state": "IN_FLIGHT"}
        done = until_state(client, "COMPLETED", "FAILED")

    # Then the transaction is COMPLETED (OC-01's SUCCEEDED), its timeline shows the resubmission and BRM's creations
    assert (done["state"], done["detailState"]) == ("COMPLETED", "SUCCEEDED"), done
    steps = [(h["step"], h["outcome"]) for h in done["timeline"]]
    assert ("resubmission", "RUNNING") in steps
    assert ("call POST /billing-systems/BRM1/accounts", "HTTP 201") in [
        (h["step"], h["outcome"]) for h in done["timeline"] if h["system"] == "BRM"
    ]
    assert steps[-1] == ("workflow succeeded", "SUCCEEDED")
    assert client.get(f"/order-to-cash/fulfillment-orders/{ORDER['orderId']}/revisions/1").json()["status"] == "SUCCEEDED"
    # and a second resubmission of a completed transaction is refused, an unknown one not found
    again = client.post(f"{TRANSACTION}/resubmission")
    assert again.status_code == 409, again.text
    assert client.post("/ops/transactions/OC-01/NOWHERE%2F1/resubmission").status_code == 404


def sync_request_state(client: httpx.Client, sync_request_id: str) -> str:
    return str(client.get(f"/meter-data/sync-requests/{sync_request_id}").json().get("status"))


def monitor_until(client: httpx.Client, sync_request_id: str, *states: str) -> str:
    def reached() -> bool:
        client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
        return sync_request_state(client, sync_request_id) in states

    if not until(reached, 30.0, interval=0.1):
        raise AssertionError(f"{sync_request_id} stayed {sync_request_state(client, sync_request_id)}, wanted {states}")
    return sync_request_state(client, sync_request_id)


def test_failed_sync_requests_are_resubmitted_by_a_filter_and_synchronized(client: httpx.Client) -> None:
    # Given two CCB person sync requests MDM refused (a negative acknowledgement each)
    assert client.post("/_local/sim/mdm/faults", json={"kind": "reject", "count": 2, "reason": "contact locked"}).status_code == 201
    for n in (1, 2):
        person = {"syncRequestId": f"E2E-OPS-{n}", "entityType": "PERSON", "entityId": f"E2E-OPS-P{n}", "changedAt": "2026-12-07T06:00:00Z"}
        assert client.post("/meter-data/sync-requests", json={**person, "data": {"name": f"Person {n}"}}).status_code == 202
    for n in (1, 2):
        assert monitor_until(client, f"E2E-OPS-{n}", "ERROR") == "ERROR"
    assert client.delete("/_local/sim/mdm/faults").status_code == 204

    # When an operator resubmits every failed MD-01 transaction through the operations API
    answer = client.post("/ops/transactions:resubmit", json={"point": "MD-01", "state": "FAILED"})

    # Then both were resubmitted (their pack's own resubmission, with the operator's token) and are synchronized,
    # and the operations API sees them COMPLETED with nothing FAILED left
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"resubmitted": 2, "refused": [], "failed": []}
    for n in (1, 2):
        assert monitor_until(client, f"E2E-OPS-{n}", "SYNCHRONIZED") == "SYNCHRONIZED"
    completed = client.get("/ops/transactions", params={"point": "MD-01", "state": "COMPLETED"}).json()["items"]
    assert sorted(t["id"] for t in completed) == ["E2E-OPS-1", "E2E-OPS-2"]
    assert client.get("/ops/transactions", params={"point": "MD-01", "state": "FAILED"}).json()["items"] == []
    # and a second bulk resubmission finds nothing to do
    assert client.post("/ops/transactions:resubmit", json={"point": "MD-01", "state": "FAILED"}).json() == {
        "resubmitted": 0,
        "refused": [],
        "failed": [],
    }
