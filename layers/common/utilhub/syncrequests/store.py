"""DynamoDB storage of sync requests and of each entity's state at its target.

Items (one table, key ``pk``):
- request ``<flow>#REQ#<syncRequestId>``: the request, its status and its history;
- entity  ``<flow>#ENT#<entityType>#<entityId>``: ``inFlight`` (the request being delivered),
  ``waiting`` (its request held for its parents), ``lastSentHash`` and ``lastSentChangedAt`` (the
  image last acknowledged), ``lastErrorId`` and ``lastErrorReason`` (its last request in ERROR, until
  one of its requests is synchronized or that one is resubmitted), ``dependants`` (the requests held
  WAITING for it, which its acknowledgement releases).

The sparse index ``OpenByEntity`` holds the open requests (PENDING, WAITING, SENT) under the entity they are looked
up under (``gsi2pk = <flow>#<entityType>#<entityId>``: their own, or the one the flow names, kept as ``openUnder``),
so whether an entity has a request on its way to the target is a key lookup (:meth:`SyncRequestStore.open_requests`).

The sparse index ``ByStatus`` holds the requests the monitor works on:
``gsi1pk = <flow>#<status>#<shard>`` (shard = hash of the entity, so an entity's requests
share one shard and a busy status never makes a hot partition) and ``gsi1sk`` in the order
they must be worked (``changedAt`` for PENDING and WAITING; for SENT, the time its acknowledgement is
due, :class:`~utilhub.syncrequests.lifecycle.AckTimeouts`). A request whose
entity type has parents keeps them (``parents``: ``<entityType>#<entityId>``), read from its data at
intake, so the monitor never reads the data.
Every transition is a conditional write: two monitors, or a monitor and a late
acknowledgement, can never both move the same request.

In a flow that tells CCB its outcomes (:mod:`~utilhub.syncrequests.outcomes`), the write that makes a request final
also marks it as owing the outcome (``outcomeOwed`` = its event id) and files it in ``ByStatus`` under
``<flow>#OUTCOME#<shard>`` (``gsi1sk`` = the transition's time); once queued, a conditional update clears the mark and
the index entry (:meth:`SyncRequestStore._settle`), and what stayed owed the monitor finds by shard and queues again
(:meth:`SyncRequestStore.tell_owed`). Any later transition removes the mark (CCB keeps the last state it is told).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from utilhub.platform import journal
from utilhub.platform.aws import TRANSACTION_LIMIT, put_absent, write_once
from utilhub.platform.observability import logger
from utilhub.syncrequests.lifecycle import AckTimeouts, Blocked, EntityState, PendingRequest, check_transition, sortable_time
from utilhub.syncrequests.model import TERMINAL, SyncRequest, SyncRequestIn, SyncStatus, canonical_json
from utilhub.syncrequests.outcomes import FINAL, FinalTransition, Outcomes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

INDEX = "ByStatus"
OPEN_INDEX = "OpenByEntity"
OPEN = frozenset({SyncStatus.PENDING, SyncStatus.WAITING, SyncStatus.SENT})
OWED = "OUTCOME"  # the status index's partition of the requests whose final outcome CCB has not been told yet
OPEN_LOOKUPS_AT_ONCE = 10  # concurrent key lookups of :meth:`SyncRequestStore.open_requests`: botocore's default connection pool
# the open requests a release reads under one OpenByEntity key at most (:meth:`SyncRequestStore.open_pending`): a key
# holding more is left to the monitor's sweep, so k requests under one key cost O(k) reads in all, not O(k^2)
OPEN_READ_LIMIT = 20
# a claim (request -> SENT, entity in flight) is two updates; one item more records the transaction's claims
# until their messages are queued (:meth:`SyncRequestStore.claim_many`)
CLAIMS_PER_TRANSACTION = (TRANSACTION_LIMIT - 1) // 2
Clock = Callable[[], datetime]
ParentsOf = Callable[[str, dict[str, Any]], Sequence[tuple[str, str]]]
OpenUnder = Callable[[str, str, dict[str, Any]], tuple[str, str]]


class ConflictingRequest(Exception):
    """The sync request id is already used by a request with other content."""


class StaleTransition(Exception):
    """The request was no longer in the state the transition expected (someone else moved it)."""


@dataclass(frozen=True)
class TransitionWrite:
    """One transition's conditional update, with what is told once it is written: its line in the journal and, when it
    makes the request final, its outcome. They travel together, so a write that failed (refused, timed out or
    anything else) leaves nothing behind for a later write to tell."""

    update: dict[str, Any]
    entity_type: str
    sync_request_id: str
    status: str
    reason: str
    at: datetime
    final: FinalTransition | None


Update = dict[str, Any] | TransitionWrite  # what one write is made of: plain updates (an entity's slot) and transitions


def _raw(update: Update) -> dict[str, Any]:
    return update.update if isinstance(update, TransitionWrite) else update


def shard_of(entity_type: str, entity_id: str, shards: int) -> int:
    """The status-index shard of an entity: all its requests share one."""
    return zlib.crc32(f"{entity_type}#{entity_id}".encode()) % shards


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SyncRequestStore:
    def __init__(
        self,
        table: Table,
        flow: str,
        *,
        shards: int,
        retention_days: int,
        clock: Clock = _utc_now,
        parents_of: ParentsOf = lambda _entity_type, _data: (),
        open_under: OpenUnder = lambda entity_type, entity_id, _data: (entity_type, entity_id),
        timeouts: AckTimeouts | None = None,
        point_of: Callable[[str], str] | None = None,
        source: str = "source",
        outcomes: Outcomes | None = None,
    ) -> None:
        # when a claimed request's acknowledgement is due (only the monitor and the extract claim)
        self.timeouts = timeouts or AckTimeouts(timedelta(seconds=900))
        self._table = table
        self._parents_of = parents_of
        self._open_under = open_under
        self._client = table.meta.client
        self._flow = flow
        self._prefix = self.key_prefix(flow)
        self._shards = shards
        self._retention = timedelta(days=retention_days)
        self._now = clock
        # the journal (platform/journal.py): each request's integration point by its entity type, and who sends it
        self._point_of = point_of
        self._source = source
        # each final transition written (SYNCHRONIZED, ERROR), told once the write succeeded (outcomes.CcbOutcomes)
        self._outcomes = outcomes

    # ------------------------------------------------------------------ keys
    @staticmethod
    def key_prefix(flow: str) -> str:
        """Where every key of a flow starts: its items' ``pk`` and both indexes' partition keys (``gsi1pk``, ``gsi2pk``),
        so a policy naming this prefix as the leading key holds a function to its own flow (docs/security.md)."""
        return f"{flow}#"

    @staticmethod
    def request_key_prefix(flow: str) -> str:
        """Where a flow's request items' keys start (not its entities', nor its claims' records): all the outcomes'
        function may read (:func:`last_final_at`, docs/security.md)."""
        return f"{SyncRequestStore.key_prefix(flow)}REQ#"

    def _request_key(self, sync_request_id: str) -> dict[str, str]:
        return {"pk": f"{self.request_key_prefix(self._flow)}{sync_request_id}"}

    def _entity_key(self, entity_type: str, entity_id: str) -> dict[str, str]:
        return {"pk": f"{self._prefix}ENT#{entity_type}#{entity_id}"}

    def _open_key(self, entity_type: str, entity_id: str) -> str:
        return f"{self._prefix}{entity_type}#{entity_id}"

    def shard_of(self, entity_type: str, entity_id: str) -> int:
        return shard_of(entity_type, entity_id, self._shards)

    def _status_key(self, status: SyncStatus, entity_type: str, entity_id: str) -> str:
        return f"{self._prefix}{status.value}#{self.shard_of(entity_type, entity_id)}"

    def _owed_key(self, shard: int) -> str:
        return f"{self._prefix}{OWED}#{shard}"

    @property
    def tells_ccb(self) -> bool:
        """Whether this flow's final outcomes are told to CCB (syncrequests/outcomes.py)."""
        return self._outcomes is not None and self._outcomes.enabled

    @property
    def shards(self) -> range:
        return range(self._shards)

    # ------------------------------------------------------------------ intake
    def _new_item(self, request: SyncRequestIn, correlation_id: str) -> dict[str, Any]:
        now = self._now()
        at = now.isoformat()
        changed = sortable_time(request.changedAt)
        data_json = canonical_json(request.data)
        data_hash = hashlib.sha256(data_json.encode("utf-8")).hexdigest()
        header = f"{request.syncRequestId}|{request.entityType}|{request.entityId}|{changed}|{data_hash}"
        parents = [f"{t}#{i}" for t, i in self._parents_of(request.entityType, request.data)]
        open_under = self._open_key(*self._open_under(request.entityType, request.entityId, request.data))
        return {
            "openUnder": open_under,
            "gsi2pk": open_under,
            **({"parents": parents} if parents else {}),
            **self._request_key(request.syncRequestId),
            "flow": self._flow,
            "syncRequestId": request.syncRequestId,
            "entityType": request.entityType,
            "entityId": request.entityId,
            "changedAt": changed,
            "dataJson": data_json,
            "dataHash": data_hash,
            # what makes two posts of one id "the same request": its fields and its data
            "requestHash": hashlib.sha256(header.encode("utf-8")).hexdigest(),
            "status": SyncStatus.PENDING.value,
            "attempt": 0,
            "correlationId": correlation_id,
            "receivedAt": at,
            "history": [{"status": SyncStatus.PENDING.value, "at": at, "reason": "received"}],
            "gsi1pk": self._status_key(SyncStatus.PENDING, request.entityType, request.entityId),
            "gsi1sk": f"{changed}#{sortable_time(now)}#{request.syncRequestId}",
        }

    # ------------------------------------------------------------------ the journal
    def _journal_received(self, item: dict[str, Any]) -> None:
        if self._point_of is not None:
            sync_request_id = str(item["syncRequestId"])
            journal.changed(
                self._point_of(str(item["entityType"])),
                sync_request_id,
                SyncStatus.PENDING.value,
                reason="received",
                step="intake",
                system=self._source,
                at=datetime.fromisoformat(str(item["receivedAt"])),
                resubmit=f"/{self._flow}/sync-requests/{quote(sync_request_id, safe='')}/resubmission",
            )

    def _journal_written(self, updates: Sequence[Update]) -> None:
        if self._point_of is None:
            return
        for write in updates:
            if isinstance(write, TransitionWrite):
                # at the transition's own time: a journal write that comes late never puts back an older state
                journal.changed(
                    self._point_of(write.entity_type),
                    write.sync_request_id,
                    write.status,
                    reason=write.reason,
                    step=write.status.lower(),
                    at=write.at,
                )

    def create(self, request: SyncRequestIn, correlation_id: str) -> tuple[SyncRequest, bool]:
        """Store a new PENDING request; the same id again returns the stored one (created False).

        Raises :class:`ConflictingRequest` when the id is already used by other content.
        """
        item = self._new_item(request, correlation_id)
        try:
            # marked: a retry of this put, refused by the item its own first attempt wrote, is still this intake's
            write_once(self._table.put_item, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return self._existing(request.syncRequestId, item["requestHash"]), False
        self._journal_received(item)
        return _from_item(item), True

    def create_many(self, requests: list[SyncRequestIn], correlation_id: str) -> list[tuple[SyncRequest, bool] | ConflictingRequest]:
        """Store up to any number of requests, ``TRANSACTION_LIMIT`` per call; duplicates as :meth:`create`.

        The result has one entry per request, in order. A :class:`ConflictingRequest` is
        returned in place for an id already used by other content.
        """
        items = [self._new_item(r, correlation_id) for r in requests]
        outcome: dict[str, tuple[SyncRequest, bool] | ConflictingRequest] = {}
        unique: dict[str, dict[str, Any]] = {}
        for item in items:
            first = unique.setdefault(item["syncRequestId"], item)
            if first["requestHash"] != item["requestHash"]:
                outcome[item["syncRequestId"]] = ConflictingRequest(item["syncRequestId"])
        todo = [i for i in unique.values() if i["syncRequestId"] not in outcome]
        existing = {item["syncRequestId"]: item["requestHash"] for item in put_absent(self._table, todo)}
        for item in todo:
            if item["syncRequestId"] not in existing:
                outcome[item["syncRequestId"]] = (_from_item(item), True)
                self._journal_received(item)
        for sync_request_id, request_hash in existing.items():
            try:
                outcome[sync_request_id] = (self._existing(sync_request_id, request_hash), False)
            except ConflictingRequest as exc:
                outcome[sync_request_id] = exc
        return [outcome[item["syncRequestId"]] for item in items]

    def _existing(self, sync_request_id: str, request_hash: str) -> SyncRequest:
        stored = self.get(sync_request_id)
        if stored is None:  # expired between the write and the read: extremely unlikely
            raise ConflictingRequest(sync_request_id)
        if stored.requestHash != request_hash:
            raise ConflictingRequest(sync_request_id)
        return stored

    # ------------------------------------------------------------------ reads
    def get(self, sync_request_id: str) -> SyncRequest | None:
        item = self._table.get_item(Key=self._request_key(sync_request_id), ConsistentRead=True).get("Item")
        return _from_item(item) if item else None

    def pending_page(
        self, shard: int, limit: int, start: dict[str, Any] | None = None, *, status: SyncStatus = SyncStatus.PENDING
    ) -> tuple[list[PendingRequest], dict[str, Any] | None]:
        """One page of PENDING (or WAITING) requests of one shard, oldest change first, and where the next page starts."""
        kwargs: dict[str, Any] = {
            "IndexName": INDEX,
            "Limit": min(limit, 1000),
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": f"{self._prefix}{status.value}#{shard}"},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self._table.query(**kwargs)
        return [self._pending(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")

    @staticmethod
    def _pending(item: dict[str, Any]) -> PendingRequest:
        return PendingRequest(
            sync_request_id=str(item["syncRequestId"]),
            entity_type=str(item["entityType"]),
            entity_id=str(item["entityId"]),
            changed_at=datetime.fromisoformat(str(item["changedAt"])),
            data_hash=str(item["dataHash"]),
            order_key=str(item["gsi1sk"]),
            attempt=int(item.get("attempt", 0)),
            correlation_id=str(item.get("correlationId", "")),
            status=SyncStatus(str(item.get("status", SyncStatus.PENDING.value))),
        )

    def parents_of_requests(self, sync_request_ids: Iterable[str]) -> dict[str, tuple[list[tuple[str, str]], str | None]]:
        """Each request's parents and, when WAITING, the reason it waits: 100 per BatchGetItem call."""
        wanted = list(dict.fromkeys(sync_request_ids))
        found: dict[str, tuple[list[tuple[str, str]], str | None]] = {}
        for start in range(0, len(wanted), 100):
            keys: list[dict[str, Any]] = [self._request_key(i) for i in wanted[start : start + 100]]
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "#id, #parents, #reason",
                    "ExpressionAttributeNames": {"#id": "syncRequestId", "#parents": "parents", "#reason": "waitReason"},
                }
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    parents = [tuple(str(p).split("#", 1)) for p in item.get("parents", [])]
                    reason = item.get("waitReason")
                    found[str(item["syncRequestId"])] = ([(p[0], p[1]) for p in parents], str(reason) if reason else None)
                request = response.get("UnprocessedKeys") or {}
        return found

    def open_requests(self, entities: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(entityType, entityId) -> the id of a request PENDING, WAITING or SENT looked up under it, for the entities
        that have one: one key lookup per entity on the ``OpenByEntity`` index (a few at once), whatever the backlog."""
        wanted = list(dict.fromkeys(entities))

        def one(entity: tuple[str, str]) -> str | None:
            page = self._client.query(
                TableName=self._table.name,
                IndexName=OPEN_INDEX,
                KeyConditionExpression="gsi2pk = :e",
                ExpressionAttributeValues={":e": self._open_key(*entity)},
                Limit=1,
            )
            items = page.get("Items", [])
            return str(items[0]["syncRequestId"]) if items else None

        if len(wanted) <= 1:
            found = [one(e) for e in wanted]
        else:
            with ThreadPoolExecutor(max_workers=min(OPEN_LOOKUPS_AT_ONCE, len(wanted))) as pool:
                found = list(pool.map(one, wanted))
        return {entity: request_id for entity, request_id in zip(wanted, found, strict=True) if request_id is not None}

    def open_pending(self, requests: Sequence[SyncRequest]) -> list[PendingRequest]:
        """The PENDING requests of the entities of ``requests`` (those of them received PENDING included), as the monitor's page
        holds them: the ids filed under each entity's ``OpenByEntity`` key (one key lookup each, a few at once), then
        the requests themselves read consistently (:meth:`_get_requests`). An entity filed under another (``open_under``)
        is looked up there and its own requests kept. What the index does not hold yet the monitor's sweep finds.

        A key holding more than :data:`OPEN_READ_LIMIT` open requests is not read whole (the index is not ordered, so
        the oldest of them cannot be told from a part): its entities are left out, for the monitor's sweep, which reads
        the backlog oldest first. So a release reads at most ``OPEN_READ_LIMIT + 1`` index entries and
        ``OPEN_READ_LIMIT`` requests per key, however many requests share it."""
        keys = {r.syncRequestId: self._open_key(*self._open_under(r.entityType, r.entityId, r.data)) for r in requests}
        distinct = list(dict.fromkeys(keys.values()))
        if len(distinct) <= 1:
            listed = [self._open_ids(k) for k in distinct]
        else:
            with ThreadPoolExecutor(max_workers=min(OPEN_LOOKUPS_AT_ONCE, len(distinct))) as pool:
                listed = list(pool.map(self._open_ids, distinct))
        whole = {key: found for key, found in zip(distinct, listed, strict=True) if found is not None}
        if len(whole) < len(distinct):
            logger.info(
                "release left to the monitor: more open requests under a key than a release reads",
                extra={"keys": len(distinct) - len(whole), "limit": OPEN_READ_LIMIT},
            )
        requests = [r for r in requests if keys[r.syncRequestId] in whole]
        entities = {(r.entityType, r.entityId) for r in requests}
        # a request just received is read by its id (the index may not hold it yet); one just made final is not read
        # again (the release is given it as it was before its acknowledgement: SENT)
        received = [r.syncRequestId for r in requests if r.status is SyncStatus.PENDING]
        ids = dict.fromkeys(received + [i for found in whole.values() for i in found])
        return [
            self._pending(item)
            for item in self._get_requests(ids)
            if item.get("status") == SyncStatus.PENDING.value and (item["entityType"], item["entityId"]) in entities
        ]

    def _open_ids(self, key: str) -> list[str] | None:
        """The ids of the open requests filed under one ``OpenByEntity`` key, or None when it holds more than
        :data:`OPEN_READ_LIMIT` (one query of ``OPEN_READ_LIMIT + 1`` entries at most)."""
        page = self._client.query(
            TableName=self._table.name,
            IndexName=OPEN_INDEX,
            KeyConditionExpression="gsi2pk = :e",
            ExpressionAttributeValues={":e": key},
            Limit=OPEN_READ_LIMIT + 1,
        )
        items = page.get("Items", [])
        if len(items) > OPEN_READ_LIMIT or "LastEvaluatedKey" in page:  # more than the limit (a 1 MB page cannot hold less)
            return None
        return [str(item["syncRequestId"]) for item in items]

    def _get_requests(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The request items of ``ids`` that exist, read consistently without their data: 100 per BatchGetItem call."""
        wanted = list(dict.fromkeys(ids))
        names = ("syncRequestId", "entityType", "entityId", "changedAt", "dataHash", "gsi1sk", "attempt", "correlationId", "status")
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": [self._request_key(i) for i in wanted[start : start + 100]],
                    "ConsistentRead": True,
                    "ProjectionExpression": ", ".join(f"#a{n}" for n in range(len(names))),
                    "ExpressionAttributeNames": {f"#a{n}": name for n, name in enumerate(names)},
                }
            }
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                found += response["Responses"].get(self._table.name, [])
                request = response.get("UnprocessedKeys") or {}
        return found

    def note_dependants(self, held: dict[tuple[str, str], list[str]]) -> None:
        """Each parent's entity item lists the requests held WAITING for it (``dependants``, a string set; one update
        per parent), so its acknowledgement releases them (:meth:`take_dependants`). A note not written leaves them to
        the monitor's sweep: it is logged, never raised."""
        self._update_dependants("ADD", held, "dependants not noted")

    def forget_dependants(self, sent: dict[tuple[str, str], list[str]]) -> None:
        """Take requests the monitor's sweep sent off the ``dependants`` of the parents they were noted on (one update
        per parent), so a note never outlives its request (an entity item past 1 KB costs twice the write units). One
        not taken off stays until the parent's next acknowledgement takes it (it finds the request no longer WAITING):
        it is logged, never raised."""
        self._update_dependants("DELETE", sent, "dependants not forgotten")

    def _update_dependants(self, action: str, ids_by_parent: dict[tuple[str, str], list[str]], failed: str) -> None:
        for parent, ids in ids_by_parent.items():
            try:
                self._client.update_item(
                    TableName=self._table.name,
                    Key=self._entity_key(*parent),
                    UpdateExpression=f"{action} dependants :ids SET updatedAt = :now",
                    ExpressionAttributeValues={":ids": set(ids), ":now": self._now().isoformat()},
                )
            except (ClientError, BotoCoreError) as exc:  # refused, throttled, or no answer (a connection error, a read time-out)
                code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
                logger.warning(failed, extra={"parent": "#".join(parent), "error": code})

    def take_dependants(self, parent: tuple[str, str], ids: Iterable[str]) -> list[PendingRequest]:
        """Take ``ids`` off the parent's ``dependants`` (one update) and return those still WAITING, read consistently:
        what its acknowledgement releases. One held again is noted again (:meth:`note_dependants`)."""
        wanted = set(ids)
        self._client.update_item(
            TableName=self._table.name,
            Key=self._entity_key(*parent),
            UpdateExpression="DELETE dependants :ids SET updatedAt = :now",
            ExpressionAttributeValues={":ids": wanted, ":now": self._now().isoformat()},
        )
        return [self._pending(item) for item in self._get_requests(sorted(wanted)) if item.get("status") == SyncStatus.WAITING.value]

    def sent_due(self, shard: int, now: datetime, limit: int) -> Iterator[tuple[str, int]]:
        """(id, attempt) of SENT requests of one shard whose acknowledgement was due before ``now``, the longest overdue first."""
        for item in self._query_index(f"{self._prefix}{SyncStatus.SENT.value}#{shard}", limit=limit, before=f"{sortable_time(now)}~"):
            yield str(item["syncRequestId"]), int(item.get("attempt", 0))

    def _query_index(self, partition: str, *, limit: int, before: str | None = None) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"IndexName": INDEX, "Limit": min(limit, 1000)}
        if before is None:
            kwargs["KeyConditionExpression"] = "gsi1pk = :p"
            kwargs["ExpressionAttributeValues"] = {":p": partition}
        else:
            kwargs["KeyConditionExpression"] = "gsi1pk = :p AND gsi1sk < :b"
            kwargs["ExpressionAttributeValues"] = {":p": partition, ":b": before}
        returned = 0
        while returned < limit:
            page = self._table.query(**kwargs)
            for item in page.get("Items", []):
                yield item
                returned += 1
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def entity_states(self, entities: Iterable[tuple[str, str]]) -> dict[tuple[str, str], EntityState]:
        """The state of each (entityType, entityId), 100 per BatchGetItem call."""
        wanted = list(dict.fromkeys(entities))
        states: dict[tuple[str, str], EntityState] = {e: EntityState() for e in wanted}
        by_key = {self._entity_key(*e)["pk"]: e for e in wanted}
        for start in range(0, len(wanted), 100):
            keys: list[dict[str, Any]] = [self._entity_key(*e) for e in wanted[start : start + 100]]
            request: dict[str, Any] = {self._table.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    changed = item.get("lastSentChangedAt")
                    states[by_key[str(item["pk"])]] = EntityState(
                        in_flight=item.get("inFlight"),  # type: ignore[arg-type]
                        last_sent_hash=item.get("lastSentHash"),  # type: ignore[arg-type]
                        last_sent_changed_at=datetime.fromisoformat(str(changed)) if changed else None,
                        waiting=item.get("waiting"),  # type: ignore[arg-type]
                        last_error_id=item.get("lastErrorId"),  # type: ignore[arg-type]
                        last_error_reason=item.get("lastErrorReason"),  # type: ignore[arg-type]
                        last_sync_request_id=item.get("lastSyncRequestId"),  # type: ignore[arg-type]
                        dependants=frozenset(str(i) for i in item.get("dependants", ())),
                    )
                request = response.get("UnprocessedKeys") or {}
        return states

    # ------------------------------------------------------------------ transitions
    def _transition_update(
        self,
        sync_request_id: str,
        entity: tuple[str, str],
        current: SyncStatus,
        wanted: SyncStatus,
        reason: str,
        *,
        attempt: int | None = None,
        set_attempt: int | None = None,
        changed_at: datetime | None = None,
        due: datetime | None = None,
        extra: dict[str, Any] | None = None,
        remove: Sequence[str] = (),
    ) -> TransitionWrite:
        check_transition(current, wanted)
        now = self._now()
        sets = ["#s = :to", "history = list_append(history, :h)", "updatedAt = :now"]
        values: dict[str, Any] = {
            ":to": wanted.value,
            ":from": current.value,
            ":h": [{"status": wanted.value, "at": now.isoformat(), "reason": reason}],
            ":now": now.isoformat(),
        }
        for index, (name, value) in enumerate((extra or {}).items()):
            sets.append(f"{name} = :x{index}")
            values[f":x{index}"] = value
        removes: list[str] = list(remove)
        if wanted in OPEN:  # in the OpenByEntity index under the entity it was filed under at intake
            sets.append("gsi2pk = if_not_exists(openUnder, :own)")
            values[":own"] = self._open_key(*entity)
        else:
            removes.append("gsi2pk")
        condition = "#s = :from"
        if attempt is not None:
            condition += " AND attempt = :expected"
            values[":expected"] = attempt
        if set_attempt is not None:
            sets.append("attempt = :attempt")
            values[":attempt"] = set_attempt
        final: FinalTransition | None = None
        if wanted in FINAL and self._outcomes is not None:
            final = FinalTransition(sync_request_id, entity[0], entity[1], wanted, reason, now)
        if final is not None and self.tells_ccb and self._outcomes is not None:
            # the outbox: owing its outcome to CCB, in the same write, filed under the shard's OUTCOME partition until told
            sets += ["outcomeOwed = :owed", "gsi1pk = :gpk", "gsi1sk = :gsk"]
            values[":owed"] = self._outcomes.event_id(final)
            values[":gpk"] = self._owed_key(self.shard_of(*entity))
            values[":gsk"] = f"{sortable_time(now)}#{sync_request_id}"
            if wanted in TERMINAL:
                sets.append("expiresAt = :exp")
                values[":exp"] = int((now + self._retention).timestamp())
            else:
                removes.append("expiresAt")
        elif wanted in TERMINAL:
            removes += ["gsi1pk", "gsi1sk", "outcomeOwed"]
            sets.append("expiresAt = :exp")
            values[":exp"] = int((now + self._retention).timestamp())
        else:
            removes.append("outcomeOwed")  # a later transition: an outcome still owed is behind it (CCB holds the last state)
            sets += ["gsi1pk = :gpk", "gsi1sk = :gsk"]
            values[":gpk"] = self._status_key(wanted, *entity)
            values[":gsk"] = f"{sortable_time(now)}#{sync_request_id}"
            if wanted in (SyncStatus.PENDING, SyncStatus.WAITING):
                if changed_at is None:
                    raise ValueError(f"a request going to {wanted.value} needs its changedAt (queue order)")
                values[":gsk"] = f"{sortable_time(changed_at)}#{sortable_time(now)}#{sync_request_id}"
            elif wanted is SyncStatus.SENT:
                if due is None:
                    raise ValueError("a request going to SENT needs the time its acknowledgement is due")
                values[":gsk"] = f"{sortable_time(due)}#{sync_request_id}"
            removes.append("expiresAt")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        update = {
            "TableName": self._table.name,
            "Key": self._request_key(sync_request_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": values,
        }
        return TransitionWrite(update, entity[0], sync_request_id, wanted.value, reason, now, final)

    def _write(self, updates: Sequence[Update]) -> None:
        try:
            if len(updates) == 1:
                # marked: a retry refused by what its own first attempt wrote stands as written, not as stale (a
                # transaction needs no mark: boto3 gives each one a ClientRequestToken, the same to its retries)
                write_once(self._client.update_item, **_raw(updates[0]))
            else:
                self._client.transact_write_items(TransactItems=[{"Update": _raw(u)} for u in updates])  # type: ignore[typeddict-item]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise StaleTransition(str(exc)) from None
            raise
        self._journal_written(updates)
        final = [u.final for u in updates if isinstance(u, TransitionWrite) and u.final is not None]
        if final and self._outcomes is not None:
            self._settle(self._outcomes(final))

    # ------------------------------------------------------------------ outcomes owed to CCB
    def _settle(self, told: Sequence[FinalTransition]) -> None:
        """The outcomes queued are no longer owed: their mark goes, if it is still theirs (one update each)."""
        if self._outcomes is None:
            return
        for transition in told:
            try:
                self._client.update_item(
                    TableName=self._table.name,
                    Key=self._request_key(transition.syncRequestId),
                    UpdateExpression="REMOVE outcomeOwed, gsi1pk, gsi1sk",
                    ConditionExpression="outcomeOwed = :id",
                    ExpressionAttributeValues={":id": self._outcomes.event_id(transition)},
                )
            except ClientError as exc:
                # another transition since (the mark is its own, or gone), or the write failed: the monitor then
                # queues it again, and the relay's idempotency key makes CCB hear it once
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    logger.warning(
                        "outcome mark not cleared",
                        extra={"syncRequestId": transition.syncRequestId, "error": exc.response["Error"]["Code"]},
                    )

    def tell_owed(self, shard: int, written_before: datetime, limit: int) -> int:
        """Queue again the outcomes of one shard still owed to CCB, written before ``written_before`` (their writer
        failed to queue them, or stopped before it did), and clear their marks: how many were queued."""
        if self._outcomes is None or not self._outcomes.enabled:
            return 0
        owed: list[FinalTransition] = []
        for entry in self._query_index(self._owed_key(shard), limit=limit, before=f"{sortable_time(written_before)}~"):
            item = self._table.get_item(Key=self._request_key(str(entry["syncRequestId"])), ConsistentRead=True).get("Item")
            if not item or "outcomeOwed" not in item:
                continue  # told meanwhile, or moved on (the index lags the table)
            last = item["history"][-1]  # type: ignore[index]
            transition = FinalTransition(
                str(item["syncRequestId"]),
                str(item["entityType"]),
                str(item["entityId"]),
                SyncStatus(str(item["status"])),
                str(last["reason"]),  # type: ignore[index]
                datetime.fromisoformat(str(last["at"])),  # type: ignore[index]
            )
            if self._outcomes.event_id(transition) != item["outcomeOwed"]:
                logger.error("owed outcome does not match its request's last transition", extra={"eventId": item["outcomeOwed"]})
                continue
            owed.append(transition)
        told = self._outcomes(owed) if owed else []
        self._settle(told)
        return len(told)

    def discard(self, request: PendingRequest, reason: str, *, advances: bool = False) -> None:
        """PENDING -> DISCARDED; with ``advances``, the entity's last image time moves up to the request's
        in the same transaction (only while nothing is in flight, only forward)."""
        entity = (request.entity_type, request.entity_id)
        updates: list[Update] = [self._transition_update(request.sync_request_id, entity, SyncStatus.PENDING, SyncStatus.DISCARDED, reason)]
        if advances:
            changed = sortable_time(request.changed_at)
            updates.append(
                {
                    "TableName": self._table.name,
                    "Key": self._entity_key(*entity),
                    "UpdateExpression": "SET lastSentChangedAt = :c, updatedAt = :now",
                    "ConditionExpression": "attribute_not_exists(inFlight) AND (attribute_not_exists(lastSentChangedAt) OR lastSentChangedAt < :c)",
                    "ExpressionAttributeValues": {":c": changed, ":now": self._now().isoformat()},
                }
            )
        try:
            self._write(updates)
        except StaleTransition:
            if not advances:
                raise
            # the entity's image time was already at or past this one: discard without moving it
            self._write(updates[:1])

    def _claim_updates(self, request: PendingRequest) -> tuple[int, list[Update]]:
        """The two conditional updates of a claim: the entity's in-flight slot, and the request -> SENT."""
        attempt = request.attempt + 1
        entity = self._entity_key(request.entity_type, request.entity_id)
        was_waiting = request.status is SyncStatus.WAITING
        reason = f"queued for delivery (attempt {attempt})"
        return attempt, [
            {
                "TableName": self._table.name,
                "Key": entity,
                "UpdateExpression": "SET inFlight = :id, updatedAt = :now" + (" REMOVE waiting" if was_waiting else ""),
                "ConditionExpression": "attribute_not_exists(inFlight)" + (" AND waiting = :id" if was_waiting else ""),
                "ExpressionAttributeValues": {":id": request.sync_request_id, ":now": self._now().isoformat()},
            },
            self._transition_update(
                request.sync_request_id,
                (request.entity_type, request.entity_id),
                request.status,
                SyncStatus.SENT,
                f"{reason}: what it waited for is synchronized" if was_waiting else reason,
                attempt=request.attempt,
                set_attempt=attempt,
                due=self._now() + self.timeouts.first,
                remove=("waitingFor", "waitReason") if was_waiting else (),
            ),
        ]

    def claim_many(self, requests: Sequence[PendingRequest], *, record: str | None = None) -> list[int | None]:
        """Claim up to ``CLAIMS_PER_TRANSACTION`` requests in one transaction: each PENDING (or WAITING) -> SENT
        with its entity's in-flight slot. One entry per request: its new attempt, or None when someone else
        moved it or its entity first (that claim only is skipped).

        Each claim stays atomic (its two updates are in the transaction); a transaction cancelled by some
        claims' conditions is written again without them. Raises, having claimed nothing, when it fails otherwise.
        With ``record`` (an id), the same transaction records what it claimed under that id until the claimer
        has queued it (:meth:`forget_claims`); what a claimer never queued is found by :meth:`unqueued_claims`.
        """
        if len(requests) > CLAIMS_PER_TRANSACTION:
            raise ValueError(f"at most {CLAIMS_PER_TRANSACTION} claims per transaction")
        outcome: list[int | None] = [None] * len(requests)
        remaining = list(range(len(requests)))
        while remaining:
            claims = {index: self._claim_updates(requests[index]) for index in remaining}
            items: list[dict[str, Any]] = [{"Update": _raw(u)} for index in remaining for u in claims[index][1]]
            if record is not None:  # last, so the claims' items keep their places in the cancellation reasons
                items.append({"Put": self._claims_record(record, [(requests[i], claims[i][0]) for i in remaining])})
            try:
                self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons", [])[: 2 * len(remaining)]
                refused = {remaining[i // 2] for i, r in enumerate(reasons) if r.get("Code") not in (None, "None")}
                if not refused:
                    raise
                remaining = [index for index in remaining if index not in refused]
                continue
            for index in remaining:
                outcome[index] = claims[index][0]
            self._journal_written([u for index in remaining for u in claims[index][1]])
            break
        return outcome

    def _claims_record(self, record: str, claimed: list[tuple[PendingRequest, int]]) -> dict[str, Any]:
        now = self._now()
        return {
            "TableName": self._table.name,
            "Item": {
                "pk": f"{self._prefix}CLAIMS#{record}",
                "gsi1pk": f"{self._prefix}CLAIMS",
                "gsi1sk": f"{sortable_time(now)}#{record}",
                "claims": [
                    {
                        "id": r.sync_request_id,
                        "attempt": attempt,
                        "entityType": r.entity_type,
                        "entityId": r.entity_id,
                        "changedAt": sortable_time(r.changed_at),
                    }
                    for r, attempt in claimed
                ],
                "expiresAt": int((now + self._retention).timestamp()),
            },
        }

    def forget_claims(self, records: Sequence[str]) -> None:
        """The claims recorded under ``records`` were queued (or given back): nothing is left to find."""
        for start in range(0, len(records), 25):
            requests: dict[str, Any] = {
                self._table.name: [{"DeleteRequest": {"Key": {"pk": f"{self._prefix}CLAIMS#{r}"}}} for r in records[start : start + 25]]
            }
            while requests:
                requests = self._client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}

    def unqueued_claims(self, recorded_before: datetime, limit: int) -> list[tuple[str, list[tuple[PendingRequest, int]]]]:
        """The claims recorded before ``recorded_before`` and never forgotten (their claimer stopped before it
        queued them): each record's id with its requests and their claimed attempts."""
        found = []
        for item in self._query_index(f"{self._prefix}CLAIMS", limit=limit, before=f"{sortable_time(recorded_before)}~"):
            record = str(item["gsi1sk"]).rsplit("#", 1)[1]
            stored: dict[str, Any] = (
                self._table.get_item(Key={"pk": f"{self._prefix}CLAIMS#{record}"}, ConsistentRead=True).get("Item") or {}
            )
            listed: list[dict[str, Any]] = list(stored.get("claims", []))
            claims = [
                (
                    PendingRequest(
                        sync_request_id=str(c["id"]),
                        entity_type=str(c["entityType"]),
                        entity_id=str(c["entityId"]),
                        changed_at=datetime.fromisoformat(str(c["changedAt"])),
                        data_hash="",
                        order_key="",
                        attempt=int(c["attempt"]),
                        correlation_id="",
                        status=SyncStatus.SENT,
                    ),
                    int(c["attempt"]),
                )
                for c in listed
            ]
            found.append((record, claims))
        return found

    def claim(self, request: PendingRequest) -> int:
        """One claim (:meth:`claim_many` of one): its new attempt; :class:`StaleTransition` when someone else
        moved the request or its entity first."""
        (attempt,) = self.claim_many([request])
        if attempt is None:
            raise StaleTransition(f"{request.sync_request_id} or its entity was moved by someone else")
        return attempt

    def hold(self, request: PendingRequest, blocked: Blocked) -> None:
        """PENDING -> WAITING for a parent, and the entity's waiting slot (its later requests wait behind), atomically."""
        self._write(
            [
                {
                    "TableName": self._table.name,
                    "Key": self._entity_key(request.entity_type, request.entity_id),
                    "UpdateExpression": "SET waiting = :id, updatedAt = :now",
                    "ConditionExpression": "attribute_not_exists(inFlight) AND attribute_not_exists(waiting)",
                    "ExpressionAttributeValues": {":id": request.sync_request_id, ":now": self._now().isoformat()},
                },
                self._waiting_update(request, SyncStatus.PENDING, blocked),
            ]
        )

    def still_waiting(self, request: PendingRequest, blocked: Blocked) -> None:
        """WAITING -> WAITING with a new reason (another parent, or the same one for another reason)."""
        self._write([self._waiting_update(request, SyncStatus.WAITING, blocked)])

    def _waiting_update(self, request: PendingRequest, current: SyncStatus, blocked: Blocked) -> TransitionWrite:
        return self._transition_update(
            request.sync_request_id,
            (request.entity_type, request.entity_id),
            current,
            SyncStatus.WAITING,
            blocked.reason,
            attempt=request.attempt,
            changed_at=request.changed_at,
            extra={"waitingFor": "#".join(blocked.parent), "waitReason": blocked.reason},
        )

    def unclaim(self, request: PendingRequest, attempt: int, reason: str) -> None:
        """Undo a claim (:meth:`claim_many`) when the message could not be queued."""
        self._write(
            [
                self._release_entity(request.entity_type, request.entity_id, request.sync_request_id),
                self._transition_update(
                    request.sync_request_id,
                    (request.entity_type, request.entity_id),
                    SyncStatus.SENT,
                    SyncStatus.PENDING,
                    reason,
                    attempt=attempt,
                    changed_at=request.changed_at,
                ),
            ]
        )

    def _release_entity(
        self, entity_type: str, entity_id: str, sync_request_id: str, *, image: SyncRequest | None = None, error: str | None = None
    ) -> dict[str, Any]:
        values: dict[str, Any] = {":id": sync_request_id, ":now": self._now().isoformat()}
        expression = "REMOVE inFlight SET updatedAt = :now"
        if image is not None:  # synchronized: any earlier error of the entity is behind it
            expression = "REMOVE inFlight, lastErrorId, lastErrorReason SET updatedAt = :now"
            expression += ", lastSentHash = :h, lastSentChangedAt = :c, lastSyncRequestId = :id"
            values[":h"] = image.dataHash
            values[":c"] = sortable_time(image.changedAt)
        elif error is not None:  # its dependants wait, with this reason, until it is resubmitted
            expression += ", lastErrorId = :id, lastErrorReason = :r"
            values[":r"] = error[:500]
        return {
            "TableName": self._table.name,
            "Key": self._entity_key(entity_type, entity_id),
            "UpdateExpression": expression,
            "ConditionExpression": "inFlight = :id",
            "ExpressionAttributeValues": values,
        }

    def acknowledge(self, request: SyncRequest, positive: bool, reason: str) -> None:
        """SENT -> SYNCHRONIZED (remembering the image) or ERROR, freeing the entity for the next request.

        A positive acknowledgement completes the request whatever attempt it answers (each attempt carries the
        same image); a negative one only the attempt it answers (a later attempt is still under way)."""
        wanted = SyncStatus.SYNCHRONIZED if positive else SyncStatus.ERROR
        self._write(
            [
                self._release_entity(
                    request.entityType,
                    request.entityId,
                    request.syncRequestId,
                    image=request if positive else None,
                    error=None if positive else reason,
                ),
                self._transition_update(
                    request.syncRequestId,
                    (request.entityType, request.entityId),
                    SyncStatus.SENT,
                    wanted,
                    reason,
                    attempt=None if positive else request.attempt,
                ),
            ]
        )

    def requeue(self, request: SyncRequest, reason: str) -> int:
        """SENT -> SENT as a new attempt after a time-out (the entity stays in flight); its new attempt, whose
        acknowledgement is due after the next, longer window (:meth:`AckTimeouts.window`)."""
        attempt = request.attempt + 1
        timeouts = request.timeouts + 1
        self._write(
            [
                self._transition_update(
                    request.syncRequestId,
                    (request.entityType, request.entityId),
                    SyncStatus.SENT,
                    SyncStatus.SENT,
                    reason,
                    attempt=request.attempt,
                    set_attempt=attempt,
                    due=self._now() + self.timeouts.window(timeouts),
                    extra={"timeouts": timeouts},
                )
            ]
        )
        return attempt

    def time_out(self, request: SyncRequest, reason: str) -> None:
        """SENT -> ERROR after its last time-out: the entity is freed and holds its dependants with ``reason``;
        a positive acknowledgement arriving later still completes it (:meth:`complete_after_timeout`)."""
        self._write(
            [
                self._release_entity(request.entityType, request.entityId, request.syncRequestId, error=reason),
                self._transition_update(
                    request.syncRequestId,
                    (request.entityType, request.entityId),
                    SyncStatus.SENT,
                    SyncStatus.ERROR,
                    reason,
                    attempt=request.attempt,
                    extra={"timeouts": request.timeouts + 1, "timedOut": True},
                ),
            ]
        )

    def complete_after_timeout(self, request: SyncRequest, reason: str) -> None:
        """ERROR (timed out) -> SYNCHRONIZED: the target's positive acknowledgement came after the time-out.

        The entity's last image moves up to this one only if it is not older than the one it holds, and the
        entity's error is cleared only if it is this request's; :class:`StaleTransition` if the request or the
        entity changed meanwhile (read again and retry)."""
        entity = (request.entityType, request.entityId)
        state = self.entity_states([entity])[entity]
        update = self._transition_update(request.syncRequestId, entity, SyncStatus.ERROR, SyncStatus.SYNCHRONIZED, reason)
        update.update["ConditionExpression"] += " AND timedOut = :true"
        update.update["ExpressionAttributeValues"][":true"] = True
        sets, removes, conditions = ["updatedAt = :now"], [], []
        values: dict[str, Any] = {":now": self._now().isoformat()}
        changed = sortable_time(request.changedAt)
        if state.last_sent_changed_at is None or sortable_time(state.last_sent_changed_at) <= changed:
            sets += ["lastSentHash = :h", "lastSentChangedAt = :c", "lastSyncRequestId = :id"]
            values.update({":h": request.dataHash, ":c": changed, ":id": request.syncRequestId})
            if state.last_sent_changed_at is None:
                conditions.append("attribute_not_exists(lastSentChangedAt)")
            else:
                conditions.append("lastSentChangedAt = :was")
                values[":was"] = sortable_time(state.last_sent_changed_at)
        if state.last_error_id == request.syncRequestId:
            removes += ["lastErrorId", "lastErrorReason"]
            conditions.append("lastErrorId = :id")
            values[":id"] = request.syncRequestId
        updates: list[Update] = [update]
        if conditions:
            updates.append(
                {
                    "TableName": self._table.name,
                    "Key": self._entity_key(*entity),
                    "UpdateExpression": "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
                    "ConditionExpression": " AND ".join(conditions),
                    "ExpressionAttributeValues": values,
                }
            )
        self._write(updates)

    def resubmit(self, request: SyncRequest, reason: str) -> None:
        """ERROR -> PENDING; the entity no longer holds its dependants for this error."""
        entity = (request.entityType, request.entityId)
        self._write(
            [
                self._transition_update(
                    request.syncRequestId,
                    entity,
                    SyncStatus.ERROR,
                    SyncStatus.PENDING,
                    reason,
                    changed_at=request.changedAt,
                    remove=("timeouts", "timedOut"),  # a human decided: it gets its time-outs again
                )
            ]
        )
        try:  # only if this request is still the entity's last error (a later one may have failed since)
            self._client.update_item(
                TableName=self._table.name,
                Key=self._entity_key(*entity),
                UpdateExpression="REMOVE lastErrorId, lastErrorReason SET updatedAt = :now",
                ConditionExpression="lastErrorId = :id",
                ExpressionAttributeValues={":id": request.syncRequestId, ":now": self._now().isoformat()},
            )
        except ClientError as exc:
            # not this request's error, or the write failed: dependants then wait until the
            # resubmitted request is synchronized, which clears the error all the same
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                logger.warning("entity error not cleared at resubmission", extra={"error": exc.response["Error"]["Code"]})


def last_final_at(table: Table, flow: str, sync_request_id: str) -> datetime | None:
    """When a request was last made final (SYNCHRONIZED or ERROR), from its history (one GetItem of its item, read
    consistently); None when it never was, or its item is gone (expired). What CCB must be left holding: an outcome of
    an earlier time is behind it (:class:`~utilhub.syncrequests.outcomes.Ccb`)."""
    item = table.get_item(
        Key={"pk": f"{SyncRequestStore.request_key_prefix(flow)}{sync_request_id}"},
        ConsistentRead=True,
        ProjectionExpression="#h",
        ExpressionAttributeNames={"#h": "history"},
    ).get("Item")
    history: list[Any] = list((item or {}).get("history", []))  # type: ignore[arg-type]
    final = {status.value for status in FINAL}
    return max((datetime.fromisoformat(str(h["at"])) for h in history if h.get("status") in final), default=None)


def _from_item(item: dict[str, Any]) -> SyncRequest:
    # one validation of the whole request, its history's transitions within it (not one model_validate per
    # transition and then the request's own): the same request, about a fifth less CPU per read
    return SyncRequest.model_validate(
        {
            "flow": item["flow"],
            "syncRequestId": item["syncRequestId"],
            "entityType": item["entityType"],
            "entityId": item["entityId"],
            "changedAt": datetime.fromisoformat(str(item["changedAt"]).replace("Z", "+00:00")),
            "data": json.loads(item["dataJson"]),
            "dataHash": item["dataHash"],
            "requestHash": item["requestHash"],
            "status": SyncStatus(item["status"]),
            "attempt": int(item.get("attempt", 0)),
            "correlationId": item.get("correlationId", ""),
            "history": item.get("history", []),
            "waitingFor": item.get("waitingFor"),
            "timeouts": int(item.get("timeouts", 0)),
            "timedOut": bool(item.get("timedOut", False)),
        }
    )
