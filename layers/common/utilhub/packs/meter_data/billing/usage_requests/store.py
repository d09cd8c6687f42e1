"""The usage request table: one item per ``usageRequestId``, every transition conditional and recorded."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from utilhub.platform import aws, journal
from utilhub.platform.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from utilhub.packs.meter_data.billing.usage_requests.ccb_errors import UsageErrorsToCcb

from utilhub.packs.meter_data.billing.usage_requests.model import (
    INDEX,
    INDEXED,
    RETENTION,
    SHARDS,
    UsageRequestIn,
    UsageStatus,
    _now,
    _shard,
)

POINT = "MD-11"
OWED = "OUTCOME"  # the index partition of the requests in ERROR whose notice CCB has not been queued yet


def packed(value: dict[str, Any]) -> bytes:
    """Determinants (or a result) as the item keeps them: compact JSON, compressed."""
    return zlib.compress(json.dumps(value, separators=(",", ":")).encode())


def resubmission_path(usage_request_id: str) -> str:
    """The route that runs a usage request again (the transactions journal names it, docs/operations.md)."""
    return f"/meter-data/usage-requests/{quote(usage_request_id, safe='')}/resubmission"


class UsageRequestStore:
    def __init__(self, table: Table, *, clock: Callable[[], datetime] = _now, on_error: UsageErrorsToCcb | None = None) -> None:
        self._table = table
        self._client = table.meta.client
        self._now = clock
        # told each request this store made ERROR (its new image, reason, time), once the write succeeded (ccb_errors.py)
        self._on_error = on_error

    def new_item(self, request: UsageRequestIn, status: UsageStatus, reason: str, correlation: str) -> dict[str, Any]:
        now = self._now()
        at = now.isoformat()
        item: dict[str, Any] = {
            "pk": request.usageRequestId,
            "request": request.model_dump_json(),
            "saId": request.saId,
            "fingerprint": request.fingerprint(),
            "status": status.value,
            "correlationId": correlation,
            "receivedAt": at,
            "history": [{"status": status.value, "at": at, "reason": reason}],
            "expiresAt": int((now + RETENTION).timestamp()),
            "gsi1pk": f"{status.value}#{_shard(request.usageRequestId)}",
            "gsi1sk": f"{at}#{request.usageRequestId}",
        }
        return item

    def put_new(self, items: Sequence[dict[str, Any]]) -> set[str]:
        """Put ``items`` that do not exist yet; the ids that existed already."""
        existed = {str(item["pk"]) for item in aws.put_absent(self._table, items)}
        for item in items:
            if (rid := str(item["pk"])) not in existed:
                reason = str(item["history"][0]["reason"])
                journal.changed(
                    POINT, rid, str(item["status"]), reason=reason, step="intake", system="CCB", resubmit=resubmission_path(rid)
                )
        return existed

    def get_many(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {self._table.name: {"Keys": [{"pk": i} for i in wanted[start : start + 100]], "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    found[str(item["pk"])] = item
                request = response.get("UnprocessedKeys") or {}
        return found

    def get(self, usage_request_id: str) -> dict[str, Any] | None:
        return self._table.get_item(Key={"pk": usage_request_id}, ConsistentRead=True).get("Item")

    def transition(
        self,
        usage_request_id: str,
        from_status: Sequence[UsageStatus],
        to_status: UsageStatus,
        reason: str,
        *,
        result: dict[str, Any] | None = None,
        lease_until: datetime | None = None,
        unleased_at: datetime | None = None,
        sent_to_ccb: bool | None = None,
    ) -> dict[str, Any] | None:
        """Move the request from one of ``from_status`` to ``to_status``: its new image, or None when it was not in
        one of them. ``lease_until``: the lease of the attempt that moves it; ``unleased_at``: only when no lease is
        held at that time; ``sent_to_ccb``: only when an attempt has (True) or has not (False) kept determinants to
        send to CCB."""
        at = self._now().isoformat()
        values: dict[str, Any] = {
            ":to": to_status.value,
            ":h": [{"status": to_status.value, "at": at, "reason": reason[:500]}],
            **{f":f{n}": s.value for n, s in enumerate(from_status)},
        }
        sets = ["#s = :to", "history = list_append(history, :h)", "updatedAt = :at"]
        values[":at"] = at
        removes: list[str] = []
        owed = to_status is UsageStatus.ERROR and self._on_error is not None and self._on_error.enabled
        if owed and self._on_error is not None:
            # the outbox: owing CCB its notice, in the same write, under the shard's OUTCOME partition until queued
            sets += ["outcomeOwed = :owed", "gsi1pk = :gpk", "gsi1sk = :gsk"]
            values[":owed"] = self._on_error.event_id(usage_request_id, at)
            values[":gpk"] = f"{OWED}#{_shard(usage_request_id)}"
            values[":gsk"] = f"{at}#{usage_request_id}"
        elif to_status in INDEXED:
            removes.append("outcomeOwed")  # a later transition: a notice still owed is behind it (CCB keeps the last)
            sets += ["gsi1pk = :gpk", "gsi1sk = :gsk"]
            values[":gpk"] = f"{to_status.value}#{_shard(usage_request_id)}"
            values[":gsk"] = f"{at}#{usage_request_id}"
        else:
            removes += ["gsi1pk", "gsi1sk", "outcomeOwed"]
        if to_status is UsageStatus.COMPLETED:  # the result holds the determinants now
            removes += ["determinantsZ", "leaseUntil"]
        if result is not None:
            sets.append("resultZ = :r")
            values[":r"] = packed(result)
        if lease_until is not None:
            sets.append("leaseUntil = :lease")
            values[":lease"] = lease_until.isoformat()
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        condition = "#s IN (" + ", ".join(f":f{n}" for n in range(len(from_status))) + ")"
        if unleased_at is not None:
            condition += " AND (attribute_not_exists(leaseUntil) OR leaseUntil < :unleased)"
            values[":unleased"] = unleased_at.isoformat()
        if sent_to_ccb is not None:
            condition += f" AND {'attribute_exists' if sent_to_ccb else 'attribute_not_exists'}(determinantsZ)"
        try:
            # marked: a retry refused by what its own first attempt wrote is this transition, written (write_once)
            image: dict[str, Any] = aws.write_once(
                self._table.update_item,
                Key={"pk": usage_request_id},
                UpdateExpression=expression,
                ConditionExpression=f"attribute_exists(pk) AND {condition}",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        journal.changed(POINT, usage_request_id, to_status.value, reason=reason[:500], step=to_status.value.lower())
        if to_status is UsageStatus.ERROR and self._on_error is not None and self._on_error(image, reason[:500], at) and owed:
            self._settle(usage_request_id, self._on_error.event_id(usage_request_id, at))
        return image

    def _settle(self, usage_request_id: str, event_id: str) -> None:
        """The notice was queued: the mark goes, if it is still its own."""
        try:
            self._table.update_item(
                Key={"pk": usage_request_id},
                UpdateExpression="REMOVE outcomeOwed, gsi1pk, gsi1sk",
                ConditionExpression="outcomeOwed = :id",
                ExpressionAttributeValues={":id": event_id},
            )
        except ClientError as exc:  # moved on since, or the write failed: tell_owed queues it again, CCB hears it once
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                logger.warning("usage request notice mark not cleared", extra={"usageRequestId": usage_request_id})

    def tell_owed(self, written_before: datetime) -> int:
        """Queue again the notices CCB is owed whose ERROR was written before ``written_before`` (their writer failed
        to queue them), and clear their marks: how many were queued."""
        if self._on_error is None or not self._on_error.enabled:
            return 0
        told = 0
        for entry in self._indexed(OWED, before=written_before):
            usage_request_id = str(entry["pk"])
            item = self._table.get_item(Key={"pk": usage_request_id}, ConsistentRead=True).get("Item")
            if not item or "outcomeOwed" not in item:
                continue  # queued meanwhile, or resubmitted (the index lags the table)
            last = item["history"][-1]  # type: ignore[index]
            at, reason = str(last["at"]), str(last["reason"])  # type: ignore[index]
            if self._on_error.event_id(usage_request_id, at) != item["outcomeOwed"]:
                logger.error("owed notice does not match its request's last transition", extra={"eventId": item["outcomeOwed"]})
                continue
            if self._on_error(item, reason, at):
                self._settle(usage_request_id, str(item["outcomeOwed"]))
                told += 1
        return told

    def lease(self, usage_request_id: str, until: datetime, now: datetime) -> bool:
        """Lease a SENT request to an attempt until ``until``; False when it is not SENT or another attempt holds it."""
        try:
            aws.write_once(  # marked: a retry refused by the lease its own first attempt took holds that lease
                self._table.update_item,
                Key={"pk": usage_request_id},
                UpdateExpression="SET leaseUntil = :until",
                ConditionExpression="#s = :sent AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":until": until.isoformat(), ":now": now.isoformat(), ":sent": UsageStatus.SENT.value},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def keep_determinants(self, usage_request_id: str, determinants: dict[str, Any], lease: datetime) -> bool:
        """Keep MDM's determinants on the request before they go to CCB (a redelivery sends the same ones again without
        asking MDM); False when this attempt no longer holds the lease."""
        try:
            self._table.update_item(
                Key={"pk": usage_request_id},
                UpdateExpression="SET determinantsZ = :d",
                ConditionExpression="#s = :sent AND leaseUntil = :lease",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":d": packed(determinants),
                    ":sent": UsageStatus.SENT.value,
                    ":lease": lease.isoformat(),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def requeued(self, usage_request_ids: Sequence[str], now: datetime) -> None:
        """Mark PENDING requests queued again now: their place in the status index moves to now, so the next release
        runs do not queue them again while their messages wait behind a backlog (only after REQUEUE_AFTER more)."""
        at = now.isoformat()
        for rid in usage_request_ids:
            try:
                self._table.update_item(
                    Key={"pk": rid},
                    UpdateExpression="SET gsi1sk = :gsk",
                    ConditionExpression="#s = :pending",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":gsk": f"{at}#{rid}", ":pending": UsageStatus.PENDING.value},
                )
            except ClientError as exc:  # worked meanwhile (no longer PENDING), or the write failed: queued again later at worst
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    def give_back(self, usage_request_id: str, until: datetime) -> None:
        """End this attempt's lease (the one until ``until``) so that a redelivery can work the request at once;
        when the write fails, the lease simply runs out."""
        try:
            self._table.update_item(
                Key={"pk": usage_request_id},
                UpdateExpression="REMOVE leaseUntil",
                ConditionExpression="leaseUntil = :until",
                ExpressionAttributeValues={":until": until.isoformat()},
            )
        except ClientError as exc:
            logger.info(
                "usage request lease not given back", extra={"usageRequestId": usage_request_id, "error": exc.response["Error"]["Code"]}
            )

    def indexed(self, status: UsageStatus, *, before: datetime | None = None) -> Iterator[dict[str, Any]]:
        """The requests in ``status`` (AWAITING_DATA_SYNC, PENDING or SENT), every shard, oldest first."""
        return self._indexed(status.value, before=before)

    def _indexed(self, partition: str, *, before: datetime | None = None) -> Iterator[dict[str, Any]]:
        for shard in range(SHARDS):
            kwargs: dict[str, Any] = {
                "IndexName": INDEX,
                "KeyConditionExpression": "gsi1pk = :p",
                "ExpressionAttributeValues": {":p": f"{partition}#{shard}"},
            }
            if before is not None:
                kwargs["KeyConditionExpression"] += " AND gsi1sk < :b"
                kwargs["ExpressionAttributeValues"][":b"] = before.isoformat()
            while True:
                page = self._table.query(**kwargs)
                yield from page.get("Items", [])
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def view(item: dict[str, Any]) -> dict[str, Any]:
    """The contract's view of a stored usage request."""
    request = json.loads(str(item["request"]))
    answer: dict[str, Any] = {
        "usageRequestId": item["pk"],
        "status": item["status"],
        "saId": request["saId"],
        "periodStart": request["periodStart"],
        "periodEnd": request["periodEnd"],
        "history": [{"status": h["status"], "at": h["at"], "reason": h["reason"]} for h in item.get("history", [])],
    }
    if "resultZ" in item:
        answer["result"] = json.loads(zlib.decompress(bytes(item["resultZ"])))
    return answer
