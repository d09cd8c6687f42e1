"""The rules MD-12 and MD-15 apply to MDM's answers (``packs/meter_data/billing/usage``), driven with MDM's answers as
data: each answer in MDM's codes is checked in the hub's (units, service type, sums), must answer what was asked (the
SA and period, the intervals, exactly the rate plans, the estimate to the end of the bill period), and goes to CCB in
CCB's codes; an answer that does not is a 502 naming MDM and what is wrong, never a wrong bill."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from utilhub.packs.meter_data.billing import usage
from utilhub.platform.problems import Problem

Put = Callable[[str, str], None]

# MDM's answer for an electric SA, in MDM's codes (kWh, kW): the buckets and the intervals add up to the total
ELECTRIC: dict[str, Any] = {
    "saId": "SA-00001",
    "periodStart": "2026-11-02",
    "periodEnd": "2026-11-03",
    "serviceType": "ELEC",
    "uom": "kWh",
    "usageTransactionId": "UT-1",
    "determinants": [
        {"uom": "kWh", "touPeriod": "TOTAL", "quantity": 10.003},
        {"uom": "kWh", "touPeriod": "ON_PEAK", "quantity": 3.001},
        {"uom": "kWh", "touPeriod": "SHOULDER", "quantity": 4.001},
        {"uom": "kWh", "touPeriod": "OFF_PEAK", "quantity": 3.001},
        {"uom": "kW", "touPeriod": "PEAK", "quantity": 2.4},
    ],
    "peakDemandKw": 2.4,
    "intervals": [{"start": "2026-11-02T06:00:00Z", "kwh": 5.001}, {"start": "2026-11-02T06:15:00Z", "kwh": 5.002}],
}
ASKED: dict[str, Any] = {"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03", "includeIntervals": True}

# MDM's usage of a gas SA (therms as "thm"), with the estimate to the end of the bill period, both priced under GAS-RES
GAS_USAGE: dict[str, Any] = {
    "saId": "SA-G0001",
    "periodStart": "2026-11-01",
    "periodEnd": "2026-11-03",
    "serviceType": "GAS",
    "uom": "thm",
    "total": 5.5,
    "daily": [{"date": "2026-11-01", "quantity": 2.5}, {"date": "2026-11-02", "quantity": 3.0}],
    "comparison": [
        {
            "ratePlan": "GAS-RES",
            "currency": "USD",
            "charge": 14.2,
            "lines": [{"description": "gas", "quantity": 5.5, "price": 1, "amount": 14.2}],
        }
    ],
    "estimate": {
        "periodEnd": "2026-12-01",
        "total": 80.25,
        "comparison": [
            {
                "ratePlan": "GAS-RES",
                "currency": "USD",
                "charge": 90.5,
                "lines": [{"description": "gas", "quantity": 80.25, "price": 1, "amount": 90.5}],
            }
        ],
    },
}
BILL_TO_DATE: dict[str, Any] = {
    "saId": "SA-G0001",
    "periodStart": "2026-11-01",
    "periodEnd": "2026-11-03",
    "ratePlans": ["GAS-RES"],
    "billPeriodEnd": "2026-12-01",
}


def plan(name: str, charge: float = 20.0) -> dict[str, Any]:
    return {
        "ratePlan": name,
        "currency": "USD",
        "charge": charge,
        "lines": [{"description": "x", "quantity": 1, "price": charge, "amount": charge}],
    }


# an electric SA's usage over one day, in MDM's codes, priced under RES-FLAT and RES-TOU (in that order)
ELECTRIC_USAGE: dict[str, Any] = {
    "saId": "SA-00001",
    "periodStart": "2026-11-02",
    "periodEnd": "2026-11-03",
    "uom": "kWh",
    "totalKwh": 10.5,
    "touBuckets": [{"touPeriod": "ON_PEAK", "kwh": 4.5}, {"touPeriod": "OFF_PEAK", "kwh": 6.0}],
    "peakDemandKw": 2.0,
    "daily": [{"date": "2026-11-02", "kwh": 10.5}],
    "comparison": [plan("RES-FLAT"), plan("RES-TOU")],
}


def determinants(answer: dict[str, Any], **asked: Any) -> dict[str, Any]:
    return usage.determinants_answer(usage.BillDeterminantsIn.model_validate({**ASKED, **asked}), answer)


def usage_of(answer: dict[str, Any], asked: dict[str, Any]) -> dict[str, Any]:
    return usage.usage_answer(usage.UsageIn.model_validate(asked), answer)


def refused(call: Callable[[], Any]) -> str:
    """The detail of the 502 naming MDM that ``call`` raises."""
    with pytest.raises(Problem) as problem:
        call()
    assert (problem.value.status, problem.value.extra) == (502, {"target": "MDM"})
    return problem.value.detail


def ccb_units(put: Put) -> None:
    """A deployment whose CCB bills in its own unit codes, none of them the hub's (``UnitOfMeasure`` overridden)."""
    rows = [
        {"COMMON": "KWH", "MDM": "kWh", "CCB": "KWHR"},
        {"COMMON": "KW", "MDM": "kW", "CCB": "KWD"},
        {"COMMON": "THERM", "MDM": "thm", "CCB": "THM"},
        {"COMMON": "GAL", "MDM": "gal"},  # CCB bills no water in this deployment
    ]
    put("DOMAIN_VALUE_MAPS_PARAMETER", json.dumps({"UnitOfMeasure": {"columns": ["COMMON", "MDM", "CCB"], "rows": rows}}))


