"""Delivery of queued sync requests to their target, and the acknowledgements that come back.

One SQS record = one request: read it, skip it if it is no longer this attempt's (already
acknowledged, timed out, resubmitted), render it in the target's format, call the target
once, and apply the acknowledgement. The target call runs under an idempotency key
(``<flow>#<id>#<attempt>``), so a redelivered message never calls the target twice for the
same attempt; a target that is unavailable raises, and SQS redelivers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from utilhub.platform import journal, last_try
from utilhub.platform.connectors import HttpConnector, TargetRejected
from utilhub.platform.idempotency import run_once
from utilhub.platform.observability import MetricUnit, logger, metrics, tracer, use_correlation_id
from utilhub.platform.problems import Problem
from utilhub.platform.reasons import exception_reason, loggable
from utilhub.platform.xref import CrossReferenceStore, SystemId
from utilhub.syncrequests.model import Acknowledgement, DeliveryMessage, SyncFlow, SyncRequest, SyncStatus
from utilhub.syncrequests.store import StaleTransition, SyncRequestStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# sends at once what requests made final let go (SyncMonitor.release), within the invocation's time left (ms) when given
Release = Callable[[Sequence[SyncRequest], Callable[[], int] | None], object]


def remaining_of(lambda_context: Any) -> Callable[[], int] | None:
    """The Lambda context's ``get_remaining_time_in_millis`` (None without a context: no deadline for the release)."""
    return getattr(lambda_context, "get_remaining_time_in_millis", None)


class Acknowledgements:
    """Records a target's acknowledgement, whether it came as the answer to the call or later; with ``release`` (a
    flow whose monitor queues its claims), the request made final lets its entity's next change, and the requests
    waiting for its entity, go at once, in the same invocation (docs/sync-requests.md)."""

    def __init__(self, store: SyncRequestStore, flow: SyncFlow, xref: CrossReferenceStore, release: Release | None = None) -> None:
        self._store = store
        self._flow = flow
        self._xref = xref
        self._release = release

    def apply(
        self, request: SyncRequest, ack: Acknowledgement, *, completed: str | None = None, remaining: Callable[[], int] | None = None
    ) -> str:
        """Record ``ack`` for ``request``: SYNCHRONIZED, ERROR, or still SENT when the target answers later.
        ``completed`` names what completed a request when it is not the target's acknowledgement; ``remaining`` is the
        invocation's time left (the Lambda context's, in ms): the release is left to the monitor when it runs short."""
        target = self._flow.target
        if ack.result == "ACCEPTED":
            logger.info("accepted, acknowledgement to follow", extra={"syncRequestId": request.syncRequestId})
            return "accepted"
        positive = ack.result == "POSITIVE"
        if positive:
            reason = completed or f"acknowledged by {target}" + (f" as {ack.targetId}" if ack.targetId else "")
        else:
            reason = ack.reason or f"negative acknowledgement from {target}"
        if positive and ack.targetId and (xref_type := self._flow.xref_entity.get(request.entityType)):
            # first, so a failure here leaves the request SENT and the acknowledgement can be replayed
            self._xref.link(xref_type, SystemId(self._flow.source, request.entityId), SystemId(target, ack.targetId))
        try:
            self._store.acknowledge(request, positive=positive, reason=reason)
        except StaleTransition:
            if not (positive and self._complete_after_timeout(request.syncRequestId, reason)):
                logger.info("acknowledgement for a request no longer SENT", extra={"syncRequestId": request.syncRequestId})
                return "stale"
        metrics.add_metric(name="SyncRequestsSynchronized" if positive else "SyncRequestsFailed", unit=MetricUnit.Count, value=1)
        logger.info("acknowledged", extra={"syncRequestId": request.syncRequestId, "result": ack.result})
        if self._release is not None:
            self._release([request], remaining)
        return "synchronized" if positive else "error"

    def _complete_after_timeout(self, sync_request_id: str, reason: str) -> bool:
        """A positive acknowledgement for a request that timed out to ERROR meanwhile: the target holds the
        image all the same, so the request is SYNCHRONIZED. False when it is not such a request."""
        current = self._store.get(sync_request_id)
        if current is None or current.status is not SyncStatus.ERROR or not current.timedOut:
            return False
        try:
            self._store.complete_after_timeout(current, f"{reason} (after the time-out)")
        except StaleTransition:
            return False
        return True


class SyncDelivery:
    def __init__(self, store: SyncRequestStore, flow: SyncFlow, connector: HttpConnector, acknowledgements: Acknowledgements) -> None:
        self._store = store
        self._flow = flow
        self._connector = connector
        self._acknowledgements = acknowledgements

    @tracer.capture_method
    def deliver(self, message: DeliveryMessage, lambda_context: Any = None) -> str:
        """Deliver one queued request; returns what happened (for logs and tests)."""
        cid = use_correlation_id(message.correlationId)
        request = self._store.get(message.syncRequestId)
        if request is None or request.status is not SyncStatus.SENT or request.attempt != message.attempt:
            logger.info("stale delivery skipped", extra={"syncRequestId": message.syncRequestId, "attempt": message.attempt})
            return "stale"
        codec = self._flow.target_codec
        try:
            body = codec.render(request, cid)
        except (Problem, ValueError) as exc:  # the mapping cannot produce a valid message: no retry will change that
            detail = f"{exc.detail} {[e.detail for e in exc.errors][:3]}" if isinstance(exc, Problem) else exception_reason(exc)
            reason = f"could not be rendered for {self._flow.target}: {detail}"
            return self._acknowledgements.apply(
                request, Acknowledgement(result="NEGATIVE", reason=reason[:2000]), remaining=remaining_of(lambda_context)
            )

        def call_target() -> dict[str, Any]:
            try:
                response = self._connector.post(
                    codec.path(request),
                    body,
                    content_type=codec.content_type,
                    headers={"X-Correlation-Id": cid, "Idempotency-Key": f"{request.syncRequestId}-{request.attempt}"},
                )
            except TargetRejected as exc:
                reason = f"{self._flow.target} refused the message ({exc.status}): {exc.reason}"
                return Acknowledgement(result="NEGATIVE", reason=reason).model_dump()
            try:
                return codec.read_acknowledgement(response.body).model_dump()
            except Problem as exc:  # the target took the call but its answer is unreadable: a retry will not help
                return Acknowledgement(result="NEGATIVE", reason=exc.detail).model_dump()

        with journal.working_on(self._flow.point_of(request.entityType), request.syncRequestId):
            answer = run_once(
                key=f"deliver#{self._flow.name}#{request.syncRequestId}#{request.attempt}",
                fingerprint=request.dataHash,
                work=call_target,
                lambda_context=lambda_context,
            )
        ack = Acknowledgement.model_validate(answer)
        return self._acknowledgements.apply(request, ack, remaining=remaining_of(lambda_context))

    def failed(self, message: DeliveryMessage, record: SQSRecord, failure: Exception) -> None:
        """A failed try of ``message`` (the queue hands it over again). On the queue's last, its request is journaled
        ``DEAD_LETTERED``: its message waits in the dead-letter queue, not on its way to the target. The request
        stays SENT: a redrive delivers this attempt, else its time-out (past the queue's redelivery span) queues it
        again."""
        tries = last_try.tries_if_last(record)
        if tries is None:
            return
        request = self._store.get(message.syncRequestId)
        if request is None or request.status is not SyncStatus.SENT or request.attempt != message.attempt:
            return  # not this attempt's any more: whatever replaced it is journaled already
        last_try.journal_dead_lettered(self._flow.point_of(request.entityType), request.syncRequestId, tries, loggable(failure))
