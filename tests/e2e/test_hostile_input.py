"""Hostile input against every route of the template, over HTTP on one local runtime.

The routes are the template's (``localhub.apigw.routes.http_routes``, as ``make run`` serves them), each
with the sample event of ``events/`` that names its route key (a valid request to mutate). The
hostile data is under ``tests/hostile/``. Every route gets the token cases (missing, malformed,
expired, wrong signature, ``alg=none``, Basic, wrong scope) and its path and query parameters the
injection strings; every route that takes a body gets the body cases (malformed, not an object,
nested too deep, oversized, NaN, control characters in a string and in a member name, injection
strings and type tricks in every id, wrong content types, and the XML corpus: XXE, entity
expansion, external DTD, parameter entity, XInclude, schema location, UTF-16 DOCTYPE, malformed,
nested too deep, oversized).

Each case answers a 4xx problem document (the gateway's own ``{"message"}`` for a token it refuses,
as API Gateway's JWT authorizer answers on AWS), never a 5xx; a refused control character is named
by a pointer and never repeated; and nothing is stored (items of every table, objects of every
bucket, records of every simulator), queued (messages of every queue) or started (executions of
every state machine), and no document fetched anything from the network.
"""

from __future__ import annotations

import copy
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import boto3
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from localhub.apigw.auth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET
from localhub.apigw.routes import Route, match
from localhub.aws.endpoint import reset
from localhub.server import LocalRuntime
from tests.conftest import EVENTS

CORPUS = Path(__file__).resolve().parent.parent / "hostile"
STRINGS = json.loads((CORPUS / "strings.json").read_text(encoding="utf-8"))
XML_DOCUMENTS = sorted(CORPUS.glob("*.xml"))
PROBLEM = "application/problem+json"
MARKER = "Hostile-Marker-7f3a"  # next to every control character: a refusal must never repeat it
TYPE_TRICKS = {"object": {"$ne": None}, "list": ["SR-1"], "number": 1e308, "null": None, "empty": ""}


# ---------------------------------------------------------------------------- the runtime and its state


@pytest.fixture(scope="module")
def runtime(aws_endpoint: str) -> Iterator[LocalRuntime]:
    reset(aws_endpoint)
    local = LocalRuntime(api_port=0, aws_endpoint=aws_endpoint, run_schedules=False, poll_interval=0.05).start()
    assert local.hub.stack is not None
    queues = [logical_id for logical_id, _ in local.hub.stack.template.of_type("AWS::SQS::Queue")]
    deadline = time.monotonic() + 60
    while any(stored(local)[queue] for queue in queues) and time.monotonic() < deadline:
        time.sleep(0.2)  # what provisioning queued (S3's test event of a bucket notification) is handled first
    yield local
    local.stop()
    assert not local.worker_errors, local.worker_errors


@pytest.fixture(scope="module")
def token(runtime: LocalRuntime) -> str:
    answer = httpx.post(
        f"{runtime.api_url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET)
    )
    return str(answer.json()["access_token"])


