"""localhub.aws.patches.stepfunctions_programs: moto's Step Functions parses a definition once, not once per execution,
and every execution of it still runs as its own (its retries counted apart, its input and output its own)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localhub.aws.patches import stepfunctions_programs
from localhub.aws.sfn_waits import scaled

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/unit"
# a Map of each item through a Pass, then a Choice on the input, and a Fail retried twice before its Catch
DEFINITION = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"n.$": "$"}, "End": True}}},
            "ResultPath": "$.seen",
            "Next": "Fail?",
        },
        "Fail?": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}], "Default": "Done"},
        "Boom": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "Raise", "States": {"Raise": {"Type": "Fail", "Error": "Custom", "Cause": "asked"}}}],
            "Retry": [{"ErrorEquals": ["Custom"], "MaxAttempts": 2, "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught", "ResultPath": "$.error"}],
            "Next": "Done",
        },
        "Caught": {"Type": "Pass", "Result": "caught", "ResultPath": "$.outcome", "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture
def sfn() -> Iterator[Any]:
    stepfunctions_programs.install()
    stepfunctions_programs.program_of.cache_clear()
    # the retries' waits at a thousandth of their length (localhub.aws.sfn_waits), as the local runtime runs them in tests
    with scaled(0.001), mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name=REGION)


def _run(sfn: Any, arn: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))["executionArn"]
    while (found := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        time.sleep(0.01)
    return found  # type: ignore[no-any-return]


def _retries(sfn: Any, execution_arn: str) -> int:
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return sum(1 for e in events if e["type"] == "ParallelStateStarted")


def test_executions_of_one_definition_share_its_program_and_each_runs_as_its_own(sfn: Any) -> None:
    # Given a state machine (its definition parsed when it is created, to validate it)
    arn = sfn.create_state_machine(name="shared", definition=json.dumps(DEFINITION), roleArn=ROLE)["stateMachineArn"]

    # When it is run three times, with different inputs, two of which fail and are retried
    runs = [_run(sfn, arn, f"run-{n}", {"items": list(range(n + 1)), "fail": n > 0}) for n in range(3)]

    # Then its definition was parsed once for the three executions
    info = stepfunctions_programs.program_of.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    # and each ended with its own output, its retries counted apart (2 retries after the first try, each time)
    outputs = [json.loads(run["output"]) for run in runs]
    assert [run["status"] for run in runs] == ["SUCCEEDED"] * 3
    assert [o["seen"] for o in outputs] == [[{"n": 0}], [{"n": 0}, {"n": 1}], [{"n": 0}, {"n": 1}, {"n": 2}]]
    assert [o.get("outcome") for o in outputs] == [None, "caught", "caught"]
    assert [_retries(sfn, run["executionArn"]) for run in runs] == [0, 3, 3]


def test_a_definition_updated_is_parsed_anew(sfn: Any) -> None:
    # Given a state machine run once, then updated to another definition
    arn = sfn.create_state_machine(name="updated", definition=json.dumps(DEFINITION), roleArn=ROLE)["stateMachineArn"]
    assert _run(sfn, arn, "before", {"items": [], "fail": False})["status"] == "SUCCEEDED"
    other = {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "Result": {"which": "other"}, "End": True}}}
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(other))

    # When it is run again, then it runs the new definition
    after = _run(sfn, arn, "after", {"items": []})
    assert (after["status"], json.loads(after["output"])) == ("SUCCEEDED", {"which": "other"})
    assert stepfunctions_programs.program_of.cache_info().misses == 2
