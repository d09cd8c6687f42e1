"""run_once's claim of a key against DynamoDB (moto) when the SDK retries it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import moto_idempotency_table
from utilhub.platform.idempotency import IdempotencyInProgress, run_once

TABLE = "idempotency"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_idempotency_table(monkeypatch, TABLE) as client:
        yield client


def _claims(request_dict: dict[str, Any]) -> bool:
    """Whether the PutItem ``request_dict`` (botocore's) writes an in-progress idempotency record (a claim)."""
    body = request_dict["body"]
    body = body.decode() if isinstance(body, bytes) else body
    return bool(json.loads(body)["Item"].get("status") == {"S": "INPROGRESS"})


def test_a_claim_applied_whose_answer_was_lost_is_the_callers_own_when_the_sdk_retries_it(dynamodb: Any) -> None:
    # Given the first claim's answer lost after DynamoDB applied it (a read timeout under load): the SDK retries it.
    # Made so through botocore's own retry decision, after the first attempt's answer came (whatever the transport:
    # moto in process, or its server when a test earlier in this process left an endpoint set)
    claimed_before_retry: list[int] = []

    def retry_the_first_claim(request_dict: dict[str, Any], **_: Any) -> int | None:
        if _claims(request_dict) and not claimed_before_retry:
            claimed_before_retry.append(dynamodb.scan(TableName=TABLE)["Count"])
            return 0  # tried again at once, as after a read timeout
        return None

    dynamodb.meta.events.register_first("needs-retry.dynamodb.PutItem", retry_the_first_claim)
    done: list[str] = []

    def deliver() -> dict[str, str]:
        done.append("delivered")
        return {"delivered": "MDM"}

    # When a key is run once
    result = run_once(key="relay#MD-16#UT-8#E-81", fingerprint="f", work=deliver)

    # Then the retried claim, refused by the record its own first attempt wrote, still holds the key: the work ran once
    # and its outcome was recorded (not "already in progress" until the invocation's deadline)
    assert claimed_before_retry == [1]
    assert done == ["delivered"]
    assert result == {"delivered": "MDM"}
    [record] = dynamodb.scan(TableName=TABLE)["Items"]
    assert record["status"] == {"S": "COMPLETED"}


def test_a_key_claimed_by_another_call_is_still_in_progress(dynamodb: Any) -> None:
    # Given a call that holds the key while its work runs
    inner: list[BaseException] = []

    def work() -> dict[str, str]:
        # When another call claims the same key meanwhile
        with pytest.raises(IdempotencyInProgress) as refused:
            run_once(key="relay#MD-16#UT-8#E-81", fingerprint="f", work=lambda: {"delivered": "twice"})
        inner.append(refused.value)
        return {"delivered": "MDM"}

    result = run_once(key="relay#MD-16#UT-8#E-81", fingerprint="f", work=work)

    # Then that other call is refused as in progress, and only the first call's work counts
    assert len(inner) == 1
    assert result == {"delivered": "MDM"}
