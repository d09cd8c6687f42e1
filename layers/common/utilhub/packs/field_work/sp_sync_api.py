"""The HTTP API of FW-06 (CCB -> WAM/ODM service point sync): the engine's intake, batch, query,
acknowledgement and resubmission routes under ``/field-work/sync-requests``, for the flow of this
deployment's implementation model."""

from __future__ import annotations

from typing import Any

from utilhub.packs.field_work.sp_sync import ACK_SCOPE, FLOWS, PREFIX, SCOPE, active_flow
from utilhub.platform.http import HttpApiResolver
from utilhub.syncrequests.api import build_sync_request_api
from utilhub.syncrequests.model import SyncFlow
from utilhub.syncrequests.wiring import acknowledgements_for, release_for, store_for

# one flow per implementation model, the same routes and contract; the target is the model's asset system
TARGETS = "WAM (model v1.9) or ODM (model v2.1)"


def api_for(flow: SyncFlow) -> HttpApiResolver:
    """The engine's routes for ``flow``."""
    return build_sync_request_api(
        flow,
        prefix=PREFIX,
        scope=SCOPE,
        ack_scope=ACK_SCOPE,
        store=lambda: store_for(flow),
        acknowledgements=lambda: acknowledgements_for(flow),
        release=lambda: release_for(flow),
        target_described=TARGETS,
    )


# built once per process, touching nothing (the store and acknowledgements are made on first use)
APIS: dict[str, HttpApiResolver] = {model: api_for(flow) for model, flow in FLOWS.items()}


def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway event with the routes of the model's flow."""
    return APIS[next(model for model, flow in FLOWS.items() if flow is active_flow())].resolve(event, context)
