"""AWS clients, created lazily and once per process.

boto3 reads ``AWS_ENDPOINT_URL`` (and the per-service variants) itself, so the same code
talks to AWS, to the embedded endpoint of the local runtime, and to moto in tests.
Retries are boto3's standard mode: throttled calls are retried with backoff.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_sqs.client import SQSClient

_CONFIG_KW: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 5},
    "connect_timeout": 2,
    "read_timeout": 5,
}


@cache
def _session() -> Any:
    import boto3  # every handler calls AWS, and Powertools imports boto3 anyway; this keeps the library importable without it

    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    return _session().client(service, config=Config(**_CONFIG_KW))


@cache
def _dynamodb_resource() -> Any:
    from botocore.config import Config

    return _session().resource("dynamodb", config=Config(**_CONFIG_KW))


def table(name: str) -> Table:
    """A DynamoDB table resource (type conversion handled by boto3)."""
    return _dynamodb_resource().Table(name)  # type: ignore[no-any-return]


def sqs() -> SQSClient:
    return client("sqs")  # type: ignore[no-any-return]


def reset_clients() -> None:
    """Forget every client (tests that switch endpoints call this)."""
    _session.cache_clear()
    client.cache_clear()
    _dynamodb_resource.cache_clear()
