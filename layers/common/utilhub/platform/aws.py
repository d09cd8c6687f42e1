"""AWS clients, created lazily and once per process.

boto3 reads ``AWS_ENDPOINT_URL`` (and the per-service variants) itself, so the same code
talks to AWS, to the embedded endpoint of the local runtime, and to moto in tests.
Retries are boto3's standard mode: throttled calls are retried with backoff. A call that
still fails for a reason that may pass (throttling, a 5xx, a lost connection) is
:func:`transient`: the API answers 503 and a workflow task retries, instead of failing for good.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_sqs.client import SQSClient

_CONFIG_KW: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 5},
    "connect_timeout": 2,
    "read_timeout": 5,
}


@cache
def session() -> Any:
    """The process's boto3 session: every client of the library comes from it."""
    import boto3  # every handler calls AWS, and Powertools imports boto3 anyway; this keeps the library importable without it

    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    return session().client(service, config=Config(**_CONFIG_KW))


@cache
def _dynamodb_resource() -> Any:
    from botocore.config import Config

    return session().resource("dynamodb", config=Config(**_CONFIG_KW))


def table(name: str) -> Table:
    """A DynamoDB table resource (type conversion handled by boto3)."""
    return _dynamodb_resource().Table(name)  # type: ignore[no-any-return]


def sqs() -> SQSClient:
    return client("sqs")  # type: ignore[no-any-return]


_providers: dict[str, Any] = {}


def parameters(service: str) -> Any:
    """Powertools' provider of secrets (``"secretsmanager"``) or SSM parameters (``"ssm"``), with its cache, on the
    library's client: its calls are made and retried as every other call of the library."""
    if service not in _providers:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

        provider = {"secretsmanager": SecretsProvider, "ssm": SSMProvider}[service]
        _providers[service] = provider(boto3_client=client(service))
    return _providers[service]


def clear_parameter_caches() -> None:
    """Forget the secrets and parameters read: each is read again at its next use (tests that change one)."""
    for provider in _providers.values():
        provider.clear_cache()


def reset_clients() -> None:
    """Forget every client (tests that switch endpoints call this)."""
    session.cache_clear()
    client.cache_clear()
    _dynamodb_resource.cache_clear()
    _providers.clear()


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is an AWS failure that may pass on a later try.

    botocore's own rules of its standard retry mode decide: throttling and transient error
    codes, connection errors; and any 5xx answer.
    """
    from botocore.exceptions import ClientError
    from botocore.retries.standard import OrRetryChecker, RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

    checker = OrRetryChecker([TransientRetryableChecker(), ThrottledRetryableChecker()])
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        visited.add(id(seen))
        if isinstance(seen, AwsUnavailable):
            return True
        if isinstance(seen, ClientError):
            if int(seen.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500:
                return True
            context = RetryContext(attempt_number=1, parsed_response=seen.response)
        else:
            context = RetryContext(attempt_number=1, caught_exception=seen)  # type: ignore[arg-type]
        if checker.is_retryable(context):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class AwsUnavailable(RuntimeError):
    """An AWS call failed in a way that may pass (:func:`transient`): a workflow task retries on it."""


def send_all(sqs: Any, queue_url: str, bodies: Sequence[str]) -> None:
    """Queue ``bodies``, ten to a ``SendMessageBatch`` call; the entries SQS fails are sent once more, then
    :class:`AwsUnavailable` (an API answers 503: the caller posts again, and what was queued already is
    deduplicated by its consumer)."""
    for start in range(0, len(bodies), 10):
        entries: list[Any] = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies[start : start + 10])]
        for _ in range(2):
            failed = {f["Id"] for f in sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])}
            entries = [entry for entry in entries if entry["Id"] in failed]
            if not entries:
                break
        else:
            raise AwsUnavailable(f"SQS did not take {len(entries)} of {len(bodies)} messages")


TRANSACTION_LIMIT = 100  # items in one TransactWriteItems call


def put_absent(table: Table, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put each of ``items`` whose ``pk`` is not in ``table`` yet, ``TRANSACTION_LIMIT`` to a transaction; returns
    the items not put because their ``pk`` existed.

    A transaction cancelled for any other reason raises, as does any other failure: a caller retrying puts
    what was not put, and finds the rest existing.
    """
    from botocore.exceptions import ClientError

    existing: list[dict[str, Any]] = []
    client = table.meta.client
    for start in range(0, len(items), TRANSACTION_LIMIT):
        remaining = list(items[start : start + TRANSACTION_LIMIT])
        while remaining:
            try:
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": table.name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
                        for item in remaining
                    ]
                )
                break
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons", [])
                failed = {n for n, reason in enumerate(reasons) if reason.get("Code") == "ConditionalCheckFailed"}
                if not failed:
                    raise
                existing += [item for n, item in enumerate(remaining) if n in failed]
                remaining = [item for n, item in enumerate(remaining) if n not in failed]
    return existing


