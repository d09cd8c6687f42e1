"""The idempotency claims of invocations that died, lapsed when the local runtime lets time pass.

A function that claims a key with Powertools Idempotency writes an ``INPROGRESS`` record whose
``in_progress_expiration`` is its invocation's deadline (the function's timeout from its start). When the
execution environment dies in the middle (killed, or stopped at its timeout), nothing deletes the claim: a
redelivery before the deadline is refused as "already in progress", one after it runs the work again. On AWS
a message comes back only after its queue's visibility timeout, which Lambda requires to be at least the
function's timeout, so by then the claim has lapsed.

The local runtime makes a failed message visible again at once (:meth:`LocalHub.expire_visibility`), standing for
that much time passing. So that time passes for the claims too, each dead invocation's claim is lapsed then: its
``in_progress_expiration`` set to now. Only the claims of that invocation: records of its function, ``INPROGRESS``,
whose expiration is its deadline (a live invocation of the same function has a later one).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# The claim's expiration is the deadline the function's context reported when it claimed the key, off the one
# the runtime computed when it handed the invocation to its environment by the time the request took to get there.
DEADLINE_SLACK_MS = 5_000


@dataclass(frozen=True)
class DeadInvocation:
    """An invocation whose execution environment ended before it answered."""

    function_name: str  # the function's name (AWS_LAMBDA_FUNCTION_NAME), part of every record id it writes
    deadline_ms: int  # its start plus the function's timeout, in milliseconds since the epoch


def lapse_claims(dynamodb: Any, tables: Iterable[str], dead: list[DeadInvocation], now_ms: int | None = None) -> int:
    """Lapse the claims ``dead`` left in ``tables``; returns how many."""
    if not dead:
        return 0
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    lapsed = 0
    for table in sorted(set(tables)):
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="#status = :in_progress",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":in_progress": {"S": "INPROGRESS"}},
        )
        for item in (item for page in pages for item in page.get("Items", [])):
            expiration = int(item.get("in_progress_expiration", {}).get("N", "0"))
            record_id = item["id"]["S"]
            if not any(f"#{d.function_name}#" in record_id and abs(expiration - d.deadline_ms) <= DEADLINE_SLACK_MS for d in dead):
                continue
            try:
                dynamodb.update_item(
                    TableName=table,
                    Key={"id": item["id"]},
                    UpdateExpression="SET in_progress_expiration = :now",
                    ConditionExpression="#status = :in_progress AND in_progress_expiration = :was",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":now": {"N": str(now_ms - 1)},
                        ":in_progress": {"S": "INPROGRESS"},
                        ":was": {"N": str(expiration)},
                    },
                )
            except ClientError as exc:  # completed or claimed again since the scan: not a dead invocation's any more
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            lapsed += 1
    return lapsed
