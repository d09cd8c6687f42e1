"""SQS's dead-letter queue redrive for moto (5.2.5): ``StartMessageMoveTask``, ``ListMessageMoveTasks``
and ``CancelMessageMoveTask``, which moto does not implement (boto3 gets ``NotImplemented``).

On AWS a move task runs in the background at up to ``MaxNumberOfMessagesPerSecond``; here the
messages are moved when the task starts, and the task is listed as ``COMPLETED`` with the number it
moved, so a caller that starts a task and then lists it sees what it would see on AWS once the task
ended. As on AWS:

- the source must be a dead-letter queue of another queue (``InvalidParameterValue`` otherwise);
- without ``DestinationArn`` each message goes back to the queue it was dead-lettered from (moto
  does not record that, so a dead-letter queue of several source queues needs ``DestinationArn``);
- a moved message is a new message of its destination: received zero times, visible at once, with
  its body, attributes and (FIFO) message group; a FIFO message keeps its deduplication id only
  when it has one of its own, else takes its old message id as one;
- a task that has ended cannot be cancelled (``ResourceNotFoundException``).

Written as it could be offered upstream (methods of ``SQSBackend`` and ``SQSResponse``); drop this
module on the day moto ships the actions.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import unix_time_millis
from moto.sqs.exceptions import InvalidParameterValue, SQSException
from moto.sqs.models import Message, Queue, SQSBackend
from moto.sqs.responses import SQSResponse

_installed = False
_install_lock = threading.Lock()


class ResourceNotFound(SQSException):
    code = "ResourceNotFoundException"

    def __init__(self, message: str) -> None:
        super().__init__(self.code, message)


@dataclass
class MoveTask:
    handle: str
    source_arn: str
    destination_arn: str | None
    max_per_second: int | None
    to_move: int
    moved: int = 0
    status: str = "RUNNING"
    started: int = field(default_factory=lambda: int(unix_time_millis()))

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "TaskHandle": self.handle,
            "Status": self.status,
            "SourceArn": self.source_arn,
            "ApproximateNumberOfMessagesMoved": self.moved,
            "ApproximateNumberOfMessagesToMove": self.to_move,
            "StartedTimestamp": self.started,
        }
        if self.destination_arn:
            result["DestinationArn"] = self.destination_arn
        if self.max_per_second is not None:
            result["MaxNumberOfMessagesPerSecond"] = self.max_per_second
        return result


def _tasks(backend: SQSBackend) -> list[MoveTask]:
    tasks: list[MoveTask] | None = getattr(backend, "_message_move_tasks", None)
    if tasks is None:
        tasks = []
        backend._message_move_tasks = tasks  # type: ignore[attr-defined]
    return tasks


def _queue_by_arn(backend: SQSBackend, arn: str) -> Queue:
    for queue in backend.queues.values():
        if queue.queue_arn == arn:
            return queue
    raise ResourceNotFound(f"The resource that you specified for the SourceArn or DestinationArn parameter doesn't exist: {arn}")


def _moved(message: Message, destination: Queue) -> Message:
    copy = Message(message_id=str(uuid.uuid4()), body=message.body, system_attributes=dict(message.system_attributes))
    copy.message_attributes = dict(message.message_attributes)
    copy.sender_id = message.sender_id
    copy.sent_timestamp = int(unix_time_millis())  # type: ignore[assignment]
    if destination.fifo_queue:
        copy.group_id = message.group_id
        copy.deduplication_id = message.deduplication_id or message.id
        copy.sequence_number = message.sequence_number
    return copy


def start_message_move_task(self: SQSBackend, source_arn: str, destination_arn: str | None, max_per_second: int | None) -> str:
    source = _queue_by_arn(self, source_arn)
    if any(task.source_arn == source_arn and task.status == "RUNNING" for task in _tasks(self)):
        raise InvalidParameterValue(
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
        )
    origins = [queue for queue in self.queues.values() if queue.dead_letter_queue is source]
    if not origins:
        raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
    if destination_arn:
        destination = _queue_by_arn(self, destination_arn)
    elif len(origins) == 1:
        destination = origins[0]
    else:
        raise InvalidParameterValue("This dead-letter queue has several source queues: give DestinationArn.")
    if destination is source:
        raise InvalidParameterValue("Source queue arn and destination queue arn cannot be the same.")
    with source._messages_lock:
        messages = [message for message in source._messages if message.visible and not message.delayed]  # in flight: left where it is
        task = MoveTask(f"{uuid.uuid4()}", source_arn, destination_arn, max_per_second, to_move=len(messages))
        _tasks(self).append(task)
        for message in messages:
            before = len(destination._messages)
            destination.add_message(_moved(message, destination))
            if len(destination._messages) == before:  # a FIFO duplicate of one still there: left in the source
                continue
            source._messages.remove(message)
            task.moved += 1
    task.status = "COMPLETED"
    return task.handle


def list_message_move_tasks(self: SQSBackend, source_arn: str, max_results: int) -> list[dict[str, Any]]:
    _queue_by_arn(self, source_arn)
    newest_first = sorted((t for t in _tasks(self) if t.source_arn == source_arn), key=lambda t: -t.started)
    return [task.as_dict() for task in newest_first[:max_results]]


def cancel_message_move_task(self: SQSBackend, handle: str) -> int:
    for task in _tasks(self):
        if task.handle == handle and task.status == "RUNNING":
            task.status = "CANCELLED"
            return task.moved
    raise ResourceNotFound("Task does not exist, or it is not running.")


def _start(self: SQSResponse) -> ActionResult:
    max_per_second = self._get_param("MaxNumberOfMessagesPerSecond")
    handle = self.sqs_backend.start_message_move_task(  # type: ignore[attr-defined]
        self._get_param("SourceArn"), self._get_param("DestinationArn"), int(max_per_second) if max_per_second else None
    )
    return ActionResult({"TaskHandle": handle})


def _list(self: SQSResponse) -> ActionResult:
    max_results = int(self._get_param("MaxResults") or 1)
    if not 1 <= max_results <= 10:
        raise InvalidParameterValue("Value for parameter MaxResults is invalid. Reason: must be between 1 and 10.")
    results = self.sqs_backend.list_message_move_tasks(self._get_param("SourceArn"), max_results)  # type: ignore[attr-defined]
    return ActionResult({"Results": results})


def _cancel(self: SQSResponse) -> ActionResult | EmptyResult:
    moved = self.sqs_backend.cancel_message_move_task(self._get_param("TaskHandle"))  # type: ignore[attr-defined]
    return ActionResult({"ApproximateNumberOfMessagesMoved": moved})


def install() -> None:
    """Add the three actions to moto's SQS (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        SQSBackend.start_message_move_task = start_message_move_task  # type: ignore[attr-defined]
        SQSBackend.list_message_move_tasks = list_message_move_tasks  # type: ignore[attr-defined]
        SQSBackend.cancel_message_move_task = cancel_message_move_task  # type: ignore[attr-defined]
        SQSResponse.start_message_move_task = _start  # type: ignore[attr-defined]
        SQSResponse.list_message_move_tasks = _list  # type: ignore[attr-defined]
        SQSResponse.cancel_message_move_task = _cancel  # type: ignore[attr-defined]
        _installed = True
