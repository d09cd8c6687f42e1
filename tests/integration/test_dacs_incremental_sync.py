"""DA-02 incremental synchronization and DA-04 acknowledgements (seed 001): CCB's DACS sync requests
through the sync request engine, the scheduled extract writing the changed entities' newest images
to files under extract/, the transfer to upload/, the DACS simulator's import and its per-record
acknowledgements back to the hub. Functions in-process, resources from the template in moto.

DACS acknowledges only when configured to (DacsAcknowledgementsToCcb "true"): the tests of DA-04 run
with it on (the ``hub`` below); those of a deployment without it use ``unacknowledged_hub``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from localhub.aws.endpoint import reset
from localhub.hub import ApiResponse, LocalHub
from localhub.simulators.dacs import DacsSimulator
from tests.conftest import sample_event
from utilhub.platform import wiring

API = "DacsSyncRequestsFunction"
EXTRACT = "DacsIncrementalExtractFunction"
ACKNOWLEDGEMENTS = "DacsAcknowledgementsFunction"
CLAIMS = {"client_id": "ccb", "scope": "utilhub/dacs", "token_use": "access"}
DACS_CLAIMS = {"client_id": "dacs", "scope": "utilhub/dacs-ack", "token_use": "access"}
JSON = {"content-type": "application/json"}
# TAB, LF and backslashes are text a file carries escaped; other control characters are refused at intake
HOSTILE = "Ada\tLovelace \\ the \\t Countess\nof Lovelace — Ünïcødé"


@pytest.fixture
def hub(aws_endpoint: str) -> Iterator[LocalHub]:
    """The hub deployed with DACS's acknowledgements on (DacsAcknowledgementsToCcb "true")."""
    reset(aws_endpoint)
    local = LocalHub(parameters={"DacsAcknowledgementsToCcb": "true"}).start()
    local.drain()
    yield local
    assert local.stop() == []


@pytest.fixture
def unacknowledged_hub(aws_endpoint: str) -> Iterator[LocalHub]:
    """The hub as deployed by default: DACS sends no acknowledgements (DacsAcknowledgementsToCcb "false")."""
    reset(aws_endpoint)
    local = LocalHub().start()
    local.drain()
    yield local
    assert local.stop() == []


def person(sync_request_id: str, entity_id: str, name: str, changed: str) -> dict[str, Any]:
    return {"syncRequestId": sync_request_id, "entityType": "PERSON", "entityId": entity_id, "changedAt": changed, "data": {"name": name}}


def service_point(sync_request_id: str, entity_id: str, changed: str = "2026-11-20T09:00:00Z") -> dict[str, Any]:
    data = {"premiseId": f"PR-{entity_id}", "address": {"line1": "1 Grid Lane", "city": "Springfield"}}
    return {"syncRequestId": sync_request_id, "entityType": "SERVICE_POINT", "entityId": entity_id, "changedAt": changed, "data": data}


def agreement(
    sync_request_id: str, entity_id: str, person_id: str, sp_ids: list[str], changed: str = "2026-11-20T09:00:00Z"
) -> dict[str, Any]:
    data = {"accountId": "AC-1", "personId": person_id, "servicePointIds": sp_ids, "status": "ACTIVE", "startDate": "2026-01-01"}
    return {"syncRequestId": sync_request_id, "entityType": "SERVICE_AGREEMENT", "entityId": entity_id, "changedAt": changed, "data": data}


def submit(hub: LocalHub, body: dict[str, Any]) -> ApiResponse:
    return hub.call_api("POST", "/dacs/sync-requests", body=json.dumps(body), headers=JSON, claims=CLAIMS)


def status_of(hub: LocalHub, sync_request_id: str) -> dict[str, Any]:
    response = hub.call_api("GET", f"/dacs/sync-requests/{sync_request_id}", claims=CLAIMS)
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def dacs(hub: LocalHub) -> DacsSimulator:
    simulator = hub.simulators["DACS"]
    assert isinstance(simulator, DacsSimulator)
    return simulator


def extract_and_transfer(hub: LocalHub) -> dict[str, Any]:
    """One scheduled extract, then the transfer of what it wrote."""
    run = hub.run_schedule(EXTRACT)
    assert not run.failed, run.error
    hub.drain()
    return run.result  # type: ignore[no-any-return]


def keys(hub: LocalHub, prefix: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=hub.resources()["DacsExchangeBucket"], Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.mark.parametrize(("char", "pointer"), [("\u0000", "#/data/name"), ("\u001b", "#/data/name"), ("\r", "#/data/name")])
def test_a_control_character_is_refused_though_dacs_takes_tab_separated_files(hub: LocalHub, char: str, pointer: str) -> None:
    # When CCB posts a person whose name holds NUL, ESC or CR
    response = submit(hub, person("DSR-C1", "P-9", f"Ada{char}Lovelace", "2026-11-20T09:00:00Z"))

    # Then it is a 422 naming the field, not repeating the value, and nothing is stored or written
    assert (response.status, response.headers["content-type"]) == (422, "application/problem+json")
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]
    assert "Lovelace" not in response.body.decode()
    assert hub.call_api("GET", "/dacs/sync-requests/DSR-C1", claims=CLAIMS).status == 404
    assert extract_and_transfer(hub)["written"] == 0


