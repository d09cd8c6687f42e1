"""localhub.aws.patches.dynamodb: transactions roll back only what they touched, and queries read only the
partition asked for, with moto's results. (moto's own suite runs with the patch in make moto-conformance.)"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from localhub.aws.patches import dynamodb as moto_dynamodb

REGION = "eu-west-1"
TABLE = "requests"


@pytest.fixture
def client() -> Iterator[Any]:
    moto_dynamodb.install()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "gpk", "AttributeType": "S"},
                {"AttributeName": "gsk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByStatus",
                    "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}, {"AttributeName": "gsk", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        yield dynamodb


def _table() -> Table:
    return dynamodb_backends["123456789012"][REGION].get_table(TABLE)


def _item(pk: str, status: str | None, order: str = "0", **more: str) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": pk}, **{k: {"S": v} for k, v in more.items()}}
    if status is not None:
        item["gpk"] = {"S": status}
        item["gsk"] = {"S": order}
    return item


def _by_status(client: Any, status: str, **kwargs: Any) -> list[str]:
    response = client.query(
        TableName=TABLE, IndexName="ByStatus", KeyConditionExpression="gpk = :s", ExpressionAttributeValues={":s": {"S": status}}, **kwargs
    )
    return [i["pk"]["S"] for i in response["Items"]]


def test_a_failed_condition_rolls_back_every_write_of_the_transaction_with_reasons_per_item(client: Any) -> None:
    client.put_item(TableName=TABLE, Item=_item("A", "PENDING", "1", note="a"))
    client.put_item(TableName=TABLE, Item=_item("B", "PENDING", "2"))
    client.put_item(TableName=TABLE, Item=_item("C", None))
    assert _by_status(client, "PENDING") == ["A", "B"]  # the index map now exists and must follow the rollback

    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _item("N", "PENDING", "0"), "ConditionExpression": "attribute_not_exists(pk)"}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "A"}},
                        "UpdateExpression": "SET gpk = :sent, note = :n",
                        "ExpressionAttributeValues": {":sent": {"S": "SENT"}, ":n": {"S": "changed"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "B"}}}},
                {"ConditionCheck": {"TableName": TABLE, "Key": {"pk": {"S": "C"}}, "ConditionExpression": "attribute_exists(nothing)"}},
            ]
        )
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert "Item" not in client.get_item(TableName=TABLE, Key={"pk": {"S": "N"}})
    assert client.get_item(TableName=TABLE, Key={"pk": {"S": "A"}})["Item"]["note"] == {"S": "a"}
    assert "Item" in client.get_item(TableName=TABLE, Key={"pk": {"S": "B"}})
    assert _by_status(client, "PENDING") == ["A", "B"]
    assert _by_status(client, "SENT") == []


def test_a_transaction_copies_only_the_items_it_writes(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(300):
        client.put_item(TableName=TABLE, Item=_item(f"K{n}", None, payload="x" * 100))
    copied: list[Any] = []
    real = copy.deepcopy

    def counting(value: Any, *args: Any) -> Any:
        copied.append(value)
        return real(value, *args)

    monkeypatch.setattr(copy, "deepcopy", counting)
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _item("NEW", None)}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": "K1"}},
                    "UpdateExpression": "SET a = :a",
                    "ExpressionAttributeValues": {":a": {"S": "1"}},
                }
            },
            {"ConditionCheck": {"TableName": TABLE, "Key": {"pk": {"S": "K2"}}, "ConditionExpression": "attribute_exists(pk)"}},
        ]
    )
    from moto.dynamodb.models.dynamo_type import Item

    assert not [c for c in copied if isinstance(c, Table)]  # never a table
    assert {c.hash_key.value for c in copied if isinstance(c, Item)} == {"K1"}  # only the item updated (the put one was new)


def test_multiple_operations_on_one_item_are_refused_and_leave_nothing(client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": _item("X", "PENDING")}},
                {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "X"}}}},
            ]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in client.get_item(TableName=TABLE, Key={"pk": {"S": "X"}})
    assert _by_status(client, "PENDING") == []


def test_queries_answer_as_moto_does_through_any_sequence_of_writes(client: Any) -> None:
    """Random puts, updates, deletes and transactions (some cancelled); after each, every index
    partition and base-table key queried with the patch equals moto's own full-table query."""
    rng = random.Random(7)
    statuses = ["PENDING#0", "PENDING#1", "SENT#0", "SENT#1"]
    keys = [f"R{n}" for n in range(40)]

    def status_or_none() -> str | None:
        return rng.choice([*statuses, None])

    for step in range(400):
        key = rng.choice(keys)
        action = rng.random()
        status = status_or_none()
        try:
            if action < 0.3:
                client.put_item(TableName=TABLE, Item=_item(key, status, f"{rng.randint(0, 99):02d}"))
            elif action < 0.6:
                if status is None:
                    client.update_item(TableName=TABLE, Key={"pk": {"S": key}}, UpdateExpression="REMOVE gpk, gsk")
                else:
                    client.update_item(
                        TableName=TABLE,
                        Key={"pk": {"S": key}},
                        UpdateExpression="SET gpk = :g, gsk = :o",
                        ConditionExpression="attribute_exists(pk)"
                        if rng.random() < 0.5
                        else "attribute_exists(nothing) OR attribute_not_exists(nothing)",
                        ExpressionAttributeValues={":g": {"S": status}, ":o": {"S": f"{step:04d}"}},
                    )
            elif action < 0.7:
                client.delete_item(TableName=TABLE, Key={"pk": {"S": key}})
            else:
                chosen = rng.sample(keys, 3)
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": TABLE, "Item": _item(chosen[0], status_or_none(), f"{step:04d}")}},
                        {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": chosen[1]}}}},
                        {
                            "Update": {
                                "TableName": TABLE,
                                "Key": {"pk": {"S": chosen[2]}},
                                "UpdateExpression": "SET gpk = :g, gsk = :o",
                                "ConditionExpression": "attribute_exists(pk)",  # cancels the whole transaction when absent
                                "ExpressionAttributeValues": {":g": {"S": rng.choice(statuses)}, ":o": {"S": f"{step:04d}"}},
                            }
                        },
                    ]
                )
        except ClientError as exc:
            refused = exc.response["Error"]["Code"]
            assert refused in ("ConditionalCheckFailedException", "TransactionCanceledException")
        if step % 20 == 0 or step == 399:
            _assert_same_as_moto(client, statuses, keys)


