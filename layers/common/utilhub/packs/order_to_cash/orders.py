"""OC-01 intake and OC-02 query over HTTP: the order revision starts one Standard workflow execution.

The execution name is derived from the order id and revision, so a retried call starts nothing
new: the same body again answers 202 and ends with the same result; another body under an order
id and revision already used is a 409 (checked on the idempotency key of the order revision, and
again on the execution's own input once that key has expired).
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from botocore.exceptions import ClientError
from pydantic import ValidationError

from utilhub.packs.order_to_cash.collation import collate
from utilhub.packs.order_to_cash.model import SIEBEL, FulfillmentOrderIn
from utilhub.platform import aws, problems
from utilhub.platform.dvm import domain_value_maps
from utilhub.platform.http import create_api, json_response, once_per_key, read_body
from utilhub.platform.idempotency import run_once
from utilhub.platform.observability import MetricUnit, metrics
from utilhub.platform.settings import get_settings, on_reload

SCOPE = "utilhub/order-to-cash"
PREFIX = "/order-to-cash"
MAX_EXECUTION_INPUT_BYTES = 262_144  # Step Functions' limit on an execution's input
STATUS = {"RUNNING": "RUNNING", "SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "TIMED_OUT": "FAILED", "ABORTED": "FAILED"}


def execution_name(order_id: str, revision: int) -> str:
    """``<orderId>-r<revision>``, in the characters Step Functions allows; a hash keeps it unique when it must change."""
    name = f"{order_id}-r{revision}"
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if safe != name or len(safe) > 80:
        safe = f"{safe[:60]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return safe


def _input(order: FulfillmentOrderIn) -> str:
    return json.dumps(order.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))


@cache
def _state_machine_arn() -> str:
    return get_settings().require("order_state_machine_arn")


on_reload(_state_machine_arn.cache_clear)


def _execution_arn(name: str) -> str:
    # arn:aws:states:<region>:<account>:stateMachine:<sm> -> arn:aws:states:<region>:<account>:execution:<sm>:<name>
    prefix, machine = _state_machine_arn().rsplit(":stateMachine:", 1)
    return f"{prefix}:execution:{machine}:{name}"


def start(order: FulfillmentOrderIn) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    name = execution_name(order.orderId, order.revision)
    payload = _input(order)
    if len(payload.encode("utf-8")) > MAX_EXECUTION_INPUT_BYTES:
        raise problems.Problem(413, "Payload too large", "The order is larger than a workflow input may be (256 KB).", "payload-too-large")
    try:
        sfn.start_execution(stateMachineArn=_state_machine_arn(), name=name, input=payload)
        metrics.add_metric(name="FulfillmentOrdersStarted", unit=MetricUnit.Count, value=1)
        status = "RUNNING"
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        execution = sfn.describe_execution(executionArn=_execution_arn(name))
        if execution.get("input") != payload:
            raise problems.conflict(f"Order {order.orderId} revision {order.revision} was already submitted with other content.") from None
        status = STATUS.get(execution["status"], "FAILED")
    return {"orderId": order.orderId, "revision": order.revision, "status": status}


def query(order_id: str, revision: int) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    try:
        execution = sfn.describe_execution(executionArn=_execution_arn(execution_name(order_id, revision)))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            raise problems.not_found(f"No order {order_id} revision {revision}.") from None
        raise
    status = STATUS.get(execution["status"], "FAILED")
    answer: dict[str, Any] = {"orderId": order_id, "revision": revision, "status": status}
    if status == "SUCCEEDED":
        answer["result"] = json.loads(execution.get("output") or "{}")
    elif status == "FAILED":
        answer["error"] = _failure(execution)
    return answer


def _failure(execution: dict[str, Any]) -> dict[str, Any]:
    error = execution.get("error") or execution["status"]
    cause = execution.get("cause") or ""
    try:  # a Lambda error's cause is its error payload
        parsed = json.loads(cause)
        reason = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except ValueError:
        reason = cause
    return {"error": error, "reason": reason or error}


def check_payment_methods(order: FulfillmentOrderIn) -> None:
    """Every billing profile's payment method has a BRM pay type (the PaymentMethod domain value map), or a 422 naming each."""
    translate = domain_value_maps().translator(source=SIEBEL, target="BRM")
    for n, line in enumerate(order.lines):
        if line.billingProfile is not None:
            translate("PaymentMethod", line.billingProfile.paymentMethod, f"#/lines/{n}/billingProfile/paymentMethod")
    translate.check()


def build_api() -> APIGatewayHttpResolver:
    app = create_api(SCOPE)

    @app.post(f"{PREFIX}/fulfillment-orders")
    def submit() -> Response[str]:
        body = read_body(app, xml=False)
        try:
            order = FulfillmentOrderIn.model_validate(body.json)
        except ValidationError as exc:
            raise problems.from_validation_error(exc) from None
        check_payment_methods(order)
        collate(order)  # refuses an order that breaks the seed's rules before anything starts

        def work() -> tuple[int, Any]:
            key = f"OC-01#order#{order.orderId}#{order.revision}"
            return 202, run_once(key=key, fingerprint=_input(order), work=lambda: start(order), lambda_context=app.lambda_context)

        return once_per_key(app, body, work)

    @app.get(f"{PREFIX}/fulfillment-orders/<orderId>/revisions/<revision>")
    def result(orderId: str, revision: str) -> Response[str]:
        if not revision.isdigit():
            raise problems.invalid("revision must be a whole number.", [problems.FieldError("#/revision", "not a whole number")])
        return json_response(200, query(orderId, int(revision)))

    return app


api = build_api()
