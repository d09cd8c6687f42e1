"""MD-11 batch bill determinants: a bill run's usage requests, fanned out to MDM, their determinants
delivered to CCB once.

Lifecycle of a usage request (one item per ``usageRequestId`` in the usage request table; every
transition conditional and recorded in ``history`` with its time and reason):

``AWAITING_DATA_SYNC`` -> ``PENDING`` -> ``SENT`` -> ``COMPLETED`` | ``ERROR``

- intake (single or ``:batch`` of up to 1,000): a request whose SA, or one of the SA's service points
  (or an SP-meter history of one of them), still has a sync request to MDM that is not SYNCHRONIZED or
  DISCARDED (PENDING, WAITING, SENT, or the entity's last one in ERROR) is stored ``AWAITING_DATA_SYNC``
  (Oracle's integration: the usage must be computed from the data MDM will hold); the others are stored
  ``PENDING`` and queued. The same id with the same content again changes nothing; with other content it
  is a conflict.
- the release schedule (:func:`release`) takes the waiting requests whose data is synchronized now to
  ``PENDING`` and queues them; it also queues again a ``PENDING`` request whose message was lost
  (older than :data:`REQUEUE_AFTER`): the worker makes a second message harmless. A request still waiting
  after the waiting bound (setting ``usage_request_data_sync_wait_seconds``: its SA's data behind a sync request in
  ERROR, or one never completed) goes to ``ERROR`` with what it waits for. A request ``SENT``
  for longer than the retry window (setting ``usage_request_retry_window_seconds``, above the queue's
  maxReceiveCount x VisibilityTimeout: its message is in the DLQ by then) and held by no attempt goes
  to ``ERROR`` with the reason.
- :meth:`UsageRequests.resubmit`: a request in ``ERROR`` runs again, ``AWAITING_DATA_SYNC`` or ``PENDING`` by the
  intake's rule, keeping determinants MDM gave an earlier attempt (CCB gets the same ones again: billed once).
- the worker (:func:`deliver_batch`, SQS with partial batch responses): ``PENDING`` -> ``SENT`` with a
  lease for this attempt (``leaseUntil``: the invocation's deadline and a margin; a redelivered ``SENT``
  request is leased again only when no other attempt holds it), MDM's bill determinants, kept on the
  request (``determinantsZ``: a later attempt sends the same ones again without asking MDM), CCB's
  delivery (CCB keeps determinants per usage request and answers the same ones again as the first time),
  then ``COMPLETED`` with the result. A redelivered or duplicated message finds ``COMPLETED`` and changes
  nothing. MDM or CCB down: the lease is given back and the message is redelivered by the queue (then
  its DLQ); MDM or CCB refusing the request (an SA MDM does not hold, determinants CCB refuses):
  ``ERROR`` with the reason.

Nothing is billed after ``ERROR``: CCB is called only under a lease, a lease is taken only while the
request is ``SENT``, and the schedule sets ``ERROR`` only when no lease is held; a lease outlives the
invocation that took it (Lambda ends it at its timeout), so no attempt can still reach CCB then.

Index ``ByStatus`` (sparse): ``gsi1pk = <status>#<shard>`` for AWAITING_DATA_SYNC, PENDING and SENT,
``gsi1sk = <time of the transition>#<id>``; the shard spreads a bill run over several partitions.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from utilhub.packs.meter_data.model import ID
from utilhub.packs.meter_data.sync import FLOW
from utilhub.packs.meter_data.usage import BillDeterminants, BillDeterminantsIn, mdm, mismatch
from utilhub.platform import aws, problems
from utilhub.platform.budget import JSON
from utilhub.platform.connectors import HttpConnector, TargetRejected
from utilhub.platform.json_input import from_json
from utilhub.platform.observability import MetricUnit, correlation_id, logger, metrics, use_correlation_id
from utilhub.platform.settings import get_settings, on_reload
from utilhub.syncrequests.store import SyncRequestStore
from utilhub.syncrequests.wiring import store_for

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_sqs import SQSClient

INDEX = "ByStatus"
SHARDS = 8
MAX_BATCH = 1000
REQUEUE_AFTER = timedelta(minutes=5)
# an attempt's lease lasts its invocation's remaining time and this margin (clock skew between invocations)
LEASE_MARGIN = timedelta(seconds=30)
LEASE_WITHOUT_CONTEXT = timedelta(seconds=90)
RETENTION = timedelta(days=90)
RESUBMITTED = "resubmitted"


class UsageStatus(StrEnum):
    AWAITING_DATA_SYNC = "AWAITING_DATA_SYNC"
    PENDING = "PENDING"
    SENT = "SENT"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"


INDEXED = (UsageStatus.AWAITING_DATA_SYNC, UsageStatus.PENDING, UsageStatus.SENT)


class UsageRequestIn(BillDeterminantsIn):
    """One usage request of a bill run; ``servicePointIds`` (optional): the SA's service points as CCB
    bills them, checked for pending sync requests besides those MDM was last sent."""

    usageRequestId: str = Field(pattern=ID)
    servicePointIds: list[str] = Field(default_factory=list, max_length=50)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class UsageRequestBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class UsageQueued(BaseModel):
    """The message the worker takes."""

    usageRequestId: str
    correlationId: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _shard(usage_request_id: str) -> int:
    return zlib.crc32(usage_request_id.encode()) % SHARDS


class ConflictingUsageRequest(Exception):
    """The usage request id is already used by a request with other content."""


# ------------------------------------------------------------------------------------ store
class UsageRequestStore:
    def __init__(self, table: Table, *, clock: Callable[[], datetime] = _now) -> None:
        self._table = table
        self._client = table.meta.client
        self._now = clock

    def new_item(self, request: UsageRequestIn, status: UsageStatus, reason: str, correlation: str) -> dict[str, Any]:
        now = self._now()
        at = now.isoformat()
        item: dict[str, Any] = {
            "pk": request.usageRequestId,
            "request": request.model_dump_json(),
            "saId": request.saId,
            "fingerprint": request.fingerprint(),
            "status": status.value,
            "correlationId": correlation,
            "receivedAt": at,
            "history": [{"status": status.value, "at": at, "reason": reason}],
            "expiresAt": int((now + RETENTION).timestamp()),
            "gsi1pk": f"{status.value}#{_shard(request.usageRequestId)}",
            "gsi1sk": f"{at}#{request.usageRequestId}",
        }
        return item

    def put_new(self, items: Sequence[dict[str, Any]]) -> set[str]:
        """Put ``items`` that do not exist yet; the ids that existed already."""
        return {str(item["pk"]) for item in aws.put_absent(self._table, items)}

    def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {self._table.name: {"Keys": [{"pk": i} for i in wanted[start : start + 100]], "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    found[str(item["pk"])] = item
                request = response.get("UnprocessedKeys") or {}
        return found

    def get(self, usage_request_id: str) -> dict[str, Any] | None:
        return self._table.get_item(Key={"pk": usage_request_id}, ConsistentRead=True).get("Item")

    def transition(
        self,
        usage_request_id: str,
        from_status: Sequence[UsageStatus],
        to_status: UsageStatus,
        reason: str,
        *,
        result: dict[str, Any] | None = None,
        lease_until: datetime | None = None,
        unleased_at: datetime | None = None,
        sent_to_ccb: bool | None = None,
    ) -> dict[str, Any] | None:
        """Move the request from one of ``from_status`` to ``to_status``: its new image, or None when it was not in
        one of them. ``lease_until``: the lease of the attempt that moves it; ``unleased_at``: only when no lease is
        held at that time; ``sent_to_ccb``: only when an attempt has (True) or has not (False) kept determinants to
        send to CCB."""
        at = self._now().isoformat()
        values: dict[str, Any] = {
            ":to": to_status.value,
            ":h": [{"status": to_status.value, "at": at, "reason": reason[:500]}],
            **{f":f{n}": s.value for n, s in enumerate(from_status)},
        }
        sets = ["#s = :to", "history = list_append(history, :h)", "updatedAt = :at"]
        values[":at"] = at
        removes: list[str] = []
        if to_status in INDEXED:
            sets += ["gsi1pk = :gpk", "gsi1sk = :gsk"]
            values[":gpk"] = f"{to_status.value}#{_shard(usage_request_id)}"
            values[":gsk"] = f"{at}#{usage_request_id}"
        else:
            removes += ["gsi1pk", "gsi1sk"]
        if to_status is UsageStatus.COMPLETED:  # the result holds the determinants now
            removes += ["determinantsZ", "leaseUntil"]
        if result is not None:
            sets.append("resultZ = :r")
            values[":r"] = zlib.compress(json.dumps(result, separators=(",", ":")).encode())
        if lease_until is not None:
            sets.append("leaseUntil = :lease")
            values[":lease"] = lease_until.isoformat()
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#s IN (" + ", ".join(f":f{n}" for n in range(len(from_status))) + ")"
        if unleased_at is not None:
            condition += " AND (attribute_not_exists(leaseUntil) OR leaseUntil < :unleased)"
            values[":unleased"] = unleased_at.isoformat()
        if sent_to_ccb is not None:
            condition += f" AND {'attribute_exists' if sent_to_ccb else 'attribute_not_exists'}(determinantsZ)"
        try:
            return self._table.update_item(
                Key={"pk": usage_request_id},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(pk) AND {condition}",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None

    def lease(self, usage_request_id: str, until: datetime, now: datetime) -> bool:
        """Lease a SENT request to an attempt until ``until``; False when it is not SENT or another attempt holds it."""
        try:
            self._table.update_item(
                Key={"pk": usage_request_id},
                UpdateExpression="SET leaseUntil = :until",
                ConditionExpression="#s = :sent AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":until": until.isoformat(), ":now": now.isoformat(), ":sent": UsageStatus.SENT.value},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def keep_determinants(self, usage_request_id: str, determinants: dict[str, Any], lease: datetime) -> bool:
        """Keep MDM's determinants on the request before they go to CCB (a redelivery sends the same ones again without
        asking MDM); False when this attempt no longer holds the lease."""
        try:
            self._table.update_item(
                Key={"pk": usage_request_id},
                UpdateExpression="SET determinantsZ = :d",
                ConditionExpression="#s = :sent AND leaseUntil = :lease",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":d": zlib.compress(json.dumps(determinants, separators=(",", ":")).encode()),
                    ":sent": UsageStatus.SENT.value,
                    ":lease": lease.isoformat(),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def requeued(self, usage_request_ids: Sequence[str], now: datetime) -> None:
        """Mark PENDING requests queued again now: their place in the status index moves to now, so the next release
        runs do not queue them again while their messages wait behind a backlog (only after REQUEUE_AFTER more)."""
        at = now.isoformat()
        for rid in usage_request_ids:
            try:
                self._table.update_item(
                    Key={"pk": rid},
                    UpdateExpression="SET gsi1sk = :gsk",
                    ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":gsk": f"{at}#{rid}", ":pending": UsageStatus.PENDING.value},
                )
            except ClientError as exc:  # worked meanwhile (no longer PENDING), or the write failed: queued again later at worst
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    def give_back(self, usage_request_id: str, until: datetime) -> None:
        """End this attempt's lease (the one until ``until``) so that a redelivery can work the request at once;
        when the write fails, the lease simply runs out."""
        try:
            self._table.update_item(
                Key={"pk": usage_request_id},
                UpdateExpression="REMOVE leaseUntil",
                ConditionExpression="leaseUntil = :until",
                ExpressionAttributeValues={":until": until.isoformat()},
            )
        except ClientError as exc:
            logger.info(
                "usage request lease not given back", extra={"usageRequestId": usage_request_id, "error": exc.response["Error"]["Code"]}
            )

    def indexed(self, status: UsageStatus, *, before: datetime | None = None) -> Iterator[dict[str, Any]]:
        """The requests in ``status`` (AWAITING_DATA_SYNC, PENDING or SENT), every shard, oldest first."""
        for shard in range(SHARDS):
            kwargs: dict[str, Any] = {
                "IndexName": INDEX,
                "KeyConditionExpression": "gsi1pk = :p",
                "ExpressionAttributeValues": {":p": f"{status.value}#{shard}"},
            }
            if before is not None:
                kwargs["KeyConditionExpression"] += " AND gsi1sk < :b"
                kwargs["ExpressionAttributeValues"][":b"] = before.isoformat()
            while True:
                page = self._table.query(**kwargs)
                yield from page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def view(item: dict[str, Any]) -> dict[str, Any]:
    """The contract's view of a stored usage request."""
    request = json.loads(str(item["request"]))
    answer: dict[str, Any] = {
        "usageRequestId": item["pk"],
        "status": item["status"],
        "saId": request["saId"],
        "periodStart": request["periodStart"],
        "periodEnd": request["periodEnd"],
        "history": [{"status": h["status"], "at": h["at"], "reason": h["reason"]} for h in item.get("history", [])],
    }
    if "resultZ" in item:
        answer["result"] = json.loads(zlib.decompress(bytes(item["resultZ"])))
    return answer


