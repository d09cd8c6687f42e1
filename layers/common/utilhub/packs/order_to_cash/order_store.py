"""Order revisions as OSM posted them, kept where the hub keeps its data.

An order revision carries customers' names, addresses and payment details. It is kept as one item of the
cross-reference table (``ORDER#<orderId>#<revision>``), encrypted with the stack's key like every table,
and the OC-01 workflow carries only the order id and revision: each step reads the order from here, so
no execution's input, output or history holds personal data. An item, not an S3 object: a revision is
at most 256 KB (the limit the intake keeps), under DynamoDB's 400 KB, and one conditional write both keeps
it and refuses other content under the same order id and revision.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from utilhub.packs.order_to_cash.model import FulfillmentOrderIn

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


KEY_PREFIX = "ORDER#"  # then <orderId>#<revision>


class OrderNotKept(LookupError):
    """A workflow step names an order revision the hub does not hold (it is kept before its workflow starts)."""


class OrderStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    @staticmethod
    def _key(order_id: str, revision: int) -> dict[str, str]:
        return {"pk": f"{KEY_PREFIX}{order_id}#{revision}"}

    def keep(self, order: FulfillmentOrderIn, content: str) -> bool:
        """Keep the revision's ``content`` (its canonical JSON); False when it is kept already with other content."""
        try:
            self._table.put_item(
                Item={
                    **self._key(order.orderId, order.revision),
                    "orderId": order.orderId,
                    "revision": order.revision,
                    "order": content,
                    "keptAt": datetime.now(UTC).isoformat(),
                },
                ConditionExpression="attribute_not_exists(pk) OR #order = :order",
                ExpressionAttributeNames={"#order": "order"},
                ExpressionAttributeValues={":order": content},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, order_id: str, revision: int) -> FulfillmentOrderIn:
        item = self._table.get_item(Key=self._key(order_id, revision), ConsistentRead=True).get("Item")
        if item is None:
            raise OrderNotKept(f"no order {order_id} revision {revision} is kept")
        return FulfillmentOrderIn.model_validate_json(str(item["order"]))
