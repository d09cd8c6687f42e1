"""DACS's own contract for the extract files it imports, written for the simulator from the documented file
interface (DESIGN.md "DACS files", docs/packs/dacs.md "The file format"), never from the hub's writer or record
models: a mistake the hub's writer and reader share would otherwise pass every test.

- a file is named ``contacts-<run>.tsv``, ``metered-service-points-<run>.tsv`` or ``metered-services-<run>.tsv``,
  ``<run>`` being letters, digits, ``_``, ``.``, ``-`` (at most 100, starting with a letter or digit);
- UTF-8, lines ended by LF (the last one too); the first line is the header, the kind's columns in order;
- every line has as many tab-separated fields as the header; inside a field ``\\\\`` is a backslash, ``\\t`` a
  tab, ``\\n`` a newline, and any other backslash (or one ending the field) breaks the file;
- an empty field is a value the record does not have;
- each record carries ``externalReferenceId`` (the CCB id: letters, digits, ``_ . : -``, up to 64) and
  ``changeDateTime`` (ISO 8601 in UTC with ``Z``); dates are ``YYYY-MM-DD``; a metered service names its contact
  and its metered service points (a comma-separated list of 1 to 100 ids) and DACS loads it only when it knows them.

A file that breaks the format is refused whole (:class:`FileRefused`); a record that breaks its kind's rules is
answered NEGATIVE on its own (:func:`record_of`)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator

CONTACTS = "contacts"
METERED_SERVICE_POINTS = "metered-service-points"
METERED_SERVICES = "metered-services"
# the order DACS imports the kinds in: a metered service refers to contacts and metered service points
IMPORT_ORDER = (CONTACTS, METERED_SERVICE_POINTS, METERED_SERVICES)
RECORD_TYPE = {CONTACTS: "CONTACT", METERED_SERVICE_POINTS: "METERED_SERVICE_POINT", METERED_SERVICES: "METERED_SERVICE"}

_ADDRESS = ["addressLine1", "addressLine2", "city", "state", "postalCode", "country"]
HEADERS: dict[str, list[str]] = {
    CONTACTS: ["externalReferenceId", "changeDateTime", "name", "contactType", "emailAddress", "phoneNumber", *_ADDRESS, "language"],
    METERED_SERVICE_POINTS: ["externalReferenceId", "changeDateTime", "premiseId", "servicePointType", *_ADDRESS, "timeZone"],
    METERED_SERVICES: [
        "externalReferenceId",
        "changeDateTime",
        "contactExternalReferenceId",
        "accountId",
        "serviceType",
        "status",
        "startDate",
        "endDate",
        "meteredServicePointExternalReferenceIds",
    ],
}
_NAME = re.compile(r"^(contacts|metered-service-points|metered-services)-[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.tsv$")
_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n"}

_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
ReferenceId = Annotated[str, StringConstraints(pattern=_REFERENCE.pattern)]
UtcTime = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")]
Day = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class FileRefused(Exception):
    """The file breaks the format at ``line`` (1-based; the header is line 1): DACS loads nothing of it."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line


def kind_of(name: str) -> str | None:
    """The kind (``contacts``, ``metered-service-points``, ``metered-services``) a file name stands for, or None."""
    base = name.rsplit("/", 1)[-1]
    if not _NAME.match(base):
        return None
    return next(kind for kind in sorted(HEADERS, key=len, reverse=True) if base.startswith(kind + "-"))


def _field(text: str, line: int) -> str:
    out: list[str] = []
    at = 0
    while (slash := text.find("\\", at)) != -1:
        out.append(text[at:slash])
        escaped = text[slash + 1 : slash + 2]
        if escaped not in _ESCAPES:
            shown = f"\\{escaped}" if escaped else "a backslash ending the field"
            raise FileRefused(line, f"{shown} is not an escape DACS knows (\\\\, \\t, \\n)")
        out.append(_ESCAPES[escaped])
        at = slash + 2
    out.append(text[at:])
    return "".join(out)


