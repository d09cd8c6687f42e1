"""The HTTP API of FW-06 (CCB -> WAM/ODM service point sync): the engine's intake, batch, query,
acknowledgement and resubmission routes under ``/field-work/sync-requests``, for the flow of this
deployment's implementation model."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from utilhub.packs.field_work.sp_sync import ACK_SCOPE, PREFIX, SCOPE, active_flow
from utilhub.syncrequests.api import build_sync_request_api
from utilhub.syncrequests.model import SyncFlow
from utilhub.syncrequests.wiring import acknowledgements_for, store_for


@cache
def api_for(flow: SyncFlow) -> APIGatewayHttpResolver:
    """The engine's routes for ``flow`` (built once per process and model)."""
    return build_sync_request_api(
        flow,
        prefix=PREFIX,
        scope=SCOPE,
        ack_scope=ACK_SCOPE,
        store=lambda: store_for(flow),
        acknowledgements=lambda: acknowledgements_for(flow),
    )


def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway event with the routes of the model's flow."""
    return api_for(active_flow()).resolve(event, context)
