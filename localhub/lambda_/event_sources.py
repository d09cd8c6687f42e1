"""Event sources of the template, run locally: SQS event source mappings and schedules.

:class:`SqsEventSource` does what Lambda's SQS poller does: receive up to ``BatchSize``
messages, build the ``Records`` event Lambda builds, invoke the function, delete what
succeeded (all of it, or all but the ``batchItemFailures`` with ``ReportBatchItemFailures``)
and leave the rest to come back after the visibility timeout; the queue's own redrive
policy moves a message to its DLQ after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from localhub.lambda_.runtime import Invocation, invoke
from localhub.template import EventSource, FunctionSpec, LocalStack

# What SQS answers a visibility change of a receipt that no longer names a message in flight
STALE_RECEIPT = frozenset(
    {"ReceiptHandleIsInvalid", "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "InvalidParameterValue"}
)

Invoker = Callable[[FunctionSpec, Any], Invocation]
# Lambda's SQS pollers: 5 at first, and ScalingConfig.MaximumConcurrency (2..1000) caps them.
DEFAULT_POLLERS = 5


@dataclass
class PollResult:
    received: int = 0
    deleted: int = 0
    failed: int = 0
    invocation: Invocation | None = None


class SqsEventSource:
    def __init__(self, stack: LocalStack, function: FunctionSpec, event: EventSource, sqs: Any, invoker: Invoker = invoke) -> None:
        self.function = function
        self.name = f"{function.logical_id}.{event.name}"
        scaling = event.properties.get("ScalingConfig", {}).get("MaximumConcurrency")
        # how many batches are handled at once: the mapping's cap, or the function's own
        self.concurrency = int(scaling or (DEFAULT_POLLERS if function.reserved_concurrency is None else function.reserved_concurrency))
        self._invoke = invoker
        self.queue_arn: str = event.properties["Queue"]
        self.batch_size = int(event.properties.get("BatchSize", 10))
        self.window = int(event.properties.get("MaximumBatchingWindowInSeconds", 0))
        self.partial = "ReportBatchItemFailures" in event.properties.get("FunctionResponseTypes", [])
        self.queue_url = next(p.ref for p in stack.physical.values() if p.attributes.get("Arn") == self.queue_arn)
        self._sqs = sqs
        self._region = stack.region
        self._failed_receipts: list[str] = []
        self._receipts_lock = threading.Lock()  # the mapping's pollers share the list
        # set while the queue gives messages: the mapping's pollers beyond the first poll only then
        self.busy = threading.Event()
        self._invoking = 0  # batches of this mapping being handled now (under _receipts_lock)

    @functools.cached_property
    def visibility_timeout(self) -> int:
        """The queue's visibility timeout (seconds): how long a failed message waits before it comes back."""
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
        return int(attributes["VisibilityTimeout"])

    @property
    def invoking(self) -> int:
        with self._receipts_lock:
            return self._invoking

    def poll_once(self, wait_seconds: int = 0) -> PollResult:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            WaitTimeSeconds=wait_seconds or self.window,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        result = PollResult(received=len(messages))
        if not messages:
            return result
        event = {"Records": [self._record(m) for m in messages]}
        with self._receipts_lock:
            self._invoking += 1
        try:
            invocation = self._invoke(self.function, event)
        finally:
            with self._receipts_lock:
                self._invoking -= 1
        result.invocation = invocation
        if invocation.failed:
            result.failed = len(messages)
            with self._receipts_lock:
                self._failed_receipts += [m["ReceiptHandle"] for m in messages]
            return result
        failed_ids: set[str] = set()
        if self.partial and isinstance(invocation.result, dict):
            failed_ids = {f["itemIdentifier"] for f in invocation.result.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        result.deleted = len(done)
        result.failed = len(messages) - len(done)
        with self._receipts_lock:
            self._failed_receipts += [m["ReceiptHandle"] for m in messages if m["MessageId"] in failed_ids]
        return result

    def expire_visibility(self) -> int:
        """Make the messages that failed visible again now, as if their visibility timeout had passed."""
        with self._receipts_lock:
            handles, self._failed_receipts = self._failed_receipts, []
        made_visible = 0
        for handle in handles:
            try:
                self._sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
            except ClientError as exc:
                # the message is no longer in flight under this receipt: deleted, moved to its DLQ, or received
                # again since (a new receipt); SQS then refuses the handle, and there is nothing to make visible
                if exc.response["Error"]["Code"] not in STALE_RECEIPT:
                    raise
                continue
            made_visible += 1
        return made_visible

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self._region,
        }


def sqs_event_sources(stack: LocalStack, sqs: Any, invoker: Invoker = invoke) -> list[SqsEventSource]:
    """Every SQS event source mapping of the template."""
    return [
        SqsEventSource(stack, function, event, sqs, invoker)
        for function in stack.functions()
        for event in function.events
        if event.type == "SQS"
    ]


def scheduled_event(stack: LocalStack, function: FunctionSpec, event: EventSource, at: datetime.datetime | None = None) -> dict[str, Any]:
    """The EventBridge event a ``Schedule`` event source delivers, fired now or ``at`` (a later time that a fault
    run's compressed time stands for)."""
    import uuid

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": stack.account_id,
        "time": (at or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": stack.region,
        "resources": [stack.arn("events", f"rule/{function.name}-{event.name}")],
        "detail": {},
    }
