"""The MDM simulator's usage arithmetic: deterministic intervals, exact sums, TOU calendar, rate plans,
register boundaries, and the refusals of its usage services."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest

from localhub.simulators import mdm_usage
from localhub.simulators.mdm import MdmSimulator


def _decimal(value: float | int) -> Decimal:
    return Decimal(str(value))


def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    reply = MdmSimulator().handle(method, path, json.dumps(body).encode() if body is not None else b"", {})
    return reply.status, json.loads(reply.body)


def test_the_same_sa_and_period_give_the_same_reads_and_different_sas_differ() -> None:
    # Given one period asked twice for one SA, and once for another
    first = mdm_usage.usage("SA-00001", date(2026, 11, 2), date(2026, 11, 4))
    again = mdm_usage.usage("SA-00001", date(2026, 11, 2), date(2026, 11, 4))
    other = mdm_usage.usage("SA-00002", date(2026, 11, 2), date(2026, 11, 4))

    # Then the reads repeat exactly, two days of quarter hours, and another SA has another shape
    assert first.reads == again.reads
    assert len(first.reads) == 2 * 96
    assert [r.wh for r in first.reads] != [r.wh for r in other.reads]


def test_a_day_read_alone_equals_the_same_day_inside_a_longer_period() -> None:
    # Given November 2 alone, and November 1..4
    alone = mdm_usage.usage("SA-00042", date(2026, 11, 2), date(2026, 11, 3))
    inside = mdm_usage.usage("SA-00042", date(2026, 11, 1), date(2026, 11, 4))

    # Then the day's reads are the same ones
    assert set(alone.reads) <= set(inside.reads)
    assert inside.daily_wh()["2026-11-02"] == alone.total_wh


def test_a_daylight_saving_day_has_100_quarter_hours() -> None:
    # November 1, 2026 is 25 hours long in Chicago
    assert len(mdm_usage.usage("SA-00001", date(2026, 11, 1), date(2026, 11, 2)).reads) == 100


def test_intervals_and_buckets_add_up_to_the_total_exactly() -> None:
    # Given a month's determinants with intervals
    found = mdm_usage.usage("SA-00077", date(2026, 10, 1), date(2026, 11, 1))
    answer = mdm_usage.bill_determinants(found, include_intervals=True)

    # Then the intervals' kWh add up to the total, so do the three TOU buckets, and so do the days
    by_period = {d["touPeriod"]: d["quantity"] for d in answer["determinants"] if d["uom"] == "kWh"}
    total = by_period.pop("TOTAL")
    assert sum(i["kwh"] for i in answer["intervals"]) == total
    assert sum(by_period.values()) == total
    assert set(by_period) == {"ON_PEAK", "SHOULDER", "OFF_PEAK"}
    assert sum(mdm_usage.kwh(wh) for wh in found.daily_wh().values()) == total
    assert answer["intervalCount"] == len(answer["intervals"]) == 31 * 96
    assert answer["peakDemandKw"] == max(i["kwh"] for i in answer["intervals"]) * 4


def test_the_tou_calendar_puts_weekday_evenings_on_peak_and_weekends_and_holidays_off_peak() -> None:
    # Wednesday 2026-11-18 (Chicago, UTC-6), Saturday 2026-11-21, Thanksgiving 2026-11-26
    assert mdm_usage.tou_period(datetime(2026, 11, 18, 23, 0, tzinfo=UTC)) == "ON_PEAK"  # 17:00 local
    assert mdm_usage.tou_period(datetime(2026, 11, 18, 15, 0, tzinfo=UTC)) == "SHOULDER"  # 09:00 local
    assert mdm_usage.tou_period(datetime(2026, 11, 18, 4, 0, tzinfo=UTC)) == "OFF_PEAK"  # 22:00 the day before
    assert mdm_usage.tou_period(datetime(2026, 11, 21, 23, 0, tzinfo=UTC)) == "OFF_PEAK"
    assert mdm_usage.tou_period(datetime(2026, 11, 26, 23, 0, tzinfo=UTC)) == "OFF_PEAK"


def test_a_rate_plan_charge_is_its_lines_rounded_to_the_cent() -> None:
    # Given a month under the three plans
    found = mdm_usage.usage("SA-00005", date(2026, 9, 1), date(2026, 10, 1))
    buckets = {p: mdm_usage.kwh(wh) for p, wh in found.bucket_wh().items()}
    flat, tou, demand = (mdm_usage.rate_plan_charge(p, found) for p in ("RES-FLAT", "RES-TOU", "RES-DEMAND"))

    # Then each charge is the fixed charge plus its priced quantities, per line to the cent
    assert flat["charge"] == Decimal("12.00") + (mdm_usage.kwh(found.total_wh) * Decimal("0.1450")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    expected_tou = Decimal("12.00") + sum(
        (buckets[p] * Decimal(price)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        for p, price in {"ON_PEAK": "0.28", "SHOULDER": "0.15", "OFF_PEAK": "0.08"}.items()
    )
    assert tou["charge"] == expected_tou
    assert demand["charge"] == sum(line["amount"] for line in demand["lines"])
    assert [line["description"] for line in demand["lines"]] == ["fixed charge", "energy ALL", "peak demand"]


def test_register_boundaries_hold_the_estimate_and_grow_with_time() -> None:
    # Given register R-00001 (SA-00001's) read in March and in June
    march = mdm_usage.read_boundaries("R-00001", datetime(2026, 3, 1, 6, tzinfo=UTC))  # midnight in Chicago
    june = mdm_usage.read_boundaries("R-00001", datetime(2026, 6, 1, tzinfo=UTC))

    # Then low <= estimate <= high, within 10 %, and the estimate is the SA's usage since installation
    for answer in (march, june):
        assert answer["low"] <= answer["estimate"] <= answer["high"]
        assert answer["high"] - answer["low"] <= answer["estimate"] * Decimal("0.2") + 2
    since_installed = mdm_usage.usage("SA-00001", date(2026, 1, 1), date(2026, 3, 1))
    assert march["estimate"] == (Decimal(since_installed.total_wh) / 1000).to_integral_value()
    assert june["estimate"] > march["estimate"]


def test_the_http_services_answer_numbers_that_add_up() -> None:
    # Given the bill determinants service asked for intervals
    status, body = call(
        "POST",
        "/usage/bill-determinants",
        {"saId": "SA-00009", "periodStart": "2026-11-02", "periodEnd": "2026-11-03", "includeIntervals": True},
    )

    # Then the JSON numbers add up exactly when read as decimals
    assert status == 200
    total = _decimal(next(d["quantity"] for d in body["determinants"] if d["touPeriod"] == "TOTAL"))
    assert sum(_decimal(i["kwh"]) for i in body["intervals"]) == total
    assert sum(_decimal(d["quantity"]) for d in body["determinants"] if d["touPeriod"] in mdm_usage.TOU_PERIODS) == total


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "pointer"),
    [
        ("POST", "/usage/bill-determinants", {"saId": "SA-99999", "periodStart": "2026-11-01", "periodEnd": "2026-11-02"}, 404, None),
        ("POST", "/usage/bill-determinants", {"saId": "SA-0001", "periodStart": "2026-11-01", "periodEnd": "2026-11-02"}, 404, None),
        (
            "POST",
            "/usage/bill-determinants",
            {"saId": "SA-00001", "periodStart": "2026-11-05", "periodEnd": "2026-11-02"},
            422,
            "#/periodEnd",
        ),
        (
            "POST",
            "/usage/bill-determinants",
            {"saId": "SA-00001", "periodStart": "2026-11-02", "periodEnd": "2026-11-02"},
            422,
            "#/periodEnd",
        ),
        (
            "POST",
            "/usage/bill-determinants",
            {"saId": "SA-00001", "periodStart": "2025-01-01", "periodEnd": "2026-11-02"},
            422,
            "#/periodEnd",
        ),
        ("POST", "/usage/bill-determinants", {"saId": "SA-00001", "periodStart": "soon", "periodEnd": "2026-11-02"}, 400, "#/periodStart"),
        (
            "POST",
            "/usage/usage",
            {"saId": "SA-00001", "periodStart": "2026-11-01", "periodEnd": "2026-11-02", "ratePlans": ["GOLD"]},
            422,
            "#/ratePlans",
        ),
        ("GET", "/usage/registers/R-00001/read-boundaries?readAt=2025-06-01T00:00:00Z", None, 422, "#/readAt"),
        ("GET", "/usage/registers/R-00001/read-boundaries?readAt=noon", None, 400, "#/readAt"),
        ("GET", "/usage/registers/R-77/read-boundaries?readAt=2026-06-01T00:00:00Z", None, 404, None),
    ],
)
def test_what_mdm_refuses_is_a_problem_naming_the_field(
    method: str, path: str, body: dict | None, status: int, pointer: str | None
) -> None:
    answered, problem = call(method, path, body)
    assert answered == status
    assert problem["status"] == status
    assert [e["pointer"] for e in problem.get("errors", [])] == ([pointer] if pointer else [])


def test_an_sa_synchronized_to_mdm_is_known_beside_the_seeded_ones() -> None:
    # Given an MDM that holds SA-0001 from MD-03
    mdm = MdmSimulator()
    mdm.records["SERVICE_AGREEMENT#SA-0001"] = {"mdmId": "US-000001"}

    # Then it is served, as the seeded SA-20000; SA-20001 is beyond the seeded set
    assert mdm.holds_service_agreement("SA-0001")
    assert mdm.holds_service_agreement("SA-20000")
    assert not mdm.holds_service_agreement("SA-20001")


def test_a_gas_sa_is_read_hourly_in_therms_with_more_in_winter_and_only_a_total() -> None:
    # Given the seeded gas SA's January and July, and its determinants with intervals
    january = mdm_usage.usage("SA-G0001", date(2026, 1, 5), date(2026, 1, 12), service_type=mdm_usage.GAS)
    july = mdm_usage.usage("SA-G0001", date(2026, 7, 6), date(2026, 7, 13), service_type=mdm_usage.GAS)
    answer = mdm_usage.bill_determinants(january, include_intervals=True)

    # Then its reads are hourly, in MDM's therm code, its winter week uses more, and it has no TOU or demand
    assert len(january.reads) == 7 * 24
    assert january.total_wh > 2 * july.total_wh
    assert (answer["serviceType"], answer["uom"]) == ("GAS", "thm")
    assert answer["determinants"] == [{"uom": "thm", "touPeriod": "TOTAL", "quantity": mdm_usage.kwh(january.total_wh)}]
    assert "peakDemandKw" not in answer
    assert sum(i["quantity"] for i in answer["intervals"]) == mdm_usage.kwh(january.total_wh)
    assert all("kwh" not in i for i in answer["intervals"])


def test_a_water_sa_uses_most_in_the_morning_and_evening_in_gallons() -> None:
    week = mdm_usage.usage("SA-W0001", date(2026, 11, 2), date(2026, 11, 9), service_type=mdm_usage.WATER)
    by_hour = [0] * 24
    for read in week.reads:
        by_hour[read.start.astimezone(ZoneInfo("America/Chicago")).hour] += read.wh
    assert min(by_hour[17:20]) > 5 * max(by_hour[1:4])
    answer = mdm_usage.usage_answer(week, ["WATER-RES"])
    assert (answer["uom"], answer["touBuckets"], answer["total"]) == ("gal", [], mdm_usage.kwh(week.total_wh))
    assert answer["comparison"][0]["charge"] == Decimal("8.00") + (answer["total"] * Decimal("0.0065")).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )


def test_mdm_holds_seeded_and_synchronized_sas_with_their_service_type() -> None:
    # Given an MDM holding a synchronized gas SA beside its seeded SAs
    mdm = MdmSimulator()
    mdm.records["SERVICE_AGREEMENT#SA-GAS-1"] = {"mdmId": "US-000001", "data": {"ServiceType": "GAS"}}
    mdm.records["SERVICE_AGREEMENT#SA-OLD-1"] = {"mdmId": "US-000002", "data": {}}

    # Then each SA has its service type, none being electric
    assert [mdm.service_type_of(sa) for sa in ("SA-GAS-1", "SA-OLD-1", "SA-00001", "SA-G0042", "SA-W9999", "SA-G10000")] == [
        "GAS",
        "ELEC",
        "ELEC",
        "GAS",
        "WATR",
        None,
    ]


def test_a_rate_plan_of_another_service_type_is_refused_naming_rate_plans() -> None:
    status, problem = call(
        "POST", "/usage/usage", {"saId": "SA-G0001", "periodStart": "2026-11-01", "periodEnd": "2026-11-02", "ratePlans": ["RES-FLAT"]}
    )
    assert status == 422
    assert problem["errors"][0]["pointer"] == "#/ratePlans"
    assert "bills ELEC, not the GAS" in problem["detail"]


def test_the_estimate_to_the_end_of_the_bill_period_is_the_bill_period_s_usage_priced_the_same_way() -> None:
    # Given a bill-to-date of 1..10 November and a bill period ending 1 December
    asked = {
        "saId": "SA-G0007",
        "periodStart": "2026-11-01",
        "periodEnd": "2026-11-11",
        "ratePlans": ["GAS-RES"],
        "billPeriodEnd": "2026-12-01",
    }
    status, body = call("POST", "/usage/usage", asked)

    # Then the estimate is the whole bill period's usage (to date plus MDM's estimate of the rest) and its charge
    whole = mdm_usage.usage("SA-G0007", date(2026, 11, 1), date(2026, 12, 1), service_type=mdm_usage.GAS)
    assert status == 200
    assert body["estimate"]["periodEnd"] == "2026-12-01"
    assert _decimal(body["estimate"]["total"]) == mdm_usage.kwh(whole.total_wh) > _decimal(body["total"])
    assert _decimal(body["estimate"]["comparison"][0]["charge"]) == mdm_usage.rate_plan_charge("GAS-RES", whole)["charge"]
    # and a bill period that ends before the bill-to-date is refused
    status, problem = call("POST", "/usage/usage", {**asked, "billPeriodEnd": "2026-11-05"})
    assert (status, problem["errors"][0]["pointer"]) == (422, "#/billPeriodEnd")
