"""Which AWS failures may pass on a later try (botocore's own rules), and how a workflow task names them."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyPersistenceLayerError
from botocore.exceptions import ClientError, EndpointConnectionError

from utilhub.platform.aws import AwsUnavailable, transient, transient_failures_retryable


def client_error(code: str, status: int = 400) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PutItem")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (client_error("ProvisionedThroughputExceededException"), True),
        (client_error("ThrottlingException"), True),
        (client_error("RequestLimitExceeded"), True),
        (client_error("InternalServerError", 500), True),
        (EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"), True),
        (client_error("ConditionalCheckFailedException"), False),
        (client_error("AccessDeniedException"), False),
        (client_error("ResourceNotFoundException"), False),
        (ValueError("not AWS at all"), False),
    ],
)
def test_transient_follows_botocores_retry_rules(exc: Exception, expected: bool) -> None:
    assert transient(exc) is expected


def test_a_wrapped_throttle_is_still_transient() -> None:
    # Given Powertools wrapping the throttled save of an idempotency record
    wrapped = IdempotencyPersistenceLayerError("Failed to save in progress record to idempotency store")
    wrapped.__cause__ = client_error("ProvisionedThroughputExceededException")
    assert transient(wrapped)
    assert not transient(IdempotencyPersistenceLayerError("no cause"))


def test_a_task_names_a_transient_failure_aws_unavailable_and_lets_others_through() -> None:
    with pytest.raises(AwsUnavailable, match="ThrottlingException"), transient_failures_retryable():
        raise client_error("ThrottlingException")
    with pytest.raises(ClientError), transient_failures_retryable():
        raise client_error("AccessDeniedException")


def test_one_idempotency_layer_per_table_and_client_across_invocations(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layer registers a handler on its client: one made per invocation piled them up on the shared client."""
    from utilhub.platform import aws, wiring

    monkeypatch.setenv("UTILHUB_IDEMPOTENCY_TABLE", "idempotency")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    aws.reset_clients()
    wiring.reset()
    first = wiring.idempotency_persistence()
    for _ in range(5):
        wiring.reset()  # what the in-process runtime does before each invocation
        assert wiring.idempotency_persistence() is first
    aws.reset_clients()
    assert wiring.idempotency_persistence() is not first  # a new client gets its own layer


def test_put_absent_puts_only_new_keys_across_transactions_and_returns_those_that_existed() -> None:
    import boto3
    from moto import mock_aws

    from utilhub.platform.aws import TRANSACTION_LIMIT, put_absent

    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="eu-west-1")
        table = dynamodb.create_table(
            TableName="requests",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        # Given keys that exist already in both transactions' ranges, with other content
        for n in (3, 7, TRANSACTION_LIMIT + 5):
            table.put_item(Item={"pk": f"K{n}", "v": "old"})
        items = [{"pk": f"K{n}", "v": "new"} for n in range(TRANSACTION_LIMIT + 20)]
        # When put
        existed = put_absent(table, items)
        # Then the existing are returned and left as they were; every other item is stored
        assert sorted(i["pk"] for i in existed) == ["K105", "K3", "K7"]
        stored = {i["pk"]: i["v"] for i in table.scan()["Items"]}
        assert len(stored) == TRANSACTION_LIMIT + 20
        assert {k for k, v in stored.items() if v == "old"} == {"K3", "K7", "K105"}
        # And a second put finds them all
        assert len(put_absent(table, items)) == TRANSACTION_LIMIT + 20


@pytest.fixture
def marked_table() -> Any:
    import boto3
    from moto import mock_aws

    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="eu-west-1")
        yield dynamodb.create_table(
            TableName="marked",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )


def test_a_conditional_write_refused_by_another_writers_item_is_still_refused(marked_table: Any) -> None:
    from tests.helpers import answer_lost_once
    from utilhub.platform.aws import WRITE_MARK, write_once

    # Given one item another write_once wrote (its own mark), and one written without a mark
    write_once(marked_table.put_item, Item={"pk": "K1", "v": "theirs"}, ConditionExpression="attribute_not_exists(pk)")
    marked_table.put_item(Item={"pk": "K2", "v": "theirs"})
    for key in ("K1", "K2"):
        # When another put on condition that the item is absent is refused, and sent again by the SDK as if that
        # answer were lost
        with answer_lost_once(marked_table.meta.client, "PutItem", lambda _: True) as retried, pytest.raises(ClientError) as refused:
            write_once(marked_table.put_item, Item={"pk": key, "v": "mine"}, ConditionExpression="attribute_not_exists(pk)")
        # Then the refusal stands: the item that refused it is not this write's
        assert len(retried) == 1
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        assert marked_table.get_item(Key={"pk": key})["Item"]["v"] == "theirs"
    assert WRITE_MARK in marked_table.get_item(Key={"pk": "K1"})["Item"]


