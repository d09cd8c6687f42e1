"""MD-12, MD-14 and MD-15 over HTTP: the synchronous meter data billing points (``usage``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from utilhub.packs.meter_data.billing import usage
from utilhub.packs.meter_data.model import ID
from utilhub.packs.meter_data.sync import PREFIX, SCOPE
from utilhub.platform import problems
from utilhub.platform.api_docs import Reply, Request
from utilhub.platform.http import HttpApiResolver, create_api, route

BUDGET = (
    " Synchronous: one read at MDM within the route's time budget, tried once more when it fails and time is left;"
    " MDM answering an error is a 502, not answering in time a 504, not holding the SA or register a 404."
)
PERIOD = (
    " The period runs from `periodStart` 00:00 to `periodEnd` 00:00 (the next period's start); one that does not end after it"
    " starts, or is longer than the configured maximum (93 days), is a 422 naming `periodEnd`."
)


def _read_at(app: APIGatewayHttpResolver) -> datetime:
    text = (app.current_event.query_string_parameters or {}).get("readAt") or ""
    try:
        read_at = datetime.fromisoformat(text.replace("Z", "+00:00")) if len(text) <= 40 else None
    except ValueError:
        read_at = None
    if read_at is None or read_at.tzinfo is None:
        raise problems.invalid(
            "readAt is not a date-time with its offset.", [problems.FieldError("#/readAt", "not an ISO 8601 date-time with offset")]
        )
    return read_at


def build_api() -> HttpApiResolver:
    app = create_api(SCOPE)

    @route(
        app,
        "POST",
        f"{PREFIX}/bill-determinants",
        request=Request(usage.BillDeterminantsIn, "The SA and period."),
        idempotent=True,
        summary="Online bill determinants of an SA for a period (MD-12)",
        description=(
            "In the SA's unit (`uom`, CCB's code through the UnitOfMeasure map) by its `serviceType`: an electric SA's kWh in "
            "total and per time-of-use period (ON_PEAK, SHOULDER, OFF_PEAK) and its peak demand in kW; a gas SA's therms (or "
            "CCF) and a water SA's gallons (or cubic metres) in total only, their rates having no time of use or demand. The "
            "intervals when `includeIntervals`; the buckets and the intervals add up to the total (checked before answering)."
            + PERIOD
            + BUDGET
        ),
        replies=[Reply(200, "The determinants.", usage.BillDeterminants)],
        problems=[404, 502, 504],
    )
    def bill_determinants(request: usage.BillDeterminantsIn) -> tuple[int, Any]:
        return 200, usage.bill_determinants(request)

    @route(
        app,
        "POST",
        f"{PREFIX}/usage",
        request=Request(usage.UsageIn, "The SA, period and rate plans."),
        idempotent=True,
        summary="Usage of an SA for a period, with a charge per rate plan when asked (MD-15)",
        description=(
            "For CCB's rate check and Customer Self Service's rate comparison and Current Bill-To and Estimate: the total in "
            "the SA's unit and its days (an electric SA's also in kWh, with time-of-use buckets and peak demand), and under "
            "`comparison` the charge of the period under each of `ratePlans` (its lines and their sum). With `billPeriodEnd` "
            "the period is the bill-to-date and `estimate` gives the whole bill period's usage and charges. A rate plan MDM "
            "does not bill under, or not for the SA's service type, is a 422 naming `ratePlans`." + PERIOD + BUDGET
        ),
        replies=[Reply(200, "The usage.", usage.Usage)],
        problems=[404, 502, 504],
    )
    def usage_of_period(request: usage.UsageIn) -> tuple[int, Any]:
        return 200, usage.usage(request)

    @route(
        app,
        "GET",
        f"{PREFIX}/registers/{{registerId}}/read-boundaries",
        summary="A register's estimated reading and high-low boundaries at a time (MD-14)",
        description="Query `readAt` (ISO 8601 date-time with offset). `low <= estimate <= high`; a read outside is suspect." + BUDGET,
        replies=[Reply(200, "The estimate and its boundaries.", usage.ReadBoundaries)],
        problems=[404, 422, 502, 504],
        path_parameters={"registerId": {"description": "The register.", "schema": {"type": "string"}}},
    )
    def read_boundaries(registerId: str) -> tuple[int, Any]:
        if not re.match(ID, registerId):
            raise problems.invalid("registerId is not valid.", [problems.FieldError("#/registerId", "not valid")])
        return 200, usage.read_boundaries(registerId, _read_at(app))

    return app


api = build_api()
