"""The transactions journal: one view of every pack's transactions for an operator (docs/operations.md).

One DynamoDB table (``UTILHUB_JOURNAL_TABLE``) shared by every pack, two kinds of item under one partition key per
transaction (``<point>#<id>``):

- the **head** (``sk = "head"``): the point, the id, the state normalised to :data:`STATES`, the pack's own state
  (``detailState``), the reason, when it was received and last changed, and how it is run again (``resubmit``:
  the path of the pack's resubmission route); indexed by ``ByPointState`` (``pointState = <point>#<state>``,
  ``updatedAt``) and ``ByState`` (``state``, ``updatedAt``), so every listing is a query, never a scan; never put
  back to an older change than its ``updatedAt``; removed by the table's TTL (``expiresAt``) once finished
  (:data:`COMPLETED`) for ``UTILHUB_JOURNAL_RETENTION_DAYS``, kept while failed or under way; each write leaves its
  mark (``writeMark``) and the state it replaced (``stateBefore``), so the SDK's retry of a write whose answer was lost
  is refused by its own first attempt and still counted from the state before (docs/reliability.md);
- one **hop** per step (``sk = "hop#<at>#<n>"``): ``at``, ``step``, ``system``, ``outcome``, ``detail``, removed
  by the table's TTL (``expiresAt``) after ``UTILHUB_JOURNAL_RETENTION_DAYS``.

A pack's store calls :meth:`Journal.changed` where it changes a transaction's state (the head, and a hop for the
step); the connectors record each call to a target (:func:`record_call`) for the transaction the code is working
on (:func:`working_on`). A journal write is one ``UpdateItem`` or ``PutItem``; it never fails the business
transaction: a failure is logged and counted (metric ``JournalWriteFailed``). Each head written counts, per
integration point, the transactions received, completed and failed and how long a completed one took (the packs'
dashboards, docs/metrics.md).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import itertools
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from utilhub.platform.aws import WRITE_MARK, refused_by_own_attempt
from utilhub.platform.observability import NAMESPACE, logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

RECEIVED, IN_FLIGHT, COMPLETED, FAILED = "RECEIVED", "IN_FLIGHT", "COMPLETED", "FAILED"
STATES = (RECEIVED, IN_FLIGHT, COMPLETED, FAILED)
HEAD = "head"
# every journal key starts with a point's id (``OC-01#``): the leading keys the operators' functions read
KEY_PATTERN = "??-??#*"
HOP = "hop#"
# on a head: the state the last write replaced (NEW: it made the head), and that write's mark (platform/aws.WRITE_MARK)
STATE_BEFORE, NEW = "stateBefore", "NEW"
_DESERIALIZER = TypeDeserializer()

# Each pack's own states, as the journal normalises them (a state not listed is IN_FLIGHT).
_NORMALISED: dict[str, str] = {
    # the sync requests (MD-01..10, MD-18, FW-06, DA-02)
    "PENDING": RECEIVED,
    "WAITING": RECEIVED,
    "SENT": IN_FLIGHT,
    "SYNCHRONIZED": COMPLETED,
    "DISCARDED": COMPLETED,
    "ERROR": FAILED,
    # order revisions (OC-01)
    "RUNNING": IN_FLIGHT,
    "SUCCEEDED": COMPLETED,
    "FAILED": FAILED,
    # usage requests (MD-11)
    "AWAITING_DATA_SYNC": RECEIVED,
    "COMPLETED": COMPLETED,
    # field activities (FW-01)
    "CREATING": IN_FLIGHT,
    "LINKED": COMPLETED,
    "CANCELED": COMPLETED,
    "RECEIVED": RECEIVED,
    # relayed notifications (MD-13, MD-16, MD-20, FW-05, FW-10, FW-11, DA-04: platform/relay.py)
    "QUEUED": RECEIVED,
    "DELIVERED": COMPLETED,
    "REFUSED": FAILED,
    "DEAD_LETTERED": FAILED,
    # customers: CU-01 orders (SYNCHRONIZING, then SYNCHRONIZED or ERROR), CU-02 updates (QUEUED, RETRYING, then one of
    # these, or REFUSED or DEAD_LETTERED as the relays')
    "SYNCHRONIZING": IN_FLIGHT,
    "RETRYING": IN_FLIGHT,
    "APPLIED": COMPLETED,
    "UNCHANGED": COMPLETED,
    "STALE": COMPLETED,
    # DACS files (DA-03): moved, or found moved already; lost to the flow (alarmed, an operator restores or explains it)
    "MOVED": COMPLETED,
    "ALREADY_IN_UPLOAD": COMPLETED,
    "ALREADY_TAKEN": COMPLETED,
    "DELETED_UNMOVED": FAILED,
    "NEVER_EXISTED": FAILED,
}


def point_keys(point: str) -> str:
    """The leading keys of the transactions of ``point``'s pack (``MD-??#*`` for ``MD-11``): what a pack's functions
    may write in the journal (docs/security.md), every point of the pack sharing its point ids' prefix."""
    return f"{point.split('-')[0]}-??#*"


