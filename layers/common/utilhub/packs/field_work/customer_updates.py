"""FW-10's order per service point: MWM ends up with the newest customer details CCB sent, whatever the
order in which the relay queue (a standard queue, shared with FW-05 and FW-11) hands the updates over.

One item per service point in the cross-reference table (``CUSTOMER-UPDATES#<servicePointId>``): the
change time and id of the update last applied, and the update being delivered (``inFlight``, with a
lease). Before an update is forwarded, the relay claims its service point (a conditional write): an
update changed no later than the one already applied is skipped; while another update of the service
point is being delivered, the claim fails and the queue hands the update over again after a short
backoff (:class:`~utilhub.platform.relay.RetryLater`), so two updates of one service point never reach
MWM at the same time. The lease outlives the relay function's timeout, so a delivery that dies holding
it blocks its service point only until it expires; a delivery that fails gives the claim back at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from utilhub.packs.field_work.model import CustomerInformationIn
from utilhub.platform.relay import RetryLater
from utilhub.syncrequests.lifecycle import sortable_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# longer than the relay function's timeout (60 s), shorter than the backoffs of a RetryLater up to the relay
# queue's last receive (150 s by the 5th)
KEY_PREFIX = "CUSTOMER-UPDATES#"  # one item per service point in the cross-reference table
LEASE = timedelta(seconds=120)


class ServicePointBusy(RetryLater):
    """Another update of the service point is being delivered: this one is handed over again shortly."""


class CustomerUpdateOrder:
    def __init__(self, table: Table, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._table = table
        self._now = clock

    @staticmethod
    def _key(service_point_id: str) -> dict[str, str]:
        return {"pk": KEY_PREFIX + service_point_id}

    def claim(self, update: CustomerInformationIn) -> str | None:
        """Hold the update's service point; None when the update is to be forwarded, else why it is skipped
        (the claim is then given back). Raises :class:`ServicePointBusy` while another update holds it."""
        now = self._now()
        try:
            item: dict[str, Any] = self._table.update_item(
                Key=self._key(update.servicePointId),
                UpdateExpression="SET inFlight = :id, leaseUntil = :until",
                ConditionExpression="attribute_not_exists(inFlight) OR inFlight = :id OR leaseUntil < :now",
                ExpressionAttributeValues={":id": update.updateId, ":until": sortable_time(now + LEASE), ":now": sortable_time(now)},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise ServicePointBusy(f"another customer update of service point {update.servicePointId} is being delivered") from None
        applied_at, applied_id = item.get("appliedChangedAt"), item.get("appliedUpdateId")
        mine = sortable_time(update.changedAt)
        if applied_at is None or applied_id == update.updateId or str(applied_at) < mine:
            return None
        self.release(update, applied=False)
        return f"changed at {mine}, no later than update {applied_id} ({applied_at}) already applied"

    def release(self, update: CustomerInformationIn, *, applied: bool) -> None:
        """Give the service point back; ``applied``: the update reached MWM, later ones are compared with it."""
        values: dict[str, Any] = {":id": update.updateId}
        expression = "REMOVE inFlight, leaseUntil"
        if applied:
            expression = "SET appliedChangedAt = :at, appliedUpdateId = :id " + expression
            values[":at"] = sortable_time(update.changedAt)
        try:
            self._table.update_item(
                Key=self._key(update.servicePointId),
                UpdateExpression=expression,
                ConditionExpression="inFlight = :id",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:  # the lease expired and another update took the service point: it compares with what it read
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
