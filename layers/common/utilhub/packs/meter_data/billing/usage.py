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

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self
from urllib.parse import quote, urlencode

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from utilhub.packs.meter_data.model import ID
from utilhub.packs.meter_data.wiring import connector_for
from utilhub.platform.budget import TimeBudget, bad_gateway
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
    """MD-15: usage of a period, priced under each rate plan asked (at most 10)."""

    ratePlans: list[RatePlan] = Field(default_factory=list, max_length=10)


# ------------------------------------------------------------------------------------ answers
class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Determinant(_Answer):
    uom: Literal["KWH", "KW"]
    touPeriod: Literal["TOTAL", "ON_PEAK", "SHOULDER", "OFF_PEAK", "PEAK"]
    quantity: Quantity = Field(ge=0)


class IntervalRead(_Answer):
    start: AwareDatetime
    kwh: Quantity = Field(ge=0)


class BillDeterminants(_Answer):
    """MD-12's answer: the determinants, their sums checked; ``intervals`` only when asked."""

    saId: str
    periodStart: date
    periodEnd: date
    usageTransactionId: str | None = None
    determinants: list[Determinant]
    peakDemandKw: Quantity = Field(ge=0)
    intervals: list[IntervalRead] | None = None

    def quantity(self, uom: str, tou_period: str) -> Decimal:
        return sum((_decimal(d.quantity) for d in self.determinants if (d.uom, d.touPeriod) == (uom, tou_period)), Decimal(0))

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        if sum(1 for d in self.determinants if (d.uom, d.touPeriod) == ("KWH", "TOTAL")) != 1:
            raise ValueError("there must be one KWH TOTAL determinant")
        total = self.quantity("KWH", "TOTAL")
        if sum(self.quantity("KWH", period) for period in TOU_PERIODS) != total:
            raise ValueError("the time-of-use buckets do not add up to the total")
        if self.intervals is not None and sum(_decimal(i.kwh) for i in self.intervals) != total:
            raise ValueError("the intervals do not add up to the total")
        return self


class TouBucket(_Answer):
    touPeriod: Literal["ON_PEAK", "SHOULDER", "OFF_PEAK"]
    kwh: Quantity = Field(ge=0)


class DailyUsage(_Answer):
    date: date
    kwh: Quantity = Field(ge=0)


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


class Usage(_Answer):
    """MD-15's answer: total, buckets and days (each adding up to the total), peak demand, and the comparison."""

    saId: str
    periodStart: date
    periodEnd: date
    totalKwh: Quantity = Field(ge=0)
    touBuckets: list[TouBucket]
    peakDemandKw: Quantity = Field(ge=0)
    daily: list[DailyUsage]
    comparison: list[RatePlanCharge] | None = None

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        total = _decimal(self.totalKwh)
        if sum(_decimal(b.kwh) for b in self.touBuckets) != total or sum(_decimal(d.kwh) for d in self.daily) != total:
            raise ValueError("the buckets or the days do not add up to the total")
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
def read_from_mdm(method: str, path: str, body: Any = None, *, budget: TimeBudget | None = None, field: str = "#") -> dict[str, Any]:
    """One read at MDM within the budget, tried once more when it failed and time is left: its JSON object. MDM's
    404 is a 404 problem, its 400 or 422 (it refuses what it was asked) a 422 naming ``field``."""
    return (budget or TimeBudget()).json_call(connector_for("MDM"), method, path, body, read_only=True, refused=field)


def checked[M: BaseModel](model: type[M], answer: Any) -> M:
    try:
        return model.model_validate(answer)
    except ValidationError as exc:
        raise bad_gateway(
            "MDM", f"answered an unusable {model.__name__}: {exc.errors(include_url=False, include_input=False)[0]['msg']}"
        ) from None


def bill_determinants(request: BillDeterminantsIn, *, budget: TimeBudget | None = None) -> dict[str, Any]:
    """MD-12: MDM's bill determinants for the SA and period (with intervals when asked)."""
    body = request.model_dump(mode="json", include={"saId", "periodStart", "periodEnd", "includeIntervals"})
    found = checked(BillDeterminants, read_from_mdm("POST", "usage/bill-determinants", body, budget=budget, field="#/periodEnd"))
    if (wrong := mismatch(found, request)) is not None:
        raise bad_gateway("MDM", wrong)
    return found.model_dump(mode="json", exclude_none=True)


def mismatch(found: BillDeterminants, request: BillDeterminantsIn) -> str | None:
    """Why MDM's determinants do not answer ``request`` (another SA or period, intervals missing), or None."""
    if (found.saId, found.periodStart, found.periodEnd) != (request.saId, request.periodStart, request.periodEnd):
        return f"answered for {found.saId} {found.periodStart}..{found.periodEnd}, not the SA and period asked"
    if request.includeIntervals and found.intervals is None:
        return "answered without the intervals asked for"
    return None


def usage(request: UsageIn) -> dict[str, Any]:
    """MD-15: the period's usage, and its charge under each rate plan asked."""
    # what MDM refuses in a valid request is a rate plan it does not bill under
    found = checked(Usage, read_from_mdm("POST", "usage/usage", request.model_dump(mode="json"), field="#/ratePlans"))
    if sorted(c.ratePlan for c in found.comparison or []) != sorted(request.ratePlans):
        raise bad_gateway("MDM", "answered a comparison for other rate plans than asked")
    return found.model_dump(mode="json", exclude_none=True)


def read_boundaries(register_id: str, read_at: datetime) -> dict[str, Any]:
    """MD-14: the register's estimated reading at ``read_at`` and its high-low boundaries."""
    query = urlencode({"readAt": read_at.isoformat()})
    answer = read_from_mdm("GET", f"usage/registers/{quote(register_id, safe='')}/read-boundaries?{query}", field="#/readAt")
    return checked(ReadBoundaries, answer).model_dump(mode="json")
