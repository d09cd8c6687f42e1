"""The DACS extract file format (utilhub.packs.dacs.extract_file) and its records
(utilhub.packs.dacs.records): written as docs/packs/dacs.md says, read back unchanged whatever the values
hold, and every way a file can break the format refused with its line. Pure: no AWS, no sockets."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from utilhub.packs.dacs.extract_file import (
    COLUMNS,
    ExtractFormatError,
    ExtractWriter,
    Kind,
    escape,
    file_name,
    kind_of_file,
    read_extract,
    unescape,
)
from utilhub.packs.dacs.records import ContactRecord, MeteredServicePointRecord, MeteredServiceRecord, format_timestamp, parse_record

HOSTILE = [
    "tab\there",
    "line\nbreak",
    "back\\slash",
    "\\t is not a tab",
    "ends with a backslash\\",
    "\\",
    "\\\\n",
    "carriage\rreturn",
    "crlf\r\ninside",
    "\t\n\\\r",
    "Ünïcødé — 日本語 — emoji 🚰",
    "",
    " leading and trailing spaces ",
    "\x00nul and \x7f del",
]


def written(kind: Kind, rows: list[tuple[str | None, ...]], *, flush_every: int = 2048) -> bytes:
    sink = io.BytesIO()
    writer = ExtractWriter(sink, kind, flush_every=flush_every)
    writer.write_all(rows)
    assert writer.close() == len(rows)
    return sink.getvalue()


def contact_row(name: str, record_id: str = "0001") -> tuple[str | None, ...]:
    return ContactRecord(externalReferenceId=record_id, changeDateTime="2026-03-01T10:00:00Z", name=name).row()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_reads_back_as_it_was_written(value: str) -> None:
    # Given a contact whose name and city hold a hostile value
    row = list(contact_row("x"))
    row[COLUMNS[Kind.CONTACT].index("name")] = value
    row[COLUMNS[Kind.CONTACT].index("city")] = value

    # When it is written and read back
    data = written(Kind.CONTACT, [tuple(row)])
    [record] = list(read_extract([data], Kind.CONTACT))

    # Then every value is what was written, and the file has exactly two LF-ended lines
    assert record.values["name"] == value
    assert record.values["city"] == value
    assert data.count(b"\n") == 2
    assert data.endswith(b"\n")


def test_all_hostile_values_in_one_file_read_back_in_order_even_when_the_chunks_split_lines_and_escapes() -> None:
    # Given a file with one record per hostile value, flushed every 3 records
    rows = [contact_row(value or "-", f"ID{index}") for index, value in enumerate(HOSTILE)]
    data = written(Kind.CONTACT, rows, flush_every=3)

    # When it is read back one byte at a time (every split point of lines, escapes and UTF-8)
    records = list(read_extract((data[i : i + 1] for i in range(len(data))), Kind.CONTACT))

    # Then every record is back, in order, with its line number
    assert [r.values["name"] for r in records] == [value or "-" for value in HOSTILE]
    assert [r.line for r in records] == list(range(2, len(HOSTILE) + 2))


def test_the_file_is_utf8_with_a_header_of_the_kinds_columns_and_only_three_escapes() -> None:
    # Given a metered service point with a tab, a newline and a backslash in its address
    row = MeteredServicePointRecord(
        externalReferenceId="SP-1", changeDateTime="2026-03-01T10:00:00Z", premiseId="PREM-1", addressLine1="a\tb\nc\\d é"
    ).row()

    # When it is written
    data = written(Kind.METERED_SERVICE_POINT, [row])

    # Then the header names the columns, and the value is escaped exactly as docs/packs/dacs.md says
    header, line, end = data.split(b"\n")
    assert header.decode() == "\t".join(COLUMNS[Kind.METERED_SERVICE_POINT])
    assert line.split(b"\t")[4] == "a\\tb\\nc\\\\d é".encode()
    assert end == b""


def test_escape_and_unescape_are_inverse_and_the_backslash_goes_first() -> None:
    # Given values where the order of replacement matters
    for value in ["\\t", "\\n", "\\\\", "\t\\", "\n\\n"]:
        # When escaped, then unescaped
        # Then the value is back, and no raw tab or newline is left in the field
        assert unescape(escape(value)) == value
        assert "\t" not in escape(value)
        assert "\n" not in escape(value)
    assert escape("\\t") == "\\\\t"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b"", 1, "empty"),
        (b"externalReferenceId\tname\n", 1, "header"),
        (b"\t".join(c.encode() for c in COLUMNS[Kind.CONTACT]) + b"\r\n", 1, "header"),
        (b"\t".join(c.encode() for c in COLUMNS[Kind.CONTACT]) + b"\n1\t2\n", 2, "2 fields"),
        (b"\t".join(c.encode() for c in COLUMNS[Kind.CONTACT]) + b"\n" + b"\t" * 13 + b"\n", 2, "14 fields"),
        (b"\t".join(c.encode() for c in COLUMNS[Kind.CONTACT]) + b"\n" + b"a\\x" + b"\t" * 12 + b"\n", 2, "invalid escape"),
        (b"\t".join(c.encode() for c in COLUMNS[Kind.CONTACT]) + b"\n" + b"a\\" + b"\t" * 12 + b"\n", 2, "lone backslash"),
        (b"\t".join(c.encode() for c in COLUMNS[Kind.CONTACT]) + b"\n" + b"\xff" + b"\t" * 12 + b"\n", 2, "UTF-8"),
        (b"\t".join(c.encode() for c in COLUMNS[Kind.CONTACT]) + b"\n" + b"a" + b"\t" * 12, 2, "LF"),
    ],
)
def test_a_file_that_breaks_the_format_is_refused_at_its_line(body: bytes, line: int, reason: str) -> None:
    # Given a contacts file broken in one way
    # When it is read
    with pytest.raises(ExtractFormatError) as refused:
        list(read_extract([body], Kind.CONTACT))

    # Then the error names the line and why
    assert refused.value.line == line
    assert reason in str(refused.value)


def test_a_record_whose_ids_or_dates_are_invalid_is_refused_by_its_model() -> None:
    # Given the values of lines as a reader yields them
    good = {"externalReferenceId": "SA-1", "changeDateTime": "2026-03-01T10:00:00Z", "contactExternalReferenceId": "P-1"}
    good |= {"accountId": "A-1", "startDate": "2026-01-01", "meteredServicePointExternalReferenceIds": "SP-1,SP-2"}

    # When they are parsed, then a valid one is a metered service with its dates
    service = parse_record(Kind.METERED_SERVICE, good)
    assert isinstance(service, MeteredServiceRecord)
    assert service.startDate == date(2026, 1, 1)
    assert service.endDate is None

    # And each invalid id, date or timestamp is refused
    for field, value in [
        ("externalReferenceId", "has space"),
        ("externalReferenceId", ""),
        ("changeDateTime", "2026-03-01T10:00:00"),
        ("changeDateTime", "2026-02-30T10:00:00Z"),
        ("changeDateTime", "2026-03-01T10:00:00+01:00"),
        ("startDate", "2026-1-1"),
        ("startDate", "2026-13-01"),
        ("meteredServicePointExternalReferenceIds", "SP-1,,SP-2"),
        ("meteredServicePointExternalReferenceIds", "SP 1"),
        ("accountId", "A\t1"),
    ]:
        with pytest.raises(ValidationError):
            parse_record(Kind.METERED_SERVICE, good | {field: value})
    with pytest.raises(ValidationError):
        parse_record(Kind.METERED_SERVICE, good | {"unknownColumn": "x"})


def test_change_times_are_written_in_utc_with_a_z() -> None:
    # Given a time in another zone, with and without fractions of a second
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))

    # When formatted, then it is the same instant in UTC with a Z
    assert format_timestamp(moment) == "2026-03-01T10:00:00Z"
    assert format_timestamp(moment.replace(microsecond=250000)) == "2026-03-01T10:00:00.250000Z"
    assert format_timestamp(datetime(2026, 3, 1, tzinfo=UTC)) == "2026-03-01T00:00:00Z"
    with pytest.raises(ValueError, match="time zone"):
        format_timestamp(datetime(2026, 3, 1))


def test_file_names_say_the_kind_and_the_run() -> None:
    # Given each kind and a run id
    for kind, prefix in [(Kind.CONTACT, "contacts"), (Kind.METERED_SERVICE_POINT, "metered-service-points")]:
        # When named, then the name reads back as the kind and run
        name = file_name(kind, "20260301T100000Z-initial")
        assert name == f"{prefix}-20260301T100000Z-initial.tsv"
        assert kind_of_file(f"upload/{name}") == (kind, "20260301T100000Z-initial")
    assert kind_of_file("upload/readme.txt") is None
    assert kind_of_file("upload/metered-services-.tsv") is None
    with pytest.raises(ValueError, match="run id"):
        file_name(Kind.METERED_SERVICE, "../escape")


def test_a_writer_refuses_a_row_of_the_wrong_width_and_writes_a_part_without_header() -> None:
    # Given a writer for a part after the first of a file
    sink = io.BytesIO()
    writer = ExtractWriter(sink, Kind.CONTACT, header=False)

    # When a short row is written, then it is refused; a full one is a single line
    with pytest.raises(ValueError, match="13 values"):
        writer.write(("1", "2"))
    writer.write(contact_row("n"))
    writer.close()
    assert sink.getvalue().count(b"\n") == 1
    assert not sink.getvalue().startswith(b"externalReferenceId")
