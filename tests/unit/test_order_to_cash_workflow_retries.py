"""OC-01's workflow definition retries what may pass, by the names Step Functions sees.

Step Functions matches a Lambda error by its name (the exception's class name), not by Python's class
hierarchy: every transient error a BRM step can raise must be named in its ``Retry``, subclasses
included. Reads the template and the definition it deploys; the outcomes are in
tests/integration/test_order_to_cash_fulfillment_orders.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from localhub.template import ROOT, Template
from utilhub.packs.order_to_cash.tasks import BillToNotFound
from utilhub.platform.aws import AwsUnavailable
from utilhub.platform.connectors import TargetRejected, TargetUnavailable
from utilhub.platform.idempotency import IdempotencyInProgress
from utilhub.platform.problems import Problem

# Lambda's own transient failures (AWS's guidance for the lambda:invoke integration)
LAMBDA_SERVICE = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
)
# and a function timed out (a step's BRM calls all slow, each within the connector's timeout):
# Sandbox.Timedout, or Lambda.Unknown from older runtimes
LAMBDA_TRANSIENT = (*LAMBDA_SERVICE, "Sandbox.Timedout", "Lambda.Unknown")


def _with_subclasses(cls: type[BaseException]) -> Iterator[type[BaseException]]:
    yield cls
    for sub in cls.__subclasses__():
        yield from _with_subclasses(sub)


def transient_errors() -> list[str]:
    """The names of every error a BRM step raises when trying again later may work."""
    classes = [*_with_subclasses(TargetUnavailable), AwsUnavailable, BillToNotFound, IdempotencyInProgress]
    return sorted({cls.__name__ for cls in classes} | set(LAMBDA_TRANSIENT))


def _definition() -> dict[str, Any]:
    machine = Template.load().resources["FulfillmentOrderStateMachine"]["Properties"]
    return json.loads((ROOT / machine["DefinitionUri"]).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for nested in (state.get("Iterator"), state.get("ItemProcessor")):
            if nested:
                yield from _states(nested["States"])


def tasks() -> list[tuple[str, dict[str, Any]]]:
    return [(name, state) for name, state in _states(_definition()["States"]) if state.get("Type") == "Task"]


def brm_tasks() -> list[tuple[str, dict[str, Any]]]:
    return [(name, state) for name, state in tasks() if state.get("Parameters", {}).get("FunctionName") == "${BrmStepsFunctionArn}"]


WILDCARDS = {"States.ALL", "States.TaskFailed"}  # each matches any error a Lambda task reports


def retrier(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    """The retrier Step Functions applies to ``error``: the first whose ErrorEquals names it or a wildcard."""
    return next((r for r in state.get("Retry", []) if error in r["ErrorEquals"] or WILDCARDS & set(r["ErrorEquals"])), None)


def span(rule: dict[str, Any]) -> float:
    """The longest time ``rule`` retries for: each wait before jitter, as Step Functions computes it."""
    interval, rate = float(rule.get("IntervalSeconds", 1)), float(rule.get("BackoffRate", 2.0))
    cap = float(rule.get("MaxDelaySeconds", math.inf))
    return sum(min(interval * rate**n, cap) for n in range(int(rule.get("MaxAttempts", 3))))


def test_the_definition_has_the_three_brm_steps() -> None:
    assert [name for name, _ in brm_tasks()] == ["EnsureAccount", "EnsureServiceAccount", "EnsureBillingProfile"]


@pytest.mark.parametrize("error", transient_errors())
def test_every_brm_step_retries_each_transient_error_by_its_name(error: str) -> None:
    for name, state in brm_tasks():
        assert retrier(state, error) is not None, f"{name} does not retry {error}"


@pytest.mark.parametrize("error", LAMBDA_SERVICE)
def test_every_task_retries_lambdas_transient_errors(error: str) -> None:
    assert [name for name, _ in tasks()] == [
        "CollateLines",
        "EnsureAccount",
        "EnsureServiceAccount",
        "EnsureBillingProfile",
        "Summarize",
        "RecordFailure",
    ]
    for name, state in tasks():
        assert retrier(state, error) is not None, f"{name} does not retry {error}"


@pytest.mark.parametrize("error", [TargetRejected.__name__, Problem.__name__, ValidationError.__name__])
def test_a_refusal_or_an_invalid_item_is_not_retried(error: str) -> None:
    for name, state in brm_tasks():
        assert retrier(state, error) is None, f"{name} retries {error}"


@pytest.mark.parametrize("error", [*(cls.__name__ for cls in _with_subclasses(TargetUnavailable)), AwsUnavailable.__name__])
def test_a_target_or_aws_outage_is_retried_for_minutes_with_capped_jittered_backoff(error: str) -> None:
    for name, state in brm_tasks():
        rule = retrier(state, error)
        assert rule is not None, f"{name} does not retry {error}"
        assert rule.get("JitterStrategy") == "FULL", name
        assert 60 <= rule["MaxDelaySeconds"] <= 300, name  # backs off to a few minutes, no further
        # full jitter waits between 0 and each computed delay: half the span on average, 10 minutes at least
        assert span(rule) / 2 >= 10 * 60, f"{name} retries {error} for {span(rule)} s at most"
