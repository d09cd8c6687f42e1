"""MD-11 over HTTP: a bill run's usage requests in (single and ``:batch``), a usage request's state out, and a usage
request in ERROR resubmitted."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from utilhub.packs.meter_data import wiring
from utilhub.packs.meter_data.billing import usage_requests
from utilhub.packs.meter_data.billing.usage import BillDeterminants
from utilhub.packs.meter_data.sync import PREFIX, SCOPE
from utilhub.platform import problems
from utilhub.platform.api_docs import Reply, Request, ref
from utilhub.platform.http import Body, HttpApiResolver, create_api, route
from utilhub.platform.json_input import from_json

COLLECTION = f"{PREFIX}/usage-requests"


STATUSES = [status.value for status in usage_requests.UsageStatus]
SCHEMAS: dict[str, dict[str, Any]] = {
    "UsageRequestBatch": {
        "type": "object",
        "required": ["requests"],
        "properties": {
            "requests": {"type": "array", "minItems": 1, "maxItems": usage_requests.MAX_BATCH, "items": ref(usage_requests.UsageRequestIn)}
        },
    },
    "UsageRequestAccepted": {
        "type": "object",
        "required": ["usageRequestId", "status"],
        "properties": {"usageRequestId": {"type": "string"}, "status": {"enum": STATUSES}},
    },
    "UsageRequestBatchAccepted": {
        "type": "object",
        "required": ["accepted", "results"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0, "description": "How many were new."},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["usageRequestId", "status"],
                    "properties": {
                        "usageRequestId": {"type": "string"},
                        "status": {"enum": [*STATUSES, "CONFLICT"]},
                        "created": {"type": "boolean"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    },
    "UsageRequestView": {
        "type": "object",
        "required": ["usageRequestId", "status", "saId", "periodStart", "periodEnd", "history"],
        "properties": {
            "usageRequestId": {"type": "string"},
            "status": {"enum": STATUSES},
            "saId": {"type": "string"},
            "periodStart": {"type": "string", "format": "date"},
            "periodEnd": {"type": "string", "format": "date"},
            "result": {**ref(BillDeterminants), "description": "MDM's determinants, as delivered to CCB (COMPLETED only)."},
            "history": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["status", "at", "reason"],
                    "properties": {
                        "status": {"enum": STATUSES},
                        "at": {"type": "string", "format": "date-time"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    },
}
LIFECYCLE = (
    " AWAITING_DATA_SYNC while the SA, one of its service points or an SP-meter history of one still has a sync request to MDM"
    " not yet SYNCHRONIZED or DISCARDED (it proceeds by itself once they are, or ends in ERROR with the reason after the"
    " configured waiting bound), else PENDING; then SENT to MDM, COMPLETED once"
    " its determinants are at CCB (once, whatever the redeliveries), or ERROR with MDM's or CCB's refusal, or with the"
    " reason when no attempt completed within the queue's retry window (its message is in the dead-letter queue)."
)
USAGE_REQUEST_ID = {"usageRequestId": {"description": "CCB's id of the usage request.", "schema": {"type": "string"}}}


def read_request(body: Body) -> usage_requests.UsageRequestIn:
    return usage_requests.parse_request(body.json)


def read_batch(body: Body) -> list[usage_requests.UsageRequestIn]:
    try:
        raw = from_json(usage_requests.UsageRequestBatchIn, body.json).requests
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from None
    return usage_requests.parse_requests(raw, "/requests")


def build_api() -> HttpApiResolver:
    app = create_api(SCOPE)

    @route(
        app,
        "POST",
        COLLECTION,
        request=Request(usage_requests.UsageRequestIn, "The usage request.", read=read_request),
        idempotent=True,
        summary="Submit a usage request of a bill run (MD-11)",
        description="Accepted with 202 and its status; the same `usageRequestId` again changes nothing, with another body it is a 409."
        + LIFECYCLE,
        replies=[Reply(202, "Accepted.", "UsageRequestAccepted")],
        problems=[409],
        schemas=SCHEMAS,
    )
    def submit(request: usage_requests.UsageRequestIn) -> tuple[int, Any]:
        outcome = wiring.usage_request_service().submit([request])[0]
        if outcome["status"] == "CONFLICT":
            raise problems.conflict(f"usageRequestId {request.usageRequestId} is already used for another request.")
        return 202, {"usageRequestId": outcome["usageRequestId"], "status": outcome["status"]}

    @route(
        app,
        "POST",
        f"{COLLECTION}:batch",
        request=Request("UsageRequestBatch", "The usage requests.", read=read_batch),
        idempotent=True,
        summary=f"Submit up to {usage_requests.MAX_BATCH} usage requests of a bill run (MD-11)",
        description=(
            "All or nothing at validation: any invalid request makes a 422 whose `errors` point into `requests`; otherwise each "
            "is accepted (`created` false for one already stored, CONFLICT for an id used by another body)." + LIFECYCLE
        ),
        replies=[Reply(202, "Accepted, one result per request in order.", "UsageRequestBatchAccepted")],
        models=[(usage_requests.UsageRequestIn, "validation")],
        schemas=SCHEMAS,
    )
    def submit_batch(requests: list[usage_requests.UsageRequestIn]) -> tuple[int, Any]:
        results = wiring.usage_request_service().submit(requests)
        return 202, {"accepted": sum(1 for r in results if r.get("created")), "results": results}

    @route(
        app,
        "GET",
        f"{COLLECTION}/{{usageRequestId}}",
        summary="A usage request's status, result and history (MD-11)",
        description="The determinants delivered to CCB once COMPLETED; the reason of every transition. 404 for an id never stored.",
        replies=[Reply(200, "The usage request.", "UsageRequestView")],
        problems=[404],
        path_parameters=USAGE_REQUEST_ID,
        models=[(BillDeterminants, "serialization")],
        schemas=SCHEMAS,
    )
    def query(usageRequestId: str) -> tuple[int, Any]:
        item = wiring.usage_request_service().store.get(usageRequestId)
        if item is None:
            raise problems.not_found(f"No usage request {usageRequestId}.")
        return 200, usage_requests.view(item)

    @route(
        app,
        "POST",
        f"{COLLECTION}/{{usageRequestId}}/resubmission",
        operator=True,  # the operations API runs it with the operator's token (docs/operations.md)
        idempotent=True,
        summary="Resubmit a usage request in ERROR (MD-11)",
        description=(
            "Runs a usage request in ERROR again, once what made it fail is put right: AWAITING_DATA_SYNC when its SA's "
            "master data is still on its way to MDM (as at intake), else PENDING and queued. Determinants MDM gave an "
            "earlier attempt are sent to CCB again without asking MDM (CCB answers the same ones again), so the request "
            "is billed once. The same resubmission again answers the status it took; a request in any other status is a "
            "409, an unknown id a 404."
        ),
        replies=[Reply(202, "Running again.", "UsageRequestAccepted")],
        problems=[404, 409],
        path_parameters=USAGE_REQUEST_ID,
        schemas=SCHEMAS,
    )
    def resubmit(usageRequestId: str) -> tuple[int, Any]:
        try:
            status = wiring.usage_request_service().resubmit(usageRequestId)
        except LookupError:
            raise problems.not_found(f"No usage request {usageRequestId}.") from None
        except usage_requests.NotResubmittable as exc:
            raise problems.conflict(
                f"Usage request {usageRequestId} is {exc.status.value}; only a usage request in ERROR can be resubmitted."
            ) from None
        return 202, {"usageRequestId": usageRequestId, "status": status}

    return app


api = build_api()
