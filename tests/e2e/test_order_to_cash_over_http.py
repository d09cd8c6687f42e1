"""OC-01 resubmission and OC-02 over HTTP with a real token: an order revision failed by a BRM outage longer
than the workflow's retries is resubmitted once BRM is back, and ends SUCCEEDED with each BRM object created
once. The workflow's Retry waits (minutes long on AWS) run at a thousandth of their length."""

from __future__ import annotations

from typing import Any

import httpx

from localhub.aws import sfn_waits
from tests.helpers import until

REVISION = "/order-to-cash/fulfillment-orders/E2E-RS/revisions/1"


def until_ended(client: httpx.Client, timeout: float = 30.0) -> dict[str, Any]:
    ended = until(lambda: (body := client.get(REVISION).json()).get("status") in ("SUCCEEDED", "FAILED") and body, timeout, interval=0.05)
    if not ended:
        raise AssertionError(f"{REVISION} did not end: {client.get(REVISION).json()}")
    return ended  # type: ignore[no-any-return]


def test_a_revision_failed_by_a_brm_outage_is_resubmitted_over_http_and_succeeds(client: httpx.Client) -> None:
    order = {
        "orderId": "E2E-RS",
        "revision": 1,
        "lines": [
            {
                "lineId": "L1",
                "action": "ADD",
                "billingType": "Service Bundle",
                "billingSystemId": "BRM1",
                "serviceAccount": {"id": "E2E-RS-SA"},
                "billingAccount": {"id": "E2E-RS-BA"},
                "billingProfile": {"id": "E2E-RS-BP", "paymentMethod": "Credit Card"},
            }
        ],
    }
    with sfn_waits.scaled(0.001):
        # Given BRM goes down after the bill-to account is created, for longer than the workflow retries
        assert client.post("/_local/sim/brm/faults", json={"kind": "down", "count": 1000, "after": 1}).status_code == 201
        assert client.post("/order-to-cash/fulfillment-orders", json=order).status_code == 202
        failed = until_ended(client)
        assert (failed["status"], failed["attempt"], failed["error"]["error"]) == ("FAILED", 1, "TargetUnavailable"), failed
        # When BRM is back and OSM resubmits the revision
        assert client.delete("/_local/sim/brm/faults").status_code == 204
        resubmitted = client.post(f"{REVISION}/resubmission", headers={"Idempotency-Key": "e2e-rs-1"})
        assert resubmitted.status_code == 202, resubmitted.text
        assert resubmitted.json() == {"orderId": "E2E-RS", "revision": 1, "status": "RUNNING", "attempt": 2}
        done = until_ended(client)
    # Then the revision's latest attempt SUCCEEDED, and BRM holds each object once, in the paying hierarchy
    assert (done["status"], done["attempt"]) == ("SUCCEEDED", 2), done
    created = sorted(f"{o['type']}:{o['sourceId']}" for o in done["result"]["created"])
    assert created == ["account:E2E-RS-BA", "account:E2E-RS-SA", "billinfo:E2E-RS-BP", "payinfo:E2E-RS-BP"]
    records = client.get("/_local/sim/brm/state").json()["records"]["BRM1"]
    assert sorted(a["accountNo"] for a in records["accounts"].values()) == ["E2E-RS-BA", "E2E-RS-SA"]
    assert [b["billInfoId"] for b in records["billinfos"].values()] == ["E2E-RS-BP"]
    assert [(p["payInfoId"], p["payType"]) for p in records["payinfos"].values()] == [("E2E-RS-BP", 10003)]
    accounts = {a["accountNo"]: a for a in records["accounts"].values()}
    assert accounts["E2E-RS-SA"]["parentPoid"] == accounts["E2E-RS-BA"]["poid"]
    # and the revision, now SUCCEEDED, is not resubmitted again
    again = client.post(f"{REVISION}/resubmission")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
