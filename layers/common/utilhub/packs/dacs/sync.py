"""The CCB -> DACS sync flow (DA-02) and the entry point of its scheduled extract; its HTTP API is in
:mod:`utilhub.packs.dacs.api`, so the extract never imports the API's resolver.

DACS takes files, not calls: the flow's intake, query, resubmission and store are the engine's, and
its "delivery" is :class:`~utilhub.packs.dacs.incremental.IncrementalExtract`, which writes the chosen
images to this run's extract files (the codec below renders one request as its file line). DACS's
acknowledgements (DA-04) complete the requests, or, when DACS is not configured to send them, the
arrival of their file under ``upload/`` (:func:`records_to_complete`, :func:`complete_records`, called by
DA-03's transfer)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from utilhub.packs.dacs import model
from utilhub.packs.dacs.acknowledgements import RecordAcknowledgement, complete_uploaded, file_records
from utilhub.packs.dacs.eligibility import ineligible_agreement
from utilhub.packs.dacs.extract_file import ExtractWriter, file_name
from utilhub.packs.dacs.extract_files import ExtractFiles
from utilhub.packs.dacs.mapping import to_record
from utilhub.packs.dacs.wiring import s3
from utilhub.platform.problems import invalid
from utilhub.platform.scheduled import scheduled_clock
from utilhub.platform.settings import get_settings
from utilhub.platform.wiring import per_process
from utilhub.syncrequests.model import Acknowledgement, AcknowledgementIn, EntityRef, EntitySpec, SyncFlow, SyncRequest
from utilhub.syncrequests.wiring import acknowledgements_for, store_for

if TYPE_CHECKING:  # the scheduled extract's alone (it loads the sync monitor's sweep): the other functions import FLOW
    from utilhub.packs.dacs.incremental import IncrementalExtract

SCOPE = "utilhub/dacs"
PREFIX = "/dacs"


class DacsRecordCodec:
    """A DACS sync request as the line of an extract file."""

    content_type = "text/tab-separated-values; charset=utf-8"
    schema = ""

    def path(self, request: SyncRequest) -> str:
        record = to_record(request.entityType, request.entityId, request.changedAt, request.data)
        return file_name(record.kind, "incremental")

    def render(self, request: SyncRequest, correlation_id: str) -> bytes:
        record = to_record(request.entityType, request.entityId, request.changedAt, request.data)
        sink = io.BytesIO()
        writer = ExtractWriter(sink, record.kind, header=False)
        writer.write(record.row())
        writer.close()
        return sink.getvalue()

    def read_acknowledgement(self, body: bytes) -> Acknowledgement:
        try:
            ack = AcknowledgementIn.model_validate_json(body)
        except ValueError:
            raise invalid("DACS's acknowledgement is JSON: {result, reason}.") from None
        return Acknowledgement(result=ack.result, reason=ack.reason, targetId=ack.targetId)


def metered_service_parents(data: Mapping[str, Any]) -> list[EntityRef]:
    """What a metered service refers to in DACS: its contact, then its metered service points."""
    return [("PERSON", str(data["personId"])), *(("SERVICE_POINT", str(sp)) for sp in data.get("servicePointIds", []))]


FLOW = SyncFlow(
    name="dacs",
    source="CCB",
    target="DACS",
    entities={
        "PERSON": EntitySpec("PERSON", model.DacsPersonData, "DA-02"),
        "SERVICE_POINT": EntitySpec("SERVICE_POINT", model.DacsServicePointData, "DA-02"),
        "SERVICE_AGREEMENT": EntitySpec(
            "SERVICE_AGREEMENT", model.DacsServiceAgreementData, "DA-02", refusal=ineligible_agreement, parents=metered_service_parents
        ),
    },
    target_codec=DacsRecordCodec(),
)


@per_process
def incremental_extract() -> IncrementalExtract:
    from utilhub.packs.dacs.incremental import IncrementalExtract

    settings = get_settings()
    bucket = settings.dacs.require("dacs_exchange_bucket")
    return IncrementalExtract(
        store_for(FLOW),
        acknowledgements_for(FLOW),
        lambda run_id: ExtractFiles(s3(), bucket, run_id),
        page_size=settings.sync.sync_monitor_page_size,
        budget=timedelta(seconds=settings.sync.sync_monitor_budget_seconds),
        ordered_types=FLOW.ordered_types,
    )


def run_extract(event: dict[str, Any] | None = None) -> dict[str, Any]:
    """One scheduled incremental extract, as of its schedule's time (``event``); returns its report."""
    return incremental_extract().at(scheduled_clock(event)).run().as_dict()


def records_to_complete(key: str) -> list[RecordAcknowledgement] | None:
    """When DACS does not acknowledge (``UTILHUB_DACS_NOTIFY_CCB`` off): the records of the incremental file
    ``key``, whose requests its arrival under ``upload/`` completes; None when there are none to complete so."""
    settings = get_settings()
    if settings.dacs.dacs_notify_ccb:
        return None  # DACS's acknowledgements complete them
    return file_records(s3(), settings.dacs.require("dacs_exchange_bucket"), key)


def complete_records(records: list[RecordAcknowledgement]) -> int:
    """Complete the requests of ``records``, whose file is now in ``upload/``; how many."""
    return complete_uploaded(store_for(FLOW), acknowledgements_for(FLOW), records)