# ------------------------------------------------------------------------------------ MD-12


def test_determinants_in_mdm_codes_that_add_up_go_to_ccb_in_its_codes_with_the_intervals_asked() -> None:
    # Given MDM's determinants of an electric SA in its codes, for the SA, period and intervals asked
    # When MD-12 answers with them
    answered = determinants(ELECTRIC)

    # Then CCB gets them whole, in its units, the service type and the sums as MDM gave them
    assert answered == {
        **ELECTRIC,
        "serviceType": "ELECTRIC",
        "uom": "KWH",
        "determinants": [{**d, "uom": "KW" if d["touPeriod"] == "PEAK" else "KWH"} for d in ELECTRIC["determinants"]],
        "intervals": [{**i, "quantity": i["kwh"]} for i in ELECTRIC["intervals"]],
    }


def test_determinants_go_to_ccb_in_the_unit_codes_of_the_deployment_s_map(configuration_parameter: Put) -> None:
    # Given a deployment whose CCB bills kWh as KWHR and kW as KWD
    ccb_units(configuration_parameter)

    # When MD-12 answers with MDM's determinants in kWh and kW
    answered = determinants(ELECTRIC)

    # Then the SA's unit and every determinant's are CCB's codes
    assert answered["uom"] == "KWHR"
    assert [(d["uom"], d["touPeriod"]) for d in answered["determinants"]] == [
        ("KWHR", "TOTAL"),
        ("KWHR", "ON_PEAK"),
        ("KWHR", "SHOULDER"),
        ("KWHR", "OFF_PEAK"),
        ("KWD", "PEAK"),
    ]


def test_a_unit_ccb_has_no_code_for_is_refused_naming_the_unit(configuration_parameter: Put) -> None:
    # Given a deployment whose CCB has no code for gallons
    ccb_units(configuration_parameter)

    # When a water SA's answer in gallons is made CCB's
    with pytest.raises(Problem) as problem:
        usage.for_ccb({"uom": "GAL", "total": 1.0})

    # Then it is refused, naming the unit, the map and the codes it was translated from
    assert problem.value.status == 422
    assert [e.as_dict() for e in problem.value.errors] == [
        {"pointer": "#/uom", "detail": "'GAL' has no CCB value in the domain value map UnitOfMeasure (from COMMON)"}
    ]


def test_a_usage_answer_goes_to_ccb_with_its_unit_in_ccb_s_code_and_no_determinants_added(configuration_parameter: Put) -> None:
    # Given a deployment with its own CCB unit codes
    ccb_units(configuration_parameter)

    # When a usage answer (no determinants) is made CCB's
    # Then only its unit changes
    assert usage.for_ccb({"uom": "THERM", "total": 5.5}) == {"uom": "THM", "total": 5.5}


@pytest.mark.parametrize(
    ("answer", "asked", "detail"),
    [
        # the intervals are MDM's reads: when they do not add up to the total, the total is not to be trusted
        (
            {**ELECTRIC, "intervals": ELECTRIC["intervals"][:1]},
            {},
            "answered unusable BillDeterminants: Value error, the intervals do not add up to the total",
        ),
        (
            {**ELECTRIC, "uom": "litre"},
            {},
            "answered unusable BillDeterminants: 'litre' has no hub value in the domain value map UnitOfMeasure",
        ),
        ({**ELECTRIC, "saId": "SA-00002"}, {}, "answered for SA-00002 2026-11-02..2026-11-03, not the SA and period asked"),
        ({**ELECTRIC, "intervals": None}, {}, "answered without the intervals asked for"),
    ],
)
def test_determinants_that_do_not_add_up_or_do_not_answer_the_request_are_a_502_saying_why(
    answer: dict[str, Any], asked: dict[str, Any], detail: str
) -> None:
    # Given MDM's determinants that do not add up, carry a unit with no mapping, or answer another request
    # Then MD-12 answers a 502 naming MDM and what is wrong, never the determinants
    assert refused(lambda: determinants(answer, **asked)) == f"MDM answered an error: {detail}"


