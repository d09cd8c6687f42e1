"""The capacity plan's arithmetic (benchmarks/capacity.py): the binding limit is the least, the time and the cost
follow from it, what each parameter must become is in proportion, and a partition key's writes are counted as an
index receives them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from benchmarks import capacity, cost
from benchmarks.aws_calls import Call, Scenario, TableInfo

JOURNAL = TableInfo("utilhub-JournalTable-X1", "pk", ("state", "updatedAt"), sort_key="sk", indexes=(("state", "updatedAt"),))


def _head(state: str, old: str | None) -> Call:
    params: dict[str, Any] = {
        "TableName": JOURNAL.name,
        "Key": {"pk": "MD-01#1", "sk": "head"},
        "UpdateExpression": "SET #state = :state, updatedAt = :at",
        "ExpressionAttributeNames": {"#state": "state"},
        "ExpressionAttributeValues": {":state": state, ":at": "2026-12-07T12:00:00Z"},
        "ReturnValues": "ALL_OLD",
    }
    return Call("f", "dynamodb.UpdateItem", params, {"Attributes": {"state": old}} if old else {}, 0.0)


def test_the_least_limit_binds_and_sets_the_time_and_the_cost() -> None:
    # Given a workload of 3,600 messages, a goal of an hour, limits of 10, 2 and 5 messages a second
    workload = capacity.Workload(
        "w",
        3_600,
        3_600,
        usd_per_million=20.0,
        limits=[capacity.Limit("a", 10, "A"), capacity.Limit("b", 2, "B"), capacity.Limit("c", 5, "C")],
        scale={"b": (4, "MaximumConcurrency")},
    )

    line = capacity.plan(workload)

    # Then b binds: 1,800 s, over the goal; the cost is the messages' at the price measured
    assert line.binding.name == "b"
    assert line.seconds == pytest.approx(1_800)
    assert line.meets_goal
    assert line.usd == pytest.approx(3_600 * 20.0 / 1e6)
    assert all(limit.needed == "" for limit in line.limits)  # every limit allows the 1 message a second asked


def test_a_limit_below_the_goal_says_what_its_parameter_must_become() -> None:
    # Given 36,000 messages in an hour (10 a second) and a consumer of concurrency 4 that allows 2 a second
    workload = capacity.Workload(
        "w", 36_000, 3_600, 1.0, [capacity.Limit("b", 2, "B"), capacity.Limit("p", 4, "P")], scale={"b": (4, "MaximumConcurrency")}
    )

    line = capacity.plan(workload)

    assert not line.meets_goal
    assert line.seconds == pytest.approx(18_000)
    needed = {limit.name: limit.needed for limit in line.limits}
    assert needed == {"b": "20 MaximumConcurrency", "p": "not by a parameter"}


def test_a_consumer_is_busy_for_its_calls_and_its_targets_answers() -> None:
    busy = capacity.busy_seconds(10, target_answers=2)
    assert busy == pytest.approx((10 * cost.AWS_CALL_MS + 2 * cost.TARGET_CALL_MS) / 1000)
    assert capacity.concurrency_limit("x", 5, busy, "X").per_second == pytest.approx(5 / busy)


def test_an_index_key_counts_each_item_that_enters_and_each_that_leaves() -> None:
    # Given two messages' heads: each written as RECEIVED, then moved to IN_FLIGHT, then to COMPLETED
    calls = [_head("RECEIVED", None), _head("IN_FLIGHT", "RECEIVED"), _head("COMPLETED", "IN_FLIGHT")] * 2
    scenario = Scenario("s", 2, calls, Counter(), {}, 0, {}, {JOURNAL.name: JOURNAL})

    writes = capacity.index_key_writes(scenario)

    # Then per message RECEIVED's key takes 2 writes (in, out), IN_FLIGHT's 2, COMPLETED's 1
    assert writes == {
        "JournalTable state RECEIVED": pytest.approx(2),
        "JournalTable state IN_FLIGHT": pytest.approx(2),
        "JournalTable state COMPLETED": pytest.approx(1),
    }


def test_the_consumers_that_bound_a_load_are_set_by_parameters_read_at_their_defaults() -> None:
    from localhub.template import Template

    limits = capacity.template_limits()

    # Then MDM's delivery, MD-11's and the outcomes' relay are each set by a parameter of the root template, taken at its default
    parameters = Template.load().parameters
    for function, parameter in (
        (capacity.MD_DELIVERY, "MdmDeliveryConcurrency"),
        (capacity.USAGE_DELIVERY, "UsageDeliveryConcurrency"),
        (capacity.OUTCOMES, "CcbOutcomeConcurrency"),
    ):
        assert limits.concurrency_parameters[function] == parameter
        assert limits.queue_concurrency[function] == parameters[parameter]["Default"]
    assert limits.api_rate > 0
    assert limits.dacs_map_concurrency > 0
