"""What the hub knows of each Siebel customer: whether it is synchronized to CCB, its CCB ids, the
image CCB was last given, and when Siebel changed each part of it.

A customer an order is creating in CCB is "synchronizing" from then until the order records it. An
order that never completes (CCB down past the caller's retries, the invocation killed) would leave it
so for good; the item then carries ``synchronizingWait`` (the key of the sparse index
``Synchronizing``) and ``synchronizingSince``, which :meth:`CustomerStore.synchronizing_before`
looks up and :meth:`CustomerStore.end_synchronizing` clears. :meth:`CustomerStore.save` writes
the whole item, so a recorded customer drops out of the index by itself.

One item per Siebel account in the cross-reference table (``CUSTOMER#SEBL#<id>``), written with a
version check, so two writers never both win. The part times are what keeps an older update that
arrives late from overwriting a newer one (CU-02).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from utilhub.packs.customer.ccb import CcbCustomerIn
from utilhub.platform.aws import write_once
from utilhub.platform.problems import Problem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class ConcurrentChange(Problem):
    """Another writer changed the customer since it was read: the caller retries (a 409 over the API, a
    redelivery from the queue)."""

    def __init__(self, siebel_account_id: str) -> None:
        super().__init__(409, "Conflict", f"Customer {siebel_account_id} changed while this request ran; retry it.", "concurrent-change")


def timestamp(at: datetime) -> str:
    """UTC, fixed width: these strings order as the times do."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CustomerState(BaseModel):
    siebelAccountId: str
    synchronized: bool = False
    synchronizing: bool = False  # an order is creating it in CCB now: its updates are queued, not ignored
    ccbPersonId: str | None = None
    ccbAccountId: str | None = None
    image: CcbCustomerIn | None = None
    changedAt: dict[str, str] = Field(default_factory=dict)  # Siebel part -> when Siebel changed it (timestamp())
    version: int = 0
    ignoredUpdates: int = 0


KEY_PREFIX = "CUSTOMER#SEBL#"  # one item per Siebel account (its functions' policies name this prefix)
SYNCHRONIZING_INDEX = "Synchronizing"
SYNCHRONIZING = "CUSTOMER#SYNCHRONIZING"  # the one key of the sparse index: its items are few (orders in flight, or never completed)


def state_of(siebel_account_id: str, item: Mapping[str, Any]) -> CustomerState:
    """A customer's state read from its item."""
    return CustomerState(
        siebelAccountId=siebel_account_id,
        synchronized=bool(item.get("synchronized")),
        synchronizing=bool(item.get("synchronizing")),
        ccbPersonId=item.get("ccbPersonId"),
        ccbAccountId=item.get("ccbAccountId"),
        image=CcbCustomerIn.model_validate_json(str(item["image"])) if item.get("image") else None,
        changedAt=json.loads(str(item.get("changedAt") or "{}")),
        version=int(item.get("version", 0)),
        ignoredUpdates=int(item.get("ignoredUpdates", 0)),
    )


def takes_updates(item: Mapping[str, Any] | None) -> bool:
    """Whether a customer's item says CCB is to have Siebel's updates of it: synchronized, or an order is synchronizing
    it (the updates queued until that ends)."""
    return item is not None and bool(item.get("synchronized") or item.get("synchronizing"))


class CustomerStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    @staticmethod
    def _key(siebel_account_id: str) -> dict[str, str]:
        return {"pk": KEY_PREFIX + siebel_account_id}

    def get(self, siebel_account_id: str) -> CustomerState | None:
        item = self._table.get_item(Key=self._key(siebel_account_id), ConsistentRead=True).get("Item")
        return None if item is None else state_of(siebel_account_id, item)

    def takes_updates(self, siebel_account_id: str) -> bool:
        """:func:`takes_updates` of the customer's item, its two flags read alone (CU-02's intake: its image and part
        times are its delivery's to read)."""
        item = self._table.get_item(
            Key=self._key(siebel_account_id),
            ConsistentRead=True,
            ProjectionExpression="#s, #g",
            ExpressionAttributeNames={"#s": "synchronized", "#g": "synchronizing"},
        ).get("Item")
        return takes_updates(item)

    @classmethod
    def state_item(cls, state: CustomerState) -> dict[str, Any]:
        """The item of ``state`` as its next version, synchronized."""
        if state.image is None or not state.ccbPersonId or not state.ccbAccountId:
            raise ValueError(f"customer {state.siebelAccountId} cannot be recorded as synchronized without its CCB ids and image")
        return {
            **cls._key(state.siebelAccountId),
            "synchronized": True,
            "ccbPersonId": state.ccbPersonId,
            "ccbAccountId": state.ccbAccountId,
            "image": state.image.model_dump_json(exclude_none=True),
            "changedAt": json.dumps(state.changedAt, sort_keys=True),
            "version": state.version + 1,
            "ignoredUpdates": state.ignoredUpdates,
            "updatedAt": timestamp(datetime.now(UTC)),
        }

    def save(self, state: CustomerState) -> CustomerState:
        """Write ``state`` as the next version of what was read (``state.version``); raises :class:`ConcurrentChange`."""
        item = self.state_item(state)
        condition = "attribute_not_exists(pk) OR version = :read" if state.version == 0 else "version = :read"
        try:
            # marked: a retry refused by the version its own first attempt wrote is this record, not a concurrent change
            write_once(self._table.put_item, Item=item, ConditionExpression=condition, ExpressionAttributeValues={":read": state.version})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ConcurrentChange(state.siebelAccountId) from None
            raise
        return state.model_copy(update={"version": state.version + 1, "synchronized": True})

    def mark_synchronizing(self, siebel_account_id: str) -> None:
        """An order is creating the customer in CCB: from now on its updates are not a prospect's.
        Leaves the version alone (the record read before stays the one :meth:`save` checks against)."""
        self._table.update_item(
            Key=self._key(siebel_account_id),
            UpdateExpression="SET synchronizing = :yes, synchronized = if_not_exists(synchronized, :no), "
            "version = if_not_exists(version, :zero), synchronizingWait = :wait, synchronizingSince = :now",
            ExpressionAttributeValues={
                ":yes": True,
                ":no": False,
                ":zero": 0,
                ":wait": SYNCHRONIZING,
                ":now": timestamp(datetime.now(UTC)),
            },
        )

    def synchronizing_before(self, before: datetime) -> Iterator[tuple[str, str]]:
        """The customers an order began to synchronize before ``before`` and never recorded: (Siebel id, since)."""
        query: dict[str, Any] = {
            "IndexName": SYNCHRONIZING_INDEX,
            "KeyConditionExpression": "synchronizingWait = :wait AND synchronizingSince < :before",
            "ExpressionAttributeValues": {":wait": SYNCHRONIZING, ":before": timestamp(before)},
        }
        while True:
            page = self._table.query(**query)
            for item in page.get("Items", []):
                yield str(item["pk"]).removeprefix("CUSTOMER#SEBL#"), str(item["synchronizingSince"])
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def end_synchronizing(self, siebel_account_id: str, since: str) -> bool:
        """The order that began at ``since`` is given up: the customer is no longer being synchronized (a prospect
        again until an order records it). False when it was recorded, or an order began again, meanwhile."""
        try:
            self._table.update_item(
                Key=self._key(siebel_account_id),
                UpdateExpression="REMOVE synchronizing, synchronizingWait SET synchronizingExpiredAt = :now",
                ConditionExpression="synchronizingSince = :since AND synchronized = :no",
                ExpressionAttributeValues={":since": since, ":no": False, ":now": timestamp(datetime.now(UTC))},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def note_prospect(self, siebel_account_id: str) -> bool:
        """Count an update ignored because the customer is not synchronized; False when it is synchronized,
        or being synchronized, by now."""
        try:
            # marked, and refused by its own mark: a retry whose first attempt was applied (its answer lost) counts nothing more
            write_once(
                self._table.update_item,
                refuse_retry=True,
                Key=self._key(siebel_account_id),
                UpdateExpression="SET synchronized = :no, lastIgnoredAt = :now, version = if_not_exists(version, :zero) "
                "ADD ignoredUpdates :one",
                ConditionExpression="attribute_not_exists(pk) OR (synchronized = :no AND attribute_not_exists(synchronizing))",
                ExpressionAttributeValues={":no": False, ":now": timestamp(datetime.now(UTC)), ":one": 1, ":zero": 0},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True
