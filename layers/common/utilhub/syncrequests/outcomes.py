"""CCB hears the outcome of what it sent: each final transition of a sync request (SENT -> SYNCHRONIZED or
ERROR, a timed-out ERROR -> SYNCHRONIZED) is told to CCB at ``PUT sync-requests/{id}/acknowledgement``, the shape
DA-04 passes DACS's acknowledgements on in, as the Oracle packs move CCB's own sync request from awaiting
acknowledgement to synchronized or error.

- **Where it comes from.** The store (:class:`~utilhub.syncrequests.store.SyncRequestStore`) calls its ``outcomes``
  once a write that made a request final has succeeded: every final transition of every flow (a target's answer,
  an acknowledgement route, the monitor's last time-out, DACS's acknowledgements and uploads) goes through that one
  write, and a write that did not happen (a stale transition) tells nothing.
- **Through a queue.** :class:`CcbOutcomes` queues the outcome on one FIFO relay queue shared by every flow (the
  platform's :mod:`~utilhub.platform.relay`), never an HTTP call inside the transition; the deliverer
  (:meth:`Ccb.tell`) makes the call, and a CCB that is down leaves it to the queue's redelivery, then its DLQ.
- **Once per outcome.** The event id is the flow, the request, the outcome and the time of its transition (the
  transition's version: a request made final twice - an ERROR resubmitted, then SYNCHRONIZED - has two outcomes,
  each told); the relay's idempotency key and the FIFO queue's deduplication make a redelivered or re-sent outcome
  reach CCB once.
- **Never lost (an outbox on the request).** The write that makes a request final marks it as owing the outcome
  (``outcomeOwed`` = the event id, filed in the status index under ``<flow>#OUTCOME#<shard>``); the store clears the
  mark once :class:`CcbOutcomes` has queued it. An outcome whose queueing fails (SQS unavailable beyond boto3's
  retries, the function stopped in between) keeps its mark, is logged and counted (``SyncOutcomeQueueFailed``,
  alarmed), and the flow's monitor queues it again after a short grace
  (:meth:`~utilhub.syncrequests.store.SyncRequestStore.tell_owed`). A later transition of the request removes the
  mark: CCB keeps the last state it is told. MD-11's notices (:class:`CcbNotices`) are kept the same way by the
  usage request store, and queued again by its release schedule.
- **In order per request.** The message group is the request (``<flow>#<syncRequestId>``): SQS hands a request's
  outcomes over one at a time, in the order they were queued, and a failed one holds back the later ones. CCB's
  acknowledgement carries no sequence number (a real CCB records the last state it is told), so the order must be
  the hub's. An outcome moved to the dead-letter queue no longer holds its group back; redriven after a newer outcome
  of its request, it is acknowledged without being told (:class:`Ccb` reads the request's last final transition).
- **Switchable per flow.** Only the flows named in ``UTILHUB_CCB_OUTCOME_FLOWS`` (the template's ``OutcomesToCcb``)
  are told; with no queue (``UTILHUB_CCB_OUTCOME_QUEUE_URL``) none is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from utilhub.platform import relay
from utilhub.platform.observability import MetricUnit, logger, metrics
from utilhub.syncrequests.model import SyncStatus

RELAY = "SYNC-OUTCOME"
NOTICE = "CCB-NOTICE"  # another final outcome CCB is told of on the same queue (MD-11's usage requests in ERROR)
FINAL = frozenset({SyncStatus.SYNCHRONIZED, SyncStatus.ERROR})


@dataclass(frozen=True)
class FinalTransition:
    """A transition the store wrote that made a request final."""

    syncRequestId: str
    entityType: str
    entityId: str
    status: SyncStatus
    reason: str
    at: datetime


class CcbAcknowledgement(BaseModel):
    """What CCB receives at ``PUT sync-requests/{syncRequestId}/acknowledgement`` (the shape DA-04 uses)."""

    syncRequestId: str
    target: str  # MDM, WAM, ODM or DACS: the system the request was sent to
    entityType: str
    entityId: str
    result: Literal["POSITIVE", "NEGATIVE"]
    reason: str
    acknowledgedAt: str


def acknowledgement_of(target: str, transition: FinalTransition) -> CcbAcknowledgement:
    return CcbAcknowledgement(
        syncRequestId=transition.syncRequestId,
        target=target,
        entityType=transition.entityType,
        entityId=transition.entityId,
        result="POSITIVE" if transition.status is SyncStatus.SYNCHRONIZED else "NEGATIVE",
        reason=transition.reason,
        acknowledgedAt=transition.at.isoformat(),
    )


Accept = Callable[..., None]


class Outcomes(Protocol):
    """What the store tells its final transitions to (:class:`CcbOutcomes`)."""

    @property
    def enabled(self) -> bool: ...

    def event_id(self, transition: FinalTransition) -> str: ...

    def __call__(self, transitions: Sequence[FinalTransition]) -> list[FinalTransition]: ...


class CcbOutcomes:
    """Queues the final outcomes of one flow's requests for CCB (nothing when the flow is not switched on)."""

    def __init__(self, flow: str, target: str, queue_url: str | None, flows: Collection[str], accept: Accept = relay.accept) -> None:
        self.flow = flow
        self.target = target
        self._queue_url = queue_url
        self.enabled = bool(queue_url) and flow in flows
        self._accept = accept

    def event_id(self, transition: FinalTransition) -> str:
        """The outcome's id: the flow, the request, the outcome and the time of its transition."""
        return f"{self.flow}#{transition.syncRequestId}#{transition.status.value}#{transition.at.isoformat()}"

    def __call__(self, transitions: Sequence[FinalTransition]) -> list[FinalTransition]:
        """Queue each outcome; the ones queued (a failed one stays owed on its request, and the monitor queues it again)."""
        if not self.enabled or self._queue_url is None:
            return []
        queued = []
        for transition in transitions:
            ack = acknowledgement_of(self.target, transition)
            event_id = self.event_id(transition)
            try:
                self._accept(RELAY, event_id, ack.model_dump(), self._queue_url, group=f"{self.flow}#{transition.syncRequestId}")
            except (BotoCoreError, ClientError) as exc:
                # the transition is written and stays so (failing the caller would not write it again), marked as owing
                # this outcome: counted (SyncOutcomeQueueFailed) and logged; the monitor's next run queues it again
                metrics.add_metric(name="SyncOutcomeQueueFailed", unit=MetricUnit.Count, value=1)
                logger.error("sync request outcome not queued for CCB yet", extra={"eventId": event_id, "reason": str(exc)})
                continue
            metrics.add_metric(name="SyncOutcomesQueued", unit=MetricUnit.Count, value=1)
            queued.append(transition)
        return queued


