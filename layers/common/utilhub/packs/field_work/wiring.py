"""The field work pack's wiring: what its functions are built from (the activities' store, the target systems'
connectors and clients, the attachments' table and bucket client, the workflow's client, FW-06's sync flow) and
one entry per handler, named after its folder under ``functions/field_work/``.

Each entry imports the code it runs when it is built, so a function loads only its own, and builds at init what
it needs from the settings.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from utilhub.platform import aws
from utilhub.platform.connectors import HttpConnector
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import Handler, entry, per_process
from utilhub.syncrequests import wiring as engine

if TYPE_CHECKING:
    from utilhub.packs.field_work.customer_updates import CustomerUpdateOrder
    from utilhub.packs.field_work.store import ActivityStore
    from utilhub.packs.field_work.targets import FieldSystemClient
    from utilhub.platform.xref import CrossReferenceStore

TARGETS = ("CCB", "MWM", "WAM", "ODM")  # the systems an activity is routed to, or its events forwarded to


@per_process
def connector_for(system: str) -> HttpConnector:
    return HttpConnector.of(system, get_settings())


@per_process
def client_for(system: str) -> FieldSystemClient:
    from utilhub.packs.field_work.targets import FieldSystemClient

    return FieldSystemClient(connector_for(system))


@per_process
def activity_store() -> ActivityStore:
    from utilhub.packs.field_work.store import ActivityStore

    settings = get_settings()
    return ActivityStore(aws.table(settings.state.require("xref_table")), settings.field_work.field_work_creating_shards)


@per_process
def cross_references() -> CrossReferenceStore:
    """FW-06's service points in WAM's or ODM's ids, read when FW-01 creates an activity there."""
    from utilhub.platform.xref import CrossReferenceStore

    return CrossReferenceStore(aws.table(get_settings().state.require("xref_table")))


@per_process
def attachment_table() -> Any:
    """The attachments' records (in the cross-reference table, under the pack's prefix)."""
    return aws.table(get_settings().state.require("xref_table"))


@per_process
def customer_update_order() -> CustomerUpdateOrder:
    from utilhub.packs.field_work.customer_updates import CustomerUpdateOrder

    return CustomerUpdateOrder(aws.table(get_settings().state.require("xref_table")))


@per_process
def s3() -> Any:
    """The attachments' bucket client (presigned uploads and downloads, their checks)."""
    return aws.client("s3")


@per_process
def stepfunctions() -> Any:
    """FW-01's workflow: its executions started and looked up."""
    return aws.client("stepfunctions")


# ------------------------------------------------------------------------------ one entry per handler


@entry
def activities() -> Handler:
    """FW-01 creation, FW-02 events, FW-07 attachments, an activity's state."""
    from utilhub.packs.field_work.api import api

    activity_store()
    settings = get_settings().field_work
    for name in ("field_work_state_machine_arn", "field_work_event_queue_url", "field_work_relay_queue_url"):
        settings.require(name)
    settings.require("field_work_attachment_bucket")
    return api.resolve


@entry
def activity_steps() -> Handler:
    """FW-01's workflow steps: create in a routed system, cancel there (compensation), finish."""
    from utilhub.packs.field_work.activities import run_workflow_step

    activity_store()
    cross_references()
    get_settings().field_work.require("field_work_event_queue_url")
    for system in TARGETS:
        client_for(system)
    return run_workflow_step


@entry
def creation_sweep() -> Handler:
    """FW-01: activities left CREATING by a creation whose execution ended without recording its outcome, to ERROR."""
    from utilhub.packs.field_work.activities import sweep_creations

    activity_store()
    get_settings().field_work.require("field_work_state_machine_arn")
    return sweep_creations


@entry
def event_delivery() -> Handler:
    """FW-02: an activity's events forwarded to every other system linked to it."""
    from utilhub.packs.field_work.activities import deliver_events
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch

    activity_store()
    for system in TARGETS:
        client_for(system)
    return deliver_events


@entry
def notifications() -> Handler:
    """FW-05, FW-10, FW-11 relayed."""
    from utilhub.packs.field_work.notifications import deliver_batch
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch

    customer_update_order()
    activity_store()
    connector_for("CCB")
    client_for("MWM")
    return deliver_batch


@entry
def queries() -> Handler:
    """FW-03, FW-04, FW-08, FW-09: MWM, CCB and this model's asset system, within the time budget."""
    from utilhub.packs.field_work.queries_api import api
    from utilhub.packs.field_work.routing import ASSET_SYSTEM

    for system in ("CCB", "MWM", ASSET_SYSTEM[get_settings().field_work.field_work_model]):
        connector_for(system)
    return api.resolve


@entry
def sp_sync_requests() -> Handler:
    """FW-06 intake, batch, query, acknowledgement, resubmission, for this model's flow."""
    from utilhub.packs.field_work.sp_sync import active_flow
    from utilhub.packs.field_work.sp_sync_api import api_for

    flow = active_flow()
    engine.acknowledgements_for(flow)  # and the store
    return api_for(flow).resolve


@entry
def sp_sync_monitor() -> Handler:
    from utilhub.packs.field_work.sp_sync import active_flow
    from utilhub.syncrequests.handlers import run_monitor

    return partial(run_monitor, engine.monitor_for(active_flow()))


@entry
def sp_sync_delivery() -> Handler:
    from utilhub.packs.field_work.sp_sync import active_flow
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch
    from utilhub.syncrequests.handlers import deliver_batch

    flow = active_flow()
    return partial(deliver_batch, flow, engine.delivery_for(flow))