# ------------------------------------------------------------------------------------ data sync
@dataclass
class DataSyncCheck:
    """Which SAs still have master data on its way to MDM (the meter data sync flow's requests)."""

    store: Callable[[], SyncRequestStore]  # built on first use: the worker never checks

    def blocked(self, requests: Sequence[UsageRequestIn]) -> dict[str, str]:
        """usageRequestId -> why it must wait, for the requests whose SA's data is not synchronized yet."""
        if not requests:
            return {}
        sync = self.store()
        sas = {("SERVICE_AGREEMENT", r.saId) for r in requests}
        sa_states = sync.entity_states(sas)
        last_ids = {s.last_sync_request_id: sa for sa, s in sa_states.items() if s.last_sync_request_id}
        points: dict[str, set[str]] = {sa_id: set() for _, sa_id in sas}
        for request_id, (parents, _) in sync.parents_of_requests(last_ids).items():
            points[last_ids[request_id][1]] |= {p[1] for p in parents if p[0] == "SERVICE_POINT"}
        for request in requests:
            points[request.saId] |= set(request.servicePointIds)
        point_states = sync.entity_states({("SERVICE_POINT", sp) for sps in points.values() for sp in sps})
        # a key lookup per SA and service point (an SP-meter history is looked up under its service point)
        unfinished = sync.open_requests([*sas, *point_states])
        waits: dict[str, str] = {}
        for request in requests:
            entities = [("SERVICE_AGREEMENT", request.saId), *(("SERVICE_POINT", sp) for sp in sorted(points[request.saId]))]
            for entity in entities:
                state = sa_states.get(entity) or point_states.get(entity)
                if entity in unfinished:
                    waits[request.usageRequestId] = f"waits for sync request {unfinished[entity]} of {entity[0]} {entity[1]}"
                    break
                if state is not None and state.last_error_id:
                    waits[request.usageRequestId] = f"waits for sync request {state.last_error_id} of {entity[0]} {entity[1]} (in ERROR)"
                    break
        return waits


