"""MDM's usage services, computed so that every answer can be checked by arithmetic.

MDM derives 15-minute interval reads for a service agreement (its usage subscription) from a load
shape seeded by the SA id: an average load from the id's hash, an hourly residential profile, a
weekend factor and a per-interval variation from the hash of the id and the interval's start. The
same SA and interval always give the same reading, whatever period is asked, so a bill period, a
bill-to-date and a register's reading all agree.

Each interval is a whole number of watt-hours, so every sum is exact: the intervals add up to the
total, the time-of-use buckets (``ON_PEAK``, ``SHOULDER``, ``OFF_PEAK`` from :data:`TOU_CALENDAR`)
add up to the total, the days add up to the total. Peak demand is the largest interval's energy
over 15 minutes (kW). A rate plan's charge (:data:`RATE_PLANS`) is the sum of its lines, each
rounded half-up to the cent.

Which service agreements MDM holds: those synchronized to it (MD-03, kept by ``MdmSimulator``) and
a documented seeded set, ``SA-00001`` .. ``SA-20000`` (five digits), so a bill run can be sized
without syncing master data first. Register ``R-<n>`` (``R-00001`` .. ``R-20000``) is the kWh
register of ``SA-<n>``, installed at :data:`REGISTER_INSTALLED` with a reading of zero.

Services (JSON; a problem document for every refusal):
- ``POST /usage/bill-determinants`` ``{"saId","periodStart","periodEnd","includeIntervals"}``;
- ``POST /usage/usage`` ``{"saId","periodStart","periodEnd","ratePlans"}``;
- ``GET /usage/registers/{registerId}/read-boundaries?readAt=``.
A period runs from ``periodStart`` 00:00 to ``periodEnd`` 00:00 in the calendar's time zone (the end
date is the next period's start). Unknown SA or register: 404; a body or date that cannot be read:
400; a period that ends before it starts or is longer than :data:`MAX_PERIOD_DAYS`, an unknown rate
plan, a read before installation: 422.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from localhub.simulators.base import Reply

INTERVAL = timedelta(minutes=15)
MAX_PERIOD_DAYS = 366
SEEDED_SA = re.compile(r"^SA-(\d{5})$")
SEEDED_REGISTER = re.compile(r"^R-(\d{5})$")
SEEDED_COUNT = 20_000
REGISTER_INSTALLED = date(2026, 1, 1)
# tolerance of a register read around MDM's estimate
BOUNDARY_TOLERANCE = Decimal("0.10")
KWH = Decimal("0.001")
CENT = Decimal("0.01")

TOU_CALENDAR: dict[str, Any] = {
    "timeZone": "America/Chicago",
    # weekdays that are not holidays; every other hour, weekend and holiday is OFF_PEAK
    "weekday": {"SHOULDER": (7, 16), "ON_PEAK": (16, 21)},
    "holidays": ("2026-01-01", "2026-05-25", "2026-07-04", "2026-09-07", "2026-11-26", "2026-12-25", "2027-01-01"),
}
TOU_PERIODS = ("ON_PEAK", "SHOULDER", "OFF_PEAK")

# rate plan -> fixed charge per bill, and price per kWh by TOU period (or "ALL"), price per kW of peak demand
# (electric plans in kWh; gas in therms, water in gallons: a plan bills one service type)
RATE_PLANS: dict[str, dict[str, Any]] = {
    "RES-FLAT": {"service": "ELEC", "fixed": Decimal("12.00"), "energy": {"ALL": Decimal("0.1450")}, "demand": Decimal("0")},
    "RES-TOU": {
        "service": "ELEC",
        "fixed": Decimal("12.00"),
        "energy": {"ON_PEAK": Decimal("0.2800"), "SHOULDER": Decimal("0.1500"), "OFF_PEAK": Decimal("0.0800")},
        "demand": Decimal("0"),
    },
    "RES-DEMAND": {"service": "ELEC", "fixed": Decimal("12.00"), "energy": {"ALL": Decimal("0.0900")}, "demand": Decimal("9.50")},
    "GAS-RES": {"service": "GAS", "fixed": Decimal("10.50"), "energy": {"ALL": Decimal("1.1800")}, "demand": Decimal("0")},
    "WATER-RES": {"service": "WATR", "fixed": Decimal("8.00"), "energy": {"ALL": Decimal("0.0065")}, "demand": Decimal("0")},
}

# share of the average load by hour of day (percent; averages 100 over the day)
_HOURLY = (55, 50, 48, 47, 48, 60, 85, 110, 105, 90, 85, 85, 88, 90, 95, 105, 130, 160, 170, 155, 130, 105, 80, 65)
_HOURLY_MEAN = sum(_HOURLY) / 24
# gas: space and water heating, a morning and an evening peak; water: showers and gardens, nights near zero
_GAS_HOURLY = (70, 65, 65, 70, 85, 120, 160, 150, 120, 95, 85, 80, 80, 80, 85, 95, 115, 135, 140, 130, 115, 100, 90, 80)
_WATER_HOURLY = (10, 8, 6, 6, 10, 40, 160, 220, 170, 120, 100, 95, 95, 90, 95, 110, 140, 180, 190, 160, 120, 80, 40, 20)
# gas heating by month (January first): most in winter, least in summer
_GAS_SEASON = (1.8, 1.6, 1.3, 1.0, 0.6, 0.4, 0.35, 0.35, 0.5, 0.9, 1.3, 1.7)

# MDM's own codes: the usage subscription's service type (MD-03 ``ServiceType``, none is electric) and units
ELECTRIC, GAS, WATER = "ELEC", "GAS", "WATR"
SEEDED_GAS_SA = re.compile(r"^SA-G(\d{4})$")
SEEDED_WATER_SA = re.compile(r"^SA-W(\d{4})$")
SEEDED_COMMODITY_COUNT = 9_999


@dataclass(frozen=True)
class Commodity:
    """How MDM measures one service type: its unit (MDM's code), interval length, and whether it has time of
    use and demand (only electric rates are priced by time of use and demand)."""

    service_type: str
    uom: str
    interval: timedelta
    time_of_use: bool
    demand_uom: str | None


COMMODITIES = {
    ELECTRIC: Commodity(ELECTRIC, "kWh", INTERVAL, time_of_use=True, demand_uom="kW"),
    GAS: Commodity(GAS, "thm", timedelta(hours=1), time_of_use=False, demand_uom=None),
    WATER: Commodity(WATER, "gal", timedelta(hours=1), time_of_use=False, demand_uom=None),
}


class UsageRefused(Exception):
    """A request MDM refuses: answered as a problem document with ``status``."""

    def __init__(self, status: int, detail: str, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.pointer = pointer

    def reply(self) -> Reply:
        body: dict[str, Any] = {"type": "about:blank", "title": _TITLES[self.status], "status": self.status, "detail": self.detail}
        if self.pointer:
            body["errors"] = [{"pointer": self.pointer, "detail": self.detail}]
        return Reply(self.status, json.dumps(body).encode(), "application/problem+json")


_TITLES = {400: "Bad request", 404: "Not found", 422: "Unprocessable content"}


@dataclass(frozen=True)
class Interval:
    start: datetime  # UTC
    wh: int  # thousandths of the commodity's unit (watt-hours for electric)
    tou: str


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def average_watts(sa_id: str) -> int:
    """The SA's average load: 300 .. 1,499 W, from its id."""
    return 300 + _digest("load", sa_id) % 1200


def tou_period(start_utc: datetime, calendar: dict[str, Any] = TOU_CALENDAR) -> str:
    return _tou_of_local(start_utc.astimezone(ZoneInfo(calendar["timeZone"])), calendar)


def _tou_of_local(local: datetime, calendar: dict[str, Any]) -> str:
    if local.weekday() >= 5 or local.date().isoformat() in calendar["holidays"]:
        return "OFF_PEAK"
    for period, (first, last) in calendar["weekday"].items():
        if first <= local.hour < last:
            return str(period)
    return "OFF_PEAK"


def interval_wh(sa_id: str, start_utc: datetime, local: datetime, average: int) -> int:
    """The SA's energy in the quarter hour starting at ``start_utc`` (``local``: the same instant in the calendar's zone)."""
    shape = _HOURLY[local.hour] / _HOURLY_MEAN
    weekend = 1.15 if local.weekday() >= 5 else 1.0
    variation = 0.75 + (_digest(sa_id, start_utc.isoformat()) % 501) / 1000  # 0.75 .. 1.25
    return round(average * shape * weekend * variation / 4)  # W over a quarter hour -> Wh


def gas_interval(sa_id: str, start_utc: datetime, local: datetime) -> int:
    """A gas SA's hour in thousandths of a therm: 0.04 .. 0.12 therm an hour on average, by hour and month."""
    average = 40 + _digest("gas", sa_id) % 81
    variation = 0.8 + (_digest(sa_id, start_utc.isoformat()) % 401) / 1000  # 0.8 .. 1.2
    return round(average * _GAS_HOURLY[local.hour] / 100 * _GAS_SEASON[local.month - 1] * variation)


def water_interval(sa_id: str, start_utc: datetime, local: datetime) -> int:
    """A water SA's hour in thousandths of a gallon: 6 .. 16 gallons an hour on average, by hour and weekday."""
    average = 6000 + _digest("water", sa_id) % 10001
    weekend = 1.1 if local.weekday() >= 5 else 1.0
    variation = 0.7 + (_digest(sa_id, start_utc.isoformat()) % 601) / 1000  # 0.7 .. 1.3
    return round(average * _WATER_HOURLY[local.hour] / 100 * weekend * variation)


def period_bounds(start: date, end: date, calendar: dict[str, Any] = TOU_CALENDAR) -> tuple[datetime, datetime]:
    zone = ZoneInfo(calendar["timeZone"])
    return (
        datetime.combine(start, time(), zone).astimezone(UTC),
        datetime.combine(end, time(), zone).astimezone(UTC),
    )


def intervals(
    sa_id: str, start: datetime, end: datetime, calendar: dict[str, Any] = TOU_CALENDAR, service_type: str = ELECTRIC
) -> Iterator[Interval]:
    """The SA's reads from ``start`` (UTC, on an interval's start) up to ``end``: 15-minute kWh for electric,
    hourly therms for gas and gallons for water (without time of use: ``tou`` is ``OFF_PEAK``)."""
    zone = ZoneInfo(calendar["timeZone"])
    step = COMMODITIES[service_type].interval
    average = average_watts(sa_id)
    at = start
    while at < end:
        local = at.astimezone(zone)
        if service_type == GAS:
            yield Interval(at, gas_interval(sa_id, at, local), "OFF_PEAK")
        elif service_type == WATER:
            yield Interval(at, water_interval(sa_id, at, local), "OFF_PEAK")
        else:
            yield Interval(at, interval_wh(sa_id, at, local, average), _tou_of_local(local, calendar))
        at += step


def kwh(wh: int) -> Decimal:
    """Thousandths of a unit as the unit, to three decimals (Wh as kWh, thousandths of a therm as therms)."""
    return (Decimal(wh) / 1000).quantize(KWH)


def check_period(start: date, end: date, pointer: str = "#/periodEnd") -> None:
    if end <= start:
        raise UsageRefused(422, f"{pointer[2:]} must be after periodStart", pointer)
    if (end - start).days > MAX_PERIOD_DAYS:
        raise UsageRefused(422, f"a period may be at most {MAX_PERIOD_DAYS} days", pointer)


@dataclass(frozen=True)
class Usage:
    sa_id: str
    start: date
    end: date
    reads: tuple[Interval, ...]
    service_type: str = ELECTRIC

    @property
    def commodity(self) -> Commodity:
        return COMMODITIES[self.service_type]

    @property
    def total_wh(self) -> int:
        return sum(i.wh for i in self.reads)

    def bucket_wh(self) -> dict[str, int]:
        buckets = dict.fromkeys(TOU_PERIODS, 0)
        for read in self.reads:
            buckets[read.tou] += read.wh
        return buckets

    @property
    def peak_demand_kw(self) -> Decimal:
        return kwh(max((i.wh for i in self.reads), default=0) * 4)

    def daily_wh(self, calendar: dict[str, Any] = TOU_CALENDAR) -> dict[str, int]:
        zone = ZoneInfo(calendar["timeZone"])
        days: dict[str, int] = {}
        for read in self.reads:
            day = read.start.astimezone(zone).date().isoformat()
            days[day] = days.get(day, 0) + read.wh
        return days


def usage(sa_id: str, start: date, end: date, calendar: dict[str, Any] = TOU_CALENDAR, service_type: str = ELECTRIC) -> Usage:
    check_period(start, end)
    first, last = period_bounds(start, end, calendar)
    return Usage(sa_id, start, end, tuple(intervals(sa_id, first, last, calendar, service_type)), service_type)


def bill_determinants(found: Usage, *, include_intervals: bool) -> dict[str, Any]:
    """The determinants in MDM's units: the total; for electric also the time-of-use buckets and peak demand
    (a gas or water rate is priced on its volume alone, so its SA has neither)."""
    commodity = found.commodity
    determinants = [{"uom": commodity.uom, "touPeriod": "TOTAL", "quantity": kwh(found.total_wh)}]
    if commodity.time_of_use:
        buckets = found.bucket_wh()
        determinants += [{"uom": commodity.uom, "touPeriod": period, "quantity": kwh(buckets[period])} for period in TOU_PERIODS]
    if commodity.demand_uom:
        determinants.append({"uom": commodity.demand_uom, "touPeriod": "PEAK", "quantity": found.peak_demand_kw})
    answer: dict[str, Any] = {
        "saId": found.sa_id,
        "periodStart": found.start.isoformat(),
        "periodEnd": found.end.isoformat(),
        "serviceType": commodity.service_type,
        "uom": commodity.uom,
        "usageTransactionId": f"UT-{_digest('ut', found.sa_id, found.start.isoformat(), found.end.isoformat()) % 10**10:010d}",
        "determinants": determinants,
        "intervalCount": len(found.reads),
    }
    if commodity.demand_uom:
        answer["peakDemandKw"] = found.peak_demand_kw
    if include_intervals:
        answer["intervals"] = [_read(r.start.strftime("%Y-%m-%dT%H:%M:%SZ"), r.wh, commodity, "start") for r in found.reads]
    return answer


def _read(at: str, wh: int, commodity: Commodity, name: str) -> dict[str, Any]:
    """One interval or day: its ``quantity`` in the commodity's unit, and ``kwh`` as well for electric."""
    read: dict[str, Any] = {name: at, "quantity": kwh(wh)}
    if commodity.service_type == ELECTRIC:
        read["kwh"] = kwh(wh)
    return read


def rate_plan_charge(plan_name: str, found: Usage) -> dict[str, Any]:
    """The charge of ``found`` under a rate plan: lines each rounded to the cent, and their sum."""
    plan = RATE_PLANS.get(plan_name)
    if plan is None:
        raise UsageRefused(422, f"unknown rate plan {plan_name}; the plans are {', '.join(RATE_PLANS)}", "#/ratePlans")
    if plan["service"] != found.service_type:
        raise UsageRefused(
            422, f"rate plan {plan_name} bills {plan['service']}, not the {found.service_type} of SA {found.sa_id}", "#/ratePlans"
        )
    buckets = found.bucket_wh()
    what = "energy" if found.service_type == ELECTRIC else "usage"
    lines = [{"description": "fixed charge", "quantity": Decimal(1), "price": plan["fixed"], "amount": plan["fixed"]}]
    for period, price in plan["energy"].items():
        quantity = kwh(found.total_wh if period == "ALL" else buckets[period])
        lines.append({"description": f"{what} {period}", "quantity": quantity, "price": price, "amount": _cents(quantity * price)})
    if plan["demand"]:
        demand = found.peak_demand_kw
        lines.append({"description": "peak demand", "quantity": demand, "price": plan["demand"], "amount": _cents(demand * plan["demand"])})
    return {"ratePlan": plan_name, "currency": "USD", "charge": sum((line["amount"] for line in lines), Decimal(0)), "lines": lines}


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def usage_answer(found: Usage, rate_plans: list[str], *, bill_period: Usage | None = None) -> dict[str, Any]:
    """MD-15's answer in MDM's units. With ``bill_period`` (the whole bill period, its days after ``found``'s end
    estimated from the SA's load shape) also the estimate to the end of the bill period, priced the same way."""
    commodity = found.commodity
    buckets = found.bucket_wh()
    answer: dict[str, Any] = {
        "saId": found.sa_id,
        "periodStart": found.start.isoformat(),
        "periodEnd": found.end.isoformat(),
        "serviceType": commodity.service_type,
        "uom": commodity.uom,
        "total": kwh(found.total_wh),
        "touBuckets": [],
        "daily": [_read(day, wh, commodity, "date") for day, wh in found.daily_wh().items()],
    }
    if commodity.service_type == ELECTRIC:
        answer["totalKwh"] = kwh(found.total_wh)
    if commodity.time_of_use:
        answer["touBuckets"] = [
            {"touPeriod": period, "kwh": kwh(buckets[period]), "quantity": kwh(buckets[period])} for period in TOU_PERIODS
        ]
    if commodity.demand_uom:
        answer["peakDemandKw"] = found.peak_demand_kw
    if rate_plans:
        answer["comparison"] = [rate_plan_charge(plan, found) for plan in rate_plans]
    if bill_period is not None:
        estimate: dict[str, Any] = {"periodEnd": bill_period.end.isoformat(), "total": kwh(bill_period.total_wh)}
        if rate_plans:
            estimate["comparison"] = [rate_plan_charge(plan, bill_period) for plan in rate_plans]
        answer["estimate"] = estimate
    return answer


def read_boundaries(register_id: str, read_at: datetime, calendar: dict[str, Any] = TOU_CALENDAR) -> dict[str, Any]:
    """MDM's estimate of a register's reading at ``read_at`` (whole kWh since installation) and the
    band a read must fall in to be accepted: low <= estimate <= high."""
    match = SEEDED_REGISTER.match(register_id)
    if not match or not 1 <= int(match.group(1)) <= SEEDED_COUNT:
        raise UsageRefused(404, f"no register {register_id}")
    installed, _ = period_bounds(REGISTER_INSTALLED, REGISTER_INSTALLED, calendar)
    if read_at < installed:
        raise UsageRefused(422, f"readAt is before the register was installed ({REGISTER_INSTALLED})", "#/readAt")
    if read_at - installed > timedelta(days=2 * MAX_PERIOD_DAYS):
        raise UsageRefused(422, f"readAt is more than {2 * MAX_PERIOD_DAYS} days after installation", "#/readAt")
    sa_id = f"SA-{match.group(1)}"
    consumed = sum(i.wh for i in intervals(sa_id, installed, read_at, calendar))  # the quarter hours begun before readAt
    estimate = (Decimal(consumed) / 1000).to_integral_value(rounding=ROUND_HALF_UP)
    low = (estimate * (1 - BOUNDARY_TOLERANCE)).to_integral_value(rounding=ROUND_FLOOR)
    high = (estimate * (1 + BOUNDARY_TOLERANCE)).to_integral_value(rounding=ROUND_CEILING)
    return {
        "registerId": register_id,
        "readAt": read_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "uom": "KWH",
        "estimate": estimate,
        "low": low,
        "high": high,
    }


def is_seeded_sa(sa_id: str) -> bool:
    return seeded_service_type(sa_id) is not None


def seeded_service_type(sa_id: str) -> str | None:
    """The service type of a seeded SA: ``SA-00001`` .. ``SA-20000`` electric, ``SA-G0001`` .. ``SA-G9999`` gas,
    ``SA-W0001`` .. ``SA-W9999`` water; None for any other id."""
    for pattern, count, service_type in (
        (SEEDED_SA, SEEDED_COUNT, ELECTRIC),
        (SEEDED_GAS_SA, SEEDED_COMMODITY_COUNT, GAS),
        (SEEDED_WATER_SA, SEEDED_COMMODITY_COUNT, WATER),
    ):
        if (match := pattern.match(sa_id)) and 1 <= int(match.group(1)) <= count:
            return service_type
    return None


# ---------------------------------------------------------------------------- HTTP
def _json_reply(answer: dict[str, Any]) -> Reply:
    return Reply(200, json.dumps(answer, default=_number).encode(), "application/json")


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent == 0 else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise UsageRefused(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise UsageRefused(400, "the body is not a JSON object")
    return body


def _date(body: dict[str, Any], name: str) -> date:
    try:
        return date.fromisoformat(str(body[name]))
    except (KeyError, ValueError):
        raise UsageRefused(400, f"{name} is not a date (YYYY-MM-DD)", f"#/{name}") from None


def _sa(body: dict[str, Any], service_of: Callable[[str], str | None]) -> tuple[str, str]:
    sa_id = body.get("saId")
    if not isinstance(sa_id, str) or not sa_id:
        raise UsageRefused(400, "saId is required", "#/saId")
    service_type = service_of(sa_id)
    if service_type is None:
        raise UsageRefused(404, f"no usage subscription for SA {sa_id}")
    return sa_id, service_type


def _usage(body: dict[str, Any], service_of: Callable[[str], str | None]) -> Usage:
    sa_id, service_type = _sa(body, service_of)
    return usage(sa_id, _date(body, "periodStart"), _date(body, "periodEnd"), service_type=service_type)


def handle(method: str, path: str, raw: bytes, *, service_of: Callable[[str], str | None]) -> Reply:
    """Answer one call to MDM's usage services; ``service_of`` is the service type of an SA MDM holds, else None."""
    parts = [unquote(p) for p in urlsplit(path).path.strip("/").split("/")]
    try:
        if method == "POST" and parts == ["usage", "bill-determinants"]:
            body = _body(raw)
            return _json_reply(bill_determinants(_usage(body, service_of), include_intervals=body.get("includeIntervals") is True))
        if method == "POST" and parts == ["usage", "usage"]:
            body = _body(raw)
            plans = body.get("ratePlans") or []
            if not isinstance(plans, list) or not all(isinstance(p, str) for p in plans):
                raise UsageRefused(400, "ratePlans is a list of rate plan codes", "#/ratePlans")
            found = _usage(body, service_of)
            bill_period = None
            if body.get("billPeriodEnd") is not None:  # the bill-to-date and its estimate to the end of the bill period
                end = _date(body, "billPeriodEnd")
                if end < found.end:
                    raise UsageRefused(422, "billPeriodEnd must not be before periodEnd", "#/billPeriodEnd")
                check_period(found.start, end, "#/billPeriodEnd")
                bill_period = usage(found.sa_id, found.start, end, service_type=found.service_type)
            return _json_reply(usage_answer(found, plans, bill_period=bill_period))
        if method == "GET" and len(parts) == 4 and parts[:2] == ["usage", "registers"] and parts[3] == "read-boundaries":
            text = (parse_qs(urlsplit(path).query).get("readAt") or [""])[0]
            try:
                read_at = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise UsageRefused(400, "readAt is not a date-time", "#/readAt") from None
            if read_at.tzinfo is None:
                raise UsageRefused(400, "readAt needs a time zone", "#/readAt")
            return _json_reply(read_boundaries(parts[2], read_at.astimezone(UTC)))
    except UsageRefused as refused:
        return refused.reply()
    return Reply(404, b"no such MDM usage service", "text/plain")
