"""The OpenAPI document (localhub.openapi, docs/openapi.json): generated from the template and the
library's models, committed up to date, valid OpenAPI 3.1, and naming every route of the template."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from localhub.openapi import SECURITY_SCHEME, OpenApiError, build_openapi, render
from localhub.template import ROOT, Template

COMMITTED = ROOT / "docs" / "openapi.json"
EVENTS = ROOT / "events"
REGENERATE = ".venv/bin/python -m localhub.openapi > docs/openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``("POST /path", operation)`` for every operation of the document."""
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def template_routes(template: Template) -> list[tuple[str, list[str]]]:
    """``("POST /path", scopes)`` for every HttpApi event of the template and every route resource of the packs'
    templates, read independently of the generator."""
    events = [
        (
            f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}",
            event["Properties"].get("Auth", {}).get("AuthorizationScopes", []),
        )
        for _, function in template.of_type("AWS::Serverless::Function")
        for event in function.get("Properties", {}).get("Events", {}).values()
        if event.get("Type") == "HttpApi"
    ]
    resources = [
        (route["Properties"]["RouteKey"], route["Properties"].get("AuthorizationScopes", []))
        for _, route in template.of_type("AWS::ApiGatewayV2::Route")
    ]
    return events + resources


def api_gateway_events() -> list[Path]:
    return sorted(path for path in EVENTS.rglob("*.json") if "routeKey" in json.loads(path.read_text(encoding="utf-8")))


def test_the_committed_document_is_the_generated_one(document: dict[str, Any]) -> None:
    # Given the document generated from template.yaml and the models
    # When it is compared with the committed docs/openapi.json
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    # Then they are the same, byte for byte
    assert committed == render(document), f"docs/openapi.json is stale: regenerate it with `{REGENERATE}` and commit it."


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    # Given the generated document
    # When it is validated against the OpenAPI 3.1 specification
    validate(document)
    # Then it passes (validate raises otherwise) and says it is 3.1
    assert document["openapi"].startswith("3.1.")


def test_every_template_route_appears_exactly_once_with_its_scopes(document: dict[str, Any]) -> None:
    # Given the HttpApi routes of template.yaml
    routes = template_routes(Template.load())
    assert routes, "template.yaml declares no HttpApi route"
    documented = operations(document)

    # When each is looked up among the document's operations
    counts = {key: sum(1 for found, _ in documented if found == key) for key, _ in routes}
    wrong_scopes = [
        f"{key}: {operation.get('security')} (template: {scopes})"
        for key, scopes in routes
        for found, operation in documented
        if found == key and operation.get("security") != [{SECURITY_SCHEME: scopes}]
    ]
    extra = sorted({found for found, _ in documented} - {key for key, _ in routes})

    # Then each appears once, requires its scopes, and the document has no other operation
    assert {key: n for key, n in counts.items() if n != 1} == {}, "routes not documented exactly once"
    assert wrong_scopes == [], "operations whose security differs from the template's AuthorizationScopes"
    assert extra == [], "operations the template does not declare"


def test_every_operation_has_an_id_a_pack_tag_and_problem_responses(document: dict[str, Any]) -> None:
    # Given the document's operations
    documented = operations(document)
    tags = {tag["name"] for tag in document["tags"]}

    # When their ids, tags and error responses are collected
    ids = [operation["operationId"] for _, operation in documented]
    untagged = [key for key, operation in documented if not operation.get("tags") or not set(operation["tags"]) <= tags]
    without_auth_errors = [key for key, operation in documented if not {"401", "403"} <= set(operation["responses"])]

    # Then ids are unique, every operation is tagged with a declared pack, and the auth failures are documented
    assert len(ids) == len(set(ids)), f"duplicate operationIds: {sorted(ids)}"
    assert untagged == [], "operations without a declared pack tag"
    assert without_auth_errors == [], "operations that do not document 401 and 403"


def test_sample_api_gateway_events_name_documented_routes(document: dict[str, Any]) -> None:
    # Given the sample events that are API Gateway (HTTP API) events
    samples = api_gateway_events()
    assert samples, "no sample API Gateway event under events/"
    documented = {key for key, _ in operations(document)}

    # When their routeKey is looked up among the documented routes
    unknown = [
        f"{path.relative_to(ROOT)}: {json.loads(path.read_text(encoding='utf-8'))['routeKey']}"
        for path in samples
        if json.loads(path.read_text(encoding="utf-8"))["routeKey"] not in documented
    ]

    # Then every one is documented
    assert unknown == [], "sample events naming a route the OpenAPI document does not have"


