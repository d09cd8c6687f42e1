"""CU-01 and CU-02 over HTTP: Siebel's orders and account updates in (JSON or Siebel XML), and what
the hub knows of a Siebel account out."""

from __future__ import annotations

from typing import Any

from utilhub.packs.customer import siebel_xml
from utilhub.packs.customer.model import AccountUpdateIn, CustomerOutcome, SiebelOrderIn
from utilhub.packs.customer.wiring import customer_sync
from utilhub.platform.api_docs import Reply, Request, XmlBody, ref
from utilhub.platform.http import HttpApiResolver, create_api, route

SCOPE = "utilhub/customer"
PREFIX = "/customer/siebel"

SCHEMAS: dict[str, dict[str, Any]] = {
    "CustomersSynchronized": {
        "type": "object",
        "required": ["orderId", "customers"],
        "properties": {
            "orderId": {"type": "string"},
            "customers": {
                "type": "array",
                "items": ref(CustomerOutcome),
                "description": "One per distinct billing account, in order of first line.",
            },
        },
    },
    "CustomerUpdateAnswer": {
        "type": "object",
        "required": ["siebelAccountId", "updateId", "status"],
        "properties": {
            "siebelAccountId": {"type": "string"},
            "updateId": {"type": "string"},
            "status": {"type": "string", "enum": ["ACCEPTED", "IGNORED"]},
            "reason": {"type": "string", "description": "Why an update was ignored (IGNORED only)."},
        },
    },
    "SiebelAccountView": {
        "type": "object",
        "required": ["siebelAccountId", "synchronized", "ccbPersonId", "ccbAccountId"],
        "properties": {
            "siebelAccountId": {"type": "string"},
            "synchronized": {"type": "boolean", "description": "False for a prospect whose updates the hub has ignored."},
            "ccbPersonId": {"type": ["string", "null"]},
            "ccbAccountId": {"type": ["string", "null"]},
        },
    },
}
ACCOUNT_ID = {"siebelAccountId": {"description": "The Siebel account id.", "schema": {"type": "string"}}}
DVM = " Code values are Siebel's (or the hub's COMMON codes), any case; one with no domain value map entry is a 422 naming it."


def build_api() -> HttpApiResolver:
    app = create_api(SCOPE)

    @route(
        app,
        "POST",
        f"{PREFIX}/orders",
        request=Request(
            SiebelOrderIn,
            "The order's lines and their billing accounts.",
            xml=XmlBody("siebel/customer.xsd", "SiebelMessage", read=siebel_xml.read_order),
        ),
        idempotent=True,
        summary="Create or synchronize the customers of a Siebel order in CCB (CU-01)",
        description=(
            "Each distinct billing account on the order's lines becomes, or updates, one CCB customer (person, account, "
            "addresses, contacts, bill route, statement set-up), within the route's time budget: CREATED, UPDATED or "
            "UNCHANGED, with its CCB ids. A repeated order creates nothing twice; an account not yet linked is looked up "
            "at CCB by its Siebel id before it is created. An account linked by the cutover's cross-reference import updates "
            "the CCB customer those links name; CCB finding another under its Siebel id, or holding the imported person with "
            "another account or not at all, is a 409 (nothing sent, nothing recorded). "
            "Two lines giving one billing account different data is a 422. "
            "CCB answering an error is a 502, CCB not answering in time a 504; the order can be posted again."
            + DVM
            + " Siebel's XML form (`UTH Customer Order`) is validated against the XSD named by `x-xsd`."
        ),
        replies=[Reply(200, "The customers of the order.", "CustomersSynchronized")],
        problems=[409, 502, 504],
        models=[(CustomerOutcome, "serialization")],
        schemas=SCHEMAS,
    )
    def synchronize_order(order: SiebelOrderIn) -> tuple[int, Any]:
        return 200, customer_sync().synchronize_order(order)

    @route(
        app,
        "POST",
        f"{PREFIX}/accounts/{{siebelAccountId}}/updates",
        request=Request(
            AccountUpdateIn,
            "The parts that changed and when.",
            xml=XmlBody(
                "siebel/customer.xsd",
                "SiebelMessage",
                read=lambda root, siebelAccountId: siebel_xml.read_account_update(root, siebelAccountId),
            ),
        ),
        idempotent=True,
        summary="Update a synchronized customer in CCB (CU-02)",
        description=(
            "For a customer synchronized through an order: 202 ACCEPTED, queued and applied to CCB in the order Siebel "
            "made the changes (a part changed earlier than what CCB has is not applied). For one never synchronized (a "
            "prospect): 200 IGNORED with the reason, and nothing is sent. Nothing flows from CCB back to Siebel."
            + DVM
            + " Siebel's XML form (`UTH Customer Account Update`) is validated against the XSD named by `x-xsd`."
        ),
        replies=[
            Reply(202, "Accepted: the update will reach CCB.", "CustomerUpdateAnswer"),
            Reply(200, "Ignored: the customer is not synchronized.", "CustomerUpdateAnswer"),
        ],
        path_parameters=ACCOUNT_ID,
        schemas=SCHEMAS,
    )
    def update_account(update: AccountUpdateIn, siebelAccountId: str) -> tuple[int, Any]:
        return customer_sync().accept_update(siebelAccountId, update)

    @route(
        app,
        "GET",
        f"{PREFIX}/accounts/{{siebelAccountId}}",
        summary="What the hub knows of a Siebel account",
        description="Whether it is synchronized to CCB and its CCB ids; 404 for an account the hub has never seen.",
        replies=[Reply(200, "The account.", "SiebelAccountView")],
        problems=[404],
        path_parameters=ACCOUNT_ID,
        schemas=SCHEMAS,
    )
    def account(siebelAccountId: str) -> tuple[int, Any]:
        return 200, customer_sync().status(siebelAccountId)

    return app


api = build_api()
