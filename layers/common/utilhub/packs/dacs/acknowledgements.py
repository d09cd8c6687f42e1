"""DA-04: DACS's acknowledgements, positive or negative per record, of the incremental extracts.

DACS names each record by its kind, ``externalReferenceId`` (the CCB id) and ``changeDateTime``. The
record acknowledges the DACS sync request that is in flight for that entity when the image matches
(the same change time): POSITIVE makes it SYNCHRONIZED, NEGATIVE makes it ERROR with DACS's reason
(resubmittable). A record that matches no request in flight (a DA-01 initial load record, an image
already acknowledged, an older image) is answered ``ignored`` and changes nothing, so the same
acknowledgement posted twice is harmless.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from utilhub.packs.dacs.extract_file import Kind
from utilhub.packs.dacs.mapping import ENTITY_OF_KIND
from utilhub.packs.dacs.records import ExternalId, Timestamp, format_timestamp
from utilhub.syncrequests.delivery import Acknowledgements
from utilhub.syncrequests.model import Acknowledgement, SyncStatus
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


def apply_acknowledgements(store: SyncRequestStore, acknowledgements: Acknowledgements, body: AcknowledgementsIn) -> dict[str, object]:
    entities = [(ENTITY_OF_KIND[a.recordType], a.externalReferenceId) for a in body.acknowledgements]
    states = store.entity_states(entities)
    results: list[dict[str, str]] = []
    counts = {"synchronized": 0, "error": 0, "ignored": 0}
    for ack, entity in zip(body.acknowledgements, entities, strict=True):
        outcome = "ignored"
        request = store.get(in_flight) if (in_flight := states[entity].in_flight) else None
        if (
            request is not None
            and request.status is SyncStatus.SENT
            and _same_image(format_timestamp(request.changedAt), ack.changeDateTime)
        ):
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
