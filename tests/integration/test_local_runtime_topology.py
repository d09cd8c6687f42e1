"""The local runtime runs what a template declares: Step Functions executions whose Lambda
tasks are our handlers in-process (Retry and Catch see Lambda's errors), a Distributed Map
reading its items from S3 (ItemReader), and S3 notifications into SQS event sources. A small
template of its own exercises them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from localhub.aws.endpoint import reset
from localhub.hub import LocalHub
from localhub.template import Template
from tests.integration.fixtures.functions.recorder import app as recorder

FIXTURE = Path(__file__).parent / "fixtures" / "template.yaml"


@pytest.fixture
def topology(aws_endpoint: str) -> Iterator[LocalHub]:
    reset(aws_endpoint)
    recorder.CALLS.clear()
    hub = LocalHub(template=Template.load(FIXTURE), simulators={}).start()
    yield hub
    assert hub.stop() == []


def run_execution(hub: LocalHub, payload: dict, timeout: float = 20.0, machine: str = "Workflow") -> dict:
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=hub.resources()[machine], name=f"run-{payload['id']}", input=json.dumps(payload))[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.1)
    raise AssertionError(f"execution {arn} still running")


def test_state_machine_runs_the_lambda_task_in_process(topology: LocalHub) -> None:
    execution = run_execution(topology, {"id": "a"})
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"recorded": {"id": "a", "attempts": 1, "remainingMs": True}}


def test_retry_sees_the_function_error_and_succeeds(topology: LocalHub) -> None:
    execution = run_execution(topology, {"id": "b", "failTimes": 1})
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["recorded"]["attempts"] == 2


def test_catch_gets_lambdas_error_type(topology: LocalHub) -> None:
    execution = run_execution(topology, {"id": "c", "alwaysFail": True})
    output = json.loads(execution["output"])
    assert output["outcome"] == "caught"
    assert output["error"]["Error"] == "PermanentError"
    assert len([c for c in recorder.CALLS if c.get("id") == "c"]) == 1  # not a FlakyError: no retry


def test_s3_object_created_reaches_the_queue_and_the_function(topology: LocalHub) -> None:
    s3 = boto3.client("s3")
    bucket = topology.resources()["ExchangeBucket"]
    s3.put_object(Bucket=bucket, Key="extract/contacts-1.tsv", Body=b"x\n")
    s3.put_object(Bucket=bucket, Key="elsewhere/ignored.tsv", Body=b"y\n")
    topology.drain()
    keys = [
        unquote_plus(record["s3"]["object"]["key"])  # S3 events carry keys URL-encoded
        for call in recorder.CALLS
        for message in call.get("Records", [])
        for record in json.loads(message["body"]).get("Records", [])
    ]
    assert keys == ["extract/contacts-1.tsv"]


def test_a_distributed_map_reads_its_items_from_s3_and_runs_each_through_the_lambda_task(topology: LocalHub) -> None:
    # Given a JSON array of items in S3 (one fails its first attempt)
    s3 = boto3.client("s3")
    bucket = topology.resources()["ExchangeBucket"]
    items: list[dict[str, Any]] = [{"id": f"item-{n}"} for n in range(7)] + [{"id": "item-flaky", "failTimes": 1}]
    s3.put_object(Bucket=bucket, Key="items/all.json", Body=json.dumps(items).encode())

    # When the Distributed Map runs over them
    execution = run_execution(topology, {"id": "distributed", "bucket": bucket, "key": "items/all.json"}, machine="DistributedWorkflow")

    # Then every item ran through the function (the flaky one retried) and the output lists each result in order
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert [r["id"] for r in output] == [item["id"] for item in items]
    assert output[-1]["attempts"] == 2
    assert sorted(str(c["id"]) for c in recorder.CALLS) == sorted([str(item["id"]) for item in items] + ["item-flaky"])