def test_a_route_without_documentation_fails_the_generation() -> None:
    # Given the template with one more HttpApi route that no route of the library declares
    body = copy.deepcopy(Template.load().body)
    function = next(resource for resource in body["Resources"].values() if resource["Type"] == "AWS::Serverless::Function")
    function["Properties"].setdefault("Events", {})["Undocumented"] = {
        "Type": "HttpApi",
        "Properties": {"ApiId": {"Ref": "HttpApi"}, "Method": "DELETE", "Path": "/undocumented/{id}"},
    }

    # When the document is generated
    with pytest.raises(OpenApiError) as caught:
        build_openapi(Template(body))

    # Then the generation fails, naming the route and how to declare it
    assert "DELETE /undocumented/{id}" in str(caught.value)
    assert "utilhub.platform.http.route" in str(caught.value)


def test_a_route_requiring_a_scope_its_template_event_does_not_fails_the_generation() -> None:
    # Given the template and the library's declarations, one of them requiring a scope its template event does not give
    from utilhub.platform import openapi

    declared = openapi.declared_routes()
    key = "POST /meter-data/sync-requests"
    declared[key] = dataclasses.replace(declared[key], scope="utilhub/something-else")

    # When the document is generated
    with pytest.raises(OpenApiError) as caught:
        build_openapi(Template.load(), declared)

    # Then the generation fails, naming the route and both scopes
    assert key in str(caught.value)
    assert "utilhub/something-else" in str(caught.value)
    assert "utilhub/meter-data" in str(caught.value)


def test_a_route_two_resolvers_declare_differently_fails_the_generation() -> None:
    from utilhub.platform import openapi
    from utilhub.platform.api_docs import Reply
    from utilhub.platform.http import create_api, route

    # Given two resolvers declaring the same route with different documentation
    apis = [create_api("utilhub/test"), create_api("utilhub/test")]
    for api, summary in zip(apis, ("One thing", "Another thing"), strict=True):
        route(api, "GET", "/things", summary=summary, description="Things.", replies=[Reply(200, "Things.", "Things")])(lambda: (200, {}))

    # When their declarations are collected
    with pytest.raises(openapi.OpenApiError) as caught:
        openapi.declared_routes(apis)

    # Then the collection fails, naming the route
    assert "GET /things" in str(caught.value)


def test_documentation_of_a_route_the_template_lost_fails_the_generation() -> None:
    # Given the template without one of its documented HttpApi routes
    body = copy.deepcopy(Template.load().body)
    removed = None
    for resource in body["Resources"].values():
        events = resource.get("Properties", {}).get("Events", {})
        for name, event in list(events.items()):
            if event.get("Type") == "HttpApi" and removed is None:
                removed = f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
                del events[name]
    assert removed is not None, "template.yaml declares no HttpApi route"

    # When the document is generated
    with pytest.raises(OpenApiError) as caught:
        build_openapi(Template(body))

    # Then the generation fails, naming the stale entry
    assert removed in str(caught.value)


def test_operations_honouring_an_idempotency_key_document_its_refusals(document: dict[str, Any]) -> None:
    # Given the operations that take an Idempotency-Key header
    keyed = [
        (key, operation)
        for key, operation in operations(document)
        if {"$ref": "#/components/parameters/IdempotencyKey"} in operation.get("parameters", [])
    ]
    assert keyed, "no operation takes an Idempotency-Key"

    # When their responses are collected
    missing = [key for key, operation in keyed if not {"400", "409"} <= set(operation["responses"])]

    # Then each documents 400 (a malformed key) and 409 (a key used before with another body)
    assert missing == [], "operations taking an Idempotency-Key without 400 and 409"


def test_every_xml_body_names_a_root_element_its_xsd_declares(document: dict[str, Any]) -> None:
    from lxml import etree

    # Given the XML request bodies of the document
    xml_bodies = [
        (f"{key} {media_type}", content["schema"])
        for key, operation in operations(document)
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items()
        if media_type.endswith("xml")
    ]
    assert xml_bodies, "no operation reads XML"

    # When each schema's root element and namespace are looked up in the XSD it points to
    wrong = []
    for where, schema in xml_bodies:
        xsd = etree.parse(str(ROOT / schema["x-xsd"])).getroot()
        roots = {str(element.get("name")) for element in xsd.findall("{http://www.w3.org/2001/XMLSchema}element")}
        if schema["xml"]["name"] not in roots or schema["xml"].get("namespace") != xsd.get("targetNamespace"):
            wrong.append(f"{where}: {schema['xml']} not a root of {schema['x-xsd']} ({sorted(roots)})")

    # Then every one is an element the XSD declares at the top, in its target namespace
    assert wrong == []
