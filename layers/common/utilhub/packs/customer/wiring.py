"""The customer pack's service, built once per process from the settings (the one place its AWS
resources and CCB connector are looked up)."""

from __future__ import annotations

from utilhub.packs.customer.ccb import CcbCustomerClient
from utilhub.packs.customer.customers import CustomerSync
from utilhub.packs.customer.store import CustomerStore
from utilhub.platform import aws
from utilhub.platform.connectors import HttpConnector
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import per_process
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
