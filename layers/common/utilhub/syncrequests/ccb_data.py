"""CCB's entities as its sync requests carry them (the ``data`` of a request), one model each, shared by
every flow that takes them: meter data to MDM (MD-01..03), DACS (DA-01, DA-02) and field work (FW-06).

The contract fixes the least each entity carries (PERSON ``name``; SERVICE_POINT ``premiseId``;
SERVICE_AGREEMENT ``accountId`` and ``servicePointIds``). Where a flow's contract differs, its pack
says so in a subclass: a field it adds, or one it overrides (an id that must be id-shaped, a field it
requires). Unknown fields are kept (``extra="allow"``): CCB installations add their own, but only the
typed fields reach a target. The phone number and e-mail address types are the hub's for every
application that sends them (Siebel's contacts, a field activity's customer too).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from utilhub.syncrequests.model import ID_PATTERN

EntityId = Annotated[str, Field(pattern=ID_PATTERN)]
PhoneNumber = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^[0-9+()\-. x]+$")]
EmailAddress = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class CcbData(BaseModel):
    """The ``data`` of a sync request: typed fields, unknown ones kept."""

    # defer_build: a model's validator is compiled on its first use, so a cold start pays only for
    # the entity types it meets (the monitor and the delivery never validate data at all)
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, defer_build=True)


class CcbPart(BaseModel):
    """A part of an entity's data (an address, a phone): only the fields it names."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class CcbAddress(CcbPart):
    line1: str | None = Field(default=None, max_length=254)
    line2: str | None = Field(default=None, max_length=254)
    city: str | None = Field(default=None, max_length=90)
    state: str | None = Field(default=None, max_length=30)
    postalCode: str | None = Field(default=None, max_length=12)
    country: str | None = Field(default=None, min_length=2, max_length=3)


class CcbPhone(CcbPart):
    type: Literal["HOME", "MOBILE", "WORK", "FAX", "OTHER"] = "OTHER"
    number: PhoneNumber


class CcbPersonData(CcbData):
    """PERSON: a CCB person."""

    name: str = Field(min_length=1, max_length=254)
    personType: Literal["PERSON", "BUSINESS"] = "PERSON"
    emailAddress: EmailAddress | None = None
    phones: list[CcbPhone] = Field(default_factory=list, max_length=10)
    address: CcbAddress | None = None
    language: str | None = Field(default=None, min_length=2, max_length=8)


class CcbServicePointData(CcbData):
    """SERVICE_POINT: a CCB service point."""

    premiseId: str = Field(min_length=1, max_length=64)
    spType: str | None = Field(default=None, max_length=30)
    address: CcbAddress | None = None
    timeZone: str | None = Field(default=None, max_length=64)


class CcbServiceAgreementData(CcbData):
    """SERVICE_AGREEMENT: a CCB service agreement over its service points."""

    accountId: str = Field(min_length=1, max_length=64)
    servicePointIds: list[EntityId] = Field(min_length=1, max_length=100)
    # the account's main customer (a contact in the target)
    personId: EntityId | None = None
    saType: str | None = Field(default=None, max_length=30)
    status: str | None = Field(default=None, max_length=30)
    startDate: date | None = None
    endDate: date | None = None