def _assert_same_as_moto(client: Any, statuses: list[str], keys: list[str]) -> None:
    table = _table()
    for status in statuses:
        for forward in (True, False):
            ours = _by_status(client, status, ScanIndexForward=forward)
            theirs = _moto_query(table, index_name="ByStatus", conditions=(("gpk", status),), forward=forward)
            assert ours == theirs, status
    for key in keys[:10]:
        ours = [
            i["pk"]["S"]
            for i in client.query(TableName=TABLE, KeyConditionExpression="pk = :k", ExpressionAttributeValues={":k": {"S": key}})["Items"]
        ]
        assert ours == _moto_query(table, hash_key=key)


def _moto_query(
    table: Table,
    *,
    index_name: str | None = None,
    conditions: tuple[tuple[str, str], ...] = (),
    hash_key: str | None = None,
    forward: bool = True,
) -> list[str]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    items, _, _ = moto_dynamodb._original_query(
        table,
        DynamoType({"S": hash_key}) if hash_key else None,
        None,
        [],
        None,
        None,
        forward,
        None,
        index_name,
        False,
        None,
        hash_key_conditions=[(name, DynamoType({"S": value})) for name, value in conditions],
    )
    return [i.attrs["pk"].value for i in items]


def test_paging_through_an_index_partition_keeps_moto_order(client: Any) -> None:
    for n in range(25):
        client.put_item(TableName=TABLE, Item=_item(f"P{n:02d}", "PENDING", f"{(n * 7) % 25:02d}"))
    seen: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = client.query(
            TableName=TABLE,
            IndexName="ByStatus",
            KeyConditionExpression="gpk = :s",
            ExpressionAttributeValues={":s": {"S": "PENDING"}},
            Limit=4,
            **kwargs,
        )
        seen += [i["gsk"]["S"] for i in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert seen == [f"{n:02d}" for n in range(25)]


def test_concurrent_conditional_claims_of_one_item_succeed_once(client: Any) -> None:
    """moto serves requests on threads: a conditional write must be atomic, as DynamoDB's is."""
    import sys
    import threading

    rounds, threads = 30, 6
    wins: list[str] = []
    refused: list[str] = []
    barrier = threading.Barrier(threads)

    def claimer() -> None:
        barrier.wait()
        for n in range(rounds):
            try:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": TABLE,
                                "Key": {"pk": {"S": f"E{n}"}},
                                "UpdateExpression": "SET inFlight = :me",
                                "ConditionExpression": "attribute_not_exists(inFlight)",
                                "ExpressionAttributeValues": {":me": {"S": threading.current_thread().name}},
                            }
                        }
                    ]
                )
                wins.append(f"E{n}")
            except ClientError as exc:
                refused.append(exc.response["Error"]["Code"])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so an unguarded race shows
    try:
        workers = [threading.Thread(target=claimer) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(interval)
    assert sorted(wins) == sorted(f"E{n}" for n in range(rounds))  # each item claimed exactly once
    assert refused == ["TransactionCanceledException"] * (rounds * (threads - 1))


def test_an_update_naming_the_table_by_arn_moves_the_item_between_index_partitions(client: Any) -> None:
    client.put_item(TableName=TABLE, Item=_item("A", "PENDING"))
    assert _by_status(client, "PENDING") == ["A"]
    arn = client.describe_table(TableName=TABLE)["Table"]["TableArn"]
    client.update_item(
        TableName=arn, Key={"pk": {"S": "A"}}, UpdateExpression="SET gpk = :s", ExpressionAttributeValues={":s": {"S": "SENT"}}
    )
    assert _by_status(client, "PENDING") == []
    assert _by_status(client, "SENT") == ["A"]


def test_an_update_expression_is_parsed_once_and_each_update_gets_its_own_values(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    original = moto_dynamodb._original_make

    def counting(cls: type, expression: str) -> Any:
        parsed.append(expression)
        return original(cls, expression)

    monkeypatch.setattr(moto_dynamodb, "_original_make", counting)
    monkeypatch.setattr(moto_dynamodb, "_parsed_updates", {})
    expression = "SET #n = :n, #h = list_append(if_not_exists(#h, :empty), :entry) REMOVE #gone ADD #count :one"
    for n in range(3):
        client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": f"k{n % 2}"}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#n": "name", "#h": "history", "#gone": "gone", "#count": "count"},
            ExpressionAttributeValues={
                ":n": {"S": f"name {n}"},
                ":empty": {"L": []},
                ":entry": {"L": [{"S": f"entry {n}"}]},
                ":one": {"N": "1"},
            },
        )
    assert parsed == [expression]  # moto parsed it twice per update, six times here
    first = client.get_item(TableName=TABLE, Key={"pk": {"S": "k0"}})["Item"]
    assert first["name"] == {"S": "name 2"}
    assert first["history"] == {"L": [{"S": "entry 0"}, {"S": "entry 2"}]}
    assert first["count"] == {"N": "2"}
    second = client.get_item(TableName=TABLE, Key={"pk": {"S": "k1"}})["Item"]
    assert second == {"pk": {"S": "k1"}, "name": {"S": "name 1"}, "history": {"L": [{"S": "entry 1"}]}, "count": {"N": "1"}}
    with pytest.raises(ClientError, match="Invalid UpdateExpression"):  # refused each time, as before
        client.update_item(TableName=TABLE, Key={"pk": {"S": "k0"}}, UpdateExpression="SET = broken")
    with pytest.raises(ClientError, match="Invalid UpdateExpression"):
        client.update_item(TableName=TABLE, Key={"pk": {"S": "k0"}}, UpdateExpression="SET = broken")


