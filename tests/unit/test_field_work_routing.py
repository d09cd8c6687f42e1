"""FW-01 routing rules (utilhub.packs.field_work.routing): the shipped defaults (docs/packs/field-work.md) under both implementation
models, a 422 where no rule routes, and what a deployment's rules may hold. Pure."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from utilhub.packs.field_work.routing import parse_rules, routing_rules, shipped_rules
from utilhub.platform.problems import Problem

Put = Callable[[str, str], None]


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


def test_a_422_for_routing_says_what_is_missing() -> None:
    # Given an activity type no rule routes from MWM, and WAM under model v2.1 (whose asset system is ODM)
    with pytest.raises(Problem) as no_rule:
        shipped_rules().route("MWM", "CONNECT", "v2.1")
    with pytest.raises(Problem) as outside:
        shipped_rules().route("WAM", "ASSET-REPAIR", "v2.1")

    # Then each problem says why, and its field error what the field may be
    assert (no_rule.value.detail, no_rule.value.errors[0].detail) == (
        "No routing rule sends a CONNECT activity from MWM.",
        "no routing rule for source MWM and type CONNECT",
    )
    assert (outside.value.detail, outside.value.errors[0].detail) == (
        "WAM is not part of implementation model v2.1 (its asset system is ODM).",
        "must be CCB, MWM or ODM under model v2.1",
    )


@pytest.mark.parametrize(("model", "asset"), [("v1.9", "WAM"), ("v2.1", "ODM")])
def test_an_activity_is_never_routed_back_to_the_system_it_came_from(model: str, asset: str) -> None:
    # Given a rule that sends the asset system's inspections to MWM and to the asset system
    rules = parse_rules(
        json.dumps({"rules": [{"source": "ASSET", "activityTypes": ["ASSET-INSPECTION"], "routeTo": ["MWM", "ASSET"]}]}), "test"
    )

    # When the asset system sends one, Then it goes to MWM only
    assert rules.route(asset, "ASSET-INSPECTION", model) == ["MWM"]


def test_without_a_parameter_the_deployment_routes_by_the_shipped_rules(configuration_parameter: Put) -> None:
    assert routing_rules() == shipped_rules()


def test_a_deployments_parameter_is_in_force_and_read_again_once_its_max_age_has_passed(configuration_parameter: Put) -> None:
    # Given a deployment whose parameter sends disconnects to MWM only
    rule = {"source": "CCB", "activityTypes": ["DISCONNECT"], "routeTo": ["MWM"]}
    configuration_parameter("FIELD_WORK_ROUTING_PARAMETER", json.dumps({"rules": [rule]}))
    before = routing_rules().route("CCB", "DISCONNECT", "v2.1")

    # When the parameter changes to send them to the asset system too (the max age is 0 s)
    configuration_parameter("FIELD_WORK_ROUTING_PARAMETER", json.dumps({"rules": [{**rule, "routeTo": ["MWM", "ASSET"]}]}))
    after = routing_rules().route("CCB", "DISCONNECT", "v2.1")

    # Then each read routes by the parameter in force
    assert (before, after) == (["MWM"], ["MWM", "ODM"])


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


# ---------------------------------------------------------------------------------------- activity types (domain value map)


@pytest.mark.parametrize(
    ("source", "activity_type", "routed"),
    [
        ("CCB", "METER-EXCHANGE", ["MWM", "ODM"]),  # CCB's own code
        ("MWM", "PICKUP_REQUEST", ["CCB"]),  # MWM's code for a pickup
        ("ODM", "REPAIR-ASSET", ["MWM"]),  # ODM's field activity type
        ("ODM", "asset-repair", ["MWM"]),  # the hub's code, in any case
    ],
)
def test_an_activity_type_in_its_source_systems_code_is_routed_on_the_hubs_code(source: str, activity_type: str, routed: list[str]) -> None:
    from utilhub.packs.field_work.routing import route_activity

    # Given the shipped map and rules (model v2.1)
    # When an activity of the source's type is routed
    # Then it goes where the rule for the hub's code sends it
    assert route_activity(source, activity_type, "v2.1") == routed


@pytest.mark.parametrize(
    ("target", "common", "code"),
    [
        ("MWM", "METER-EXCHANGE", "METER_EXCHANGE"),
        ("ODM", "METER-EXCHANGE", "EXCHANGE-METER"),
        ("WAM", "ASSET-REPAIR", "SR-REPAIR"),
        ("CCB", "PICKUP", "PICKUP"),
    ],
)
def test_each_routed_system_gets_the_type_in_its_own_code(target: str, common: str, code: str) -> None:
    from utilhub.packs.field_work.routing import type_in

    assert type_in(target, common) == code


@pytest.mark.parametrize(
    ("source", "activity_type"),
    [
        ("CCB", "PAINT-FENCE"),  # no code anywhere
        ("CCB", "METER_EXCHANGE"),  # MWM's code, not CCB's
        ("MWM", "EXCHANGE-METER"),  # ODM's code, not MWM's
    ],
)
def test_a_type_with_no_code_for_its_source_is_a_422_at_activity_type(source: str, activity_type: str) -> None:
    from utilhub.packs.field_work.routing import route_activity

    with pytest.raises(Problem) as refused:
        route_activity(source, activity_type, "v2.1")
    assert refused.value.status == 422
    assert [e.pointer for e in refused.value.errors] == ["#/activityType"]
    assert "FieldActivityType" in refused.value.errors[0].detail


def test_a_type_a_routed_system_has_no_code_for_is_a_422_naming_that_system(monkeypatch: pytest.MonkeyPatch) -> None:
    from utilhub.packs.field_work import routing

    # Given a deployment's rule that sends CCB's connections to MWM and to the asset system, which has no code for them
    rules = parse_rules(json.dumps({"rules": [{"source": "CCB", "activityTypes": ["CONNECT"], "routeTo": ["MWM", "ASSET"]}]}), "test")
    monkeypatch.setattr(routing, "routing_rules", lambda: rules)

    # When CCB's connection is routed
    with pytest.raises(Problem) as refused:
        routing.route_activity("CCB", "CONNECT", "v2.1")

    # Then it is a 422 at the type naming ODM (MWM has a code), not an activity created in MWM alone
    assert refused.value.status == 422
    assert [e.pointer for e in refused.value.errors] == ["#/activityType"]
    assert "no ODM value" in refused.value.errors[0].detail
