"""Entry points of the OC-01 workflow's task handlers."""

from __future__ import annotations

from typing import Any

from utilhub.packs.order_to_cash.brm import BrmClient
from utilhub.packs.order_to_cash.order_store import OrderStore
from utilhub.packs.order_to_cash.tasks import BrmSteps
from utilhub.packs.order_to_cash.workflow import run_step
from utilhub.platform import aws
from utilhub.platform.connectors import HttpConnector
from utilhub.platform.reasons import values_withheld
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import per_process
from utilhub.platform.xref import CrossReferenceStore


@per_process
def order_store() -> OrderStore:
    return OrderStore(aws.table(get_settings().state.require("xref_table")))


@per_process
def brm_steps() -> BrmSteps:
    settings = get_settings()
    connector = HttpConnector.of("BRM", settings)
    return BrmSteps(BrmClient(connector), CrossReferenceStore(aws.table(settings.state.require("xref_table"))), order_store())


def run_brm_step(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with aws.transient_failures_retryable(), values_withheld():  # no refused value in its history or log
        return brm_steps().run(event, context)


def run_workflow_step(event: dict[str, Any]) -> dict[str, Any]:
    with aws.transient_failures_retryable(), values_withheld():  # no refused value in its history or log
        return run_step(event, order_store().get)
