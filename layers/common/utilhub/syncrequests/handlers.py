"""What a sync flow's monitor and delivery handlers run, given the flow's monitor or delivery (built by the
pack's wiring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from utilhub.platform.scheduled import scheduled_clock
from utilhub.syncrequests.model import DeliveryMessage, SyncFlow

if TYPE_CHECKING:  # built by the wiring: a delivery function does not load the monitor, nor a monitor the delivery
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from utilhub.syncrequests.delivery import SyncDelivery
    from utilhub.syncrequests.monitor import SyncMonitor


def run_monitor(monitor: SyncMonitor, event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """One run of the flow's deferred monitor, as of its schedule's time (``event``); returns its counts."""
    return dict(monitor.at(scheduled_clock(event)).run().as_dict())


def deliver_batch(flow: SyncFlow, delivery: SyncDelivery, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Deliver an SQS FIFO batch; the answer lists the records to redeliver.

    With FIFO, a failure stops its message group: it and every later record of the same entity
    are reported failed, so an entity's later request never overtakes an earlier one; other
    entities' records go on (one failing entity does not push the others towards the DLQ).
    """
    from utilhub.platform import batches  # the consumer's wiring loaded it at init; no other function loads it

    def deliver(record: SQSRecord) -> str:
        message = DeliveryMessage.model_validate_json(record.body)
        if message.flow != flow.name:
            raise ValueError(f"message for flow {message.flow} reached the {flow.name} delivery queue")
        try:
            return delivery.deliver(message, context)
        except Exception as failure:
            delivery.failed(message, record, failure)
            raise

    response = batches.process_partial_response(
        event=event, record_handler=deliver, processor=batches.SqsFifoPartialProcessor(skip_group_on_error=True), context=context
    )
    return dict(response)
