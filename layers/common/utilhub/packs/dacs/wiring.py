"""The DACS pack's wiring: what its functions are built from (the exchange bucket's client, the initial sync,
the file mover, CCB's connector) and one entry per handler, named after its folder under ``functions/dacs/``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from utilhub.platform import aws
from utilhub.platform.connectors import HttpConnector
from utilhub.platform.reasons import values_withheld
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import Handler, entry, per_process
from utilhub.syncrequests import wiring as engine

if TYPE_CHECKING:  # each imported by the one function that uses it (DA-01's steps, DA-03's mover)
    from utilhub.packs.dacs.initial import InitialSync
    from utilhub.packs.dacs.transfer import ExtractFileMover


@per_process
def s3() -> Any:
    """The exchange bucket's client (``UTILHUB_DACS_EXCHANGE_BUCKET``)."""
    return aws.client("s3")


def exchange_bucket() -> str:
    return get_settings().dacs.require("dacs_exchange_bucket")


@per_process
def extract_file_mover() -> ExtractFileMover:
    from utilhub.packs.dacs.transfer import ExtractFileMover

    return ExtractFileMover(s3(), exchange_bucket())


@per_process
def initial_synchronization() -> InitialSync:
    from utilhub.packs.dacs.initial import InitialSync

    return InitialSync(s3(), exchange_bucket())


@per_process
def ccb_connector() -> HttpConnector:
    """CCB, to which DACS's acknowledgements are passed on (when configured)."""
    return HttpConnector.of("CCB", get_settings())


def _initial_sync_step(
    run_step: Callable[[InitialSync, dict[str, Any]], dict[str, Any]], sync: InitialSync, event: dict[str, Any], context: Any
) -> dict[str, Any]:
    with aws.transient_failures_retryable(), values_withheld():  # no refused value in its history or log
        return run_step(sync, event)


# ------------------------------------------------------------------------------ one entry per handler


@entry
def initial_sync() -> Handler:
    """DA-01: the plan, part and join steps of the Distributed Map state machine."""
    from utilhub.packs.dacs.initial import run_step

    return partial(_initial_sync_step, run_step, initial_synchronization())


@entry
def sync_requests() -> Handler:
    """DA-02 intake, batch, query, acknowledgement, resubmission."""
    from utilhub.packs.dacs.api import api
    from utilhub.packs.dacs.sync import FLOW

    engine.acknowledgements_for(FLOW)  # and the store
    return api.resolve


@entry
def incremental_extract() -> Handler:
    """DA-02: the scheduled extract of the changed entities' newest images."""
    from utilhub.packs.dacs import sync

    sync.incremental_extract()
    return lambda event, context: sync.run_extract(event)


@entry
def acknowledgements() -> Handler:
    """DA-04: DACS's acknowledgements per record."""
    from utilhub.packs.dacs.api import acknowledgement_api
    from utilhub.packs.dacs.sync import FLOW

    engine.acknowledgements_for(FLOW)
    if get_settings().dacs.dacs_notify_ccb:
        get_settings().dacs.require("dacs_notification_queue_url")
    return acknowledgement_api.resolve


@entry
def notifications() -> Handler:
    """DA-04: acknowledgements passed on to CCB."""
    from utilhub.packs.dacs.notifications import deliver_batch
    from utilhub.packs.dacs.sync import FLOW
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch

    engine.store_for(FLOW)
    ccb_connector()
    return deliver_batch


@entry
def file_transfer() -> Handler:
    """DA-03: extract files moved from ``extract/`` to ``upload/``."""
    from utilhub.packs.dacs.delivery import transfer_batch
    from utilhub.packs.dacs.sync import FLOW
    from utilhub.platform import batches  # noqa: F401 - loaded at init: every invocation processes an SQS batch

    extract_file_mover()
    engine.acknowledgements_for(FLOW)  # a file in upload/ completes its requests when DACS does not acknowledge
    return transfer_batch
