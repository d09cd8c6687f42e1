"""A queued message's last try: when a consumer's failed try was its queue's ``maxReceiveCount``-th receive, SQS
moves the message to the queue's dead-letter queue, and the transaction it carries is journaled ``DEAD_LETTERED``
(the journal's ``FAILED``, with the number of tries and the last failure), so the operators' list shows it failed and
waiting in the dead-letter queue, not still on its way. A redrive delivers it as a new message, whose outcome the
consumer journals as usual (``DELIVERED``, ``SYNCHRONIZED``...), at a later time, so it replaces this state.

One mechanism for every consumer whose messages can reach a dead-letter queue: the relays (``platform/relay.py``),
the sync requests' delivery (``syncrequests/delivery.py``) and CU-02's customer updates (``packs/customer/updates.py``).
On a FIFO queue, the messages of a group held back behind a failed one (:func:`held_back`) are never handed to the
consumer, yet each receive counts for them too: they reach the dead-letter queue with it, and are journaled so, naming
the message they were held behind. The relays, CU-02's updates and FW-02's activity events process their batches with
:func:`process_batch`, which tells each consumer of the records it held back, for the consumer to journal them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from utilhub.platform import journal, wiring
from utilhub.platform.observability import logger
from utilhub.platform.wiring import per_process

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

DEAD_LETTERED = "DEAD_LETTERED"

# told of a record of a FIFO batch held back behind a failed one of its group (never handed to the consumer), and of
# the first record of that group the consumer failed (None when that one is not in the batch)
HeldBack = Callable[["SQSRecord", "SQSRecord | None"], None]


def queue_url(sqs: Any, arn: str) -> str:
    """The URL of the queue ``arn`` names, at ``sqs``'s endpoint."""
    *_, account, name = arn.split(":")
    return f"{sqs.meta.endpoint_url}/{account}/{name}"


@per_process
def redrive_policy_of(sqs: Any, source_arn: str) -> tuple[str, int]:
    """A source queue's dead-letter queue's URL and its ``maxReceiveCount`` (its RedrivePolicy), asked once per process."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url(sqs, source_arn), AttributeNames=["RedrivePolicy"])["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    return queue_url(sqs, policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])


def tries_if_last(record: SQSRecord) -> int | None:
    """How many times the queue has handed ``record`` over, if this was its last try (SQS moves it to the dead-letter
    queue when the try fails); None when it was not, or when the queue's policy could not be read (throttled: the
    state stays as it was, the queue's alarms still see the message)."""
    receives = int(record.attributes.approximate_receive_count)
    try:
        _, tries = redrive_policy_of(wiring.sqs(), record.event_source_arn)
    except Exception as exc:
        logger.warning("redrive policy not read", extra={"queue": record.event_source_arn, "error": type(exc).__name__})
        return None
    return receives if receives >= tries else None


def dead_lettered_reason(tries: int, reason: str) -> str:
    """What the operators read of a message moved to its dead-letter queue after ``tries`` tries, the last failing with
    ``reason`` (never a value the message carried)."""
    return f"not delivered after {tries} tries ({reason[:400]}); in the dead-letter queue"


def journal_dead_lettered(point: str, transaction_id: str, tries: int, reason: str) -> None:
    """Journal the transaction ``transaction_id`` of ``point`` ``DEAD_LETTERED`` after ``tries`` failed tries, the last
    failing with ``reason`` (never a value the message carried)."""
    journal.changed(point, transaction_id, DEAD_LETTERED, reason=dead_lettered_reason(tries, reason), step="dead-lettered")


def journal_if_last(record: SQSRecord, point: str, transaction_id: str, reason: str) -> bool:
    """After a failed try of ``record`` (the transaction ``transaction_id`` of ``point``): if it was the queue's last,
    journal the transaction ``DEAD_LETTERED`` with ``reason``. True when it was."""
    tries = tries_if_last(record)
    if tries is None:
        return False
    journal_dead_lettered(point, transaction_id, tries, reason)
    return True


