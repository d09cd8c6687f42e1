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
                "billingProfile": {
                    "id": "E2E-RS-BP",
                    "paymentMethod": "Credit Card",
                    "creditCard": {"number": "4111111111111111", "expiry": "1229", "holderName": "E2E Holder"},
                },
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


def order_revision(revision: int, bill_to: str, prior_bill_to: str | None) -> dict[str, Any]:
    line: dict[str, Any] = {
        "lineId": "L1",
        "action": "UPDATE" if prior_bill_to else "ADD",
        "billingType": "Service Bundle",
        "billingSystemId": "BRM1",
        "serviceAccount": {"id": "E2E-RO-SA"},
        "billingAccount": {"id": bill_to},
        "billingProfile": {"id": f"{bill_to}-BP", "paymentMethod": "Invoice"},
    }
    if prior_bill_to:
        line["priorValues"] = {"billingAccountId": prior_bill_to, "billingProfileId": f"{prior_bill_to}-BP"}
    return {"orderId": "E2E-RO", "revision": revision, "lines": [line]}


def revision_ended(client: httpx.Client, revision: int) -> dict[str, Any]:
    path = f"/order-to-cash/fulfillment-orders/E2E-RO/revisions/{revision}"
    ended = until(lambda: (body := client.get(path).json()).get("status") in ("SUCCEEDED", "FAILED") and body, 30.0, interval=0.05)
    if not ended:
        raise AssertionError(f"{path} did not end: {client.get(path).json()}")
    return ended  # type: ignore[no-any-return]


def parent_of(client: httpx.Client, account_no: str) -> str | None:
    accounts = client.get("/_local/sim/brm/state").json()["records"]["BRM1"]["accounts"]
    by_poid = {a["poid"]: a["accountNo"] for a in accounts.values()}
    account = next(a for a in accounts.values() if a["accountNo"] == account_no)
    return by_poid.get(account.get("parentPoid"))


def test_order_revisions_out_of_order_are_refused_over_http_and_never_revert_the_hierarchy(client: httpx.Client) -> None:
    # Given revision 1 (the service account under E2E-RO-BA1) and revision 3 (moved under E2E-RO-BA2), both applied
    assert client.post("/order-to-cash/fulfillment-orders", json=order_revision(1, "E2E-RO-BA1", None)).status_code == 202
    assert revision_ended(client, 1)["status"] == "SUCCEEDED"
    assert client.post("/order-to-cash/fulfillment-orders", json=order_revision(3, "E2E-RO-BA2", "E2E-RO-BA1")).status_code == 202
    assert revision_ended(client, 3)["status"] == "SUCCEEDED"
    assert parent_of(client, "E2E-RO-SA") == "E2E-RO-BA2"
    # When revision 2, which would move it back, arrives last
    late = client.post("/order-to-cash/fulfillment-orders", json=order_revision(2, "E2E-RO-BA1", "E2E-RO-BA2"))
    # Then it is a 409 naming the later revision, it was never started, and the hierarchy is revision 3's
    assert late.status_code == 409, late.text
    assert late.headers["content-type"] == "application/problem+json"
    assert "revision 3" in late.json()["detail"]
    assert client.get("/order-to-cash/fulfillment-orders/E2E-RO/revisions/2").status_code == 404
    assert parent_of(client, "E2E-RO-SA") == "E2E-RO-BA2"


def brm_records(client: httpx.Client) -> dict[str, Any]:
    return client.get("/_local/sim/brm/state").json()["records"]["BRM1"]  # type: ignore[no-any-return]


def ended(client: httpx.Client, order_id: str, revision: int) -> dict[str, Any]:
    path = f"/order-to-cash/fulfillment-orders/{order_id}/revisions/{revision}"
    body = until(lambda: (answer := client.get(path).json()).get("status") in ("SUCCEEDED", "FAILED") and answer, 30.0, interval=0.05)
    if not body:
        raise AssertionError(f"{path} did not end: {client.get(path).json()}")
    return body  # type: ignore[no-any-return]