@pytest.fixture(scope="module")
def api(runtime: LocalRuntime, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=runtime.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """A port an external DTD, entity, XInclude or schema location points at: nothing may connect to it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        yield server


def stored(runtime: LocalRuntime) -> dict[str, int]:
    """What the hub keeps, queues and runs: items per table, messages per queue, objects per bucket,
    executions per state machine, records per simulator."""
    assert runtime.hub.stack is not None
    template, resources = runtime.hub.stack.template, runtime.hub.resources()  # what the stack deploys (Console off)
    dynamodb, sqs, s3, sfn = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("s3"), boto3.client("stepfunctions")
    counts: dict[str, int] = {}
    for logical_id, _ in template.of_type("AWS::DynamoDB::Table"):
        pages = dynamodb.get_paginator("scan").paginate(TableName=resources[logical_id], Select="COUNT")
        counts[logical_id] = sum(page["Count"] for page in pages)
    for logical_id, _ in template.of_type("AWS::SQS::Queue"):
        attributes = sqs.get_queue_attributes(
            QueueUrl=resources[logical_id],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        counts[logical_id] = sum(int(count) for count in attributes.values())
    for logical_id, _ in template.of_type("AWS::S3::Bucket"):
        counts[logical_id] = s3.list_objects_v2(Bucket=resources[logical_id]).get("KeyCount", 0)
    for logical_id, _ in template.of_type("AWS::Serverless::StateMachine"):
        counts[logical_id] = len(sfn.list_executions(stateMachineArn=resources[logical_id])["executions"])
    for system, simulator in runtime.hub.simulators.items():
        counts[f"simulator {system}"] = simulator.state(summary=True)["recordCount"]
    return counts


# ---------------------------------------------------------------------------- routes and their samples


@dataclass
class Sample:
    """A route with a valid request for it (its sample event, else well-formed path parameters), to send as
    is or mutated."""

    route: Route
    path_parameters: dict[str, str]
    query: str = ""
    json_body: dict[str, Any] | None = None

    def path(self, **overrides: str) -> str:
        path = self.route.path
        for name, value in {**self.path_parameters, **overrides}.items():
            path = path.replace(f"{{{name}}}", value)
        return path


def samples(runtime: LocalRuntime) -> list[Sample]:
    events: dict[str, list[dict[str, Any]]] = {}
    for file in sorted(EVENTS.rglob("*.json")):
        event = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(event, dict) and "routeKey" in event:
            events.setdefault(event["routeKey"], []).append(event)
    found = []
    for route in runtime.hub.routes:
        candidates = events.get(route.route_key)
        if not candidates:  # no sample (a route without a body): a well-formed id for each path parameter
            found.append(Sample(route, dict.fromkeys(route.pattern.groupindex, "HOSTILE-1")))
            continue
        json_events = [e for e in candidates if "json" in e.get("headers", {}).get("content-type", "json")]
        event = (json_events or candidates)[0]
        body = json.loads(event["body"]) if json_events and event.get("body") else None
        parameters = {name: quote(value, safe="") for name, value in (event.get("pathParameters") or {}).items()}
        found.append(Sample(route, parameters, event.get("rawQueryString", ""), body))
    return found


@pytest.fixture(scope="module")
def routes(runtime: LocalRuntime) -> list[Sample]:
    found = samples(runtime)
    assert len(found) == len(runtime.hub.routes) > 40
    return found


# ---------------------------------------------------------------------------- cases and their verdicts


@dataclass
class Case:
    name: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    pointer: str | None = None  # where a control character was put: the refusal must name it
    gateway: bool = False  # refused by the JWT authorizer, which answers API Gateway's {"message"}
    may_succeed: bool = False  # a query's search term may be any one-line text: refused or answered, never stored
    routes: list[Route] | None = None  # for a path case: the routes, to tell the gateway's own 404 from a function's


def verdict(case: Case, response: httpx.Response) -> str | None:
    """Why ``response`` is not the refusal ``case`` deserves, or None."""
    where = f"{case.method} {case.path}{'?' + case.query if case.query else ''} [{case.name}]"
    if case.may_succeed and response.status_code < 300:
        return None
    if response.status_code == 404 and case.routes is not None and match(case.routes, case.method, unquote(case.path)) is None:
        return None  # an encoded '/' decoded into another path, which API Gateway answers itself: no function ran
    if not 400 <= response.status_code < 500:
        return f"{where}: {response.status_code} {response.text[:300]}"
    content_type = response.headers.get("content-type", "")
    if case.gateway:
        if response.status_code not in (401, 403) or "message" not in response.json():
            return f"{where}: the authorizer answered {response.status_code} {response.text[:200]}"
        return None
    if content_type != PROBLEM:
        return f"{where}: {response.status_code} {content_type} is not a problem document: {response.text[:200]}"
    if MARKER in response.text:
        return f"{where}: the refusal repeats the value"
    if case.pointer is not None:
        pointers = [e.get("pointer") for e in response.json().get("errors", [])]
        if response.status_code != 422 or pointers != [case.pointer]:
            return f"{where}: wanted 422 naming {case.pointer}, got {response.status_code} {pointers}"
    return None


def send(api: httpx.Client, cases: list[Case]) -> list[str]:
    failures = []
    for case in cases:
        url = case.path + (f"?{case.query}" if case.query else "")
        response = api.request(case.method, url, content=case.body, headers=case.headers)
        if (why := verdict(case, response)) is not None:
            failures.append(why)
    return failures


def leaves(value: Any, pointer: str = "#") -> Iterator[tuple[str, str]]:
    """(JSON pointer, key) of every string in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, f"{pointer}/{index}")
    elif isinstance(value, str):
        yield pointer, pointer.rsplit("/", 1)[-1]


def replaced(body: Any, pointer: str, value: Any) -> Any:
    copied = copy.deepcopy(body)
    parts = pointer.split("/")[1:]
    target = copied
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return copied


def with_ids(body: Any, value: Any) -> tuple[Any, int]:
    """``body`` with every id (a key ending in ``Id``) set to ``value``, and how many there were."""
    ids = [pointer for pointer, key in leaves(body) if key.endswith("Id") or key == "id"]
    for pointer in ids:
        body = replaced(body, pointer, value)
    return body, len(ids)