@pytest.mark.parametrize("status", ["CLOSED", None])
def test_an_agreement_dacs_does_not_take_is_refused_at_intake_as_da01_leaves_it_out(hub: LocalHub, status: str | None) -> None:
    # When CCB posts an agreement whose status is not eligible (DacsEligibleAgreementStatuses: ACTIVE), or has none
    body = agreement("DSR-IN1", "SA-9", "P-9", ["SP-9"])
    body["data"]["status"] = status
    response = submit(hub, body)

    # Then it is a 422 on its status, no sync request is created and nothing is written
    assert response.status == 422, response.body
    [error] = response.json()["errors"]
    assert error["pointer"] == "#/data/status"
    assert "not eligible for DACS (eligible: ACTIVE)" in error["detail"]
    assert hub.call_api("GET", "/dacs/sync-requests/DSR-IN1", claims=CLAIMS).status == 404
    # And an active one is taken
    assert submit(hub, agreement("DSR-IN2", "SA-9", "P-9", ["SP-9"])).status == 202


def test_changed_entities_reach_dacs_once_each_with_their_newest_image_and_are_acknowledged(hub: LocalHub) -> None:
    # Given a service point, a person changed three times (the newest posted first, with hostile text), and an agreement
    for body in [
        service_point("DSR-SP1", "SP-1"),
        person("DSR-P3", "P-1", HOSTILE, "2026-11-20T09:30:00Z"),
        person("DSR-P1", "P-1", "Ada Byron", "2026-11-20T09:00:00Z"),
        person("DSR-P2", "P-1", "Ada King", "2026-11-20T09:15:00Z"),
        agreement("DSR-SA1", "SA-1", "P-1", ["SP-1"]),
    ]:
        assert submit(hub, body).status == 202

    # When the scheduled extract runs and its files are moved to upload/
    report = extract_and_transfer(hub)

    # Then one file per record kind was written, each entity once, the person's older images superseded
    assert (report["written"], report["superseded"]) == (3, 2)
    assert sorted(report["files"].values()) == [1, 1, 1]
    assert keys(hub, "extract/") == []
    assert [k.split("-2")[0] for k in keys(hub, "upload/")] == [
        "upload/contacts",
        "upload/metered-service-points",
        "upload/metered-services",
    ]
    assert [status_of(hub, i)["status"] for i in ("DSR-P1", "DSR-P2", "DSR-P3")] == ["DISCARDED", "DISCARDED", "SENT"]
    assert "superseded by DSR-P3" in status_of(hub, "DSR-P1")["history"][-1]["reason"]

    # And when DACS imports and acknowledges
    imported = dacs(hub).import_uploads()
    assert [(i.status, i.positive, i.negative) for i in imported] == [("LOADED", 1, 0)] * 3
    assert dacs(hub).send_acknowledgements() == 3

    # Then DACS holds the newest image, byte for byte, and every sent request is SYNCHRONIZED
    assert dacs(hub).records["CONTACT#P-1"]["name"] == HOSTILE
    assert dacs(hub).records["METERED_SERVICE#SA-1"]["meteredServicePointExternalReferenceIds"] == "SP-1"
    assert [status_of(hub, i)["status"] for i in ("DSR-SP1", "DSR-P3", "DSR-SA1")] == ["SYNCHRONIZED"] * 3

    # And the same image posted again is discarded at the next extract; nothing new is written
    assert submit(hub, person("DSR-P4", "P-1", HOSTILE, "2026-11-20T10:00:00Z")).status == 202
    again = extract_and_transfer(hub)
    assert (again["written"], again["discarded"], again["files"]) == (0, 1, {})
    assert status_of(hub, "DSR-P4")["status"] == "DISCARDED"


def test_a_negative_acknowledgement_is_an_error_with_dacs_reason_and_a_resubmission_sends_it_again(hub: LocalHub) -> None:
    # Given an agreement over a service point DACS does not know, extracted and imported
    assert submit(hub, person("DSR-N1", "P-N", "Grace Hopper", "2026-11-20T09:00:00Z")).status == 202
    assert submit(hub, agreement("DSR-N2", "SA-N", "P-N", ["SP-UNKNOWN"])).status == 202
    extract_and_transfer(hub)
    dacs(hub).import_uploads()

    # When DACS acknowledges
    dacs(hub).send_acknowledgements()

    # Then the person is SYNCHRONIZED, the agreement ERROR with DACS's reason
    assert status_of(hub, "DSR-N1")["status"] == "SYNCHRONIZED"
    failed = status_of(hub, "DSR-N2")
    assert failed["status"] == "ERROR"
    assert "unknown metered service point SP-UNKNOWN" in failed["history"][-1]["reason"]

    # And once the service point is synchronized, the resubmitted agreement goes through
    assert submit(hub, service_point("DSR-N3", "SP-UNKNOWN")).status == 202
    resubmitted = hub.call_api("POST", "/dacs/sync-requests/DSR-N2/resubmission", claims=CLAIMS)
    assert resubmitted.status == 202
    assert extract_and_transfer(hub)["written"] == 2
    dacs(hub).import_uploads()
    dacs(hub).send_acknowledgements()
    assert [status_of(hub, i)["status"] for i in ("DSR-N2", "DSR-N3")] == ["SYNCHRONIZED", "SYNCHRONIZED"]


