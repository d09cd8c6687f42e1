"""CU-02 delivery: queued Siebel updates applied to CCB, each try journaled (docs/operations.md); an update whose
last try failed is journaled DEAD_LETTERED (``platform/last_try.py``) while it waits in the dead-letter queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from utilhub.packs.customer.customers import UPDATE_POINT, CustomerSync, UpdateMessage, failure_reason, update_key
from utilhub.platform import journal, last_try
from utilhub.platform.observability import use_correlation_id

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def deliver_batch(service: CustomerSync, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Apply an SQS FIFO batch of updates; the answer lists the records to redeliver. A failure stops
    its customer's group (that customer's later updates are redelivered after it, never before); the
    other customers' updates in the batch go on."""
    from utilhub.platform import batches  # the consumer's wiring loaded it at init; no other function loads it

    def deliver(record: SQSRecord) -> str:
        message = UpdateMessage.model_validate_json(record.body)
        use_correlation_id(message.correlationId)
        key = update_key(message.siebelAccountId, message.updateId)
        try:
            with journal.working_on(UPDATE_POINT, key):
                outcome = service.apply_update(message)
        except Exception as exc:
            # redelivered by the queue (after its customer's order, or CCB back), or kept in its DLQ for an operator
            reason = failure_reason(exc)
            journal.changed(UPDATE_POINT, key, "RETRYING", reason=reason, step="delivery")
            last_try.journal_if_last(record, UPDATE_POINT, key, reason)
            raise
        journal.changed(UPDATE_POINT, key, outcome.upper(), step="delivered", system="CCB")
        return outcome

    return dict(
        batches.process_partial_response(
            event=event, record_handler=deliver, processor=batches.SqsFifoPartialProcessor(skip_group_on_error=True), context=context
        )
    )
