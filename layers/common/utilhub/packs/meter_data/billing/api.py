"""The HTTP API of the billing events, bill cycle and link points, one resolver per function:

- :data:`relay_api`: MD-13 replacement reads and MD-20 bill cycle changes (MDM calls, scope
  ``utilhub/meter-data-mdm``), MD-16 bill status (CCB calls, scope ``utilhub/meter-data``): ``202``, relayed;
- :data:`bill_cycle_api`: MD-19 SA activation bill cycle request (synchronous, MDM answers);
- :data:`adjustment_api`: MD-17 usage adjustment (synchronous, MDM answers);
- :data:`links_api`: MD-21 navigation links from configured URL templates.
"""

from __future__ import annotations

import re
from typing import Any

from utilhub.packs.meter_data import links
from utilhub.packs.meter_data.billing import bill_cycle, usage_adjustments
from utilhub.packs.meter_data.billing import relays as billing_relays
from utilhub.packs.meter_data.billing.events import (
    BillCycleChangeIn,
    BillCycleRequestIn,
    BillStatusIn,
    ReplacementReadsIn,
    UsageAdjustment,
    UsageAdjustmentIn,
)
from utilhub.packs.meter_data.model import ID
from utilhub.platform import problems
from utilhub.platform.api_docs import Reply, Request
from utilhub.platform.http import Body, HttpApiResolver, create_api, parsed, route

PREFIX = "/meter-data"
SCOPE = "utilhub/meter-data"
MDM_SCOPE = "utilhub/meter-data-mdm"  # MDM's own client: the notifications MDM sends to CCB through the hub
LINKS_SCOPE = "utilhub/meter-data-links"  # MD-21 is asked by CCB (into MDM) and by MDM (into CCB)


def entity_id(name: str, value: str) -> str:
    """A path parameter that names a CCB or MDM entity: the pack's id pattern, or a 422 naming it."""
    if not re.match(ID, value):
        raise problems.invalid(f"{name} is not a valid id.", [problems.FieldError(f"#/{name}", f"must match {ID}")])
    return value


BUDGET = " Synchronous: one call to MDM within the route's time budget; MDM answering an error is a 502, not answering in time a 504."
RELAYED = (
    " Queued and delivered once per id, retried while the target is down (then kept in a dead-letter queue);"
    " a refusal by the target is recorded and alarmed, not retried."
)
ACCEPTED: dict[str, dict[str, Any]] = {
    "MeterDataEventAccepted": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"const": "ACCEPTED"},
            "notificationId": {"type": "string"},
            "changeId": {"type": "string"},
            "usageTransactionId": {"type": "string"},
            "eventId": {"type": "string"},
            "usedOnBill": {"type": "boolean", "description": "What MDM is told: true for BILL_COMPLETED and SEGMENT_FROZEN."},
        },
    }
}


def read_bill_status(body: Body, usageTransactionId: str) -> tuple[str, BillStatusIn]:
    status = parsed(BillStatusIn, body.json)
    return entity_id("usageTransactionId", usageTransactionId), status


def build_relay_api() -> HttpApiResolver:
    app = create_api(SCOPE)

    @route(
        app,
        "POST",
        f"{PREFIX}/replacement-reads",
        scope=MDM_SCOPE,
        request=Request(ReplacementReadsIn, "The notification."),
        idempotent=True,
        summary="Replacement reads notification from MDM (MD-13)",
        description=(
            "MDM (scope `utilhub/meter-data-mdm`) changed determinants it had already sent for a usage transaction; CCB "
            "receives an off-cycle bill generation request, once per `notificationId`. Nothing is answered to MDM "
            "beyond the 202." + RELAYED
        ),
        replies=[Reply(202, "Accepted.", "MeterDataEventAccepted")],
        schemas=ACCEPTED,
    )
    def replacement_reads(notification: ReplacementReadsIn) -> tuple[int, Any]:
        return 202, billing_relays.accept_replacement_reads(notification)

    @route(
        app,
        "POST",
        f"{PREFIX}/usage-transactions/{{usageTransactionId}}/bill-status",
        request=Request(BillStatusIn, "The bill event.", read=read_bill_status),
        idempotent=True,
        summary="Usage transaction info update from CCB (MD-16)",
        description=(
            "A bill completed or a bill segment frozen (MDM gets used-on-bill `true`) or canceled (`false`), once per "
            "`eventId` and usage transaction; a transaction's events reach MDM in the order the hub accepted them (a "
            "failed one is redelivered before the later ones), so MDM ends with the latest event's flag; with `at`, MDM "
            "also keeps the latest when two are posted out of order." + RELAYED
        ),
        replies=[Reply(202, "Accepted.", "MeterDataEventAccepted")],
        path_parameters={"usageTransactionId": {"description": "MDM's usage transaction.", "schema": {"type": "string"}}},
        schemas=ACCEPTED,
    )
    def bill_status(request: tuple[str, BillStatusIn], usageTransactionId: str) -> tuple[int, Any]:
        usage_transaction, status = request
        return 202, billing_relays.accept_bill_status(usage_transaction, status)

    @route(
        app,
        "POST",
        f"{PREFIX}/bill-cycle-changes",
        scope=MDM_SCOPE,
        request=Request(BillCycleChangeIn, "The change."),
        idempotent=True,
        summary="Bill cycle change notification from MDM (MD-20)",
        description="MDM (scope `utilhub/meter-data-mdm`) changed a service point's bill cycle; CCB receives it once per `changeId`."
        + RELAYED,
        replies=[Reply(202, "Accepted.", "MeterDataEventAccepted")],
        schemas=ACCEPTED,
    )
    def bill_cycle_change(change: BillCycleChangeIn) -> tuple[int, Any]:
        return 202, billing_relays.accept_bill_cycle_change(change)

    return app


