"""localhub.moto_sqs: queue attributes as moto answers them, computed only when read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import Queue, sqs_backends

from localhub import moto_sqs

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
