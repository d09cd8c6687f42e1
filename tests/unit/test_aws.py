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
