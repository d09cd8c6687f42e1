"""Route documentation of the meter data billing usage points (MD-11, MD-12, MD-14, MD-15), merged
into the hub's OpenAPI document by :func:`localhub.openapi.route_docs`."""

from __future__ import annotations

from localhub.openapi import ApiDocs, Reply, RequestBody, RouteDoc, ref

BUDGET = (
    " Synchronous: one read at MDM within the route's time budget, tried once more when it fails and time is left;"
    " MDM answering an error is a 502, not answering in time a 504, not holding the SA or register a 404."
)


def meter_data_usage_docs() -> ApiDocs:
    from utilhub.packs.meter_data.sync import PREFIX
    from utilhub.packs.meter_data.usage import BillDeterminants, BillDeterminantsIn, ReadBoundaries, Usage, UsageIn
    from utilhub.packs.meter_data.usage_requests import MAX_BATCH, UsageRequestIn, UsageStatus

    docs = ApiDocs(
        models=[
            (BillDeterminantsIn, "validation"),
            (UsageIn, "validation"),
            (BillDeterminants, "serialization"),
            (Usage, "serialization"),
            (ReadBoundaries, "serialization"),
            (UsageRequestIn, "validation"),
        ]
    )
    statuses = [s.value for s in UsageStatus]
    docs.schemas["UsageRequestBatch"] = {
        "type": "object",
        "required": ["requests"],
        "properties": {"requests": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": ref(UsageRequestIn)}},
    }
    docs.schemas["UsageRequestAccepted"] = {
        "type": "object",
        "required": ["usageRequestId", "status"],
        "properties": {"usageRequestId": {"type": "string"}, "status": {"enum": statuses}},
    }
    docs.schemas["UsageRequestBatchAccepted"] = {
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
                        "status": {"enum": [*statuses, "CONFLICT"]},
                        "created": {"type": "boolean"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }
    docs.schemas["UsageRequestView"] = {
        "type": "object",
        "required": ["usageRequestId", "status", "saId", "periodStart", "periodEnd", "history"],
        "properties": {
            "usageRequestId": {"type": "string"},
            "status": {"enum": statuses},
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
                        "status": {"enum": statuses},
                        "at": {"type": "string", "format": "date-time"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    }
    lifecycle = (
        " AWAITING_DATA_SYNC while the SA, one of its service points or an SP-meter history of one still has a sync request to MDM"
        " not yet SYNCHRONIZED or DISCARDED (it proceeds by itself once they are, or ends in ERROR with the reason after the"
        " configured waiting bound), else PENDING; then SENT to MDM, COMPLETED once"
        " its determinants are at CCB (once, whatever the redeliveries), or ERROR with MDM's or CCB's refusal, or with the"
        " reason when no attempt completed within the queue's retry window (its message is in the dead-letter queue)."
    )
    period = (
        " The period runs from `periodStart` 00:00 to `periodEnd` 00:00 (the next period's start); one that does not end after it"
        " starts, or is longer than the configured maximum (93 days), is a 422 naming `periodEnd`."
    )
    docs.routes = {
        f"POST {PREFIX}/bill-determinants": RouteDoc(
            summary="Online bill determinants of an SA for a period (MD-12)",
            description=(
                "kWh in total and per time-of-use period (ON_PEAK, SHOULDER, OFF_PEAK), peak demand in kW, and the 15-minute "
                "intervals when `includeIntervals`; the buckets and the intervals add up to the total (checked before answering)."
                + period
                + BUDGET
            ),
            body=RequestBody(BillDeterminantsIn.__name__, "The SA and period."),
            replies=(Reply(200, "The determinants.", BillDeterminants.__name__),),
            problems=(404, 502, 504),
            honours_idempotency_key=True,
        ),
        f"POST {PREFIX}/usage": RouteDoc(
            summary="Usage of an SA for a period, with a charge per rate plan when asked (MD-15)",
            description=(
                "For CCB's rate check and Customer Self Service's rate comparison and bill-to-date: total, time-of-use buckets, "
                "days and peak demand, and under `comparison` the charge of the period under each of `ratePlans` (its lines "
                "and their sum). A rate plan MDM does not bill under is a 422 naming `ratePlans`." + period + BUDGET
            ),
            body=RequestBody(UsageIn.__name__, "The SA, period and rate plans."),
            replies=(Reply(200, "The usage.", Usage.__name__),),
            problems=(404, 502, 504),
            honours_idempotency_key=True,
        ),
        f"GET {PREFIX}/registers/{{registerId}}/read-boundaries": RouteDoc(
            summary="A register's estimated reading and high-low boundaries at a time (MD-14)",
            description="Query `readAt` (ISO 8601 date-time with offset). `low <= estimate <= high`; a read outside is suspect." + BUDGET,
            replies=(Reply(200, "The estimate and its boundaries.", ReadBoundaries.__name__),),
            problems=(404, 422, 502, 504),
            path_parameters={"registerId": {"description": "The register.", "schema": {"type": "string"}}},
        ),
        f"POST {PREFIX}/usage-requests": RouteDoc(
            summary="Submit a usage request of a bill run (MD-11)",
            description="Accepted with 202 and its status; the same `usageRequestId` again changes nothing, with another body it is a 409."
            + lifecycle,
            body=RequestBody(UsageRequestIn.__name__, "The usage request."),
            replies=(Reply(202, "Accepted.", "UsageRequestAccepted"),),
            problems=(409,),
            honours_idempotency_key=True,
        ),
        f"POST {PREFIX}/usage-requests:batch": RouteDoc(
            summary=f"Submit up to {MAX_BATCH} usage requests of a bill run (MD-11)",
            description=(
                "All or nothing at validation: any invalid request makes a 422 whose `errors` point into `requests`; otherwise each "
                "is accepted (`created` false for one already stored, CONFLICT for an id used by another body)." + lifecycle
            ),
            body=RequestBody("UsageRequestBatch", "The usage requests."),
            replies=(Reply(202, "Accepted, one result per request in order.", "UsageRequestBatchAccepted"),),
            honours_idempotency_key=True,
        ),
        f"GET {PREFIX}/usage-requests/{{usageRequestId}}": RouteDoc(
            summary="A usage request's status, result and history (MD-11)",
            description="The determinants delivered to CCB once COMPLETED; the reason of every transition. 404 for an id never stored.",
            replies=(Reply(200, "The usage request.", "UsageRequestView"),),
            problems=(404,),
            path_parameters={"usageRequestId": {"description": "CCB's id of the usage request.", "schema": {"type": "string"}}},
        ),
        f"POST {PREFIX}/usage-requests/{{usageRequestId}}/resubmission": RouteDoc(
            summary="Resubmit a usage request in ERROR (MD-11)",
            description=(
                "Runs a usage request in ERROR again, once what made it fail is put right: AWAITING_DATA_SYNC when its SA's "
                "master data is still on its way to MDM (as at intake), else PENDING and queued. Determinants MDM gave an "
                "earlier attempt are sent to CCB again without asking MDM (CCB answers the same ones again), so the request "
                "is billed once. The same resubmission again answers the status it took; a request in any other status is a "
                "409, an unknown id a 404."
            ),
            replies=(Reply(202, "Running again.", "UsageRequestAccepted"),),
            problems=(404, 409),
            path_parameters={"usageRequestId": {"description": "CCB's id of the usage request.", "schema": {"type": "string"}}},
            honours_idempotency_key=True,
        ),
    }
    return docs