def normalised(detail_state: str) -> str:
    """The journal's state (:data:`STATES`) of a pack's own state."""
    return _NORMALISED.get(detail_state.upper(), IN_FLIGHT)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Transaction:
    point: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.point}#{self.id}"


_current: ContextVar[Transaction | None] = ContextVar("utilhub_journal_transaction", default=None)


@contextlib.contextmanager
def working_on(point: str, transaction_id: str) -> Iterator[None]:
    """The calls to targets made inside are hops of the transaction ``point``/``transaction_id``."""
    token = _current.set(Transaction(point, transaction_id))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Transaction | None:
    return _current.get()


def _count(point: str, before: Mapping[str, Any], state: str, at: str) -> None:
    """The per-point metrics of a head written (``before``: the head as it was, empty when it is new): a transaction
    received when its head is new, completed or failed when its state became so, and a completed one's latency, from
    when it was received (a resubmitted one's includes its time in ``FAILED``)."""
    if not before:
        _per_point(point, name="TransactionsReceived", unit=MetricUnit.Count, value=1)
    if before.get("state") == state:
        return
    if state == FAILED:
        _per_point(point, name="TransactionsFailed", unit=MetricUnit.Count, value=1)
    elif state == COMPLETED:
        _per_point(point, name="TransactionsCompleted", unit=MetricUnit.Count, value=1)
        took = datetime.fromisoformat(at) - datetime.fromisoformat(str(before.get("receivedAt", at)))
        _per_point(point, name="TransactionLatency", unit=MetricUnit.Milliseconds, value=took / timedelta(milliseconds=1))


def _before(standing: Mapping[str, Any]) -> dict[str, Any]:
    """The head as it was before a write that stands (``standing``: DynamoDB's typed item, as that write left it): its
    state kept in :data:`STATE_BEFORE` (:data:`NEW`: there was no head), when it was received unchanged."""
    head = {name: _DESERIALIZER.deserialize(value) for name, value in standing.items()}
    if head.get(STATE_BEFORE, NEW) == NEW:
        return {}
    return {"state": head[STATE_BEFORE], **({"receivedAt": head["receivedAt"]} if "receivedAt" in head else {})}


def _per_point(point: str, *, name: str, unit: MetricUnit, value: float) -> None:
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="point", value=point)


