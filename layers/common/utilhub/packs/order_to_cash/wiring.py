"""The order to cash pack's wiring: what its functions are built from (the orders' store, the workflow's client,
BRM's connector and tasks) and one entry per handler, named after its folder under ``functions/order_to_cash/``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from utilhub.platform import aws, journal
from utilhub.platform.connectors import HttpConnector
from utilhub.platform.reasons import values_withheld
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import Handler, entry, per_process

if TYPE_CHECKING:
    from utilhub.packs.order_to_cash.order_store import Mac, OrderStore
    from utilhub.packs.order_to_cash.tasks import BrmSteps


@per_process
def order_store() -> OrderStore:
    from utilhub.packs.order_to_cash.order_store import KmsFieldCipher, OrderStore

    settings = get_settings()
    cipher = KmsFieldCipher(aws.client("kms"), settings.order_to_cash.order_payment_key)
    return OrderStore(aws.table(settings.state.require("xref_table")), cipher)


@per_process
def payment_mac() -> Mac:
    """OC-01 intake: the keyed MAC of an order's payment numbers in its idempotency fingerprint (order_store.fingerprint)."""
    from utilhub.packs.order_to_cash.order_store import KmsMac

    return KmsMac(aws.client("kms"), get_settings().order_to_cash.order_fingerprint_key)


@per_process
def stepfunctions() -> Any:
    """OC-01's workflow: its executions started and looked up."""
    return aws.client("stepfunctions")


@per_process
def brm_tasks() -> BrmSteps:
    from utilhub.packs.order_to_cash.brm import BrmClient
    from utilhub.packs.order_to_cash.tasks import BrmSteps
    from utilhub.platform.xref import CrossReferenceStore

    settings = get_settings()
    xrefs = CrossReferenceStore(aws.table(settings.state.require("xref_table")))
    return BrmSteps(BrmClient(HttpConnector.of("BRM", settings)), xrefs, order_store())


# ------------------------------------------------------------------------------ one entry per handler


@entry
def fulfillment_orders() -> Handler:
    """OC-01 intake, OC-02 status and result, resubmission."""
    from utilhub.packs.order_to_cash.orders import api

    order_store()
    payment_mac()
    get_settings().order_to_cash.require("order_state_machine_arn")
    get_settings().order_to_cash.require("order_fingerprint_key")
    return api.resolve


@entry
def brm_steps() -> Handler:
    """OC-01 workflow steps in BRM."""
    tasks = brm_tasks()

    def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with (
            aws.transient_failures_retryable(),
            values_withheld(),  # no refused value in its history or log
            journal.working_on("OC-01", f"{event.get('orderId')}/{event.get('revision')}"),  # its calls to BRM are hops
        ):
            return tasks.run(event, context)

    return run


@entry
def order_steps() -> Handler:
    """OC-01 workflow steps without BRM: collate the order's lines, summarize the outcome."""
    from utilhub.packs.order_to_cash.workflow import run_step

    orders = order_store()

    def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with aws.transient_failures_retryable(), values_withheld():  # no refused value in its history or log
            return run_step(event, orders.get, succeeded=orders.erase_payment)

    return run
