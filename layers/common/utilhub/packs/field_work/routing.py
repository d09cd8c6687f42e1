"""FW-01 routing rules: which systems an activity goes to, by the system it was created in and its type.

An activity's type comes in the code of the system it was created in; the domain value map ``FieldActivityType``
translates it to the hub's code (its ``COMMON`` column, the code the rules name) and from there to the code of each
system it is routed to (:func:`common_type`, :func:`type_in`). A type with no code for its source or for a routed
system is a 422 at ``#/activityType``.

The rules ship with the library (``routing_rules.json``, the defaults docs/packs/field-work.md lists); a deployment
replaces them without code through the SSM parameter ``UTILHUB_FIELD_WORK_ROUTING_PARAMETER`` names
(same shape). ``ASSET`` in a rule is the asset system of the implementation model
(``UTILHUB_FIELD_WORK_MODEL``): WAM under v1.9, ODM under v2.1. No rule for the source and type is a
422, never a silent drop.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from utilhub.packs.field_work.model import ACTIVITY_TYPE
from utilhub.platform import problems
from utilhub.platform.configuration import override_text
from utilhub.platform.dvm import COMMON, UnmappedValue, domain_value_maps, unmapped
from utilhub.platform.settings import get_settings

ASSET = "ASSET"
ACTIVITY_TYPES = "FieldActivityType"  # the domain value map of activity types: COMMON, CCB, MWM, WAM, ODM
POINTER = "#/activityType"
ASSET_SYSTEM = {"v1.9": "WAM", "v2.1": "ODM"}
_SYSTEM = r"^(CCB|MWM|WAM|ODM|ASSET)$"


class RoutingRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(pattern=_SYSTEM)
    activityTypes: tuple[Annotated[str, Field(pattern=ACTIVITY_TYPE)], ...] = Field(min_length=1)
    routeTo: tuple[Annotated[str, Field(pattern=_SYSTEM)], ...] = Field(min_length=1)


class RoutingRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    rules: tuple[RoutingRule, ...]

    def route(self, source: str, activity_type: str, model: str) -> list[str]:
        """The systems an activity goes to; a 422 when no rule covers it."""
        asset = ASSET_SYSTEM[model]
        if source in ASSET_SYSTEM.values() and source != asset:
            raise problems.invalid(
                f"{source} is not part of implementation model {model} (its asset system is {asset}).",
                [problems.FieldError("#/sourceSystem", f"must be CCB, MWM or {asset} under model {model}")],
            )
        for rule in self.rules:
            rule_source = asset if rule.source == ASSET else rule.source
            if rule_source == source and activity_type in rule.activityTypes:
                return [asset if target == ASSET else target for target in rule.routeTo if (asset if target == ASSET else target) != source]
        raise problems.invalid(
            f"No routing rule sends a {activity_type} activity from {source}.",
            [problems.FieldError("#/activityType", f"no routing rule for source {source} and type {activity_type}")],
        )


def parse_rules(text: str, origin: str) -> RoutingRules:
    try:
        rules = RoutingRules.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ValueError(f"{origin} is not a valid set of routing rules: {exc}") from None
    return rules


@cache
def shipped_rules() -> RoutingRules:
    return parse_rules(
        resources.files("utilhub.packs.field_work").joinpath("routing_rules.json").read_text(encoding="utf-8"), "routing_rules.json"
    )


@lru_cache(maxsize=4)
def _rules(override: str) -> RoutingRules:
    return parse_rules(override, "the routing rules parameter") if override else shipped_rules()


def routing_rules() -> RoutingRules:
    settings = get_settings()
    return _rules(override_text(settings.field_work.field_work_routing_parameter, settings.dvm.domain_value_maps_max_age_seconds))


def common_type(activity_type: str, source: str) -> str:
    """The hub's code (the routing rules') of a type as ``source`` writes it (or already the hub's); a 422 otherwise."""
    return domain_value_maps().translate(ACTIVITY_TYPES, activity_type, source=source, target=COMMON, pointer=POINTER)


def type_in(target: str, common: str) -> str:
    """The code ``target`` has for the hub's type ``common``; a 422 when it has none."""
    return domain_value_maps().translate(ACTIVITY_TYPES, common, source=COMMON, target=target, pointer=POINTER)


def route_activity(source: str, activity_type: str, model: str) -> list[str]:
    """The systems an activity of ``source``'s type goes to, each of which has a code for the type: a 422 at
    ``#/activityType`` when the type has no hub code, no rule routes it, or a routed system has no code for it."""
    common = common_type(activity_type, source)
    routed_to = routing_rules().route(source, common, model)
    maps = domain_value_maps()
    missing = [
        unmapped(ACTIVITY_TYPES, common, source=COMMON, target=target, pointer=POINTER)
        for target in routed_to
        if maps.lookup(ACTIVITY_TYPES, common, source=COMMON, target=target) is None
    ]
    if missing:
        raise UnmappedValue(missing)
    return routed_to