def dead_letter_now(record: SQSRecord, reason: str, status: int, *, group: str | None = None) -> None:
    """Move ``record`` to its queue's dead-letter queue now, its try refused for good (retrying the same message would be
    refused again), with ``status`` and ``reason`` as the message attributes ``refusedStatus`` and ``refusedReason``
    (the reason cut short: the message's values stay in its body only); the record is then done with at its source.
    A FIFO queue's message keeps its group (``group`` for a record without one, else its own message id), so a redrive
    delivers it in that group's order."""
    sqs = wiring.sqs()
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        "refusedStatus": {"DataType": "Number", "StringValue": str(status)},
        "refusedReason": {"DataType": "String", "StringValue": reason[:500] or "refused"},
    }
    dead_letters, _ = redrive_policy_of(sqs, record.event_source_arn)
    if record.event_source_arn.endswith(".fifo"):
        sqs.send_message(
            QueueUrl=dead_letters,
            MessageBody=record.body,
            MessageAttributes=attributes,
            MessageGroupId=record.attributes.message_group_id or group or record.message_id,
            MessageDeduplicationId=record.message_id,
        )
    else:
        sqs.send_message(QueueUrl=dead_letters, MessageBody=record.body, MessageAttributes=attributes)


def held_back(records: Sequence[Mapping[str, Any]], handed: set[str], failed: set[str]) -> Iterator[tuple[SQSRecord, SQSRecord | None]]:
    """The records of a FIFO batch (``records``, as the event lists them) skipped behind a failed one of their group:
    among those ``failed`` (to redeliver), the ones never ``handed`` to the consumer, each with the first record of
    its group the consumer failed (None when that one is not in this batch)."""
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    blockers: dict[str | None, SQSRecord] = {}  # a group's failed record, the first of the batch
    for raw in records:
        record = SQSRecord(dict(raw))
        if record.message_id not in failed:
            continue
        group = record.attributes.message_group_id
        if record.message_id in handed:
            blockers.setdefault(group, record)
            continue
        yield record, blockers.get(group)


def process_batch(
    event: dict[str, Any], context: Any, record_handler: Callable[[SQSRecord], Any], on_held_back: HeldBack
) -> dict[str, Any]:
    """Process an SQS batch with Powertools' partial batch response (a FIFO queue's stops a group at its first failure,
    its later records handed back unprocessed: ``batches.processor_for``), each record given to ``record_handler``; the
    answer lists the records to redeliver. Then ``on_held_back`` is told of each record held back behind a failed one
    of its group (:func:`held_back`), the consumer's own part: which transaction the record carries, how it names the
    one it was held behind, where it journals it. When every record failed, Powertools raises ``BatchProcessingError``
    (each record handed back): the held back records are told of all the same, then it is raised."""
    from utilhub.platform import batches  # the consumer's wiring loaded it at init; no other function loads it

    handed: set[str] = set()  # the records given to `record_handler` (a FIFO batch skips those behind a failed one of their group)

    def handle(record: SQSRecord) -> Any:
        handed.add(record.message_id)
        return record_handler(record)

    records = event.get("Records") or []
    try:
        answer = batches.process_partial_response(
            event=event, record_handler=handle, processor=batches.processor_for(event), context=context
        )
    except batches.BatchProcessingError:  # every record failed: each is handed back
        _tell_held_back(records, handed, {record["messageId"] for record in records}, on_held_back)
        raise
    _tell_held_back(records, handed, {str(failure["itemIdentifier"]) for failure in answer["batchItemFailures"]}, on_held_back)
    return dict(answer)


def _tell_held_back(records: Sequence[Mapping[str, Any]], handed: set[str], failed: set[str], on_held_back: HeldBack) -> None:
    for record, blocker in held_back(records, handed, failed):
        on_held_back(record, blocker)
