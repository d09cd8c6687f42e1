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
    from utilhub.platform import aws, idempotency
    from utilhub.platform.settings import reload_settings

    monkeypatch.setenv("UTILHUB_IDEMPOTENCY_TABLE", "idempotency")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    aws.reset_clients()
    reload_settings()
    first = idempotency._persistence()
    for _ in range(5):
        reload_settings()  # what the in-process runtime does before each invocation
        assert idempotency._persistence() is first
    aws.reset_clients()
    assert idempotency._persistence() is not first  # a new client gets its own layer
