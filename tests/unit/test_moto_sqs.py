"""localhub.aws.patches.sqs: queue attributes as moto answers them, computed only when read; a queue's messages
changed under its lock, so a concurrent send or receive loses nothing and keeps FIFO order."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto.sqs.models as sqs_models
import pytest
from moto import mock_aws
from moto.sqs.models import Queue, sqs_backends

from localhub.aws.patches import sqs as moto_sqs

REGION = "eu-west-1"


@pytest.fixture
def sqs() -> Iterator[Any]:
    moto_sqs.install()
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def _queue(name: str) -> Queue:
    return sqs_backends["123456789012"][REGION].get_queue(name)


def _moto_attributes(queue: Queue) -> dict[str, Any]:
    """moto's own property, as it was before the change."""
    result: dict[str, Any] = {}
    names = list(queue.BASE_ATTRIBUTES)
    names += queue.FIFO_ATTRIBUTES if queue.fifo_queue else []
    names += queue.KMS_ATTRIBUTES if queue.kms_master_key_id else []  # type: ignore[attr-defined]
    from moto.core.utils import camelcase_to_underscores

    for name in names:
        result[name] = getattr(queue, camelcase_to_underscores(name))
    if queue.policy:
        result["Policy"] = queue.policy
    if queue.redrive_policy:
        result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in result.items()}


def test_attributes_are_moto_s_for_every_kind_of_queue(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="dead.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(
        QueueName="work.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "false",
            "KmsMasterKeyId": "alias/x",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
            "Policy": json.dumps({"Version": "2012-10-17", "Statement": []}),
        },
    )
    sqs.create_queue(QueueName="plain")
    for name in ("dead.fifo", "work.fifo", "plain"):
        queue = _queue(name)
        assert dict(queue.attributes) == _moto_attributes(queue), name
        assert list(queue.attributes) == list(_moto_attributes(queue)), name  # same order
    url = sqs.get_queue_url(QueueName="work.fifo")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="1")
    answered = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert answered["ApproximateNumberOfMessages"] == "1"
    assert answered["ContentBasedDeduplication"] == "false"
    assert json.loads(answered["RedrivePolicy"])["maxReceiveCount"] == 5


def test_sending_to_a_fifo_queue_does_not_count_its_messages(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    scans: list[str] = []
    counted = Queue.approximate_number_of_messages_not_visible

    def counting(self: Queue) -> int:
        scans.append(self.name)
        return counted.fget(self)  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(Queue, "approximate_number_of_messages_not_visible", property(counting))
    for n in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=str(n), MessageGroupId="g", MessageDeduplicationId=str(n))
    assert scans == []  # moto's own property scanned every message three times per send
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"] == "20"
    assert scans == ["work.fifo"]


def _during_call(target: Callable[..., Any], other: Callable[[], Any], call: int = 1) -> Callable[..., Any]:
    """``target``, which on its ``call``-th call starts ``other`` in a thread of its own and gives it
    half a second before going on (as a thread switch at that point would): with the queue's lock
    held ``other`` waits for it, without the lock it runs in the middle of moto's code."""
    started: list[threading.Thread] = []
    calls = [0]

    def hooked(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == call:
            thread = threading.Thread(target=other)
            started.append(thread)
            thread.start()
            thread.join(0.5)
        return target(*args, **kwargs)

    hooked.threads = started  # type: ignore[attr-defined]
    return hooked


def test_a_message_sent_while_another_is_deleted_is_kept(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="first", MessageGroupId="g1", MessageDeduplicationId="1")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]

    def send_another() -> None:
        sqs.send_message(QueueUrl=url, MessageBody="second", MessageGroupId="g2", MessageDeduplicationId="2")

    # moto's delete builds the list of the messages left, then puts it in place of the old one: the
    # other thread runs just before it does (moto's Queue keeps the list in ``_messages``)
    hooked = _during_call(lambda queue, messages: queue.__dict__.__setitem__("_messages", messages), send_another)
    monkeypatch.setattr(Queue, "_messages", property(lambda queue: queue.__dict__["_messages"], hooked), raising=False)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    for thread in hooked.threads:  # type: ignore[attr-defined]
        thread.join()
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
    assert bodies == ["second"]  # moto as released lost it: appended to the list the delete replaced


def test_two_pollers_never_hold_messages_of_one_group_at_once(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqs.create_queue(QueueName="work.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for n in (1, 2):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", MessageGroupId="g", MessageDeduplicationId=str(n))
    other: list[str] = []

    def other_poller() -> None:
        other.extend(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", []))

    # moto's receive first copies the set of groups in flight, then chooses messages by it
    monkeypatch.setattr(sqs_models, "deepcopy", hooked := _during_call(sqs_models.deepcopy, other_poller))  # type: ignore[attr-defined]
    mine = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])]
    for thread in hooked.threads:  # type: ignore[attr-defined]
        thread.join()
    # moto as released gave m1 to the other poller and m2 to this one: group g in two hands, out of order
    assert (mine, other) == (["m1"], [])
