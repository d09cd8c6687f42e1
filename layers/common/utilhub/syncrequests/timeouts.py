"""Time-outs of SENT requests whose acknowledgement did not come in time, shared by the monitor and by
the flows that replace it (DACS's extract).

A request is due once its attempt's window has passed (the store keeps SENT requests in the order
their acknowledgements are due, :class:`~utilhub.syncrequests.lifecycle.AckTimeouts`). A due request
is queued again as a new attempt, the entity still in flight, while it has re-queues left; the caller
queues (or writes) what was re-queued. After its last re-queue it goes to ERROR, which the metric
``SyncRequestsFailed`` counts (as it counts negative acknowledgements) for the alarm. Either way a
positive acknowledgement of the image arriving later still completes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from utilhub.platform.observability import MetricUnit, logger, metrics
from utilhub.syncrequests.lifecycle import PendingRequest
from utilhub.syncrequests.model import SyncRequest, SyncStatus
from utilhub.syncrequests.store import StaleTransition, SyncRequestStore


@dataclass
class TimedOut:
    """What one shard's time-outs did: the requests queued again (with their new attempt), those in ERROR."""

    requeued: list[tuple[PendingRequest, int]] = field(default_factory=list)
    failed: int = 0
    stale: int = 0


# how the reason of a time-out begins (the target acknowledged nothing): never a target's own answer
NO_ACKNOWLEDGEMENT = "no acknowledgement from"


def as_pending(request: SyncRequest) -> PendingRequest:
    """A stored request as the monitor's queueing (and giving back) sees it."""
    return PendingRequest(
        sync_request_id=request.syncRequestId,
        entity_type=request.entityType,
        entity_id=request.entityId,
        changed_at=request.changedAt,
        data_hash=request.dataHash,
        order_key="",
        attempt=request.attempt,
        correlation_id=request.correlationId,
        status=request.status,
    )


def time_out_due(store: SyncRequestStore, shard: int, now: datetime, limit: int, target: str) -> TimedOut:
    """Re-queue, or move to ERROR, up to ``limit`` requests of ``shard`` whose acknowledgement was due before ``now``."""
    done = TimedOut()
    policy = store.timeouts
    for sync_request_id, attempt in list(store.sent_due(shard, now, limit)):
        request = store.get(sync_request_id)
        if request is None or request.status is not SyncStatus.SENT or request.attempt != attempt:
            continue  # acknowledged, or moved by another run, since the index was read
        waited = int(policy.window(request.timeouts).total_seconds())
        try:
            if policy.requeue(request.timeouts):
                reason = (
                    f"{NO_ACKNOWLEDGEMENT} {target} within {waited} s: queued again "
                    f"(attempt {attempt + 1}; time-out {request.timeouts + 1} of {policy.requeues + 1})"
                )
                done.requeued.append((as_pending(request), store.requeue(request, reason)))
            else:
                reason = f"{NO_ACKNOWLEDGEMENT} {target} within {waited} s, after {request.timeouts + 1} time-outs"
                store.time_out(request, reason)
                done.failed += 1
                metrics.add_metric(name="SyncRequestsFailed", unit=MetricUnit.Count, value=1)
                logger.warning("sync request timed out to ERROR", extra={"syncRequestId": sync_request_id, "attempt": attempt})
        except StaleTransition:  # acknowledged meanwhile
            done.stale += 1
    return done