def numbers_to_nan(text: str) -> str | None:
    """The JSON text with its first number replaced by ``NaN`` (which Python's reader accepts), or None."""
    body = json.loads(text)

    def walk(value: Any) -> bool:
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        for key, item in items:
            if isinstance(item, int | float) and not isinstance(item, bool):
                value[key] = float("nan")
                return True
            if walk(item):
                return True
        return False

    return json.dumps(body) if walk(body) else None


# ---------------------------------------------------------------------------- the corpus


def test_every_route_refuses_missing_malformed_expired_forged_and_wrong_scope_tokens(runtime: LocalRuntime, routes: list[Sample]) -> None:
    assert runtime.issuer is not None
    now = int(time.time())
    claims = {"sub": LOCAL_CLIENT_ID, "client_id": LOCAL_CLIENT_ID, "iss": runtime.api_url, "token_use": "access", "iat": now}
    every_scope = sorted({scope for sample in routes for scope in sample.route.scopes})
    headers = {"kid": runtime.issuer.key_id}
    tokens = {
        "missing": None,
        "malformed": "Bearer not.a.jwt",
        "basic": "Basic " + "bG9jYWwtZGV2OmxvY2FsLWRldi1zZWNyZXQ=",
        "expired": "Bearer "
        + jwt.encode({**claims, "exp": now - 60, "scope": " ".join(every_scope)}, runtime.issuer._key, algorithm="RS256", headers=headers),
        "wrong-signature": "Bearer "
        + jwt.encode(
            {**claims, "exp": now + 600, "scope": " ".join(every_scope)},
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            algorithm="RS256",
            headers=headers,
        ),
        "alg-none": "Bearer " + jwt.encode({**claims, "exp": now + 600, "scope": " ".join(every_scope)}, key="", algorithm="none"),
    }
    wrong_scope: dict[str, str] = {}
    for scope in every_scope:  # a token of local-dev asking for one scope only (POST /oauth2/token scope=)
        answer = httpx.post(
            f"{runtime.api_url}/oauth2/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET),
        )
        wrong_scope[scope] = "Bearer " + answer.json()["access_token"]
    before = stored(runtime)
    cases = []
    for sample in routes:
        method, path = sample.route.method, sample.path()
        body = json.dumps(sample.json_body).encode() if sample.json_body is not None else None
        content = {"content-type": "application/json"} if body is not None else {}
        for name, authorization in tokens.items():
            auth = {"authorization": authorization} if authorization else {}
            cases.append(Case(name, method, path, body, {**content, **auth}, sample.query, gateway=True))
        other = next(scope for scope in every_scope if scope not in sample.route.scopes)
        cases.append(
            Case(f"scope {other}", method, path, body, {**content, "authorization": wrong_scope[other]}, sample.query, gateway=True)
        )
    with httpx.Client(base_url=runtime.api_url, timeout=60) as anonymous:
        failures = send(anonymous, cases)
    assert not failures, "\n".join(failures)
    assert stored(runtime) == before
    assert len(cases) >= 7 * len(routes)


def test_every_route_checks_the_token_itself_behind_the_gateway(runtime: LocalRuntime, routes: list[Sample]) -> None:
    # Given a request that reached the function without verified claims, or with claims lacking the route's scope
    # (defence in depth: the function does not rely on the authorizer alone)
    before = stored(runtime)
    failures = []
    for sample in routes:
        for name, claims in (("no claims", None), ("other scope", {"client_id": LOCAL_CLIENT_ID, "scope": "utilhub/none"})):
            answer = runtime.hub.call_api(sample.route.method, sample.path(), claims=claims, query=sample.query)
            wanted = 401 if claims is None else 403
            if (answer.status, answer.headers.get("content-type")) != (wanted, PROBLEM):
                failures.append(f"{sample.route.route_key} [{name}]: {answer.status} {answer.body[:200]!r}")
    assert not failures, "\n".join(failures)
    assert stored(runtime) == before


