"""The messages of the billing events, bill cycle and link points of Oracle's CCB-MDM integration (MD-13, MD-16, MD-17,
MD-19, MD-20, MD-21): what the hub takes from CCB and MDM, and what it hands the other side.

Every id is the pack's entity id pattern (letters, digits, ``.`` ``_`` ``:`` ``-``, at most 64): ids
travel into URL paths and CCB/MDM keys. Periods end on or after they start. Unknown fields are refused
(``extra="forbid"``): these are notifications, not master data that installations extend.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from utilhub.packs.meter_data.model import ID, Uom

EventId = Annotated[str, Field(pattern=ID)]
BillCycle = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,15}$", description="A bill cycle code, as CCB keeps it (BC01).")]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


def _period_end(value: date, info: ValidationInfo) -> date:
    start = info.data.get("periodStart")
    if start is not None and value < start:
        raise ValueError("must not be before periodStart")
    return value


class ReplacementReadsIn(_Message):
    """MD-13: MDM changed determinants it already sent for a usage transaction (processing detail 7)."""

    notificationId: EventId
    saId: EventId
    usageTransactionId: EventId
    periodStart: date
    periodEnd: date
    reason: str | None = Field(default=None, max_length=254, description="Why MDM replaced the reads, for the CCB user.")

    _end = field_validator("periodEnd")(_period_end)


class OffCycleBillRequest(_Message):
    """What CCB receives for MD-13: an off-cycle bill generation request to inform its user (no answer goes to MDM)."""

    requestId: EventId = Field(description="The MDM notification id: CCB keeps one request per notification.")
    saId: EventId
    usageTransactionId: EventId
    periodStart: date
    periodEnd: date
    reason: str | None = Field(default=None, max_length=254)
    source: Literal["MDM_REPLACEMENT_READS"] = "MDM_REPLACEMENT_READS"

    _end = field_validator("periodEnd")(_period_end)


BILL_EVENTS_USED_ON_BILL = {"BILL_COMPLETED": True, "SEGMENT_FROZEN": True, "SEGMENT_CANCELED": False}


class BillStatusIn(_Message):
    """MD-16: a bill completed or a bill segment frozen or canceled in CCB (processing detail 10)."""

    eventId: EventId
    event: Literal["BILL_COMPLETED", "SEGMENT_FROZEN", "SEGMENT_CANCELED"]
    at: AwareDatetime | None = Field(default=None, description="When it happened in CCB: MDM keeps the latest event's flag.")
    billId: EventId | None = None
    billSegmentId: EventId | None = None


class UsedOnBillUpdate(_Message):
    """What MDM receives for MD-16: whether the usage transaction is used on a bill, as of ``at`` (when CCB gave it)."""

    eventId: EventId
    usageTransactionId: EventId
    usedOnBill: bool
    event: Literal["BILL_COMPLETED", "SEGMENT_FROZEN", "SEGMENT_CANCELED"]
    at: AwareDatetime | None = None
    billId: EventId | None = None
    billSegmentId: EventId | None = None


class BillCycleChangeIn(_Message):
    """MD-20: MDM changed the bill cycle relationship of a service point (processing detail 2); CCB receives it."""

    changeId: EventId
    servicePointId: EventId
    billCycle: BillCycle
    effectiveDate: date
    previousBillCycle: BillCycle | None = None


class BillCycleRequestIn(_Message):
    """MD-19: at SA activation CCB asks MDM the bill cycle of the SA's service point."""

    saId: EventId
    servicePointId: EventId


class BillCycleAnswer(_Message):
    billCycle: BillCycle


class UsageAdjustmentIn(_Message):
    """MD-17 (self-service): a quantity added to (positive) or taken from (negative) an SA's usage
    over a period, e.g. a customer's disputed reading settled in self-service. Made once per ``adjustmentId``."""

    adjustmentId: EventId
    saId: EventId
    periodStart: date
    periodEnd: date
    uom: Uom
    quantity: float = Field(allow_inf_nan=False, description="Positive adds usage, negative takes it away; never 0.")
    reason: str = Field(min_length=1, max_length=254)
    requestedBy: str | None = Field(default=None, max_length=64, description="The self-service user or CSR, for MDM's audit.")

    _end = field_validator("periodEnd")(_period_end)

    @field_validator("quantity")
    @classmethod
    def _not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("an adjustment of 0 changes nothing")
        return value


class UsageAdjustment(_Message):
    """MDM's answer to MD-17: the usage transaction the adjustment made, and its status."""

    adjustmentId: EventId
    saId: EventId
    usageTransactionId: EventId
    status: Literal["APPLIED", "PENDING_APPROVAL"]
    quantity: float = Field(allow_inf_nan=False)
    uom: Uom
