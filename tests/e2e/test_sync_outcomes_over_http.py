"""CCB hears the outcome of what it sent, over HTTP with real tokens: a person refused by MDM, resubmitted and
synchronized, and a service point synchronized to ODM, each outcome reaching CCB's simulator once, in order, through the
queue pollers of the local runtime (SyncRequestsCcbOutcomesFunction on CcbOutcomeQueue)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import until


def acknowledgements(client: httpx.Client, sync_request_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (
        client.get("/_local/sim/ccb/state").json()["records"].get(f"SYNC-ACK#{sync_request_id}", {}).get("acknowledgements", [])
    )
    return found


def told(client: httpx.Client, sync_request_id: str, count: int) -> list[dict[str, Any]]:
    """CCB's acknowledgements of the request once it holds ``count`` of them, or as they are after the wait."""
    found = until(lambda: len(acks := acknowledgements(client, sync_request_id)) >= count and acks, 30, 0.1)
    return found or acknowledgements(client, sync_request_id)


def person(sync_request_id: str) -> dict[str, Any]:
    return {
        "syncRequestId": sync_request_id,
        "entityType": "PERSON",
        "entityId": "P-E2E-O1",
        "changedAt": "2026-11-20T09:00:00Z",
        "data": {"name": "Ada Lovelace"},
    }


def test_ccb_hears_each_outcome_of_its_sync_requests_once_in_order(client: httpx.Client) -> None:
    # Given MDM refusing CCB's person once
    assert client.post("/_local/sim/mdm/faults", json={"kind": "reject", "count": 1, "reason": "contact locked in MDM"}).status_code == 201
    assert client.post("/meter-data/sync-requests", json=person("E2E-SR-O1")).status_code == 202

    # When it is sent at its intake, with no monitor run (ERROR), CCB resubmits it and the monitor's run sends it again
    # (SYNCHRONIZED; a resubmitted request waits for the monitor)
    failed = until(lambda: (v := client.get("/meter-data/sync-requests/E2E-SR-O1").json())["status"] == "ERROR" and v, 30, 0.1)
    assert failed, client.get("/meter-data/sync-requests/E2E-SR-O1").text
    assert [a["result"] for a in told(client, "E2E-SR-O1", 1)] == ["NEGATIVE"]
    assert client.post("/meter-data/sync-requests/E2E-SR-O1/resubmission").status_code == 202
    assert client.post("/_local/schedules/MeterDataSyncMonitorFunction/run").status_code == 200

    # Then CCB holds NEGATIVE (MDM's reason) then POSITIVE, as the hub's history has them
    acks = told(client, "E2E-SR-O1", 2)
    steps = client.get("/meter-data/sync-requests/E2E-SR-O1").json()["history"]
    assert [h["status"] for h in steps] == ["PENDING", "SENT", "ERROR", "PENDING", "SENT", "SYNCHRONIZED"]
    assert [(a["result"], a["target"], a["reason"]) for a in acks] == [
        ("NEGATIVE", "MDM", "contact locked in MDM"),
        ("POSITIVE", "MDM", steps[-1]["reason"]),
    ]

    # And a service point synchronized to ODM (FW-06) is told once, with ODM as its target
    sp = {"syncRequestId": "E2E-FW6-O1", "entityType": "SERVICE_POINT", "entityId": "SP-E2E-O1", "changedAt": "2026-11-20T09:00:00Z"}
    # (sent at its intake: no monitor run)
    assert client.post("/field-work/sync-requests", json={**sp, "data": {"premiseId": "PR-0101", "spType": "E-RES"}}).status_code == 202
    [ack] = told(client, "E2E-FW6-O1", 1)
    assert (ack["result"], ack["target"], ack["entityType"]) == ("POSITIVE", "ODM", "SERVICE_POINT")

    # And nothing more came meanwhile: each request's outcomes, each once (a repeat is counted by CCB's record: its
    # acknowledgements are kept once each; the calls themselves are counted in tests/integration/test_sync_outcomes_to_ccb.py)
    assert [a["result"] for a in acknowledgements(client, "E2E-SR-O1")] == ["NEGATIVE", "POSITIVE"]
    assert len(acknowledgements(client, "E2E-FW6-O1")) == 1
