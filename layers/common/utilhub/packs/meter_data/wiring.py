"""The meter data pack's wiring: what its functions are built from (connectors, the usage requests' service, the
sync flow's store, monitor and delivery) and one entry per handler, named after its folder under
``functions/meter_data/``.

Each entry imports the code it runs when it is built, so a function loads only its own (the monitor and the
deliveries never import an HTTP resolver), and builds at init what it needs from the settings.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from utilhub.platform import aws
from utilhub.platform.connectors import HttpConnector
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import Handler, entry, per_process
from utilhub.syncrequests import wiring as engine

if TYPE_CHECKING:
    from utilhub.packs.meter_data.billing.usage_requests import UsageRequests


@per_process
def connector_for(system: str) -> HttpConnector:
    """CCB or MDM as the billing points call them (JSON over HTTPS), one connector per system and process."""
    return HttpConnector.of(system, get_settings())


@per_process
def usage_request_service() -> UsageRequests:
    """MD-11's usage requests: their table, their queue, MDM and CCB."""
    from utilhub.packs.meter_data.billing.usage_requests import DataSyncCheck, UsageRequests, UsageRequestStore
    from utilhub.packs.meter_data.billing.usage_requests.ccb_errors import FLOW as USAGE_REQUESTS
    from utilhub.packs.meter_data.billing.usage_requests.ccb_errors import UsageErrorsToCcb
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.outcomes import CcbNotices, flows_of

    sync = get_settings().sync
    errors = UsageErrorsToCcb(CcbNotices(sync.ccb_outcome_queue_url, USAGE_REQUESTS in flows_of(sync.ccb_outcome_flows)))
    return UsageRequests(
        store=UsageRequestStore(aws.table(get_settings().state.require("usage_request_table")), on_error=errors),
        data_sync=DataSyncCheck(lambda: engine.store_for(FLOW)),
        sqs=aws.sqs(),
        queue_url=lambda: get_settings().meter_data.require("usage_request_queue_url"),
        connector=connector_for,
    )


# ------------------------------------------------------------------------------ one entry per handler


@entry
def sync_requests() -> Handler:
    """MD-01..10, MD-18 intake, batch, query, acknowledgement, resubmission."""
    from utilhub.packs.meter_data.api import api
    from utilhub.packs.meter_data.sync import FLOW

    engine.acknowledgements_for(FLOW)  # and the store
    return api.resolve


@entry
def sync_monitor() -> Handler:
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.handlers import run_monitor

    return partial(run_monitor, engine.monitor_for(FLOW))


@entry
def sync_delivery() -> Handler:
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch
    from utilhub.syncrequests.handlers import deliver_batch

    return partial(deliver_batch, FLOW, engine.delivery_for(FLOW))


@entry
def usage() -> Handler:
    """MD-12, MD-14, MD-15."""
    from utilhub.packs.meter_data.billing.usage_api import api

    connector_for("MDM")
    return api.resolve


@entry
def usage_requests() -> Handler:
    """MD-11 intake, batch, state, resubmission."""
    from utilhub.packs.meter_data.billing.usage_requests.api import api
    from utilhub.packs.meter_data.sync import FLOW

    usage_request_service()
    get_settings().meter_data.require("usage_request_queue_url")
    engine.store_for(FLOW)  # a request waits for its SA's master data
    return api.resolve


@entry
def usage_delivery() -> Handler:
    from utilhub.packs.meter_data.billing.usage_requests import deliver_batch
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch

    connector_for("MDM")
    connector_for("CCB")
    return partial(deliver_batch, usage_request_service())


@entry
def usage_release() -> Handler:
    from utilhub.packs.meter_data.sync import FLOW

    service = usage_request_service()
    get_settings().meter_data.require("usage_request_queue_url")
    engine.store_for(FLOW)
    return lambda event, context: dict(service.release())


@entry
def billing_events() -> Handler:
    """MD-13, MD-16, MD-20 accepted."""
    from utilhub.packs.meter_data.billing.api import relay_api

    settings = get_settings().meter_data
    settings.require("meter_data_relay_queue_url")
    settings.require("meter_data_bill_status_queue_url")
    return relay_api.resolve


@entry
def billing_event_delivery() -> Handler:
    from utilhub.packs.meter_data.billing.relays import deliver_batch
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch

    connector_for("MDM")
    connector_for("CCB")
    return deliver_batch


@entry
def bill_cycle_requests() -> Handler:
    """MD-19."""
    from utilhub.packs.meter_data.billing.api import bill_cycle_api

    connector_for("MDM")
    return bill_cycle_api.resolve


@entry
def usage_adjustments() -> Handler:
    """MD-17."""
    from utilhub.packs.meter_data.billing.api import adjustment_api

    connector_for("MDM")
    return adjustment_api.resolve


@entry
def links() -> Handler:
    """MD-21 (the templates: shipped, or this deployment's parameter)."""
    from utilhub.packs.meter_data.billing.api import links_api

    return links_api.resolve
