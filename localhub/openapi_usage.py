"""Route documentation of the meter data billing usage points (MD-11, MD-12, MD-14, MD-15), merged
into the hub's OpenAPI document by :func:`localhub.openapi.route_docs`."""

from __future__ import annotations

from localhub.openapi import ApiDocs, Reply, RequestBody, RouteDoc

BUDGET = (
    " Synchronous: one read at MDM within the route's time budget, tried once more when it fails and time is left;"
    " MDM answering an error is a 502, not answering in time a 504, not holding the SA or register a 404."
)


def meter_data_usage_docs() -> ApiDocs:
    from utilhub.packs.meter_data.sync import PREFIX
    from utilhub.packs.meter_data.usage import BillDeterminants, BillDeterminantsIn, ReadBoundaries, Usage, UsageIn

    docs = ApiDocs(
        models=[
            (BillDeterminantsIn, "validation"),
            (UsageIn, "validation"),
            (BillDeterminants, "serialization"),
            (Usage, "serialization"),
            (ReadBoundaries, "serialization"),
        ]
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
        ),
        f"GET {PREFIX}/registers/{{registerId}}/read-boundaries": RouteDoc(
            summary="A register's estimated reading and high-low boundaries at a time (MD-14)",
            description="Query `readAt` (ISO 8601 date-time with offset). `low <= estimate <= high`; a read outside is suspect." + BUDGET,
            replies=(Reply(200, "The estimate and its boundaries.", ReadBoundaries.__name__),),
            problems=(404, 422, 502, 504),
            path_parameters={"registerId": {"description": "The register.", "schema": {"type": "string"}}},
        ),
    }
    return docs