def flows_of(setting: str) -> frozenset[str]:
    """The flows a comma-separated setting names."""
    return frozenset(name.strip() for name in setting.split(",") if name.strip())


class CcbNotice(BaseModel):
    """Another outcome CCB is told of through the same queue: ``body`` put at ``path`` (the pack that queues it
    builds both to CCB's contract, as MD-11 does for a usage request in ERROR)."""

    path: str
    body: dict[str, Any]


class CcbNotices:
    """Queues a pack's outcomes for CCB on the outcomes' queue, in order per ``group`` (nothing when switched off)."""

    def __init__(self, queue_url: str | None, enabled: bool, accept: Accept = relay.accept) -> None:
        self._queue_url = queue_url
        self.enabled = bool(queue_url) and enabled
        self._accept = accept

    def __call__(self, event_id: str, group: str, notice: CcbNotice) -> bool:
        """Queue the notice: whether it was (a failed one stays owed by its pack's store, which queues it again)."""
        if not self.enabled or self._queue_url is None:
            return False
        try:
            self._accept(NOTICE, event_id, notice.model_dump(), self._queue_url, group=group)
        except (BotoCoreError, ClientError) as exc:  # as for a sync request's outcome: written, counted, alarmed
            metrics.add_metric(name="SyncOutcomeQueueFailed", unit=MetricUnit.Count, value=1)
            logger.error("outcome not queued for CCB yet", extra={"eventId": event_id, "reason": str(exc)})
            return False
        return True


LastFinalAt = Callable[[str, str], datetime | None]  # (flow, syncRequestId) -> when the request was last made final


def flow_of(event_id: str, ack: CcbAcknowledgement) -> str | None:
    """The flow an outcome's event id (:meth:`CcbOutcomes.event_id`) names; None when the id is not of that shape."""
    status = SyncStatus.SYNCHRONIZED if ack.result == "POSITIVE" else SyncStatus.ERROR
    tail = f"#{ack.syncRequestId}#{status.value}#{ack.acknowledgedAt}"
    if not event_id.endswith(tail):
        return None
    return event_id.removesuffix(tail) or None


class Ccb:
    """The call CCB is told an outcome with (the deliverer's connector). With ``last_final_at`` (the request's current
    final transition, read from its store), an outcome older than it is acknowledged without being told: redriven from
    the dead-letter queue after a newer outcome of its request reached CCB, it would make CCB keep the older state."""

    def __init__(self, call: Callable[[str, str, bytes], Any], last_final_at: LastFinalAt | None = None) -> None:
        self._call = call
        self._last_final_at = last_final_at

    def put(self, message: relay.RelayMessage) -> Mapping[str, Any]:
        notice = CcbNotice.model_validate(message.payload)
        self._call("PUT", notice.path, json.dumps(notice.body).encode())
        return {"notified": "CCB", "path": notice.path}

    def tell(self, message: relay.RelayMessage) -> Mapping[str, Any]:
        ack = CcbAcknowledgement.model_validate(message.payload)
        flow = flow_of(message.eventId, ack)
        if flow is not None and self._last_final_at is not None:
            last = self._last_final_at(flow, ack.syncRequestId)
            if last is not None and datetime.fromisoformat(ack.acknowledgedAt) < last:
                metrics.add_metric(name="SyncOutcomesSuperseded", unit=MetricUnit.Count, value=1)
                logger.warning(
                    "sync request outcome older than the request's last final transition: not told to CCB",
                    extra={"eventId": message.eventId, "lastFinalAt": last.isoformat()},
                )
                return {"notified": None, "superseded": True, "result": ack.result}
        path = f"sync-requests/{quote(ack.syncRequestId, safe='')}/acknowledgement"
        self._call("PUT", path, json.dumps(ack.model_dump()).encode())
        return {"notified": "CCB", "result": ack.result}


def deliver_batch(event: dict[str, Any], context: Any, ccb: Ccb) -> dict[str, Any]:
    """Tell CCB each queued outcome of a FIFO batch; the answer lists the records to redeliver."""
    return relay.deliver_batch(event, context, {RELAY: ccb.tell, NOTICE: ccb.put})
