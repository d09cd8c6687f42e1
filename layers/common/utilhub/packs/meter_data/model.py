"""Canonical data of the entities CCB synchronizes to MDM (the ``data`` of a sync request).

One typed model per entity type, carrying what an MDM needs to measure and bill: identifiers,
dates, units of measure, registers with their digits and multipliers, bill cycle windows. The
contract fixes the least some entities must carry (PERSON ``name``; SERVICE_POINT ``premiseId``;
SERVICE_AGREEMENT ``accountId`` and ``servicePointIds``); the other required fields are those
without which MDM cannot keep the record. Date order (an end after its start, a removal after
its installation), units and numbers (finite, no negative counts) are checked here, so an
invalid request is a 422 pointing at the field and is never stored. Other fields are kept when
unknown (``extra="allow"``): CCB installations add their own, but only the typed fields reach MDM.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BeforeValidator, Field, ValidationInfo, field_validator

from utilhub.platform.dvm import COMMON, domain_value_maps
from utilhub.syncrequests.ccb_data import (
    CcbData,
    CcbPart,
    CcbPersonData,
    CcbServiceAgreementData,
    CcbServicePointData,
    EntityId,
)
from utilhub.syncrequests.model import ID_PATTERN

ID = ID_PATTERN  # the one id pattern of every contract
SERVICE_TYPE_MAP = "ServiceType"  # domain value map: the commodity of an SA (CCB, MDM and the hub's own codes)


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


# Units of measure MDM measures and bills in (CCB's codes; the same on both sides).
Uom = Annotated[
    Literal["KWH", "KVARH", "KVAH", "KW", "KVAR", "KVA", "WH", "M3", "CCF", "HCF", "THERM", "GAL", "V", "A"],
    BeforeValidator(_upper),
]
# JSON numbers MDM can store: finite (no NaN, no infinity, which Python's JSON reader lets through).
Finite = Annotated[float, Field(allow_inf_nan=False)]


def _not_before[Moment: (date, datetime)](value: Moment | None, info: ValidationInfo, start: str, what: str) -> Moment | None:
    begun = info.data.get(start)
    if value is not None and begun is not None and value < begun:
        raise ValueError(f"must not be before {start} ({what})")
    return value


def _after[Moment: (date, datetime)](value: Moment | None, info: ValidationInfo, start: str, what: str) -> Moment | None:
    begun = info.data.get(start)
    if value is not None and begun is not None and value <= begun:
        raise ValueError(f"must be after {start} ({what})")
    return value


class PersonData(CcbPersonData):
    """PERSON (MD-01): a CCB person, an MDM contact."""

    lifeSupport: bool | None = None


class ServicePointData(CcbServicePointData):
    """SERVICE_POINT (MD-02): a CCB service point, an MDM service point."""

    # the bill cycle whose schedule MDM uses to find the SP's bill cycle (MD-18, MD-19)
    billCycleCode: str | None = Field(default=None, min_length=1, max_length=16)
    # the SP's field work goes through Service Order Management: no meter data is synchronized for it
    serviceOrderManaged: bool = False


class ServiceAgreementData(CcbServiceAgreementData):
    """SERVICE_AGREEMENT (MD-03): a CCB SA, an MDM usage subscription; when ``personId`` is given, the SA
    waits for that person to be synchronized. ``serviceType`` is the commodity it measures and bills (``ELECTRIC``,
    ``GAS``, ``WATER``, or CCB's codes, translated through the ``ServiceType`` domain value map); none is electric."""

    serviceType: str | None = Field(default=None, max_length=30)

    @field_validator("serviceType")
    @classmethod
    def _service_type(cls, value: str | None) -> str | None:
        if value is None:
            return None
        common = domain_value_maps().lookup(SERVICE_TYPE_MAP, value, source="CCB", target=COMMON)
        if common is None:
            raise ValueError(f"{value!r} is not a service type (ELECTRIC, GAS, WATER or CCB's code in the {SERVICE_TYPE_MAP} map)")
        return common

    @field_validator("servicePointIds")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a service point more than once")
        return value

    @field_validator("endDate")
    @classmethod
    def _ends_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        return _not_before(value, info, "startDate", "an SA ends on or after its start")


class SaRelationshipData(CcbData):
    """SA_RELATIONSHIP (MD-04): two SAs related (e.g. a net-metering or sub-metered pair)."""

    serviceAgreementId: EntityId
    relatedServiceAgreementId: EntityId
    relationshipType: str = Field(min_length=1, max_length=30)
    startDate: date
    endDate: date | None = None

    @field_validator("relatedServiceAgreementId")
    @classmethod
    def _other_sa(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("serviceAgreementId"):
            raise ValueError("must be another service agreement than serviceAgreementId")
        return value

    @field_validator("endDate")
    @classmethod
    def _ends_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        return _not_before(value, info, "startDate", "a relationship ends on or after its start")


class DynamicOptionData(CcbData):
    """DYNAMIC_OPTION (MD-05): a contract option of an SA (e.g. critical peak pricing)."""

    serviceAgreementId: EntityId
    optionType: str = Field(min_length=1, max_length=30)
    startDate: date
    endDate: date | None = None
    value: str | None = Field(default=None, max_length=254)

    @field_validator("endDate")
    @classmethod
    def _ends_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        return _not_before(value, info, "startDate", "an option ends on or after its start")


class DynamicOptionEventData(CcbData):
    """DYNAMIC_OPTION_EVENT (MD-06): one event of a contract option (e.g. a peak period called)."""

    optionId: EntityId
    eventType: str = Field(min_length=1, max_length=30)
    startAt: AwareDatetime
    endAt: AwareDatetime | None = None

    @field_validator("endAt")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after(value, info, "startAt", "an event ends after it starts")


class _ServiceOrderManaged(CcbData):
    # Oracle's CCB-MDM integration: meter data sync is not for service points whose field work goes through Service
    # Order Management. CCB says so per request; such a request is refused with that reason.
    serviceOrderManaged: bool = False


class MeterData(_ServiceOrderManaged):
    """METER (MD-07, only when meters are managed in CCB): a CCB meter, an MDM device."""

    badgeNumber: str = Field(min_length=1, max_length=30)
    meterType: str = Field(min_length=1, max_length=30)
    manufacturer: str | None = Field(default=None, max_length=60)
    model: str | None = Field(default=None, max_length=60)
    serialNumber: str | None = Field(default=None, max_length=60)
    status: Literal["ACTIVE", "INACTIVE", "RETIRED"] = "ACTIVE"


class Register(CcbPart):
    """One register of a meter configuration: an MDM measuring component."""

    registerId: EntityId
    sequence: int = Field(ge=1, le=99)
    uom: Uom
    touCode: str | None = Field(default=None, min_length=1, max_length=16)
    readOutType: Literal["CONSUMPTIVE", "SUBTRACTIVE"] = "SUBTRACTIVE"
    digitsLeft: int = Field(ge=1, le=15)
    digitsRight: int = Field(default=0, ge=0, le=9)
    multiplier: Finite = Field(default=1.0, gt=0, le=1_000_000)


class MeterConfigurationData(_ServiceOrderManaged):
    """METER_CONFIGURATION (MD-08): a meter's registers from a date: MDM measuring components."""

    meterId: EntityId
    configurationType: str = Field(min_length=1, max_length=30)
    effectiveAt: AwareDatetime
    registerCount: int | None = Field(default=None, ge=1, le=50)
    registers: list[Register] = Field(min_length=1, max_length=50)

    @field_validator("registers")
    @classmethod
    def _distinct(cls, value: list[Register], info: ValidationInfo) -> list[Register]:
        if len({r.registerId for r in value}) != len(value):
            raise ValueError("lists a registerId more than once")
        if len({r.sequence for r in value}) != len(value):
            raise ValueError("lists a sequence more than once")
        count = info.data.get("registerCount")
        if count is not None and count != len(value):
            raise ValueError(f"lists {len(value)} registers where registerCount says {count}")
        return value


class SpMeterHistoryData(_ServiceOrderManaged):
    """SP_METER_HISTORY (MD-09): a meter installed at, and removed from, a service point."""

    servicePointId: EntityId
    meterId: EntityId
    meterConfigurationId: EntityId | None = None
    installedAt: AwareDatetime
    removedAt: AwareDatetime | None = None

    @field_validator("removedAt")
    @classmethod
    def _removed_after_installed(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _after(value, info, "installedAt", "a meter is removed after it was installed")


class RegisterRead(CcbPart):
    registerId: EntityId
    uom: Uom
    reading: Finite = Field(ge=0, le=1e15)
    readType: Literal["REGULAR", "ESTIMATED", "CUSTOMER", "VERIFIED"] = "REGULAR"


class ScalarMeterReadData(CcbData):
    """SCALAR_METER_READ (MD-10): a read of a meter's registers, taken under one installation."""

    meterId: EntityId
    # the SP-meter installation (SP_METER_HISTORY entity) the read was taken under
    spMeterHistoryId: EntityId
    readAt: AwareDatetime
    reads: list[RegisterRead] = Field(min_length=1, max_length=50)

    @field_validator("reads")
    @classmethod
    def _one_read_per_register(cls, value: list[RegisterRead]) -> list[RegisterRead]:
        if len({r.registerId for r in value}) != len(value):
            raise ValueError("reads a register more than once")
        return value


class BillWindow(CcbPart):
    """One scheduled bill window of a cycle: the days its reads are expected."""

    windowStart: date
    windowEnd: date
    accountingDate: date | None = None

    @field_validator("windowEnd")
    @classmethod
    def _ends_after_start(cls, value: date, info: ValidationInfo) -> date:
        checked = _not_before(value, info, "windowStart", "a window ends on or after its start")
        assert checked is not None  # windowEnd is required
        return checked


class BillCycleData(CcbData):
    """BILL_CYCLE (MD-18): a bill cycle and its schedule of windows."""

    billCycleCode: str = Field(min_length=1, max_length=16)
    description: str | None = Field(default=None, max_length=254)
    schedule: list[BillWindow] = Field(min_length=1, max_length=400)

    @field_validator("schedule")
    @classmethod
    def _in_order_without_overlap(cls, value: list[BillWindow]) -> list[BillWindow]:
        for earlier, later in pairwise(value):
            if later.windowStart <= earlier.windowEnd:
                raise ValueError(f"windows must follow each other without overlap ({later.windowStart} is not after {earlier.windowEnd})")
        return value