def build_bill_cycle_api() -> HttpApiResolver:
    app = create_api(SCOPE)

    @route(
        app,
        "POST",
        f"{PREFIX}/bill-cycle-requests",
        request=Request(BillCycleRequestIn, "The SA being activated and its service point."),
        idempotent=True,
        summary="SA activation bill cycle request (MD-19)",
        description="The bill cycle MDM links to the SA's service point; an SA or service point MDM does not hold is a 404." + BUDGET,
        replies=[Reply(200, "The bill cycle.", "BillCycle")],
        problems=[404, 502, 504],
        schemas={
            "BillCycle": {
                "type": "object",
                "required": ["saId", "servicePointId", "billCycle"],
                "properties": {"saId": {"type": "string"}, "servicePointId": {"type": "string"}, "billCycle": {"type": "string"}},
            }
        },
    )
    def bill_cycle_request(request: BillCycleRequestIn) -> tuple[int, Any]:
        return 200, bill_cycle.request_bill_cycle(request)

    return app


def build_adjustment_api() -> HttpApiResolver:
    app = create_api(SCOPE)

    @route(
        app,
        "POST",
        f"{PREFIX}/usage-adjustments",
        request=Request(UsageAdjustmentIn, "The adjustment."),
        idempotent=True,
        summary="Usage adjustment request, self-service (MD-17)",
        description=(
            "MDM adjusts the SA's usage over the period by `quantity` (positive adds, negative takes away) and answers the "
            "usage transaction it made; the same `adjustmentId` again answers the same one, with other values it is a 409. "
            "An SA MDM does not hold is a 404. Made once (never retried by the hub): after a 504, send it again."
        )
        + BUDGET,
        replies=[Reply(200, "The adjustment MDM made.", UsageAdjustment)],
        problems=[404, 409, 502, 504],
    )
    def usage_adjustment(request: UsageAdjustmentIn) -> tuple[int, Any]:
        return 200, usage_adjustments.request_usage_adjustment(request)

    return app


def build_links_api() -> HttpApiResolver:
    app = create_api(LINKS_SCOPE)

    @route(
        app,
        "GET",
        f"{PREFIX}/links",
        summary="Navigation links between CCB and MDM objects (MD-21)",
        description=(
            "Query `entityType` (CCB's PERSON, SERVICE_AGREEMENT, SERVICE_POINT, USAGE_REQUEST, METER; MDM's "
            "MDM_SERVICE_POINT) and `entityId`. The links come from URL templates kept as configuration (shipped, "
            "overridden per entity type by the links parameter); the id is URL-quoted into them. An unknown entity "
            "type is a 422."
        ),
        replies=[Reply(200, "The links.", "NavigationLinks")],
        problems=[422],
        schemas={
            "NavigationLinks": {
                "type": "object",
                "required": ["entityType", "entityId", "links"],
                "properties": {
                    "entityType": {"type": "string"},
                    "entityId": {"type": "string"},
                    "links": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["rel", "href"],
                            "properties": {"rel": {"type": "string"}, "href": {"type": "string", "format": "uri"}},
                        },
                    },
                },
            }
        },
    )
    def navigation_links() -> tuple[int, Any]:
        query = app.current_event.query_string_parameters or {}
        return 200, links.navigation_links(query.get("entityType"), query.get("entityId"))

    return app


relay_api = build_relay_api()
bill_cycle_api = build_bill_cycle_api()
adjustment_api = build_adjustment_api()
links_api = build_links_api()