def test_an_update_line_without_prior_values_is_422_over_http(client: httpx.Client) -> None:
    order = order_revision(1, "E2E-PV-BA", "E2E-PV-OLD")
    order["orderId"] = "E2E-PV"
    del order["lines"][0]["priorValues"]
    response = client.post("/order-to-cash/fulfillment-orders", json=order)
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["#/lines/0/priorValues"]
    assert client.get("/order-to-cash/fulfillment-orders/E2E-PV/revisions/1").status_code == 404


def test_brm_gets_the_whole_account_and_the_profile_moves_with_a_billing_account_change_over_http(client: httpx.Client) -> None:
    account = {
        "id": "E2E-BM-BA1",
        "name": "Grace Hopper",
        "address": {"line1": "1 Compiler Way", "city": "Arlington", "state": "VA", "postalCode": "22201", "country": "USA"},
        "contact": {"firstName": "Grace", "lastName": "Hopper", "emailAddress": "grace@example.com"},
    }
    profile = {
        "id": "E2E-BM-BP",
        "paymentMethod": "Credit Card",
        "creditCard": {"number": "4111111111111111", "expiry": "1229", "holderName": "Grace Hopper"},
    }
    line = {
        "lineId": "L1",
        "action": "ADD",
        "billingType": "Service Bundle",
        "billingSystemId": "BRM1",
        "serviceAccount": {"id": "E2E-BM-SA"},
        "billingAccount": account,
        "billingProfile": profile,
    }
    # Given an order that creates the accounts and the credit card profile
    assert client.post("/order-to-cash/fulfillment-orders", json={"orderId": "E2E-BM", "revision": 1, "lines": [line]}).status_code == 202
    assert ended(client, "E2E-BM", 1)["status"] == "SUCCEEDED"
    records = brm_records(client)
    created = next(a for a in records["accounts"].values() if a["accountNo"] == "E2E-BM-BA1")
    # Then BRM holds the account's name, address and contact, and the card
    assert created["nameinfo"][0] == {
        "company": "Grace Hopper",
        "firstName": "Grace",
        "lastName": "Hopper",
        "address": "1 Compiler Way",
        "city": "Arlington",
        "state": "VA",
        "zip": "22201",
        "country": "USA",
        "emailAddr": "grace@example.com",
        "phones": [],
    }
    payinfo = next(p for p in records["payinfos"].values() if p["payInfoId"] == "E2E-BM-BP")
    assert (payinfo["payType"], payinfo["ccInfo"]["debitNum"], payinfo["ccInfo"]["debitExp"]) == (10003, "4111111111111111", "1229")
    # When a revision's UPDATE line bills the service and its profile to another account, flagged by the prior value
    moved = {**line, "action": "UPDATE", "billingAccount": {"id": "E2E-BM-BA2"}, "priorValues": {"billingAccountId": "E2E-BM-BA1"}}
    assert client.post("/order-to-cash/fulfillment-orders", json={"orderId": "E2E-BM", "revision": 2, "lines": [moved]}).status_code == 202
    body = ended(client, "E2E-BM", 2)
    # Then the profile's /payinfo and /billinfo moved to it, and the service account with them
    assert body["status"] == "SUCCEEDED", body
    assert {(c["type"], c["change"], c["previousAccount"]) for c in body["result"]["changed"]} == {
        ("payinfo", "MOVED", "E2E-BM-BA1"),
        ("billinfo", "MOVED", "E2E-BM-BA1"),
    }
    records = brm_records(client)
    owner = next(a["poid"] for a in records["accounts"].values() if a["accountNo"] == "E2E-BM-BA2")
    assert {b["accountPoid"] for b in records["billinfos"].values() if b["billInfoId"] == "E2E-BM-BP"} == {owner}
    assert parent_of(client, "E2E-BM-SA") == "E2E-BM-BA2"
