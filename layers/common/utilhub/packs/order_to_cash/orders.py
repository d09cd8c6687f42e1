"""OC-01 intake, its resubmission, and OC-02 query over HTTP: an order revision runs as Standard workflow executions.

The order is kept where the hub keeps its data (:mod:`~utilhub.packs.order_to_cash.order_store`) and the
execution's input is its key only, ``{"orderId", "revision"}``: each step reads the order from there, so no
execution's history holds a customer's name, address or payment details.

The execution name is derived from the order id and revision, so a retried call starts nothing
new: the same body again answers 202 and ends with the same result; another body under an order
id and revision already used is a 409 (checked on the idempotency key of the order revision, and
again on the order kept for it once that key has expired).

A FAILED revision is resubmitted as its next attempt: an execution named after the order id,
revision and attempt (``-a2``, ``-a3``...), with the same input (the key of the order kept). Its BRM steps run under the
same idempotency keys as before, so a step that succeeded answers its recorded outcome without asking
BRM, and a step that failed runs again, finding through the cross-references what it made before.
The query follows the attempts to the latest: a resubmission starts only after an attempt failed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from utilhub.packs.order_to_cash.brm_mapping import missing_payment_details
from utilhub.packs.order_to_cash.collation import collate
from utilhub.packs.order_to_cash.model import SIEBEL, FulfillmentOrderIn, OrderResult
from utilhub.packs.order_to_cash.order_store import Mac, Verdict, fingerprint
from utilhub.packs.order_to_cash.wiring import order_store, payment_mac, stepfunctions
from utilhub.packs.order_to_cash.workflow import POINT, failure_reason, order_transaction
from utilhub.platform import aws, journal, problems
from utilhub.platform.api_docs import Reply, Request, ref
from utilhub.platform.dvm import domain_value_maps
from utilhub.platform.http import Body, HttpApiResolver, create_api, parsed, route
from utilhub.platform.idempotency import run_once
from utilhub.platform.observability import MetricUnit, metrics
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import per_process

SCOPE = "utilhub/order-to-cash"
PREFIX = "/order-to-cash"
MAX_EXECUTION_INPUT_BYTES = 262_144  # the largest order kept: what a workflow input could hold, under an item's 400 KB
STATUS = {"RUNNING": "RUNNING", "SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "TIMED_OUT": "FAILED", "ABORTED": "FAILED"}


def execution_name(order_id: str, revision: int, attempt: int = 1) -> str:
    """``<orderId>-r<revision>``, then ``-a<attempt>`` from the second attempt on, in the characters Step Functions
    allows; a hash keeps it unique when it must change."""
    name = f"{order_id}-r{revision}" + (f"-a{attempt}" if attempt > 1 else "")
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    if safe != name or len(safe) > 80:
        safe = f"{safe[:60]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return safe


def order_content(order: FulfillmentOrderIn) -> str:
    """The order revision's canonical JSON: what is kept, and what another submission is compared with."""
    return json.dumps(order.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":"))


@per_process
def _state_machine_arn() -> str:
    return get_settings().order_to_cash.require("order_state_machine_arn")


def _execution_arn(name: str) -> str:
    # arn:aws:states:<region>:<account>:stateMachine:<sm> -> arn:aws:states:<region>:<account>:execution:<sm>:<name>
    prefix, machine = _state_machine_arn().rsplit(":stateMachine:", 1)
    return f"{prefix}:execution:{machine}:{name}"