# ------------------------------------------------------------------------------------ the service
@dataclass
class UsageRequests:
    store: UsageRequestStore
    data_sync: DataSyncCheck
    sqs: SQSClient
    queue_url: Callable[[], str]
    # the targets, built on first use (the intake and the release schedule never call them)
    connector: Callable[[str], HttpConnector]

    def _queue(self, ids: Sequence[str]) -> None:
        correlation = correlation_id()
        bodies = [UsageQueued(usageRequestId=i, correlationId=correlation).model_dump_json() for i in ids]
        aws.send_all(self.sqs, self.queue_url(), bodies)  # what SQS fails twice: a 503, and the caller posts again

    def submit(self, requests: Sequence[UsageRequestIn]) -> list[dict[str, Any]]:
        """Store and queue (or hold) ``requests``: per request its id, status and whether it was created, or CONFLICT."""
        first: dict[str, UsageRequestIn] = {}
        conflicts: set[str] = set()
        for request in requests:
            seen = first.setdefault(request.usageRequestId, request)
            if seen.fingerprint() != request.fingerprint():
                conflicts.add(request.usageRequestId)
        fresh = [r for r in first.values() if r.usageRequestId not in conflicts]
        waits = self.data_sync.blocked(fresh)
        correlation = correlation_id()
        items = [
            self.store.new_item(r, UsageStatus.AWAITING_DATA_SYNC, waits[r.usageRequestId], correlation)
            if r.usageRequestId in waits
            else self.store.new_item(r, UsageStatus.PENDING, "received", correlation)
            for r in fresh
        ]
        existed = self.store.put_new(items)
        stored = self.store.get_many(existed) if existed else {}
        outcome: dict[str, dict[str, Any]] = {}
        to_queue: list[str] = []
        for item in items:
            rid = str(item["pk"])
            if rid in existed:
                old = stored.get(rid)
                if old is None or old["fingerprint"] != item["fingerprint"]:
                    conflicts.add(rid)
                    continue
                outcome[rid] = {"usageRequestId": rid, "status": old["status"], "created": False}
                if old["status"] == UsageStatus.PENDING:  # its message may have been lost with the first answer
                    to_queue.append(rid)
            else:
                outcome[rid] = {"usageRequestId": rid, "status": item["status"], "created": True}
                if item["status"] == UsageStatus.PENDING:
                    to_queue.append(rid)
        self._queue(to_queue)
        created = sum(1 for o in outcome.values() if o["created"])
        if created:
            metrics.add_metric(name="UsageRequestsReceived", unit=MetricUnit.Count, value=created)
        for rid in conflicts:
            outcome[rid] = {"usageRequestId": rid, "status": "CONFLICT", "detail": "usageRequestId already used for another request"}
        return [outcome[r.usageRequestId] for r in requests]

    def resubmit(self, usage_request_id: str) -> str:
        """Run a request in ``ERROR`` again: back to ``AWAITING_DATA_SYNC`` when its SA's data is on its way to MDM (as at
        intake), else ``PENDING`` and queued. Its new status; the same resubmission again answers the status it took (and
        queues a ``PENDING`` one again: its message may have been lost with the first answer).

        Determinants MDM gave an earlier attempt stay on the request and go to CCB again without asking MDM: CCB may
        hold them already, and answers the same ones as the first time, so the request is billed once.

        Raises :class:`LookupError` for an unknown id, :class:`NotResubmittable` for a request in another status."""
        item = self.store.get(usage_request_id)
        if item is None:
            raise LookupError(usage_request_id)
        status = UsageStatus(str(item["status"]))
        if status is not UsageStatus.ERROR:
            if status in (UsageStatus.PENDING, UsageStatus.AWAITING_DATA_SYNC) and _resubmitted_last(item):
                if status is UsageStatus.PENDING:
                    self._queue([usage_request_id])
                return status.value
            raise NotResubmittable(status)
        request = UsageRequestIn.model_validate_json(str(item["request"]))
        wait = self.data_sync.blocked([request]).get(usage_request_id)
        to_status = UsageStatus.PENDING if wait is None else UsageStatus.AWAITING_DATA_SYNC
        reason = RESUBMITTED if wait is None else f"{RESUBMITTED}; {wait}"
        if self.store.transition(usage_request_id, [UsageStatus.ERROR], to_status, reason) is None:
            return self.resubmit(usage_request_id)  # another resubmission got there first: answered as a repeat of it
        if to_status is UsageStatus.PENDING:
            self._queue([usage_request_id])
        metrics.add_metric(name="UsageRequestsResubmitted", unit=MetricUnit.Count, value=1)
        logger.info("usage request resubmitted", extra={"usageRequestId": usage_request_id, "status": to_status.value})
        return to_status.value

    def release(self) -> dict[str, int]:
        """Queue the waiting requests whose data is synchronized now, and PENDING ones whose message was lost; end
        in ERROR the waiting ones past the waiting bound and the SENT ones no attempt completed within the retry window."""
        waiting = list(self.store.indexed(UsageStatus.AWAITING_DATA_SYNC))
        requests = [UsageRequestIn.model_validate_json(str(item["request"])) for item in waiting]
        still = self.data_sync.blocked(requests)
        released = [
            r.usageRequestId
            for r in requests
            if r.usageRequestId not in still
            and self.store.transition(r.usageRequestId, [UsageStatus.AWAITING_DATA_SYNC], UsageStatus.PENDING, "data synchronized to MDM")
        ]
        now = _now()
        timed_out = self._end_overdue_waits(waiting, still, now)
        lost = [str(item["pk"]) for item in self.store.indexed(UsageStatus.PENDING, before=now - REQUEUE_AFTER)]
        self._queue(released + lost)
        self.store.requeued(lost, now)
        expired = self._expire_sent(now)
        if released:
            metrics.add_metric(name="UsageRequestsReleased", unit=MetricUnit.Count, value=len(released))
        if timed_out:
            metrics.add_metric(name="UsageRequestsDataSyncTimedOut", unit=MetricUnit.Count, value=timed_out)
        if expired + timed_out:
            metrics.add_metric(name="UsageRequestsFailed", unit=MetricUnit.Count, value=expired + timed_out)
        counts = {
            "released": len(released),
            "waiting": len(still) - timed_out,
            "timedOut": timed_out,
            "requeued": len(lost),
            "expired": expired,
        }
        logger.info("usage requests released", extra=counts)
        return counts

    def _end_overdue_waits(self, waiting: Sequence[dict[str, Any]], still: dict[str, str], now: datetime) -> int:
        """AWAITING_DATA_SYNC requests still held after the waiting bound (since they began to wait) -> ERROR with what
        they wait for: a sync request in ERROR, or one CCB never completes, must not hold a bill run forever."""
        bound = timedelta(seconds=get_settings().usage_request_data_sync_wait_seconds)
        since = (now - bound).isoformat()
        ended = 0
        for item in waiting:
            rid = str(item["pk"])
            if rid not in still or str(item["gsi1sk"]).rsplit("#", 1)[0] >= since:
                continue
            reason = (
                f"waited longer than {int(bound.total_seconds())} s for its SA's master data to reach MDM ({still[rid]}); "
                "resubmit it once that is synchronized"
            )
            if self.store.transition(rid, [UsageStatus.AWAITING_DATA_SYNC], UsageStatus.ERROR, reason):
                logger.warning("usage request waited too long for its master data", extra={"usageRequestId": rid})
                ended += 1
        return ended

    def _expire_sent(self, now: datetime) -> int:
        """SENT requests older than the retry window and leased to no attempt -> ERROR (their messages are in the DLQ)."""
        window = timedelta(seconds=get_settings().usage_request_retry_window_seconds)
        stale = f"no attempt completed within the retry window of {int(window.total_seconds())} s; the message is in the dead-letter queue"
        never_sent = f"{stale}; MDM did not answer (unavailable, or AWS calls failing): CCB has no determinants for it"
        maybe_sent = (
            f"{stale}; MDM's determinants were sent to CCB and no answer was recorded (CCB unavailable, or AWS calls "
            "failing): CCB may hold them under this usage request, look it up there before billing the period again"
        )
        expired = 0
        for item in self.store.indexed(UsageStatus.SENT, before=now - window):
            rid = str(item["pk"])
            if self.store.transition(rid, [UsageStatus.SENT], UsageStatus.ERROR, never_sent, unleased_at=now, sent_to_ccb=False) or (
                self.store.transition(rid, [UsageStatus.SENT], UsageStatus.ERROR, maybe_sent, unleased_at=now, sent_to_ccb=True)
            ):
                expired += 1
        return expired

    def process(self, message: UsageQueued, lambda_context: Any = None) -> str:
        """One queued usage request: MDM's determinants, delivered to CCB once. Raises to have it redelivered."""
        rid = message.usageRequestId
        now = _now()
        remaining = timedelta(milliseconds=lambda_context.get_remaining_time_in_millis()) if lambda_context else LEASE_WITHOUT_CONTEXT
        lease = now + remaining + LEASE_MARGIN
        item = self.store.transition(rid, [UsageStatus.PENDING], UsageStatus.SENT, "requested from MDM", lease_until=lease)
        if item is None:
            item = self.store.get(rid)
            if item is None:
                raise LookupError(f"usage request {rid} is not stored")  # kept for an operator (DLQ)
            if item["status"] == UsageStatus.PENDING:  # the move to SENT failed: never acknowledge a message not worked
                raise AttemptInProgress(f"usage request {rid} is still PENDING after its move to SENT failed")
            if item["status"] != UsageStatus.SENT:  # COMPLETED, ERROR, or still AWAITING: nothing to do again
                return str(item["status"])
            if not self.store.lease(rid, lease, now):
                found = self.store.get(rid) or item
                if found["status"] != UsageStatus.SENT:
                    return str(found["status"])
                raise AttemptInProgress(f"usage request {rid} is being worked by another attempt until {found.get('leaseUntil')}")
        request = UsageRequestIn.model_validate_json(str(item["request"]))
        try:
            if "determinantsZ" in item:  # an earlier attempt sent them to CCB: the same ones again, MDM not asked
                determinants = json.loads(zlib.decompress(bytes(item["determinantsZ"])))
            else:
                determinants = self._determinants(request)
                if not self.store.keep_determinants(rid, determinants, lease):
                    found = self.store.get(rid) or item
                    logger.warning("usage request lease lost during its attempt", extra={"usageRequestId": rid, "status": found["status"]})
                    return str(found["status"])
            self._deliver_to_ccb(request, determinants)
            done = self.store.transition(
                rid, [UsageStatus.SENT], UsageStatus.COMPLETED, "determinants delivered to CCB", result=determinants
            )
        except _Refused as refused:
            self.store.transition(rid, [UsageStatus.SENT], UsageStatus.ERROR, str(refused))
            metrics.add_metric(name="UsageRequestsFailed", unit=MetricUnit.Count, value=1)
            return UsageStatus.ERROR.value
        except Exception:
            self.store.give_back(rid, lease)  # a redelivery may work it at once
            raise
        if done is None:  # only an attempt whose lease ran out can find it moved on (Lambda ends it before)
            found = self.store.get(rid) or item
            logger.warning("usage request moved on during its attempt", extra={"usageRequestId": rid, "status": found["status"]})
            return str(found["status"])
        metrics.add_metric(name="UsageRequestsCompleted", unit=MetricUnit.Count, value=1)
        return UsageStatus.COMPLETED.value

    def _determinants(self, request: UsageRequestIn) -> dict[str, Any]:
        body = request.model_dump(mode="json", include={"saId", "periodStart", "periodEnd", "includeIntervals"})
        try:
            response = self.connector("MDM").request("POST", "usage/bill-determinants", json.dumps(body).encode(), content_type=JSON)
        except TargetRejected as exc:
            raise _Refused(f"MDM refused it: {exc.reason}") from None
        try:
            found = BillDeterminants.model_validate_json(response.body)
        except ValidationError as exc:
            raise _Refused(f"MDM answered unusable determinants: {exc.errors(include_url=False)[0]['msg']}") from None
        if (wrong := mismatch(found, request)) is not None:
            raise _Refused(f"MDM {wrong}")
        return found.model_dump(mode="json", exclude_none=True)

    def _deliver_to_ccb(self, request: UsageRequestIn, determinants: dict[str, Any]) -> dict[str, Any]:
        body = {"usageRequestId": request.usageRequestId, **determinants}
        try:
            response = self.connector("CCB").request("POST", "bill-determinants", json.dumps(body).encode(), content_type=JSON)
        except TargetRejected as exc:
            raise _Refused(f"CCB refused the determinants: {exc.reason}") from None
        answer = json.loads(response.body or b"{}")
        return answer if isinstance(answer, dict) else {}


