"""Build a flow's store, monitor and delivery from the settings: the one place AWS resources
are looked up for the engine. Each object is created once per process, on first use.

Each builder imports what it builds: a function loads the parts of the engine it uses (an intake the store, the
acknowledgements and the monitor that releases what they let go, a monitor the monitor, a delivery the delivery), and
a pack's function that uses none loads none
(``tests/unit/test_cold_start_imports.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from utilhub.platform import aws
from utilhub.platform.settings import Settings, get_settings
from utilhub.platform.wiring import Handler, entry, per_process

if TYPE_CHECKING:
    from utilhub.syncrequests.delivery import Acknowledgements, SyncDelivery
    from utilhub.syncrequests.lifecycle import AckTimeouts
    from utilhub.syncrequests.model import SyncFlow
    from utilhub.syncrequests.monitor import SyncMonitor
    from utilhub.syncrequests.store import SyncRequestStore


def ack_timeouts(settings: Settings) -> AckTimeouts:
    """The flow's acknowledgement time-outs, from its function's settings (the template's parameter and queue)."""
    from utilhub.syncrequests.lifecycle import AckTimeouts

    return AckTimeouts(
        timedelta(seconds=settings.sync.sync_ack_timeout_seconds),
        visibility=timedelta(seconds=settings.sync.delivery_visibility_timeout_seconds),
        receives=settings.sync.delivery_max_receive_count,
        requeues=settings.sync.sync_timeout_requeues,
    )


@per_process
def store_for(flow: SyncFlow) -> SyncRequestStore:
    from utilhub.syncrequests.outcomes import CcbOutcomes, flows_of
    from utilhub.syncrequests.store import SyncRequestStore

    settings = get_settings()
    return SyncRequestStore(
        aws.table(settings.state.require("sync_request_table")),
        flow.name,
        shards=settings.sync.sync_request_shards,
        retention_days=settings.sync.sync_request_retention_days,
        parents_of=flow.parents_of,
        open_under=flow.open_under,
        timeouts=ack_timeouts(settings),
        point_of=flow.point_of,
        source=flow.source,
        outcomes=CcbOutcomes(flow.name, flow.target, settings.sync.ccb_outcome_queue_url, flows_of(settings.sync.ccb_outcome_flows)),
    )


@per_process
def monitor_for(flow: SyncFlow) -> SyncMonitor:
    from utilhub.syncrequests.monitor import QueueDispatch, SyncMonitor

    settings = get_settings()
    store = store_for(flow)
    return SyncMonitor(
        store,
        QueueDispatch(store, aws.sqs(), settings.sync.require("delivery_queue_url"), flow.name),
        flow.name,
        page_size=settings.sync.sync_monitor_page_size,
        target=flow.target,
        ordered_types=flow.ordered_types,
        budget=timedelta(seconds=settings.sync.sync_monitor_budget_seconds),
    )


def release_for(flow: SyncFlow) -> SyncMonitor | None:
    """The flow's monitor, for a function given the flow's delivery queue (its intake and acknowledgements): what a
    request received or made final lets go is queued at once (:meth:`SyncMonitor.release`). None without the queue
    (DACS: its extract writes files on its own schedule)."""
    return monitor_for(flow) if get_settings().sync.delivery_queue_url else None


@per_process
def acknowledgements_for(flow: SyncFlow) -> Acknowledgements:
    from utilhub.platform.xref import CrossReferenceStore
    from utilhub.syncrequests.delivery import Acknowledgements

    release = release_for(flow)
    return Acknowledgements(
        store_for(flow),
        flow,
        CrossReferenceStore(aws.table(get_settings().state.require("xref_table"))),
        release.release if release is not None else None,
    )


@per_process
def delivery_for(flow: SyncFlow) -> SyncDelivery:
    from utilhub.platform.connectors import HttpConnector
    from utilhub.syncrequests.delivery import SyncDelivery

    connector = HttpConnector.of(flow.target, get_settings())
    return SyncDelivery(store_for(flow), flow, connector, acknowledgements_for(flow))


@entry
def ccb_outcomes() -> Handler:
    """Every flow's final sync request outcomes, told to CCB (functions/sync_requests/ccb_outcomes); one older than its
    request's last final transition is not (redriven after a newer one: CCB keeps the last state it is told)."""
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch
    from utilhub.platform.connectors import HttpConnector
    from utilhub.syncrequests import outcomes
    from utilhub.syncrequests.outcomes import Ccb
    from utilhub.syncrequests.store import last_final_at

    settings = get_settings()
    connector = HttpConnector.of("CCB", settings)
    requests = aws.table(settings.state.require("sync_request_table"))
    ccb = Ccb(
        lambda method, path, body: connector.request(method, path, body, content_type="application/json"),
        lambda flow, sync_request_id: last_final_at(requests, flow, sync_request_id),
    )
    return lambda event, context: outcomes.deliver_batch(event, context, ccb)
