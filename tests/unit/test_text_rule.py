"""The one rule for text from outside (utilhub.platform.text), as every route applies it through
``read_body`` and ``create_api``: free text may hold TAB and LF and no other control character;
parameters and ``Idempotency-Key`` hold none at all; a refusal names the place, never the value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import Response

from localhub.apigw.events import http_event
from utilhub.platform.connectors import BASE_URL, HttpConnector
from utilhub.platform.http import create_api, json_response, once_per_key, read_body
from utilhub.platform.settings import ConfigurationError, Settings
from utilhub.platform.text import first_forbidden, forbidden_in_parameter, forbidden_in_text, text_only

pytestmark = pytest.mark.usefixtures("known_clients")

CLAIMS = {"client_id": "ccb", "scope": "utilhub/test", "token_use": "access"}
MARKER = "Lovelace"  # a value that must never come back in a refusal


@pytest.mark.parametrize("text", ["Ada Lovelace", "line 1\nline 2", "a\tb", "Zoë 東京 ‏שלום", "emoji 🙂"])
def test_free_text_may_hold_tab_lf_and_any_letter(text: str) -> None:
    assert not forbidden_in_text(text)


@pytest.mark.parametrize(
    "char", ["\x00", "\x1b", "\r", "\x0b", "\x0c", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\ud800", "\ufffe", "\uffff"]
)
def test_free_text_holds_no_other_control_character(char: str) -> None:
    assert forbidden_in_text(f"Ada{char}Lovelace")


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\x00", "\u202e", "\u200b", "\u2066", "\ufeff", "\u00a0", "\u3000", "\ue000"])
def test_a_parameter_holds_no_control_format_or_separator_character(char: str) -> None:
    assert forbidden_in_parameter(f"SR{char}1")
    assert not forbidden_in_parameter("SR-1.a:b_c"), "ids as the hub knows them"


def test_the_pointer_names_the_place_escaped_and_a_bad_member_name_by_its_object() -> None:
    assert first_forbidden({"data": {"a/b~c": ["ok", "x\x00"]}}) == "#/data/a~1b~0c/1"
    assert first_forbidden({"data": {"bad\x1bname": "ok"}}) == "#/data"
    assert first_forbidden({"data": {"notes": "two\nlines\twith a tab"}}) is None


@pytest.mark.parametrize(
    ("value", "pointer"),
    [
        ({"a": 1, "b": None, "c": True, "d": 1.5, "e": [1, [2, "ok"]]}, None),
        ([["ok"], ["fine", ["deep\x7f"]]], "#/1/1/0"),
        ({"ok": "x", "also": {"fine": "y"}, "last": [{"k": "\u2028"}]}, "#/last/0/k"),
        ({"first": "ok", "sec\x85ond": 1}, "#"),
        ("\ud800", "#"),
        ({"\n": "\t"}, None),
    ],
)
def test_a_refused_character_anywhere_is_found_and_pointed_at(value: object, pointer: str | None) -> None:
    # Given a parsed body, a refused character in a string or member name at any depth, or none
    # When it is scanned, Then the first place holding one is named, or none when there is none
    assert first_forbidden(value) == pointer


def test_data_that_bypasses_the_api_gets_the_same_rule() -> None:
    assert text_only({"name": "Ada"}) == {"name": "Ada"}
    with pytest.raises(ValueError, match="#/name contains a control character"):
        text_only({"name": "Ada\x00"})


# ---------------------------------------------------------------------------- over a resolver, as every route


def _api() -> Any:
    app = create_api("utilhub/test")

    @app.post("/things")
    def create() -> Response[str]:
        body = read_body(app, xml=True)
        return once_per_key(app, body, lambda: (202, {"ok": True}))

    @app.get("/things/<thingId>")
    def read(thingId: str) -> Response[str]:
        return json_response(200, {"thingId": thingId})

    return app


def call(
    method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None, query: str = "", **params: str
) -> tuple[int, dict[str, Any], str]:
    route = "POST /things" if method == "POST" else "GET /things/{thingId}"
    event = http_event(
        method, path, route_key=route, body=body, headers=headers, path_parameters=params or None, query=query, claims=CLAIMS
    )
    result = _api().resolve(event, None)
    return result["statusCode"], result["headers"], result["body"]


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\r", "\x85"])
def test_a_json_body_with_a_control_character_is_a_422_naming_the_field_not_the_value(char: str) -> None:
    body = json.dumps({"name": {"family": f"{MARKER}{char}"}}).encode()
    status, headers, text = call("POST", "/things", body=body, headers={"content-type": "application/json"})
    assert (status, headers["Content-Type"]) == (422, "application/problem+json")
    assert json.loads(text)["errors"][0]["pointer"] == "#/name/family"
    assert MARKER not in text


def test_an_xml_body_with_a_carriage_return_reference_is_a_422_naming_the_element() -> None:
    # XML 1.0 cannot carry NUL or ESC (not well-formed: 400), but it does carry &#13; and C1 characters
    for text_value, status in ((f"{MARKER}&#13;x", 422), (f"{MARKER}\u0085x", 422), (f"{MARKER}&#0;", 400), (f"{MARKER}\x1b", 400)):
        body = f"<order><name>{text_value}</name></order>".encode()
        code, headers, text = call("POST", "/things", body=body, headers={"content-type": "application/xml"})
        assert (code, headers["Content-Type"]) == (status, "application/problem+json"), text_value
        assert MARKER not in text
        if status == 422:
            assert json.loads(text)["errors"][0]["pointer"] == "/order/name"


def test_tab_and_lf_in_free_text_are_taken() -> None:
    body = json.dumps({"remarks": "meter behind\tthe shed\nsecond line"}).encode()
    assert call("POST", "/things", body=body, headers={"content-type": "application/json"})[0] == 202


@pytest.mark.parametrize(
    "value", ["T1\n", "T\x001", "T\u202e1", "..", ".", "' OR '1'='1", "a%2F..", "\uff34\uff32\uff11", "T" * 65, '{"$gt":""}', "T 1"]
)
def test_a_path_parameter_that_is_not_an_id_is_a_400_naming_it(value: str) -> None:
    status, headers, text = call("GET", f"/things/{value}", thingId=value)
    assert (status, headers["Content-Type"]) == (400, "application/problem+json"), text
    assert json.loads(text)["errors"][0]["pointer"] == "#/pathParameters/thingId"


@pytest.mark.parametrize("value", ["T1", "t-1.2:3_4", "9" * 64])
def test_a_path_parameter_that_is_an_id_is_taken(value: str) -> None:
    assert call("GET", f"/things/{value}", thingId=value)[0] == 200


def test_json_in_another_encoding_than_utf_8_is_a_400() -> None:
    body = json.dumps({"name": "Ada"}).encode("utf-16")
    status, headers, _ = call("POST", "/things", body=body, headers={"content-type": "application/json; charset=utf-16"})
    assert (status, headers["Content-Type"]) == (400, "application/problem+json")


def test_a_query_parameter_with_a_control_character_is_a_400_naming_it() -> None:
    status, _, text = call("GET", "/things/T1", query="since=2026-01-01%0D%0AX-Injected:%201", thingId="T1")
    assert status == 400
    assert json.loads(text)["errors"][0]["pointer"] == "#/queryStringParameters/since"


def test_an_idempotency_key_with_a_control_character_is_a_400_before_anything_is_kept() -> None:
    headers = {"content-type": "application/json", "idempotency-key": "key\x01"}
    status, _, text = call("POST", "/things", body=b'{"name": "Ada"}', headers=headers)
    assert status == 400
    assert json.loads(text)["errors"][0]["pointer"] == "#/headers/idempotency-key"


# ---------------------------------------------------------------------------- connector base URLs


@pytest.mark.parametrize(
    "url",
    ["http://ccb.example.com", "ftp://ccb.example.com", "http://127.0.0.1.nip.io", "https://", "file:///etc/passwd", "ccb.example.com"],
)
def test_a_connector_refuses_a_base_url_that_is_not_https(url: str) -> None:
    with pytest.raises(ConfigurationError, match="must be https://"):
        HttpConnector("CCB", url, None, Settings())


@pytest.mark.parametrize("url", ["https://ccb.example.com/utilhub", "http://127.0.0.1:3001", "http://127.0.0.1"])
def test_a_connector_takes_https_and_the_local_runtime(url: str) -> None:
    assert HttpConnector("CCB", url, None, Settings()).system == "CCB"


def test_the_template_allows_exactly_the_base_urls_the_connectors_take() -> None:
    from localhub.template import Template

    parameters = Template.load().parameters
    base_urls = [name for name in parameters if name.endswith("BaseUrl")]
    assert base_urls
    for name in base_urls:
        assert parameters[name]["AllowedPattern"] == f"^({BASE_URL.pattern})$", name
