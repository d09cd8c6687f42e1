"""localhub.aws.patches.sqs_move_tasks: SQS's dead-letter queue redrive (StartMessageMoveTask and friends) in moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from localhub.aws.patches import sqs as moto_sqs
from localhub.aws.patches import sqs_move_tasks as moto_sqs_move_tasks

REGION = "eu-west-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    moto_sqs.install()
    moto_sqs_move_tasks.install()
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _pair(sqs: Any, fifo: bool = False) -> tuple[str, str]:
    """A source queue whose messages go to its dead-letter queue after one receive."""
    suffix = ".fifo" if fifo else ""
    attributes = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"orders-dlq{suffix}", Attributes=attributes)["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName=f"orders{suffix}", Attributes={**attributes, "RedrivePolicy": redrive, "VisibilityTimeout": "0"})[
        "QueueUrl"
    ]
    return source, dlq


def _dead_letter(sqs: Any, source: str, bodies: list[str], **send: Any) -> None:
    for body in bodies:
        sqs.send_message(
            QueueUrl=source, MessageBody=body, MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}}, **send
        )
    sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)  # received once: the next receive dead-letters them
    assert sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages") is None


def _bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    return [m["Body"] for m in messages]


def test_a_redrive_moves_every_message_of_a_dead_letter_queue_back_to_its_source(sqs: Any) -> None:
    # Given two messages dead-lettered from their queue
    source, dlq = _pair(sqs)
    _dead_letter(sqs, source, ["o-1", "o-2"])
    # When a move task starts without a destination
    handle = sqs.start_message_move_task(SourceArn=_arn(sqs, dlq))["TaskHandle"]
    # Then the source has them again, received zero times, with their attributes, and the DLQ is empty
    messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"])[
        "Messages"
    ]
    assert sorted(m["Body"] for m in messages) == ["o-1", "o-2"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in messages} == {"1"}
    assert {m["MessageAttributes"]["kind"]["StringValue"] for m in messages} == {"order"}
    assert _bodies(sqs, dlq) == []
    # And the task is listed as completed with what it moved
    [task] = sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq))["Results"]
    assert task["TaskHandle"] == handle
    assert (task["Status"], task["ApproximateNumberOfMessagesMoved"], task["ApproximateNumberOfMessagesToMove"]) == ("COMPLETED", 2, 2)


def test_a_fifo_redrive_keeps_each_message_in_its_group_and_order(sqs: Any) -> None:
    # Given a FIFO dead-letter queue holding two messages of one group, in order
    source, dlq = _pair(sqs, fifo=True)
    for n in (1, 2):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"o-{n}", MessageGroupId="customer-7", MessageDeduplicationId=f"d-{n}")
    # When they are moved back
    sqs.start_message_move_task(SourceArn=_arn(sqs, dlq))
    # Then the source gives them in that order, in their group
    messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [(m["Body"], m["Attributes"]["MessageGroupId"]) for m in messages] == [("o-1", "customer-7"), ("o-2", "customer-7")]


def test_a_redrive_to_a_named_destination(sqs: Any) -> None:
    source, dlq = _pair(sqs)
    other = sqs.create_queue(QueueName="replay")["QueueUrl"]
    _dead_letter(sqs, source, ["o-1"])
    sqs.start_message_move_task(SourceArn=_arn(sqs, dlq), DestinationArn=_arn(sqs, other))
    assert _bodies(sqs, other) == ["o-1"]
    assert _bodies(sqs, source) == []


def test_a_queue_that_is_no_dead_letter_queue_is_refused_and_an_ended_task_cannot_be_cancelled(sqs: Any) -> None:
    source, dlq = _pair(sqs)
    with pytest.raises(ClientError) as refused:
        sqs.start_message_move_task(SourceArn=_arn(sqs, source))
    assert "Dead Letter Queue" in refused.value.response["Error"]["Message"]
    handle = sqs.start_message_move_task(SourceArn=_arn(sqs, dlq))["TaskHandle"]
    with pytest.raises(ClientError) as cancelled:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert cancelled.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_an_unknown_source_is_not_found(sqs: Any) -> None:
    with pytest.raises(ClientError) as missing:
        sqs.start_message_move_task(SourceArn=f"arn:aws:sqs:{REGION}:123456789012:nowhere")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_message_in_flight_is_left_and_one_visible_again_is_moved(sqs: Any) -> None:
    # Given two dead letters: one being read (invisible for a minute), one read and made visible again at once
    source, dlq = _pair(sqs)
    _dead_letter(sqs, source, ["o-1", "o-2"])
    [first] = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    [second] = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"]
    # When they are redriven
    sqs.start_message_move_task(SourceArn=_arn(sqs, dlq))
    # Then the visible one is back in its source, and the one in flight stays in the DLQ
    assert _bodies(sqs, source) == [second["Body"]]
    [task] = sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq))["Results"]
    assert task["ApproximateNumberOfMessagesMoved"] == 1
    assert first["Body"] != second["Body"]


def test_a_fifo_message_its_destination_would_drop_as_a_duplicate_stays_in_the_dead_letter_queue(sqs: Any) -> None:
    # Given a FIFO source still holding a message whose deduplication id a dead letter carries too
    source, dlq = _pair(sqs, fifo=True)
    sqs.send_message(QueueUrl=source, MessageBody="o-1", MessageGroupId="g", MessageDeduplicationId="d-1")
    sqs.send_message(QueueUrl=dlq, MessageBody="o-1 again", MessageGroupId="g", MessageDeduplicationId="d-1")
    # When the dead-letter queue is redriven
    sqs.start_message_move_task(SourceArn=_arn(sqs, dlq))
    # Then nothing was counted moved, and the dead letter is still there rather than dropped
    [task] = sqs.list_message_move_tasks(SourceArn=_arn(sqs, dlq))["Results"]
    assert task["ApproximateNumberOfMessagesMoved"] == 0
    assert _bodies(sqs, dlq) == ["o-1 again"]
