"""The idempotency claims of invocations that ended, lapsed when the local runtime lets time pass.

A function that claims a key with Powertools Idempotency writes an ``INPROGRESS`` record whose
``in_progress_expiration`` is its invocation's deadline (the function's timeout from its start). Two ways leave the
claim behind when the invocation ends: its execution environment dies in the middle (killed, or stopped at its
timeout), or the function answers but the claim's deletion (or its completion) failed (a throttled call, say). A
redelivery before the deadline is refused as "already in progress", one after it runs the work again. On AWS a
message comes back only after its queue's visibility timeout, which Lambda requires to be at least the function's
timeout, so by then the claim has lapsed.

The local runtime makes a failed message visible again at once (:meth:`LocalHub.expire_visibility`), standing for
that much time passing: the longest visibility timeout of its queues, since every queue's failed messages come back. So that time passes for the claims
too, the claims of the invocations that ended whose deadline is within it are lapsed then: their
``in_progress_expiration`` set to now. Only those: records of the invocation's function, ``INPROGRESS``, whose
expiration is its deadline, and none that an invocation still running could hold (one of the same function whose
deadline is as close), since no time passes for a running invocation: the running ones are asked again for each
claim read, so one started while the tables are scanned keeps its claim, and an ended one as close keeps its claims
until that one has ended too (each ended invocation whose claim was kept so is put back, to lapse at a later pass).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

# The claim's expiration is the deadline the function's context reported when it claimed the key: the runtime's own
# for the invocation, off by the time the claim took to be written after the context's countdown was read.
DEADLINE_SLACK_MS = 5_000


@dataclass(frozen=True)
class InvocationKey:
    """An invocation, by its function and deadline (running, or ended: answered or its environment gone)."""

    function_name: str  # the function's name (AWS_LAMBDA_FUNCTION_NAME), part of every record id it writes
    deadline_ms: int  # its start plus the function's timeout, in milliseconds since the epoch


class Invocations:
    """The invocations of a runtime that are running, and those that ended and whose claims have not lapsed yet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[InvocationKey, int] = {}
        self._ended: list[InvocationKey] = []

    def started(self, function_name: str, deadline_ms: int) -> InvocationKey:
        invocation = InvocationKey(function_name, deadline_ms)
        with self._lock:
            self._running[invocation] = self._running.get(invocation, 0) + 1
        return invocation

    def ended(self, invocation: InvocationKey) -> None:
        """``invocation`` ended (whatever its outcome); claims of ended invocations past their deadline have expired."""
        now_ms = int(time.time() * 1000)
        with self._lock:
            left = self._running.pop(invocation, 1) - 1
            if left:
                self._running[invocation] = left
            self._ended = [e for e in self._ended if e.deadline_ms + DEADLINE_SLACK_MS >= now_ms] + [invocation]

    def take_ended(self, horizon_ms: int) -> tuple[list[InvocationKey], list[InvocationKey]]:
        """The ended invocations whose deadline is before ``horizon_ms`` (forgotten here), and those still running."""
        with self._lock:
            running = _by_function(self._running)
            due = [e for e in self._ended if e.deadline_ms <= horizon_ms and not _near(e, running)]
            self._ended = [e for e in self._ended if e not in due]
            return due, list(self._running)

    def running(self) -> list[InvocationKey]:
        """The invocations running now."""
        with self._lock:
            return list(self._running)

    def lapse_ended(self, dynamodb: Any, tables: Iterable[str], horizon_ms: int) -> int:
        """Lapse the claims in ``tables`` of the invocations that ended with a deadline before ``horizon_ms`` (time
        passing up to it), never one a running invocation may hold, one started while the tables are read included;
        returns how many lapsed."""
        ended, _ = self.take_ended(horizon_ms)
        lapsed, kept = lapse_claims(dynamodb, tables, ended, running=self.running)
        with self._lock:  # those whose claims were kept (as close to one running when read): for a later lapse, as by take_ended
            self._ended += [e for e in kept if e not in self._ended]
        return lapsed


def _near(invocation: InvocationKey, invocations: dict[str, list[int]]) -> bool:
    """Whether a claim of ``invocation`` may as well be one of ``invocations``'s (a running one's: kept for later)."""
    return any(abs(invocation.deadline_ms - deadline) <= DEADLINE_SLACK_MS for deadline in invocations.get(invocation.function_name, ()))


def _of(record_id: str, invocations: dict[str, list[int]], expiration: int) -> bool:
    """Whether the claim ``record_id`` expiring at ``expiration`` may be one of ``invocations``'s (by function name)."""
    return any(abs(expiration - deadline) <= DEADLINE_SLACK_MS for part in record_id.split("#") for deadline in invocations.get(part, ()))


def _owners(record_id: str, ended: Iterable[InvocationKey], expiration: int) -> list[InvocationKey]:
    """The invocations of ``ended`` the claim ``record_id`` expiring at ``expiration`` may be one of (as :func:`_of`)."""
    parts = set(record_id.split("#"))
    return [e for e in ended if e.function_name in parts and abs(expiration - e.deadline_ms) <= DEADLINE_SLACK_MS]


def _by_function(invocations: Iterable[InvocationKey]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for invocation in invocations:
        found.setdefault(invocation.function_name, []).append(invocation.deadline_ms)
    return found


def lapse_claims(
    dynamodb: Any,
    tables: Iterable[str],
    ended: list[InvocationKey],
    now_ms: int | None = None,
    running: Callable[[], Iterable[InvocationKey]] = tuple,
) -> tuple[int, list[InvocationKey]]:
    """Lapse the claims ``ended`` left in ``tables``, but none that an invocation ``running()`` gives may hold; returns
    how many lapsed, and the invocations of ``ended`` whose claims were kept so (to lapse later, whether or not that
    invocation still runs then). ``running`` is asked again for each claim found, after it was read: an invocation that
    started during the scan (its claim possibly among those read) is one of them then, so its claim is kept."""
    if not ended:
        return 0, []
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    ended_by_function = _by_function(ended)
    lapsed = 0
    kept: list[InvocationKey] = []
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
            if not _of(record_id, ended_by_function, expiration):
                continue
            if _of(record_id, _by_function(running()), expiration):
                kept += [e for e in _owners(record_id, ended, expiration) if e not in kept]
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
            except ClientError as exc:  # completed or claimed again since the scan: not an ended invocation's any more
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            lapsed += 1
    return lapsed, kept
