"""Each field activity the hub knows: where it came from, where it was routed, the ids the other
systems gave it (the cross-references of FW-02), its status, its history and the events applied.

One item per activity in the cross-reference table (``ACTIVITY#<source>#<id>``); every change is a
conditional update, so an event is recorded once and never after the activity closed. Each id a routed system
gives the activity is also a cross-reference (:class:`~utilhub.platform.xref.CrossReferenceStore`, entity type
``FIELD_ACTIVITY``: the system's id linked to the source's), so a system names the activity by its own id and the
hub finds it with two key reads (:meth:`ActivityStore.find`).

An event recorded while the activity is still being created (``CREATING``, or ``ERROR`` awaiting a
resubmission) is *held*: kept on the record with its content, its status change (a completion or
cancellation) deferred to ``closing``, and released in order when the creation ends linked
(:meth:`ActivityStore.finish`), so every routed system gets it, whichever was created last.

While an attempt is CREATING its item carries ``creatingWait`` (the key of the cross-reference table's sparse index
``Creating``: ``ACTIVITY#CREATING#<n>``, one of ``UTILHUB_FIELD_WORK_CREATING_SHARDS`` shards by a hash of the activity's
key, so no one index partition takes every intake's write) and ``creatingSince`` (when the attempt began); :meth:`ActivityStore.finish` removes both. So
:meth:`ActivityStore.creating_before` reads the few activities being created, never the table, and the creation
sweep (:func:`utilhub.packs.field_work.activities.end_creations_that_ended`) finds an attempt whose workflow ended
without recording its outcome.
"""

from __future__ import annotations

import heapq
import json
import zlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from botocore.exceptions import ClientError
from pydantic import BaseModel

from utilhub.packs.field_work.model import ActivityEventIn, ActivityIn
from utilhub.platform import journal
from utilhub.platform.aws import write_once
from utilhub.platform.xref import CrossReferenceStore, SystemId

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

Status = Literal["CREATING", "LINKED", "ERROR", "COMPLETED", "CANCELED"]
# where the pack's items start in the cross-reference table (its functions' policies name these prefixes)
ACTIVITY_PREFIX = "ACTIVITY#"
SP_ACTIVITIES_PREFIX = "SP-ACTIVITIES#"
# each system's id of an activity, linked to the source's (cross-references: FIELD_ACTIVITY#<system>#<id>)
XREF_ENTITY = "FIELD_ACTIVITY"
# the sparse index of the activities being created (CREATING), by when their attempt began: its key is one of a few
# shards (``ACTIVITY#CREATING#<n>``, n from the activity's key), so every intake, resubmission and finish does not
# write the same index partition
CREATING_INDEX = "Creating"
CREATING = "ACTIVITY#CREATING#"


def shard_of(pk: str, shards: int) -> int:
    """The shard of the index ``Creating`` the activity ``pk`` is in: stable across processes (CRC-32)."""
    return zlib.crc32(pk.encode()) % shards


CLOSED = ("COMPLETED", "CANCELED", "ERROR")
CLOSING = {"COMPLETE": "COMPLETED", "CANCEL": "CANCELED"}


class ActivityRecord(BaseModel):
    activity: ActivityIn
    bodyHash: str
    status: Status
    routedTo: list[str]
    links: dict[str, str]
    history: list[dict[str, Any]]
    eventIds: list[str]
    refusals: list[str] = []  # events a linked system refused (business errors), for an operator
    held: list[ActivityEventIn] = []  # events recorded while the activity was being created, in order
    closing: Status | None = None  # COMPLETED or CANCELED: a held completion or cancellation, applied once linked
    attempt: int = 1  # the creation's attempt: 1, then one more per resubmission
    # events whose delivery to a linked system ended in the event queue's dead-letter queue, by event id:
    # {"eventId", "event", "state", "reason", "at"}, until a redrive delivers them (FW-02)
    undelivered: dict[str, dict[str, str]] = {}

    @property
    def creating(self) -> bool:
        """Still being created: events are held, not forwarded."""
        return self.status == "CREATING"


POINT = "FW-01"
# an event not delivered is kept on its activity's item under this prefix and its id, in this state (platform/last_try)
UNDELIVERED, DEAD_LETTERED = "undelivered#", "DEAD_LETTERED"


def transaction_id(source: str, activity_id: str) -> str:
    """An activity's id in the transactions journal (``<sourceSystem>/<activityId>``, docs/operations.md)."""
    return f"{source}/{activity_id}"


