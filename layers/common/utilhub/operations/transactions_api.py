"""The operators' view of every pack's transactions (scope ``utilhub/ops``; docs/operations.md).

Read from the transactions journal (:mod:`utilhub.platform.journal`): a summary per integration point, a listing by
point, state and time (an index query, never a scan), one transaction with its timeline; a failed transaction run
again through its pack's own resubmission route (:mod:`utilhub.operations.resubmission`), one or by a filter; and
the ids an entity has in every system (:mod:`utilhub.platform.xref`).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from utilhub.operations.resubmission import HubApi, HubUnreachable, api_base_url, resubmit_listed
from utilhub.operations.wiring import catalogue, cross_references, transactions_journal, xref_entity_types
from utilhub.operations.xref_import_api import add_import_route
from utilhub.platform import problems
from utilhub.platform.api_docs import Reply, Request, ref
from utilhub.platform.http import HttpApiResolver, create_api, route
from utilhub.platform.journal import FAILED, STATES, InvalidCursor, Page, normalised, view
from utilhub.platform.observability import correlation_id, logger
from utilhub.platform.xref import SystemId

SCOPE = "utilhub/ops"
POINT = re.compile(r"[A-Z]{2}-[0-9]{2}")
SYSTEM = re.compile(r"[A-Z]{2,8}")
# a pack's resubmission route, its ids percent-encoded: never an operations route, never a dot segment
RESUBMISSION_PATH = re.compile(r"(?!.*%2[eE])/(?!ops/)[a-z][a-z-]*(/[A-Za-z0-9%][A-Za-z0-9._~%:-]*)+/resubmission")
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
DEFAULT_SUMMARY_HOURS = 24
# a summary's series: buckets of 5 minutes to a day, at most two weeks of hours in one answer
MIN_BUCKET_SECONDS, MAX_BUCKET_SECONDS, MAX_BUCKETS = 300, 86_400, 336
# a bulk resubmission stops starting new ones past this many seconds (the function times out at 10 s)
BULK_BUDGET_SECONDS = 4.0

STATE_SCHEMA = {"type": "string", "enum": list(STATES)}
SCHEMAS: dict[str, dict[str, Any]] = {
    "OpsTransaction": {
        "type": "object",
        "required": ["point", "id", "state", "reason", "updatedAt"],
        "properties": {
            "point": {"type": "string", "examples": ["OC-01"], "description": "The integration point (catalogue id)."},
            "id": {
                "type": "string",
                "examples": ["ORD-1/2"],
                "description": "The transaction's id at its point; percent-encode it in a path.",
            },
            "state": STATE_SCHEMA,
            "reason": {"type": "string"},
            "updatedAt": {"type": "string", "format": "date-time"},
            "receivedAt": {"type": "string", "format": "date-time"},
        },
    },
    "OpsTransactions": {
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": ref("OpsTransaction")},
            "cursor": {"type": "string", "description": "Pass it back for the next page; absent on the last."},
        },
    },
    "OpsHop": {
        "type": "object",
        "required": ["at", "step", "system", "outcome", "detail"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "step": {"type": "string", "examples": ["intake", "call POST /accounts", "workflow failed"]},
            "system": {"type": "string", "examples": ["OSM", "BRM", "hub"]},
            "outcome": {"type": "string", "examples": ["RUNNING", "HTTP 201", "UNREACHABLE"]},
            "detail": {"type": "string"},
        },
    },
    "OpsTransactionTrace": {
        "type": "object",
        "required": ["point", "id", "state", "detailState", "reason", "updatedAt", "timeline"],
        "properties": {
            "point": {"type": "string"},
            "id": {"type": "string"},
            "state": STATE_SCHEMA,
            "detailState": {"type": "string", "description": "The pack's own state (SYNCHRONIZED, SUCCEEDED, ERROR...)."},
            "reason": {"type": "string"},
            "updatedAt": {"type": "string", "format": "date-time"},
            "receivedAt": {"type": "string", "format": "date-time"},
            "timeline": {"type": "array", "items": ref("OpsHop"), "description": "Every hop, oldest first."},
        },
    },
    "OpsResubmitted": {
        "type": "object",
        "required": ["point", "id", "state"],
        "properties": {"point": {"type": "string"}, "id": {"type": "string"}, "state": STATE_SCHEMA},
    },
    "OpsResubmissionOutcome": {
        "type": "object",
        "required": ["point", "id", "status", "reason"],
        "properties": {
            "point": {"type": "string"},
            "id": {"type": "string"},
            "status": {"type": "integer", "description": "The status the resubmission answered (409, 404; 502)."},
            "reason": {"type": "string"},
        },
    },
    "OpsBulkResubmitted": {
        "type": "object",
        "required": ["resubmitted", "refused", "failed"],
        "properties": {
            "resubmitted": {"type": "integer", "minimum": 0},
            "refused": {
                "type": "array",
                "items": ref("OpsResubmissionOutcome"),
                "description": "Refused by their pack (no longer failed, unknown, ...): not tried again by a call with `cursor`.",
            },
            "failed": {
                "type": "array",
                "items": ref("OpsResubmissionOutcome"),
                "description": "Whose resubmission failed (502: the pack's route failed or did not answer): retry them.",
            },
            "remaining": {"type": "boolean", "description": "True when the time of one call ran out: call again with `cursor`."},
            "cursor": {"type": "string", "description": "With `remaining`: where the next call continues (past those tried)."},
        },
    },
    "OpsPointSummary": {
        "type": "object",
        "required": ["point", "received", "completed", "failed", "inFlight", "oldestWaiting"],
        "properties": {
            "point": {"type": "string"},
            "received": {"type": "integer", "description": "Transactions changed since `since`, in any state."},
            "completed": {"type": "integer"},
            "failed": {"type": "integer"},
            "inFlight": {"type": "integer", "description": "RECEIVED or IN_FLIGHT."},
            "oldestWaiting": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the oldest of those in flight was received.",
            },
            "series": {
                "type": "array",
                "items": ref("OpsBucket"),
                "description": "Only with `bucket`: one entry per bucket from `since`'s to now's, oldest first.",
            },
        },
    },
    "OpsBucket": {
        "type": "object",
        "required": ["at", "received", "completed", "failed"],
        "properties": {
            "at": {"type": "string", "format": "date-time", "description": "The bucket's start."},
            "received": {"type": "integer", "minimum": 0, "description": "Received in the bucket (by `receivedAt`)."},
            "completed": {"type": "integer", "minimum": 0, "description": "Completed in the bucket (and still so)."},
            "failed": {"type": "integer", "minimum": 0, "description": "Failed in the bucket (and still so)."},
        },
    },
    "OpsSummary": {
        "type": "object",
        "required": ["since", "points", "catalogue"],
        "properties": {
            "since": {"type": "string", "format": "date-time"},
            "points": {"type": "array", "items": ref("OpsPointSummary"), "description": "The points with transactions since `since`."},
            "catalogue": {
                "type": "array",
                "items": {"type": "string"},
                "examples": [["MD-01", "OC-01"]],
                "description": "Every integration point of the packs deployed, whether it has transactions or not.",
            },
            "bucket": {"type": "integer", "description": "The series' bucket in seconds, when asked."},
        },
    },
    "OpsCrossReferences": {
        "type": "object",
        "required": ["system", "id", "ids"],
        "properties": {
            "system": {"type": "string"},
            "id": {"type": "string"},
            "entityType": {"type": "string"},
            "ids": {"type": "object", "additionalProperties": {"type": "string"}, "examples": [{"SEBL": "1-ABC", "CCB": "P-1"}]},
        },
    },
}
TRANSACTION_PARAMETERS = {
    "point": {"schema": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{2}$"}, "description": "The integration point."},
    "id": {"schema": {"type": "string"}, "description": "The transaction's id as listed, percent-encoded (`ORD-1%2F2`)."},
}


class ResubmitFilter(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    point: str | None = Field(default=None, pattern=r"^[A-Z]{2}-[0-9]{2}$")
    state: Literal["FAILED"] = Field(description="Only failed transactions can be run again.")
    since: str | None = Field(default=None, description="ISO-8601 UTC: those changed since then.")
    cursor: str | None = Field(default=None, description="The `cursor` a call cut short gave: continue past those it tried.")

    @field_validator("since")
    @classmethod
    def _since(cls, value: str | None) -> str | None:
        return _iso(value) if value is not None else None


def _iso(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def _query(app: HttpApiResolver) -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def _invalid(name: str, rule: str) -> problems.Problem:
    return problems.invalid(f"The query parameter {name} {rule}.", [problems.FieldError(f"#/queryStringParameters/{name}", rule)])


def _point(value: str | None, name: str = "point") -> str | None:
    if value is not None and POINT.fullmatch(value) is None:
        raise _invalid(name, "is an integration point such as OC-01")
    return value


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return _iso(value)
    except ValueError:
        raise _invalid("since", "is an ISO-8601 date-time") from None


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise _invalid("limit", f"is a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _bucket(value: str | None, since: str) -> int | None:
    if value is None:
        return None
    rule = f"is a whole number of seconds from {MIN_BUCKET_SECONDS} to {MAX_BUCKET_SECONDS}"
    if not value.isdigit() or not MIN_BUCKET_SECONDS <= int(value) <= MAX_BUCKET_SECONDS:
        raise _invalid("bucket", rule)
    if (datetime.now(UTC) - datetime.fromisoformat(since)).total_seconds() / int(value) > MAX_BUCKETS:
        raise _invalid("bucket", f"makes at most {MAX_BUCKETS} buckets since `since`")
    return int(value)


def _transaction_id(encoded: str) -> str:
    return unquote(encoded)  # the route's segment as sent: an id holding "/" is percent-encoded in it


def build_api() -> HttpApiResolver:
    app = create_api(SCOPE, compound_path_ids=frozenset({"id"}))

    def hub_api() -> HubApi:
        event = app.current_event
        base = api_base_url(event.request_context.domain_name, event.headers.get("host"))
        return HubApi(base, event.headers.get("authorization", ""), correlation_id())

    @route(
        app,
        "GET",
        "/ops/summary",
        summary="Each integration point's transactions since a time",
        description=(
            "Per integration point, the transactions changed since `since` (ISO-8601 UTC; default: a day ago): how many, "
            "how many completed, failed and still in flight, and when the oldest of those in flight was received. "
            f"With `bucket` (seconds, {MIN_BUCKET_SECONDS} to {MAX_BUCKET_SECONDS}, at most {MAX_BUCKETS} buckets since "
            "`since`), each point's `series`: received, completed and failed per bucket. `catalogue` lists every "
            "integration point of the packs deployed."
        ),
        replies=[Reply(200, "The summary.", "OpsSummary")],
        problems=[422],
        schemas=SCHEMAS,
    )
    def summary() -> tuple[int, Any]:
        query = _query(app)
        since = _since(query.get("since")) or (datetime.now(UTC) - timedelta(hours=DEFAULT_SUMMARY_HOURS)).isoformat()
        bucket = _bucket(query.get("bucket"), since)
        return 200, {
            "since": since,
            "points": transactions_journal().summary(since, bucket),
            "catalogue": catalogue(),
            **({"bucket": bucket} if bucket else {}),
        }

    @route(
        app,
        "GET",
        "/ops/transactions",
        summary="Find transactions by point, state and time",
        description=(
            "Query parameters, each optional: `point` (OC-01, MD-01...), `state` (RECEIVED, IN_FLIGHT, COMPLETED, FAILED), "
            "`since` (ISO-8601 UTC, changed since), `limit` (default 50, at most 500), `cursor` (from the page before). "
            "Newest first within each state; read from an index of the transactions journal."
        ),
        replies=[Reply(200, "A page of transactions.", "OpsTransactions")],
        problems=[422],
        schemas=SCHEMAS,
    )
    def transactions() -> tuple[int, Any]:
        query = _query(app)
        state = query.get("state")
        if state is not None and state not in STATES:
            raise _invalid("state", f"is one of {', '.join(STATES)}")
        try:
            page = transactions_journal().transactions(
                point=_point(query.get("point")),
                state=state,
                since=_since(query.get("since")),
                limit=_limit(query.get("limit")),
                cursor=query.get("cursor"),
            )
        except InvalidCursor:
            raise _invalid("cursor", "is one a page of this listing gave") from None
        return 200, {"items": page.items, **({"cursor": page.cursor} if page.cursor else {})}

    def _head(point: str, encoded_id: str) -> tuple[str, dict[str, Any]]:
        if POINT.fullmatch(point) is None:
            raise problems.not_found(f"No integration point {point}.")
        transaction_id = _transaction_id(encoded_id)
        head = transactions_journal().head(point, transaction_id)
        if head is None:
            raise problems.not_found(f"No transaction {transaction_id} at {point}.")
        return transaction_id, head

    @route(
        app,
        "GET",
        "/ops/transactions/{point}/{id}",
        summary="One transaction and its timeline",
        description=(
            "The transaction's state (and its pack's own, `detailState`), and every hop from intake to the target's "
            "answer, attempts included, oldest first. 404 when the journal does not know it."
        ),
        replies=[Reply(200, "The transaction.", "OpsTransactionTrace")],
        problems=[404],
        path_parameters=TRANSACTION_PARAMETERS,
        schemas=SCHEMAS,
    )
    def transaction(point: str, id: str) -> tuple[int, Any]:
        transaction_id, head = _head(point, id)
        return 200, {
            **view(head),
            "detailState": str(head.get("detailState", "")),
            "timeline": transactions_journal().timeline(point, transaction_id),
        }

    def resubmit(point: str, transaction_id: str, head: dict[str, Any], hub: HubApi) -> tuple[int, dict[str, Any]]:
        if head.get("state") != FAILED:
            raise problems.conflict(
                f"Transaction {transaction_id} at {point} is {head.get('state')}; only a FAILED one can be resubmitted."
            )
        path = str(head.get("resubmit") or "")
        if RESUBMISSION_PATH.fullmatch(path) is None:  # the journal is written by every function: only a pack's resubmission is called
            raise problems.conflict(f"Transaction {transaction_id} at {point} has no resubmission.")
        try:
            answer = hub.post(path)
        except HubUnreachable as exc:
            logger.warning("resubmission not forwarded", extra={"point": point, "error": str(exc)})
            raise problems.Problem(502, "Bad gateway", "The hub's API did not answer the resubmission.", "hub-unreachable") from None
        if answer.status == 202:
            return 202, {"point": point, "id": transaction_id, "state": normalised(str(answer.body.get("status", "RECEIVED")))}
        if answer.status in (404, 409):
            raise problems.Problem(
                answer.status, str(answer.body.get("title", "Refused")), str(answer.body.get("detail", "")), "resubmission-refused"
            )
        logger.warning("resubmission refused", extra={"point": point, "status": answer.status})
        raise problems.Problem(502, "Bad gateway", f"The pack's resubmission answered {answer.status}.", "resubmission-failed")

    @route(
        app,
        "POST",
        "/ops/transactions/{point}/{id}/resubmission",
        summary="Run a FAILED transaction again",
        description=(
            "Calls the transaction's own resubmission route (its pack's, recorded in the journal) with the operator's "
            "token: it continues from where it failed, nothing done twice. 409 when it is not FAILED, 404 when unknown."
        ),
        replies=[Reply(202, "Running again.", "OpsResubmitted")],
        problems=[404, 409, 502],
        path_parameters=TRANSACTION_PARAMETERS,
        schemas=SCHEMAS,
    )
    def resubmission(point: str, id: str) -> tuple[int, Any]:
        transaction_id, head = _head(point, id)
        return resubmit(point, transaction_id, head, hub_api())

    @route(
        app,
        "POST",
        "/ops/transactions:resubmit",
        request=Request(ResubmitFilter, "Which failed transactions to run again."),
        summary="Run every FAILED transaction of a filter again",
        description=(
            "Each FAILED transaction of the filter (`point`, `since`) is resubmitted as by its own resubmission; the "
            "answer counts those resubmitted, and lists those their pack refused (with its reason) and those whose "
            "resubmission failed (5xx: retry them). When the call's time runs out before the last, `remaining` is true "
            "and `cursor` says where to continue: call again with it."
        ),
        replies=[Reply(202, "Resubmitted.", "OpsBulkResubmitted")],
        schemas=SCHEMAS,
    )
    def resubmit_many(wanted: ResubmitFilter) -> tuple[int, Any]:
        hub = hub_api()
        deadline = time.monotonic() + BULK_BUDGET_SECONDS

        def listing(cursor: str | None) -> Page:
            return transactions_journal().transactions(point=wanted.point, state=FAILED, since=wanted.since, limit=100, cursor=cursor)

        def resubmit_one(point: str, transaction_id: str) -> None:
            resubmit(point, transaction_id, transactions_journal().head(point, transaction_id) or {}, hub)

        try:
            return 202, resubmit_listed(listing, resubmit_one, cursor=wanted.cursor, out_of_time=lambda: time.monotonic() > deadline)
        except InvalidCursor:
            raise _invalid("cursor", "is one a call of this filter gave") from None

    @route(
        app,
        "GET",
        "/ops/cross-references",
        summary="An entity's id in every system",
        description=(
            "Query parameters `system` (SEBL, CCB, MDM, BRM...) and `id` (the entity's id there), `entityType` optional "
            "(PERSON, ACCOUNT, SERVICE_POINT, account...; default: each the hub links). 404 when no link names it."
        ),
        replies=[Reply(200, "Its ids.", "OpsCrossReferences")],
        problems=[404, 422],
        schemas=SCHEMAS,
    )
    def cross_reference() -> tuple[int, Any]:
        query = _query(app)
        system, entity_id, entity_type = query.get("system"), query.get("id"), query.get("entityType")
        if system is None or SYSTEM.fullmatch(system) is None:
            raise _invalid("system", "is a system code such as CCB")
        if not entity_id:
            raise _invalid("id", "is required")
        found = cross_references().ids_of([entity_type] if entity_type else xref_entity_types(), SystemId(system, entity_id))
        if found is None:
            raise problems.not_found(f"No cross-reference of {entity_id} in {system}.")
        kind, ids = found
        return 200, {"system": system, "id": entity_id, "entityType": kind, "ids": ids}

    add_import_route(app)
    return app


api = build_api()