def test_an_agreement_whose_person_dacs_refused_waits_for_it_instead_of_reaching_dacs_as_an_orphan(hub: LocalHub) -> None:
    # Given a person and a service point extracted, DACS refusing the person's contact (its first record)
    assert submit(hub, person("DSR-W1", "P-W", "Edsger Dijkstra", "2026-11-20T09:00:00Z")).status == 202
    assert submit(hub, service_point("DSR-W2", "SP-W")).status == 202
    extract_and_transfer(hub)
    dacs(hub).add_fault({"kind": "reject", "count": 1, "reason": "contact refused by DACS"})
    dacs(hub).import_uploads()
    dacs(hub).send_acknowledgements()
    assert [status_of(hub, i)["status"] for i in ("DSR-W1", "DSR-W2")] == ["ERROR", "SYNCHRONIZED"]

    # When CCB reports the person's agreement and the extract runs
    assert submit(hub, agreement("DSR-W3", "SA-W", "P-W", ["SP-W"])).status == 202
    report = extract_and_transfer(hub)

    # Then the agreement is not written (DACS would refuse it as an orphan): it waits for its person, saying why
    assert (report["written"], report["held"]) == (0, 1)
    assert keys(hub, "upload/") == []
    waiting = status_of(hub, "DSR-W3")
    assert waiting["status"] == "WAITING"
    assert waiting["waitingFor"]["entityType"] == "PERSON"
    assert waiting["waitingFor"]["entityId"] == "P-W"
    assert "DSR-W1 is in ERROR" in waiting["waitingFor"]["reason"]

    # And once the person is resubmitted, its contact goes first and the agreement follows it to DACS, no orphan refused
    assert hub.call_api("POST", "/dacs/sync-requests/DSR-W1/resubmission", claims=CLAIMS).status == 202
    runs = [extract_and_transfer(hub), extract_and_transfer(hub)]  # the same run, or the next, as the shards fall
    assert (sum(r["written"] for r in runs), sum(r["released"] for r in runs)) == (2, 1)
    [contacts] = [k for k in keys(hub, "upload/") if k.startswith("upload/contacts-")]
    [services] = [k for k in keys(hub, "upload/") if k.startswith("upload/metered-services-")]
    assert services.removeprefix("upload/metered-services-") >= contacts.removeprefix("upload/contacts-")
    dacs(hub).import_uploads()
    dacs(hub).send_acknowledgements()
    assert [status_of(hub, i)["status"] for i in ("DSR-W1", "DSR-W3")] == ["SYNCHRONIZED", "SYNCHRONIZED"]
    assert dacs(hub).records["METERED_SERVICE#SA-W"]["contactExternalReferenceId"] == "P-W"
    assert all(a["result"] == "POSITIVE" for a in dacs(hub).pending_acknowledgements)


def test_an_agreement_and_its_new_person_in_one_extract_go_contact_first_and_dacs_loads_both(unacknowledged_hub: LocalHub) -> None:
    # Given a new person, their service point and their agreement reported together (the agreement changed first)
    hub = unacknowledged_hub
    assert submit(hub, agreement("DSR-T1", "SA-T", "P-T", ["SP-T"], "2026-11-20T08:00:00Z")).status == 202
    assert submit(hub, service_point("DSR-T2", "SP-T")).status == 202
    assert submit(hub, person("DSR-T3", "P-T", "Barbara Liskov", "2026-11-20T09:00:00Z")).status == 202

    # When the extract runs until nothing is left
    reports = [extract_and_transfer(hub) for _ in range(2)]

    # Then the agreement is never written before its contact: in the same extract or the next one
    assert sum(r["written"] for r in reports) == 3
    uploaded = keys(hub, "upload/")
    services = [k for k in uploaded if k.startswith("upload/metered-services-")]
    contacts = [k for k in uploaded if k.startswith("upload/contacts-")]
    assert len(services) == len(contacts) == 1
    assert services[0].removeprefix("upload/metered-services-") >= contacts[0].removeprefix("upload/contacts-")
    # And DACS, importing contacts first, loads all three
    imported = dacs(hub).import_uploads()
    assert sum(i.negative for i in imported) == 0
    assert dacs(hub).state(summary=True)["recordsByType"] == {"CONTACT": 1, "METERED_SERVICE_POINT": 1, "METERED_SERVICE": 1}


def test_acknowledgements_posted_twice_or_for_other_images_change_nothing(hub: LocalHub) -> None:
    # Given a person extracted and awaiting DACS's acknowledgement
    assert submit(hub, person("DSR-A1", "P-A", "Alan Turing", "2026-11-20T09:00:00Z")).status == 202
    extract_and_transfer(hub)

    def acknowledge(*records: dict[str, Any]) -> ApiResponse:
        body = json.dumps({"acknowledgements": list(records)})
        return hub.call_api("POST", "/dacs/acknowledgements", body=body, headers=JSON, claims=DACS_CLAIMS)

    positive = {"recordType": "CONTACT", "externalReferenceId": "P-A", "changeDateTime": "2026-11-20T09:00:00Z", "result": "POSITIVE"}

    # When DACS acknowledges another image of it, an entity the hub never sent, and a malformed record
    other_image = acknowledge({**positive, "changeDateTime": "2026-11-20T08:00:00Z"}, {**positive, "externalReferenceId": "P-NONE"})
    malformed = acknowledge({**positive, "changeDateTime": "yesterday", "recordType": "ACCOUNT"})

    # Then nothing changes (both ignored), the malformed body is a 422 naming its fields, and the source's token cannot acknowledge
    assert other_image.json()["ignored"] == 2
    assert status_of(hub, "DSR-A1")["status"] == "SENT"
    assert malformed.status == 422
    assert {e["pointer"] for e in malformed.json()["errors"]} >= {"#/acknowledgements/0/changeDateTime", "#/acknowledgements/0/recordType"}
    refused = hub.call_api("POST", "/dacs/acknowledgements", body=json.dumps({"acknowledgements": [positive]}), headers=JSON, claims=CLAIMS)
    assert refused.status == 403

    # And the right acknowledgement, posted twice, synchronizes it once
    first, second = acknowledge(positive), acknowledge(positive)
    assert (first.json()["synchronized"], second.json()["ignored"]) == (1, 1)
    assert [h["status"] for h in status_of(hub, "DSR-A1")["history"]].count("SYNCHRONIZED") == 1