def test_every_path_and_query_parameter_refuses_injection_strings(runtime: LocalRuntime, api: httpx.Client, routes: list[Sample]) -> None:
    strings = {**STRINGS["injections"], **{f"control {name}": f"SR{char}1" for name, char in STRINGS["controls"].items()}}
    # a lone surrogate as the bytes UTF-8 would give it (%ED%A0%80), which is no UTF-8 at all
    values = {name: quote(value.encode("utf-8", "surrogatepass"), safe="") for name, value in strings.items()}
    values |= {"dot": "%2E", "dot-dot": "%2E%2E"}
    failures = []
    total = 0
    for sample in routes:
        names = list(sample.path_parameters)
        query = dict(part.split("=", 1) for part in sample.query.split("&") if "=" in part)
        if not names and not query:
            continue
        before = stored(runtime)
        cases = []
        body = json.dumps(sample.json_body).encode() if sample.json_body is not None else None
        content = {"content-type": "application/json"} if body is not None else {}
        for case_name, value in values.items():
            for name in names:
                path = sample.path(**{name: value})
                cases.append(
                    Case(f"path {name} {case_name}", sample.route.method, path, body, content, sample.query, routes=runtime.hub.routes)
                )
            for name in query:
                mutated = "&".join(f"{k}={value if k == name else v}" for k, v in query.items())
                may_succeed = unquote(value).isprintable()  # as the function reads it (invalid UTF-8 becomes U+FFFD)
                cases.append(
                    Case(f"query {name} {case_name}", sample.route.method, sample.path(), body, content, mutated, may_succeed=may_succeed)
                )
        failures += send(api, cases)
        total += len(cases)
        if (after := stored(runtime)) != before:
            failures.append(f"{sample.route.route_key}: stored {diff(before, after)}")
    assert not failures, "\n".join(failures)
    assert total > 300


def body_cases(sample: Sample, listener_url: str) -> list[Case]:
    assert sample.json_body is not None
    method, path, query = sample.route.method, sample.path(), sample.query
    as_json = {"content-type": "application/json"}
    valid = json.dumps(sample.json_body)
    cases = [
        Case("malformed JSON", method, path, b'{"orderId": "SO-1", ', as_json, query),
        Case("not an object", method, path, b'["SO-1"]', as_json, query),
        Case("nested too deep", method, path, b"[" * 100_000 + b"]" * 100_000, as_json, query),
        Case("oversized", method, path, json.dumps({**sample.json_body, "padding": "x" * 300_000}).encode(), as_json, query),
        Case("invalid UTF-8", method, path, valid.encode()[:-1] + b'\xff\xfe"}', as_json, query),
        Case("UTF-16 JSON", method, path, valid.encode("utf-16"), {"content-type": "application/json; charset=utf-16"}, query),
        Case(
            "control character in a member name",
            method,
            path,
            json.dumps({**sample.json_body, f"x{MARKER}\u0000": "v"}).encode(),
            as_json,
            query,
            "#",
        ),
    ]
    if (nan := numbers_to_nan(valid)) is not None:
        cases.append(Case("NaN", method, path, nan.encode(), as_json, query))
    strings = [pointer for pointer, _ in leaves(sample.json_body)]
    for index, (name, char) in enumerate(STRINGS["controls"].items()):
        if strings:
            pointer = strings[index % len(strings)]
            body = replaced(sample.json_body, pointer, f"{MARKER}{char}{MARKER}")
        else:
            pointer, body = "#/remarks", {**sample.json_body, "remarks": f"{MARKER}{char}"}
        cases.append(Case(f"control {name} at {pointer}", method, path, json.dumps(body).encode(), as_json, query, pointer))
    for name, value in {**STRINGS["injections"], **TYPE_TRICKS}.items():
        body, ids = with_ids(sample.json_body, value)
        if ids:
            cases.append(Case(f"every id {name}", method, path, json.dumps(body).encode(), as_json, query))
    for content_type in ("text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp"):
        cases.append(Case(f"content type {content_type or '(none)'}", method, path, valid.encode(), {"content-type": content_type}, query))
    as_xml = {"content-type": "application/xml"}
    for document in XML_DOCUMENTS:
        text = document.read_bytes().replace(b"{listener}", listener_url.encode())
        cases.append(Case(f"XML {document.stem}", method, path, text, as_xml, query))
    cases.append(Case("XML nested too deep", method, path, b"<a>" * 5000 + b"</a>" * 5000, as_xml, query))
    cases.append(
        Case("XML oversized", method, path, b"<order><name>" + b"x" * 300_000 + b"</name></order>", {"content-type": "text/xml"}, query)
    )
    return cases


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (before.get(name, 0), count) for name, count in after.items() if before.get(name, 0) != count}


def test_every_body_route_refuses_hostile_bodies_and_stores_nothing(
    runtime: LocalRuntime, api: httpx.Client, routes: list[Sample], listener: socket.socket
) -> None:
    listener_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    failures = []
    total = 0
    body_routes = [sample for sample in routes if sample.json_body is not None]
    for sample in body_routes:
        before = stored(runtime)
        cases = body_cases(sample, listener_url)
        failures += send(api, cases)
        total += len(cases)
        if (after := stored(runtime)) != before:
            failures.append(f"{sample.route.route_key}: stored {diff(before, after)}")
    assert not failures, "\n".join(failures)
    assert len(body_routes) > 25
    assert total > 40 * len(body_routes)
    # and no document made the hub open a connection (external DTD, parameter entity, XInclude, schema location)
    with pytest.raises(BlockingIOError):
        listener.accept()
