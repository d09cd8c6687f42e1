"""The meter data usage messages (``packs/meter_data/usage``): what the hub refuses before calling MDM,
and MDM answers that do not add up, refused as a 502 instead of passed on as a wrong bill."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from utilhub.packs.meter_data.billing import usage
from utilhub.platform.problems import Problem

DETERMINANTS: dict[str, Any] = {
    "saId": "SA-00001",
    "periodStart": "2026-11-02",
    "periodEnd": "2026-11-03",
    "determinants": [
        {"uom": "KWH", "touPeriod": "TOTAL", "quantity": 10.003},
        {"uom": "KWH", "touPeriod": "ON_PEAK", "quantity": 3.001},
        {"uom": "KWH", "touPeriod": "SHOULDER", "quantity": 4.001},
        {"uom": "KWH", "touPeriod": "OFF_PEAK", "quantity": 3.001},
        {"uom": "KW", "touPeriod": "PEAK", "quantity": 2.4},
    ],
    "peakDemandKw": 2.4,
    "intervals": [{"start": "2026-11-02T06:00:00Z", "kwh": 5.001}, {"start": "2026-11-02T06:15:00Z", "kwh": 5.002}],
}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"saId": "SA-00001", "periodStart": "2026-11-05", "periodEnd": "2026-11-01"}, "periodEnd"),
        ({"saId": "SA-00001", "periodStart": "2026-11-05", "periodEnd": "2026-11-05"}, "periodEnd"),
        ({"saId": "SA-00001", "periodStart": "2026-01-01", "periodEnd": "2026-04-05"}, "periodEnd"),  # 94 days
        ({"saId": "SA-00001", "periodStart": "2026-01-01", "periodEnd": "2026-04-01", "extra": 1}, "extra"),
        ({"saId": "", "periodStart": "2026-01-01", "periodEnd": "2026-02-01"}, "saId"),
    ],
)
def test_a_period_that_does_not_end_after_it_starts_or_is_too_long_is_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        usage.BillDeterminantsIn.model_validate(body)
    assert refused.value.errors()[0]["loc"] == (field,)


def test_a_period_of_the_configured_maximum_is_taken() -> None:
    request = usage.UsageIn.model_validate({"saId": "SA-00001", "periodStart": "2026-01-01", "periodEnd": "2026-04-04", "ratePlans": []})
    assert (request.periodEnd - request.periodStart).days == 93


def test_determinants_that_add_up_are_taken() -> None:
    found = usage.checked(usage.BillDeterminants, DETERMINANTS)
    assert found.quantity("KWH", "TOTAL") == found.quantity("KWH", "ON_PEAK") + found.quantity("KWH", "SHOULDER") + found.quantity(
        "KWH", "OFF_PEAK"
    )


@pytest.mark.parametrize(
    "broken",
    [
        {**DETERMINANTS, "determinants": [{**DETERMINANTS["determinants"][0], "quantity": 10.004}, *DETERMINANTS["determinants"][1:]]},
        {**DETERMINANTS, "intervals": DETERMINANTS["intervals"][:1]},
        {**DETERMINANTS, "peakDemandKw": -1},
        {**DETERMINANTS, "determinants": [], "intervals": None},  # nothing, which adds up to nothing
        {**DETERMINANTS, "determinants": DETERMINANTS["determinants"][1:], "intervals": None},  # no TOTAL
    ],
)
def test_an_mdm_answer_that_does_not_add_up_is_a_502(broken: dict[str, Any]) -> None:
    with pytest.raises(Problem) as refused:
        usage.checked(usage.BillDeterminants, broken)
    assert refused.value.status == 502


def test_boundaries_out_of_order_are_a_502() -> None:
    with pytest.raises(Problem) as refused:
        usage.checked(
            usage.ReadBoundaries,
            {"registerId": "R-00001", "readAt": "2026-06-01T00:00:00Z", "estimate": 100, "low": 120, "high": 130},
        )
    assert refused.value.status == 502


def test_a_rate_plan_whose_lines_do_not_add_up_is_a_502() -> None:
    comparison = {
        "ratePlan": "RES-FLAT",
        "currency": "USD",
        "charge": 20.01,
        "lines": [{"description": "x", "quantity": 1, "price": 20, "amount": 20}],
    }
    with pytest.raises(Problem) as refused:
        usage.checked(usage.RatePlanCharge, comparison)
    assert refused.value.status == 502


def test_determinants_for_another_sa_or_period_or_without_the_intervals_asked_do_not_answer_the_request() -> None:
    # Given determinants that add up, for SA-00001 over 2 November with intervals
    found = usage.checked(usage.BillDeterminants, DETERMINANTS)
    asked = {"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03", "includeIntervals": True}

    # Then they answer that request, and not one for another SA, another period, or one whose intervals are missing
    assert usage.mismatch(found, usage.BillDeterminantsIn.model_validate(asked)) is None
    assert "not the SA and period asked" in str(
        usage.mismatch(found, usage.BillDeterminantsIn.model_validate({**asked, "saId": "SA-00002"}))
    )
    assert "not the SA and period asked" in str(
        usage.mismatch(found, usage.BillDeterminantsIn.model_validate({**asked, "periodEnd": "2026-11-04"}))
    )
    without = usage.checked(usage.BillDeterminants, {**DETERMINANTS, "intervals": None})
    assert usage.mismatch(without, usage.BillDeterminantsIn.model_validate(asked)) == "answered without the intervals asked for"


GAS: dict[str, Any] = {
    "saId": "SA-G0001",
    "periodStart": "2026-11-02",
    "periodEnd": "2026-11-03",
    "serviceType": "GAS",
    "uom": "thm",
    "determinants": [{"uom": "thm", "touPeriod": "TOTAL", "quantity": 2.5}],
    "intervals": [{"start": "2026-11-02T06:00:00Z", "quantity": 1.25}, {"start": "2026-11-02T07:00:00Z", "quantity": 1.25}],
}


def test_a_gas_sas_determinants_are_read_in_mdm_units_and_answered_in_ccbs() -> None:
    # Given MDM's determinants of a gas SA in its own codes (service type GAS, therms as "thm"), only a total
    found = usage.read_determinants(json.dumps(GAS))

    # Then they are checked in the hub's codes and go to CCB in CCB's unit, without time of use or demand
    assert (found.serviceType, found.uom, found.quantity("THERM", "TOTAL")) == ("GAS", "THERM", Decimal("2.5"))
    answered = usage.for_ccb(found.model_dump(mode="json", exclude_none=True))
    assert answered["uom"] == "THERM"
    assert answered["determinants"] == [{"uom": "THERM", "touPeriod": "TOTAL", "quantity": 2.5}]
    assert "peakDemandKw" not in answered
    assert [i["quantity"] for i in answered["intervals"]] == [1.25, 1.25]


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        # an electric rate is priced by time of use and demand: an answer without them would bill it short
        ({k: v for k, v in DETERMINANTS.items() if k != "peakDemandKw"}, "peak demand"),
        (
            {**DETERMINANTS, "determinants": [d for d in DETERMINANTS["determinants"] if d["touPeriod"] in ("TOTAL", "PEAK")]},
            "time-of-use buckets",
        ),
        ({**DETERMINANTS, "serviceType": "ELECTRIC", "peakDemandKw": None}, "peak demand"),
    ],
)
def test_an_electric_answer_without_its_time_of_use_buckets_or_peak_demand_is_unusable(broken: dict[str, Any], reason: str) -> None:
    with pytest.raises(usage.UnusableAnswer, match=reason):
        usage.read_determinants(json.dumps(broken))


def test_an_electric_answer_without_a_service_type_is_read_as_before() -> None:
    found = usage.read_determinants(json.dumps(DETERMINANTS))
    assert (found.serviceType, found.uom) == ("ELECTRIC", "KWH")
    assert usage.for_ccb(found.model_dump(mode="json", exclude_none=True))["intervals"][0]["kwh"] == 5.001


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({**GAS, "uom": "kWh", "determinants": [{"uom": "kWh", "touPeriod": "TOTAL", "quantity": 2.5}]}, "not measured in KWH"),
        ({**GAS, "determinants": [*GAS["determinants"], {"uom": "thm", "touPeriod": "ON_PEAK", "quantity": 2.5}]}, "no time-of-use"),
        ({**GAS, "peakDemandKw": 1.0}, "no demand"),
        ({**GAS, "determinants": [{"uom": "gal", "touPeriod": "TOTAL", "quantity": 2.5}]}, "not in the SA's unit"),
        ({**GAS, "uom": "litre"}, "no hub value in the domain value map UnitOfMeasure"),
        ({**GAS, "serviceType": "STEAM"}, "no hub value in the domain value map ServiceType"),
        ({**GAS, "intervals": GAS["intervals"][:1]}, "intervals do not add up"),
    ],
)
def test_a_gas_answer_in_another_commodity_s_unit_or_with_time_of_use_is_unusable(broken: dict[str, Any], reason: str) -> None:
    with pytest.raises(usage.UnusableAnswer, match=reason):
        usage.read_determinants(json.dumps(broken))


def test_a_water_sas_usage_is_in_gallons_with_days_that_add_up_and_no_buckets() -> None:
    answer = {
        "saId": "SA-W0001",
        "periodStart": "2026-11-02",
        "periodEnd": "2026-11-04",
        "serviceType": "WATR",
        "uom": "gal",
        "total": 300.5,
        "touBuckets": [],
        "daily": [{"date": "2026-11-02", "quantity": 150.25}, {"date": "2026-11-03", "quantity": 150.25}],
    }
    found = usage.checked(usage.Usage, usage.from_mdm(answer))
    assert (found.serviceType, found.uom, found.total, found.totalKwh) == ("WATER", "GAL", 300.5, None)
    with pytest.raises(Problem):  # the days must add up to the total
        usage.checked(usage.Usage, usage.from_mdm({**answer, "total": 300.6}))
    with pytest.raises(Problem):  # water has no time-of-use buckets
        usage.checked(usage.Usage, usage.from_mdm({**answer, "touBuckets": [{"touPeriod": "ON_PEAK", "kwh": 300.5}]}))


def test_an_estimate_below_the_usage_to_date_is_a_502() -> None:
    answer = {
        "saId": "SA-00001",
        "periodStart": "2026-11-01",
        "periodEnd": "2026-11-02",
        "totalKwh": 10.5,
        "daily": [{"date": "2026-11-01", "kwh": 10.5}],
        "estimate": {"periodEnd": "2026-12-01", "total": 10.4},
    }
    with pytest.raises(Problem) as refused:
        usage.checked(usage.Usage, answer)
    assert refused.value.status == 502
    assert usage.checked(usage.Usage, {**answer, "estimate": {"periodEnd": "2026-12-01", "total": 300}}).estimate is not None


@pytest.mark.parametrize(
    ("bill_period_end", "taken"), [("2026-11-30", True), ("2026-11-09", True), ("2026-11-08", False), ("2027-02-10", False)]
)
def test_a_bill_period_ends_on_or_after_the_bill_to_date_and_within_the_longest_period(bill_period_end: str, taken: bool) -> None:
    body = {"saId": "SA-00001", "periodStart": "2026-11-01", "periodEnd": "2026-11-09", "billPeriodEnd": bill_period_end}
    if taken:
        assert str(usage.UsageIn.model_validate(body).billPeriodEnd) == bill_period_end
    else:
        with pytest.raises(ValidationError) as refused:
            usage.UsageIn.model_validate(body)
        assert refused.value.errors()[0]["loc"] == ("billPeriodEnd",)


@pytest.mark.parametrize(("service_type", "ccb"), [("ELECTRIC", "E"), ("GAS", "G"), ("WATER", "W")])
def test_ccb_gets_each_service_type_in_its_own_code(service_type: str, ccb: str) -> None:
    assert usage.ccb_service_type(service_type) == ccb


def test_a_service_type_ccb_has_no_code_for_is_a_422_naming_the_field() -> None:
    with pytest.raises(Problem) as refused:
        usage.ccb_service_type("STEAM")
    assert (refused.value.status, [e.pointer for e in refused.value.errors]) == (422, ["#/serviceType"])


def test_an_unusable_mdm_answer_is_a_502_naming_mdm_and_what_is_wrong() -> None:
    with pytest.raises(Problem) as refused:
        usage.checked(usage.BillDeterminants, {**DETERMINANTS, "intervals": DETERMINANTS["intervals"][:1]})
    body = refused.value.as_dict()
    assert (body["status"], body["target"]) == (502, "MDM")
    assert (
        body["detail"]
        == "MDM answered an error: answered an unusable BillDeterminants: Value error, the intervals do not add up to the total"
    )
