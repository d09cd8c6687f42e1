"""The DACS records (a contact, a metered service point, a metered service), as validated on both
sides of an extract file: the hub builds them from CCB's data, the DACS simulator reads them back.

Ids are CCB ids (letters, digits, ``_ . : -``, up to 64); ``changeDateTime`` is ISO 8601 in UTC
with a ``Z``; dates are ``YYYY-MM-DD``. An empty field reads as no value.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from utilhub.packs.dacs.extract_file import COLUMNS, Kind

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
_ID = re.compile(ID_PATTERN)
ExternalId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"


def format_timestamp(moment: datetime) -> str:
    """``2026-11-27T17:05:00Z`` (fractions of a second kept when there are any)."""
    if moment.tzinfo is None:
        raise ValueError("a change time must carry its time zone")
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def _utc_timestamp(value: str) -> str:
    datetime.fromisoformat(value)  # a real date and time, not only the right shape
    return value


Timestamp = Annotated[str, StringConstraints(pattern=_TIMESTAMP), AfterValidator(_utc_timestamp)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    kind: Literal[Kind.CONTACT, Kind.METERED_SERVICE_POINT, Kind.METERED_SERVICE]

    externalReferenceId: ExternalId
    changeDateTime: Timestamp

    def row(self) -> tuple[str | None, ...]:
        """The values in the order of the kind's columns."""
        values = self.__dict__
        return tuple(_text(values[name]) for name in COLUMNS[self.kind])

    @property
    def changed_at(self) -> datetime:
        return datetime.fromisoformat(self.changeDateTime)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


class _Address(_Record):
    addressLine1: str | None = Field(default=None, max_length=254)
    addressLine2: str | None = Field(default=None, max_length=254)
    city: str | None = Field(default=None, max_length=90)
    state: str | None = Field(default=None, max_length=30)
    postalCode: str | None = Field(default=None, max_length=12)
    country: str | None = Field(default=None, min_length=2, max_length=3)


class ContactRecord(_Address):
    """A CCB person."""

    kind: Literal[Kind.CONTACT] = Kind.CONTACT
    name: str = Field(min_length=1, max_length=254)
    contactType: Literal["PERSON", "BUSINESS"] = "PERSON"
    emailAddress: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phoneNumber: str | None = Field(default=None, min_length=3, max_length=32, pattern=r"^[0-9+()\-. x]+$")
    language: str | None = Field(default=None, min_length=2, max_length=8)


class MeteredServicePointRecord(_Address):
    """A CCB service point."""

    kind: Literal[Kind.METERED_SERVICE_POINT] = Kind.METERED_SERVICE_POINT
    premiseId: ExternalId
    servicePointType: str | None = Field(default=None, max_length=30)
    timeZone: str | None = Field(default=None, max_length=64)


class MeteredServiceRecord(_Record):
    """A CCB service agreement, linking its person (contact) and its service points."""

    kind: Literal[Kind.METERED_SERVICE] = Kind.METERED_SERVICE
    contactExternalReferenceId: ExternalId
    accountId: ExternalId
    serviceType: str | None = Field(default=None, max_length=30)
    status: str | None = Field(default=None, max_length=30)
    startDate: date | None = None
    endDate: date | None = None
    meteredServicePointExternalReferenceIds: str = Field(min_length=1, max_length=6500)

    @field_validator("meteredServicePointExternalReferenceIds")
    @classmethod
    def _sp_ids(cls, value: str) -> str:
        ids = value.split(",")
        if len(ids) > 100 or not all(_ID.match(i) for i in ids):
            raise ValueError("a comma-separated list of 1 to 100 service point ids")
        return value

    @field_validator("startDate", "endDate", mode="before")
    @classmethod
    def _strict_date(cls, value: Any) -> Any:
        if isinstance(value, str) and not (len(value) == 10 and value[4] == "-" and value[7] == "-"):
            raise ValueError("a date is YYYY-MM-DD")
        return value


RECORD_MODELS: dict[Kind, type[_Record]] = {
    Kind.CONTACT: ContactRecord,
    Kind.METERED_SERVICE_POINT: MeteredServicePointRecord,
    Kind.METERED_SERVICE: MeteredServiceRecord,
}

DacsRecord = ContactRecord | MeteredServicePointRecord | MeteredServiceRecord


def parse_record(kind: Kind, values: dict[str, str]) -> _Record:
    """The record a file line stands for (empty fields as no value); raises ``ValidationError``."""
    return RECORD_MODELS[kind].model_validate({name: value for name, value in values.items() if value != ""})


__all__ = [
    "RECORD_MODELS",
    "ContactRecord",
    "DacsRecord",
    "MeteredServicePointRecord",
    "MeteredServiceRecord",
    "ValidationError",
    "format_timestamp",
    "parse_record",
]