def test_dacs_down_for_acknowledgements_leaves_requests_sent_for_dacs_own_timeout_then_writes_them_again(hub: LocalHub) -> None:
    # Given a person extracted and imported by DACS, and the hub's acknowledgement route failing (DACS cannot deliver)
    assert submit(hub, person("DSR-D1", "P-D", "Edsger Dijkstra", "2026-11-20T09:00:00Z")).status == 202
    extract_and_transfer(hub)
    dacs(hub).import_uploads()
    original = dacs(hub).send_to_hub
    dacs(hub).send_to_hub = lambda path, body, content_type: (503, b"")

    # When DACS tries, then its acknowledgements stay pending and the request stays SENT
    assert dacs(hub).send_acknowledgements() == 0
    assert dacs(hub).state(summary=True)["acknowledgementsPending"] == 1
    assert status_of(hub, "DSR-D1")["status"] == "SENT"

    # And past MDM's acknowledgement timeout (SyncAckTimeoutSeconds), the extract leaves it alone: DACS's is its own
    mdm_timeout = int(hub.function("MeterDataSyncMonitorFunction").environment["UTILHUB_SYNC_ACK_TIMEOUT_SECONDS"])
    report = run_extract_at(hub, timedelta(seconds=mdm_timeout + 1))
    assert (report["timedOut"], report["rewritten"], status_of(hub, "DSR-D1")["status"]) == (0, 0, "SENT")
    assert dacs_timeout(hub) >= timedelta(hours=1) > timedelta(seconds=mdm_timeout)

    # And when no acknowledgement came within DACS's own timeout, the next extract writes it again (attempt 2), not ERROR
    report = run_extract_at(hub, dacs_timeout(hub) + timedelta(seconds=1))
    assert (report["timedOut"], report["rewritten"], report["written"]) == (0, 1, 1)
    state = status_of(hub, "DSR-D1")
    assert (state["status"], state["attempt"]) == ("SENT", 2)
    assert state["history"][-1]["reason"].startswith("no acknowledgement from DACS within")
    # And DACS's acknowledgement arriving late completes it (the same image, still in flight)
    dacs(hub).send_to_hub = original
    assert dacs(hub).send_acknowledgements() == 1
    assert status_of(hub, "DSR-D1")["status"] == "SYNCHRONIZED"


def test_a_positive_acknowledgement_after_the_last_time_out_completes_the_request(hub: LocalHub) -> None:
    # Given a person imported by DACS whose acknowledgement cannot reach the hub
    assert submit(hub, person("DSR-D2", "P-D2", "Barbara Liskov", "2026-11-20T09:00:00Z")).status == 202
    extract_and_transfer(hub)
    dacs(hub).import_uploads()
    original = dacs(hub).send_to_hub
    dacs(hub).send_to_hub = lambda path, body, content_type: (503, b"")
    assert dacs(hub).send_acknowledgements() == 0

    # When it times out after each of its windows (written again three times), the last time to ERROR
    first = dacs_timeout(hub)
    reports = [run_extract_at(hub, first * n + timedelta(seconds=1)) for n in (1, 2, 4, 8)]
    assert [(r["rewritten"], r["timedOut"]) for r in reports] == [(1, 0), (1, 0), (1, 0), (0, 1)]
    assert status_of(hub, "DSR-D2")["status"] == "ERROR"

    # Then DACS's positive acknowledgement of the image, arriving at last, completes it
    dacs(hub).send_to_hub = original
    assert dacs(hub).send_acknowledgements() == 1
    state = status_of(hub, "DSR-D2")
    assert state["status"] == "SYNCHRONIZED"
    assert state["history"][-1]["reason"] == "acknowledged by DACS (after the time-out)"


def dacs_timeout(hub: LocalHub) -> timedelta:
    from localhub.lambda_.runtime import function_environment
    from utilhub.packs.dacs.sync import FLOW
    from utilhub.syncrequests.wiring import store_for

    with function_environment(hub.function(EXTRACT).environment):
        wiring.reset()
        first = store_for(FLOW).timeouts.first
    wiring.reset()
    return first


def run_extract_at(hub: LocalHub, later: timedelta) -> dict[str, Any]:
    """The scheduled extract, its schedule firing ``later`` from now (it decides as of that time), then the transfer
    of what it wrote."""
    run = hub.run_schedule(EXTRACT, datetime.now(UTC) + later)
    assert not run.failed, run.error
    hub.drain()
    assert isinstance(run.result, dict)
    return run.result


