"""DA-04: DACS's acknowledgements, positive or negative per record, of the incremental extracts.

DACS names each record by its kind, ``externalReferenceId`` (the CCB id) and ``changeDateTime``. The
record acknowledges the DACS sync request that is in flight for that entity when the image matches
(the same change time): POSITIVE makes it SYNCHRONIZED, NEGATIVE makes it ERROR with DACS's reason
(resubmittable). A record that matches no request in flight (a DA-01 initial load record, an image
already acknowledged, an older image) is answered ``ignored`` and changes nothing, so the same
acknowledgement posted twice is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from utilhub.packs.dacs.extract_file import Kind
from utilhub.packs.dacs.mapping import ENTITY_OF_KIND
from utilhub.packs.dacs.records import ExternalId, Timestamp, format_timestamp
from utilhub.syncrequests.delivery import Acknowledgements
from utilhub.syncrequests.model import Acknowledgement, SyncRequest, SyncStatus
from utilhub.syncrequests.store import SyncRequestStore


class RecordAcknowledgement(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    fileName: str | None = Field(default=None, max_length=200)
    recordType: Kind
    externalReferenceId: ExternalId
    changeDateTime: Timestamp
    result: Literal["POSITIVE", "NEGATIVE"]
    reason: str | None = Field(default=None, max_length=2000)


class AcknowledgementsIn(BaseModel):
    """The body DACS posts to ``/dacs/acknowledgements``."""

    model_config = ConfigDict(extra="ignore")

    acknowledgements: list[RecordAcknowledgement] = Field(min_length=1, max_length=1000)


def apply_acknowledgements(
    store: SyncRequestStore,
    acknowledgements: Acknowledgements,
    body: AcknowledgementsIn,
    before_applying: Callable[[list[SyncRequest]], None] = lambda matched: None,
) -> dict[str, object]:
    """Apply each record's acknowledgement to the request it names; ``before_applying`` is given the
    requests about to be acknowledged first (CCB's notifications are queued there, see ``notifications``)."""
    entities = [(ENTITY_OF_KIND[a.recordType], a.externalReferenceId) for a in body.acknowledgements]
    states = store.entity_states(entities)
    matched: list[SyncRequest | None] = []
    seen: set[str] = set()
    for ack, entity in zip(body.acknowledgements, entities, strict=True):
        request = store.get(in_flight) if (in_flight := states[entity].in_flight) else None
        if not (
            request is not None
            and request.syncRequestId not in seen  # a second record for the same image in one post is a repeat
            and request.status is SyncStatus.SENT
            and _same_image(format_timestamp(request.changedAt), ack.changeDateTime)
        ):
            request = None
        else:
            seen.add(request.syncRequestId)
        matched.append(request)
    before_applying([request for request in matched if request is not None])
    results: list[dict[str, str]] = []
    counts = {"synchronized": 0, "error": 0, "ignored": 0}
    for ack, request in zip(body.acknowledgements, matched, strict=True):
        outcome = "ignored"
        if request is not None:
            reason = ack.reason or ("DACS refused the record" if ack.result == "NEGATIVE" else None)
            if ack.fileName and ack.result == "NEGATIVE":
                reason = f"{reason} ({ack.fileName})"
            applied = acknowledgements.apply(request, Acknowledgement(result=ack.result, reason=reason))
            outcome = applied if applied in ("synchronized", "error") else "ignored"
        counts[outcome] += 1
        results.append(
            {
                "recordType": ack.recordType.value,
                "externalReferenceId": ack.externalReferenceId,
                "outcome": outcome,
                **({"syncRequestId": request.syncRequestId} if request is not None and outcome != "ignored" else {}),
            }
        )
    return {**counts, "results": results}


def _same_image(written: str, acknowledged: str) -> bool:
    from datetime import datetime

    return datetime.fromisoformat(written) == datetime.fromisoformat(acknowledged)