def _describe(order_id: str, revision: int, attempt: int) -> dict[str, Any] | None:
    """The execution of one attempt of an order revision, or None when it was never started."""
    try:
        execution: dict[str, Any] = stepfunctions().describe_execution(
            executionArn=_execution_arn(execution_name(order_id, revision, attempt))
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        raise
    return execution


def latest_attempt(order_id: str, revision: int) -> tuple[int, dict[str, Any]] | None:
    """The latest attempt of an order revision and its execution, or None for a revision never submitted.

    An attempt follows only one that failed, so the attempts are followed while they failed: one call
    for a revision that did not fail, one more per resubmission.
    """
    execution = _describe(order_id, revision, 1)
    if execution is None:
        return None
    attempt = 1
    while STATUS.get(execution["status"], "FAILED") == "FAILED" and (following := _describe(order_id, revision, attempt + 1)):
        attempt, execution = attempt + 1, following
    return attempt, execution


def _execution_input(order_id: str, revision: int) -> str:
    """What the workflow carries: the order revision's key, never its content."""
    return json.dumps({"orderId": order_id, "revision": revision}, sort_keys=True, separators=(",", ":"))


def start(order: FulfillmentOrderIn) -> dict[str, Any]:
    sfn = stepfunctions()
    name = execution_name(order.orderId, order.revision)
    payload = order_content(order)
    if len(payload.encode("utf-8")) > MAX_EXECUTION_INPUT_BYTES:
        raise problems.Problem(413, "Payload too large", "The order is larger than a workflow input may be (256 KB).", "payload-too-large")
    acceptance = order_store().accept(order, payload)
    if acceptance.verdict is Verdict.OTHER_CONTENT:
        raise problems.conflict(f"Order {order.orderId} revision {order.revision} was already submitted with other content.")
    if acceptance.verdict is Verdict.SUPERSEDED:
        raise superseded(order.orderId, order.revision, acceptance.latest)
    try:
        sfn.start_execution(stateMachineArn=_state_machine_arn(), name=name, input=_execution_input(order.orderId, order.revision))
        metrics.add_metric(name="FulfillmentOrdersStarted", unit=MetricUnit.Count, value=1)
        status = "RUNNING"
        _journal_started(order.orderId, order.revision, "received", "intake", "OSM")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        found = latest_attempt(order.orderId, order.revision)
        if found is None:  # exists, yet not found: Step Functions is not consistent yet; the caller retries
            raise aws.AwsUnavailable(f"execution {name} exists but cannot be described yet") from exc
        status = STATUS.get(found[1]["status"], "FAILED")
    return {"orderId": order.orderId, "revision": order.revision, "status": status}


def superseded(order_id: str, revision: int, latest: int | None) -> problems.Problem:
    return problems.conflict(
        f"Order {order_id} revision {revision} is older than revision {latest}, already accepted: revisions of an order apply "
        "in order, and an older one would revert what the later one changed."
    )


def _journal_started(order_id: str, revision: int, reason: str, step: str, system: str) -> None:
    resubmission = f"/order-to-cash/fulfillment-orders/{quote(order_id, safe='')}/revisions/{revision}/resubmission"
    journal.changed(POINT, order_transaction(order_id, revision), "RUNNING", reason=reason, step=step, system=system, resubmit=resubmission)


def resubmit(order_id: str, revision: int) -> dict[str, Any]:
    """Run a FAILED order revision again as its next attempt, with the same input; a 409 for any other status, or when
    a later revision of the order was accepted since."""
    found = latest_attempt(order_id, revision)
    if found is None:
        raise problems.not_found(f"No order {order_id} revision {revision}.")
    latest = order_store().latest(order_id)
    if latest is not None and latest > revision:
        raise superseded(order_id, revision, latest)
    attempt, execution = found
    status = STATUS.get(execution["status"], "FAILED")
    if status != "FAILED":
        raise problems.conflict(
            f"Order {order_id} revision {revision} is {status} (attempt {attempt}); only a FAILED revision can be resubmitted."
        )
    name = execution_name(order_id, revision, attempt + 1)
    try:
        stepfunctions().start_execution(stateMachineArn=_state_machine_arn(), name=name, input=execution["input"])
        metrics.add_metric(name="FulfillmentOrdersResubmitted", unit=MetricUnit.Count, value=1)
        status = "RUNNING"
        _journal_started(order_id, revision, f"resubmitted as attempt {attempt + 1}", "resubmission", "hub")
    except ClientError as exc:
        # resubmitted meanwhile by another call: the same attempt with the same input, answered as it is
        if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        started = _describe(order_id, revision, attempt + 1)
        status = STATUS.get(started["status"], "FAILED") if started else "RUNNING"
    return {"orderId": order_id, "revision": revision, "status": status, "attempt": attempt + 1}


def query(order_id: str, revision: int) -> dict[str, Any]:
    found = latest_attempt(order_id, revision)
    if found is None:
        raise problems.not_found(f"No order {order_id} revision {revision}.")
    attempt, execution = found
    status = STATUS.get(execution["status"], "FAILED")
    answer: dict[str, Any] = {"orderId": order_id, "revision": revision, "status": status, "attempt": attempt}
    if status == "SUCCEEDED":
        answer["result"] = json.loads(execution.get("output") or "{}")
    elif status == "FAILED":
        answer["error"] = _failure(execution)
    return answer


def _failure(execution: dict[str, Any]) -> dict[str, Any]:
    error = execution.get("error") or execution["status"]
    return {"error": error, "reason": failure_reason(error, execution.get("cause") or "")}


def check_payment_methods(order: FulfillmentOrderIn) -> None:
    """Every billing profile's payment method has a BRM pay type (the PaymentMethod domain value map), or a 422 naming
    each; a credit card or direct debit profile carries the card or bank account its /payinfo needs, or a 422 naming it."""
    translate = domain_value_maps().translator(source=SIEBEL, target="BRM")
    missing: list[problems.FieldError] = []
    for n, line in enumerate(order.lines):
        if line.billingProfile is not None:
            pay_type = translate("PaymentMethod", line.billingProfile.paymentMethod, f"#/lines/{n}/billingProfile/paymentMethod")
            if pay_type is not None and (field := missing_payment_details(int(pay_type), line.billingProfile)) is not None:
                missing.append(
                    problems.FieldError(
                        f"#/lines/{n}/billingProfile/{field}",
                        f"a {line.billingProfile.paymentMethod} billing profile carries its {field} (BRM's /payinfo needs it)",
                    )
                )
    translate.check()
    if missing:
        raise problems.invalid(f"Order {order.orderId} revision {order.revision} was refused: {missing[0].detail}.", missing)


STATE = {"type": "string", "enum": ["RUNNING", "SUCCEEDED", "FAILED"]}
ATTEMPT = {"type": "integer", "minimum": 1, "description": "The revision's latest run: 1, then one more per resubmission."}
SCHEMAS: dict[str, dict[str, Any]] = {
    "FulfillmentOrderState": {
        "type": "object",
        "required": ["orderId", "revision", "status"],
        "properties": {"orderId": {"type": "string"}, "revision": {"type": "integer"}, "status": STATE, "attempt": ATTEMPT},
    },
    "FulfillmentOrderView": {
        "type": "object",
        "description": "An order revision's latest attempt: RUNNING, SUCCEEDED with its result, or FAILED with the reason.",
        "required": ["orderId", "revision", "status", "attempt"],
        "properties": {
            "orderId": {"type": "string"},
            "revision": {"type": "integer"},
            "status": STATE,
            "attempt": ATTEMPT,
            "result": ref(OrderResult),
            "error": {
                "type": "object",
                "required": ["error", "reason"],
                "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
REVISION_PARAMETERS = {
    "orderId": {"description": "The order id.", "schema": {"type": "string"}},
    "revision": {"description": "The revision number.", "schema": {"type": "integer", "minimum": 0}},
}


def read_order(body: Body) -> FulfillmentOrderIn:
    """The order revision in the body, refused (422) when it breaks the contract or the pack's rules, before anything starts."""
    order = parsed(FulfillmentOrderIn, body.json)
    check_payment_methods(order)
    collate(order)
    return order


def keyed_fingerprint(order: FulfillmentOrderIn) -> str:
    """What tells one submission of an order revision from another in an idempotency record (the intake's, and the
    ``Idempotency-Key`` header's): the order with its payment numbers masked and a keyed MAC of them, never an unkeyed
    hash of a number (order_store.fingerprint). Under an ``Idempotency-Key`` both records ask for it: the KMS call is
    made once per order content."""
    return _keyed_fingerprint(order_content(order), payment_mac())


@functools.lru_cache(maxsize=8)
def _keyed_fingerprint(content: str, mac: Mac) -> str:  # by the MAC's client too: settings reloaded, a new key is asked
    return fingerprint(content, mac)


def build_api() -> HttpApiResolver:
    app = create_api(SCOPE)
    collection = f"{PREFIX}/fulfillment-orders"

    @route(
        app,
        "POST",
        collection,
        request=Request(FulfillmentOrderIn, "The order revision.", read=read_order),
        idempotent=True,
        fingerprint=keyed_fingerprint,  # the header's record as the intake's own: no unkeyed hash of a card number
        summary="Synchronize a fulfillment order's billing accounts to BRM (OC-01)",
        description=(
            "Starts one Standard workflow per order revision. Only ADD, UPDATE and MOVE-ADD lines are processed; "
            "Service Bundle, Item, Subscription and Discount lines bring the service account, billing account and "
            "billing profile, Promotion lines the billing account only; other lines are listed as ignored with their "
            "reason. Only what does not exist in BRM is created; nothing is deleted. A service account other than its "
            "bill-to account becomes its nonpaying subordinate; prior values flag a paying hierarchy change. The same "
            "order revision again answers 202 and ends with the same result; other content under a used order id and "
            "revision is a 409, and so is a revision older than one already accepted for the order (revisions apply in "
            "order; an older one never reverts the paying hierarchy). Under an `Idempotency-Key`, orders are compared as "
            "the intake compares revisions (payment numbers masked, plus a keyed MAC of them), not as bytes: the same "
            "order laid out otherwise is the same request. An order using one billing profile in different "
            "billing systems is refused (422)."
        ),
        replies=[Reply(202, "Started (or already started): query the revision.", "FulfillmentOrderState")],
        problems=[409],
        models=[(OrderResult, "serialization")],
        schemas=SCHEMAS,
    )
    def submit(order: FulfillmentOrderIn) -> tuple[int, Any]:
        key = f"OC-01#order#{order.orderId}#{order.revision}"
        same = keyed_fingerprint(order)
        return 202, run_once(key=key, fingerprint=same, work=lambda: start(order), lambda_context=app.lambda_context)

    @route(
        app,
        "GET",
        f"{collection}/{{orderId}}/revisions/{{revision}}",
        summary="Status and result of an order revision (OC-02)",
        description=(
            "The latest attempt: RUNNING, SUCCEEDED with what was processed, ignored, created, found and the paying "
            "hierarchy, or FAILED with the reason."
        ),
        replies=[Reply(200, "The order revision.", "FulfillmentOrderView")],
        problems=[404, 422],
        path_parameters=REVISION_PARAMETERS,
        models=[(OrderResult, "serialization")],
        schemas=SCHEMAS,
    )
    def result(orderId: str, revision: str) -> tuple[int, Any]:
        return 200, query(orderId, _revision(revision))

    @route(
        app,
        "POST",
        f"{collection}/{{orderId}}/revisions/{{revision}}/resubmission",
        operator=True,  # the operations API runs it with the operator's token (docs/operations.md)
        idempotent=True,
        summary="Resubmit a FAILED order revision (OC-01)",
        description=(
            "Runs the revision again as its next attempt, with the order it was submitted with. What BRM already holds is "
            "found, not created again: a step that succeeded answers its recorded outcome (for a day; later it finds its "
            "objects through the cross-references), a step that failed runs again against the cross-references. Any "
            "status other than FAILED is a 409, as is a revision older than one accepted since; a revision whose last run ended more than 90 days ago is no longer "
            "known (404)."
        ),
        replies=[Reply(202, "Running again: query the revision.", "FulfillmentOrderState")],
        problems=[404, 409, 422],
        path_parameters=REVISION_PARAMETERS,
        schemas=SCHEMAS,
    )
    def resubmission(orderId: str, revision: str) -> tuple[int, Any]:
        return 202, resubmit(orderId, _revision(revision))

    return app


def _revision(revision: str) -> int:
    if not revision.isdigit():
        raise problems.invalid("revision must be a whole number.", [problems.FieldError("#/revision", "not a whole number")])
    return int(revision)


api = build_api()
