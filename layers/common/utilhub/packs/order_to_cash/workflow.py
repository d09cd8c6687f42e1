"""The non-BRM steps of the OC-01 workflow: collate the order, and summarize the outcome."""

from __future__ import annotations

from typing import Any

from utilhub.packs.order_to_cash.collation import collate
from utilhub.packs.order_to_cash.model import CollateStep, OrderResult, TaskOutcome, WorkflowStepEnvelope
from utilhub.platform.problems import Problem


class OrderRejected(Exception):
    """The order breaks a rule of the seed; the workflow fails with this reason (no retry)."""


def run_step(event: dict[str, Any]) -> dict[str, Any]:
    step = WorkflowStepEnvelope.model_validate({"event": event}).event
    if isinstance(step, CollateStep):
        try:
            return collate(step.order).model_dump()
        except Problem as exc:
            raise OrderRejected(exc.detail) from None
    outcomes = [TaskOutcome.model_validate(outcome) for group in step.outcomes for outcome in group]
    result = OrderResult(
        processedLines=step.plan.processedLines,
        ignoredLines=step.plan.ignoredLines,
        created=[o for outcome in outcomes for o in outcome.created],
        existing=[o for outcome in outcomes for o in outcome.existing],
        hierarchy=[h for outcome in outcomes for h in outcome.hierarchy],
    )
    answer = result.model_dump(exclude_none=True)
    for link in answer["hierarchy"]:
        link.setdefault("parent", None)  # an account that pays for itself has no parent, and says so
    return answer
