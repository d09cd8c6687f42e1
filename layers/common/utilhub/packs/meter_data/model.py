"""Canonical data of the entities CCB synchronizes to MDM (the ``data`` of a sync request).

The contract fixes the least each entity must carry (PERSON ``name``; SERVICE_POINT
``premiseId``; SERVICE_AGREEMENT ``accountId`` and ``servicePointIds``). Other fields are
typed when present and kept when unknown (``extra="allow"``): CCB installations add their own.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Data(BaseModel):
    # defer_build: a model's validator is compiled on its first use, so a cold start pays only for
    # the entity types it meets (the monitor and the delivery never validate data at all)
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, defer_build=True)


# Address fields and the element names both CCB's and MDM's XSDs give them.
ADDRESS_XML = (
    ("line1", "Line1"),
    ("line2", "Line2"),
    ("city", "City"),
    ("state", "State"),
    ("postalCode", "PostalCode"),
    ("country", "Country"),
)


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    line1: str | None = Field(default=None, max_length=254)
    line2: str | None = Field(default=None, max_length=254)
    city: str | None = Field(default=None, max_length=90)
    state: str | None = Field(default=None, max_length=30)
    postalCode: str | None = Field(default=None, max_length=12)
    country: str | None = Field(default=None, min_length=2, max_length=3)


class Phone(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    type: Literal["HOME", "MOBILE", "WORK", "FAX", "OTHER"] = "OTHER"
    number: str = Field(min_length=3, max_length=32, pattern=r"^[0-9+()\-. x]+$")


class PersonData(_Data):
    """PERSON (MD-01): a CCB person, an MDM contact."""

    name: str = Field(min_length=1, max_length=254)
    personType: Literal["PERSON", "BUSINESS"] = "PERSON"
    emailAddress: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phones: list[Phone] = Field(default_factory=list, max_length=10)
    address: Address | None = None
    language: str | None = Field(default=None, min_length=2, max_length=8)
    lifeSupport: bool | None = None


class ServicePointData(_Data):
    """SERVICE_POINT (MD-02)."""

    premiseId: str = Field(min_length=1, max_length=64)
    spType: str | None = Field(default=None, max_length=30)
    address: Address | None = None
    timeZone: str | None = Field(default=None, max_length=64)


class ServiceAgreementData(_Data):
    """SERVICE_AGREEMENT (MD-03): a CCB SA, an MDM usage subscription."""

    accountId: str = Field(min_length=1, max_length=64)
    servicePointIds: list[str] = Field(min_length=1, max_length=100)
    saType: str | None = Field(default=None, max_length=30)
    status: str | None = Field(default=None, max_length=30)
    startDate: date | None = None
    endDate: date | None = None


class SaRelationshipData(_Data):
    """SA_RELATIONSHIP (MD-04)."""

    serviceAgreementId: str | None = Field(default=None, max_length=64)
    relatedServiceAgreementId: str | None = Field(default=None, max_length=64)
    relationshipType: str | None = Field(default=None, max_length=30)
    startDate: date | None = None
    endDate: date | None = None


class DynamicOptionData(_Data):
    """DYNAMIC_OPTION (MD-05): a contract option."""

    optionType: str | None = Field(default=None, max_length=30)
    serviceAgreementId: str | None = Field(default=None, max_length=64)
    effectiveDate: date | None = None


class DynamicOptionEventData(_Data):
    """DYNAMIC_OPTION_EVENT (MD-06): a contract option event."""

    optionId: str | None = Field(default=None, max_length=64)
    eventType: str | None = Field(default=None, max_length=30)
    effectiveAt: AwareDatetime | None = None


class MeterData(_Data):
    """METER (MD-07, only when meters are managed in CCB)."""

    badgeNumber: str | None = Field(default=None, max_length=30)
    meterType: str | None = Field(default=None, max_length=30)
    manufacturer: str | None = Field(default=None, max_length=60)
    model: str | None = Field(default=None, max_length=60)
    serialNumber: str | None = Field(default=None, max_length=60)


class MeterConfigurationData(_Data):
    """METER_CONFIGURATION (MD-08)."""

    meterId: str | None = Field(default=None, max_length=64)
    configurationType: str | None = Field(default=None, max_length=30)
    effectiveAt: AwareDatetime | None = None


class SpMeterHistoryData(_Data):
    """SP_METER_HISTORY (MD-09): a meter installed at or removed from a service point."""

    servicePointId: str | None = Field(default=None, max_length=64)
    meterId: str | None = Field(default=None, max_length=64)
    installedAt: AwareDatetime | None = None
    removedAt: AwareDatetime | None = None


class ScalarMeterReadData(_Data):
    """SCALAR_METER_READ (MD-10)."""

    meterId: str | None = Field(default=None, max_length=64)
    readAt: AwareDatetime | None = None


class BillCycleData(_Data):
    """BILL_CYCLE (MD-18): a bill cycle and its schedule."""

    billCycleCode: str | None = Field(default=None, max_length=16)
    description: str | None = Field(default=None, max_length=254)
