"""The non-BRM steps of the OC-01 workflow: collate the order, and summarize the outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from utilhub.packs.order_to_cash.collation import collate
from utilhub.packs.order_to_cash.model import CollateStep, FailedStep, FulfillmentOrderIn, OrderResult, TaskOutcome, WorkflowStepEnvelope
from utilhub.platform import journal
from utilhub.platform.problems import Problem

OrderLookup = Callable[[str, int], FulfillmentOrderIn]


POINT = "OC-01"


def order_transaction(order_id: str, revision: int) -> str:
    """An order revision's id in the transactions journal (``<orderId>/<revision>``)."""
    return f"{order_id}/{revision}"


def failure_reason(error: str, cause: str) -> str:
    """Why an execution failed: a Lambda error's message (its cause is the error's payload), else the cause itself."""
    try:
        parsed = json.loads(cause)
        reason = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except ValueError:
        reason = cause
    return str(reason or error)


class OrderRejected(Exception):
    """The order breaks a rule of Oracle's pack; the workflow fails with this reason (no retry)."""


def run_step(event: dict[str, Any], order_of: OrderLookup, *, succeeded: Callable[[str, int], object] | None = None) -> dict[str, Any]:
    """A step names the order revision by its ids; ``order_of(orderId, revision)`` reads the order where it is kept.
    The collation answers the BRM work by ids, the summary the revision's result (ids and outcomes), after
    ``succeeded(orderId, revision)`` (the store forgets its payment numbers: a SUCCEEDED revision is never sent again)."""
    step = WorkflowStepEnvelope.model_validate({"event": event}).event
    transaction = order_transaction(step.orderId, step.revision)
    if isinstance(step, FailedStep):
        error = str(step.failure.get("Error") or "unknown error")
        reason = f"{error}: {failure_reason(error, str(step.failure.get('Cause') or ''))}"
        journal.changed(POINT, transaction, "FAILED", reason=reason[:1000], step="workflow failed", system="hub")
        return {"recorded": True}
    try:
        plan = collate(order_of(step.orderId, step.revision))
    except Problem as exc:
        raise OrderRejected(exc.detail) from None
    if isinstance(step, CollateStep):
        return plan.work().model_dump()
    outcomes = [TaskOutcome.model_validate(outcome) for group in step.outcomes for outcome in group]
    result = OrderResult(
        processedLines=plan.processedLines,
        ignoredLines=plan.ignoredLines,
        created=[o for outcome in outcomes for o in outcome.created],
        existing=[o for outcome in outcomes for o in outcome.existing],
        changed=[c for outcome in outcomes for c in outcome.changed],
        hierarchy=[h for outcome in outcomes for h in outcome.hierarchy],
    )
    answer = result.model_dump(exclude_none=True)
    for link in answer["hierarchy"]:
        link.setdefault("parent", None)  # an account that pays for itself has no parent, and says so
    if succeeded is not None:
        succeeded(step.orderId, step.revision)
    journal.changed(POINT, transaction, "SUCCEEDED", reason="succeeded", step="workflow succeeded", system="hub")
    return answer
