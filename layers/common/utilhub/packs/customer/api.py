"""CU-01 and CU-02 over HTTP: Siebel's orders and account updates in (JSON or Siebel XML), and what
the hub knows of a Siebel account out."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from utilhub.packs.customer import siebel_xml
from utilhub.packs.customer.model import AccountUpdateIn, SiebelOrderIn
from utilhub.packs.customer.wiring import customer_sync
from utilhub.platform.http import Body, create_api, json_response, once_per_key, parsed, parsed_xml, read_body

SCOPE = "utilhub/customer"
PREFIX = "/customer/siebel"


def read_order(body: Body) -> SiebelOrderIn:
    if body.json is not None:
        return parsed(SiebelOrderIn, body.json)
    return parsed_xml(SiebelOrderIn, siebel_xml.read_order(body.xml))  # type: ignore[arg-type]


def read_update(body: Body, siebel_account_id: str) -> AccountUpdateIn:
    if body.json is not None:
        return parsed(AccountUpdateIn, body.json)
    return parsed_xml(AccountUpdateIn, siebel_xml.read_account_update(body.xml, siebel_account_id))  # type: ignore[arg-type]


def build_api() -> APIGatewayHttpResolver:
    app = create_api(SCOPE)

    @app.post(f"{PREFIX}/orders")
    def synchronize_order() -> Response[str]:
        body = read_body(app, xml=True)
        order = read_order(body)
        return once_per_key(app, body, lambda: (200, customer_sync().synchronize_order(order)))

    @app.post(f"{PREFIX}/accounts/<siebelAccountId>/updates")
    def update_account(siebelAccountId: str) -> Response[str]:
        body = read_body(app, xml=True)
        update = read_update(body, siebelAccountId)
        return once_per_key(app, body, lambda: customer_sync().accept_update(siebelAccountId, update))

    @app.get(f"{PREFIX}/accounts/<siebelAccountId>")
    def account(siebelAccountId: str) -> Response[str]:
        return json_response(200, customer_sync().status(siebelAccountId))

    return app


api = build_api()
