"""CU-02 delivery: queued Siebel updates applied to CCB, each try journaled (docs/operations.md); an update whose
last try failed is journaled DEAD_LETTERED (``platform/last_try.py``) while it waits in the dead-letter queue, and so is each
later update of its customer held back behind it (never tried, yet moved there with it), naming it. Both are run again
by redriving the queue (``POST /customer/dead-letters/updates/redrive``). An update refused for good (an imported
customer CCB contradicts: :class:`ImportedCustomerMismatch`) is not retried: moved to the dead-letter queue at once
(``refusedStatus`` 409, ``refusedReason``; the queue's alarm fires) and journaled ``REFUSED`` with its reason; when SQS
does not take it there (throttled, denied), the try fails as any other does (``RETRYING``, ``DEAD_LETTERED`` at the queue's
last receive)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from utilhub.packs.customer.customers import (
    UPDATE_POINT,
    CustomerSync,
    ImportedCustomerMismatch,
    UpdateMessage,
    failure_reason,
    update_key,
)
from utilhub.platform import journal, last_try
from utilhub.platform.observability import logger, use_correlation_id

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

REFUSED = "REFUSED"  # an update refused for good, kept in the dead-letter queue (the journal's FAILED)


def deliver_batch(service: CustomerSync, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Apply an SQS FIFO batch of updates; the answer lists the records to redeliver. A failure stops
    its customer's group (that customer's later updates are redelivered after it, never before); the
    other customers' updates in the batch go on."""

    def deliver(record: SQSRecord) -> str:
        message = UpdateMessage.model_validate_json(record.body)
        use_correlation_id(message.correlationId)
        key = update_key(message.siebelAccountId, message.updateId)
        try:
            with journal.working_on(UPDATE_POINT, key):
                outcome = service.apply_update(message)
        except ImportedCustomerMismatch as refusal:
            # final: no retry changes what CCB holds; kept in the DLQ for an operator (who fixes the links or CCB, then redrives)
            if _refused(record, key, str(refusal)):  # the hub's own words: ids, never a value of the update
                logger.error("customer update refused, kept in the dead-letter queue", extra={"siebelAccountId": message.siebelAccountId})
                return "refused"
            _failed_try(record, key, failure_reason(refusal))  # not moved: a failed try, the queue hands it over again
            raise
        except Exception as exc:
            # redelivered by the queue (after its customer's order, or CCB back), or kept in its DLQ for an operator
            _failed_try(record, key, failure_reason(exc))
            raise
        journal.changed(UPDATE_POINT, key, outcome.upper(), step="delivered", system="CCB")
        return outcome

    return last_try.process_batch(event, context, deliver, _held_back)


def _refused(record: SQSRecord, key: str, reason: str) -> bool:
    """Move a refused update to the dead-letter queue now and journal it ``REFUSED``. False when SQS does not take it
    (throttled, denied): the update is still in its queue, and its try a failed one like any other (:func:`_failed_try`),
    so the journal never says it waits in the dead-letter queue while it does not, nor in flight once SQS moved it there."""
    try:
        last_try.dead_letter_now(record, reason, 409)
    except Exception as exc:
        logger.warning("refused customer update not moved to the dead-letter queue", extra={"error": type(exc).__name__})
        return False
    journal.changed(UPDATE_POINT, key, REFUSED, reason=f"{reason.rstrip('.')}; kept in the dead-letter queue", step="refused")
    return True


def _failed_try(record: SQSRecord, key: str, reason: str) -> None:
    """A failed try of an update: ``RETRYING`` with its reason, ``DEAD_LETTERED`` too when it was the queue's last."""
    journal.changed(UPDATE_POINT, key, "RETRYING", reason=reason, step="delivery")
    last_try.journal_if_last(record, UPDATE_POINT, key, reason)


def _held_back(record: SQSRecord, blocker: SQSRecord | None) -> None:
    """An update skipped behind a failed one of its customer (``blocker``) was never tried, yet each receive counts
    against it: on the queue's last, SQS moves it to the dead-letter queue with it, so it is ``DEAD_LETTERED`` too,
    naming the update it waits behind; a redrive delivers it after that one, in its customer's order."""
    try:
        message = UpdateMessage.model_validate_json(record.body)
    except ValueError:  # not an update: nothing of the journal to say
        return
    behind = "an earlier update"
    if blocker is not None:
        with contextlib.suppress(ValueError):
            first = UpdateMessage.model_validate_json(blocker.body)
            behind = update_key(first.siebelAccountId, first.updateId)
    last_try.journal_if_last(
        record, UPDATE_POINT, update_key(message.siebelAccountId, message.updateId), f"held behind {behind} of its customer"
    )
