"""MDM's own contract for its billing services (JSON), written for the simulator from MDM's documented interface in the
CCB-MDM integration (seed 002), never from the hub's models. Master data sync is XML, validated against MDM's XSD
(``mdm/sync.xsd``) by the simulator itself.

- Usage transaction info update (MD-16, ``POST /usage-transactions/{id}/bill-usage``): the event, whether the usage
  transaction is used on a bill, and when. The indicator follows the event (seed 002, processing detail 10): a
  completed bill or a frozen bill segment is used on bill, a canceled segment is not.
- SA activation bill cycle request (MD-19): the SA and its service point.
- Usage adjustment request (MD-17): a quantity, never 0, in one of MDM's own units of measure over a period that
  ends on or after it starts, with its reason.
- MDM's outbound notifications: replacement reads (MD-13) and a bill cycle change (MD-20).

Every model refuses a member MDM does not have, so a hub that maps a field to a name MDM does not know, sends a unit
in another system's codes, or leaves out what MDM requires is refused here as MDM would refuse it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")]
BillCycle = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,15}$")]
# MDM's units of measure: electric kWh and kW, gas therms and hundred cubic feet, water gallons and cubic metres
MdmUom = Literal["kWh", "kW", "thm", "ccf", "gal", "m3"]
BillEvent = Literal["BILL_COMPLETED", "SEGMENT_FROZEN", "SEGMENT_CANCELED"]
USED_ON_BILL: dict[str, bool] = {"BILL_COMPLETED": True, "SEGMENT_FROZEN": True, "SEGMENT_CANCELED": False}


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Period(_Message):
    periodStart: date
    periodEnd: date

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.periodEnd < self.periodStart:
            raise ValueError("periodEnd is before periodStart")
        return self


class BillUsage(_Message):
    """MD-16: a usage transaction used on a bill (a bill completed, a segment frozen) or not (a segment canceled)."""

    eventId: Id
    usageTransactionId: Id
    usedOnBill: bool
    event: BillEvent
    at: AwareDatetime | None = None
    billId: Id | None = None
    billSegmentId: Id | None = None

    @model_validator(mode="after")
    def _indicator_follows_the_event(self) -> BillUsage:
        if self.usedOnBill != USED_ON_BILL[self.event]:
            raise ValueError(f"{self.event} means used on bill {USED_ON_BILL[self.event]}, not {self.usedOnBill}")
        return self


class BillCycleRequest(_Message):
    """MD-19: the bill cycle of the SA's service point, asked at SA activation."""

    saId: Id
    servicePointId: Id


class UsageAdjustmentRequest(_Period):
    """MD-17: a quantity added to (positive) or taken from (negative) an SA's usage over a period."""

    adjustmentId: Id
    saId: Id
    uom: MdmUom
    quantity: Annotated[float, Field(allow_inf_nan=False)]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    requestedBy: Annotated[str, StringConstraints(max_length=64)] | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> UsageAdjustmentRequest:
        if self.quantity == 0:
            raise ValueError("an adjustment of 0 changes nothing")
        return self


class ReplacementReadsNotification(_Period):
    """MD-13, MDM's outbound: determinants already sent for a usage transaction were replaced."""

    notificationId: Id
    saId: Id
    usageTransactionId: Id
    reason: Annotated[str, StringConstraints(max_length=254)] | None = None


class BillCycleChangeNotification(_Message):
    """MD-20, MDM's outbound: a service point's bill cycle relationship changed."""

    changeId: Id
    servicePointId: Id
    billCycle: BillCycle
    effectiveDate: date
    previousBillCycle: BillCycle | None = None