def _journal(activity: ActivityIn, status: str, reason: str, step: str, system: str = "hub", *, intake: bool = False) -> None:
    source, activity_id = activity.sourceSystem, activity.activityId
    resubmit = f"/field-work/activities/{quote(source, safe='')}/{quote(activity_id, safe='')}/resubmission" if intake else None
    journal.changed(POINT, transaction_id(source, activity_id), status, reason=reason, step=step, system=system, resubmit=resubmit)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def record_of(item: Mapping[str, Any]) -> ActivityRecord:
    """An activity's record read from its item."""
    return ActivityRecord(
        activity=ActivityIn.model_validate_json(str(item["activity"])),
        bodyHash=str(item["bodyHash"]),
        status=item["status"],
        routedTo=list(item["routedTo"]),
        links={str(k): str(v) for k, v in dict(item.get("links") or {}).items()},
        history=json.loads(str(item.get("history") or "[]")),
        eventIds=sorted(str(e) for e in item.get("eventIds") or ()),
        refusals=[str(r) for r in item.get("refusals") or ()],
        held=[ActivityEventIn.model_validate(e) for e in json.loads(str(item.get("held") or "[]"))],
        closing=item.get("closing"),
        attempt=int(item.get("attempt") or 1),
        undelivered={
            name.removeprefix(UNDELIVERED): {str(k): str(v) for k, v in dict(value).items()}
            for name, value in item.items()
            if name.startswith(UNDELIVERED)
        },
    )