class NotResubmittable(Exception):
    """Only a usage request in ERROR can be resubmitted."""

    def __init__(self, status: UsageStatus) -> None:
        super().__init__(status.value)
        self.status = status


def _resubmitted_last(item: dict[str, Any]) -> bool:
    """Whether the request's last transition is its resubmission (a repeat of it is answered, not refused)."""
    history = item.get("history") or [{}]
    return str(history[-1].get("reason", "")).startswith(RESUBMITTED)


class AttemptInProgress(RuntimeError):
    """Another attempt holds the request's lease: the queue redelivers the message later."""


class _Refused(Exception):
    """MDM or CCB refused the request: retrying the same message will not help."""


# ------------------------------------------------------------------------------------ wiring
@cache
def usage_requests() -> UsageRequests:
    settings = get_settings()
    return UsageRequests(
        store=UsageRequestStore(aws.table(settings.require("usage_request_table"))),
        data_sync=DataSyncCheck(lambda: store_for(FLOW)),
        sqs=aws.sqs(),
        queue_url=lambda: get_settings().require("usage_request_queue_url"),
        connector=_connector,
    )


@cache
def _connector(system: str) -> HttpConnector:
    if system == "MDM":
        return mdm()
    settings = get_settings()
    return HttpConnector("CCB", settings.require("ccb_base_url"), settings.ccb_secret_arn, settings)


