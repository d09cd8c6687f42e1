"""The synchronous meter data billing points, each one call to MDM within the route's time budget
(``platform/budget``): 502 when MDM answered an error, 504 when it did not answer in time, MDM's 404
(an SA or register it does not hold) passed on as a 404. They only read, so a call that failed may be
tried once more while the budget lasts.

- MD-12 online bill determinants (CCB -> MDM), with the 15-minute intervals when asked;
- MD-15 usage for a period (CCB's rate check, Customer Self Service's rate comparison and bill-to-date),
  with a charge per rate plan when ``ratePlans`` are given;
- MD-14 a register's estimated reading at a time and the high-low band a read must fall in.

MDM's answers are checked before they are passed on: the intervals and the time-of-use buckets must
add up to the total (exactly, in decimals), and ``low <= estimate <= high``; an answer that does not
is a 502, never a wrong bill.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, urlencode

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from utilhub.packs.meter_data.model import ID
from utilhub.packs.meter_data.wiring import connector_for
from utilhub.platform.budget import TimeBudget, bad_gateway
from utilhub.platform.dvm import COMMON, domain_value_maps
from utilhub.platform.settings import get_settings

TOU_PERIODS = ("ON_PEAK", "SHOULDER", "OFF_PEAK")
RatePlan = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_\-]{0,31}$")]
Quantity = Annotated[float, Field(allow_inf_nan=False)]


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))


# ------------------------------------------------------------------------------------ requests
class UsagePeriodIn(BaseModel):
    """An SA and a billing period: from ``periodStart`` 00:00 to ``periodEnd`` 00:00 (the next period's start)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    saId: str = Field(pattern=ID)
    periodStart: date
    periodEnd: date

    @field_validator("periodEnd")
    @classmethod
    def _period(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("periodStart")
        if start is None:
            return end
        if end <= start:
            raise ValueError("must be after periodStart")
        longest = get_settings().meter_data.usage_max_period_days
        if (end - start).days > longest:
            raise ValueError(f"the period may be at most {longest} days")
        return end


class BillDeterminantsIn(UsagePeriodIn):
    """MD-12 (and each of MD-11's usage requests, which name themselves)."""

    usageRequestId: str | None = Field(default=None, pattern=ID)
    includeIntervals: bool = False


class UsageIn(UsagePeriodIn):
    """MD-15: usage of a period, priced under each rate plan asked (at most 10); with ``billPeriodEnd`` (the bill-to-date:
    the period is the bill period so far) also the estimate to the end of the bill period."""

    ratePlans: list[RatePlan] = Field(default_factory=list, max_length=10)
    billPeriodEnd: date | None = None

    @field_validator("billPeriodEnd")
    @classmethod
    def _bill_period(cls, end: date | None, info: ValidationInfo) -> date | None:
        start, to_date = info.data.get("periodStart"), info.data.get("periodEnd")
        if end is None or start is None or to_date is None:
            return end
        if end < to_date:
            raise ValueError("the bill period must not end before periodEnd")
        longest = get_settings().meter_data.usage_max_period_days
        if (end - start).days > longest:
            raise ValueError(f"the bill period may be at most {longest} days")
        return end


# ------------------------------------------------------------------------------------ answers
# What each service type is measured in (the hub's codes): the volume or energy billed, and demand for electric only.
SERVICE_TYPES = ("ELECTRIC", "GAS", "WATER")
ServiceType = Literal["ELECTRIC", "GAS", "WATER"]
UOMS: dict[str, tuple[str, ...]] = {"ELECTRIC": ("KWH",), "GAS": ("THERM", "CCF"), "WATER": ("GAL", "M3")}
DEMAND_UOM = "KW"
SERVICE_TYPE_MAP = "ServiceType"
UOM_MAP = "UnitOfMeasure"


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Determinant(_Answer):
    uom: str = Field(min_length=1, max_length=16)
    touPeriod: Literal["TOTAL", "ON_PEAK", "SHOULDER", "OFF_PEAK", "PEAK"]
    quantity: Quantity = Field(ge=0)


class _Measured(_Answer):
    """An interval or a day: its ``quantity`` in the SA's unit; ``kwh`` too for an electric SA."""

    quantity: Quantity | None = Field(default=None, ge=0)
    kwh: Quantity | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _quantity(self) -> Self:
        if self.quantity is None:
            if self.kwh is None:
                raise ValueError("a read needs its quantity")
            self.quantity = self.kwh
        return self

    @property
    def amount(self) -> Decimal:
        return _decimal(self.quantity if self.quantity is not None else 0)


class IntervalRead(_Measured):
    start: AwareDatetime


def _units_of(service_type: str, uom: str, *, electric_only: list[str]) -> None:
    if uom not in UOMS[service_type]:
        raise ValueError(f"a {service_type} SA is not measured in {uom} (it is in {' or '.join(UOMS[service_type])})")
    if service_type != "ELECTRIC" and electric_only:
        raise ValueError(f"a {service_type} SA has no {' or '.join(electric_only)}: its rate is priced on its volume alone")


class BillDeterminants(_Answer):
    """MD-12's answer: the determinants in the SA's unit, their sums checked; ``intervals`` only when asked.

    An electric SA (``serviceType`` absent or ``ELECTRIC``) has its kWh in total and per time-of-use period and its
    peak demand in kW; a gas SA (therms or CCF) and a water SA (gallons or cubic metres) only the total: their rates
    are not priced by time of use or demand."""

    saId: str
    periodStart: date
    periodEnd: date
    serviceType: ServiceType = "ELECTRIC"
    uom: str = "KWH"
    usageTransactionId: str | None = None
    determinants: list[Determinant]
    peakDemandKw: Quantity | None = Field(default=None, ge=0)
    intervals: list[IntervalRead] | None = None

    def quantity(self, uom: str, tou_period: str) -> Decimal:
        return sum((_decimal(d.quantity) for d in self.determinants if (d.uom, d.touPeriod) == (uom, tou_period)), Decimal(0))

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        buckets = [d for d in self.determinants if d.touPeriod in TOU_PERIODS]
        demand = [d for d in self.determinants if d.touPeriod == "PEAK"]
        _units_of(
            self.serviceType,
            self.uom,
            electric_only=["time-of-use buckets"] * bool(buckets) + ["demand"] * bool(demand or self.peakDemandKw is not None),
        )
        if any(d.uom != self.uom for d in self.determinants if d.touPeriod != "PEAK") or any(d.uom != DEMAND_UOM for d in demand):
            raise ValueError(f"a determinant is not in the SA's unit {self.uom} (demand in {DEMAND_UOM})")
        if sum(1 for d in self.determinants if d.touPeriod == "TOTAL") != 1:
            raise ValueError(f"there must be one {self.uom} TOTAL determinant")
        if self.serviceType == "ELECTRIC" and not buckets:  # an electric rate is priced by them: without, billed short
            raise ValueError("an electric SA's determinants have their time-of-use buckets")
        if self.serviceType == "ELECTRIC" and self.peakDemandKw is None:
            raise ValueError("an electric SA's determinants have its peak demand (peakDemandKw)")
        total = self.quantity(self.uom, "TOTAL")
        if buckets and sum(self.quantity(self.uom, period) for period in TOU_PERIODS) != total:
            raise ValueError("the time-of-use buckets do not add up to the total")
        if self.intervals is not None and sum(i.amount for i in self.intervals) != total:
            raise ValueError("the intervals do not add up to the total")
        return self


class TouBucket(_Answer):
    touPeriod: Literal["ON_PEAK", "SHOULDER", "OFF_PEAK"]
    kwh: Quantity = Field(ge=0)


class DailyUsage(_Measured):
    date: date


class ChargeLine(_Answer):
    description: str
    quantity: Quantity
    price: Quantity
    amount: Quantity


class RatePlanCharge(_Answer):
    ratePlan: str
    currency: str
    charge: Quantity
    lines: list[ChargeLine]

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        if sum((_decimal(line.amount) for line in self.lines), Decimal(0)) != _decimal(self.charge):
            raise ValueError(f"the lines of rate plan {self.ratePlan} do not add up to its charge")
        return self


class UsageEstimate(_Answer):
    """MD-15's estimate to the end of the bill period (Customer Self Service's "Current Bill-To and Estimate"): the
    usage of the whole bill period, MDM's reads to date and its estimate of the days after, and its charge under
    each rate plan asked."""

    periodEnd: date
    total: Quantity = Field(ge=0)
    comparison: list[RatePlanCharge] | None = None


class Usage(_Answer):
    """MD-15's answer: the total in the SA's unit, days (adding up to the total), for an electric SA its time-of-use
    buckets (adding up too), ``totalKwh`` and peak demand; the comparison; the estimate when a bill period end is given."""

    saId: str
    periodStart: date
    periodEnd: date
    serviceType: ServiceType = "ELECTRIC"
    uom: str = "KWH"
    total: Quantity | None = Field(default=None, ge=0)
    totalKwh: Quantity | None = Field(default=None, ge=0)
    touBuckets: list[TouBucket] = Field(default_factory=list)
    peakDemandKw: Quantity | None = Field(default=None, ge=0)
    daily: list[DailyUsage]
    comparison: list[RatePlanCharge] | None = None
    estimate: UsageEstimate | None = None

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        if self.total is None:
            self.total = self.totalKwh
        if self.total is None:
            raise ValueError("the usage has no total")
        _units_of(
            self.serviceType,
            self.uom,
            electric_only=["time-of-use buckets"] * bool(self.touBuckets) + ["demand"] * (self.peakDemandKw is not None),
        )
        total = _decimal(self.total)
        if self.totalKwh is not None and _decimal(self.totalKwh) != total:
            raise ValueError("totalKwh is not the total")
        if sum(d.amount for d in self.daily) != total:
            raise ValueError("the days do not add up to the total")
        if self.touBuckets and sum(_decimal(b.kwh) for b in self.touBuckets) != total:
            raise ValueError("the buckets do not add up to the total")
        if self.estimate is not None and (self.estimate.periodEnd < self.periodEnd or _decimal(self.estimate.total) < total):
            raise ValueError("the estimate to the end of the bill period is less than the usage to date")
        return self


class ReadBoundaries(_Answer):
    """MD-14's answer: MDM's estimate of the register's reading and the band a read must fall in."""

    registerId: str
    readAt: AwareDatetime
    uom: str = "KWH"
    estimate: Quantity
    low: Quantity
    high: Quantity

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low <= self.estimate <= self.high:
            raise ValueError("low <= estimate <= high does not hold")
        return self


# ------------------------------------------------------------------------------------ MDM
@dataclass(frozen=True)
class MdmRead:
    """One read at MDM's usage services: ``method`` and ``path`` (under MDM's base URL), the JSON ``body``, and the field
    of the hub's request that MDM's refusal (its 400 or 422) is about, named in the 422 the caller gets."""

    method: str
    path: str
    body: dict[str, Any] | None
    refused: str


def read_from_mdm(read: MdmRead, *, budget: TimeBudget | None = None) -> dict[str, Any]:
    """One read at MDM within the budget, tried once more when it failed and time is left: its JSON object. MDM's
    404 is a 404 problem, its 400 or 422 (it refuses what it was asked) a 422 naming ``read.refused``."""
    return (budget or TimeBudget()).json_call(connector_for("MDM"), read.method, read.path, read.body, read_only=True, refused=read.refused)


def _first_error(exc: ValidationError) -> str:
    """What is wrong with an answer: the message of its first error only, never its input (which may repeat MDM's values)."""
    return exc.errors()[0]["msg"]


def checked[M: BaseModel](model: type[M], answer: Any) -> M:
    try:
        return model.model_validate(answer)
    except ValidationError as exc:
        raise bad_gateway("MDM", f"answered an unusable {model.__name__}: {_first_error(exc)}") from None


class UnusableAnswer(ValueError):
    """An answer of MDM the hub cannot pass on: a code with no mapping, a sum that does not add up."""


def from_mdm(answer: Any) -> Any:
    """MDM's answer with its codes as the hub's: its service type (``ServiceType`` map) and units (``UnitOfMeasure``),
    so the rules are checked on the hub's codes whatever MDM's are. Raises :class:`UnusableAnswer` for a code with no
    mapping (MDM measures in a unit CCB cannot bill)."""
    if not isinstance(answer, dict):
        return answer
    maps = domain_value_maps()

    def code(name: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        found = maps.lookup(name, value, source="MDM", target=COMMON)
        if found is None:
            raise UnusableAnswer(f"{value!r} has no hub value in the domain value map {name}")
        return found

    answer = dict(answer)
    if "serviceType" in answer:
        answer["serviceType"] = code(SERVICE_TYPE_MAP, answer["serviceType"])
    if "uom" in answer:
        answer["uom"] = code(UOM_MAP, answer["uom"])
    if isinstance(answer.get("determinants"), list):
        answer["determinants"] = [{**d, "uom": code(UOM_MAP, d.get("uom"))} if isinstance(d, dict) else d for d in answer["determinants"]]
    return answer


def for_ccb(answer: dict[str, Any]) -> dict[str, Any]:
    """A checked answer (JSON) with its units in CCB's codes (``UnitOfMeasure``), as CCB bills them."""
    maps = domain_value_maps()

    def code(value: str) -> str:
        return maps.translate(UOM_MAP, value, source=COMMON, target="CCB", pointer="#/uom")

    converted = {**answer, "uom": code(answer["uom"])}
    if "determinants" in answer:
        converted["determinants"] = [{**d, "uom": code(d["uom"])} for d in answer["determinants"]]
    return converted


def ccb_service_type(service_type: str) -> str:
    """The hub's service type (``ELECTRIC``, ``GAS``, ``WATER``) in CCB's code (the ``ServiceType`` map: E, G, W), as
    CCB's billing takes it with the determinants of a usage request (MD-11)."""
    return domain_value_maps().translate(SERVICE_TYPE_MAP, service_type, source=COMMON, target="CCB", pointer="#/serviceType")


def read_determinants(body: bytes | str) -> BillDeterminants:
    """MDM's bill determinants from its JSON answer, in the hub's codes and checked; :class:`UnusableAnswer` if not."""
    try:
        return BillDeterminants.model_validate(from_mdm(json.loads(body)))
    except ValidationError as exc:
        raise UnusableAnswer(_first_error(exc)) from None
    except ValueError as exc:  # not JSON, or a code with no mapping
        raise UnusableAnswer(str(exc)) from None


def determinants_read(request: BillDeterminantsIn) -> MdmRead:
    """MD-12's read at MDM: the SA, the period and whether the intervals are wanted (a usage request's id stays with the hub)."""
    body = request.model_dump(mode="json", include={"saId", "periodStart", "periodEnd", "includeIntervals"})
    return MdmRead("POST", "usage/bill-determinants", body, refused="#/periodEnd")


def determinants_answer(request: BillDeterminantsIn, answer: Any) -> dict[str, Any]:
    """MD-12's answer from MDM's: checked (in the hub's codes, adding up, for the SA and period asked, with the intervals
    asked) and in CCB's units; a 502 naming MDM if not."""
    try:
        found = read_determinants(json.dumps(answer))
    except UnusableAnswer as exc:
        raise bad_gateway("MDM", f"answered unusable BillDeterminants: {exc}") from None
    if (wrong := mismatch(found, request)) is not None:
        raise bad_gateway("MDM", wrong)
    return for_ccb(found.model_dump(mode="json", exclude_none=True))


def bill_determinants(request: BillDeterminantsIn, *, budget: TimeBudget | None = None) -> dict[str, Any]:
    """MD-12: MDM's bill determinants for the SA and period (with intervals when asked), in CCB's units."""
    return determinants_answer(request, read_from_mdm(determinants_read(request), budget=budget))


def mismatch(found: BillDeterminants, request: BillDeterminantsIn) -> str | None:
    """Why MDM's determinants do not answer ``request`` (another SA or period, intervals missing), or None."""
    if (found.saId, found.periodStart, found.periodEnd) != (request.saId, request.periodStart, request.periodEnd):
        return f"answered for {found.saId} {found.periodStart}..{found.periodEnd}, not the SA and period asked"
    if request.includeIntervals and found.intervals is None:
        return "answered without the intervals asked for"
    return None


def usage_read(request: UsageIn) -> MdmRead:
    """MD-15's read at MDM: the request as it came (the SA, the period, the rate plans and the bill period's end)."""
    # what MDM refuses in a valid request is a rate plan it does not bill under (or not for the SA's service type)
    return MdmRead("POST", "usage/usage", request.model_dump(mode="json", exclude_none=True), refused="#/ratePlans")


def usage_answer(request: UsageIn, answer: Any) -> dict[str, Any]:
    """MD-15's answer from MDM's: checked (in the hub's codes, adding up, priced under exactly the rate plans asked, with
    the estimate to the end of the bill period asked) and in CCB's units; a 502 naming MDM if not."""
    try:
        found = checked(Usage, from_mdm(answer))
    except UnusableAnswer as exc:
        raise bad_gateway("MDM", f"answered an unusable Usage: {exc}") from None
    asked = sorted(request.ratePlans)
    if sorted(c.ratePlan for c in found.comparison or []) != asked:
        raise bad_gateway("MDM", "answered a comparison for other rate plans than asked")
    if request.billPeriodEnd is not None:
        if found.estimate is None or found.estimate.periodEnd != request.billPeriodEnd:
            raise bad_gateway("MDM", "answered without the estimate to the end of the bill period asked for")
        if sorted(c.ratePlan for c in found.estimate.comparison or []) != asked:
            raise bad_gateway("MDM", "answered an estimate for other rate plans than asked")
    return for_ccb(found.model_dump(mode="json", exclude_none=True))


def usage(request: UsageIn) -> dict[str, Any]:
    """MD-15: the period's usage in the SA's unit, its charge under each rate plan asked, and with ``billPeriodEnd``
    the estimate to the end of the bill period."""
    return usage_answer(request, read_from_mdm(usage_read(request)))


def boundaries_read(register_id: str, read_at: datetime) -> MdmRead:
    """MD-14's read at MDM: the register (one segment of the path, whatever it holds) and the time, in the query."""
    query = urlencode({"readAt": read_at.isoformat()})
    return MdmRead("GET", f"usage/registers/{quote(register_id, safe='')}/read-boundaries?{query}", None, refused="#/readAt")


def read_boundaries(register_id: str, read_at: datetime) -> dict[str, Any]:
    """MD-14: the register's estimated reading at ``read_at`` and its high-low boundaries (``low <= estimate <= high``,
    else a 502)."""
    return checked(ReadBoundaries, read_from_mdm(boundaries_read(register_id, read_at))).model_dump(mode="json")
