"""DA-02 and DA-04 over HTTP: CCB's DACS sync requests in (the engine's routes under ``/dacs``), and
DACS's per-record acknowledgements of the extract files (``POST /dacs/acknowledgements``, DACS's own scope),
passed on to CCB when configured."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from pydantic import ValidationError

from utilhub.packs.dacs.acknowledgements import AcknowledgementsIn, apply_acknowledgements
from utilhub.packs.dacs.notifications import queue_notifications
from utilhub.packs.dacs.sync import FLOW, PREFIX, SCOPE
from utilhub.platform import identity, problems
from utilhub.platform.http import create_api, once_per_key, read_body
from utilhub.platform.json_input import from_json
from utilhub.syncrequests.api import build_sync_request_api
from utilhub.syncrequests.wiring import acknowledgements_for, store_for

api = build_sync_request_api(
    FLOW, prefix=PREFIX, scope=SCOPE, store=lambda: store_for(FLOW), acknowledgements=lambda: acknowledgements_for(FLOW)
)

acknowledgement_api = create_api(f"{SCOPE}-ack")


@acknowledgement_api.post(f"{PREFIX}/acknowledgements")
def acknowledge_records() -> Response[str]:
    identity.require_caller_acts_as(acknowledgement_api, FLOW.target)
    body = read_body(acknowledgement_api, xml=False)
    try:
        acks = from_json(AcknowledgementsIn, body.json)
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from None
    return once_per_key(
        acknowledgement_api,
        body,
        lambda: (200, apply_acknowledgements(store_for(FLOW), acknowledgements_for(FLOW), acks, queue_notifications)),
    )
