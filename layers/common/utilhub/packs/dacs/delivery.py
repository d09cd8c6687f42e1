"""DA-03: the entry point of the transfer handler (an SQS batch of S3 notifications).

Each notified file's move is journaled under DA-03, its id the file's key (``extract/<name>``): the move's outcome
(``MOVED``, ``ALREADY_IN_UPLOAD``, ``ALREADY_TAKEN``: completed; ``DELETED_UNMOVED``, ``NEVER_EXISTED``: failed, with
what an operator does), or ``RETRYING`` with the failure when the queue is to hand the notification over again (after
its receive count it waits in the DLQ: redriven, no resubmission route). A key not under ``extract/`` is no transfer.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from utilhub.packs.dacs.sync import complete_records, records_to_complete
from utilhub.packs.dacs.transfer import EXTRACT, ExtractFileMover, S3Notification
from utilhub.packs.dacs.wiring import extract_file_mover
from utilhub.platform import journal
from utilhub.platform.idempotency import run_once
from utilhub.platform.reasons import loggable

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

POINT = "DA-03"
RETRYING = "RETRYING"


def outcome_reason(result: dict[str, Any]) -> str:
    """What the journal says of a move's outcome: for a file that did not reach DACS, what an operator does."""
    match result["outcome"]:
        case "DELETED_UNMOVED":
            return f"deleted under extract/ before it was moved: restore its version {result.get('version')} under extract/"
        case "NEVER_EXISTED":
            return "the bucket never held it: a notification no file explains"
        case _:
            return f"{result['target']}, {result.get('size', 0)} bytes"


def _moved(mover: ExtractFileMover, key: str) -> dict[str, Any]:
    # with DACS's acknowledgements off, the file's arrival in upload/ completes its sync requests (DA-02): its
    # records are read first, as DACS may take it from upload/ the moment it is there
    records = records_to_complete(key) if key.startswith(EXTRACT) else None
    moved = mover.move(key)
    result = moved.as_dict()
    if moved.outcome != "NOT_AN_EXTRACT" and records is None:
        records = records_to_complete(moved.target)  # a move resumed after its source was deleted
    if moved.outcome != "NOT_AN_EXTRACT" and records is not None:
        result["completed"] = complete_records(records)
    return result


def transfer_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Move every file the batch's notifications name; the answer lists the messages to redeliver."""
    from utilhub.platform import batches  # the consumer's wiring loaded it at init; no other function loads it

    def transfer(record: SQSRecord) -> list[dict[str, Any]]:
        notification = S3Notification.model_validate_json(record.body)
        mover = extract_file_mover()
        results = []
        for created in notification.Records:  # none in S3's test event
            version = created.s3.object.sequencer or created.s3.object.eTag or ""
            journaling = created.key.startswith(EXTRACT)
            try:
                result = run_once(
                    key=f"dacs-transfer#{created.s3.bucket.name}/{created.key}#{version}",
                    fingerprint=created.s3.object.eTag or "",
                    work=partial(_moved, mover, created.key),
                    lambda_context=context,
                )
            except Exception as exc:
                if journaling:
                    reason = loggable(exc)
                    reason = reason if reason.startswith(type(exc).__name__) else f"{type(exc).__name__}: {reason}"
                    journal.changed(POINT, created.key, RETRYING, reason=reason, step="move", system="S3")
                raise
            if journaling:
                journal.changed(POINT, created.key, result["outcome"], reason=outcome_reason(result), step="move", system="S3")
            results.append(result)
        return results

    processor = batches.BatchProcessor(batches.EventType.SQS)
    return dict(batches.process_partial_response(event=event, record_handler=transfer, processor=processor, context=context))
