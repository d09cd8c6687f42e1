"""MD-11, MD-12, MD-14 and MD-15 over HTTP with real tokens: the routes' scope, a bill run posted twice and worked
by the queue pollers through the MDM simulator to the CCB simulator, and the synchronous points' arithmetic."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from localhub.server import LocalRuntime
from tests.helpers import bearer, until

# CCB's service type codes: the determinants it holds carry the SA's service type in them, the result the hub's
CCB_SERVICE_TYPE = {"ELECTRIC": "E", "GAS": "G", "WATER": "W"}


def as_ccb_holds(usage_request_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """A usage request's result as CCB holds its determinants: under the request, the service type in CCB's code."""
    return {"usageRequestId": usage_request_id, **result, "serviceType": CCB_SERVICE_TYPE[result["serviceType"]]}


PERIOD = {"periodStart": "2026-10-01", "periodEnd": "2026-11-01"}


def status_of(client: httpx.Client, usage_request_id: str, wanted: set[str], timeout: float = 20.0) -> dict[str, Any]:
    """The usage request once its status is one of ``wanted``, or as it is when ``timeout`` seconds pass first."""
    path = f"/meter-data/usage-requests/{usage_request_id}"
    found = until(lambda: (body := client.get(path).json())["status"] in wanted and body, timeout)
    return found or client.get(path).json()  # type: ignore[no-any-return]


def kwh(determinants: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {d["touPeriod"]: Decimal(str(d["quantity"])) for d in determinants if d["uom"] == "KWH"}


def test_the_usage_routes_need_the_meter_data_scope(runtime: LocalRuntime, anonymous: httpx.Client) -> None:
    # Given MDM's client (no meter-data scope) and no token at all
    mdm = bearer(anonymous, "mdm")
    body = {"usageRequestId": "E2E-UR0", "saId": "SA-00001", **PERIOD}

    # When each usage route is called with them
    calls = [
        ("POST", "/meter-data/usage-requests", body),
        ("POST", "/meter-data/usage-requests:batch", {"requests": [body]}),
        ("GET", "/meter-data/usage-requests/E2E-UR0", None),
        ("POST", "/meter-data/usage-requests/E2E-UR0/resubmission", None),
        ("POST", "/meter-data/bill-determinants", {"saId": "SA-00001", **PERIOD}),
        ("POST", "/meter-data/usage", {"saId": "SA-00001", **PERIOD}),
        ("GET", "/meter-data/registers/R-00001/read-boundaries?readAt=2026-06-01T05:00:00Z", None),
    ]
    with_mdm = [anonymous.request(method, path, json=json, headers=mdm).status_code for method, path, json in calls]
    without = [anonymous.request(method, path, json=json).status_code for method, path, json in calls]

    # Then every one is 403 with MDM's token and 401 without one
    assert with_mdm == [403] * len(calls)
    assert without == [401] * len(calls)


def test_a_bill_run_posted_twice_is_billed_once_at_ccb(client: httpx.Client) -> None:
    # Given a bill run of four usage requests (one with intervals) and a single one, each posted twice
    run: list[dict[str, Any]] = [
        {"usageRequestId": f"E2E-UR{n}", "saId": f"SA-0020{n}", **PERIOD, "includeIntervals": n == 1} for n in range(1, 5)
    ]
    single: dict[str, Any] = {"usageRequestId": "E2E-UR9", "saId": "SA-00209", **PERIOD}
    batches = [client.post("/meter-data/usage-requests:batch", json={"requests": run}) for _ in range(2)]
    singles = [client.post("/meter-data/usage-requests", json=single) for _ in range(2)]

    # When the queue pollers work them
    done = [status_of(client, r["usageRequestId"], {"COMPLETED", "ERROR"}) for r in [*run, single]]

    # Then both posts were accepted (the second creating nothing), every request is COMPLETED, the intervals and the
    # buckets add up to the total, and CCB holds each request's determinants once, as the hub recorded them
    assert [b.status_code for b in batches] == [202, 202]
    assert [b.json()["accepted"] for b in batches] == [4, 0]
    assert [s.status_code for s in singles] == [202, 202]
    assert [d["status"] for d in done] == ["COMPLETED"] * 5
    with_intervals = done[0]["result"]
    buckets = kwh(with_intervals["determinants"])
    total = buckets.pop("TOTAL")
    assert sum(buckets.values()) == total
    assert sum(Decimal(str(i["kwh"])) for i in with_intervals["intervals"]) == total
    ccb = client.get("/_local/sim/ccb/state").json()
    for found in done:
        held = ccb["records"][f"BILL_DETERMINANTS#{found['usageRequestId']}"]["determinants"]
        assert held == as_ccb_holds(found["usageRequestId"], found["result"])
    assert ccb["usageRequestsReceivedTwice"] == []


def test_a_bill_run_request_for_an_sa_mdm_does_not_hold_ends_in_error_with_mdms_reason(client: httpx.Client) -> None:
    # When a usage request names an SA MDM does not hold
    posted = client.post("/meter-data/usage-requests", json={"usageRequestId": "E2E-UR404", "saId": "SA-99999", **PERIOD})
    found = status_of(client, "E2E-UR404", {"COMPLETED", "ERROR"})

    # Then it is accepted, then ERROR with MDM's 404, and CCB got nothing for it
    assert posted.status_code == 202
    assert found["status"] == "ERROR"
    assert "MDM refused it: HTTP 404" in found["history"][-1]["reason"]
    assert "BILL_DETERMINANTS#E2E-UR404" not in client.get("/_local/sim/ccb/state").json()["records"]


def test_a_usage_request_ccb_refused_is_resubmitted_and_billed_once(client: httpx.Client) -> None:
    # Given a usage request whose determinants CCB refused once: ERROR with CCB's reason
    assert client.post("/_local/sim/ccb/faults", json={"kind": "reject", "count": 1, "reason": "bill segment locked"}).status_code in (
        200,
        201,
    )
    posted = client.post("/meter-data/usage-requests", json={"usageRequestId": "E2E-UR-RS", "saId": "SA-00301", **PERIOD})
    failed = status_of(client, "E2E-UR-RS", {"COMPLETED", "ERROR"})
    assert (posted.status_code, failed["status"]) == (202, "ERROR")

    # When an operator resubmits it
    answer = client.post("/meter-data/usage-requests/E2E-UR-RS/resubmission")
    done = status_of(client, "E2E-UR-RS", {"COMPLETED"})

    # Then it runs again and is COMPLETED, CCB holding its determinants once; a second resubmission is a 409
    assert answer.status_code == 202
    assert answer.json() == {"usageRequestId": "E2E-UR-RS", "status": "PENDING"}
    assert done["status"] == "COMPLETED"
    ccb = client.get("/_local/sim/ccb/state").json()
    assert ccb["records"]["BILL_DETERMINANTS#E2E-UR-RS"]["determinants"] == as_ccb_holds("E2E-UR-RS", done["result"])
    assert client.post("/meter-data/usage-requests/E2E-UR-RS/resubmission").status_code == 409


def test_online_determinants_usage_and_read_boundaries_add_up(client: httpx.Client) -> None:
    # When CCB asks MD-12 determinants with intervals, MD-15 usage with a rate comparison, and MD-14 boundaries
    determinants = client.post("/meter-data/bill-determinants", json={"saId": "SA-00301", **PERIOD, "includeIntervals": True})
    usage = client.post("/meter-data/usage", json={"saId": "SA-00301", **PERIOD, "ratePlans": ["RES-FLAT", "RES-TOU"]})
    boundaries = client.get("/meter-data/registers/R-00301/read-boundaries", params={"readAt": "2026-06-01T05:00:00Z"})

    # Then each is 200; MD-12's buckets and intervals add up to its total, MD-15 has the same total and a
    # comparison per rate plan whose lines add up to its charge, and MD-14 has low <= estimate <= high
    assert [determinants.status_code, usage.status_code, boundaries.status_code] == [200, 200, 200]
    buckets = kwh(determinants.json()["determinants"])
    total = buckets.pop("TOTAL")
    assert sum(buckets.values()) == total
    assert sum(Decimal(str(i["kwh"])) for i in determinants.json()["intervals"]) == total
    assert Decimal(str(usage.json()["totalKwh"])) == total
    comparison = usage.json()["comparison"]
    assert [c["ratePlan"] for c in comparison] == ["RES-FLAT", "RES-TOU"]
    for plan in comparison:
        assert sum(Decimal(str(line["amount"])) for line in plan["lines"]) == Decimal(str(plan["charge"]))
    read = boundaries.json()
    assert Decimal(str(read["low"])) <= Decimal(str(read["estimate"])) <= Decimal(str(read["high"]))


def test_bad_input_and_mdm_down_over_http(client: httpx.Client) -> None:
    # Given MDM down for its next two calls
    assert client.post("/_local/sim/mdm/faults", json={"kind": "down", "count": 2}).status_code in (200, 201)

    # When CCB asks determinants (MDM down), then for a period that ends before it starts, then for an unknown SA
    down = client.post("/meter-data/bill-determinants", json={"saId": "SA-00302", **PERIOD})
    backwards = client.post(
        "/meter-data/bill-determinants", json={"saId": "SA-00302", "periodStart": "2026-11-01", "periodEnd": "2026-10-01"}
    )
    unknown = client.post("/meter-data/usage", json={"saId": "SA-99999", **PERIOD})

    # Then a 502 naming MDM, a 422 naming the period's end, a 404 passed on from MDM
    assert down.status_code == 502
    assert "MDM" in down.json()["detail"]
    assert (backwards.status_code, backwards.json()["errors"][0]["pointer"]) == (422, "#/periodEnd")
    assert unknown.status_code == 404


def sync(client: httpx.Client, request: dict[str, Any]) -> dict[str, Any]:
    """A master data sync request posted, the monitor run until it is synchronized; its state."""
    assert client.post("/meter-data/sync-requests", json=request).status_code == 202
    path = f"/meter-data/sync-requests/{request['syncRequestId']}"

    def synchronized() -> Any:
        client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
        return (body := client.get(path).json())["status"] == "SYNCHRONIZED" and body

    return until(synchronized, 30, 0.5) or client.get(path).json()


def test_a_gas_sa_synchronized_over_http_is_billed_in_therms_and_a_water_sa_s_usage_is_in_gallons(client: httpx.Client) -> None:
    # Given a service point and a gas SA on it (the hub's service type code) synchronized to MDM
    changed = "2026-11-20T09:50:00Z"
    point = {
        "syncRequestId": "E2E-GAS-SP",
        "entityType": "SERVICE_POINT",
        "entityId": "E2E-GSP-1",
        "changedAt": changed,
        "data": {"premiseId": "PR-G1"},
    }
    sa = {"accountId": "AC-G1", "servicePointIds": ["E2E-GSP-1"], "serviceType": "GAS"}
    agreement = {
        "syncRequestId": "E2E-GAS-SA",
        "entityType": "SERVICE_AGREEMENT",
        "entityId": "E2E-GSA-1",
        "changedAt": changed,
        "data": sa,
    }
    assert sync(client, point)["status"] == "SYNCHRONIZED"
    assert sync(client, agreement)["status"] == "SYNCHRONIZED"

    # When CCB asks its online determinants and its bill run asks them too
    online = client.post("/meter-data/bill-determinants", json={"saId": "E2E-GSA-1", **PERIOD})
    assert (
        client.post("/meter-data/usage-requests", json={"usageRequestId": "E2E-UR-GAS", "saId": "E2E-GSA-1", **PERIOD}).status_code == 202
    )
    done = status_of(client, "E2E-UR-GAS", {"COMPLETED", "ERROR"})

    # Then both are one total in therms with neither time of use nor demand, the same at CCB
    assert online.status_code == 200, online.text
    assert (online.json()["serviceType"], online.json()["uom"]) == ("GAS", "THERM")
    assert [(d["uom"], d["touPeriod"]) for d in online.json()["determinants"]] == [("THERM", "TOTAL")]
    assert "peakDemandKw" not in online.json()
    assert done["status"] == "COMPLETED", done
    assert done["result"]["determinants"] == online.json()["determinants"]
    ccb = client.get("/_local/sim/ccb/state").json()
    assert ccb["records"]["BILL_DETERMINANTS#E2E-UR-GAS"]["determinants"]["uom"] == "THERM"

    # And a water SA's bill-to-date is in gallons, its days adding up, no buckets, with the estimate to its bill period's end
    water = client.post(
        "/meter-data/usage",
        json={
            "saId": "SA-W0301",
            "periodStart": "2026-11-01",
            "periodEnd": "2026-11-16",
            "ratePlans": ["WATER-RES"],
            "billPeriodEnd": "2026-12-01",
        },
    )
    assert water.status_code == 200, water.text
    found = water.json()
    assert (found["serviceType"], found["uom"], found["touBuckets"]) == ("WATER", "GAL", [])
    assert sum(Decimal(str(d["quantity"])) for d in found["daily"]) == Decimal(str(found["total"]))
    assert found["estimate"]["periodEnd"] == "2026-12-01"
    assert Decimal(str(found["estimate"]["total"])) > Decimal(str(found["total"]))


def test_an_electric_sa_over_http_keeps_its_kwh_time_of_use_and_demand(client: httpx.Client) -> None:
    found = client.post("/meter-data/bill-determinants", json={"saId": "SA-00302", **PERIOD}).json()
    assert (found["serviceType"], found["uom"]) == ("ELECTRIC", "KWH")
    assert set(kwh(found["determinants"])) == {"TOTAL", "ON_PEAK", "SHOULDER", "OFF_PEAK"}
    assert found["peakDemandKw"] > 0
