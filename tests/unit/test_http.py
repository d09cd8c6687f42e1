"""The HTTP API plumbing every handler shares (utilhub.platform.http): the route declaration (body read as JSON or
XML into the route's model, missing and invalid bodies refused, a route's own scope and the system its caller acts
as, once per Idempotency-Key), routing of path parameters as API Gateway routes them, and the correlation id a
response echoes. Pure: no AWS call but the idempotency records', on moto."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest
from pydantic import AwareDatetime, BaseModel

from localhub.apigw.events import http_event
from tests.helpers import moto_idempotency_table
from utilhub.platform.api_docs import Reply, Request, XmlBody
from utilhub.platform.http import create_api, parsed_xml, route

SCOPE = "utilhub/things"
NOTES_SCOPE = "utilhub/things-notes"


class Thing(BaseModel):
    madeOn: date
    seenAt: AwareDatetime | None = None
    count: int = 0
    weight: Decimal | None = None


pytestmark = pytest.mark.usefixtures("known_clients")


def _read_thing_xml(root: Any) -> dict[str, Any]:
    return {child.tag: child.text for child in root}


def _api(work_done: list[str] | None = None) -> Any:
    app = create_api(SCOPE)

    @route(
        app,
        "GET",
        "/things/{thingId}/parts/{partId}",
        summary="A part",
        description="A part of a thing.",
        replies=[Reply(200, "The part.", "Part")],
        path_parameters={"thingId": {}, "partId": {}},
    )
    def part(thingId: str, partId: str) -> Any:
        return 200, {"thingId": thingId, "partId": partId}

    @route(app, "POST", "/things:batch", summary="Things", description="Things at once.", replies=[Reply(202, "Taken.", "Batch")])
    def batch() -> Any:
        return 202, {"batch": True}

    @route(
        app,
        "POST",
        "/things",
        request=Request(Thing, "A thing.", xml=XmlBody("ccb/sync-request.xsd", "SyncRequest", read=_read_thing_xml)),
        summary="Make a thing",
        description="As sent.",
        replies=[Reply(201, "Made.", Thing)],
    )
    def create(thing: Thing) -> Any:
        return 201, thing.model_dump(mode="json")

    @route(
        app,
        "POST",
        "/things/{thingId}/resubmission",
        idempotent=True,
        summary="Resubmit a thing",
        description="Again.",
        replies=[Reply(202, "Again.", "Thing")],
        path_parameters={"thingId": {}},
    )
    def resubmit(thingId: str) -> Any:
        return 202, {"thingId": thingId}

    @route(
        app,
        "POST",
        "/things/{thingId}/notes",
        scope=NOTES_SCOPE,
        acts_as="CCB",
        request=Request(Thing, "A note, as a thing."),
        idempotent=True,
        summary="Note a thing",
        description="CCB's notes.",
        replies=[Reply(202, "Noted.", "Note")],
        path_parameters={"thingId": {}},
    )
    def note(thing: Thing, thingId: str) -> Any:
        if work_done is not None:
            work_done.append(thingId)
        return 202, {"thingId": thingId, "count": thing.count}

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


def _post(
    path: str,
    route_key: str,
    body: str | None,
    *,
    content_type: str | None = "application/json",
    client: str = "c",
    scope: str = SCOPE,
    key: str | None = None,
    api: Any = None,
) -> dict[str, Any]:
    headers = {} if content_type is None else {"Content-Type": content_type}
    if key is not None:
        headers["Idempotency-Key"] = key
    event = http_event("POST", path, route_key=route_key, body=body, headers=headers, claims={"scope": scope, "client_id": client})
    return (api or _api()).resolve(event, None)  # type: ignore[no-any-return]


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


def test_a_route_reads_an_xml_body_through_its_xml_form_into_its_model() -> None:
    # Given a route whose request has an XML form, and a document of that form
    document = "<Thing><madeOn>2026-03-01</madeOn><count>3</count></Thing>"

    # When it is posted as XML
    answer = _post("/things", "POST /things", document, content_type="application/xml")

    # Then the route gets the model, each field converted from the XML text
    assert answer["statusCode"] == 201, answer["body"]
    assert json.loads(answer["body"]) == {"madeOn": "2026-03-01", "seenAt": None, "count": 3, "weight": None}


def test_a_route_without_an_xml_form_refuses_xml_as_a_media_type_it_does_not_take() -> None:
    # Given a route whose request is JSON only
    # When XML is posted to it
    answer = _post(
        "/things/t-1/notes", "POST /things/{thingId}/notes", "<Thing/>", content_type="application/xml", client="ccb", scope=NOTES_SCOPE
    )

    # Then it is a 415 naming JSON as what the route takes
    assert answer["statusCode"] == 415, answer["body"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "pointer"),
    [
        (None, "application/json", 400, None),  # no body at all
        ("{", "application/json", 400, None),  # does not parse
        ("[1]", "application/json", 400, None),  # not an object
        ('{"madeOn": "2026-03-01"}', None, 415, None),  # no media type
        ("{}", "application/json", 422, "#/madeOn"),  # a required field missing
        ('{"madeOn": "yesterday"}', "application/json", 422, "#/madeOn"),  # a field invalid
    ],
)
def test_a_missing_or_invalid_body_is_refused_before_the_route_runs(
    body: str | None, content_type: str | None, status: int, pointer: str | None
) -> None:
    # Given a route taking a model, and a body that is missing, does not parse, has no media type or breaks the model
    # When it is posted
    answer = _post("/things", "POST /things", body, content_type=content_type)

    # Then it is refused with the problem of its kind, pointing at the field the model refuses
    assert answer["statusCode"] == status, answer["body"]
    problem = json.loads(answer["body"])
    assert problem["status"] == status
    if pointer is not None:
        assert [error["pointer"] for error in problem["errors"]] == [pointer]


def test_a_route_requires_the_scope_it_declares_not_the_resolver_s() -> None:
    # Given a route declaring a scope of its own
    route_key, body = "POST /things/{thingId}/notes", '{"madeOn": "2026-03-01"}'

    # When it is called with the resolver's scope, then with its own
    refused = _post("/things/t-1/notes", route_key, body, client="ccb", scope=SCOPE)
    taken = _post("/things/t-1/notes", route_key, body, client="ccb", scope=NOTES_SCOPE)

    # Then only its own scope is taken
    assert refused["statusCode"] == 403, refused["body"]
    assert NOTES_SCOPE in json.loads(refused["body"])["detail"]
    assert taken["statusCode"] == 202, taken["body"]


def test_a_route_s_caller_must_act_as_the_system_it_declares_before_its_body_is_read() -> None:
    # Given a route only CCB may call, and a client acting as no system
    # When that client posts a body the route would refuse anyway
    answer = _post("/things/t-1/notes", "POST /things/{thingId}/notes", "{", client="c", scope=NOTES_SCOPE)

    # Then it is refused for who it is (403), before the body is read
    assert answer["statusCode"] == 403, answer["body"]


def test_an_idempotent_route_runs_once_per_key_and_answers_a_replay_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_idempotency_table(monkeypatch):
        # Given an idempotent route, and the work it does
        work_done: list[str] = []
        api = _api(work_done)
        route_key, body = "POST /things/{thingId}/notes", '{"madeOn": "2026-03-01", "count": 2}'

        # When the same request is posted twice under one key, then another body under that key
        first = _post("/things/t-1/notes", route_key, body, client="ccb", scope=NOTES_SCOPE, key="k-1", api=api)
        replay = _post("/things/t-1/notes", route_key, body, client="ccb", scope=NOTES_SCOPE, key="k-1", api=api)
        other = _post("/things/t-1/notes", route_key, body.replace("2}", "3}"), client="ccb", scope=NOTES_SCOPE, key="k-1", api=api)

    # Then the work ran once, the replay answered as the first, and the other body under the key is a 409
    assert work_done == ["t-1"]
    assert (first["statusCode"], json.loads(first["body"])) == (202, {"thingId": "t-1", "count": 2})
    assert (replay["statusCode"], json.loads(replay["body"])) == (202, {"thingId": "t-1", "count": 2})
    assert other["statusCode"] == 409, other["body"]


def test_a_route_declares_itself_once_for_its_code_and_its_documentation() -> None:
    # Given the resolver of the routes above
    app = _api()

    # When its declarations are read
    note = app.declarations["POST /things/{thingId}/notes"]

    # Then each route is there under its template route key, with its scope, body, answers and idempotency
    assert set(app.declarations) == {
        "GET /things/{thingId}/parts/{partId}",
        "POST /things:batch",
        "POST /things",
        "POST /things/{thingId}/resubmission",
        "POST /things/{thingId}/notes",
    }
    assert (note.scope, note.body.schema if note.body else None, note.honours_idempotency_key) == (NOTES_SCOPE, Thing, True)
    assert app.declarations["POST /things"].scope == SCOPE


def test_a_route_declaration_that_cannot_hold_is_refused() -> None:
    app = create_api(SCOPE)
    reply = [Reply(200, "Yes.", "Yes")]

    # When a GET honours an Idempotency-Key, a fingerprint is given a route that does not, a path parameter is left
    # undocumented, or a route is declared twice
    with pytest.raises(ValueError, match="Idempotency-Key"):
        route(app, "GET", "/x", idempotent=True, summary="x", description="x", replies=reply)
    with pytest.raises(ValueError, match="fingerprint"):
        route(app, "POST", "/x", fingerprint=lambda: "x", summary="x", description="x", replies=reply)
    with pytest.raises(ValueError, match="path parameters"):
        route(app, "GET", "/x/{id}", summary="x", description="x", replies=reply)
    route(app, "GET", "/x", summary="x", description="x", replies=reply)(lambda: (200, {}))
    # Then each is refused when the route is declared
    with pytest.raises(ValueError, match="declared twice"):
        route(app, "GET", "/x", summary="x", description="x", replies=reply)
