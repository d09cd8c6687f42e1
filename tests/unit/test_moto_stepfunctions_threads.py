"""localhub.aws.patches.stepfunctions_threads: moto's Step Functions interpreter keeps no thread that has ended.

Each execution, each state it runs and each Map iteration is a thread moto's interpreter appends to a module-level
list (``TMP_THREADS``) it never reads or empties. Under Python 3.13 a joinable thread's stack is freed when it is joined
or its handle let go; a thread held in that list keeps its 8 MiB stack and guard page mapped after it ended, so a
long fault run reached the kernel's limit of memory maps (65,530) and every new thread failed ("can't start new
thread"). The change keeps in that list only the threads still running."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.backend import execution_worker

from localhub.aws.patches import stepfunctions_threads

ROLE = "arn:aws:iam::123456789012:role/unit"
DEFINITION = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}},
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture
def sfn() -> Iterator[Any]:
    stepfunctions_threads.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="eu-west-1")


def test_the_threads_of_ended_executions_are_not_kept(sfn: Any) -> None:
    # Given a state machine with a Map, and twenty of its executions run to their end
    arn = sfn.create_state_machine(name="threads", definition=json.dumps(DEFINITION), roleArn=ROLE)["stateMachineArn"]
    executions = [
        sfn.start_execution(stateMachineArn=arn, name=f"e-{n}", input=json.dumps({"items": [1, 2, 3]}))["executionArn"] for n in range(20)
    ]
    for execution in executions:
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            time.sleep(0.01)
    # Then they ran as before, and the interpreter holds no more threads than were running when it last started one
    # (without the change: every thread of the twenty, over a hundred)
    assert {sfn.describe_execution(executionArn=e)["status"] for e in executions} == {"SUCCEEDED"}
    assert len(execution_worker.TMP_THREADS) < 20  # type: ignore[attr-defined]