def read_file(kind: str, content: bytes) -> list[tuple[int, dict[str, str]]]:
    """Every record of a ``kind`` file as (line number, values by column), escapes turned back; raises
    :class:`FileRefused` at the first line that breaks the format."""
    if not content:
        raise FileRefused(1, "the file is empty: it must start with the header")
    if not content.endswith(b"\n"):
        raise FileRefused(content.count(b"\n") + 1, "the last line does not end with LF")
    header = HEADERS[kind]
    records: list[tuple[int, dict[str, str]]] = []
    for number, raw in enumerate(content[:-1].split(b"\n"), 1):
        try:
            text = raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise FileRefused(number, f"not UTF-8 at byte {exc.start}") from None
        fields = text.split("\t")
        if number == 1:
            if fields != header:
                raise FileRefused(1, f"the header of a {kind} file is {'<TAB>'.join(header)}")
            continue
        if len(fields) != len(header):
            raise FileRefused(number, f"{len(fields)} fields where the header has {len(header)}")
        records.append((number, {name: _field(value, number) for name, value in zip(header, fields, strict=True)}))
    return records


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    externalReferenceId: ReferenceId
    changeDateTime: UtcTime

    @field_validator("changeDateTime")
    @classmethod
    def _a_real_time(cls, value: str) -> str:
        datetime.fromisoformat(value)
        return value

    @property
    def changed_at(self) -> datetime:
        return datetime.fromisoformat(self.changeDateTime)


class _Addressed(_Record):
    addressLine1: Annotated[str, StringConstraints(max_length=254)] | None = None
    addressLine2: Annotated[str, StringConstraints(max_length=254)] | None = None
    city: Annotated[str, StringConstraints(max_length=90)] | None = None
    state: Annotated[str, StringConstraints(max_length=30)] | None = None
    postalCode: Annotated[str, StringConstraints(max_length=12)] | None = None
    country: Annotated[str, StringConstraints(min_length=2, max_length=3)] | None = None


class Contact(_Addressed):
    name: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    contactType: Literal["PERSON", "BUSINESS"] | None = None
    emailAddress: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = None
    phoneNumber: Annotated[str, StringConstraints(pattern=r"^[0-9+()\-. x]{3,32}$")] | None = None
    language: Annotated[str, StringConstraints(min_length=2, max_length=8)] | None = None


class MeteredServicePoint(_Addressed):
    premiseId: ReferenceId
    servicePointType: Annotated[str, StringConstraints(max_length=30)] | None = None
    timeZone: Annotated[str, StringConstraints(max_length=64)] | None = None


class MeteredService(_Record):
    contactExternalReferenceId: ReferenceId
    accountId: ReferenceId
    serviceType: Annotated[str, StringConstraints(max_length=30)] | None = None
    status: Annotated[str, StringConstraints(max_length=30)] | None = None
    startDate: Day | None = None
    endDate: Day | None = None
    meteredServicePointExternalReferenceIds: Annotated[str, StringConstraints(min_length=1)]

    @field_validator("meteredServicePointExternalReferenceIds")
    @classmethod
    def _comma_separated(cls, value: str) -> str:
        ids = value.split(",")
        if len(ids) > 100 or not all(_REFERENCE.match(i) for i in ids):
            raise ValueError("a comma-separated list of 1 to 100 metered service point ids")
        return value

    @property
    def service_point_ids(self) -> list[str]:
        return self.meteredServicePointExternalReferenceIds.split(",")

    @field_validator("startDate", "endDate")
    @classmethod
    def _a_real_day(cls, value: str | None) -> str | None:
        if value is not None:
            date.fromisoformat(value)
        return value


MODELS: dict[str, type[_Record]] = {CONTACTS: Contact, METERED_SERVICE_POINTS: MeteredServicePoint, METERED_SERVICES: MeteredService}
AnyRecord = Contact | MeteredServicePoint | MeteredService


def record_of(kind: str, values: dict[str, str]) -> AnyRecord:
    """The record a line stands for (an empty field is no value); raises ``ValidationError``."""
    record = MODELS[kind].model_validate({name: value for name, value in values.items() if value != ""})
    assert isinstance(record, Contact | MeteredServicePoint | MeteredService)
    return record


def refusal_of(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
