"""The HTTP API plumbing every handler shares (utilhub.platform.http): routing of path parameters as API
Gateway routes them, and the correlation id a response echoes. Pure: no AWS call."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest
from pydantic import AwareDatetime, BaseModel

from localhub.apigw.events import http_event
from utilhub.platform.http import Body, create_api, json_response, once_per_key, parsed, parsed_xml, read_body

SCOPE = "utilhub/things"


class Thing(BaseModel):
    madeOn: date
    seenAt: AwareDatetime | None = None
    count: int = 0
    weight: Decimal | None = None


pytestmark = pytest.mark.usefixtures("known_clients")


def _api() -> Any:
    app = create_api(SCOPE)

    @app.get("/things/<thingId>/parts/<partId>")
    def part(thingId: str, partId: str) -> Any:
        return json_response(200, {"thingId": thingId, "partId": partId})

    @app.post("/things:batch")
    def batch() -> Any:
        return json_response(202, {"batch": True})

    @app.post("/things")
    def create() -> Any:
        thing = parsed(Thing, read_body(app, xml=False).json)
        return json_response(201, thing.model_dump(mode="json"))

    @app.post("/things/<thingId>/resubmission")
    def resubmit(thingId: str) -> Any:
        return once_per_key(app, Body(raw=b""), lambda: (202, {"thingId": thingId}))

    return app


def _call(
    path: str,
    method: str = "GET",
    route_key: str = "GET /things/{thingId}/parts/{partId}",
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    event = http_event(
        method,
        path,
        route_key=route_key,
        body=body,
        headers=headers or {},
        path_parameters=path_parameters,
        claims={"scope": SCOPE, "client_id": "c"},
    )
    return _api().resolve(event, None)  # type: ignore[no-any-return]


@pytest.mark.parametrize("segment", ["order-7", "A.b_c:d-1", "x" * 64])
def test_a_path_parameter_takes_any_id_segment_api_gateway_routes_to_it(segment: str) -> None:
    # Given an id API Gateway routes to {thingId}
    # When the route's function resolves the event
    answer = _call(f"/things/{segment}/parts/p-1", path_parameters={"thingId": segment, "partId": "p-1"})

    # Then the route answers with the segment as its parameter
    assert answer["statusCode"] == 200, answer["body"]
    assert json.loads(answer["body"]) == {"thingId": segment, "partId": "p-1"}


@pytest.mark.parametrize("segment", ['a"b', "a%23b", "%3F", "a%60b", "€", "%E2%82%AC", "a b", "{}", "..", "x" * 65])
def test_a_segment_outside_the_id_rule_reaches_the_route_and_is_refused_there(segment: str) -> None:
    # Given a segment API Gateway routes to {thingId} (it hands the function the path decoded)
    decoded = unquote(segment)

    # When the route's function resolves the event
    answer = _call(f"/things/{decoded}/parts/p-1", path_parameters={"thingId": decoded, "partId": "p-1"})

    # Then the route refuses it with a 400 problem naming the parameter, not a 404 "No route"
    assert answer["statusCode"] == 400, answer["body"]
    problem = json.loads(answer["body"])
    assert problem["errors"][0]["pointer"] == "#/pathParameters/thingId", problem
    assert decoded not in problem["detail"], "the refusal does not repeat the value"


def test_a_parameter_never_spans_segments_and_literal_routes_still_win() -> None:
    # Given a path with one segment too many, and a literal route beside the parameters
    too_deep = _call("/things/a/b/parts/p-1")
    literal = _call("/things:batch", method="POST", route_key="POST /things:batch")

    # Then the first is no route (as at API Gateway) and the second reaches its literal route
    assert too_deep["statusCode"] == 404
    assert (literal["statusCode"], json.loads(literal["body"])) == (202, {"batch": True})


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("order-7.line:2_a", True), ("{3F2504E0-4F89-11D3-9A0C-0305E82C3301}", False), ("é", False), ("x" * 129, False)],
)
def test_the_correlation_id_is_echoed_when_safe_and_replaced_otherwise(sent: str, kept: bool) -> None:
    # Given a request carrying an X-Correlation-Id
    answer = _call("/things/t/parts/p", headers={"X-Correlation-Id": sent})

    # When the answer's header is read
    echoed = answer["headers"]["X-Correlation-Id"]

    # Then a safe id (ASCII letters, digits, - _ . :, up to 128) is echoed and any other replaced by a new one of that form
    assert (echoed == sent) is kept
    assert 0 < len(echoed) <= 128
    assert all(c.isascii() and (c.isalnum() or c in "-_.:") for c in echoed)


@pytest.mark.parametrize(("key", "status"), [(None, 202), ("", 400), ("k" * 256, 400)])
def test_an_idempotency_key_of_no_or_too_many_characters_is_refused(key: str | None, status: int) -> None:
    # Given a POST without the header, with an empty one, and with one over 255 characters
    headers = {} if key is None else {"Idempotency-Key": key}

    # When the route runs it once per key
    answer = _call("/things/t-1/resubmission", method="POST", route_key="POST /things/{thingId}/resubmission", headers=headers)

    # Then only the request without the header runs; a malformed key is a 400 problem, not taken as absent
    assert answer["statusCode"] == status, answer["body"]
    if status == 400:
        assert json.loads(answer["body"])["detail"] == "Idempotency-Key must be 1 to 255 characters."


def _post_thing(body: dict[str, Any]) -> dict[str, Any]:
    return _call("/things", method="POST", route_key="POST /things", headers={"Content-Type": "application/json"}, body=json.dumps(body))


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"madeOn": 0}, "#/madeOn"),  # pydantic's lax mode reads it as 1970-01-01
        ({"madeOn": 20260301}, "#/madeOn"),
        ({"madeOn": "2026-03-01", "seenAt": 1772323200}, "#/seenAt"),
        ({"madeOn": "2026-03-01", "seenAt": 0.5}, "#/seenAt"),
        ({"madeOn": "2026-03-01", "count": False}, "#/count"),
        ({"madeOn": "2026-03-01", "count": True}, "#/count"),
        ({"madeOn": "2026-03-01", "count": "3"}, "#/count"),
        ({"madeOn": "2026-03-01", "weight": True}, "#/weight"),
    ],
)
def test_a_json_body_value_of_another_json_type_than_the_field_is_refused(body: dict[str, Any], pointer: str) -> None:
    # Given a JSON body with a number where the field is a date or a date-time, or a boolean or a string for a number
    # When the route reads it through parsed()
    answer = _post_thing(body)

    # Then it is the documented 422 problem naming the field, without the value it refused
    assert answer["statusCode"] == 422, answer["body"]
    problem = json.loads(answer["body"])
    assert [error["pointer"] for error in problem["errors"]] == [pointer], problem
    refused = body[pointer.removeprefix("#/")]
    assert set(problem["errors"][0]) == {"pointer", "detail"}
    assert str(refused) not in problem["errors"][0]["detail"]
    assert json.dumps(refused) not in problem["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("body", "taken"),
    [
        ({"madeOn": "2026-03-01"}, {"madeOn": "2026-03-01", "seenAt": None, "count": 0, "weight": None}),
        (
            {"madeOn": "2026-03-01", "seenAt": "2026-03-01T10:15:00+01:00", "count": 3, "weight": 12.5},
            {"madeOn": "2026-03-01", "seenAt": "2026-03-01T10:15:00+01:00", "count": 3, "weight": "12.5"},
        ),
        ({"madeOn": "2026-03-01", "count": -2, "weight": 7}, {"madeOn": "2026-03-01", "seenAt": None, "count": -2, "weight": "7"}),
        ({"madeOn": "2026-03-01", "weight": "0.10"}, {"madeOn": "2026-03-01", "seenAt": None, "count": 0, "weight": "0.10"}),
    ],
)
def test_a_json_body_in_the_json_types_of_its_fields_is_taken(body: dict[str, Any], taken: dict[str, Any]) -> None:
    # Given ISO date and date-time strings, a JSON integer, and a decimal as a JSON number or a string
    # When the route reads the body
    answer = _post_thing(body)

    # Then it is taken, each value as sent
    assert answer["statusCode"] == 201, answer["body"]
    assert json.loads(answer["body"]) == taken


def test_fields_read_from_xml_text_keep_their_conversions() -> None:
    # Given what a route read from an XML body: text only
    fields = {"madeOn": "2026-03-01", "seenAt": "2026-03-01T10:15:00Z", "count": "3", "weight": "12.50"}

    # When it is validated as the route's model
    thing = parsed_xml(Thing, fields)

    # Then the text is converted to the fields' types, as before
    assert (thing.madeOn, thing.count, thing.weight) == (date(2026, 3, 1), 3, Decimal("12.50"))