def _claim(pk: str) -> list[dict[str, Any]]:
    return [
        {
            "Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": pk}},
                "UpdateExpression": "SET inFlight = :id",
                "ConditionExpression": "attribute_not_exists(inFlight)",
                "ExpressionAttributeValues": {":id": {"S": "R-1"}},
            }
        }
    ]


def test_a_transaction_retried_with_its_token_is_answered_as_applied_and_not_applied_again(client: Any) -> None:
    # Given a conditional transaction applied, whose answer the caller did not get (boto3 then retries it
    # with the same ClientRequestToken)
    client.transact_write_items(TransactItems=_claim("E-1"), ClientRequestToken="token-1")
    # When it comes again with its token, Then it succeeds without writing (its condition would now fail)
    client.transact_write_items(TransactItems=_claim("E-1"), ClientRequestToken="token-1")
    assert client.get_item(TableName=TABLE, Key={"pk": {"S": "E-1"}})["Item"]["inFlight"] == {"S": "R-1"}
    # and another transaction with that token is refused, as DynamoDB refuses it
    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=_claim("E-2"), ClientRequestToken="token-1")
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert "Item" not in client.get_item(TableName=TABLE, Key={"pk": {"S": "E-2"}})
    # while the same transaction under a new token is a new one: its condition fails
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=_claim("E-1"), ClientRequestToken="token-2")
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    # and a token whose transaction failed is free for its retry, which is applied once the condition holds
    client.update_item(TableName=TABLE, Key={"pk": {"S": "E-1"}}, UpdateExpression="REMOVE inFlight")
    client.transact_write_items(TransactItems=_claim("E-1"), ClientRequestToken="token-2")
    assert client.get_item(TableName=TABLE, Key={"pk": {"S": "E-1"}})["Item"]["inFlight"] == {"S": "R-1"}
