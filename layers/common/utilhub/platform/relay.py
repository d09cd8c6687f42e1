"""Relay of an event from one application to another, the pattern every notification point uses
(field work FW-05, FW-10, FW-11; meter data MD-13, MD-16, MD-20; DACS DA-04's acknowledgements to CCB):

- :func:`accept` (:func:`accept_many` for several): the inbound event is queued (SQS, with a DLQ) and the
  caller gets ``202`` at once;
- :func:`deliver_batch`: each queued event is delivered by the relay's deliverer under an idempotency key
  of the relay and the event's id, so an event sent twice, or redelivered by the queue, reaches the target
  once; a deliverer that raises (target down) leaves the record to the queue, which redelivers it
  (partial batch response), and after ``maxReceiveCount`` tries it waits in the DLQ for an operator;
- events that must reach their target in the order they were accepted (a later one decides what the target keeps)
  are accepted with a ``group`` (the entity they are about) on a FIFO queue: SQS hands a group's events over one
  at a time, in order, and a failed one holds back only the later ones of its group (the FIFO batch processor),
  redelivered before them, so a redelivered event can never land after a later one of its entity;
- a deliverer that raises :class:`RetryLater` (the event must wait for another of the same entity still in
  delivery) has its record handed over again after a short backoff (``RETRY_LATER_SECONDS``, by how many
  times the queue has handed it over), not after the queue's whole visibility timeout;
- a target that refuses the event (a 4xx other than 409, :class:`TargetRejected`: retrying the same message
  will not help) has it moved to its queue's dead-letter queue (the queue's ``RedrivePolicy``) at once, with the target's status and
  reason as message attributes (``RelayRefused``, alarmed): kept for an operator, who fixes the cause and
  redrives it (``POST /<pack>/dead-letters/{queue}/redrive``), never dropped; when SQS does not take it there
  (throttled, denied), the event is still in its queue and its try fails as any other does (handed back, a
  ``RETRY`` hop, ``DEAD_LETTERED`` at the queue's last receive, when SQS moves it there itself).

Every relay named by its integration point (``MD-13``, ``FW-05``, ``DA-04``...; the pack that runs it is the point's)
journals each event (docs/operations.md), its id the event's: ``QUEUED`` when accepted, each call to the target a
hop (:func:`journal.working_on`), each failed try a hop with the target's answer, ``DELIVERED`` once delivered,
``REFUSED`` (with the target's reason) when it is moved to the dead-letter queue, ``DEAD_LETTERED`` when its last try
(the queue's ``maxReceiveCount``-th receive) failed, so the queue moves it there (and so each later event of its FIFO
group held back behind it, naming it). Either is run again by redriving its
queue, not by a resubmission route: its head names none.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from utilhub.platform import aws, journal, last_try, wiring
from utilhub.platform.connectors import TargetRejected
from utilhub.platform.idempotency import run_once
from utilhub.platform.observability import MetricUnit, correlation_id, logger, metrics, use_correlation_id
from utilhub.platform.reasons import loggable

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

Deliverer = Callable[["RelayMessage"], Mapping[str, Any]]

# how long a RetryLater record stays invisible, by its receive count (the last for any later receive): they add
# up to 150 s by the 5th receive (the relay queues' maxReceiveCount), past the longest a delivery may hold an
# entity (FW-10's lease, 120 s), so a record only reaches the DLQ when that entity stays held for good
RETRY_LATER_SECONDS = (10, 20, 40, 80)

# a relay named by its integration point journals its events (the engine's own outcome relays, SYNC-OUTCOME and
# CCB-NOTICE, tell CCB of transactions journaled under their own points already)
_POINT = re.compile(r"[A-Z]{2}-\d{2}")
QUEUED, DELIVERED, REFUSED = "QUEUED", "DELIVERED", "REFUSED"
DEAD_LETTERED = last_try.DEAD_LETTERED


def journaled(relay: str) -> bool:
    """Whether ``relay``'s events are transactions of the journal (the relay is named by its integration point)."""
    return _POINT.fullmatch(relay) is not None


def journal_id(event_id: str) -> str:
    """The journal's id of an event: a compound event id (MD-16's ``<usage transaction>#<event>``) with its parts
    joined by ``/``, as the operations API names compound ids (``ORD-1/2``)."""
    return event_id.replace("#", "/")


class RetryLater(RuntimeError):
    """The event cannot be delivered yet, for a reason that passes by itself (another event of the same entity
    is in delivery): the queue hands it over again after ``RETRY_LATER_SECONDS``."""


