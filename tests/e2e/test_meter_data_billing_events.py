"""MD-13, MD-16, MD-17, MD-19, MD-20 and MD-21 over HTTP with real tokens: MDM's own client and scope for what MDM sends,
CCB's for the rest; the MDM simulator sending through the API; the queue pollers delivering to CCB and MDM."""

from __future__ import annotations

import time
from typing import Any

import httpx

from localhub.server import LocalRuntime
from tests.helpers import bearer, until

READS = {
    "notificationId": "E2E-RR1",
    "saId": "SA-E2E",
    "usageTransactionId": "UT-E2E",
    "periodStart": "2026-10-01",
    "periodEnd": "2026-10-31",
}


def held(client: httpx.Client, system: str, pick: Any, timeout: float = 60.0) -> Any:
    return until(lambda: pick(client.get(f"/_local/sim/{system}/state").json()), timeout)


def test_mdm_and_ccb_each_post_their_own_events_with_their_own_scope(
    runtime: LocalRuntime, anonymous: httpx.Client, client: httpx.Client
) -> None:
    # Given MDM's client (meter-data-ack, meter-data-mdm) and CCB's (meter-data)
    mdm = bearer(anonymous, "mdm")
    ccb = bearer(anonymous, "ccb")
    status = {"eventId": "E2E-BS1", "event": "SEGMENT_CANCELED", "at": "2026-11-05T10:00:00Z"}

    # When each posts its own event, and the other's
    reads = anonymous.post("/meter-data/replacement-reads", json=READS, headers=mdm)
    bill = anonymous.post("/meter-data/usage-transactions/UT-E2E/bill-status", json=status, headers=ccb)
    wrong = [
        anonymous.post("/meter-data/replacement-reads", json=READS, headers=ccb).status_code,
        anonymous.post("/meter-data/usage-transactions/UT-E2E/bill-status", json=status, headers=mdm).status_code,
    ]

    # Then their own are accepted and delivered by the queue pollers; the other's are 403
    assert (reads.status_code, bill.status_code) == (202, 202)
    assert wrong == [403, 403]
    assert held(client, "ccb", lambda s: s["records"].get("OFF_CYCLE_BILL#E2E-RR1"))["saId"] == "SA-E2E"
    assert held(client, "mdm", lambda s: s["billing"]["usedOnBill"].get("UT-E2E"))["usedOnBill"] is False


def test_the_mdm_simulator_sends_a_bill_cycle_change_through_the_api(client: httpx.Client) -> None:
    # Given the MDM simulator's URL
    mdm_url = client.get("/_local/health").json()["simulators"]["MDM"]

    # When MDM's user changes a service point's bill cycle
    change = {"changeId": "E2E-BCC1", "servicePointId": "SP-E2E", "billCycle": "BC03", "effectiveDate": "2026-12-01"}
    sent = httpx.post(f"{mdm_url}/outbound/bill-cycle-changes", json=change, timeout=30).json()

    # Then the hub accepted it, and CCB holds the service point's new bill cycle
    assert sent["hubStatus"] == 202, sent
    assert held(client, "ccb", lambda s: s["records"].get("SP_BILL_CYCLE#SP-E2E")) == {"billCycle": "BC03", "effectiveDate": "2026-12-01"}


def test_navigation_links_over_http(client: httpx.Client) -> None:
    # When CCB asks the links of a meter with an id holding a slash, and of an entity type with none
    meter = client.get("/meter-data/links", params={"entityType": "METER", "entityId": "M/1"})
    unknown = client.get("/meter-data/links", params={"entityType": "BILL", "entityId": "B-1"})

    # Then the device link with the id quoted, and a 422 naming entityType
    assert meter.status_code == 200
    assert meter.json()["links"][0]["href"].endswith("externalId=M%2F1")
    assert (unknown.status_code, unknown.json()["errors"][0]["pointer"]) == (422, "#/entityType")


def test_sa_activation_bill_cycle_and_a_usage_adjustment_over_http_once_mdm_holds_the_sa(client: httpx.Client) -> None:
    import json
    from pathlib import Path

    samples = Path(__file__).resolve().parents[2] / "events" / "meter_data"

    def sample_body(name: str) -> Any:
        return json.loads(json.loads((samples / name).read_text(encoding="utf-8"))["body"])

    # Given CCB's person P-0001, service point SP-0001 and SA-0001 synchronized to MDM over HTTP
    for name in ("person", "service-point", "service-agreement"):
        assert client.post("/meter-data/sync-requests", json=sample_body(f"sync_requests/submit-{name}.json")).status_code == 202
    for _ in range(40):
        client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
        if client.get("/meter-data/sync-requests/SR-3001").json().get("status") == "SYNCHRONIZED":
            break
        time.sleep(0.1)
    assert client.get("/meter-data/sync-requests/SR-3001").json()["status"] == "SYNCHRONIZED"

    # When CCB activates the SA and asks its bill cycle (MD-19), and Customer Self Service adjusts its usage (MD-17)
    cycle = client.post("/meter-data/bill-cycle-requests", json={"saId": "SA-0001", "servicePointId": "SP-0001"})
    unknown = client.post("/meter-data/bill-cycle-requests", json={"saId": "SA-9999", "servicePointId": "SP-0001"})
    adjustment = sample_body("usage_adjustments/usage-adjustment.json")
    adjusted = client.post("/meter-data/usage-adjustments", json=adjustment)
    again = client.post("/meter-data/usage-adjustments", json=adjustment)

    # Then MDM's answers come back: the service point's bill cycle, a 404 for an SA MDM does not hold, and one
    # adjustment made once (the same adjustment id again answers the same)
    assert cycle.status_code == 200, cycle.text
    assert cycle.json() == {"saId": "SA-0001", "servicePointId": "SP-0001", "billCycle": "BC01"}
    assert unknown.status_code == 404
    assert adjusted.status_code == 200, adjusted.text
    assert (adjusted.json()["status"], again.json()) == ("APPLIED", adjusted.json())
    assert list(client.get("/_local/sim/mdm/state").json()["billing"]["usageAdjustments"]) == ["CSS-ADJ-4001"]