def since(at: datetime) -> str:
    """``creatingSince``: UTC, fixed width, so these strings order as the times do."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ActivityStore:
    def __init__(self, table: Table, creating_shards: int = 8) -> None:
        self._table = table
        self._creating_shards = creating_shards
        self._xref = CrossReferenceStore(table)

    @staticmethod
    def _key(source: str, activity_id: str) -> dict[str, str]:
        return {"pk": f"{ACTIVITY_PREFIX}{source}#{activity_id}"}

    def get(self, source: str, activity_id: str) -> ActivityRecord | None:
        item = self._table.get_item(Key=self._key(source, activity_id), ConsistentRead=True).get("Item")
        return None if item is None else record_of(item)

    def find(self, system: str, activity_id: str) -> ActivityRecord | None:
        """The activity ``system`` names ``activity_id``: the one created there (its source's id), else the one the
        hub created there and linked under that id (the link written when the system answered the create)."""
        record = self.get(system, activity_id)
        if record is not None:
            return record
        for source, source_id in self._xref.links(XREF_ENTITY, SystemId(system, activity_id)).items():
            record = self.get(source, source_id)
            if record is not None and record.activity.sourceSystem == source and record.links.get(system) == activity_id:
                return record
        return None

    @classmethod
    def new_item(cls, activity: ActivityIn, body_hash: str, routed_to: list[str], creating_shards: int = 8) -> dict[str, Any]:
        """The item of a new activity, CREATING (in its shard of the index ``Creating``)."""
        key = cls._key(activity.sourceSystem, activity.activityId)
        history = [{"status": "CREATING", "at": _now(), "reason": f"routed to {', '.join(routed_to)}"}]
        return {
            **key,
            "activity": activity.model_dump_json(),
            "bodyHash": body_hash,
            "status": "CREATING",
            "routedTo": routed_to,
            "links": {activity.sourceSystem: activity.activityId},
            "history": json.dumps(history),
            "creatingWait": f"{CREATING}{shard_of(key['pk'], creating_shards)}",
            "creatingSince": since(datetime.now(UTC)),
        }

    def create(self, activity: ActivityIn, body_hash: str, routed_to: list[str]) -> bool:
        """Record a new activity as CREATING; False when one with this source and id exists."""
        item = self.new_item(activity, body_hash, routed_to, self._creating_shards)
        try:
            # marked: a retry refused by the item its own first attempt put (its answer lost) is this intake, not a repeat
            write_once(self._table.put_item, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        _journal(activity, "CREATING", f"routed to {', '.join(routed_to)}", "intake", activity.sourceSystem, intake=True)
        self.add_to_service_point(activity)
        return True

    def add_to_service_point(self, activity: ActivityIn) -> None:
        """List the activity under its service point, for the customer updates of FW-10 (a set: once however often)."""
        self._table.update_item(
            Key={"pk": SP_ACTIVITIES_PREFIX + activity.servicePointId},
            UpdateExpression="ADD activities :key",
            ExpressionAttributeValues={":key": {f"{activity.sourceSystem}#{activity.activityId}"}},
        )

    def at_service_point(self, service_point_id: str) -> list[ActivityRecord]:
        """The activities recorded at a service point."""
        item = self._table.get_item(Key={"pk": SP_ACTIVITIES_PREFIX + service_point_id}, ConsistentRead=True).get("Item") or {}
        found = []
        for key in sorted(str(k) for k in item.get("activities") or ()):  # type: ignore[union-attr]
            source, activity_id = key.split("#", 1)
            if (record := self.get(source, activity_id)) is not None:
                found.append(record)
        return found

    def link(self, activity: ActivityIn, system: str, target_id: str) -> None:
        """Record the id ``system`` gave the activity: on the activity, then as a cross-reference by which the
        system names it (both idempotent: a retried step writes them again)."""
        self._table.update_item(
            Key=self._key(activity.sourceSystem, activity.activityId),
            UpdateExpression="SET links.#system = :id",
            ExpressionAttributeNames={"#system": system},
            ExpressionAttributeValues={":id": target_id},
        )
        self._xref.link(XREF_ENTITY, SystemId(system, target_id), SystemId(activity.sourceSystem, activity.activityId))

    def unlink(self, activity: ActivityIn, system: str, target_id: str) -> None:
        """Forget a system's id once the compensation canceled it there (a resubmission creates it anew)."""
        try:
            self._table.update_item(
                Key=self._key(activity.sourceSystem, activity.activityId),
                UpdateExpression="REMOVE links.#system",
                ConditionExpression="links.#system = :id",
                ExpressionAttributeNames={"#system": system},
                ExpressionAttributeValues={":id": target_id},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":  # gone already, or another id since
                raise

    def new_attempt(self, record: ActivityRecord, reason: str) -> ActivityRecord | None:
        """ERROR (or CREATING whose attempt ended without recording its outcome) -> CREATING under the next attempt;
        None when the record changed since it was read."""
        attempt = record.attempt + 1
        key = self._key(record.activity.sourceSystem, record.activity.activityId)
        try:
            # marked: a retry refused by the history its own first attempt wrote is this resubmission, not another's
            write_once(
                self._table.update_item,
                Key=key,
                UpdateExpression="SET #status = :creating, attempt = :attempt, history = :history, "
                "creatingWait = :wait, creatingSince = :since",
                ConditionExpression="#status = :status AND history = :read",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":creating": "CREATING",
                    ":wait": f"{CREATING}{shard_of(key['pk'], self._creating_shards)}",
                    ":since": since(datetime.now(UTC)),
                    ":status": record.status,
                    ":attempt": attempt,
                    ":read": json.dumps(record.history),
                    ":history": self._append(record, {"status": "CREATING", "reason": f"{reason} (attempt {attempt})"}),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        _journal(record.activity, "CREATING", f"{reason} (attempt {attempt})", "resubmission")
        return record.model_copy(update={"status": "CREATING", "attempt": attempt})

    def note_refusal(self, activity: ActivityIn, refusal: str) -> None:
        self._table.update_item(
            Key=self._key(activity.sourceSystem, activity.activityId),
            UpdateExpression="SET refusals = list_append(if_not_exists(refusals, :none), :refusal)",
            ExpressionAttributeValues={":none": [], ":refusal": [refusal]},
        )

    def note_undelivered(self, source: str, activity_id: str, event: ActivityEventIn, reason: str) -> None:
        """The event ``event`` of the activity did not reach every system: the event queue moved it to its dead-letter
        queue after its last try, with ``reason``. One attribute per event, so two such notes never overwrite each other."""
        entry = {"eventId": event.eventId, "event": event.event, "state": DEAD_LETTERED, "reason": reason, "at": _now()}
        try:
            self._table.update_item(
                Key=self._key(source, activity_id),
                UpdateExpression="SET #undelivered = :entry",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#undelivered": f"{UNDELIVERED}{event.eventId}"},
                ExpressionAttributeValues={":entry": entry},
            )
        except ClientError as exc:  # no such activity: its event's failure says so already
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def delivered(self, source: str, activity_id: str, event_id: str) -> None:
        """An event noted undelivered has now reached every system (a redrive delivered it)."""
        self._table.update_item(
            Key=self._key(source, activity_id),
            UpdateExpression="REMOVE #undelivered",
            ExpressionAttributeNames={"#undelivered": f"{UNDELIVERED}{event_id}"},
        )

    def _append(self, record: ActivityRecord, entry: dict[str, Any]) -> str:
        return json.dumps([*record.history, {**entry, "at": _now()}])

    def finish(self, activity: ActivityIn, status: Status, reason: str, *, attempt: int | None = None) -> ActivityRecord | None:
        """CREATING -> LINKED or ERROR: the record as it now is, or None when it had already finished (a
        retried step), or, given ``attempt``, when it is no longer that attempt (resubmitted meanwhile). Linked
        with a held completion or cancellation, the activity ends COMPLETED or CANCELED (both steps in the
        history). The activity leaves the index of those being created."""
        record = self.get(activity.sourceSystem, activity.activityId)
        if record is None or record.status != "CREATING" or (attempt is not None and record.attempt != attempt):
            return None
        entries: list[dict[str, Any]] = [{"status": status, "reason": reason}]
        final: Status = status
        if status == "LINKED" and record.closing is not None:
            final = record.closing
            entries.append({"status": final, "reason": "the event held while the activity was being created"})
        try:
            # marked: a retry refused by its own first attempt is this finish (journaled and counted), not another's
            write_once(
                self._table.update_item,
                Key=self._key(activity.sourceSystem, activity.activityId),
                UpdateExpression="SET #status = :status, history = :history REMOVE creatingWait, creatingSince",
                ConditionExpression="#status = :creating AND history = :read",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":status": final,
                    ":creating": "CREATING",
                    ":read": json.dumps(record.history),
                    ":history": json.dumps([*record.history, *({**e, "at": _now()} for e in entries)]),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return self.finish(activity, status, reason, attempt=attempt)  # an event was recorded meanwhile: read again
            raise
        _journal(activity, final, reason, final.lower())
        return record.model_copy(update={"status": final})

    def creating_before(self, before: datetime) -> Iterator[tuple[str, str]]:
        """The activities whose creation's attempt began before ``before`` and is still CREATING, oldest first across
        the index's shards: (source, id). Key reads of each shard of the sparse index ``Creating``, merged by when
        the attempt began, page by page as the caller goes on (a run that stops early has seen the oldest of all)."""
        shards = (self._creating_since(f"{CREATING}{n}", since(before)) for n in range(self._creating_shards))
        for _, pk in heapq.merge(*shards):
            source, activity_id = pk.removeprefix(ACTIVITY_PREFIX).split("#", 1)
            yield source, activity_id

    def _creating_since(self, shard: str, before: str) -> Iterator[tuple[str, str]]:
        query: dict[str, Any] = {
            "IndexName": CREATING_INDEX,
            "KeyConditionExpression": "creatingWait = :wait AND creatingSince < :before",
            "ExpressionAttributeValues": {":wait": shard, ":before": before},
        }
        while True:
            page = self._table.query(**query)
            for item in page.get("Items", []):
                yield str(item["creatingSince"]), str(item["pk"])
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def record_event(self, record: ActivityRecord, event: ActivityEventIn, event_hash: str) -> bool:
        """Record an event (``fromSystem`` resolved) on the record as read (``event_hash``: its content, to know
        a repeat from an id reused); False when the record changed meanwhile (read again). While the activity is
        being created the event is held: its content kept, a completion or cancellation noted in ``closing``."""
        closing = CLOSING.get(event.event)
        hold = record.creating
        status = record.status if hold or closing is None else closing
        entry = {"status": status, "event": event.event, "eventId": event.eventId, "eventHash": event_hash}
        entry["reason"] = f"{event.event} from {event.fromSystem}" + (", held until the activity is created" if hold else "")
        updates = "SET #status = :status, history = :history"
        values: dict[str, Any] = {
            ":status": status,
            ":read": json.dumps(record.history),
            ":history": self._append(record, entry),
            ":event": {event.eventId},
        }
        if hold:
            updates += ", held = :held"
            values[":held"] = json.dumps([e.model_dump(mode="json", exclude_none=True) for e in [*record.held, event]])
            if closing is not None:
                updates += ", closing = :closing"
                values[":closing"] = closing
        try:
            # marked: a retry refused by its own first attempt is this event recorded (journaled and counted), not a
            # change made meanwhile
            write_once(
                self._table.update_item,
                Key=self._key(record.activity.sourceSystem, record.activity.activityId),
                UpdateExpression=f"{updates} ADD eventIds :event",
                ConditionExpression="history = :read",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        if status != record.status:  # a completion or cancellation closed it
            _journal(record.activity, status, entry["reason"], f"event {event.event}", str(event.fromSystem))
        return True
