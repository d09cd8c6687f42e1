"""What the functions are built from, once per process, in one place.

Every object built from the settings (stores, connectors, the services a handler calls, the AWS clients
they hold) is made by a builder marked :func:`per_process` and kept in one cache, keyed by the builder
and its arguments. :func:`reset` forgets the settings and everything built from them: the local runtime
calls it when it runs a function with other variables in the same process, or after it replaced the AWS
clients (``aws.reset_clients``), and the next call builds afresh.

Each pack's ``wiring`` module holds the builders of its functions and one entry per handler, named
after the handler's folder (:class:`Entry`): its handler imports that entry only and builds it at
init, so a function missing a setting it needs fails at cold start naming the variable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from utilhub.platform import aws
from utilhub.platform.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from mypy_boto3_sqs.client import SQSClient

    from utilhub.platform.journal import Journal

_built: dict[tuple[Callable[..., Any], tuple[Any, ...]], Any] = {}


def per_process[F: Callable[..., Any]](build: F) -> F:
    """Call ``build`` once per process and arguments (hashable); :func:`reset` forgets what it made."""

    @functools.wraps(build)
    def cached(*args: Any) -> Any:
        key = (build, args)
        if key not in _built:
            _built[key] = build(*args)
        return _built[key]

    return cast("F", cached)


def reset() -> None:
    """Read the settings again and forget every object built from the old ones (``aws.reset_clients`` forgets
    the clients themselves)."""
    get_settings.cache_clear()
    _built.clear()


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Entry:
    """One handler's code: ``build`` makes what the function needs from the settings (once per process, until
    :func:`reset`) and returns what answers an event with it. The handler calls :meth:`init` at import, then
    the entry for each event."""

    def __init__(self, build: Callable[[], Handler]) -> None:
        self._build = per_process(build)
        self.__name__ = build.__name__
        self.__doc__ = build.__doc__

    def init(self) -> None:
        """Build what the function needs now: a setting it needs and lacks raises ``ConfigurationError`` naming
        the variable at init, not in the middle of a request."""
        self._build()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self._build()(event, context)


def entry(build: Callable[[], Handler]) -> Entry:
    """Declare a handler's entry, named after its folder: ``@entry def <folder>() -> Handler: ...``."""
    return Entry(build)


# ------------------------------------------------------------------ what the platform's own modules use


@per_process
def sqs() -> SQSClient:
    """The SQS client of the relay and of every queue a pack writes to."""
    return aws.sqs()


@per_process
def journal() -> Journal | None:
    """The transactions journal this process records into (``UTILHUB_JOURNAL_TABLE``), None when it has none."""
    from utilhub.platform.journal import Journal

    state = get_settings().state
    if not state.journal_table:
        return None
    return Journal(aws.table(state.journal_table), retention_days=state.journal_retention_days, hops=state.journal_hops)


@functools.cache
def caller_user_id() -> str:
    """The caller's ``aws:userid`` (on Lambda ``<role id>:<function name>``), asked once per process (kept across
    :func:`reset`: the settings do not change it)."""
    return str(aws.client("sts").get_caller_identity()["UserId"])


def idempotency_persistence() -> DynamoDBPersistenceLayer:
    """The idempotency records' table (``UTILHUB_IDEMPOTENCY_TABLE``) on the process's DynamoDB client."""
    return _persistence_for(get_settings().state.require("idempotency_table"), aws.client("dynamodb"))


@functools.cache
def _persistence_for(table_name: str, client: Any) -> DynamoDBPersistenceLayer:
    # One per table and client, kept across :func:`reset`: each new layer registers a handler on the client it is
    # given, so a layer made afresh per invocation piled up handlers that every DynamoDB call then ran.
    # Its claims go through ClaimsOnce: one retried by the SDK after its answer was lost is known as its own.
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from utilhub.platform.idempotency import ClaimsOnce

    layer = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
    layer.client = ClaimsOnce(client, layer.status_attr)  # type: ignore[assignment]
    return layer
