"""API Gateway HTTP API events (payload format 2.0), as API Gateway builds them for a route.

The local HTTP server and the tests build their events here, so the handlers see exactly
the shape they get on AWS, JWT claims of the verified token included.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl


def query_string_parameters(query: str) -> dict[str, str]:
    """As API Gateway's payload 2.0 gives them: decoded, a repeated name's values joined with commas."""
    found: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        found.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in found.items()}


def http_event(
    method: str,
    path: str,
    *,
    route_key: str,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: str = "",
    claims: Mapping[str, Any] | None = None,
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    text_like = True
    content_type = {k.lower(): v for k, v in (headers or {}).items()}.get("content-type", "")
    if raw is not None and not any(t in content_type for t in ("json", "xml", "text", "form")):
        text_like = False
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "local"},
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": scopes}}
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if parameters := query_string_parameters(query):
        event["queryStringParameters"] = parameters
    if raw is not None:
        if text_like:
            try:
                event["body"] = raw.decode("utf-8")
            except UnicodeDecodeError:
                text_like = False
        if not text_like:
            event["body"] = base64.b64encode(raw).decode("ascii")
            event["isBase64Encoded"] = True
    return event