def test_files_that_cannot_be_written_give_every_claim_back(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given two changes, and S3 failing every call of the extract
    assert submit(hub, person("DSR-F1", "P-F", "Barbara Liskov", "2026-11-20T09:00:00Z")).status == 202
    assert submit(hub, service_point("DSR-F2", "SP-F")).status == 202
    with AwsThrottling(1.0, services=frozenset({"s3"})):
        failed = hub.run_schedule(EXTRACT)

    # Then the run fails, nothing appears under extract/, and both requests are PENDING again
    assert failed.failed
    assert keys(hub, "extract/") == []
    assert [status_of(hub, i)["status"] for i in ("DSR-F1", "DSR-F2")] == ["PENDING", "PENDING"]
    # And the next run writes them
    assert extract_and_transfer(hub)["written"] == 2


def test_the_sample_events_are_handled(hub: LocalHub) -> None:
    # Given the sample intake events (a person with hostile text, a batch, an agreement) and the schedule
    for name in ("submit-person.json", "submit-batch.json", "submit-service-agreement.json"):
        invocation = hub.invoke(API, sample_event(f"dacs/sync_requests/{name}"))
        assert invocation.result["statusCode"] == 202, invocation.result

    # When the scheduled extract runs from its sample event, then every entity is written
    run = hub.invoke(EXTRACT, sample_event("dacs/incremental_extract/schedule.json"))
    assert run.result["written"] == 3

    # And the sample acknowledgements apply: the person SYNCHRONIZED, the agreement ERROR
    answer = hub.invoke(ACKNOWLEDGEMENTS, sample_event("dacs/acknowledgements/acknowledge-records.json"))
    assert answer.result["statusCode"] == 200
    assert json.loads(answer.result["body"])["synchronized"] == 1
    assert status_of(hub, "DSR-1001")["status"] == "SYNCHRONIZED"
    assert status_of(hub, "DSR-1003")["status"] == "ERROR"
    # And the sample query, acknowledgement and resubmission events reach their routes
    assert hub.invoke(API, sample_event("dacs/sync_requests/query.json")).result["statusCode"] == 200
    repeated = hub.invoke(API, sample_event("dacs/sync_requests/acknowledge.json")).result  # the same answer again: nothing changes
    assert (repeated["statusCode"], json.loads(repeated["body"])["status"]) == (200, "SYNCHRONIZED")
    assert hub.invoke(API, sample_event("dacs/sync_requests/resubmit.json")).result["statusCode"] == 409  # not in ERROR


def ccb_acknowledgements(hub: LocalHub, sync_request_id: str) -> list[dict[str, Any]]:
    return hub.simulators["CCB"].records.get(f"SYNC-ACK#{sync_request_id}", {}).get("acknowledgements", [])  # type: ignore[no-any-return]


def test_without_acknowledgements_a_request_is_complete_once_its_file_is_in_upload_and_ccb_is_told_so_once(
    unacknowledged_hub: LocalHub,
) -> None:
    hub = unacknowledged_hub
    # Given the hub as deployed by default (DacsAcknowledgementsToCcb "false": DACS sends no acknowledgements)
    assert submit(hub, person("DSR-C0", "P-C0", "Niklaus Wirth", "2026-11-20T09:00:00Z")).status == 202
    assert submit(hub, service_point("DSR-C0S", "SP-C0")).status == 202

    # When the extract writes them and the transfer moves their files to upload/
    run = hub.run_schedule(EXTRACT)
    assert run.result["written"] == 2
    assert {status_of(hub, i)["status"] for i in ("DSR-C0", "DSR-C0S")} == {"SENT"}  # written, not yet in upload/
    hub.drain()

    # Then each is SYNCHRONIZED, its history saying why, and nothing is left to time out
    for sync_request_id in ("DSR-C0", "DSR-C0S"):
        state = status_of(hub, sync_request_id)
        assert state["status"] == "SYNCHRONIZED", state
        assert state["history"][-1]["reason"] == "its file is in upload/ for DACS (DACS's acknowledgements are not configured)"
    assert run_extract_at(hub, dacs_timeout(hub) * 16)["timedOut"] == 0
    # And the next change of the person is written after it, and DACS imports both files
    assert submit(hub, person("DSR-C0B", "P-C0", "Niklaus E. Wirth", "2026-11-20T10:00:00Z")).status == 202
    extract_and_transfer(hub)
    assert status_of(hub, "DSR-C0B")["status"] == "SYNCHRONIZED"
    assert len(dacs(hub).import_uploads()) == 3
    # And CCB is told each outcome once (OutcomesToCcb names dacs by default: syncrequests/outcomes.py)
    assert [(a["result"], a["target"]) for a in ccb_acknowledgements(hub, "DSR-C0")] == [("POSITIVE", "DACS")]
    told = sorted(m["id"] for m in hub.simulators["CCB"].received if m.get("operation") == "sync-request-acknowledgement")
    assert told == ["DSR-C0", "DSR-C0B", "DSR-C0S"]


def test_without_acknowledgements_a_file_dacs_takes_from_upload_at_once_still_completes_its_requests(
    unacknowledged_hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from utilhub.packs.dacs.transfer import ExtractFileMover, MoveResult

    hub = unacknowledged_hub
    # Given DACS importing each file the moment it is in upload/ (before the transfer is done with it)
    move = ExtractFileMover.move

    def taken_at_once(mover: ExtractFileMover, source: str) -> MoveResult:
        moved = move(mover, source)
        dacs(hub).import_uploads()
        return moved

    monkeypatch.setattr(ExtractFileMover, "move", taken_at_once)
    assert submit(hub, person("DSR-C9", "P-C9", "Tony Hoare", "2026-11-20T09:00:00Z")).status == 202

    # When the extract writes it and the transfer moves it
    extract_and_transfer(hub)

    # Then DACS has it, nothing is left in upload/, and the request is complete all the same
    assert keys(hub, "upload/") == []
    assert "CONTACT#P-C9" in dacs(hub).records
    assert status_of(hub, "DSR-C9")["status"] == "SYNCHRONIZED"


def test_when_configured_ccb_is_told_of_each_acknowledgement_once_even_when_it_is_down_or_the_ack_is_applied_late(
    aws_endpoint: str,
) -> None:
    from localhub.aws.endpoint import reset
    from localhub.aws.throttling import AwsThrottling

    # Given the hub deployed with DacsAcknowledgementsToCcb "true"; a person and an agreement over an unknown service
    # point extracted and imported by DACS; and CCB down for its first two calls
    reset(aws_endpoint)
    hub = LocalHub(parameters={"DacsAcknowledgementsToCcb": "true"}).start()
    try:
        hub.drain()
        assert submit(hub, person("DSR-C1", "P-C1", "Grace Hopper", "2026-11-20T09:00:00Z")).status == 202
        assert submit(hub, agreement("DSR-C2", "SA-C2", "P-C1", ["SP-NOWHERE"])).status == 202
        extract_and_transfer(hub)
        dacs(hub).import_uploads()
        hub.simulators["CCB"].add_fault({"kind": "down", "count": 2})

        # When DACS acknowledges (twice: the same records posted again), and the queue redelivers while CCB is down
        pending = list(dacs(hub).pending_acknowledgements)
        assert dacs(hub).send_acknowledgements() == 2
        dacs(hub).pending_acknowledgements.extend(pending)
        assert dacs(hub).send_acknowledgements() == 2
        for _ in range(3):
            hub.drain()
            hub.expire_visibility()
        hub.drain()

        # Then CCB was told once of each: POSITIVE for the person, NEGATIVE with DACS's reason for the agreement
        assert [a["result"] for a in ccb_acknowledgements(hub, "DSR-C1")] == ["POSITIVE"]
        [negative] = ccb_acknowledgements(hub, "DSR-C2")
        assert (negative["result"], negative["entityType"], negative["entityId"]) == ("NEGATIVE", "SERVICE_AGREEMENT", "SA-C2")
        assert "SP-NOWHERE" in negative["reason"]
        assert negative["reason"] == status_of(hub, "DSR-C2")["history"][-1]["reason"]
        assert sum(1 for m in hub.simulators["CCB"].received if m.get("operation") == "sync-request-acknowledgement") == 2

        # And given a third request whose acknowledgement is queued for CCB but cannot be recorded (DynamoDB's write throttled)
        assert submit(hub, person("DSR-C3", "P-C3", "Edsger Dijkstra", "2026-11-20T09:00:00Z")).status == 202
        extract_and_transfer(hub)
        dacs(hub).import_uploads()
        with AwsThrottling(1.0, operations=frozenset({"dynamodb.TransactWriteItems", "dynamodb.UpdateItem"})) as throttling:
            assert dacs(hub).send_acknowledgements() == 0  # the hub answered 503: DACS keeps it pending
        assert throttling.throttled
        assert status_of(hub, "DSR-C3")["status"] == "SENT"
        # When the queue delivers the notification first, CCB is not told (the hub recorded nothing yet)
        hub.drain()
        assert ccb_acknowledgements(hub, "DSR-C3") == []
        # Then once DACS posts again and the queue redelivers, CCB is told once, of what the hub recorded
        assert dacs(hub).send_acknowledgements() == 1
        hub.expire_visibility()
        hub.drain()
        assert status_of(hub, "DSR-C3")["status"] == "SYNCHRONIZED"
        assert [a["result"] for a in ccb_acknowledgements(hub, "DSR-C3")] == ["POSITIVE"]
        calls = [m for m in hub.simulators["CCB"].received if m.get("operation") == "sync-request-acknowledgement"]
        assert sorted((m["id"], m["repeat"]) for m in calls) == [("DSR-C1", False), ("DSR-C2", False), ("DSR-C3", False)]  # each once
    finally:
        assert hub.stop() == []


def test_the_notification_sample_event_is_delivered_to_ccb(aws_endpoint: str) -> None:
    from localhub.aws.endpoint import reset

    # Given the sample sync request DSR-P3's notification (its positive acknowledgement, before any resubmission)
    reset(aws_endpoint)
    hub = LocalHub(parameters={"DacsAcknowledgementsToCcb": "true"}).start()
    try:
        hub.drain()
        assert submit(hub, person("DSR-P3", "P-S", "Ada Byron", "2026-11-20T09:00:00Z")).status == 202
        extract_and_transfer(hub)
        dacs(hub).import_uploads()
        dacs(hub).send_acknowledgements()
        hub.drain()
        assert len(status_of(hub, "DSR-P3")["history"]) == 3

        # When the sample event is invoked (a redelivery of what the queue already delivered)
        invocation = hub.invoke("DacsNotificationsFunction", sample_event("dacs/notifications/sqs.json"))

        # Then no record failed, and CCB holds the acknowledgement once
        assert invocation.result == {"batchItemFailures": []}
        assert [a["result"] for a in ccb_acknowledgements(hub, "DSR-P3")] == ["POSITIVE"]
    finally:
        assert hub.stop() == []


def submit_persons(hub: LocalHub, count: int, prefix: str) -> list[str]:
    """One change of each of ``count`` persons, posted a hundred at a time; their sync request ids."""
    bodies = [person(f"DSR-{prefix}{n}", f"P-{prefix}{n}", f"Person {n}", "2026-11-20T09:00:00Z") for n in range(count)]
    for start in range(0, count, 100):
        chunk = json.dumps({"requests": bodies[start : start + 100]})
        answered = hub.call_api("POST", "/dacs/sync-requests:batch", body=chunk, headers=JSON, claims=CLAIMS)
        assert answered.status == 202, answered.body
    return [b["syncRequestId"] for b in bodies]


def records_written(hub: LocalHub) -> list[str]:
    """``<kind>#<externalReferenceId>`` of every record in every extract file, wherever the file is now."""
    from utilhub.packs.dacs.extract_file import kind_of_file, read_extract

    s3 = boto3.client("s3")
    bucket = hub.resources()["DacsExchangeBucket"]
    found = []
    for key in keys(hub, "extract/") + keys(hub, "upload/") + keys(hub, "processed/"):
        named = kind_of_file(key.rsplit("/", 1)[1])
        assert named is not None, key
        chunks = s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks()
        found += [f"{named[0].value}#{record.values['externalReferenceId']}" for record in read_extract(chunks, named[0])]
    return found


class _Extract:
    """The extract function's runner as its environment builds it, with a page size of its own."""

    def __init__(self, hub: LocalHub, **environment: str) -> None:
        from localhub.lambda_.runtime import function_environment

        self._environment = function_environment({**hub.function(EXTRACT).environment, **environment})

    def __enter__(self) -> Any:
        from utilhub.packs.dacs.sync import incremental_extract

        self._environment.__enter__()
        return incremental_extract()

    def __exit__(self, *exc: object) -> None:
        self._environment.__exit__(*exc)  # type: ignore[arg-type]
        wiring.reset()


def test_a_run_stops_claiming_when_its_budget_is_spent_and_the_next_run_writes_the_rest_each_record_once(hub: LocalHub) -> None:
    import itertools

    # Given 60 changed persons (about 8 a shard), pages of 4, and a run whose time budget lasts three clock readings
    ids = submit_persons(hub, 60, "B")
    with _Extract(hub, UTILHUB_SYNC_MONITOR_PAGE_SIZE="4") as extract:
        ticks = itertools.count()
        budget = extract._budget.total_seconds()
        extract._monotonic = lambda: float(next(ticks)) * budget / 3  # each reading spends a third

        # When it runs
        first = extract.run()

        # Then it stopped claiming between pages when its budget was spent; what it claimed is written and closed
        assert first.outOfTime == 1
        assert 0 < first.written < 60
        assert first.pages < 60 // 4
        assert sum(first.files.values()) == first.written
        statuses = [status_of(hub, i)["status"] for i in ids]
        assert (statuses.count("SENT"), statuses.count("PENDING")) == (first.written, 60 - first.written)

        # And the next runs, with time, write the rest
        extract._monotonic = lambda: 0.0
        second = extract.run()
    assert (second.outOfTime, first.written + second.written) == (0, 60)
    hub.drain()

    # And every person is in the files exactly once
    written = records_written(hub)
    assert sorted(written) == sorted(f"CONTACT#P-B{n}" for n in range(60))


class _CompletionRefused(Exception):
    """S3 refused to complete one extract file."""


class _RefusingS3:
    """The real client (against moto), refusing to store any object whose key holds ``refused``."""

    def __init__(self, client: Any, refused: str) -> None:
        self._client, self._refused = client, refused

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)
        if name not in ("put_object", "complete_multipart_upload"):
            return call

        def refusing(**kwargs: Any) -> Any:
            if self._refused in kwargs["Key"]:
                raise _CompletionRefused(kwargs["Key"])
            return call(**kwargs)

        return refusing


def test_a_run_whose_files_close_in_part_keeps_the_claims_of_the_files_written_and_writes_no_record_twice(hub: LocalHub) -> None:
    from utilhub.packs.dacs.extract_files import ExtractFiles

    # Given a person, a service point and an agreement changed, and S3 refusing to complete the service points' file
    assert submit(hub, person("DSR-PC1", "P-PC", "Frances Allen", "2026-11-20T09:00:00Z")).status == 202
    assert submit(hub, service_point("DSR-PC2", "SP-PC")).status == 202
    assert submit(hub, agreement("DSR-PC3", "SA-PC", "P-PC", ["SP-PC"])).status == 202
    bucket = hub.resources()["DacsExchangeBucket"]
    with _Extract(hub) as extract:
        files = extract._files
        extract._files = lambda run_id: ExtractFiles(_RefusingS3(boto3.client("s3"), "metered-service-points"), bucket, run_id)

        # When it runs, then the run fails after the contacts' file was completed
        with pytest.raises(_CompletionRefused):
            extract.run()
        assert [k.split("-2")[0] for k in keys(hub, "extract/")] == ["extract/contacts"]
        # And the person, whose record is in a complete file, stays SENT; the others are given back
        assert [status_of(hub, i)["status"] for i in ("DSR-PC1", "DSR-PC2", "DSR-PC3")] == ["SENT", "PENDING", "PENDING"]
        assert s3_uploads_in_progress(hub) == []

        # When the next run can write
        extract._files = files
        second = extract.run()

    # Then it writes the two others, and each record is in the files exactly once
    assert second.written == 2
    hub.drain()
    assert sorted(records_written(hub)) == ["CONTACT#P-PC", "METERED_SERVICE#SA-PC", "METERED_SERVICE_POINT#SP-PC"]


def s3_uploads_in_progress(hub: LocalHub) -> list[str]:
    uploads = boto3.client("s3").list_multipart_uploads(Bucket=hub.resources()["DacsExchangeBucket"]).get("Uploads", [])
    return [u["Key"] for u in uploads]


class _Stopped(BaseException):
    """The function stopped where it was (its timeout): no handler of the run's code runs."""


def test_a_run_stopped_between_writing_and_closing_writes_nothing_twice_and_a_run_after_it_cannot_be_alive_writes_its_requests_again(
    hub: LocalHub,
) -> None:
    from utilhub.packs.dacs.extract_files import ExtractFiles

    # Given two changed persons, and a run stopped (the function's timeout) once it wrote their records, before closing its files
    assert submit(hub, person("DSR-ST1", "P-ST1", "Jean Sammet", "2026-11-20T09:00:00Z")).status == 202
    assert submit(hub, person("DSR-ST2", "P-ST2", "Kathleen Booth", "2026-11-20T09:00:00Z")).status == 202

    class StoppedAtClose(ExtractFiles):
        def close(self) -> dict[str, int]:
            raise _Stopped

    with _Extract(hub) as extract:
        files = extract._files
        extract._files = lambda run_id: StoppedAtClose(boto3.client("s3"), hub.resources()["DacsExchangeBucket"], run_id)
        with pytest.raises(_Stopped):
            extract.run()
        extract._files = files

        # When the next run comes while the stopped one could still be alive, then it writes neither again: both
        # are still in flight, no file appeared
        assert extract.run().written == 0
        assert keys(hub, "extract/") == []
        assert [status_of(hub, i)["status"] for i in ("DSR-ST1", "DSR-ST2")] == ["SENT", "SENT"]

        # And a run after no invocation can be alive (long before DACS's time-out) finds the stopped run's claims
        # recorded, their file never complete, and writes each again once
        assert dacs_timeout(hub) > timedelta(minutes=16)
        report = extract.at(lambda: datetime.now(UTC) + timedelta(minutes=16)).run()
    assert (report.unclaimed, report.rewritten, report.written) == (2, 0, 2)
    assert [(status_of(hub, i)["status"], status_of(hub, i)["attempt"]) for i in ("DSR-ST1", "DSR-ST2")] == [("SENT", 2), ("SENT", 2)]
    assert claims_records(hub) == []
    hub.drain()
    assert sorted(records_written(hub)) == ["CONTACT#P-ST1", "CONTACT#P-ST2"]


def claims_records(hub: LocalHub) -> list[str]:
    table = boto3.resource("dynamodb").Table(hub.resources()["SyncRequestTable"])
    return [str(item["pk"]) for item in table.scan().get("Items", []) if "#CLAIMS#" in str(item["pk"])]


def _not_given_back(*_: Any, **__: Any) -> None:
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "TransactWriteItems")


