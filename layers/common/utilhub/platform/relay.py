"""Relay of an event from one application to another, the pattern every notification point uses
(field work FW-05, FW-10, FW-11; meter data MD-13, MD-16, MD-20; DACS DA-04's acknowledgements to CCB):

- :func:`accept` (:func:`accept_many` for several): the inbound event is queued (SQS, with a DLQ) and the
  caller gets ``202`` at once;
- :func:`deliver_batch`: each queued event is delivered by the relay's deliverer under an idempotency key
  of the relay and the event's id, so an event sent twice, or redelivered by the queue, reaches the target
  once; a deliverer that raises (target down) leaves the record to the queue, which redelivers it
  (partial batch response), and after ``maxReceiveCount`` tries it waits in the DLQ for an operator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import BaseModel

from utilhub.platform import aws
from utilhub.platform.idempotency import run_once
from utilhub.platform.observability import MetricUnit, correlation_id, logger, metrics, use_correlation_id

Deliverer = Callable[["RelayMessage"], Mapping[str, Any]]


class RelayMessage(BaseModel):
    relay: str  # which relay (FW-05, ...): picks the deliverer
    eventId: str
    payload: dict[str, Any]
    correlationId: str | None = None


def accept(relay: str, event_id: str, payload: Mapping[str, Any], queue_url: str) -> None:
    message = RelayMessage(relay=relay, eventId=event_id, payload=dict(payload), correlationId=correlation_id())
    aws.sqs().send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json())
    metrics.add_metric(name="RelayAccepted", unit=MetricUnit.Count, value=1)


def accept_many(relay: str, events: Sequence[tuple[str, Mapping[str, Any]]], queue_url: str) -> None:
    """Queue several events of one relay, ten to a ``SendMessageBatch`` call (:func:`aws.send_all`: what SQS
    fails is tried once more, then the caller is told to retry; what was queued is delivered once all the same)."""
    messages = [
        RelayMessage(relay=relay, eventId=event_id, payload=dict(payload), correlationId=correlation_id()).model_dump_json()
        for event_id, payload in events
    ]
    aws.send_all(aws.sqs(), queue_url, messages)
    metrics.add_metric(name="RelayAccepted", unit=MetricUnit.Count, value=len(messages))


def deliver_batch(event: dict[str, Any], context: Any, deliverers: Mapping[str, Deliverer]) -> dict[str, Any]:
    """Deliver an SQS batch of relayed events; the answer lists the records to redeliver."""

    def deliver(record: SQSRecord) -> Mapping[str, Any]:
        message = RelayMessage.model_validate_json(record.body)
        use_correlation_id(message.correlationId)
        deliverer = deliverers.get(message.relay)
        if deliverer is None:
            raise LookupError(f"no deliverer for relay {message.relay}")  # kept for an operator (DLQ), never dropped
        outcome = run_once(
            key=f"relay#{message.relay}#{message.eventId}",
            fingerprint=message.model_dump_json(include={"relay", "payload"}),
            work=lambda: dict(deliverer(message)),
            lambda_context=context,
        )
        logger.info("relayed", extra={"relay": message.relay, "eventId": message.eventId})
        return outcome

    return dict(
        process_partial_response(event=event, record_handler=deliver, processor=BatchProcessor(event_type=EventType.SQS), context=context)
    )