class InvalidCursor(ValueError):
    """A cursor this journal did not give."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor: str | None
    # for each item, the cursor that continues the listing after it (a caller that stops part-way through a page)
    after: list[str] = field(default_factory=list)


class Journal:
    """The journal table; ``hops``: whether steps are recorded (heads always are)."""

    def __init__(self, table: Table, *, retention_days: int = 35, hops: bool = True, clock: Callable[[], datetime] = _now) -> None:
        self._table = table
        self._retention = timedelta(days=retention_days)
        self._hops = hops
        self._now = clock
        self._sequence = itertools.count()

    # ------------------------------------------------------------------ writes (never fail the caller)
    def _safely(self, what: str, write: Callable[[], Any], mark: str | None = None) -> Any:
        """``write()``'s answer, None when it failed or was refused; given the ``mark`` a head's write carries, the head
        as it was before (``ALL_OLD``: empty when new), also when its retry was refused by its own first attempt."""
        try:
            answer = write()
            return answer if mark is None else dict(answer.get("Attributes") or {})
        except ClientError as exc:
            if mark is not None and refused_by_own_attempt(exc, WRITE_MARK, mark):
                logger.info("journal head written, its answer lost: counted from the state it replaced")
                return _before(dict(exc.response["Item"]))  # type: ignore[typeddict-item]
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                # the head was changed by a newer step already: this older state is not put back (its hop is kept)
                logger.info("journal head newer than this state, left as it is", extra={"write": what})
                return None
            self._failed(what, exc)
        except Exception as exc:
            self._failed(what, exc)
        return None

    @staticmethod
    def _failed(what: str, exc: Exception) -> None:
        logger.warning("journal write failed", extra={"write": what, "error": type(exc).__name__})
        metrics.add_metric(name="JournalWriteFailed", unit="Count", value=1)

    def changed(
        self,
        point: str,
        transaction_id: str,
        detail_state: str,
        *,
        reason: str = "",
        step: str | None = None,
        system: str = "hub",
        resubmit: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """The transaction's state is now ``detail_state`` (the pack's own) since ``at`` (when the pack changed it;
        the journal's clock when not given); ``step``, when given, is also a hop.

        The head is written only when ``at`` is not older than its ``updatedAt``: a state written after a newer one
        (a redelivered or delayed older step) is ignored there, its hop still recorded. A finished head
        (:data:`COMPLETED`) expires with the table's TTL ``retention_days`` after ``at``; any other keeps none (a
        failed or running transaction stays on the operators' list until resolved)."""
        when = at or self._now()
        stamp = when.isoformat()
        state = normalised(detail_state)
        transaction = Transaction(point, transaction_id)
        mark = uuid.uuid4().hex
        sets = [
            # the state before this write (NEW for a new head), read as it was before the update: what a retry of this
            # write, refused by its own applied first attempt (its answer lost), counts from
            f"{STATE_BEFORE} = if_not_exists(#state, :new)",
            "#point = :point",
            "#id = :id",
            "#state = :state",
            "detailState = :detail",
            "reason = :reason",
            "updatedAt = :at",
            "pointState = :pointState",
            "receivedAt = if_not_exists(receivedAt, :at)",
            "#writeMark = :writeMark",
        ]
        values: dict[str, Any] = {
            ":point": point,
            ":id": transaction_id,
            ":state": state,
            ":detail": detail_state,
            ":reason": reason,
            ":at": stamp,
            ":pointState": f"{point}#{state}",
            ":new": NEW,
            ":writeMark": mark,
        }
        if resubmit is not None:
            sets.append("resubmit = :resubmit")
            values[":resubmit"] = resubmit
        if state == COMPLETED:
            sets.append("expiresAt = :expires")
            values[":expires"] = int((when + self._retention).timestamp())
            expression = "SET " + ", ".join(sets)
        else:
            expression = "SET " + ", ".join(sets) + " REMOVE expiresAt"
        # the hop before the head: whoever reads the head in its new state finds the step that put it there
        if step is not None:
            self.hop(transaction, step=step, system=system, outcome=detail_state, detail=reason, at=when)
        written = self._safely(
            "head",
            lambda: self._table.update_item(
                Key={"pk": transaction.key, "sk": HEAD},
                UpdateExpression=expression,
                # never over a newer state; and never this very write again (its mark): the SDK's retry of a write whose
                # answer was lost is refused by its own first attempt, whose ALL_OLD it could not give back
                ConditionExpression="(attribute_not_exists(updatedAt) OR updatedAt <= :at) "
                "AND (attribute_not_exists(#writeMark) OR #writeMark <> :writeMark)",
                ExpressionAttributeNames={"#point": "point", "#id": "id", "#state": "state", "#writeMark": WRITE_MARK},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ),
            mark,
        )
        if written is not None:
            _count(point, written, state, stamp)

    def hop(self, transaction: Transaction, *, step: str, system: str, outcome: str, detail: str = "", at: datetime | None = None) -> None:
        """One step of ``transaction``'s timeline, at ``at`` (now when not given); nothing when hops are not recorded."""
        if not self._hops:
            return
        now = at or self._now()
        item: dict[str, Any] = {
            "pk": transaction.key,
            "sk": f"{HOP}{now.isoformat()}#{next(self._sequence):06d}",
            "at": now.isoformat(),
            "step": step,
            "system": system,
            "outcome": outcome,
            "detail": detail,
            "expiresAt": int((now + self._retention).timestamp()),
        }
        self._safely("hop", lambda: self._table.put_item(Item=item))

    # ------------------------------------------------------------------ reads
    def head(self, point: str, transaction_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": Transaction(point, transaction_id).key, "sk": HEAD}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def timeline(self, point: str, transaction_id: str) -> list[dict[str, Any]]:
        """Every hop of the transaction, oldest first."""
        condition = Key("pk").eq(Transaction(point, transaction_id).key) & Key("sk").begins_with(HOP)
        hops: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            arguments: dict[str, Any] = {"KeyConditionExpression": condition, "ConsistentRead": True}
            if start:
                arguments["ExclusiveStartKey"] = start
            page = self._table.query(**arguments)
            hops += [{k: str(item.get(k, "")) for k in ("at", "step", "system", "outcome", "detail")} for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return hops

    @staticmethod
    def _partitions(point: str | None, state: str | None) -> list[tuple[str, str, str]]:
        """(index, key attribute, value) of each index partition a listing reads, in order."""
        states = [state] if state else list(STATES)
        if point:
            return [("ByPointState", "pointState", f"{point}#{s}") for s in states]
        return [("ByState", "state", s) for s in states]

    def transactions(
        self, *, point: str | None = None, state: str | None = None, since: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Heads matching the filter, newest first within each state; ``cursor`` continues a listing."""
        partitions = self._partitions(point, state)
        index, start = _read_cursor(cursor, len(partitions))
        items: list[dict[str, Any]] = []
        after: list[str] = []
        while index < len(partitions) and len(items) < limit:
            name, attribute, value = partitions[index]
            condition: Any = Key(attribute).eq(value)
            if since:
                condition = condition & Key("updatedAt").gte(since)
            arguments: dict[str, Any] = {
                "IndexName": name,
                "KeyConditionExpression": condition,
                "ScanIndexForward": False,
                "Limit": limit - len(items),
            }
            if start:
                arguments["ExclusiveStartKey"] = start
            page = self._table.query(**arguments)
            items += [view(item) for item in page["Items"]]
            # an index's ExclusiveStartKey: the table's key and the index's
            after += [_write_cursor(index, {k: str(item[k]) for k in ("pk", "sk", attribute, "updatedAt")}) for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                index += 1
        more = index < len(partitions)
        return Page(items, _write_cursor(index, start) if more else None, after)

    def summary(self, since: str, bucket_seconds: int | None = None) -> list[dict[str, Any]]:
        """Per point: transactions changed since ``since`` (received), completed, failed, in flight, the oldest waiting.

        With ``bucket_seconds``, each point also has a ``series``: one bucket per ``bucket_seconds`` from ``since``'s
        bucket to now's, each counting those received in it (by ``receivedAt``) and those that completed or failed in
        it (by ``updatedAt``, the change that put them in that state). Read in the same pass as the counts."""
        points: dict[str, dict[str, Any]] = {}
        starts = _bucket_starts(since, bucket_seconds, self._now()) if bucket_seconds else []
        for state in STATES:
            page = self.transactions(state=state, since=since, limit=500)
            while True:
                for item in page.items:
                    counts = points.setdefault(
                        item["point"],
                        {"point": item["point"], "received": 0, "completed": 0, "failed": 0, "inFlight": 0, "oldestWaiting": None}
                        | (
                            {"series": [{"at": at.isoformat(), "received": 0, "completed": 0, "failed": 0} for at in starts]}
                            if starts
                            else {}
                        ),
                    )
                    if starts and bucket_seconds:
                        _count_in_series(counts["series"], starts, bucket_seconds, item, state)
                    counts["received"] += 1
                    if state == COMPLETED:
                        counts["completed"] += 1
                    elif state == FAILED:
                        counts["failed"] += 1
                    else:
                        counts["inFlight"] += 1
                        waiting = item.get("receivedAt") or item["updatedAt"]
                        if counts["oldestWaiting"] is None or waiting < counts["oldestWaiting"]:
                            counts["oldestWaiting"] = waiting
                if page.cursor is None:
                    break
                page = self.transactions(state=state, since=since, limit=500, cursor=page.cursor)
        return [points[point] for point in sorted(points)]


def _parsed(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _bucket_starts(since: str, bucket_seconds: int, now: datetime) -> list[datetime]:
    """The start of each bucket from ``since``'s to ``now``'s, on multiples of ``bucket_seconds`` since the epoch."""
    first = int(_parsed(since).timestamp()) // bucket_seconds * bucket_seconds
    last = int(now.timestamp()) // bucket_seconds * bucket_seconds
    return [datetime.fromtimestamp(at, UTC) for at in range(first, last + 1, bucket_seconds)]


def _count_in_series(
    series: list[dict[str, Any]], starts: list[datetime], bucket_seconds: int, item: Mapping[str, Any], state: str
) -> None:
    def bucket_of(value: str) -> int | None:
        index = int((_parsed(value) - starts[0]).total_seconds() // bucket_seconds)
        return index if 0 <= index < len(series) else None

    received = bucket_of(str(item.get("receivedAt") or item["updatedAt"]))
    if received is not None:
        series[received]["received"] += 1
    if state in (COMPLETED, FAILED) and (changed := bucket_of(str(item["updatedAt"]))) is not None:
        series[changed][state.lower()] += 1


def view(item: Mapping[str, Any]) -> dict[str, Any]:
    """A head as the operations API lists it."""
    return {
        "point": str(item["point"]),
        "id": str(item["id"]),
        "state": str(item["state"]),
        "reason": str(item.get("reason", "")),
        "updatedAt": str(item["updatedAt"]),
        **({"receivedAt": str(item["receivedAt"])} if item.get("receivedAt") else {}),
    }


def _write_cursor(index: int, start: Mapping[str, Any] | None) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": index, "k": dict(start or {})}, sort_keys=True).encode()).decode()


def _read_cursor(cursor: str | None, partitions: int) -> tuple[int, dict[str, Any] | None]:
    if not cursor:
        return 0, None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        index, start = int(decoded["p"]), decoded["k"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor") from exc
    if not 0 <= index < partitions or not isinstance(start, dict) or not all(isinstance(v, str) for v in start.values()):
        raise InvalidCursor("cursor")
    return index, start or None


# ---------------------------------------------------------------------- the process's journal
def _journal() -> Journal | None:
    from utilhub.platform import wiring

    try:
        return wiring.journal()
    except Exception as exc:
        logger.warning("journal unavailable", extra={"error": type(exc).__name__})
        return None


def changed(point: str, transaction_id: str, detail_state: str, **details: Any) -> None:
    """:meth:`Journal.changed` on the process's journal (``UTILHUB_JOURNAL_TABLE``), when it has one."""
    if (journal := _journal()) is not None:
        journal.changed(point, transaction_id, detail_state, **details)


def hop(point: str, transaction_id: str, **details: Any) -> None:
    """:meth:`Journal.hop` on the process's journal, when it has one."""
    if (journal := _journal()) is not None:
        journal.hop(Transaction(point, transaction_id), **details)


def record_call(system: str, method: str, path: str, outcome: str) -> None:
    """A call to ``system``, a hop of the transaction being worked on (:func:`working_on`), if any."""
    transaction = _current.get()
    if transaction is not None and (journal := _journal()) is not None:
        journal.hop(transaction, step=f"call {method} /{path.split('?')[0].lstrip('/')}", system=system, outcome=outcome)
