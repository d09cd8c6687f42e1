"""Entry points of the field work pack's workflow step and event delivery handlers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from utilhub.packs.field_work import notifications
from utilhub.packs.field_work.activities import ForwardMessage, forward_event, run_step
from utilhub.platform import aws
from utilhub.platform.observability import use_correlation_id
from utilhub.platform.reasons import values_withheld


def run_workflow_step(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with aws.transient_failures_retryable(), values_withheld():  # no refused value in its history or log
        return run_step(event, context)


def deliver_events(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Forward an SQS FIFO batch of activity events; a failure holds back that activity's later events only."""

    def deliver(record: SQSRecord) -> str:
        message = ForwardMessage.model_validate_json(record.body)
        use_correlation_id(message.correlationId)
        return forward_event(message, context)

    return dict(
        process_partial_response(
            event=event, record_handler=deliver, processor=SqsFifoPartialProcessor(skip_group_on_error=True), context=context
        )
    )


def deliver_notifications(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Relay an SQS batch of FW-05, FW-10 and FW-11 notifications to their targets."""
    return notifications.deliver_batch(event, context)
