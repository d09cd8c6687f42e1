"""FW-01 routing rules: which systems an activity goes to, by the system it was created in and its type.

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
from utilhub.platform.settings import get_settings

ASSET = "ASSET"
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
