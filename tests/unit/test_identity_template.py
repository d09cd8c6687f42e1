"""The template's identities (docs/security.md, "Clients and scopes"): one client per application, each route's scope held by exactly the
clients of the applications that send it, the systems each client may act as built from the clients
themselves, and the local runtime's clients derived from them.

Who sends each route is the catalogue's flow column (docs/packs/*.md), said once in
``localhub.callers.route_senders`` (which the demo, the fault run and the e2e tests call with): a route
added to the template without saying who sends it fails here."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from localhub.apigw.auth import LOCAL_CLIENT_ID
from localhub.apigw.identities import OPERATORS, application_clients, client_systems_of, local_clients
from localhub.callers import call_sender, route_senders
from localhub.openapi import api_routes
from localhub.template import LocalStack, Template
from tests.conftest import EVENTS


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load()


@pytest.fixture(scope="module")
def clients(template: Template) -> dict[str, dict[str, Any]]:
    """Each client's logical id -> its scopes and the systems the template lets it act as."""
    stack = LocalStack(template)
    mapping = client_systems_of(stack)  # UTILHUB_CLIENT_SYSTEMS, each client's Ref (its client id) resolved
    names = {client.logical_id: client.name for client in local_clients(stack)}
    return {
        logical_id: {
            "scopes": set(resource["Properties"]["AllowedOAuthScopes"]),
            "systems": set(mapping[names[logical_id]]) or {OPERATORS},
        }
        for logical_id, resource in template.of_type("AWS::Cognito::UserPoolClient")
    }


def test_one_client_per_application_and_two_for_the_operators(clients: dict[str, dict[str, Any]]) -> None:
    # the operators' two: the CLI's (client credentials) and the web console's (operators signed in, no secret)
    acting = sorted(sorted(client["systems"]) for client in clients.values())
    assert acting == [[s] for s in sorted(["CCB", "MDM", "SEBL", "OSM", "MWM", "WAM", "ODM", "DACS", OPERATORS, OPERATORS])]
    assert clients["ConsoleClient"]["systems"] == {OPERATORS}


def test_every_routes_scope_is_held_by_exactly_the_clients_of_its_senders(template: Template, clients: dict[str, dict[str, Any]]) -> None:
    wrong = []
    for route in api_routes(template):
        expected = {lid for lid, client in clients.items() if client["systems"] & route_senders(route.method, route.path)}
        holding = {lid for lid, client in clients.items() if set(route.scopes) & client["scopes"]}
        # a pack's resubmission also takes the operators' scope (the operations API runs it with their token)
        resubmission = route.path.endswith("/resubmission") and not route.path.startswith("/ops/")
        own = [scope for scope in route.scopes if not (resubmission and scope == "utilhub/ops")]
        if len(own) != 1 or holding != expected:
            wrong.append(f"{route.route_key} {route.scopes}: held by {sorted(holding)}, sent by {sorted(expected)}")
    assert wrong == []


def test_a_client_holds_no_scope_no_route_asks_for(template: Template, clients: dict[str, dict[str, Any]]) -> None:
    asked = {scope for route in api_routes(template) for scope in route.scopes}
    assert {lid: sorted(client["scopes"] - asked) for lid, client in clients.items() if client["scopes"] - asked} == {}


def test_the_http_api_accepts_tokens_of_every_client(template: Template) -> None:
    authorizer = template.resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]["CognitoJwt"]["JwtConfiguration"]
    # a client deployed under a condition (the console's) is an Fn::If of its Ref and nothing
    refs = [ref["Fn::If"][1] if "Fn::If" in ref else ref for ref in authorizer["audience"]]
    assert sorted(ref["Ref"] for ref in refs) == sorted(lid for lid, _ in template.of_type("AWS::Cognito::UserPoolClient"))


def test_every_client_id_is_an_output(template: Template) -> None:
    outputs = {
        value["Value"]["Ref"] for value in template.body["Outputs"].values() if isinstance(value["Value"], dict) and "Ref" in value["Value"]
    }
    assert {lid for lid, _ in template.of_type("AWS::Cognito::UserPoolClient")} <= outputs


# ---------------------------------------------------------------------------------------- local clients


