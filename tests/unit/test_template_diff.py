"""tools/template_diff.py: a rewrite that says things once compares equal, a changed property does not."""

from __future__ import annotations

from typing import Any

from localhub.template import Template, expand_for_each
from tools.template_diff import deployed, differences


def _template(body: dict[str, Any]) -> dict[str, Any]:
    return deployed(Template(expand_for_each(body)))


ALARM = {"Namespace": "AWS/SQS", "Period": 300, "Threshold": 0}


def test_a_loop_and_globals_compare_equal_to_what_they_replace() -> None:
    # Given two plain alarms and a function with its own environment, beside a loop over a mapping and Globals
    plain = {
        "Resources": {
            "AlphaAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {**ALARM, "AlarmDescription": {"Fn::Sub": "Alpha queue"}}},
            "BetaAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {**ALARM, "AlarmDescription": "Beta queue"}},
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Timeout": 10, "Environment": {"Variables": {"A": "1", "B": "2"}}}},
        }
    }
    looped = {
        "Mappings": {"Alarms": {"Alpha": {"Text": "Alpha"}, "Beta": {"Text": "Beta"}}},
        "Globals": {"Function": {"Timeout": 10, "Environment": {"Variables": {"A": "1"}}}},
        "Resources": {
            "Fn::ForEach::Alarms": [
                "Name",
                ["Alpha", "Beta"],
                {
                    "${Name}Alarm": {
                        "Type": "AWS::CloudWatch::Alarm",
                        "Properties": {
                            **ALARM,
                            "AlarmDescription": {
                                "Fn::Sub": ["${Text} queue", {"Text": {"Fn::FindInMap": ["Alarms", {"Ref": "Name"}, "Text"]}}]
                            },
                        },
                    }
                },
            ],
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Environment": {"Variables": {"B": "2"}}}},
        },
    }
    # When both are read as they deploy
    # Then nothing differs
    assert differences(_template(plain), _template(looped)) == []


def test_a_changed_property_or_a_lost_resource_is_named() -> None:
    before = {"Resources": {"AlphaAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": ALARM}, "Gone": {"Type": "AWS::SNS::Topic"}}}
    after = {"Resources": {"AlphaAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {**ALARM, "Period": 60}}}}
    found = differences(_template(before), _template(after))
    assert [entry.split(":", 1)[0] for entry in found] == ["Resources.AlphaAlarm", "Resources.Gone"]


def test_a_functions_policies_in_another_order_compare_equal_and_another_policy_does_not() -> None:
    # Given a function whose policies are listed in another order (SAM makes them one role's: they have no order)
    def function(*policies: Any) -> dict[str, Any]:
        return {"Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Policies": list(policies)}}}}

    own, bundled = {"Ref": "OwnPolicy"}, {"SQSSendMessagePolicy": {"QueueName": "q"}}
    # Then nothing differs
    assert differences(_template(function(own, bundled)), _template(function(bundled, own))) == []
    # And a policy more or less is named
    assert [entry.split(":", 1)[0] for entry in differences(_template(function(own)), _template(function(own, bundled)))] == [
        "Resources.Fn"
    ]
