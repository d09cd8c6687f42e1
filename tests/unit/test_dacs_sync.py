"""The DACS pack's incremental rules (utilhub.packs.dacs.incremental.plan_newest), the mapping of CCB
entities to DACS records (utilhub.packs.dacs.mapping) and the flow's codec. Pure: no AWS, no sockets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from utilhub.packs.dacs.extract_file import COLUMNS, Kind, read_extract
from utilhub.packs.dacs.incremental import plan_newest
from utilhub.packs.dacs.mapping import to_record
from utilhub.packs.dacs.sync import FLOW
from utilhub.syncrequests.lifecycle import Discard, EntityState, PendingRequest, Send, sortable_time
from utilhub.syncrequests.model import SyncRequest, SyncStatus


def pending(request_id: str, minute: int, data_hash: str = "h") -> PendingRequest:
    changed = datetime(2026, 11, 20, 9, minute, tzinfo=UTC)
    return PendingRequest(request_id, "PERSON", "P-1", changed, data_hash, f"{sortable_time(changed)}#{request_id}", 0, "c")


def test_an_entity_changed_several_times_is_sent_once_with_its_newest_image() -> None:
    # Given three pending changes of one entity, in no order
    requests = [pending("B", 20), pending("A", 10), pending("C", 30)]

    # When planned with nothing in flight
    decisions = plan_newest(requests, EntityState())

    # Then the newest is sent and both older ones are discarded as superseded by it
    assert [(type(d), d.request.sync_request_id) for d in decisions] == [(Discard, "A"), (Discard, "B"), (Send, "C")]
    assert all("superseded by C" in d.reason for d in decisions if isinstance(d, Discard))


def test_nothing_is_decided_while_an_image_is_in_flight_and_known_images_are_discarded() -> None:
    # Given an entity whose previous image awaits DACS's acknowledgement
    assert plan_newest([pending("A", 10)], EntityState(in_flight="X")) == []

    # Given the newest image is the one DACS has: it is discarded and the entity's image time advances
    [unchanged] = plan_newest([pending("A", 10, data_hash="same")], EntityState(last_sent_hash="same"))
    assert isinstance(unchanged, Discard)
    assert unchanged.advances

    # Given the newest image is older than the one DACS has: discarded without advancing
    newer = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    [older] = plan_newest([pending("A", 10)], EntityState(last_sent_changed_at=newer))
    assert isinstance(older, Discard)
    assert not older.advances


def test_nothing_is_decided_while_an_earlier_image_waits_for_its_parents() -> None:
    # Given an agreement whose earlier change is WAITING for its person, Then its newer change does not overtake it
    assert plan_newest([pending("B", 20)], EntityState(waiting="A")) == []


def test_a_metered_service_depends_on_its_contact_then_its_metered_service_points() -> None:
    data = {"accountId": "AC-1", "personId": "P-1", "servicePointIds": ["SP-1", "SP-2", "SP-1"], "status": "ACTIVE"}
    assert FLOW.parents_of("SERVICE_AGREEMENT", data) == [("PERSON", "P-1"), ("SERVICE_POINT", "SP-1"), ("SERVICE_POINT", "SP-2")]
    assert FLOW.parents_of("PERSON", {"name": "Ada"}) == []
    assert FLOW.ordered_types == frozenset({"SERVICE_AGREEMENT"})


def test_ccb_entities_become_dacs_records() -> None:
    changed = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    # Given a person, a service point and an agreement as CCB sends them
    contact = to_record(
        "PERSON", "P-1", changed, {"name": "Ada", "phones": [{"type": "HOME", "number": "+44 1"}], "address": {"city": "London"}}
    )
    point = to_record("SERVICE_POINT", "SP-1", changed, {"premiseId": "PR-1", "spType": "E-RES"})
    service = to_record(
        "SERVICE_AGREEMENT", "SA-1", changed, {"accountId": "AC-1", "personId": "P-1", "servicePointIds": ["SP-1", "SP-2", "SP-1"]}
    )

    # Then each is the DACS record of its kind, with the CCB id and the change time in UTC
    assert (contact.kind, contact.externalReferenceId, contact.changeDateTime) == (Kind.CONTACT, "P-1", "2026-11-20T09:00:00Z")
    assert contact.row()[5] == "+44 1"  # phoneNumber: the first phone
    assert (point.kind, point.premiseId) == (Kind.METERED_SERVICE_POINT, "PR-1")  # type: ignore[union-attr]
    assert service.meteredServicePointExternalReferenceIds == "SP-1,SP-2"  # type: ignore[union-attr]
    # And an agreement without its person cannot be one
    with pytest.raises(ValidationError):
        to_record("SERVICE_AGREEMENT", "SA-2", changed, {"accountId": "AC-1", "servicePointIds": ["SP-1"]})


def test_the_flows_codec_renders_a_request_as_its_file_line() -> None:
    # Given a stored DACS request for a person with a tab in the name
    changed = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    request = SyncRequest(
        flow="dacs",
        syncRequestId="S1",
        entityType="PERSON",
        entityId="P-1",
        changedAt=changed,
        data={"name": "A\tB"},
        dataHash="h",
        requestHash="r",
        status=SyncStatus.SENT,
        correlationId="c",
        history=[],
    )

    # When rendered, then it is one line of a contacts file (readable after the header)
    line = FLOW.target_codec.render(request, "c")
    header = "\t".join(COLUMNS[Kind.CONTACT]).encode() + b"\n"
    [record] = list(read_extract([header + line], Kind.CONTACT))
    assert record.values["name"] == "A\tB"
    assert FLOW.target_codec.path(request).startswith("contacts-")
    assert FLOW.target_codec.read_acknowledgement(b'{"result": "NEGATIVE", "reason": "no"}').result == "NEGATIVE"


def _request(*history: tuple[SyncStatus, str]) -> SyncRequest:
    from utilhub.syncrequests.model import Transition

    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    return SyncRequest(
        flow="dacs",
        syncRequestId="DSR-1",
        entityType="PERSON",
        entityId="P-1",
        changedAt=at,
        data={"name": "Ada"},
        dataHash="h",
        requestHash="r",
        status=history[-1][0],
        attempt=1,
        correlationId="c",
        history=[Transition(status=status, at=at, reason=reason) for status, reason in history],
    )


RECEIVED = (SyncStatus.PENDING, "received")
WRITTEN = (SyncStatus.SENT, "queued for delivery (attempt 1)")
REQUEUED = (SyncStatus.SENT, "no acknowledgement from DACS within 32400 s: queued again (attempt 2; time-out 1 of 3)")


def test_ccb_is_told_of_the_outcome_the_notification_names_wherever_the_request_recorded_it() -> None:
    from utilhub.packs.dacs.notifications import TransitionNotRecorded, acknowledgement_for, notification_of

    # Given DACS's positive acknowledgement about to be applied to a request written once
    before = _request(RECEIVED, WRITTEN)
    event_id, notification = notification_of(before, "POSITIVE")

    # When its write failed and a time-out queued the request again before DACS posted again, which was applied
    with pytest.raises(TransitionNotRecorded):  # (not recorded yet: the queue hands the notification over again)
        acknowledgement_for(_request(RECEIVED, WRITTEN, REQUEUED), notification)
    after = _request(RECEIVED, WRITTEN, REQUEUED, (SyncStatus.SYNCHRONIZED, "acknowledged by DACS"))

    # Then the notification announces the SYNCHRONIZED the request recorded, not what stands at its old place
    told = acknowledgement_for(after, notification)
    assert (told.result, told.reason) == ("POSITIVE", "acknowledged by DACS")
    # And DACS's second post names the same outcome: one notification, once
    assert notification_of(_request(RECEIVED, WRITTEN, REQUEUED), "POSITIVE")[0] == event_id


def test_a_negative_outcome_after_a_resubmission_is_another_notification_and_a_time_out_is_never_announced() -> None:
    from utilhub.packs.dacs.notifications import acknowledgement_for, notification_of

    refused = (SyncStatus.ERROR, "DACS refused the record")
    resubmitted = (SyncStatus.PENDING, "resubmitted")
    first_id, first = notification_of(_request(RECEIVED, WRITTEN), "NEGATIVE")
    second_id, second = notification_of(_request(RECEIVED, WRITTEN, refused, resubmitted, WRITTEN), "NEGATIVE")
    assert first_id != second_id

    # each announces its own round's ERROR
    history = (RECEIVED, WRITTEN, refused, resubmitted, WRITTEN, (SyncStatus.ERROR, "DACS refused it again"))
    assert acknowledgement_for(_request(*history), first).reason == "DACS refused the record"
    assert acknowledgement_for(_request(*history), second).reason == "DACS refused it again"

    # a time-out's ERROR is not DACS's negative acknowledgement: not announced as one
    timed_out = (SyncStatus.ERROR, "no acknowledgement from DACS within 32400 s, after 3 time-outs")
    with pytest.raises(LookupError):
        acknowledgement_for(_request(RECEIVED, WRITTEN, timed_out), first)
