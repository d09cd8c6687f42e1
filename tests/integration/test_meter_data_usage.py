"""MD-12 online bill determinants, MD-14 register read boundaries and MD-15 usage: synchronous reads at
MDM within the route's time budget; MDM's 404 passed on, 502 when it fails, 504 when it is slow; bad
periods refused at the hub. The usage function in-process, the MDM simulator over HTTP."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from localhub.hub import ApiResponse, LocalHub
from localhub.simulators import mdm_usage
from tests.conftest import sample_event
from tests.helpers import JSON, assert_within_budget, call_limits, post_json

CLAIMS = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
USAGE = "MeterDataUsageFunction"


def post(hub: LocalHub, path: str, body: dict[str, Any]) -> ApiResponse:
    return post_json(hub, path, body, CLAIMS)


def run_sample(hub: LocalHub, name: str) -> tuple[int, dict[str, Any]]:
    result = hub.invoke(USAGE, sample_event(f"meter_data/usage/{name}")).result
    return result["statusCode"], json.loads(result["body"])


def _d(value: float) -> Decimal:
    return Decimal(str(value))


def test_online_bill_determinants_add_up_with_and_without_intervals(hub: LocalHub) -> None:
    # Given the two sample requests: October without intervals, two days of November with them
    status, month = run_sample(hub, "bill-determinants.json")
    status_intervals, days = run_sample(hub, "bill-determinants-with-intervals.json")

    # Then both are answered, the buckets add up to the total, and so do the 192 intervals
    assert (status, status_intervals) == (200, 200)
    assert "intervals" not in month
    for answer in (month, days):
        kwh = {d["touPeriod"]: _d(d["quantity"]) for d in answer["determinants"] if d["uom"] == "KWH"}
        assert kwh["ON_PEAK"] + kwh["SHOULDER"] + kwh["OFF_PEAK"] == kwh["TOTAL"] > 0
    assert len(days["intervals"]) == 192
    assert sum(_d(i["kwh"]) for i in days["intervals"]) == next(
        _d(d["quantity"]) for d in days["determinants"] if d["touPeriod"] == "TOTAL"
    )
    assert _d(days["peakDemandKw"]) == max(_d(i["kwh"]) for i in days["intervals"]) * 4


def test_usage_with_a_comparison_per_rate_plan(hub: LocalHub) -> None:
    # Given a self-service rate comparison for September under three plans
    status, body = run_sample(hub, "usage-rate-comparison.json")

    # Then usage comes with a charge per plan, each the sum of its lines, and the days add up to the total
    assert status == 200
    assert [c["ratePlan"] for c in body["comparison"]] == ["RES-FLAT", "RES-TOU", "RES-DEMAND"]
    for plan in body["comparison"]:
        assert sum(_d(line["amount"]) for line in plan["lines"]) == _d(plan["charge"])
    assert len(body["daily"]) == 30
    assert sum(_d(d["kwh"]) for d in body["daily"]) == _d(body["totalKwh"])


def test_bill_to_date_is_usage_without_a_comparison(hub: LocalHub) -> None:
    response = post(hub, "/meter-data/usage", {"saId": "SA-00003", "periodStart": "2026-11-01", "periodEnd": "2026-11-27"})
    assert response.status == 200, response.body
    assert "comparison" not in response.json()
    assert len(response.json()["daily"]) == 26


def test_register_read_boundaries(hub: LocalHub) -> None:
    status, body = run_sample(hub, "read-boundaries.json")
    assert status == 200
    assert body["registerId"] == "R-00001"
    assert body["low"] <= body["estimate"] <= body["high"]
    assert body["estimate"] > 0


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"saId": "SA-00001", "periodStart": "2026-11-05", "periodEnd": "2026-11-01"}, "#/periodEnd"),
        ({"saId": "SA-00001", "periodStart": "2026-01-01", "periodEnd": "2026-11-01"}, "#/periodEnd"),
        ({"saId": "SA-00001", "periodStart": "first of May", "periodEnd": "2026-11-01"}, "#/periodStart"),
        ({"saId": "SA 1", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"}, "#/saId"),
        ({"periodStart": "2026-10-01", "periodEnd": "2026-11-01"}, "#/saId"),
    ],
)
def test_bad_periods_are_422_naming_the_field_and_mdm_is_not_called(hub: LocalHub, body: dict[str, Any], pointer: str) -> None:
    response = post(hub, "/meter-data/bill-determinants", body)
    assert response.status == 422, response.body
    assert response.json()["errors"][0]["pointer"] == pointer
    assert hub.simulators["MDM"].received_total == 0


def test_an_unknown_rate_plan_is_422_and_a_bad_read_at_is_422(hub: LocalHub) -> None:
    plan = post(
        hub, "/meter-data/usage", {"saId": "SA-00001", "periodStart": "2026-10-01", "periodEnd": "2026-11-01", "ratePlans": ["GOLD"]}
    )
    before = hub.call_api("GET", "/meter-data/registers/R-00001/read-boundaries", query="readAt=2025-01-01T00:00:00Z", claims=CLAIMS)
    naive = hub.call_api("GET", "/meter-data/registers/R-00001/read-boundaries", query="readAt=2026-06-01T00:00:00", claims=CLAIMS)
    assert (plan.status, plan.json()["errors"][0]["pointer"]) == (422, "#/ratePlans")
    assert (before.status, before.json()["errors"][0]["pointer"]) == (422, "#/readAt")
    assert (naive.status, naive.json()["errors"][0]["pointer"]) == (422, "#/readAt")


def test_an_sa_or_register_mdm_does_not_hold_is_404(hub: LocalHub) -> None:
    sa = post(hub, "/meter-data/bill-determinants", {"saId": "SA-99999", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"})
    register = hub.call_api("GET", "/meter-data/registers/R-99999/read-boundaries", query="readAt=2026-06-01T00:00:00Z", claims=CLAIMS)
    assert (sa.status, register.status) == (404, 404)
    # MDM's answer by its status and codes: its message (which may repeat what it was given) is not passed on
    assert sa.json()["detail"].startswith("MDM: HTTP 404")


def test_mdm_down_is_502_after_one_retry_and_slow_is_504_within_the_budget(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"saId": "SA-00001", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"}
    mdm = hub.simulators["MDM"]

    # Given MDM down once: the read is tried again and answered
    mdm.add_fault({"kind": "down", "count": 1})
    recovered = post(hub, "/meter-data/bill-determinants", body)
    # Given MDM down twice: 502 naming MDM
    mdm.add_fault({"kind": "down", "count": 2})
    down = post(hub, "/meter-data/bill-determinants", body)
    # Given MDM slower than the 10 s budget: 504, not two 8 s read timeouts
    mdm.add_fault({"kind": "slow", "count": 2, "seconds": 12})
    limits = call_limits(monkeypatch)
    slow = post(hub, "/meter-data/usage", body)

    assert recovered.status == 200
    assert (down.status, down.json()["target"]) == (502, "MDM")
    assert (slow.status, slow.json()["target"]) == (504, "MDM")
    assert slow.json()["detail"] == "MDM did not answer within 10 s."
    # each try was given what was left of the budget: the second try, made once the first waited out its 8 s read
    # timeout, at most the 2 s left (not 8 s more: 16 s in all), and none when nothing useful was left
    assert_within_budget(limits["MDM"], budget=10, read_timeout=8)


def test_the_routes_need_the_meter_data_scope(hub: LocalHub) -> None:
    response = hub.call_api(
        "POST",
        "/meter-data/bill-determinants",
        body=json.dumps({"saId": "SA-00001", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"}),
        headers=JSON,
        claims={**CLAIMS, "scope": "utilhub/field-work"},
    )
    assert response.status == 403


def test_an_idempotency_key_answers_the_first_answer_and_refuses_another_body(hub: LocalHub) -> None:
    # Given a bill-to-date asked with an Idempotency-Key
    body = {"saId": "SA-00004", "periodStart": "2026-11-01", "periodEnd": "2026-11-08"}
    headers = {**JSON, "Idempotency-Key": "md15-key-1"}
    first = hub.call_api("POST", "/meter-data/usage", body=json.dumps(body), headers=headers, claims=CLAIMS)
    calls = hub.simulators["MDM"].received_total

    # When it is sent again, and the key is reused for another SA
    again = hub.call_api("POST", "/meter-data/usage", body=json.dumps(body), headers=headers, claims=CLAIMS)
    other = hub.call_api("POST", "/meter-data/usage", body=json.dumps({**body, "saId": "SA-00005"}), headers=headers, claims=CLAIMS)

    # Then the repeat is the first answer without asking MDM again, and the reuse is a 409
    assert (first.status, again.status, other.status) == (200, 200, 409)
    assert again.json() == first.json()
    assert hub.simulators["MDM"].received_total == calls


def test_a_gas_sa_s_determinants_are_a_total_in_therms_without_time_of_use_or_demand(hub: LocalHub) -> None:
    # Given MDM's seeded gas SA SA-G0001, asked for October with its intervals
    body = {"saId": "SA-G0001", "periodStart": "2026-10-01", "periodEnd": "2026-11-01", "includeIntervals": True}
    response = post(hub, "/meter-data/bill-determinants", body)

    # Then the determinants are one total in CCB's therm code, the hourly intervals add up to it, and there is no demand
    assert response.status == 200, response.body
    found = response.json()
    assert (found["serviceType"], found["uom"]) == ("GAS", "THERM")
    assert [(d["uom"], d["touPeriod"]) for d in found["determinants"]] == [("THERM", "TOTAL")]
    assert "peakDemandKw" not in found
    assert len(found["intervals"]) == 31 * 24  # hourly
    assert sum(_d(i["quantity"]) for i in found["intervals"]) == _d(found["determinants"][0]["quantity"]) > 0


def test_an_electric_sa_s_determinants_are_as_before_in_kwh_with_time_of_use(hub: LocalHub) -> None:
    response = post(hub, "/meter-data/bill-determinants", {"saId": "SA-00001", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"})
    assert response.status == 200, response.body
    found = response.json()
    assert (found["serviceType"], found["uom"]) == ("ELECTRIC", "KWH")
    assert [(d["uom"], d["touPeriod"]) for d in found["determinants"]] == [
        ("KWH", "TOTAL"),
        ("KWH", "ON_PEAK"),
        ("KWH", "SHOULDER"),
        ("KWH", "OFF_PEAK"),
        ("KW", "PEAK"),
    ]
    assert found["peakDemandKw"] > 0


def test_a_water_sa_s_usage_is_in_gallons_priced_under_a_water_plan_with_its_estimate_to_the_bill_period_end(hub: LocalHub) -> None:
    # Given self-service's bill-to-date of a water SA, 1..15 November, in a bill period ending 1 December
    body = {
        "saId": "SA-W0001",
        "periodStart": "2026-11-01",
        "periodEnd": "2026-11-16",
        "ratePlans": ["WATER-RES"],
        "billPeriodEnd": "2026-12-01",
    }
    response = post(hub, "/meter-data/usage", body)

    # Then the usage is in gallons with days adding up and no time-of-use buckets, priced, and estimated to 1 December
    assert response.status == 200, response.body
    found = response.json()
    assert (found["serviceType"], found["uom"], found["touBuckets"]) == ("WATER", "GAL", [])
    assert "totalKwh" not in found
    assert "peakDemandKw" not in found
    assert len(found["daily"]) == 15
    assert sum(_d(d["quantity"]) for d in found["daily"]) == _d(found["total"])
    assert found["comparison"][0]["ratePlan"] == "WATER-RES"
    estimate = found["estimate"]
    assert estimate["periodEnd"] == "2026-12-01"
    assert _d(estimate["total"]) > _d(found["total"])
    assert _d(estimate["comparison"][0]["charge"]) > _d(found["comparison"][0]["charge"])

    # And an electric rate plan for the water SA is a 422 naming ratePlans, a bill period ending before the bill-to-date too
    wrong_plan = post(hub, "/meter-data/usage", {**body, "ratePlans": ["RES-FLAT"]})
    assert (wrong_plan.status, wrong_plan.json()["errors"][0]["pointer"]) == (422, "#/ratePlans")
    too_early = post(hub, "/meter-data/usage", {**body, "billPeriodEnd": "2026-11-10"})
    assert (too_early.status, too_early.json()["errors"][0]["pointer"]) == (422, "#/billPeriodEnd")


def test_mdm_answering_in_a_unit_with_no_mapping_is_a_502(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given MDM measuring gas in a unit the UnitOfMeasure map does not hold
    monkeypatch.setitem(mdm_usage.COMMODITIES, mdm_usage.GAS, replace(mdm_usage.COMMODITIES[mdm_usage.GAS], uom="MJ"))

    # Then the determinants are a 502 naming MDM, never a bill in a unit CCB cannot read
    response = post(hub, "/meter-data/bill-determinants", {"saId": "SA-G0001", "periodStart": "2026-10-01", "periodEnd": "2026-11-01"})
    assert response.status == 502, response.body
    assert "UnitOfMeasure" in response.json()["detail"]
