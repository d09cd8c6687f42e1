"""The DACS extract file: one file per entity type and run, streamed in constant memory.

The format (docs/packs/dacs.md):

- UTF-8, fields separated by a tab, each line ended by LF (never CR LF), the first line the
  header naming the columns of the entity type, in the order of :data:`COLUMNS`;
- inside a value a backslash is written ``\\\\``, a tab ``\\t``, a newline (LF) ``\\n``; nothing else
  is escaped (a CR is an ordinary character: lines end at LF only), so a reader splits on LF,
  then on tab, then turns each escape back; any other backslash sequence is invalid;
- an empty field is a value the entity does not have (an empty string and no value are the same);
- named ``contacts-<run>.tsv``, ``metered-service-points-<run>.tsv``, ``metered-services-<run>.tsv``.

:class:`ExtractWriter` writes to anything with ``write(bytes)`` (a file, an S3 multipart part
buffer); :func:`read_extract` reads back what it wrote, checking the header, the field count of
every line and every escape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Kind(StrEnum):
    """The three DACS record kinds (what a CCB person, SP and SA become)."""

    CONTACT = "CONTACT"
    METERED_SERVICE_POINT = "METERED_SERVICE_POINT"
    METERED_SERVICE = "METERED_SERVICE"


_ADDRESS = ("addressLine1", "addressLine2", "city", "state", "postalCode", "country")

COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.CONTACT: (
        "externalReferenceId",
        "changeDateTime",
        "name",
        "contactType",
        "emailAddress",
        "phoneNumber",
        *_ADDRESS,
        "language",
    ),
    Kind.METERED_SERVICE_POINT: (
        "externalReferenceId",
        "changeDateTime",
        "premiseId",
        "servicePointType",
        *_ADDRESS,
        "timeZone",
    ),
    Kind.METERED_SERVICE: (
        "externalReferenceId",
        "changeDateTime",
        "contactExternalReferenceId",
        "accountId",
        "serviceType",
        "status",
        "startDate",
        "endDate",
        "meteredServicePointExternalReferenceIds",  # comma-separated SP ids (ids never hold a comma)
    ),
}

FILE_PREFIX: dict[Kind, str] = {
    Kind.CONTACT: "contacts",
    Kind.METERED_SERVICE_POINT: "metered-service-points",
    Kind.METERED_SERVICE: "metered-services",
}

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_FILE_NAME = re.compile(r"^(?P<prefix>contacts|metered-service-points|metered-services)-(?P<run>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})\.tsv$")


def file_name(kind: Kind, run_id: str) -> str:
    """``contacts-<run>.tsv`` and its kin; ``run_id`` is letters, digits, ``_``, ``.`` and ``-``."""
    if not RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r} may hold only letters, digits, '_', '.' and '-'")
    return f"{FILE_PREFIX[kind]}-{run_id}.tsv"


def kind_of_file(name: str) -> tuple[Kind, str] | None:
    """The record kind and run id a file name stands for (the last path segment), or None."""
    found = _FILE_NAME.match(name.rsplit("/", 1)[-1])
    if found is None:
        return None
    kind = next(k for k, prefix in FILE_PREFIX.items() if prefix == found["prefix"])
    return kind, found["run"]


def escape(value: str) -> str:
    """A value as written in a field: ``\\`` -> ``\\\\``, tab -> ``\\t``, LF -> ``\\n`` (backslash first)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    return value


class ExtractFormatError(ValueError):
    """A line of an extract file breaks the format; ``line`` is 1-based (the header is line 1)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


_ESCAPED = re.compile(r"\\(.?)", re.DOTALL)
_UNESCAPE = {"\\": "\\", "t": "\t", "n": "\n"}


def unescape(field: str, line: int = 0) -> str:
    """The value a field stands for; an unknown escape or a lone trailing backslash is an error."""
    if "\\" not in field:
        return field

    def turn(found: re.Match[str]) -> str:
        code = found.group(1)
        if code not in _UNESCAPE:
            shown = f"\\{code}" if code else "a lone backslash at the end of a field"
            raise ExtractFormatError(line, f"invalid escape {shown!r}" if code else shown)
        return _UNESCAPE[code]

    return _ESCAPED.sub(turn, field)


class ByteSink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class ExtractWriter:
    """Writes one extract file to ``sink``: the header (unless ``header=False``, for the parts after
    the first of a file joined later), then one line per :meth:`write`. Lines are gathered and
    handed to the sink ``flush_every`` at a time, so memory stays flat whatever the file's size."""

    def __init__(self, sink: ByteSink, kind: Kind, *, header: bool = True, flush_every: int = 2048) -> None:
        self.kind = kind
        self.columns = COLUMNS[kind]
        self._width = len(self.columns)
        self._sink = sink
        self._pending: list[str] = []
        self._flush_every = flush_every
        self.records = 0
        self.bytes_written = 0
        if header:
            self._pending.append("\t".join(self.columns) + "\n")

    def write(self, values: Sequence[str | None]) -> None:
        """One record, its values in the order of the kind's columns (None or "" for no value)."""
        if len(values) != self._width:
            raise ValueError(f"a {self.kind} record has {self._width} values, got {len(values)}")
        self._pending.append("\t".join([escape(v) if v else "" for v in values]) + "\n")
        self.records += 1
        if len(self._pending) >= self._flush_every:
            self.flush()

    def write_all(self, rows: Iterable[Sequence[str | None]]) -> None:
        for row in rows:
            self.write(row)

    def flush(self) -> None:
        if self._pending:
            data = "".join(self._pending).encode("utf-8")
            self._pending.clear()
            self._sink.write(data)
            self.bytes_written += len(data)

    def close(self) -> int:
        """Hand the last lines to the sink; returns the number of records written."""
        self.flush()
        return self.records


@dataclass(frozen=True)
class ExtractRecord:
    line: int
    values: dict[str, str]


def _lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Numbered lines split on LF only; a last line without its LF is reported with ``None`` end."""
    rest = b""
    number = 0
    for chunk in chunks:
        if not chunk:
            continue
        data = rest + chunk
        parts = data.split(b"\n")
        rest = parts.pop()
        for part in parts:
            number += 1
            yield number, part
    if rest:
        raise ExtractFormatError(number + 1, "the last line does not end with LF")


def read_extract(chunks: Iterable[bytes], kind: Kind) -> Iterator[ExtractRecord]:
    """The records of a ``kind`` file given as byte chunks (a file read in blocks, an S3 body's
    ``iter_chunks()``), each with its line number and values by column, escapes turned back.

    Raises :class:`ExtractFormatError` at the first line that breaks the format: a header other
    than the kind's columns, bytes that are not UTF-8, a field count other than the header's,
    an invalid escape, a missing final LF."""
    columns = COLUMNS[kind]
    width = len(columns)
    seen_header = False
    for number, raw in _lines(chunks):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExtractFormatError(number, f"not UTF-8 at byte {exc.start}") from None
        fields = text.split("\t")
        if not seen_header:
            if tuple(fields) != columns:
                raise ExtractFormatError(number, f"the header must be {'<TAB>'.join(columns)}")
            seen_header = True
            continue
        if len(fields) != width:
            raise ExtractFormatError(number, f"{len(fields)} fields where the header has {width}")
        yield ExtractRecord(number, {name: unescape(field, number) for name, field in zip(columns, fields, strict=True)})
    if not seen_header:
        raise ExtractFormatError(1, "the file is empty: it must start with the header")
