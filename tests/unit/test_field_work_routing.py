"""FW-01 routing rules (utilhub.packs.field_work.routing): the shipped defaults (docs/packs/field-work.md) under both implementation
models, a 422 where no rule routes, and what a deployment's rules may hold. Pure."""

from __future__ import annotations

import json

import pytest

from utilhub.packs.field_work.routing import parse_rules, shipped_rules
from utilhub.platform.problems import Problem


@pytest.mark.parametrize(
    ("source", "activity_type", "model", "routed"),
    [
        ("CCB", "METER-EXCHANGE", "v2.1", ["MWM", "ODM"]),
        ("CCB", "METER-INSTALL", "v1.9", ["MWM", "WAM"]),
        ("CCB", "DISCONNECT", "v2.1", ["MWM"]),
        ("ODM", "ASSET-INSPECTION", "v2.1", ["MWM"]),
        ("WAM", "ASSET-REPAIR", "v1.9", ["MWM"]),
        ("MWM", "PICKUP", "v1.9", ["CCB"]),
    ],
)
def test_the_shipped_rules_route_as_design_says(source: str, activity_type: str, model: str, routed: list[str]) -> None:
    # Given the shipped rules
    # When an activity is routed under an implementation model
    found = shipped_rules().route(source, activity_type, model)

    # Then it goes to the systems of the defaults' table, ASSET being WAM (v1.9) or ODM (v2.1)
    assert found == routed


@pytest.mark.parametrize(
    ("source", "activity_type", "model", "pointer"),
    [
        ("MWM", "CONNECT", "v2.1", "#/activityType"),
        ("CCB", "PAINT-FENCE", "v2.1", "#/activityType"),
        ("WAM", "ASSET-REPAIR", "v2.1", "#/sourceSystem"),
    ],
)
def test_no_rule_or_a_system_outside_the_model_is_a_422(source: str, activity_type: str, model: str, pointer: str) -> None:
    # Given an activity no rule routes, or from the other model's asset system
    # When it is routed
    with pytest.raises(Problem) as raised:
        shipped_rules().route(source, activity_type, model)

    # Then it is a 422 pointing at the field to change
    assert raised.value.status == 422
    assert raised.value.errors[0].pointer == pointer


def test_a_deployments_rules_replace_the_shipped_ones() -> None:
    # Given rules that send disconnects to MWM and ASSET
    rules = parse_rules(json.dumps({"rules": [{"source": "CCB", "activityTypes": ["DISCONNECT"], "routeTo": ["MWM", "ASSET"]}]}), "test")

    # When a disconnect and a connect are routed
    # Then the disconnect goes to both, and the connect has no rule any more
    assert rules.route("CCB", "DISCONNECT", "v2.1") == ["MWM", "ODM"]
    with pytest.raises(Problem):
        rules.route("CCB", "CONNECT", "v2.1")


@pytest.mark.parametrize(
    "document",
    [
        {"rules": [{"source": "SAP", "activityTypes": ["X"], "routeTo": ["MWM"]}]},
        {"rules": [{"source": "CCB", "activityTypes": ["X"], "routeTo": ["SAP"]}]},
        {"rules": [{"source": "CCB", "activityTypes": ["lower case"], "routeTo": ["MWM"]}]},
        {"rules": [{"source": "CCB", "activityTypes": [], "routeTo": ["MWM"]}]},
        {"rule": []},
    ],
)
def test_rules_that_are_not_valid_are_refused_with_the_origin(document: dict[str, object]) -> None:
    # Given a malformed rules document
    # When it is parsed
    # Then it is refused, naming where it came from
    with pytest.raises(ValueError, match="the parameter is not a valid set of routing rules"):
        parse_rules(json.dumps(document), "the parameter")
