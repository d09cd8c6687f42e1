"""A small ``make chaos``: the fault run over the asynchronous integration points (localhub.chaos), on the
local runtime over HTTP, with targets down past every retry window, refusals, throttled AWS calls and
execution environments killed mid-batch, two messages for each asynchronous point; every message applied once or refused with its reason, none
lost, duplicated or stuck after the operator's resubmissions and redrives."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from localhub import chaos
from localhub.aws.endpoint import reset
from localhub.hub import LocalHub
from localhub.lambda_.workers import WorkerPool
from localhub.server import LocalRuntime

# item 8 of the reliability issue: MD-01..10/18, MD-11, MD-13/16/20, CU-01/02, OC-01, FW-01/02/05/06/10/11, DA-02/03/04
POINTS = [
    "MD-01",
    *(f"MD-{n:02d}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 10, 18)),
    "MD-13",
    "MD-16",
    "MD-20",
    "OC-01",
    "FW-01",
    "FW-05",
    "FW-11",
    "FW-06",
    "MD-11",
    "CU-01/02",
    "FW-02",
    "FW-10",
    "DA-02/03/04",
]


@pytest.fixture
def chaos_runtime(aws_endpoint: str) -> Iterator[LocalRuntime]:
    reset(aws_endpoint)
    hub = LocalHub(workers=WorkerPool(), parameters=dict(chaos.PARAMETERS), sfn_retry_scale=0.01)
    local = LocalRuntime(api_port=0, aws_endpoint=aws_endpoint, run_schedules=False, poll_interval=0.05, hub=hub).start()
    yield local
    local.stop()


def test_a_small_chaos_run_loses_nothing_applies_nothing_twice_and_leaves_nothing_stuck(chaos_runtime: LocalRuntime) -> None:
    hub = chaos.Hub(chaos_runtime.api_url)
    lines: list[str] = []
    try:
        tallies = chaos.run(hub, messages=2 * len(POINTS), seed=11, say=lines.append)
    finally:
        hub.close()
    chaos.report(tallies, say=lines.append)
    account = "\n".join(lines)
    # every asynchronous point was sent what it was given (two messages each), and every message has a verdict
    assert [t.point for t in tallies] == POINTS, account
    assert all(t.sent == 2 and sum(t.verdicts.values()) == 2 for t in tallies), account
    # the outage outlived the queues' tries: the operator had dead letters to redrive
    redriven = [int(n) for n in re.findall(r"(\d+) dead letters redriven", account)]
    assert redriven, account
    assert redriven[0] > 0, account
    # nothing lost, duplicated or stuck anywhere
    assert all(t.verdicts[v] == 0 for t in tallies for v in ("lost", "duplicated", "stuck")), account
    # and a refusal is the exception a fault made, not the rule: at most the targets' injected refusals (2 each, 6 targets)
    assert sum(t.verdicts["refused"] for t in tallies) <= 12, account


def test_the_operator_resubmits_an_activity_its_failed_workflow_left_creating(chaos_runtime: LocalRuntime) -> None:
    import boto3

    # Given a FW-01 activity taken (202) whose workflow then could record nothing: every DynamoDB call of the
    # functions throttled while MWM holds its create, until each step's retries were spent and the execution failed
    hub = chaos.Hub(chaos_runtime.api_url)
    point = chaos.FieldActivities("OPS1")
    stack = chaos_runtime.hub.stack
    assert stack is not None
    machine = stack.physical["FieldActivityStateMachine"].ref
    try:
        chaos.synchronize_field_service_point(hub, chaos.FIELD_SERVICE_POINT)
        hub.control("POST", "/sim/mwm/faults", {"kind": "hold", "count": 1, "seconds": 2})
        point.send(hub, 0)  # a reconnection: MWM alone
        hub.control("POST", "/aws/throttling", {"rate": 1.0, "services": ["dynamodb"]})
        assert chaos_runtime.hub.settle(timeout=300) == []
        hub.control("DELETE", "/aws/throttling")
        [key] = point.accepted
        left = hub.get(point.path(key)).json()["status"]
        failed = boto3.client("stepfunctions", region_name=stack.region).list_executions(stateMachineArn=machine, statusFilter="FAILED")

        # When the operator recovers FW-01's failed transactions
        point.recover(hub)
        assert chaos_runtime.hub.settle(timeout=120) == []
        verdicts = point.verdicts(hub)
    finally:
        hub.close()

    # Then the activity, CREATING with its execution failed, was resubmitted (the hub took it: 202) and is linked in
    # MWM once; before, the operator resubmitted only activities in ERROR and this one stayed CREATING for good
    assert left == "CREATING"
    assert [e["name"] for e in failed["executions"]] == [f"CCB-{key}"]
    assert point.resubmitted == 1
    assert verdicts == {key: ("applied", "")}
