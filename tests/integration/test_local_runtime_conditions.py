"""The local runtime deploys what its parameters choose: a resource whose ``Condition`` does not hold is neither
created, nor a function, nor an event source, nor a route (as ``sam deploy --parameter-overrides`` leaves it out)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from localhub.aws.endpoint import reset
from localhub.hub import LocalHub
from localhub.template import Template

FIXTURE = Path(__file__).parent / "fixtures" / "template.yaml"


def conditioned_template() -> Template:
    """The small topology, and under a condition on a parameter a queue with its consumer, which has a route."""
    body = copy.deepcopy(Template.load(FIXTURE).body)
    body["Parameters"] = {"Extra": {"Type": "String", "Default": "yes", "AllowedValues": ["yes", "no"]}}
    body["Conditions"] = {"HasExtra": {"Fn::Equals": [{"Ref": "Extra"}, "yes"]}}
    body["Resources"]["ExtraQueue"] = {"Type": "AWS::SQS::Queue", "Condition": "HasExtra", "Properties": {"VisibilityTimeout": 60}}
    body["Resources"]["ExtraFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Condition": "HasExtra",
        "Properties": {
            "CodeUri": "tests/integration/fixtures/functions/recorder/",
            "Events": {
                "Queue": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["ExtraQueue", "Arn"]}}},
                "Get": {"Type": "HttpApi", "Properties": {"Method": "GET", "Path": "/extra"}},
            },
        },
    }
    return Template(body)


@pytest.mark.parametrize(("parameters", "deployed"), [({}, True), ({"Extra": "no"}, False)])
def test_the_hub_creates_only_what_the_conditions_keep(aws_endpoint: str, parameters: dict[str, str], deployed: bool) -> None:
    reset(aws_endpoint)
    # When the hub starts with the parameters given (the default, or one leaving the condition false)
    hub = LocalHub(template=conditioned_template(), simulators={}, parameters=parameters).start()
    try:
        # Then the conditioned queue, function, event source and route exist exactly when the condition holds
        resources = hub.resources()
        assert ("ExtraQueue" in resources, "ExtraFunction" in resources) == (deployed, deployed)
        assert hub.stack is not None
        assert ("ExtraFunction" in {spec.logical_id for spec in hub.stack.functions()}) is deployed
        assert any(route.path == "/extra" for route in hub.routes) is deployed
        # And the rest of the topology is there either way
        assert {"RecorderFunction", "UploadQueue", "ExchangeBucket", "Workflow"} <= set(resources)
    finally:
        assert hub.stop() == []
