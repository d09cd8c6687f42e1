"""The HTTP API of the CCB -> MDM sync flow: intake, batch, query, acknowledgement, resubmission."""

from __future__ import annotations

from utilhub.packs.meter_data.sync import FLOW, PREFIX, SCOPE
from utilhub.syncrequests.api import build_sync_request_api
from utilhub.syncrequests.wiring import acknowledgements_for, release_for, store_for

api = build_sync_request_api(
    FLOW,
    prefix=PREFIX,
    scope=SCOPE,
    store=lambda: store_for(FLOW),
    acknowledgements=lambda: acknowledgements_for(FLOW),
    release=lambda: release_for(FLOW),
)
