"""Cutover from Oracle's packs: their cross-references imported into the hub's (``POST /ops/cross-references:import``).

Oracle's packs keep the ids each application gives an entity in AIA's ``XREF_DATA`` table: one row per (table,
column, row number), where the table is the kind of entity (``CUSTOMERPARTY_PARTYID``), the column the system
(``SEBL_01``, ``OU_CCB_01``, ``COMMON`` for AIA's own id) and every row of one table and row number one entity.
Exported as CSV (``XREF_TABLE_NAME,XREF_COLUMN_NAME,ROW_NUMBER,VALUE,IS_DELETED``, other columns of the table
ignored), its rows become links of :mod:`utilhub.platform.xref`, the store every pack reads, so a customer Oracle's
packs synchronized is one the hub knows (CU-02 relays its updates).

- The file is read with the standard library's ``csv`` module (RFC 4180 quoting, a quoted value may hold a comma or a
  line end); the header must name the five columns; each row is checked (:func:`read_export`) and one that breaks
  a rule is refused with its line and the reason, the others go on.
- AIA's names become the hub's through two domain value maps (``platform/domain_value_maps.json``, overridable per
  deployment like every map): ``XrefEntityType`` (table -> entity type) and ``XrefSystem`` (column -> system).
  A row of a table or column with no mapping, a deleted row (``IS_DELETED = Y``) and AIA's ``COMMON`` id (the hub
  links each system's id to the others' directly) are skipped with the reason.
- The rows of one table and row number are linked to each other (:func:`plan_import`). An id already linked to
  another id of the same system is a conflict: the entity's rows are refused with the reason and nothing of it is
  written, never overwritten. Links already there are skipped as present, so importing a file again changes
  nothing (:func:`import_export`).
- Reads are one ``BatchGetItem`` per 100 ids and writes one ``TransactWriteItems`` per 100 ids, each on condition
  that no link it writes was written otherwise meanwhile (:meth:`CrossReferenceStore.add_links`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

from pydantic import BaseModel, Field

from utilhub.platform import problems
from utilhub.platform.dvm import DomainValueMaps
from utilhub.platform.text import forbidden_in_parameter
from utilhub.platform.xref import CrossReferenceStore, ItemKey, LinkConflict, SystemId

HEADER = ("XREF_TABLE_NAME", "XREF_COLUMN_NAME", "ROW_NUMBER", "VALUE", "IS_DELETED")
AIA = "AIA"  # the AIA column of the maps below
ENTITY_TYPES = "XrefEntityType"  # AIA table -> the hub's entity type
SYSTEMS = "XrefSystem"  # AIA column -> the hub's system
AIA_COMMON = "COMMON"  # AIA's own id of the entity, in no application
AIA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
MAX_ROW_NUMBER = 48  # XREF_DATA.ROW_NUMBER is a VARCHAR2(48)
MAX_VALUE = 255  # an application's id (XREF_DATA.VALUE is wider; no id the hub links comes close)
LINES_LISTED = 10  # lines named per reason in a report

Outcome = Literal["skipped", "refused"]


@dataclass(frozen=True)
class ExportRow:
    """One row of the export that passed the row rules; ``line`` is where it ends in the file (the header is line 1)."""

    line: int
    table: str
    column: str
    row_number: str
    value: str
    deleted: bool


class ReasonCount(BaseModel):
    """The rows skipped or refused for one reason."""

    outcome: Outcome
    reason: str
    rows: int = Field(ge=1, description="How many rows this reason covers.")
    lines: list[int] = Field(description=f"The lines of the first {LINES_LISTED} of them (the header is line 1).")


class XrefImportReport(BaseModel):
    """What an import did with each row of the export."""

    rows: int = Field(ge=0, description="Data rows read (the header not counted).")
    imported: int = Field(ge=0, description="Rows whose id was linked by this import.")
    skipped: int = Field(ge=0, description="Rows that changed nothing: deleted, not linked by the hub, AIA's COMMON id, already present.")
    refused: int = Field(ge=0, description="Rows that break a rule or conflict with an existing link: nothing of their entity was written.")
    entitiesLinked: int = Field(ge=0, description="Entities (table and row number) with at least one link written.")
    reasons: list[ReasonCount] = Field(description="Why rows were skipped or refused, most frequent first.")


@dataclass
class Tally:
    """Row outcomes as they are decided; :meth:`report` sums them."""

    rows: int = 0
    imported: int = 0
    entities_linked: int = 0
    _reasons: dict[tuple[Outcome, str], list[int]] = field(default_factory=dict)

    def note(self, outcome: Outcome, reason: str, line: int) -> None:
        self._reasons.setdefault((outcome, reason), []).append(line)

    def report(self) -> XrefImportReport:
        counted = sorted(self._reasons.items(), key=lambda item: (-len(item[1]), item[0]))
        return XrefImportReport(
            rows=self.rows,
            imported=self.imported,
            skipped=sum(len(lines) for (outcome, _), lines in counted if outcome == "skipped"),
            refused=sum(len(lines) for (outcome, _), lines in counted if outcome == "refused"),
            entitiesLinked=self.entities_linked,
            reasons=[
                ReasonCount(outcome=outcome, reason=reason, rows=len(lines), lines=sorted(lines)[:LINES_LISTED])
                for (outcome, reason), lines in counted
            ],
        )


# ------------------------------------------------------------------------------ reading


def _header(names: Sequence[str]) -> dict[str, int]:
    """Where each of :data:`HEADER`'s columns is; a 422 naming what is missing or repeated."""
    folded = [name.strip().upper() for name in names]
    repeated = sorted({name for name in folded if name in HEADER and folded.count(name) > 1})
    missing = [name for name in HEADER if name not in folded]
    if missing or repeated:
        said = "; ".join(
            part
            for part in (f"missing {', '.join(missing)}" if missing else "", f"repeated {', '.join(repeated)}" if repeated else "")
            if part
        )
        raise problems.invalid(
            f"The first line must be the header of XREF_DATA's columns ({','.join(HEADER)}; others are ignored): {said}.",
            [problems.FieldError("#/header", said)],
        )
    return {name: folded.index(name) for name in HEADER}


