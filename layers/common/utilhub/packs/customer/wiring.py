"""The customer pack's wiring: its service, built once per process from the settings (the one place its AWS
resources and CCB connector are looked up), and one entry per handler, named after its folder under
``functions/customer/``."""

from __future__ import annotations

from functools import partial

from utilhub.packs.customer.ccb import CcbCustomerClient
from utilhub.packs.customer.customers import CustomerSync
from utilhub.packs.customer.store import CustomerStore
from utilhub.platform import aws
from utilhub.platform.connectors import HttpConnector
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import Handler, entry, per_process
from utilhub.platform.xref import CrossReferenceStore


@per_process
def customer_sync() -> CustomerSync:
    settings = get_settings()
    table = aws.table(settings.state.require("xref_table"))
    connector = HttpConnector.of("CCB", settings)
    return CustomerSync(
        CcbCustomerClient(connector),
        CustomerStore(table),
        CrossReferenceStore(table),
        aws.sqs(),
        settings.customer.customer_update_queue_url,
    )


@per_process
def customer_store() -> CustomerStore:
    return CustomerStore(aws.table(get_settings().state.require("xref_table")))


# ------------------------------------------------------------------------------ one entry per handler


@entry
def siebel_customers() -> Handler:
    """CU-01 orders' customers, CU-02 account updates accepted, a customer's state."""
    from utilhub.packs.customer.api import api

    customer_sync()
    get_settings().customer.require("customer_update_queue_url")
    return api.resolve


@entry
def update_delivery() -> Handler:
    """CU-02: queued account updates applied to CCB, each customer's in order."""
    from utilhub.packs.customer.updates import deliver_batch
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch

    return partial(deliver_batch, customer_sync())


@entry
def synchronizing_monitor() -> Handler:
    """CU-01/CU-02: customers an order began to synchronize and never recorded, given up."""
    from utilhub.packs.customer.customers import end_overdue_synchronizations

    store = customer_store()
    return lambda event, context: end_overdue_synchronizations(store)
