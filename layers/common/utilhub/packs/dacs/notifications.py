"""DA-04's notification of CCB: when the deployment is configured to (``UTILHUB_DACS_NOTIFY_CCB``, the
template's ``DacsAcknowledgementsToCcb``), each DACS acknowledgement that ends an incremental sync request
(SYNCHRONIZED or ERROR) is passed on to CCB, once, through the platform's relay. The engine's own outcomes to CCB
(``syncrequests/outcomes.py``) are then off for the flow (the template gives the DACS functions no flow to tell while
``DacsAcknowledgementsToCcb`` is on); should a deployment turn both on, nothing is queued here
(``store.tells_ccb``), so CCB never hears an outcome twice.

The notification is queued *before* the acknowledgement is applied, and names the outcome it announces:
the request, the result (POSITIVE or NEGATIVE) and the round of the request it ends (how many times it was
resubmitted before), which is also its event id, so the same outcome posted again by DACS is one
notification, told once. The deliverer reads the request and tells CCB what the hub recorded for that
outcome in that round (SYNCHRONIZED, or an ERROR that is not a time-out), wherever it stands in the
history (a time-out may have queued the request again in between); while it is not recorded yet (the
acknowledgement's write failed and DACS is asked to post again) it raises, and the queue redelivers. So an
acknowledgement applied is never left unannounced, and CCB is never told of one the hub did not record.
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
from utilhub.syncrequests.model import SyncRequest, SyncStatus, Transition
from utilhub.syncrequests.timeouts import NO_ACKNOWLEDGEMENT
from utilhub.syncrequests.wiring import store_for

RELAY = "DA-04"


class TransitionNotRecorded(Exception):
    """The acknowledgement this notification announces is not recorded on the sync request yet."""


class CcbNotification(BaseModel):
    syncRequestId: str
    result: Literal["POSITIVE", "NEGATIVE"]
    round: int  # how many times the request had been resubmitted before this outcome


class CcbAcknowledgement(BaseModel):
    """What CCB receives at ``PUT sync-requests/{syncRequestId}/acknowledgement``."""

    syncRequestId: str
    target: Literal["DACS"] = "DACS"
    entityType: str
    entityId: str
    result: Literal["POSITIVE", "NEGATIVE"]
    reason: str
    acknowledgedAt: str


def _rounds(history: list[Transition]) -> list[list[Transition]]:
    """The history cut at each resubmission (ERROR -> PENDING): one list per round of the request."""
    rounds: list[list[Transition]] = [[]]
    for before, transition in zip([None, *history], history, strict=False):
        if before is not None and before.status is SyncStatus.ERROR and transition.status is SyncStatus.PENDING:
            rounds.append([])
        rounds[-1].append(transition)
    return rounds


def notification_of(request: SyncRequest, result: Literal["POSITIVE", "NEGATIVE"]) -> tuple[str, CcbNotification]:
    """The event id and notification of ``result`` about to be recorded on ``request``: one per outcome."""
    notification = CcbNotification(syncRequestId=request.syncRequestId, result=result, round=len(_rounds(request.history)) - 1)
    return f"{request.syncRequestId}#{result}#{notification.round}", notification


def queue_notifications(acknowledged: list[tuple[SyncRequest, Literal["POSITIVE", "NEGATIVE"]]]) -> None:
    """Queue CCB's notification of the acknowledgement about to be applied to each request (when configured)."""
    settings = get_settings()
    if not settings.dacs.dacs_notify_ccb or not acknowledged or store_for(FLOW).tells_ccb:
        return  # not configured, or the engine tells CCB the flow's outcomes itself (syncrequests/outcomes.py)
    events = [(event_id, n.model_dump()) for event_id, n in (notification_of(r, result) for r, result in acknowledged)]
    relay.accept_many(RELAY, events, settings.dacs.require("dacs_notification_queue_url"))


def _announced(transition: Transition, result: str) -> bool:
    if result == "POSITIVE":
        return transition.status is SyncStatus.SYNCHRONIZED
    return transition.status is SyncStatus.ERROR and not transition.reason.startswith(NO_ACKNOWLEDGEMENT)


def acknowledgement_for(request: SyncRequest | None, notification: CcbNotification) -> CcbAcknowledgement:
    """The acknowledgement CCB is told of: the outcome the hub recorded in the notification's round."""
    if request is None:
        raise LookupError(f"sync request {notification.syncRequestId} is not stored")
    rounds = _rounds(request.history)
    within = rounds[notification.round] if notification.round < len(rounds) else []
    recorded = next((t for t in within if _announced(t, notification.result)), None)
    if recorded is None:
        awaiting = request.status is SyncStatus.SENT or (notification.result == "POSITIVE" and request.timedOut)
        if notification.round == len(rounds) - 1 and awaiting:
            raise TransitionNotRecorded(f"sync request {request.syncRequestId}'s acknowledgement is not recorded yet")
        # the request went on without it (resubmitted, or ended otherwise): kept for an operator
        raise LookupError(f"sync request {request.syncRequestId} recorded no {notification.result} acknowledgement in that round")
    return CcbAcknowledgement(
        syncRequestId=request.syncRequestId,
        entityType=request.entityType,
        entityId=request.entityId,
        result=notification.result,
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