def test_determinants_without_intervals_answer_a_request_that_did_not_ask_for_them() -> None:
    # Given MDM's determinants without intervals, for a request that did not ask for them
    answered = determinants({**ELECTRIC, "intervals": None}, includeIntervals=False)

    # Then they are CCB's, without intervals
    assert "intervals" not in answered
    assert answered["determinants"][0] == {"uom": "KWH", "touPeriod": "TOTAL", "quantity": 10.003}


# ------------------------------------------------------------------------------------ units and service types


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            {**ELECTRIC, "serviceType": "GAS"},
            "Value error, a GAS SA is not measured in KWH (it is in THERM or CCF)",
        ),
        (
            {**ELECTRIC, "serviceType": "WATR", "uom": "gal", "determinants": [{**d, "uom": "gal"} for d in ELECTRIC["determinants"][:4]]},
            "Value error, a WATER SA has no time-of-use buckets or demand: its rate is priced on its volume alone",
        ),
    ],
)
def test_a_gas_or_water_answer_names_the_units_its_service_type_is_measured_in_and_what_its_rate_has_not(
    answer: dict[str, Any], reason: str
) -> None:
    # Given MDM's determinants in a unit, or with time of use and demand, that the SA's service type does not have
    # Then they are unusable, saying which units the service type has, or what its rate is not priced on
    with pytest.raises(usage.UnusableAnswer) as unusable:
        usage.read_determinants(json.dumps(answer))
    assert str(unusable.value) == reason


def test_a_determinant_that_is_not_an_object_is_unusable() -> None:
    # Given MDM's determinants with one that is not a JSON object
    answer = {**ELECTRIC, "determinants": [*ELECTRIC["determinants"], "TOTAL"]}

    # Then the answer is unusable (as any other malformed answer), not an error of the hub
    with pytest.raises(usage.UnusableAnswer, match="valid dictionary"):
        usage.read_determinants(json.dumps(answer))


def test_a_period_without_a_determinant_has_a_decimal_zero_quantity() -> None:
    # Given a gas SA's determinants (a total only)
    found = usage.read_determinants(
        json.dumps(
            {
                **ELECTRIC,
                "serviceType": "GAS",
                "uom": "thm",
                "determinants": [{"uom": "thm", "touPeriod": "TOTAL", "quantity": 2.5}],
                "peakDemandKw": None,
                "intervals": None,
            }
        )
    )

    # Then a time-of-use period has zero, an exact decimal like every quantity (never a binary float or an int)
    assert isinstance(found.quantity("THERM", "ON_PEAK"), Decimal)
    assert found.quantity("THERM", "ON_PEAK") == Decimal(0)
    assert found.quantity("THERM", "TOTAL") == Decimal("2.5")


def test_a_service_type_ccb_has_no_code_for_names_the_map_and_the_hub_s_codes() -> None:
    with pytest.raises(Problem) as problem:
        usage.ccb_service_type("STEAM")
    assert [e.detail for e in problem.value.errors] == ["'STEAM' has no CCB value in the domain value map ServiceType (from COMMON)"]


# ------------------------------------------------------------------------------------ MD-15


def test_a_bill_to_date_with_its_estimate_goes_to_ccb_in_the_hub_s_service_type_and_ccb_s_unit() -> None:
    # Given MDM's gas usage to date, priced under the plan asked, with the estimate to the end of the bill period asked
    # When MD-15 answers with it
    answered = usage_of(GAS_USAGE, BILL_TO_DATE)

    # Then CCB gets it whole, with the service type in the hub's code and the unit in CCB's
    assert answered == {**GAS_USAGE, "serviceType": "GAS", "uom": "THERM", "touBuckets": []}


@pytest.mark.parametrize("asked", [["RES-FLAT", "RES-TOU"], ["RES-TOU", "RES-FLAT"]])
@pytest.mark.parametrize("answered", [["RES-FLAT", "RES-TOU"], ["RES-TOU", "RES-FLAT"]])
def test_the_comparison_answers_the_rate_plans_asked_in_any_order(asked: list[str], answered: list[str]) -> None:
    # Given rate plans asked in one order and priced by MDM in either
    answer = {**ELECTRIC_USAGE, "comparison": [plan(name) for name in answered]}

    # When MD-15 answers
    found = usage_of(answer, {"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03", "ratePlans": asked})

    # Then the comparison is MDM's, in MDM's order, with the usage in CCB's units
    assert [c["ratePlan"] for c in found["comparison"]] == answered
    assert (found["uom"], found["total"], found["totalKwh"]) == ("KWH", 10.5, 10.5)


