"""DACS's own contract for its import files (localhub/simulators/dacs_contract.py), written from the documented file
format: what it refuses, and what the hub's writer produces read back through it unchanged."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

import localhub.simulators.dacs_contract as contract
from utilhub.packs.dacs.extract_file import ExtractWriter, Kind
from utilhub.packs.dacs.mapping import to_record

CONTACT_HEADER = "\t".join(contract.HEADERS[contract.CONTACTS]).encode() + b"\n"
HOSTILE = ["tab\there", "new\nline", "back\\slash", "\\t written", "ends with \\", "cr\r inside", "ünï 😀", "\\\\n"]


def contact_line(*values: str) -> bytes:
    width = len(contract.HEADERS[contract.CONTACTS])
    return "\t".join([*values, *[""] * (width - len(values))]).encode() + b"\n"


def test_the_hub_writer_output_reads_back_unchanged_through_dacs_contract() -> None:
    # Given contacts with hostile names written by the hub's writer
    sink = io.BytesIO()
    writer = ExtractWriter(sink, Kind.CONTACT)
    changed = datetime(2026, 11, 20, 9, 30, 0, 123000, tzinfo=UTC)
    for n, name in enumerate(HOSTILE):
        writer.write(to_record("PERSON", f"P-{n}", changed, {"name": name, "phones": [{"number": "+1 555 0100"}]}).row())
    writer.close()
    # When DACS reads the file with its own contract
    records = [contract.record_of(contract.CONTACTS, values) for _, values in contract.read_file(contract.CONTACTS, sink.getvalue())]
    # Then every name is the one written, and every record is valid for DACS
    assert [r.name for r in records if isinstance(r, contract.Contact)] == HOSTILE
    assert {r.changeDateTime for r in records} == {"2026-11-20T09:30:00.123000Z"}


def test_a_metered_service_written_by_the_hub_is_valid_for_dacs() -> None:
    # Given a service agreement written as a metered service by the hub
    sink = io.BytesIO()
    writer = ExtractWriter(sink, Kind.METERED_SERVICE)
    data = {"accountId": "A-1", "personId": "P-1", "servicePointIds": ["SP-1", "SP-2"], "status": "ACTIVE", "startDate": "2026-01-31"}
    writer.write(to_record("SERVICE_AGREEMENT", "SA-1", datetime(2026, 11, 20, tzinfo=UTC), data).row())
    writer.close()
    # When DACS reads it
    ((line, values),) = contract.read_file(contract.METERED_SERVICES, sink.getvalue())
    record = contract.record_of(contract.METERED_SERVICES, values)
    # Then it names its contact and its service points
    assert line == 2
    assert isinstance(record, contract.MeteredService)
    assert (record.contactExternalReferenceId, record.service_point_ids) == ("P-1", ["SP-1", "SP-2"])
    assert record.changeDateTime == "2026-11-20T00:00:00Z"


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (b"", 1, "empty"),
        (CONTACT_HEADER.replace(b"name", b"fullName"), 1, "header"),
        (CONTACT_HEADER + contact_line("P-1", "2026-11-20T09:30:00Z", "Ann")[:-1], 2, "does not end with LF"),
        (CONTACT_HEADER + b"P-1\t2026-11-20T09:30:00Z\tAnn\n", 2, "3 fields"),
        (CONTACT_HEADER + contact_line("P-1", "2026-11-20T09:30:00Z", "A\\xnn"), 2, "\\x is not an escape"),
        (CONTACT_HEADER + contact_line("P-1", "2026-11-20T09:30:00Z", "Ann\\"), 2, "a backslash ending the field"),
        (CONTACT_HEADER + contact_line("P-1", "2026-11-20T09:30:00Z", "Ann").replace(b"Ann", b"A\xffn"), 2, "not UTF-8"),
        (CONTACT_HEADER.replace(b"\n", b"\r\n"), 1, "header"),
    ],
)
def test_a_file_breaking_the_format_is_refused_whole_at_its_line(content: bytes, line: int, reason: str) -> None:
    # When DACS reads a contacts file that breaks the format, Then it is refused at the line, saying why
    with pytest.raises(contract.FileRefused, match=re.escape(reason)) as refused:
        contract.read_file(contract.CONTACTS, content)
    assert refused.value.line == line


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("upload/contacts-initial-1.tsv", contract.CONTACTS),
        ("metered-service-points-20261120T093000Z-incremental.tsv", contract.METERED_SERVICE_POINTS),
        ("upload/metered-services-r.1_x.tsv", contract.METERED_SERVICES),
        ("upload/contacts.tsv", None),
        ("upload/contacts-run.csv", None),
        ("upload/meters-run.tsv", None),
        ("upload/contacts--run.tsv", None),
    ],
)
def test_only_dacs_extract_names_have_a_kind(name: str, kind: str | None) -> None:
    assert contract.kind_of(name) == kind


@pytest.mark.parametrize(
    ("kind", "values", "field"),
    [
        (contract.CONTACTS, {"externalReferenceId": "P 1", "changeDateTime": "2026-11-20T09:30:00Z", "name": "Ann"}, "externalReferenceId"),
        (contract.CONTACTS, {"externalReferenceId": "P-1", "changeDateTime": "2026-11-20T09:30:00+01:00", "name": "Ann"}, "changeDateTime"),
        (contract.CONTACTS, {"externalReferenceId": "P-1", "changeDateTime": "2026-02-30T09:30:00Z", "name": "Ann"}, "changeDateTime"),
        (contract.CONTACTS, {"externalReferenceId": "P-1", "changeDateTime": "2026-11-20T09:30:00Z", "name": ""}, "name"),
        (
            contract.CONTACTS,
            {"externalReferenceId": "P-1", "changeDateTime": "2026-11-20T09:30:00Z", "name": "A", "nickname": "x"},
            "nickname",
        ),
        (
            contract.METERED_SERVICES,
            {
                "externalReferenceId": "SA-1",
                "changeDateTime": "2026-11-20T09:30:00Z",
                "contactExternalReferenceId": "P-1",
                "accountId": "A-1",
                "meteredServicePointExternalReferenceIds": "SP-1,,SP-2",
            },
            "meteredServicePointExternalReferenceIds",
        ),
        (
            contract.METERED_SERVICES,
            {
                "externalReferenceId": "SA-1",
                "changeDateTime": "2026-11-20T09:30:00Z",
                "contactExternalReferenceId": "P-1",
                "accountId": "A-1",
                "startDate": "2026-13-01",
                "meteredServicePointExternalReferenceIds": "SP-1",
            },
            "startDate",
        ),
        (
            contract.METERED_SERVICES,
            {
                "externalReferenceId": "SA-1",
                "changeDateTime": "2026-11-20T09:30:00Z",
                "accountId": "A-1",
                "meteredServicePointExternalReferenceIds": "SP-1",
            },
            "contactExternalReferenceId",
        ),
    ],
)
def test_a_record_breaking_its_kind_rules_is_refused_naming_the_field(kind: str, values: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        contract.record_of(kind, {k: v for k, v in values.items() if v != "" or k == "name"})
    assert field in contract.refusal_of(refused.value)
