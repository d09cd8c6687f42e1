"""The meter data usage messages (``packs/meter_data/usage``): what the hub refuses before calling MDM,
and MDM answers that do not add up, refused as a 502 instead of passed on as a wrong bill."""

from __future__ import annotations

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