# the attribute of an item a conditional write of :func:`write_once` wrote last: the mark of that write
WRITE_MARK = "writeMark"


def refused_by_own_attempt(refused: ClientError, attribute: str, mark: str) -> bool:
    """Whether a conditional write that carried ``mark`` in ``attribute`` was refused by the item an earlier attempt of
    that same write put there (applied, its answer lost, retried by the SDK): the refusal's ``ALL_OLD`` item (the
    write must ask for it) holds that very mark. Another mark, or none, is another writer's: the refusal stands."""
    answer: dict[str, Any] = dict(refused.response)
    standing = answer.get("Item") or {}
    # the item as DynamoDB returns it (typed: a resource's Table does not deserialise an error's), or plain
    return answer.get("Error", {}).get("Code") == "ConditionalCheckFailedException" and standing.get(attribute) in ({"S": mark}, mark)


# the keyword SET, not a name or a path that reads so (``#set``, ``:set``, ``m.set``)
_SET_CLAUSE = re.compile(r"(?<![\w#:.])SET\s+", re.IGNORECASE)


def write_once(write: Callable[..., Any], *, typed: bool = False, refuse_retry: bool = False, **request: Any) -> Any:
    """``write(**request)``, a conditional ``put_item`` or ``update_item`` (``typed``: of a client that takes DynamoDB's
    typed values; a resource's ``Table``, and its ``meta.client``, take Python's), that knows a refusal by its own earlier attempt: the SDK retries a call whose answer it did not get (a
    read timeout under load) though DynamoDB may have applied it, and that retry is then refused by the item its own
    first attempt wrote. Each call writes a fresh mark (:data:`WRITE_MARK`) and asks for the item that refused it; when
    that item holds this call's mark, the write stood, and it is answered as applied: ``{}``, or, when the request asks
    for ``ALL_NEW``, the item as it stands (the first attempt's write, and no write of :func:`write_once` since: another
    would have put its own mark). Any other refusal (or failure) is raised as it came.

    ``refuse_retry``: the condition also refuses an item that holds this call's mark, for a write whose own first
    attempt leaves its condition true and that must not be applied twice (an ``ADD`` that counts): its retry is then
    refused, and answered as applied.

    Not for a request that asks for the item as it was before (``ALL_OLD``): its own retry cannot give it back."""
    if request.get("ReturnValues") not in (None, "NONE", "ALL_NEW"):
        raise ValueError("write_once answers an applied write with nothing or ALL_NEW only")
    from botocore.exceptions import ClientError

    mark = uuid.uuid4().hex
    marked: Any = {"S": mark} if typed else mark
    if "Item" in request:
        request["Item"] = {**request["Item"], WRITE_MARK: marked}
    else:
        expression = str(request["UpdateExpression"])
        found = _SET_CLAUSE.search(expression)
        assignment = "#writeMark = :writeMark"
        request["UpdateExpression"] = (
            f"{expression[: found.end()]}{assignment}, {expression[found.end() :]}" if found else f"{expression} SET {assignment}"
        )
        request["ExpressionAttributeNames"] = {**request.get("ExpressionAttributeNames", {}), "#writeMark": WRITE_MARK}
        request["ExpressionAttributeValues"] = {**request.get("ExpressionAttributeValues", {}), ":writeMark": marked}
    if refuse_retry:
        request["ConditionExpression"] = (
            f"({request['ConditionExpression']}) AND (attribute_not_exists(#writeMark) OR #writeMark <> :writeMark)"
        )
        request["ExpressionAttributeNames"] = {**request.get("ExpressionAttributeNames", {}), "#writeMark": WRITE_MARK}
        request["ExpressionAttributeValues"] = {**request.get("ExpressionAttributeValues", {}), ":writeMark": marked}
    request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    try:
        return write(**request)
    except ClientError as refused:
        if not refused_by_own_attempt(refused, WRITE_MARK, mark):
            raise
        from utilhub.platform.observability import logger

        logger.info("conditional write retried after its answer was lost: it stands")
        if request.get("ReturnValues") != "ALL_NEW":
            return {}
        standing: dict[str, Any] = dict(refused.response["Item"])  # type: ignore[typeddict-item]
        if typed:
            return {"Attributes": standing}
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        return {"Attributes": {name: deserializer.deserialize(value) for name, value in standing.items()}}


@contextmanager
def transient_failures_retryable() -> Iterator[None]:
    """Raise :class:`AwsUnavailable` for a transient AWS failure, so Step Functions can name it in ``Retry``."""
    try:
        yield
    except Exception as exc:
        if transient(exc):
            raise AwsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        raise
