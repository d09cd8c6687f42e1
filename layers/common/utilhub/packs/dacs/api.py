"""DA-02 and DA-04 over HTTP: CCB's DACS sync requests in (the engine's routes under ``/dacs``), and
DACS's per-record acknowledgements of the extract files (``POST /dacs/acknowledgements``, DACS's own scope),
passed on to CCB when configured."""

from __future__ import annotations

from typing import Any

from utilhub.packs.dacs.acknowledgements import AcknowledgementsIn, RecordAcknowledgement, apply_acknowledgements
from utilhub.packs.dacs.notifications import queue_notifications
from utilhub.packs.dacs.sync import FLOW, PREFIX, SCOPE
from utilhub.platform.api_docs import Reply, Request, ref
from utilhub.platform.http import create_api, route
from utilhub.syncrequests.api import build_sync_request_api
from utilhub.syncrequests.wiring import acknowledgements_for, store_for

api = build_sync_request_api(
    FLOW, prefix=PREFIX, scope=SCOPE, store=lambda: store_for(FLOW), acknowledgements=lambda: acknowledgements_for(FLOW)
)

acknowledgement_api = create_api(f"{SCOPE}-ack")

SCHEMAS: dict[str, dict[str, Any]] = {
    "DacsAcknowledgementResult": {
        "type": "object",
        "required": ["recordType", "externalReferenceId", "outcome"],
        "properties": {
            "recordType": {"type": "string"},
            "externalReferenceId": {"type": "string"},
            "outcome": {"enum": ["synchronized", "error", "ignored"]},
            "syncRequestId": {"type": "string", "description": "The sync request the record acknowledged (not for ignored)."},
        },
    },
    "DacsAcknowledgementsAnswer": {
        "type": "object",
        "required": ["synchronized", "error", "ignored", "results"],
        "properties": {
            "synchronized": {"type": "integer", "minimum": 0},
            "error": {"type": "integer", "minimum": 0},
            "ignored": {"type": "integer", "minimum": 0},
            "results": {"type": "array", "items": ref("DacsAcknowledgementResult"), "description": "One per record, in order."},
        },
    },
}


@route(
    acknowledgement_api,
    "POST",
    f"{PREFIX}/acknowledgements",
    acts_as=FLOW.target,
    request=Request(AcknowledgementsIn, "The acknowledgements."),
    idempotent=True,
    summary="Acknowledge the records of DACS extract files (DA-04)",
    description=(
        "Up to 1,000 records, each POSITIVE or NEGATIVE, named by `recordType`, `externalReferenceId` (the CCB id) and "
        "`changeDateTime`. A record acknowledges the DACS sync request in flight for its entity when the change time is "
        "the one written: POSITIVE makes it SYNCHRONIZED, NEGATIVE ERROR with the reason; a POSITIVE one also completes "
        "the entity's request that timed out to ERROR waiting for it. A record that matches no such request (an "
        "initial load record, an image already acknowledged) is `ignored`: posting the same acknowledgements again "
        "changes nothing."
    ),
    replies=[Reply(200, "What each record did.", "DacsAcknowledgementsAnswer")],
    problems=[409],
    models=[(RecordAcknowledgement, "validation")],
    schemas=SCHEMAS,
)
def acknowledge_records(acks: AcknowledgementsIn) -> tuple[int, Any]:
    return 200, apply_acknowledgements(store_for(FLOW), acknowledgements_for(FLOW), acks, queue_notifications)