def _row_rule(fields: dict[str, str]) -> str | None:
    """Why a row's values cannot be a cross-reference, or None."""
    for name in ("XREF_TABLE_NAME", "XREF_COLUMN_NAME"):
        if not fields[name]:
            return f"{name} is empty"
        if AIA_NAME.fullmatch(fields[name]) is None:
            return f"{name} is not an AIA name (a letter, then letters, digits or _; at most 100)"
    number, value = fields["ROW_NUMBER"], fields["VALUE"]
    if not number or len(number) > MAX_ROW_NUMBER or forbidden_in_parameter(number):
        return f"ROW_NUMBER is empty, longer than {MAX_ROW_NUMBER} characters or holds a control character"
    if not value:
        return "VALUE is empty"
    if len(value) > MAX_VALUE or forbidden_in_parameter(value):
        return f"VALUE is longer than {MAX_VALUE} characters or holds a control character"
    if fields["IS_DELETED"].upper() not in ("", "Y", "N"):
        return "IS_DELETED is neither Y nor N"
    return None


def read_export(text: str, tally: Tally) -> list[ExportRow]:
    """The rows of an ``XREF_DATA`` export that pass the row rules; the others are noted in ``tally`` as refused.
    A body without the header is a 422; a quoted value left open at the end is a 400."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        names = next(reader, None)
        while names is not None and not any(name.strip() for name in names):  # blank lines before the header
            names = next(reader, None)
        if names is None:
            raise problems.invalid("The export is empty: its first line must be the header.", [problems.FieldError("#/header", "missing")])
        where = _header(names)
        rows: list[ExportRow] = []
        for record in reader:
            if not any(value.strip() for value in record):
                continue  # a blank line (the file's last line end, or spacing) is no row
            tally.rows += 1
            line = reader.line_num
            if len(record) != len(names):
                tally.note("refused", f"the row has {len(record)} fields, the header {len(names)}", line)
                continue
            fields = {name: record[at].strip() for name, at in where.items()}
            if (reason := _row_rule(fields)) is not None:
                tally.note("refused", reason, line)
                continue
            rows.append(
                ExportRow(
                    line=line,
                    table=fields["XREF_TABLE_NAME"].upper(),
                    column=fields["XREF_COLUMN_NAME"].upper(),
                    row_number=fields["ROW_NUMBER"],
                    value=fields["VALUE"],
                    deleted=fields["IS_DELETED"].upper() == "Y",
                )
            )
    except csv.Error as exc:
        raise problems.bad_request(f"The export is not CSV from line {reader.line_num}: {exc}.") from None
    return rows


# ------------------------------------------------------------------------------ planning


@dataclass
class Entity:
    """The rows of one table and row number that the hub links: each system's id, and the lines that gave it."""

    entity_type: str
    table: str
    row_number: str
    ids: dict[str, str] = field(default_factory=dict)  # system -> id
    lines: dict[str, list[int]] = field(default_factory=dict)  # system -> the lines giving that id
    refusal: str | None = None

    def add(self, system: str, row: ExportRow) -> None:
        if system in self.ids and self.ids[system] != row.value:
            self.refusal = f"{self.table} row {self.row_number} gives {row.column} two different values"
        self.ids.setdefault(system, row.value)
        self.lines.setdefault(system, []).append(row.line)

    @property
    def all_lines(self) -> list[int]:
        return [line for lines in self.lines.values() for line in lines]


