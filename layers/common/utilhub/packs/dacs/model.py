"""Canonical data of the CCB entities synchronized to DACS (the ``data`` of a DACS sync request and
the lines of the DA-01 source extract).

The contract (DESIGN.md, ``POST /dacs/sync-requests``) is the meter-data one: PERSON ``name``;
SERVICE_POINT ``premiseId``; SERVICE_AGREEMENT ``accountId`` and ``servicePointIds``. A metered
service belongs to a contact in DACS, so a DACS SERVICE_AGREEMENT also carries its ``personId``
(the account's main customer). Other fields are typed when present and kept when unknown.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from utilhub.packs.dacs.records import ExternalId


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, defer_build=True)


class DacsAddress(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    line1: str | None = Field(default=None, max_length=254)
    line2: str | None = Field(default=None, max_length=254)
    city: str | None = Field(default=None, max_length=90)
    state: str | None = Field(default=None, max_length=30)
    postalCode: str | None = Field(default=None, max_length=12)
    country: str | None = Field(default=None, min_length=2, max_length=3)


class DacsPhone(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    type: Literal["HOME", "MOBILE", "WORK", "FAX", "OTHER"] = "OTHER"
    number: str = Field(min_length=3, max_length=32, pattern=r"^[0-9+()\-. x]+$")


class DacsPersonData(_Data):
    """PERSON: a CCB person, a DACS contact."""

    name: str = Field(min_length=1, max_length=254)
    personType: Literal["PERSON", "BUSINESS"] = "PERSON"
    emailAddress: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phones: list[DacsPhone] = Field(default_factory=list, max_length=10)
    address: DacsAddress | None = None
    language: str | None = Field(default=None, min_length=2, max_length=8)


class DacsServicePointData(_Data):
    """SERVICE_POINT: a CCB service point, a DACS metered service point."""

    premiseId: ExternalId
    spType: str | None = Field(default=None, max_length=30)
    address: DacsAddress | None = None
    timeZone: str | None = Field(default=None, max_length=64)


class DacsServiceAgreementData(_Data):
    """SERVICE_AGREEMENT: a CCB SA, a DACS metered service of a contact over its service points."""

    accountId: ExternalId
    personId: ExternalId
    servicePointIds: list[ExternalId] = Field(min_length=1, max_length=100)
    saType: str | None = Field(default=None, max_length=30)
    status: str | None = Field(default=None, max_length=30)
    startDate: date | None = None
    endDate: date | None = None


ENTITY_MODELS: dict[str, type[_Data]] = {
    "PERSON": DacsPersonData,
    "SERVICE_POINT": DacsServicePointData,
    "SERVICE_AGREEMENT": DacsServiceAgreementData,
}
