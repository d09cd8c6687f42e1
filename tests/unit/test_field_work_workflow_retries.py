"""FW-01's workflow definition retries an invocation Lambda lost (its execution environment died, or it outlived
the function's timeout), by the names Step Functions sees: ``Runtime.ExitError`` and ``Sandbox.Timedout``.

Every step is safe to run again (a create asks the target, which finds what it made; a cancel and a finish are
conditional on the activity's record). Without the retry, a lost invocation of the step that records the
activity's ERROR ends the execution in ``OutcomeNotRecorded`` and leaves the activity CREATING, with nothing
to move it on until an operator resubmits it. Reads the template and the definition it deploys; the outcomes
are in tests/integration/test_field_work_activities.py."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from localhub.template import ROOT, Template

LOST_INVOCATIONS = ("Runtime.ExitError", "Sandbox.Timedout")
WILDCARDS = {"States.ALL", "States.TaskFailed"}


def _definition() -> dict[str, Any]:
    machine = Template.load().resources["FieldActivityStateMachine"]["Properties"]
    return json.loads((ROOT / machine["DefinitionUri"]).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        yield name, state
        for nested in (state.get("Iterator"), state.get("ItemProcessor")):
            if nested:
                yield from _states(nested["States"])


TASKS = [(name, state) for name, state in _states(_definition()["States"]) if state.get("Type") == "Task"]


def test_the_workflow_has_its_four_lambda_steps() -> None:
    assert sorted(name for name, _ in TASKS) == ["CancelInTarget", "CreateInTarget", "Failed", "Linked"]


@pytest.mark.parametrize("error", LOST_INVOCATIONS)
@pytest.mark.parametrize(("name", "state"), TASKS, ids=[name for name, _ in TASKS])
def test_every_step_retries_an_invocation_lambda_lost_as_often_as_any_transient_failure(
    name: str, state: dict[str, Any], error: str
) -> None:
    retrier = next((r for r in state.get("Retry", []) if error in r["ErrorEquals"] or WILDCARDS & set(r["ErrorEquals"])), None)
    assert retrier is not None, f"{name} does not retry {error}"
    transient = next(r for r in state["Retry"] if "AwsUnavailable" in r["ErrorEquals"])
    assert retrier is transient, f"{name} retries {error} otherwise than an AWS failure"


def _retry_span(rule: dict[str, Any]) -> float:
    """The longest time ``rule`` waits between attempts: each wait before jitter, as Step Functions computes it."""
    interval, rate = float(rule.get("IntervalSeconds", 1)), float(rule.get("BackoffRate", 2.0))
    cap = float(rule.get("MaxDelaySeconds", math.inf))
    return sum(min(interval * rate**n, cap) for n in range(int(rule.get("MaxAttempts", 3))))


def _task_span(state: dict[str, Any], timeout: int) -> float:
    """A Lambda task's longest run: every retrier's waits, and every attempt (the first, then each retry) running
    to the function's timeout."""
    retries = state.get("Retry", [])
    return sum(_retry_span(r) for r in retries) + (1 + sum(int(r.get("MaxAttempts", 3)) for r in retries)) * timeout


def longest_creation_span(routed: int) -> float:
    """The longest a creation can legitimately run with ``routed`` targets: every create (the Map runs MaxConcurrency at
    once), the finish that finds one missing, every compensation, and the finish that records the ERROR."""
    states = _definition()["States"]
    tasks = dict(TASKS)
    timeout = int(Template.load().resources["FieldWorkActivityStepsFunction"]["Properties"]["Timeout"])
    creates = math.ceil(routed / int(states["CreateInTargets"]["MaxConcurrency"])) * _task_span(tasks["CreateInTarget"], timeout)
    cancels = math.ceil(routed / int(states["CancelWhereCreated"]["MaxConcurrency"])) * _task_span(tasks["CancelInTarget"], timeout)
    return creates + _task_span(tasks["Linked"], timeout) + cancels + _task_span(tasks["Failed"], timeout)


def test_the_creation_sweeps_bound_is_above_the_workflows_longest_span() -> None:
    from utilhub.packs.field_work.wiring import TARGETS

    # an activity is routed to every system but its source at most
    span = longest_creation_span(len(TARGETS) - 1)
    sweep = Template.load().resources["FieldWorkActivityCreationSweepFunction"]["Properties"]
    bound = int(sweep["Environment"]["Variables"]["UTILHUB_FIELD_WORK_CREATION_BOUND_SECONDS"])
    assert span == 9584  # 2 rounds of creates (1,704 s each), the finish (1,544 s), 2 of cancels and the last finish
    assert span <= bound <= span + 3600, f"the bound {bound} s against the longest span {span} s"
