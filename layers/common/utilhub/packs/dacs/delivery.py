"""DA-03: the entry point of the transfer handler (an SQS batch of S3 notifications)."""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from utilhub.packs.dacs.sync import complete_records, records_to_complete
from utilhub.packs.dacs.transfer import EXTRACT, ExtractFileMover, S3Notification
from utilhub.packs.dacs.wiring import extract_file_mover
from utilhub.platform.idempotency import run_once


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

    def transfer(record: SQSRecord) -> list[dict[str, Any]]:
        notification = S3Notification.model_validate_json(record.body)
        mover = extract_file_mover()
        results = []
        for created in notification.Records:  # none in S3's test event
            version = created.s3.object.sequencer or created.s3.object.eTag or ""
            results.append(
                run_once(
                    key=f"dacs-transfer#{created.s3.bucket.name}/{created.key}#{version}",
                    fingerprint=created.s3.object.eTag or "",
                    work=partial(_moved, mover, created.key),
                    lambda_context=context,
                )
            )
        return results

    return dict(process_partial_response(event=event, record_handler=transfer, processor=BatchProcessor(EventType.SQS), context=context))