class RelayMessage(BaseModel):
    relay: str  # which relay (FW-05, ...): picks the deliverer
    eventId: str
    payload: dict[str, Any]
    correlationId: str | None = None


def relay_message(relay: str, event_id: str, payload: Mapping[str, Any]) -> RelayMessage:
    """The message :func:`accept` queues for an event of ``relay``, with the invocation's correlation id."""
    return RelayMessage(relay=relay, eventId=event_id, payload=dict(payload), correlationId=correlation_id())


def deduplication_id(message: RelayMessage) -> str:
    """A FIFO queue's deduplication id of ``message``: the hash of its relay, event id and payload, so the same event
    again within SQS's 5 minutes is queued once; the same id with other values still goes through (its delivery then
    conflicts with the first, and it waits in the DLQ for an operator)."""
    return hashlib.sha256(message.model_dump_json(include={"relay", "eventId", "payload"}).encode()).hexdigest()


def idempotency_fingerprint(message: RelayMessage) -> str:
    """What the delivery's idempotency key (the relay and event id) is checked against: the relay and the payload."""
    return message.model_dump_json(include={"relay", "payload"})


def accept(relay: str, event_id: str, payload: Mapping[str, Any], queue_url: str, *, group: str | None = None) -> None:
    """Queue one event. With ``group`` (a FIFO queue), the events of one group are delivered in the order accepted."""
    message = relay_message(relay, event_id, payload)
    body = message.model_dump_json()
    if group is None:
        wiring.sqs().send_message(QueueUrl=queue_url, MessageBody=body)
    else:
        wiring.sqs().send_message(
            QueueUrl=queue_url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=deduplication_id(message)
        )
    metrics.add_metric(name="RelayAccepted", unit=MetricUnit.Count, value=1)
    _queued(relay, event_id)


def _queued(relay: str, event_id: str) -> None:
    if journaled(relay):
        journal.changed(relay, journal_id(event_id), QUEUED, step="accepted")


def accept_many(relay: str, events: Sequence[tuple[str, Mapping[str, Any]]], queue_url: str) -> None:
    """Queue several events of one relay, ten to a ``SendMessageBatch`` call (:func:`aws.send_all`: what SQS
    fails is tried once more, then the caller is told to retry; what was queued is delivered once all the same)."""
    messages = [relay_message(relay, event_id, payload).model_dump_json() for event_id, payload in events]
    aws.send_all(wiring.sqs(), queue_url, messages)
    metrics.add_metric(name="RelayAccepted", unit=MetricUnit.Count, value=len(messages))
    for event_id, _ in events:
        _queued(relay, event_id)


def deliver_batch(event: dict[str, Any], context: Any, deliverers: Mapping[str, Deliverer]) -> dict[str, Any]:
    """Deliver an SQS batch of relayed events; the answer lists the records to redeliver."""

    def deliver(record: SQSRecord) -> Mapping[str, Any]:
        message = RelayMessage.model_validate_json(record.body)
        use_correlation_id(message.correlationId)
        deliverer = deliverers.get(message.relay)
        if deliverer is None:
            raise LookupError(f"no deliverer for relay {message.relay}")  # kept for an operator (DLQ), never dropped
        journaling = journaled(message.relay)
        try:
            with journal.working_on(message.relay, journal_id(message.eventId)) if journaling else contextlib.nullcontext():
                outcome = run_once(
                    key=f"relay#{message.relay}#{message.eventId}",
                    fingerprint=idempotency_fingerprint(message),
                    work=lambda: dict(deliverer(message)),
                    lambda_context=context,
                )
        except RetryLater as wait:
            _hand_over_later(record, wait)
            if journaling:
                journal.hop(
                    message.relay, journal_id(message.eventId), step="delivery", system="hub", outcome="RETRY_LATER", detail=str(wait)
                )
            if journaling:
                _last_try(record, message, str(wait))
            raise
        except TargetRejected as refusal:
            if refusal.status == 409:  # an earlier delivery got there: the deliverer should have said so
                _tried(record, message, journaling, refusal)
                raise
            try:
                refused = _dead_letter(record, message, refusal)
            except Exception as exc:  # SQS did not take it (throttled, denied): still in its queue, a failed try as any other
                logger.warning(
                    "relayed event refused by its target, not moved to the dead-letter queue",
                    extra={"relay": message.relay, "eventId": message.eventId, "status": refusal.status, "error": type(exc).__name__},
                )
                _tried(record, message, journaling, refusal)
                raise refusal from exc
            if journaling:
                journal.changed(
                    message.relay,
                    journal_id(message.eventId),
                    REFUSED,
                    reason=f"{refusal}; kept in the dead-letter queue",
                    step="refused",
                )
            return refused
        except Exception as failure:
            _tried(record, message, journaling, failure)
            raise
        logger.info("relayed", extra={"relay": message.relay, "eventId": message.eventId})
        if journaling:
            journal.changed(message.relay, journal_id(message.eventId), DELIVERED, step="delivered")
        return outcome

    return last_try.process_batch(event, context, deliver, _held_back)


