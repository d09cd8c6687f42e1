"""localhub.aws.patches.models: moto forgets an object once nothing of moto's uses it."""

from __future__ import annotations

import gc
import weakref

import boto3
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item

from localhub.aws.patches import models as moto_models


def test_an_item_replaced_in_its_table_is_freed_and_not_recorded() -> None:
    moto_models.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="t",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        client.put_item(TableName="t", Item={"pk": {"S": "a"}, "v": {"S": "1"}})
        table = dynamodb_backends["123456789012"]["eu-west-1"].get_table("t")
        first = weakref.ref(next(iter(table.items.values())))
        for n in range(2, 50):
            client.put_item(TableName="t", Item={"pk": {"S": "a"}, "v": {"S": str(n)}})
            client.get_item(TableName="t", Key={"pk": {"S": "a"}})
        gc.collect()
        assert first() is None  # moto recorded every instance for its dashboard, so it lived on
        assert Item.instances_tracked == []  # type: ignore[attr-defined]
        assert client.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["v"] == {"S": "49"}
