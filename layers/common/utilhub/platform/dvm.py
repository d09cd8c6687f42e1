"""Domain value maps: code values that differ between applications, translated through configuration.

Like the DVMs of Oracle's integration packs, a map is a table with one column per application
(``SEBL``, ``CCB``, ``BRM``, ...) and a ``COMMON`` column, the hub's own code; each row is one
value. :meth:`DomainValueMaps.translate` finds the row whose ``source`` column holds the value
(case-insensitively, surrounding blanks ignored; the ``COMMON`` code is accepted from any source)
and answers the ``target`` column exactly as written. A value with no row, or a row with nothing
for the target, is an :class:`UnmappedValue`: a 422 naming the field and the value.

The maps ship with the library (``domain_value_maps.json``). A deployment overrides them without
code: the SSM parameter named by ``UTILHUB_DOMAIN_VALUE_MAPS_PARAMETER`` holds a JSON object of
maps, read through Powertools Parameters and cached for ``domain_value_maps_max_age_seconds``;
each map it names replaces the shipped map of that name, the others stay as shipped.
See ``docs/domain-value-maps.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from utilhub.platform.configuration import override_text
from utilhub.platform.problems import FieldError, Problem
from utilhub.platform.settings import get_settings

COMMON = "COMMON"
SHIPPED = "domain_value_maps.json"


class DomainValueMap(BaseModel):
    """One map: its columns (applications) and its rows (one value in each application)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    columns: tuple[str, ...] = Field(min_length=2)
    rows: tuple[dict[str, str], ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _rows_fit_columns(self) -> DomainValueMap:
        if COMMON not in self.columns:
            raise ValueError(f"columns must include {COMMON}")
        for number, row in enumerate(self.rows):
            unknown = set(row) - set(self.columns)
            if unknown:
                raise ValueError(f"row {number} has values for columns the map does not have: {sorted(unknown)}")
            if not row.get(COMMON, "").strip():
                raise ValueError(f"row {number} has no {COMMON} value")
        seen: dict[str, int] = {}
        for number, row in enumerate(self.rows):  # other columns may repeat a value (many to one)
            key = _fold(row[COMMON])
            if key in seen:
                raise ValueError(f"rows {seen[key]} and {number} have the same {COMMON} value {row[COMMON]!r}")
            seen[key] = number
        return self


class _Maps(BaseModel):
    maps: dict[str, DomainValueMap]


class UnmappedValue(Problem):
    """A code value with no mapping: the field, the value and the map are named."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(422, "Invalid request", f"{len(errors)} code value(s) have no mapping.", "unmapped-value", errors)


def _fold(value: str) -> str:
    return " ".join(value.split()).casefold()


@dataclass(frozen=True)
class DomainValueMaps:
    maps: dict[str, DomainValueMap]
    _index: dict[tuple[str, str], dict[str, dict[str, str]]] = field(default_factory=dict, compare=False, repr=False)

    def _rows_by(self, name: str, column: str) -> dict[str, dict[str, str]]:
        """The map's rows by their folded value in ``column``; the first row wins for a value shared by rows."""
        key = (name, column)
        if key not in self._index:
            by_value: dict[str, dict[str, str]] = {}
            for row in self.maps[name].rows:
                if value := _fold(row.get(column, "")):
                    by_value.setdefault(value, row)
            self._index[key] = by_value
        return self._index[key]

    def lookup(self, name: str, value: str, *, source: str, target: str) -> str | None:
        """The ``target`` code of ``value`` as ``source`` writes it (or as the COMMON code), or None."""
        if name not in self.maps:
            raise KeyError(f"no domain value map {name!r}")
        folded = _fold(value)
        row = self._rows_by(name, source).get(folded) or self._rows_by(name, COMMON).get(folded)
        if row is None:
            return None
        return row.get(target) or None

    def translate(self, name: str, value: str, *, source: str, target: str, pointer: str) -> str:
        """Like :meth:`lookup`, but a value with no mapping raises :class:`UnmappedValue` for ``pointer``."""
        found = self.lookup(name, value, source=source, target=target)
        if found is None:
            raise UnmappedValue([unmapped(name, value, source=source, target=target, pointer=pointer)])
        return found

    def translator(self, *, source: str, target: str) -> Translator:
        return Translator(self, source, target)


def unmapped(name: str, value: str, *, source: str, target: str, pointer: str) -> FieldError:
    return FieldError(pointer, f"{value!r} has no {target} value in the domain value map {name} (from {source})")


@dataclass
class Translator:
    """Translates many fields of one message, collecting every unmapped value into one 422."""

    maps: DomainValueMaps
    source: str
    target: str
    errors: list[FieldError] = field(default_factory=list)

    def __call__(self, name: str, value: str | None, pointer: str) -> str | None:
        if value is None:
            return None
        found = self.maps.lookup(name, value, source=self.source, target=self.target)
        if found is None:
            self.errors.append(unmapped(name, value, source=self.source, target=self.target, pointer=pointer))
        return found

    def check(self) -> None:
        """Raise the collected :class:`UnmappedValue`, if any."""
        if self.errors:
            raise UnmappedValue(list(self.errors))


def parse_maps(document: Any, origin: str) -> dict[str, DomainValueMap]:
    """Validate a JSON object of maps; a malformed override is a configuration error, named by ``origin``."""
    try:
        return _Maps.model_validate({"maps": document}).maps
    except ValidationError as exc:
        raise ValueError(f"{origin} is not a valid set of domain value maps: {exc}") from None


@cache
def shipped_maps() -> dict[str, DomainValueMap]:
    text = resources.files("utilhub.platform").joinpath(SHIPPED).read_text(encoding="utf-8")
    return parse_maps(json.loads(text), SHIPPED)


@lru_cache(maxsize=4)  # keyed on the parameter's text: a changed parameter builds new maps
def _merged(overrides: str) -> DomainValueMaps:
    maps = dict(shipped_maps())
    if overrides:
        maps.update(parse_maps(json.loads(overrides), "the domain value maps parameter"))
    return DomainValueMaps(maps)


def domain_value_maps() -> DomainValueMaps:
    """The shipped maps with this deployment's overrides (the SSM parameter, when configured)."""
    settings = get_settings()
    return _merged(override_text(settings.dvm.domain_value_maps_parameter, settings.dvm.domain_value_maps_max_age_seconds))
