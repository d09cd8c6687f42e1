"""MD-11 over HTTP: a bill run's usage requests in (single and ``:batch``), a usage request's state out, and a usage
request in ERROR resubmitted."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import ValidationError

from utilhub.packs.meter_data import usage_requests, wiring
from utilhub.packs.meter_data.sync import PREFIX, SCOPE
from utilhub.platform import problems
from utilhub.platform.http import Body, create_api, json_response, once_per_key, read_body
from utilhub.platform.json_input import from_json

COLLECTION = f"{PREFIX}/usage-requests"


def build_api() -> APIGatewayHttpResolver:
    app = create_api(SCOPE)

    @app.post(COLLECTION)
    def submit() -> Response[str]:
        body = read_body(app, xml=False)
        request = usage_requests.parse_request(body.json)

        def work() -> tuple[int, Any]:
            outcome = wiring.usage_request_service().submit([request])[0]
            if outcome["status"] == "CONFLICT":
                raise problems.conflict(f"usageRequestId {request.usageRequestId} is already used for another request.")
            return 202, {"usageRequestId": outcome["usageRequestId"], "status": outcome["status"]}

        return once_per_key(app, body, work)

    @app.post(f"{COLLECTION}:batch")
    def submit_batch() -> Response[str]:
        body = read_body(app, xml=False)
        try:
            raw = from_json(usage_requests.UsageRequestBatchIn, body.json).requests
        except ValidationError as exc:
            raise problems.from_validation_error(exc) from None
        requests = usage_requests.parse_requests(raw, "/requests")

        def work() -> tuple[int, Any]:
            results = wiring.usage_request_service().submit(requests)
            return 202, {"accepted": sum(1 for r in results if r.get("created")), "results": results}

        return once_per_key(app, body, work)

    @app.get(f"{COLLECTION}/<usageRequestId>")
    def query(usageRequestId: str) -> Response[str]:
        item = wiring.usage_request_service().store.get(usageRequestId)
        if item is None:
            raise problems.not_found(f"No usage request {usageRequestId}.")
        return json_response(200, usage_requests.view(item))

    @app.post(f"{COLLECTION}/<usageRequestId>/resubmission")
    def resubmit(usageRequestId: str) -> Response[str]:
        def work() -> tuple[int, Any]:
            try:
                status = wiring.usage_request_service().resubmit(usageRequestId)
            except LookupError:
                raise problems.not_found(f"No usage request {usageRequestId}.") from None
            except usage_requests.NotResubmittable as exc:
                raise problems.conflict(
                    f"Usage request {usageRequestId} is {exc.status.value}; only a usage request in ERROR can be resubmitted."
                ) from None
            return 202, {"usageRequestId": usageRequestId, "status": status}

        return once_per_key(app, Body(raw=b""), work)

    return app


api = build_api()
