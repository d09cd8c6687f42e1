"""Idempotency keys on DynamoDB, with Powertools Idempotency.

:func:`run_once` runs ``work`` once per key: a repeat with the same fingerprint gets the
stored result, one with another fingerprint raises a 409 problem, one that arrives while the
first is still running gets a 409 telling the caller to retry.

If the work ran but its outcome could not be recorded (DynamoDB throttled), its answer stands and
the key stays claimed until the claim lapses; a repeat after that runs the work again. So the work
must also be safe to repeat on business ids (a conditional write, a target's message id, a
cross-reference): the key spares the repeat, it is not the only guard.

Each record's id starts with the caller's own identity (:func:`record_prefix`): on Lambda the role session's
``aws:userid``, ``<role id>:<function name>``, which the template's policy on the idempotency table names as the
only leading key the function may touch (``${aws:userid}#*``). One shared policy, and a function can neither
read nor overwrite another function's records (docs/security.md).

A claim is a conditional ``PutItem``, which the SDK retries when its answer is lost (a read timeout under load) though
DynamoDB may have applied it: the retry is then refused by the record its own first attempt wrote, and the caller
would take its own claim for another's ("already in progress" until its deadline; a relayed event waited a whole
visibility timeout for nothing). :class:`ClaimsOnce` gives each claim a mark of its own, so that refusal is
known for what it is: the claim stands.

Every other conditional write of the hub meets the same lost answer: :func:`~utilhub.platform.aws.write_once` gives
any conditional ``PutItem`` or ``UpdateItem`` a mark the same way, and both know their own refusal by
:func:`~utilhub.platform.aws.refused_by_own_attempt` (docs/reliability.md#a-write-whose-answer-was-lost).
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS
from botocore.exceptions import ClientError

from utilhub.platform.aws import refused_by_own_attempt
from utilhub.platform.observability import logger
from utilhub.platform.problems import Problem, conflict
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import caller_user_id, idempotency_persistence

# The leading key a function's policy lets it touch on the idempotency table: its own records only.
RECORD_KEYS = "${aws:userid}#*"


def record_prefix() -> str:
    """The start of every record id this process writes: ``<aws:userid>#<function name>`` (Powertools then adds
    ``#<hash of the key>``). The function name keeps functions apart where all share one identity (the local runtime)."""
    return f"{caller_user_id()}#{os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'local')}"


# the attribute of a claim (an INPROGRESS record) that names the call that wrote it
CLAIM_ATTRIBUTE = "claim"


class ClaimsOnce:
    """The idempotency layer's DynamoDB client, whose claims recognise their own retries.

    Each ``PutItem`` of an ``INPROGRESS`` record carries a fresh mark (:data:`CLAIM_ATTRIBUTE`). When DynamoDB refuses it (its
    condition failed) and hands back the record that stands (Powertools asks for it: ``ALL_OLD``), a record with that
    very mark was written by an earlier attempt of this same call, applied though its answer was lost and retried by
    the SDK: the claim is this call's, answered as DynamoDB answered that attempt. A record with another mark, or
    none, is another call's: the refusal stands. Every other call goes to the client as it is."""

    def __init__(self, client: Any, status_attribute: str) -> None:
        self._client = client
        self._status = status_attribute  # the layer's own (``status_attr``)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_item(self, **request: Any) -> Any:
        item = request.get("Item", {})
        if item.get(self._status) != {"S": STATUS_CONSTANTS["INPROGRESS"]}:
            return self._client.put_item(**request)
        mark = {"S": uuid.uuid4().hex}
        try:
            return self._client.put_item(**{**request, "Item": {**item, CLAIM_ATTRIBUTE: mark}})
        except ClientError as refused:
            if refused_by_own_attempt(refused, CLAIM_ATTRIBUTE, mark["S"]):
                logger.info("idempotency claim retried after its answer was lost: it is this call's")
                return {}
            raise


class IdempotencyInProgress(Problem):
    """The same key is being worked on right now: a 409 for an API caller, a retryable error for a workflow.

    ``retry_after`` (the Retry-After header): when the claim has ended at the latest. A claim lasts until its
    invocation's deadline (Powertools' in-progress expiry, from the Lambda context), and that invocation, of the same
    function and so of the same timeout, started before this one: it ends no later than this one's deadline. A claim
    its invocation could not release (a throttled delete after its work failed) holds the key that long."""

    def __init__(self, retry_after: int | None = None) -> None:
        super().__init__(
            409,
            "In progress",
            "A request with this idempotency key is still being processed; retry after Retry-After seconds.",
            "in-progress",
            retry_after=retry_after,
        )


def _claim_ends_within(lambda_context: Any) -> int:
    """Seconds until another invocation's claim has ended at the latest: this invocation's time left (see
    :class:`IdempotencyInProgress`); without a Lambda context, the settings' Retry-After."""
    if lambda_context is None:
        return get_settings().http.retry_after_seconds
    return max(1, math.ceil(int(lambda_context.get_remaining_time_in_millis()) / 1000))


def run_once[T](*, key: str, fingerprint: str, work: Callable[[], T], lambda_context: Any = None) -> T:
    """``work``'s result must be JSON-serialisable: it is what a repeat gets back."""
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="fingerprint",
        expires_after_seconds=get_settings().http.idempotency_expiry_seconds,
        raise_on_no_idempotency_key=True,
        hash_function="sha256",
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    done: list[T] = []

    @idempotent_function(
        data_keyword_argument="request", persistence_store=idempotency_persistence(), config=config, key_prefix=record_prefix()
    )
    def _run(request: dict[str, str]) -> Any:
        done.append(work())
        return done[0]

    try:
        result = _run(request={"key": key, "fingerprint": fingerprint})
    except IdempotencyPersistenceLayerError:
        if not done:
            raise
        # The work ran; only recording its outcome failed. Its answer stands (failing now would redo the
        # work on a retry); the key stays claimed until its claim lapses, then a repeat runs the work again.
        logger.warning("idempotency outcome not recorded", extra={"idempotencyKey": key})
        return done[0]
    except IdempotencyValidationError:
        raise conflict("This idempotency key was already used with a different request.") from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyInProgress(_claim_ends_within(lambda_context)) from None
    return result  # type: ignore[no-any-return]
