"""Intake, release, resubmission and the worker of the usage requests."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from utilhub.packs.meter_data.billing.usage import UnusableAnswer, ccb_service_type, for_ccb, mismatch, read_determinants
from utilhub.platform import aws, journal, last_try
from utilhub.platform.budget import JSON
from utilhub.platform.connectors import HttpConnector, TargetRejected
from utilhub.platform.observability import MetricUnit, correlation_id, logger, metrics, use_correlation_id
from utilhub.platform.reasons import loggable
from utilhub.platform.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_sqs import SQSClient

from utilhub.packs.meter_data.billing.usage_requests.data_sync import DataSyncCheck
from utilhub.packs.meter_data.billing.usage_requests.model import (
    LEASE_MARGIN,
    LEASE_WITHOUT_CONTEXT,
    REQUEUE_AFTER,
    RESUBMITTED,
    AttemptInProgress,
    NotResubmittable,
    UsageQueued,
    UsageRequestIn,
    UsageStatus,
    _now,
)
from utilhub.packs.meter_data.billing.usage_requests.store import POINT, UsageRequestStore

# a notice to CCB still owed this long after its ERROR was written was not queued by its writer (which queues it right
# after the write): the release schedule queues it again (were the writer still at it, CCB would still hear it once)
OUTCOME_GRACE = timedelta(minutes=2)


@dataclass
class UsageRequests:
    store: UsageRequestStore
    data_sync: DataSyncCheck
    sqs: SQSClient
    queue_url: Callable[[], str]
    # the targets, built on first use (the intake and the release schedule never call them)
    connector: Callable[[str], HttpConnector]

    def _queue(self, ids: Sequence[str]) -> None:
        aws.send_all(
            self.sqs, self.queue_url(), queued_messages(ids, correlation_id())
        )  # what SQS fails twice: a 503, and the caller posts again

    def submit(self, requests: Sequence[UsageRequestIn]) -> list[dict[str, Any]]:
        """Store and queue (or hold) ``requests``: per request its id, status and whether it was created, or CONFLICT."""
        fresh, conflicts = distinct_requests(requests)
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
        retold = self.store.tell_owed(now - OUTCOME_GRACE)
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
            "outcomesRetold": retold,
        }
        logger.info("usage requests released", extra=counts)
        return counts

    def _end_overdue_waits(self, waiting: Sequence[dict[str, Any]], still: dict[str, str], now: datetime) -> int:
        """AWAITING_DATA_SYNC requests still held after the waiting bound (since they began to wait) -> ERROR with what
        they wait for: a sync request in ERROR, or one CCB never completes, must not hold a bill run forever."""
        bound = timedelta(seconds=get_settings().meter_data.usage_request_data_sync_wait_seconds)
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
        window = timedelta(seconds=get_settings().meter_data.usage_request_retry_window_seconds)
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
        try:
            response = self.connector("MDM").request("POST", "usage/bill-determinants", mdm_request(request), content_type=JSON)
        except TargetRejected as exc:
            raise _Refused(f"MDM refused it: {exc.reason}") from None
        return determinants_of(request, response.body)

    def _deliver_to_ccb(self, request: UsageRequestIn, determinants: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.connector("CCB").request("POST", "bill-determinants", ccb_request(request, determinants), content_type=JSON)
        except TargetRejected as exc:
            raise _Refused(f"CCB refused the determinants: {exc.reason}") from None
        answer = json.loads(response.body or b"{}")
        return answer if isinstance(answer, dict) else {}


def distinct_requests(requests: Sequence[UsageRequestIn]) -> tuple[list[UsageRequestIn], set[str]]:
    """The requests of one post, each id once; and the ids the post gives two different requests (CONFLICT, none stored)."""
    first: dict[str, UsageRequestIn] = {}
    conflicts: set[str] = set()
    for request in requests:
        seen = first.setdefault(request.usageRequestId, request)
        if seen.fingerprint() != request.fingerprint():
            conflicts.add(request.usageRequestId)
    return [r for r in first.values() if r.usageRequestId not in conflicts], conflicts


def queued_messages(ids: Sequence[str], correlation: str) -> list[str]:
    """The worker's messages of the requests ``ids`` (queued for the worker, one each)."""
    return [UsageQueued(usageRequestId=i, correlationId=correlation).model_dump_json() for i in ids]


def mdm_request(request: UsageRequestIn) -> bytes:
    """The body of MDM's ``POST usage/bill-determinants`` for ``request``."""
    return json.dumps(request.model_dump(mode="json", include={"saId", "periodStart", "periodEnd", "includeIntervals"})).encode()


def determinants_of(request: UsageRequestIn, answer: bytes | str) -> dict[str, Any]:
    """MDM's answer read in the hub's codes and checked against ``request`` (the SA and period asked): the determinants
    kept on the request and sent to CCB. Raises :class:`_Refused` for an unusable answer or one for another request."""
    try:
        found = read_determinants(answer)
    except UnusableAnswer as exc:
        raise _Refused(f"MDM answered unusable determinants: {exc}") from None
    if (wrong := mismatch(found, request)) is not None:
        raise _Refused(f"MDM {wrong}")
    return for_ccb(found.model_dump(mode="json", exclude_none=True))


def ccb_request(request: UsageRequestIn, determinants: dict[str, Any]) -> bytes:
    """The body of CCB's ``POST bill-determinants``: CCB takes the service type in its own code; the usage request's
    result keeps the hub's."""
    body = {"usageRequestId": request.usageRequestId, **determinants, "serviceType": ccb_service_type(determinants["serviceType"])}
    return json.dumps(body).encode()


def _resubmitted_last(item: dict[str, Any]) -> bool:
    """Whether the request's last transition is its resubmission (a repeat of it is answered, not refused)."""
    history = item.get("history") or [{}]
    return str(history[-1].get("reason", "")).startswith(RESUBMITTED)


class _Refused(Exception):
    """MDM or CCB refused the request: retrying the same message will not help."""


def deliver_batch(service: UsageRequests, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The worker: each queued usage request processed; the answer lists the records to redeliver."""
    from utilhub.platform import batches  # the consumer's wiring loaded it at init; no other function loads it

    def one(record: SQSRecord) -> str:
        message = UsageQueued.model_validate_json(record.body)
        use_correlation_id(message.correlationId)
        try:
            with journal.working_on(POINT, message.usageRequestId):  # its calls to MDM and CCB are hops of its timeline
                status = service.process(message, context)
        except Exception as failure:
            # on the queue's last try, journaled DEAD_LETTERED while its message waits in the dead-letter queue (the request
            # stays SENT: a redrive within the retry window works it, the release schedule ends it in ERROR after)
            last_try.journal_if_last(record, POINT, message.usageRequestId, loggable(failure))
            raise
        logger.info("usage request processed", extra={"usageRequestId": message.usageRequestId, "status": status})
        return status

    return dict(
        batches.process_partial_response(
            event=event, record_handler=one, processor=batches.BatchProcessor(event_type=batches.EventType.SQS), context=context
        )
    )
