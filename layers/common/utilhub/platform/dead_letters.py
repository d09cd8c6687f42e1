"""Dead-letter queues an operator can see and redrive: the messages the hub could not deliver after
every retry, sent back to the queue they came from.

A redrive is SQS's own (``StartMessageMoveTask``): SQS moves each message back to its source queue,
where its consumer takes it as a new message; the consumers are idempotent (business ids and
idempotency keys), so a message that had reached its target before it was dead-lettered changes
nothing the second time. The queues are configuration: a name an operator uses
(``field-work/relay``) for each queue URL (``UTILHUB_DEAD_LETTER_QUEUES``, set by the template).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from utilhub.platform.observability import logger


class UnknownQueue(LookupError):
    """No dead-letter queue of that name."""


class NothingToRedrive(RuntimeError):
    """The dead-letter queue is empty, or a redrive of it is already moving its messages."""


@dataclass(frozen=True)
class DeadLetters:
    name: str
    messages: int
    # messages received from it and not yet deleted (being moved, or read by an operator)
    in_flight: int
    # when the oldest message seen was first sent (ISO-8601 UTC); None when the queue holds none
    oldest_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"queue": self.name, "messages": self.messages, "inFlight": self.in_flight, "oldestAt": self.oldest_at}


@dataclass(frozen=True)
class Redrive:
    name: str
    task: str
    messages: int

    def as_dict(self) -> dict[str, Any]:
        return {"queue": self.name, "taskHandle": self.task, "messages": self.messages}


class DeadLetterQueues:
    def __init__(self, sqs: Any, queues: Mapping[str, str]) -> None:
        self._sqs = sqs
        self._queues = dict(queues)

    @property
    def names(self) -> list[str]:
        return sorted(self._queues)

    def _attributes(self, name: str) -> dict[str, str]:
        url = self._queues.get(name)
        if url is None:
            raise UnknownQueue(name)
        names = ["QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes: dict[str, str] = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return attributes

    def depth(self, name: str) -> DeadLetters:
        attributes = self._attributes(name)
        messages = int(attributes["ApproximateNumberOfMessages"])
        return DeadLetters(
            name, messages, int(attributes["ApproximateNumberOfMessagesNotVisible"]), self._oldest(name) if messages else None
        )

    def _oldest(self, name: str) -> str | None:
        """When the oldest of the messages a look at the queue returns was first sent (a dead-lettered message keeps
        its first ``SentTimestamp``). A look is a receive that leaves them visible at once (``VisibilityTimeout=0``):
        up to 10 messages, so on a deep standard queue it is the oldest of those, close to the queue's oldest."""
        answer = self._sqs.receive_message(
            QueueUrl=self._queues[name],
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["SentTimestamp"],
        )
        sent = [int(m["Attributes"]["SentTimestamp"]) for m in answer.get("Messages", []) if "SentTimestamp" in m.get("Attributes", {})]
        return datetime.fromtimestamp(min(sent) / 1000, UTC).isoformat() if sent else None

    def depths(self) -> list[DeadLetters]:
        return [self.depth(name) for name in self.names]

    def redrive(self, name: str) -> Redrive:
        """Send every message of the queue ``name`` back to its source queue."""
        attributes = self._attributes(name)
        waiting = int(attributes["ApproximateNumberOfMessages"])
        if waiting == 0:
            raise NothingToRedrive(f"The dead-letter queue {name} holds no message.")
        try:
            task = self._sqs.start_message_move_task(SourceArn=attributes["QueueArn"])["TaskHandle"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("InvalidParameterValue", "InvalidParameterValueException") and "task" in str(
                exc.response["Error"].get("Message", "")
            ):
                raise NothingToRedrive(f"A redrive of {name} is already moving its messages.") from None
            raise
        logger.info("dead letters redriven", extra={"queue": name, "messages": waiting, "task": task})
        return Redrive(name, str(task), waiting)