def group_rows(rows: Iterable[ExportRow], maps: DomainValueMaps, entity_types: Sequence[str], tally: Tally) -> list[Entity]:
    """The rows the hub links, one :class:`Entity` per table and row number, in the order they first appear; the
    others noted in ``tally`` as skipped, each with its reason."""
    entities: dict[tuple[str, str], Entity] = {}
    for row in rows:
        if row.deleted:
            tally.note("skipped", "deleted in Oracle's cross-references (IS_DELETED = Y)", row.line)
            continue
        entity_type = maps.lookup(ENTITY_TYPES, row.table, source=AIA, target="COMMON")
        if entity_type is None:
            tally.note("skipped", f"table {row.table} is not one the hub links (no row in the domain value map {ENTITY_TYPES})", row.line)
            continue
        if entity_type not in entity_types:
            tally.note("skipped", f"entity type {entity_type} is not among those the hub links (UTILHUB_XREF_ENTITY_TYPES)", row.line)
            continue
        if row.column == AIA_COMMON:
            tally.note("skipped", "AIA's own id (COMMON): the hub links each system's id to the others' directly", row.line)
            continue
        system = maps.lookup(SYSTEMS, row.column, source=AIA, target="COMMON")
        if system is None:
            tally.note("skipped", f"column {row.column} is not a system the hub links (no row in the domain value map {SYSTEMS})", row.line)
            continue
        key = (row.table, row.row_number)
        entities.setdefault(key, Entity(entity_type, row.table, row.row_number)).add(system, row)
    return list(entities.values())


@dataclass
class Plan:
    """What to write: each item's new links, and the rows they come from."""

    writes: dict[ItemKey, dict[str, str]] = field(default_factory=dict)
    imported: list[Entity] = field(default_factory=list)


def plan_import(entities: Sequence[Entity], existing: Mapping[ItemKey, Mapping[str, str]], tally: Tally) -> Plan:
    """Link the ids of each entity to each other, given the links ``existing`` already holds (every item of
    ``entities``). An entity with a conflict (an id already linked to another id of a system, by the table or by an
    entity earlier in the same export) is refused whole; links already there are skipped as present."""
    plan = Plan()
    known: dict[ItemKey, dict[str, str]] = {key: dict(links) for key, links in existing.items()}
    for entity in entities:
        if entity.refusal is None and len(entity.ids) < 2:
            for line in entity.all_lines:
                tally.note("skipped", "no other system's id in its table and row number", line)
            continue
        new: dict[ItemKey, dict[str, str]] = {}
        refusal = entity.refusal
        for (system_a, id_a), (system_b, id_b) in combinations(entity.ids.items(), 2):
            if refusal is not None:
                break
            for (this, this_id), (other, other_id) in (((system_a, id_a), (system_b, id_b)), ((system_b, id_b), (system_a, id_a))):
                key = (entity.entity_type, SystemId(this, this_id))
                linked = known.get(key, {}).get(other)
                if linked is None:
                    new.setdefault(key, {})[other] = other_id
                elif linked != other_id:
                    refusal = f"{this} {this_id} is already linked as {entity.entity_type} to {other} {linked}, not {other_id}"
                    break
        if refusal is not None:
            for line in entity.all_lines:
                tally.note("refused", refusal, line)
            continue
        if not new:
            for line in entity.all_lines:
                tally.note("skipped", "already linked (imported before, or linked by the hub)", line)
            continue
        for key, links in new.items():
            known.setdefault(key, {}).update(links)
            plan.writes.setdefault(key, {}).update(links)
        written = {key[1].system for key in new}
        for system, lines in entity.lines.items():
            for line in lines:
                if system in written:
                    tally.imported += 1
                else:
                    tally.note("skipped", "already linked (imported before, or linked by the hub)", line)
        tally.entities_linked += 1
        plan.imported.append(entity)
    return plan


def import_export(text: str, store: CrossReferenceStore, maps: DomainValueMaps, entity_types: Sequence[str]) -> XrefImportReport:
    """Read an ``XREF_DATA`` export, link what it holds that the hub links, and report on every row.
    Importing it again changes nothing. A link another writer made meanwhile is a 409 (import it again)."""
    tally = Tally()
    entities = group_rows(read_export(text, tally), maps, entity_types, tally)
    keys = [(entity.entity_type, SystemId(system, value)) for entity in entities for system, value in entity.ids.items()]
    plan = plan_import(entities, store.links_of(keys), tally)
    try:
        store.add_links(plan.writes)
    except LinkConflict:
        raise problems.conflict(
            "Some of these ids were linked otherwise while the import ran; nothing of the entities concerned was written. "
            "Import the file again: what is linked already is skipped, a conflict is reported."
        ) from None
    return tally.report()