on_reload(usage_requests.cache_clear)
on_reload(_connector.cache_clear)


def parse_request(raw: Any) -> UsageRequestIn:
    """One validated usage request (a 422 pointing into its body)."""
    try:
        return from_json(UsageRequestIn, raw)
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from None


def parse_requests(raw: Any, root: str = "") -> list[UsageRequestIn]:
    """Validated usage requests from a list of bodies; any invalid one refuses them all (422 pointing into it)."""
    errors: list[problems.FieldError] = []
    parsed: list[UsageRequestIn] = []
    for index, body in enumerate(raw):
        try:
            parsed.append(from_json(UsageRequestIn, body))
        except ValidationError as exc:
            errors.extend(problems.from_validation_error(exc, f"{root}/{index}").errors)
    if errors:
        raise problems.invalid(f"The batch was refused: {len(errors)} field(s) are invalid; nothing was stored.", errors)
    return parsed


def deliver_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The worker: each queued usage request processed; the answer lists the records to redeliver."""
    service = usage_requests()

    def one(record: SQSRecord) -> str:
        message = UsageQueued.model_validate_json(record.body)
        use_correlation_id(message.correlationId)
        status = service.process(message, context)
        logger.info("usage request processed", extra={"usageRequestId": message.usageRequestId, "status": status})
        return status

    return dict(
        process_partial_response(event=event, record_handler=one, processor=BatchProcessor(event_type=EventType.SQS), context=context)
    )


def release_waiting() -> dict[str, int]:
    """The release schedule's one call."""
    return usage_requests().release()