def _held_back(record: SQSRecord, blocker: SQSRecord | None) -> None:
    """A record of a FIFO batch skipped behind a failed one of its group (``blocker``) was never handed to the
    deliverer, yet each receive counts against it: at the queue's ``maxReceiveCount``-th, SQS moves it to the dead-letter
    queue with it, so it is ``DEAD_LETTERED`` too, naming the event it was held behind (:func:`_last_try`)."""
    try:
        message = RelayMessage.model_validate_json(record.body)
    except ValueError:  # not a relayed event: the deliverer's failure already says so
        return
    if journaled(message.relay):
        _last_try(record, message, f"held behind {_named(blocker)} of its group")


def _named(blocker: SQSRecord | None) -> str:
    """The journal id of the event a record was held behind, as its reason names it."""
    try:
        return journal_id(RelayMessage.model_validate_json(blocker.body).eventId) if blocker is not None else "an earlier event"
    except ValueError:
        return "an earlier event"


def _tried(record: SQSRecord, message: RelayMessage, journaling: bool, failure: Exception) -> None:
    """A failed try, a hop of the event's timeline (the queue hands it over again, or moves it to the DLQ)."""
    if journaling:
        reason = loggable(failure)  # never a value the event carried
        detail = (reason if reason.startswith(type(failure).__name__) else f"{type(failure).__name__}: {reason}")[:500]
        journal.hop(message.relay, journal_id(message.eventId), step="delivery", system="hub", outcome="RETRY", detail=detail)
        _last_try(record, message, reason)


def _last_try(record: SQSRecord, message: RelayMessage, reason: str) -> None:
    """After a failed try that was the queue's last (its ``maxReceiveCount``-th receive), the event is ``DEAD_LETTERED``:
    SQS moves it to the dead-letter queue, and the operators' list shows it failed, not still on its way."""
    last_try.journal_if_last(record, message.relay, journal_id(message.eventId), reason)


def _dead_letter(record: SQSRecord, message: RelayMessage, refusal: TargetRejected) -> dict[str, Any]:
    """Move a refused event to its queue's dead-letter queue now (the record is then done with), the target's status
    and own reason (its problem's detail) as its attributes. A FIFO queue's refused event keeps its group; the group's
    later events go on meanwhile, so a redrive delivers it after them, and the target's own rule on the event's time
    (MD-16's `at`) decides what it keeps."""
    last_try.dead_letter_now(record, refusal.reason, refusal.status, group=message.eventId)
    metrics.add_metric(name="RelayRefused", unit=MetricUnit.Count, value=1)
    logger.error(
        "relayed event refused by its target, kept in the dead-letter queue",
        extra={"relay": message.relay, "eventId": message.eventId, "status": refusal.status},
    )
    return {"refused": refusal.status, "deadLettered": True}


def retry_later_seconds(receives: int) -> int:
    """How long a record to retry later stays invisible, once the queue has handed it over ``receives`` times."""
    return RETRY_LATER_SECONDS[min(max(receives, 1), len(RETRY_LATER_SECONDS)) - 1]


def _hand_over_later(record: SQSRecord, wait: RetryLater) -> None:
    """Make ``record`` visible again after its backoff; if SQS refuses, the queue's visibility timeout applies."""
    from botocore.exceptions import BotoCoreError, ClientError

    receives = int(record.attributes.approximate_receive_count)
    seconds = retry_later_seconds(receives)
    sqs = wiring.sqs()
    try:
        sqs.change_message_visibility(
            QueueUrl=last_try.queue_url(sqs, record.event_source_arn), ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds
        )
    except (BotoCoreError, ClientError) as exc:
        logger.warning("could not shorten the wait of a record to retry later", extra={"reason": str(exc)})
        return
    logger.info("retried later", extra={"seconds": seconds, "receives": receives, "reason": str(wait)})