def test_the_local_clients_are_the_templates_named_after_their_application(template: Template) -> None:
    # When the local runtime derives its clients from the template
    local = {client.name: client for client in local_clients(LocalStack(template))}

    # Then there is one per application and the operators' two (the console's with the template's default, Console=true;
    # make run leaves it out, serving the console itself), each with its template counterpart's scopes
    assert sorted(local) == ["ccb", "console", "dacs", "mdm", "mwm", "odm", "ops", "osm", "siebel", "wam"]
    for client in local.values():
        scopes = template.resources[client.logical_id]["Properties"]["AllowedOAuthScopes"]
        assert client.scopes == frozenset(scopes)
        assert client.secret == f"{client.name}-local-secret"


def test_a_client_named_otherwise_is_named_after_its_logical_id_and_two_alike_are_refused() -> None:
    def template_with(**names: Any) -> Template:
        return Template(
            {
                "Parameters": {"Stage": {"Type": "String", "Default": "dev"}},
                "Resources": {
                    logical_id: {
                        "Type": "AWS::Cognito::UserPoolClient",
                        "Properties": {**({"ClientName": name} if name else {}), "AllowedOAuthScopes": ["utilhub/x"]},
                    }
                    for logical_id, name in names.items()
                },
            }
        )

    plain = local_clients(
        LocalStack(template_with(BillingClient="billing-app", CrmClient=None, CcbClient={"Fn::Sub": "utilhub-ccb-${Stage}"}))
    )
    assert sorted(client.name for client in plain) == ["billing", "ccb", "crm"]
    with pytest.raises(ValueError, match="ccb"):
        local_clients(LocalStack(template_with(CcbClient={"Fn::Sub": "utilhub-ccb-${Stage}"}, OtherClient="utilhub-ccb-dev")))


@pytest.mark.parametrize(
    ("method", "path", "body", "sender"),
    [
        ("POST", "/field-work/activities", b'{"sourceSystem": "WAM"}', "WAM"),
        ("POST", "/field-work/activities/CCB/A-1/events", b'{"fromSystem": "MWM"}', "MWM"),
        ("POST", "/field-work/activities/CCB/A-1/events", b"{}", "CCB"),
        ("POST", "/field-work/billing-charges", b'{"sourceSystem": "WAM"}', "WAM"),
        ("POST", "/field-work/sync-requests/S-1/acknowledgement", b"{}", "ODM"),
        ("GET", "/meter-data/links", b"", "CCB"),
        ("POST", "/meter-data/replacement-reads", b"{}", "MDM"),
        ("POST", "/customer/siebel/orders", b"{}", "SEBL"),
        ("POST", "/meter-data/dead-letters/relay/redrive", b"", OPERATORS),
        ("POST", "/_local/schedules/MeterDataSyncMonitorFunction/run", b"", None),
        ("GET", "/no-such-pack/x", b"", None),
    ],
)
def test_a_call_is_sent_by_the_application_its_body_or_path_names(method: str, path: str, body: bytes, sender: str | None) -> None:
    assert call_sender(method, path, body) == sender


def test_every_sample_api_event_carries_a_token_of_its_senders_client() -> None:
    # Given the template's clients by the system they act as, and every sample event of an API route
    clients = application_clients()
    wrong = []
    for path in sorted(EVENTS.rglob("*.json")):
        event = json.loads(path.read_text(encoding="utf-8"))
        context = event.get("requestContext", {}) if isinstance(event, dict) else {}
        if "routeKey" not in context:
            continue
        claims = context["authorizer"]["jwt"]["claims"]
        body = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else str(event.get("body") or "").encode()
        sender = call_sender(context["http"]["method"], event["rawPath"], body)
        assert sender is not None, path
        client = clients[sender]
        # Then its client is the sender's (or local-dev, which may act as any system) and its scopes are the client's
        if claims["client_id"] != LOCAL_CLIENT_ID and (
            claims["client_id"] != client.name or not set(claims["scope"].split()) <= client.scopes
        ):
            wrong.append(f"{path.relative_to(EVENTS)}: {claims['client_id']} {claims['scope']} (sender {client.name})")
    assert wrong == []
