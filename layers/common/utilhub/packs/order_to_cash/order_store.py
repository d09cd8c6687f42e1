"""Order revisions as OSM posted them, kept where the hub keeps its data.

An order revision carries customers' names, addresses and payment details. It is kept as one item of the
cross-reference table (``ORDER#<orderId>#<revision>``), encrypted with the stack's key like every table,
and the OC-01 workflow carries only the order id and revision: each step reads the order from here, so
no execution's input, output or history holds personal data. An item, not an S3 object: a revision is
at most 256 KB (the limit the intake keeps), under DynamoDB's 400 KB, and one conditional write both keeps
it and refuses other content under the same order id and revision.

Revisions of one order apply in order: next to its revisions, an order has a marker of the latest revision
accepted (``ORDER#<orderId>#LATEST``), written in the same transaction as the revision it accepts, on
condition that it names no later revision. A revision older than one accepted is refused (and never kept),
so it can neither start a workflow nor revert what the later revision changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from utilhub.packs.order_to_cash.model import FulfillmentOrderIn

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


KEY_PREFIX = "ORDER#"  # then <orderId>#<revision>, or <orderId>#LATEST for the order's latest revision accepted
LATEST = "LATEST"


class Verdict(StrEnum):
    ACCEPTED = "ACCEPTED"  # kept now, or kept before with the same content
    OTHER_CONTENT = "OTHER_CONTENT"  # the revision is kept with other content
    SUPERSEDED = "SUPERSEDED"  # a later revision of the order was accepted


@dataclass(frozen=True)
class Acceptance:
    verdict: Verdict
    latest: int | None = None  # for SUPERSEDED: the latest revision accepted


class OrderNotKept(LookupError):
    """A workflow step names an order revision the hub does not hold (it is kept before its workflow starts)."""


class OrderStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    @staticmethod
    def _key(order_id: str, revision: int) -> dict[str, str]:
        return {"pk": f"{KEY_PREFIX}{order_id}#{revision}"}

    @staticmethod
    def _latest_key(order_id: str) -> dict[str, str]:
        return {"pk": f"{KEY_PREFIX}{order_id}#{LATEST}"}

    def accept(self, order: FulfillmentOrderIn, content: str) -> Acceptance:
        """Keep the revision's ``content`` (its canonical JSON) and make it the order's latest revision, in one transaction.

        A revision kept before with the same content is accepted again (a retry), whatever came after it; other
        content under a kept revision is refused, and so is a new revision older than the latest accepted.
        """
        now = datetime.now(UTC).isoformat()
        client = self._table.meta.client
        try:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": {
                                **self._key(order.orderId, order.revision),
                                "orderId": order.orderId,
                                "revision": order.revision,
                                "order": content,
                                "keptAt": now,
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table.name,
                            "Item": {**self._latest_key(order.orderId), "orderId": order.orderId, "latest": order.revision, "at": now},
                            "ConditionExpression": "attribute_not_exists(pk) OR latest <= :revision",
                            "ExpressionAttributeValues": {":revision": order.revision},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" not in reasons:
                raise
            kept = self._kept(order.orderId, order.revision)
            if kept is not None:
                return Acceptance(Verdict.ACCEPTED if kept == content else Verdict.OTHER_CONTENT)
            latest = self.latest(order.orderId)
            if latest is not None and latest > order.revision:
                return Acceptance(Verdict.SUPERSEDED, latest)
            raise  # neither kept nor superseded: a race the caller's retry resolves
        return Acceptance(Verdict.ACCEPTED)

    def _kept(self, order_id: str, revision: int) -> str | None:
        item = self._table.get_item(Key=self._key(order_id, revision), ConsistentRead=True).get("Item")
        return str(item["order"]) if item else None

    def latest(self, order_id: str) -> int | None:
        """The latest revision of the order accepted, or None when none was."""
        item = self._table.get_item(Key=self._latest_key(order_id), ConsistentRead=True).get("Item")
        return int(str(item["latest"])) if item else None

    def get(self, order_id: str, revision: int) -> FulfillmentOrderIn:
        item = self._table.get_item(Key=self._key(order_id, revision), ConsistentRead=True).get("Item")
        if item is None:
            raise OrderNotKept(f"no order {order_id} revision {revision} is kept")
        return FulfillmentOrderIn.model_validate_json(str(item["order"]))
