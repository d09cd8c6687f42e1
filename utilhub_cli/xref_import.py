"""``utilhub xref import FILE``: Oracle's XREF_DATA export sent to ``POST /ops/cross-references:import`` in parts.

A request body is at most the hub's body limit (256 KiB by default), so an export of any size is sent in parts of
whole entities: every row of one XREF_TABLE_NAME and ROW_NUMBER in the same part, since the hub links the rows of an
entity to each other within a request. Each part repeats the header; the hub's reports are summed, and the lines
they name (counted within the part) are turned back into the file's own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

MAX_PART_BYTES = 200_000  # under the hub's default body limit (262,144 bytes), with room for a long entity
MAX_PART_ROWS = 500  # rows per request: well within the operators' function's 10 s, even on a loaded laptop
LINES_LISTED = 10  # lines named per reason in the summed report, as the hub does per part


@dataclass
class Part:
    """One request's body, and for each line of it where a record ends, the line of the file where it ends."""

    text: str
    rows: int
    file_line: dict[int, int]


def _written(record: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(record)
    return out.getvalue()


def export_parts(text: str, *, max_rows: int = MAX_PART_ROWS, max_bytes: int = MAX_PART_BYTES) -> Iterator[Part]:
    """The export in parts of whole entities (an entity larger than the bounds is a part of its own). A file whose
    header does not name XREF_TABLE_NAME and ROW_NUMBER, or that is not CSV, is sent whole: the hub says why not."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(name.strip() for name in header):  # blank lines before the header
            header = next(reader, None)
        names = [name.strip().upper() for name in header or []]
        if "XREF_TABLE_NAME" not in names or "ROW_NUMBER" not in names:
            raise ValueError("not an XREF_DATA header")
        table_at, row_at = names.index("XREF_TABLE_NAME"), names.index("ROW_NUMBER")
        entities: dict[tuple[str, str], list[tuple[list[str], int]]] = {}
        for record in reader:
            if not any(value.strip() for value in record):
                continue  # a blank line is no row (the hub passes over it too)
            key = (record[table_at].strip().upper(), record[row_at].strip()) if len(record) > max(table_at, row_at) else ("", "")
            entities.setdefault(key, []).append((record, reader.line_num))
    except (csv.Error, ValueError):
        yield Part(text, max(len(text.splitlines()) - 1, 0), {})
        return
    head = _written(header or [])
    part: list[str] = [head]
    size, rows, line = len(head.encode()), 0, head.count("\n")
    mapping: dict[int, int] = {}
    for records in entities.values():
        written = [(_written(record), file_line) for record, file_line in records]
        grows = sum(len(w.encode()) for w, _ in written)
        if rows and (rows + len(written) > max_rows or size + grows > max_bytes):
            yield Part("".join(part), rows, mapping)
            part, size, rows, line, mapping = [head], len(head.encode()), 0, head.count("\n"), {}
        for w, file_line in written:
            part.append(w)
            line += w.count("\n")
            mapping[line] = file_line
        size += grows
        rows += len(written)
    yield Part("".join(part), rows, mapping)  # the last part, or the header alone for an export without rows


@dataclass
class ImportTotals:
    """The hub's reports of every part, summed; their lines the file's."""

    rows: int = 0
    imported: int = 0
    skipped: int = 0
    refused: int = 0
    entitiesLinked: int = 0
    parts: int = 0
    _reasons: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def add(self, part: Part, report: dict[str, Any]) -> None:
        self.parts += 1
        for name in ("rows", "imported", "skipped", "refused", "entitiesLinked"):
            setattr(self, name, getattr(self, name) + int(report.get(name, 0)))
        for reason in report.get("reasons", []):
            count_lines = self._reasons.setdefault((reason["outcome"], reason["reason"]), [0, []])
            count_lines[0] += int(reason["rows"])
            count_lines[1].extend(part.file_line.get(n, n) for n in reason.get("lines", []))

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self._reasons.items(), key=lambda item: (-item[1][0], item[0]))
        return {
            "rows": self.rows,
            "imported": self.imported,
            "skipped": self.skipped,
            "refused": self.refused,
            "entitiesLinked": self.entitiesLinked,
            "parts": self.parts,
            "reasons": [
                {"outcome": outcome, "reason": reason, "rows": rows, "lines": sorted(lines)[:LINES_LISTED]}
                for (outcome, reason), (rows, lines) in ordered
            ],
        }