def test_claims_a_failed_run_could_not_give_back_are_written_again_by_a_run_after_it_cannot_be_alive_each_record_once(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from utilhub.packs.dacs.extract_files import ExtractFiles
    from utilhub.syncrequests.store import SyncRequestStore

    # Given a person, a service point and an agreement changed; a run whose service points' file S3 refuses to complete
    # (the contacts' file before it is complete), and giving the claims back throttled
    assert submit(hub, person("DSR-GB1", "P-GB", "Grace Hopper", "2026-11-20T09:00:00Z")).status == 202
    assert submit(hub, service_point("DSR-GB2", "SP-GB")).status == 202
    assert submit(hub, agreement("DSR-GB3", "SA-GB", "P-GB", ["SP-GB"])).status == 202
    ids = ("DSR-GB1", "DSR-GB2", "DSR-GB3")
    bucket = hub.resources()["DacsExchangeBucket"]
    with _Extract(hub) as extract:
        files = extract._files
        extract._files = lambda run_id: ExtractFiles(_RefusingS3(boto3.client("s3"), "metered-service-points"), bucket, run_id)
        with monkeypatch.context() as patched:
            patched.setattr(SyncRequestStore, "unclaim", _not_given_back)
            with pytest.raises(_CompletionRefused):
                extract.run()
        extract._files = files
        assert [status_of(hub, i)["status"] for i in ids] == ["SENT", "SENT", "SENT"]

        # When a run comes while the failed one could still be alive, then it leaves its claims alone
        assert extract.at(lambda: datetime.now(UTC) + timedelta(minutes=10)).run().written == 0
        assert [status_of(hub, i)["status"] for i in ids] == ["SENT", "SENT", "SENT"]

        # When a run comes after no invocation can be alive (long before DACS's time-out)
        assert dacs_timeout(hub) > timedelta(minutes=16)
        later = extract.at(lambda: datetime.now(UTC) + timedelta(minutes=16)).run()

    # Then the claims whose records are in no complete file went back to PENDING and this run wrote them; the person,
    # whose record is in the complete contacts' file, stayed SENT; no time-out, nothing written twice, no record left
    assert later.written == 2
    assert (later.unclaimed, later.rewritten) == (2, 0)
    assert [status_of(hub, i)["status"] for i in ids] == ["SENT", "SENT", "SENT"]
    # (the agreement may have waited for its person within the failed run, as the shards fell: its last PENDING is the one)
    reasons = [[h["reason"] for h in status_of(hub, i)["history"] if h["status"] == "PENDING"][-1] for i in ids[1:]]
    assert reasons == ["claimed by an extract run that stopped before its file was complete; written again"] * 2
    assert claims_records(hub) == []
    hub.drain()
    assert sorted(records_written(hub)) == ["CONTACT#P-GB", "METERED_SERVICE#SA-GB", "METERED_SERVICE_POINT#SP-GB"]
    # And DACS's acknowledgements complete all three
    dacs(hub).import_uploads()
    dacs(hub).send_acknowledgements()
    hub.drain()
    assert [status_of(hub, i)["status"] for i in ids] == ["SYNCHRONIZED"] * 3


def test_a_record_whose_acknowledgement_is_throttled_fails_alone_the_others_of_the_post_are_applied(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from utilhub.syncrequests.store import SyncRequestStore

    # Given three persons extracted and imported by DACS, and the hub's write of the first one's acknowledgement throttled once
    ids = [f"DSR-PF{n}" for n in range(3)]
    for n, sync_request_id in enumerate(ids):
        assert submit(hub, person(sync_request_id, f"P-PF{n}", f"Person {n}", "2026-11-20T09:00:00Z")).status == 202
    extract_and_transfer(hub)
    dacs(hub).import_uploads()
    acknowledge = SyncRequestStore.acknowledge
    throttled: list[str] = []

    def throttled_once(self: SyncRequestStore, request: Any, positive: bool, reason: str) -> None:
        if request.syncRequestId == ids[0] and not throttled:
            throttled.append(request.syncRequestId)
            _not_given_back()
        acknowledge(self, request, positive, reason)

    monkeypatch.setattr(SyncRequestStore, "acknowledge", throttled_once)

    # When DACS posts its acknowledgements (one post), then the hub asks it to post again, having applied the others
    assert dacs(hub).send_acknowledgements() == 0
    assert throttled == [ids[0]]
    assert [status_of(hub, i)["status"] for i in ids] == ["SENT", "SYNCHRONIZED", "SYNCHRONIZED"]

    # And DACS's second post completes the first, the others unchanged (each SYNCHRONIZED once), CCB told of each once
    assert dacs(hub).send_acknowledgements() == 3
    hub.drain()
    assert [status_of(hub, i)["status"] for i in ids] == ["SYNCHRONIZED"] * 3
    assert [[h["status"] for h in status_of(hub, i)["history"]].count("SYNCHRONIZED") for i in ids] == [1, 1, 1]
    assert [[a["result"] for a in ccb_acknowledgements(hub, i)] for i in ids] == [["POSITIVE"]] * 3
