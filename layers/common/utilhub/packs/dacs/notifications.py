"""DA-04's notification of CCB: when the deployment is configured to (``UTILHUB_DACS_NOTIFY_CCB``, the
template's ``DacsAcknowledgementsToCcb``), each DACS acknowledgement that ends an incremental sync request
(SYNCHRONIZED or ERROR) is passed on to CCB, once, through the platform's relay.

The notification is queued *before* the acknowledgement is applied, and names the transition it
announces by its place in the request's history. The deliverer reads the request and tells CCB what the
hub recorded there; while that transition is not recorded yet (the acknowledgement's write failed and
DACS is asked to post again) it raises, and the queue redelivers. So an acknowledgement applied is
never left unannounced, and CCB is never told of one the hub did not record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel

from utilhub.packs.dacs.sync import FLOW
from utilhub.packs.dacs.wiring import ccb_connector
from utilhub.platform import relay
from utilhub.platform.settings import get_settings
from utilhub.syncrequests.model import SyncRequest, SyncStatus
from utilhub.syncrequests.wiring import store_for

RELAY = "DA-04"
ENDED = {SyncStatus.SYNCHRONIZED: "POSITIVE", SyncStatus.ERROR: "NEGATIVE"}


class TransitionNotRecorded(Exception):
    """The acknowledgement this notification announces is not recorded on the sync request yet."""


class CcbNotification(BaseModel):
    syncRequestId: str
    transition: int  # the index in the request's history of the transition announced


class CcbAcknowledgement(BaseModel):
    """What CCB receives at ``PUT sync-requests/{syncRequestId}/acknowledgement``."""

    syncRequestId: str
    target: Literal["DACS"] = "DACS"
    entityType: str
    entityId: str
    result: Literal["POSITIVE", "NEGATIVE"]
    reason: str
    acknowledgedAt: str


def queue_notifications(requests: list[SyncRequest]) -> None:
    """Queue CCB's notification of the acknowledgement about to be applied to each request (when configured)."""
    settings = get_settings()
    if not settings.dacs.dacs_notify_ccb or not requests:
        return
    events = [
        (f"{r.syncRequestId}#{len(r.history)}", CcbNotification(syncRequestId=r.syncRequestId, transition=len(r.history)).model_dump())
        for r in requests
    ]
    relay.accept_many(RELAY, events, settings.dacs.require("dacs_notification_queue_url"))


def acknowledgement_for(request: SyncRequest | None, notification: CcbNotification) -> CcbAcknowledgement:
    """The acknowledgement CCB is told of: the transition the hub recorded at the notification's place."""
    if request is None:
        raise LookupError(f"sync request {notification.syncRequestId} is not stored")
    if len(request.history) <= notification.transition:
        raise TransitionNotRecorded(f"sync request {request.syncRequestId}'s acknowledgement is not recorded yet")
    recorded = request.history[notification.transition]
    result = ENDED.get(recorded.status)
    if result is None:  # only SENT -> SYNCHRONIZED or ERROR follows a SENT request; anything else is kept for an operator
        raise LookupError(f"sync request {request.syncRequestId} went {recorded.status.value}, not acknowledged")
    return CcbAcknowledgement(
        syncRequestId=request.syncRequestId,
        entityType=request.entityType,
        entityId=request.entityId,
        result=result,  # type: ignore[arg-type]
        reason=recorded.reason,
        acknowledgedAt=recorded.at.isoformat(),
    )


def notify_ccb(message: relay.RelayMessage) -> Mapping[str, Any]:
    notification = CcbNotification.model_validate(message.payload)
    ack = acknowledgement_for(store_for(FLOW).get(notification.syncRequestId), notification)
    path = f"sync-requests/{quote(ack.syncRequestId, safe='')}/acknowledgement"
    ccb_connector().request("PUT", path, json.dumps(ack.model_dump()).encode(), content_type="application/json")
    return {"notified": "CCB", "result": ack.result}


def deliver_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return relay.deliver_batch(event, context, {RELAY: notify_ccb})