def test_a_typed_update_with_no_set_clause_whose_answer_was_lost_stands(marked_table: Any) -> None:
    import boto3

    from tests.helpers import answer_lost_once
    from utilhub.platform.aws import write_once

    # Given an item with a flag, and a client of DynamoDB's typed values
    marked_table.put_item(Item={"pk": "K", "flag": True})
    client = boto3.client("dynamodb", region_name="eu-west-1")

    # When the flag is removed on condition that it is there, the first attempt's answer lost (its retry refused)
    with answer_lost_once(client, "UpdateItem", lambda _: True) as retried:
        answer = write_once(
            client.update_item,
            typed=True,
            TableName="marked",
            Key={"pk": {"S": "K"}},
            UpdateExpression="REMOVE flag",
            ConditionExpression="attribute_exists(flag)",
        )

    # Then the write stands as applied
    assert len(retried) == 1
    assert answer == {}
    assert "flag" not in marked_table.get_item(Key={"pk": "K"})["Item"]


def test_an_update_asking_all_new_whose_answer_was_lost_gets_the_item_its_first_attempt_left(marked_table: Any) -> None:
    from decimal import Decimal

    from tests.helpers import answer_lost_once
    from utilhub.platform.aws import WRITE_MARK, write_once

    # Given an item PENDING
    marked_table.put_item(Item={"pk": "K", "status": "PENDING", "n": 1})

    # When it moves to SENT on condition that it is PENDING, asking for the new item, the first attempt's answer lost
    with answer_lost_once(marked_table.meta.client, "UpdateItem", lambda _: True) as retried:
        answer = write_once(
            marked_table.update_item,
            Key={"pk": "K"},
            UpdateExpression="SET #s = :to ADD n :one",
            ConditionExpression="#s = :from",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":to": "SENT", ":from": "PENDING", ":one": 1},
            ReturnValues="ALL_NEW",
        )

    # Then it is answered with the item as that attempt left it, in Python's values as the Table gives them
    assert len(retried) == 1
    attributes = dict(answer["Attributes"])
    attributes.pop(WRITE_MARK)
    assert attributes == {"pk": "K", "status": "SENT", "n": Decimal(2)}


def test_a_write_asking_for_the_item_as_it_was_is_not_taken() -> None:
    from utilhub.platform.aws import write_once

    with pytest.raises(ValueError, match="ALL_NEW"):
        write_once(lambda **_: {}, Key={"pk": "K"}, UpdateExpression="SET v = :v", ReturnValues="ALL_OLD")


def test_the_mark_goes_into_the_set_clause_not_into_a_name_or_a_path_that_reads_set(marked_table: Any) -> None:
    from utilhub.platform.aws import WRITE_MARK, write_once

    # Given an item with an attribute named "set" (a reserved word: named by a placeholder)
    marked_table.put_item(Item={"pk": "K", "set": 1, "n": 0})

    # When an update whose expression reads "#set " before its own SET clause, and ":set" in it, is written once
    write_once(
        marked_table.update_item,
        Key={"pk": "K"},
        UpdateExpression="REMOVE #set SET n = :set",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#set": "set"},
        ExpressionAttributeValues={":set": 1},
    )

    # Then the expression was valid and did what it says, the mark written by its SET clause
    item = marked_table.get_item(Key={"pk": "K"})["Item"]
    assert ("set" in item, item["n"]) == (False, 1)
    assert WRITE_MARK in item


def test_a_count_whose_condition_its_own_first_attempt_leaves_true_is_applied_once(marked_table: Any) -> None:
    from tests.helpers import answer_lost_once
    from utilhub.platform.aws import write_once

    def count() -> Any:
        return write_once(
            marked_table.update_item,
            refuse_retry=True,
            Key={"pk": "K"},
            UpdateExpression="SET accepting = :yes ADD n :one",
            ConditionExpression="attribute_not_exists(pk) OR accepting = :yes",
            ExpressionAttributeValues={":yes": True, ":one": 1},
        )

    # Given a count on condition that the item is open, which its own write leaves true
    count()

    # When the next count's answer is lost after it was applied (the SDK sends it again)
    with answer_lost_once(marked_table.meta.client, "UpdateItem", lambda _: True) as retried:
        answer = count()

    # Then its retry is refused by its own mark and answered as applied: counted once; another writer's count still counts
    assert len(retried) == 1
    assert answer == {}
    assert marked_table.get_item(Key={"pk": "K"})["Item"]["n"] == 2
    count()
    assert marked_table.get_item(Key={"pk": "K"})["Item"]["n"] == 3
