"""The HTTP API of the billing events, bill cycle and link points, one resolver per function:

- :data:`relay_api`: MD-13 replacement reads and MD-20 bill cycle changes (MDM calls, scope
  ``utilhub/meter-data-mdm``), MD-16 bill status (CCB calls, scope ``utilhub/meter-data``): ``202``, relayed;
- :data:`bill_cycle_api`: MD-19 SA activation bill cycle request (synchronous, MDM answers);
- :data:`adjustment_api`: MD-17 usage adjustment (synchronous, MDM answers);
- :data:`links_api`: MD-21 navigation links from configured URL templates.
"""

from __future__ import annotations

import re

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from utilhub.packs.meter_data import bill_cycle, billing_relays, links, usage_adjustments
from utilhub.packs.meter_data.billing_events import (
    BillCycleChangeIn,
    BillCycleRequestIn,
    BillStatusIn,
    ReplacementReadsIn,
    UsageAdjustmentIn,
)
from utilhub.packs.meter_data.model import ID
from utilhub.platform import problems
from utilhub.platform.http import create_api, json_response, once_per_key, parsed, read_body

PREFIX = "/meter-data"
SCOPE = "utilhub/meter-data"
MDM_SCOPE = "utilhub/meter-data-mdm"  # MDM's own client: the notifications MDM sends to CCB through the hub
LINKS_SCOPE = "utilhub/meter-data-links"  # MD-21 is asked by CCB (into MDM) and by MDM (into CCB)


def entity_id(name: str, value: str) -> str:
    """A path parameter that names a CCB or MDM entity: the pack's id pattern, or a 422 naming it."""
    if not re.match(ID, value):
        raise problems.invalid(f"{name} is not a valid id.", [problems.FieldError(f"#/{name}", f"must match {ID}")])
    return value


def build_relay_api() -> APIGatewayHttpResolver:
    app = create_api(
        SCOPE,
        route_scopes={f"POST {PREFIX}/replacement-reads": MDM_SCOPE, f"POST {PREFIX}/bill-cycle-changes": MDM_SCOPE},
    )

    @app.post(f"{PREFIX}/replacement-reads")
    def replacement_reads() -> Response[str]:
        body = read_body(app, xml=False)
        notification = parsed(ReplacementReadsIn, body.json)
        return once_per_key(app, body, lambda: (202, billing_relays.accept_replacement_reads(notification)))

    @app.post(f"{PREFIX}/usage-transactions/<usageTransactionId>/bill-status")
    def bill_status(usageTransactionId: str) -> Response[str]:
        body = read_body(app, xml=False)
        status = parsed(BillStatusIn, body.json)
        usage_transaction = entity_id("usageTransactionId", usageTransactionId)
        return once_per_key(app, body, lambda: (202, billing_relays.accept_bill_status(usage_transaction, status)))

    @app.post(f"{PREFIX}/bill-cycle-changes")
    def bill_cycle_change() -> Response[str]:
        body = read_body(app, xml=False)
        change = parsed(BillCycleChangeIn, body.json)
        return once_per_key(app, body, lambda: (202, billing_relays.accept_bill_cycle_change(change)))

    return app


def build_bill_cycle_api() -> APIGatewayHttpResolver:
    app = create_api(SCOPE)

    @app.post(f"{PREFIX}/bill-cycle-requests")
    def bill_cycle_request() -> Response[str]:
        body = read_body(app, xml=False)
        request = parsed(BillCycleRequestIn, body.json)
        return once_per_key(app, body, lambda: (200, bill_cycle.request_bill_cycle(request)))

    return app


def build_adjustment_api() -> APIGatewayHttpResolver:
    app = create_api(SCOPE)

    @app.post(f"{PREFIX}/usage-adjustments")
    def usage_adjustment() -> Response[str]:
        body = read_body(app, xml=False)
        request = parsed(UsageAdjustmentIn, body.json)
        return once_per_key(app, body, lambda: (200, usage_adjustments.request_usage_adjustment(request)))

    return app


def build_links_api() -> APIGatewayHttpResolver:
    app = create_api(LINKS_SCOPE)

    @app.get(f"{PREFIX}/links")
    def navigation_links() -> Response[str]:
        query = app.current_event.query_string_parameters or {}
        return json_response(200, links.navigation_links(query.get("entityType"), query.get("entityId")))

    return app


relay_api = build_relay_api()
bill_cycle_api = build_bill_cycle_api()
adjustment_api = build_adjustment_api()
links_api = build_links_api()