@pytest.mark.parametrize(
    ("answer", "asked", "detail"),
    [
        # a comparison must price exactly the rate plans asked: one missing, one more, one other
        (
            {**ELECTRIC_USAGE, "comparison": [plan("RES-FLAT")]},
            ["RES-FLAT", "RES-TOU"],
            "answered a comparison for other rate plans than asked",
        ),
        (ELECTRIC_USAGE, ["RES-FLAT"], "answered a comparison for other rate plans than asked"),
        ({**ELECTRIC_USAGE, "comparison": None}, ["RES-FLAT"], "answered a comparison for other rate plans than asked"),
        (ELECTRIC_USAGE, [], "answered a comparison for other rate plans than asked"),
        # the sums
        (
            {**ELECTRIC_USAGE, "totalKwh": 10.6},
            ["RES-FLAT", "RES-TOU"],
            "answered an unusable Usage: Value error, the days do not add up to the total",
        ),
        (
            {**ELECTRIC_USAGE, "uom": "litre"},
            ["RES-FLAT", "RES-TOU"],
            "answered an unusable Usage: 'litre' has no hub value in the domain value map UnitOfMeasure",
        ),
    ],
)
def test_a_usage_answer_for_other_rate_plans_or_that_does_not_add_up_is_a_502_saying_why(
    answer: dict[str, Any], asked: list[str], detail: str
) -> None:
    request = {"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03", "ratePlans": asked}
    assert refused(lambda: usage_of(answer, request)) == f"MDM answered an error: {detail}"


def test_usage_without_rate_plans_asked_has_no_comparison() -> None:
    # Given MDM's usage priced under no rate plan, for a request that asked for none
    found = usage_of({**ELECTRIC_USAGE, "comparison": None}, {"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-03"})

    # Then it is answered without a comparison
    assert "comparison" not in found
    assert found["daily"] == [{"date": "2026-11-02", "quantity": 10.5, "kwh": 10.5}]


def test_an_estimate_mdm_gives_unasked_is_passed_on_and_not_checked_against_a_bill_period() -> None:
    # Given a request without a bill period end, answered with an estimate all the same
    asked = {k: v for k, v in BILL_TO_DATE.items() if k != "billPeriodEnd"}

    # Then the answer stands (the estimate is MDM's, checked only as the usage is)
    assert usage_of(GAS_USAGE, asked)["estimate"]["periodEnd"] == "2026-12-01"
    assert usage_of({**GAS_USAGE, "estimate": None}, asked)["total"] == 5.5


@pytest.mark.parametrize(
    ("estimate", "detail"),
    [
        (None, "answered without the estimate to the end of the bill period asked for"),
        ({**GAS_USAGE["estimate"], "periodEnd": "2026-12-02"}, "answered without the estimate to the end of the bill period asked for"),
        ({**GAS_USAGE["estimate"], "comparison": None}, "answered an estimate for other rate plans than asked"),
        (
            {**GAS_USAGE["estimate"], "comparison": [*GAS_USAGE["estimate"]["comparison"], plan("GAS-SMALL")]},
            "answered an estimate for other rate plans than asked",
        ),
    ],
)
def test_a_bill_to_date_without_the_estimate_asked_or_priced_under_other_plans_is_a_502(
    estimate: dict[str, Any] | None, detail: str
) -> None:
    # Given a bill-to-date asked with its estimate to 1 December under GAS-RES, and MDM's answer whose estimate is
    # missing, for another end, or priced under other plans
    # Then MD-15 answers a 502 saying so
    assert refused(lambda: usage_of({**GAS_USAGE, "estimate": estimate}, BILL_TO_DATE)) == f"MDM answered an error: {detail}"


@pytest.mark.parametrize(
    ("asked", "answered"), [(["GAS-RES", "GAS-SMALL"], ["GAS-SMALL", "GAS-RES"]), (["GAS-SMALL", "GAS-RES"], ["GAS-RES", "GAS-SMALL"])]
)
def test_the_estimate_is_priced_under_the_rate_plans_asked_in_any_order(asked: list[str], answered: list[str]) -> None:
    # Given a bill-to-date under two plans, priced by MDM in another order for the usage to date and for the estimate
    answer = {
        **GAS_USAGE,
        "comparison": [plan(name) for name in answered],
        "estimate": {**GAS_USAGE["estimate"], "comparison": [plan(name, 90.5) for name in answered]},
    }

    # Then the answer stands with MDM's order
    found = usage_of(answer, {**BILL_TO_DATE, "ratePlans": asked})
    assert [c["ratePlan"] for c in found["estimate"]["comparison"]] == answered
