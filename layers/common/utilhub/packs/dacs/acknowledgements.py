"""DA-04: DACS's acknowledgements, positive or negative per record, of the incremental extracts, or,
when DACS is not configured to send them, each incremental file's arrival under ``upload/``.

DACS names each record by its kind, ``externalReferenceId`` (the CCB id) and ``changeDateTime``. The
record acknowledges the DACS sync request that is in flight for that entity when the image matches
(the same change time): POSITIVE makes it SYNCHRONIZED, NEGATIVE makes it ERROR with DACS's reason
(resubmittable). A POSITIVE record also completes the entity's request that timed out to ERROR
waiting for it (the engine's late acknowledgement). A record that matches no request in flight (a DA-01 initial load record, an image
already acknowledged, an older image) is answered ``ignored`` and changes nothing, so the same
acknowledgement posted twice is harmless.

DACS acknowledges only "if configured" (Oracle's integration; the template's ``DacsAcknowledgementsToCcb``,
``UTILHUB_DACS_NOTIFY_CCB``). Otherwise no acknowledgement ever comes, and a DACS sync request is
complete once its file is in ``upload/``: the transfer (DA-03), having moved and verified an incremental
file, reads its records back and completes each one's request as if DACS had acknowledged it
(:func:`complete_uploaded`; the records are read from the file before it is moved, as DACS may take
it from ``upload/`` the moment it is there). Either way, a request not complete within the flow's own time-out
(``DacsAckTimeoutSeconds``) is written again, then ERROR (:mod:`utilhub.syncrequests.timeouts`).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import batched
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from utilhub.packs.dacs.extract_file import Kind, kind_of_file, read_extract
from utilhub.packs.dacs.mapping import ENTITY_OF_KIND
from utilhub.packs.dacs.records import ExternalId, Timestamp, format_timestamp
from utilhub.platform.aws import AwsUnavailable, transient
from utilhub.platform.observability import logger
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
    before_applying: Callable[[list[tuple[SyncRequest, Literal["POSITIVE", "NEGATIVE"]]]], None] = lambda matched: None,
    *,
    completed: str | None = None,
) -> dict[str, object]:
    """Apply each record's acknowledgement to the request it names; ``before_applying`` is given the
    requests about to be acknowledged, with each one's result, first (CCB's notifications are queued there, see ``notifications``);
    ``completed`` names what completes the requests when it is not DACS's acknowledgement.

    Each record is applied on its own: one whose write fails on a transient AWS failure (throttled) does not
    stop the others; once all were tried, :class:`AwsUnavailable` (a 503 to DACS, a redelivery to the transfer)
    has the whole set posted again, in which the records already applied are ``ignored``."""
    entities = [(ENTITY_OF_KIND[a.recordType], a.externalReferenceId) for a in body.acknowledgements]
    states = store.entity_states(entities)
    matched: list[SyncRequest | None] = []
    seen: set[str] = set()
    for ack, entity in zip(body.acknowledgements, entities, strict=True):
        # the request in flight, or else (a positive acknowledgement that comes late) the one that timed out to ERROR
        named = states[entity].in_flight or (states[entity].last_error_id if ack.result == "POSITIVE" else None)
        request = store.get(named) if named else None
        if not (
            request is not None
            and request.syncRequestId not in seen  # a second record for the same image in one post is a repeat
            and (request.status is SyncStatus.SENT or (request.status is SyncStatus.ERROR and request.timedOut))
            and _same_image(format_timestamp(request.changedAt), ack.changeDateTime)
        ):
            request = None
        else:
            seen.add(request.syncRequestId)
        matched.append(request)
    before_applying([(request, ack.result) for ack, request in zip(body.acknowledgements, matched, strict=True) if request is not None])
    results: list[dict[str, str]] = []
    counts = {"synchronized": 0, "error": 0, "ignored": 0}
    unapplied = 0
    for ack, request in zip(body.acknowledgements, matched, strict=True):
        outcome = "ignored"
        if request is not None:
            reason = ack.reason or ("DACS refused the record" if ack.result == "NEGATIVE" else None)
            if ack.fileName and ack.result == "NEGATIVE":
                reason = f"{reason} ({ack.fileName})"
            try:
                applied = acknowledgements.apply(request, Acknowledgement(result=ack.result, reason=reason), completed=completed)
            except Exception as exc:
                if not transient(exc):
                    raise
                # this record alone: the others are applied, and the post is asked again (they are ignored then)
                logger.warning("acknowledgement not applied", extra={"syncRequestId": request.syncRequestId, "error": type(exc).__name__})
                unapplied += 1
                continue
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
    if unapplied:
        raise AwsUnavailable(f"{unapplied} of {len(matched)} acknowledgements could not be recorded; the others were")
    return {**counts, "results": results}


INCREMENTAL_RUN = "-incremental"
UPLOADED = "its file is in upload/ for DACS (DACS's acknowledgements are not configured)"


def file_records(s3: Any, bucket: str, key: str) -> list[RecordAcknowledgement] | None:
    """Each record of the incremental file ``key`` as a positive acknowledgement of its image; None when
    ``key`` is not an incremental file (DA-01's initial files are not sync requests) or is not there."""
    named = kind_of_file(key)
    if named is None or not named[1].endswith(INCREMENTAL_RUN):
        return None
    kind, _run = named
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        return None
    name = key.rsplit("/", 1)[-1]
    return [
        RecordAcknowledgement(
            fileName=name,
            recordType=kind,
            externalReferenceId=record.values["externalReferenceId"],
            changeDateTime=record.values["changeDateTime"],
            result="POSITIVE",
        )
        for record in read_extract(body.iter_chunks(chunk_size=1 << 20), kind)
    ]


def complete_uploaded(store: SyncRequestStore, acknowledgements: Acknowledgements, records: list[RecordAcknowledgement]) -> int:
    """Complete the request of each record of a file now in ``upload/``; how many were completed."""
    completed = 0
    for chunk in batched(records, 1000, strict=False):
        outcome = apply_acknowledgements(store, acknowledgements, AcknowledgementsIn(acknowledgements=list(chunk)), completed=UPLOADED)
        completed += int(str(outcome["synchronized"]))
    return completed


def _same_image(written: str, acknowledged: str) -> bool:
    from datetime import datetime

    return datetime.fromisoformat(written) == datetime.fromisoformat(acknowledged)
