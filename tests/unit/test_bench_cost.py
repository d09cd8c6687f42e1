"""The benchmarks' cost model (benchmarks/cost.py): every price carries its page and the day it was read,
every service the hub uses is priced, and the floor counts what the architecture cannot avoid."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from benchmarks import cost
from benchmarks.aws_calls import Call, Scenario, TableInfo

# the services the hub uses (template.yaml), each with the price names that cover them
SERVICES = {
    "HTTP API": ["API_GATEWAY_HTTP_PER_REQUEST"],
    "Lambda arm64": ["LAMBDA_PER_REQUEST", "LAMBDA_ARM_PER_GB_SECOND"],
    "SQS": ["SQS_STANDARD_PER_REQUEST", "SQS_FIFO_PER_REQUEST"],
    "DynamoDB on-demand": ["DYNAMODB_PER_WRITE_UNIT", "DYNAMODB_PER_READ_UNIT"],
    "Step Functions": [
        "STEP_FUNCTIONS_STANDARD_PER_TRANSITION",
        "STEP_FUNCTIONS_EXPRESS_PER_REQUEST",
        "STEP_FUNCTIONS_EXPRESS_PER_GB_SECOND",
    ],
    "S3": ["S3_WRITE_PER_REQUEST", "S3_READ_PER_REQUEST", "S3_STANDARD_PER_GB_MONTH"],
    "KMS": ["KMS_PER_REQUEST"],
    "CloudWatch Logs": ["CLOUDWATCH_LOGS_PER_GB"],
    "Secrets Manager": ["SECRETS_MANAGER_PER_API_CALL"],
}


@pytest.mark.parametrize("name", sorted(cost.prices()))
def test_every_price_names_its_page_and_the_day_it_was_read(name: str) -> None:
    price = cost.prices()[name]
    assert price.usd > 0
    assert price.source.startswith("https://"), price.source
    assert date.fromisoformat(price.read) <= date.today()
    assert price.unit


def test_no_price_is_a_bare_number() -> None:
    # Given the module's constants
    bare = [
        name
        for name, value in vars(cost).items()
        if name.isupper() and "_PER_" in name and isinstance(value, int | float) and not isinstance(value, bool)
    ]
    # Then every price is a Price (a bare number would escape the check above)
    assert bare == []


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_the_hub_uses_is_priced(service: str) -> None:
    missing = [name for name in SERVICES[service] if name not in cost.prices()]
    assert missing == []


TABLE = TableInfo("SyncRequestTable", "pk", ())
FIFO = "https://sqs.us-east-1.amazonaws.com/123456789012/MdmDeliveryQueue.fifo"
STANDARD = "https://sqs.us-east-1.amazonaws.com/123456789012/UsageQueue"


def _call(function: str, operation: str, params: dict[str, Any], response: dict[str, Any] | None = None) -> Call:
    return Call(function, operation, params, response or {}, 0.0)


def _scenario(messages: int, calls: list[Call], invocations: dict[str, int], histories: dict[tuple[str, str], int]) -> Scenario:
    return Scenario(
        "synthetic",
        messages,
        calls,
        Counter(invocations),
        {},
        0,
        {},
        {TABLE.name: TABLE},
        histories,
    )


def test_the_floor_counts_api_requests_invocations_queue_hops_and_lifecycle_states() -> None:
    # Given two messages, each posted once, queued to a FIFO queue in one batch, delivered, its request recorded in 3 states
    calls = [
        _call("api", "dynamodb.PutItem", {"TableName": TABLE.name, "Item": {"pk": "REQ#1"}}),
        _call("api", "dynamodb.PutItem", {"TableName": TABLE.name, "Item": {"pk": "REQ#2"}}),
        _call("monitor", "sqs.SendMessageBatch", {"QueueUrl": FIFO, "Entries": [{"Id": "1"}, {"Id": "2"}]}),
        _call("delivery", "dynamodb.UpdateItem", {"TableName": TABLE.name, "Key": {"pk": "REQ#1"}}),
        _call("delivery", "dynamodb.UpdateItem", {"TableName": TABLE.name, "Key": {"pk": "REQ#2"}}),
        _call("runtime", "sqs.ReceiveMessage", {"QueueUrl": FIFO}, {"Messages": [{}, {}]}),
        _call("runtime", "sqs.ReceiveMessage", {"QueueUrl": FIFO}, {}),  # an empty poll
    ]
    scenario = _scenario(2, calls, {"api": 2, "monitor": 1, "delivery": 2}, {(TABLE.name, "REQ#1"): 3, (TABLE.name, "REQ#2"): 3})

    # When its floor is priced
    floor = cost.floor_per_message(scenario, api_function="api", delivery_function="delivery")

    # Then per message: 3 single-unit writes, one queue hop (3 requests in batches of 10), one API request,
    # 2.5 invocations at 1 ms and one wait for the target
    assert floor.lifecycle_writes == 3
    assert floor.queue_hops == 1
    assert floor.by_service["DynamoDB (on-demand)"] == pytest.approx(3 * cost.DYNAMODB_PER_WRITE_UNIT.usd)
    assert floor.by_service["SQS (FIFO or standard, by queue)"] == pytest.approx(0.3 * cost.SQS_FIFO_PER_REQUEST.usd)
    assert floor.by_service["API Gateway (HTTP API)"] == pytest.approx(cost.API_GATEWAY_HTTP_PER_REQUEST.usd)
    lambda_ms = 2.5 * cost.LAMBDA_MINIMUM_MS + cost.TARGET_CALL_MS
    expected_lambda = 2.5 * cost.LAMBDA_PER_REQUEST.usd + lambda_ms / 1000 * cost.LAMBDA_MEMORY_GB * cost.LAMBDA_ARM_PER_GB_SECOND.usd
    assert floor.by_service["Lambda (requests + duration)"] == pytest.approx(expected_lambda)


def test_each_queue_is_priced_at_its_own_rate_and_empty_polls_are_left_out() -> None:
    calls = [
        _call("monitor", "sqs.SendMessageBatch", {"QueueUrl": FIFO, "Entries": [{"Id": "1"}]}),
        _call("intake", "sqs.SendMessageBatch", {"QueueUrl": STANDARD, "Entries": [{"Id": "1"}]}),
        _call("runtime", "sqs.ReceiveMessage", {"QueueUrl": STANDARD}, {}),
    ]
    scenario = _scenario(1, calls, {"api": 1}, {})

    priced = cost.cost_per_message(scenario, cost.CpuPerMessage(0.0, 0.0), api_function="api", delivery_function="delivery")

    expected = cost.SQS_FIFO_PER_REQUEST.usd + cost.SQS_STANDARD_PER_REQUEST.usd
    assert priced.by_service["SQS (FIFO or standard, by queue)"] == pytest.approx(expected)


def test_a_batch_write_is_priced_per_item() -> None:
    # Given a BatchWriteItem deleting two items (gone after the run, so at least one unit each)
    call = _call("monitor", "dynamodb.BatchWriteItem", {"RequestItems": {TABLE.name: [{"DeleteRequest": {"Key": {"pk": "C#1"}}}] * 2}})
    scenario = _scenario(1, [call], {"api": 1}, {})

    assert cost.dynamodb_units(call, scenario).write == 2


def test_oic_at_full_use_is_its_pack_price_over_its_messages() -> None:
    per_million = cost.oic_per_message() * 1e6
    assert per_million == pytest.approx(cost.OIC_STANDARD_PER_MESSAGE_PACK_HOUR.usd / cost.OIC_PACK_MESSAGES * 1e6)
    assert 128 < per_million < 130  # the "about $129 per million at full use"


JOURNAL = TableInfo(
    "utilhub-JournalTable-X1",
    "pk",
    ("pointState", "updatedAt", "state", "updatedAt"),
    sort_key="sk",
    indexes=(("pointState", "updatedAt"), ("state", "updatedAt")),
)
HEAD_UPDATE = "SET #state = :state, pointState = :pointState, updatedAt = :at, receivedAt = if_not_exists(receivedAt, :at)"


def _journal_scenario(calls: list[Call]) -> Scenario:
    return Scenario("journal", 1, calls, Counter({"api": 1}), {}, 0, {}, {JOURNAL.name: JOURNAL})


def test_an_update_that_moves_an_item_in_each_index_costs_a_delete_and_a_put_in_each() -> None:
    # Given a journal head changed from one state to the next (both indexes' keys change), and a head written anew
    names = {"#state": "state"}
    moved = _call(
        "delivery",
        "dynamodb.UpdateItem",
        {
            "TableName": JOURNAL.name,
            "Key": {"pk": "MD-01#1", "sk": "head"},
            "UpdateExpression": HEAD_UPDATE,
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_OLD",
        },
        {"Attributes": {"state": "RECEIVED"}},
    )
    new = _call(
        "api",
        "dynamodb.UpdateItem",
        {
            "TableName": JOURNAL.name,
            "Key": {"pk": "MD-01#2", "sk": "head"},
            "UpdateExpression": HEAD_UPDATE,
            "ExpressionAttributeNames": names,
            "ReturnValues": "ALL_OLD",
        },
    )
    scenario = _journal_scenario([moved, new])

    # Then the move costs the item's unit and 2 in each of the 2 indexes; the new head 1 and 1 in each
    assert cost.dynamodb_units(moved, scenario).write == 1 + 2 + 2
    assert cost.dynamodb_units(new, scenario).write == 1 + 1 + 1


def test_a_key_kept_by_if_not_exists_does_not_move_its_index_entry() -> None:
    # Given an update that sets the index's key only where it is missing (the request's open-entity key, set at intake)
    table = TableInfo("SyncRequestTable", "pk", ("gsi2pk",), indexes=(("gsi2pk",),))
    call = _call(
        "monitor",
        "dynamodb.UpdateItem",
        {"TableName": table.name, "Key": {"pk": "R#1"}, "UpdateExpression": "SET #s = :to, gsi2pk = if_not_exists(openUnder, :own)"},
    )
    scenario = Scenario("x", 1, [call], Counter({"api": 1}), {}, 0, {}, {table.name: table})

    # Then only the item's unit is counted
    assert cost.dynamodb_units(call, scenario).write == 1


def test_an_update_that_only_removes_an_index_key_deletes_its_entry() -> None:
    # Given the outbox cleared: an update that starts with its REMOVE clause and takes the item out of ByStatus
    table = TableInfo("SyncRequestTable", "pk", ("gsi1pk", "gsi1sk"), indexes=(("gsi1pk", "gsi1sk"),))
    call = _call(
        "delivery",
        "dynamodb.UpdateItem",
        {"TableName": table.name, "Key": {"pk": "R#1"}, "UpdateExpression": "REMOVE outcomeOwed, gsi1pk, gsi1sk"},
    )
    scenario = Scenario("x", 1, [call], Counter({"api": 1}), {}, 0, {}, {table.name: table})

    # Then the item's unit and one delete in the index
    assert cost.dynamodb_units(call, scenario).write == 2


def test_an_update_that_touches_no_index_key_writes_only_the_item() -> None:
    call = _call(
        "delivery",
        "dynamodb.UpdateItem",
        {"TableName": JOURNAL.name, "Key": {"pk": "MD-01#1", "sk": "head"}, "UpdateExpression": "SET reason = :r"},
    )
    assert cost.dynamodb_units(call, _journal_scenario([call])).write == 1


def test_items_of_one_partition_are_sized_each_by_their_own_key() -> None:
    # Given a head of 3 KB and a small hop under the same partition key
    scenario = _journal_scenario([])
    scenario.item_sizes.update({(JOURNAL.name, "MD-01#1#head"): 3000, (JOURNAL.name, "MD-01#1#hop#1"): 200})
    head = _call(
        "delivery",
        "dynamodb.UpdateItem",
        {"TableName": JOURNAL.name, "Key": {"pk": "MD-01#1", "sk": "head"}, "UpdateExpression": "SET reason = :r"},
    )
    hop = _call("delivery", "dynamodb.PutItem", {"TableName": JOURNAL.name, "Item": {"pk": "MD-01#1", "sk": "hop#1"}})

    # Then each is priced at its own size
    assert cost.dynamodb_units(head, scenario).write == 3
    assert cost.dynamodb_units(hop, scenario).write == 1


def test_write_units_are_told_apart_by_function_operation_and_table() -> None:
    # Given one transaction writing a sync request and a cross-reference
    call = _call(
        "delivery",
        "dynamodb.TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": TABLE.name, "Item": {"pk": "REQ#1"}}},
                {"Put": {"TableName": "utilhub-CrossReferenceTable-Y2", "Item": {"pk": "X#1"}}},
            ]
        },
    )
    scenario = Scenario(
        "x",
        1,
        [call],
        Counter({"api": 1}),
        {},
        0,
        {},
        {TABLE.name: TABLE, "utilhub-CrossReferenceTable-Y2": TableInfo("utilhub-CrossReferenceTable-Y2", "pk", ())},
    )

    # Then each table's share is 2 units (a transactional write), under the table's logical name
    assert cost.write_units_by_table(scenario) == {
        ("delivery", "TransactWriteItems", "SyncRequestTable"): 2,
        ("delivery", "TransactWriteItems", "CrossReferenceTable"): 2,
    }


def test_standard_workflow_transitions_are_priced_and_the_floor_counts_the_task_states() -> None:
    # Given two orders, each started as a Standard execution of 15 transitions, 5 of them task states
    start = _call("api", "stepfunctions.StartExecution", {"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:o"})
    scenario = Scenario("order", 2, [start, start], Counter({"api": 2}), {}, 0, {}, {}, transitions=30, task_transitions=10)

    priced = cost.cost_per_message(scenario, cost.CpuPerMessage(0.0, 0.0), api_function="api", delivery_function="delivery")
    floor = cost.floor_per_message(scenario, api_function="api", delivery_function="delivery")

    assert priced.by_service["Step Functions (Standard transitions)"] == pytest.approx(15 * cost.STEP_FUNCTIONS_STANDARD_PER_TRANSITION.usd)
    assert priced.by_service["S3, Secrets Manager, KMS calls"] == 0  # a Standard start is no Express request
    assert floor.by_service["Step Functions (Standard transitions)"] == pytest.approx(5 * cost.STEP_FUNCTIONS_STANDARD_PER_TRANSITION.usd)


def test_the_warm_intakes_calls_are_named_most_first_with_and_without_its_release() -> None:
    from benchmarks.aws_calls import WarmHandler

    warm = WarmHandler(
        50,
        1.0,
        0.5,
        Counter({"dynamodb.Query": 1.0, "dynamodb.PutItem": 3.0, "sqs.SendMessageBatch": 1.0}),
        0.4,
        0.2,
        Counter({"dynamodb.UpdateItem": 1.0, "dynamodb.PutItem": 2.0}),
    )

    assert warm.calls_label() == "3 dynamodb.PutItem, 1 dynamodb.Query, 1 sqs.SendMessageBatch"
    assert warm.calls_label(unreleased=True) == "2 dynamodb.PutItem, 1 dynamodb.UpdateItem"
