"""A small ``make chaos``: the fault run over the asynchronous integration points (localhub.chaos), on the
local runtime over HTTP, with targets down past every retry window, refusals, throttled AWS calls and
execution environments killed mid-batch; every message applied once or refused with its reason, none
lost, duplicated or stuck after the operator's resubmissions and redrives."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from localhub import chaos
from localhub.endpoint import reset
from localhub.hub import LocalHub
from localhub.server import LocalRuntime
from localhub.workers import WorkerPool


@pytest.fixture
def chaos_runtime(aws_endpoint: str) -> Iterator[LocalRuntime]:
    reset(aws_endpoint)
    hub = LocalHub(workers=WorkerPool(), sfn_retry_scale=0.01)
    local = LocalRuntime(api_port=0, aws_endpoint=aws_endpoint, run_schedules=False, poll_interval=0.05, hub=hub).start()
    yield local
    local.stop()


def test_a_small_chaos_run_loses_nothing_applies_nothing_twice_and_leaves_nothing_stuck(chaos_runtime: LocalRuntime) -> None:
    hub = chaos.Hub(chaos_runtime.api_url)
    lines: list[str] = []
    try:
        tallies = chaos.run(hub, messages=44, seed=11, say=lines.append)
    finally:
        hub.close()
    ok = chaos.report(tallies, say=lines.append)
    account = "\n".join(lines)
    # every point sent what it was given, and every message has a verdict
    assert {t.point for t in tallies} == {
        "MD-01",
        "MD-11",
        "MD-13",
        "MD-16",
        "MD-20",
        "OC-01",
        "FW-01",
        "FW-05",
        "FW-06",
        "FW-11",
        "CU-01/02",
    }, account
    assert all(t.sent == 4 and sum(t.verdicts.values()) == 4 for t in tallies), account
    # the outage outlived the queues' tries: the operator had dead letters to redrive
    redriven = [int(n) for n in re.findall(r"(\d+) dead letters redriven", account)]
    assert redriven, account
    assert redriven[0] > 0, account
    assert ok, account
    # and a refusal is the exception a fault made, not the rule: at most the targets' injected refusals (2 each, 5 targets)
    assert sum(t.verdicts["refused"] for t in tallies) <= 10, account
