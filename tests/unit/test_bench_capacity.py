"""The capacity plan's arithmetic (benchmarks/capacity.py): the binding limit is the least, the time and the cost
follow from it, what each parameter must become is in proportion, and a partition key's writes are counted as an
index receives them."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from benchmarks import aws_calls, capacity, cost
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


def _md01(monitor_calls: float) -> capacity.Measured:
    return capacity.Measured(
        "MD-01 batch",
        {capacity.MD_API: 2.0, capacity.MD_MONITOR: monitor_calls, capacity.MD_DELIVERY: 13.0},
        {"SyncRequestTable": 19.6},
        "JournalTable state RECEIVED",
        2.0,
        0.0,
        32.0,
    )


def test_the_monitors_limit_is_its_calls_per_request_measured_on_a_backlog() -> None:
    # Given MD-01 measured in a run of a few requests (the monitor's queries shared by few: 8.5 calls each) and the
    # monitor measured on a backlog at 0.25 calls per request
    template = capacity.template_limits()
    backlog = capacity.MonitorBacklog(requests=5_000, per_entity=1, calls_per_request=0.25)

    workload = capacity.initial_mdm_load(_md01(8.5), template, backlog)

    # Then the monitor's limit is one run at a time over the backlog's calls, not the small run's
    (limit,) = [limit for limit in workload.limits if limit.name.startswith(f"{capacity.MD_MONITOR}: one run at a time")]
    assert limit.per_second == pytest.approx(1 / (0.25 * cost.AWS_CALL_MS / 1000))
    assert "0.250 calls per request" in limit.name
    assert "5,000 requests, 1 per entity" in limit.name
    assert workload.notes == []
    # and the account's concurrency counts the monitor at the backlog's calls too
    (account,) = [limit for limit in workload.limits if limit.name.startswith("Lambda: the account's")]
    busy = capacity.busy_seconds(2.0) + capacity.busy_seconds(0.25) + capacity.busy_seconds(13.0, target_answers=1)
    assert account.per_second == pytest.approx(capacity.QUOTAS["lambda_concurrency"].value / busy)


def test_without_a_backlog_measured_the_monitors_limit_is_left_out_and_said_so() -> None:
    workload = capacity.initial_mdm_load(_md01(8.5), capacity.template_limits(), None)

    assert [limit for limit in workload.limits if "one run at a time" in limit.name] == []
    assert len(workload.notes) == 1
    assert "no backlog was measured" in workload.notes[0]
    report = capacity.report([capacity.plan(workload)])
    assert "not planned: " + workload.notes[0] in report


def test_the_backlogs_monitor_calls_are_the_monitors_own_per_request() -> None:
    from benchmarks import monitor_backlog

    # Given a drained backlog of 10 requests: the monitor's 3 queries, 1 empty poll, the delivery's 20 calls
    calls = Counter(
        {
            (aws_calls.MONITOR, "dynamodb.Query"): 3,
            (aws_calls.MONITOR, "sqs.ReceiveMessage (empty)"): 1,
            (monitor_backlog.DELIVERY, "dynamodb.UpdateItem"): 20,
        }
    )
    result = monitor_backlog.Result(10, 2, 1.0, 1, 1, 0.1, 0, 0, calls, 0, 0, 0, 0)

    # Then the monitor's calls per request are its 3 calls over the 10 requests
    assert monitor_backlog.monitor_calls_per_request(result) == pytest.approx(0.3)


def test_a_backlog_of_several_changes_per_entity_does_not_stand_for_an_initial_load() -> None:
    # Given the monitor measured on a backlog of 5 changes per entity (it claims only each entity's first: the release at
    # each acknowledgement sends the next), and an initial load of one request per entity
    backlog = capacity.MonitorBacklog(requests=1_000, per_entity=5, calls_per_request=0.48)

    workload = capacity.initial_mdm_load(_md01(3.3), capacity.template_limits(), backlog)

    # Then its figure is not used for the load's monitor limit, and the plan says why
    assert [limit for limit in workload.limits if "one run at a time" in limit.name] == []
    assert len(workload.notes) == 1
    assert "5 changes per entity" in workload.notes[0]
