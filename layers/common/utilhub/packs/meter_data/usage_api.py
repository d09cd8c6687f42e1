"""MD-12, MD-14 and MD-15 over HTTP: the synchronous meter data billing points (``usage``)."""

from __future__ import annotations

import re
from datetime import datetime

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from utilhub.packs.meter_data import usage
from utilhub.packs.meter_data.model import ID
from utilhub.packs.meter_data.sync import PREFIX, SCOPE
from utilhub.platform import problems
from utilhub.platform.http import create_api, json_response, once_per_key, parsed, read_body


def _read_at(app: APIGatewayHttpResolver) -> datetime:
    text = (app.current_event.query_string_parameters or {}).get("readAt") or ""
    try:
        read_at = datetime.fromisoformat(text.replace("Z", "+00:00")) if len(text) <= 40 else None
    except ValueError:
        read_at = None
    if read_at is None or read_at.tzinfo is None:
        raise problems.invalid(
            "readAt is not a date-time with its offset.", [problems.FieldError("#/readAt", "not an ISO 8601 date-time with offset")]
        )
    return read_at


def build_api() -> APIGatewayHttpResolver:
    app = create_api(SCOPE)

    @app.post(f"{PREFIX}/bill-determinants")
    def bill_determinants() -> Response[str]:
        body = read_body(app, xml=False)
        request = parsed(usage.BillDeterminantsIn, body.json)
        return once_per_key(app, body, lambda: (200, usage.bill_determinants(request)))

    @app.post(f"{PREFIX}/usage")
    def usage_of_period() -> Response[str]:
        body = read_body(app, xml=False)
        request = parsed(usage.UsageIn, body.json)
        return once_per_key(app, body, lambda: (200, usage.usage(request)))

    @app.get(f"{PREFIX}/registers/<registerId>/read-boundaries")
    def read_boundaries(registerId: str) -> Response[str]:
        if not re.match(ID, registerId):
            raise problems.invalid("registerId is not valid.", [problems.FieldError("#/registerId", "not valid")])
        return json_response(200, usage.read_boundaries(registerId, _read_at(app)))

    return app


api = build_api()
