"""FW-05, FW-07, FW-10 and FW-11 over HTTP with a real token (the demo covers FW-01..04, FW-06, FW-08 and
FW-09): an activity created and linked, a photo uploaded to the attachment bucket through its presigned
POST and sent with the completion, a customer update reaching MWM's open activity, billable charges and an
unbadged asset reaching CCB - each delivered by the queue pollers of the local runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import synchronize_service_points_over_http, until

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "field_work" / "activities"
PHOTO = b"\xff\xd8\xff\xe0" + b"\x00" * 2044  # 2,048 bytes, as the sample asks


def body_of(name: str) -> Any:
    return json.loads(json.loads((SAMPLES / name).read_text(encoding="utf-8"))["body"])


def records(client: httpx.Client, system: str) -> dict[str, Any]:
    return client.get(f"/_local/sim/{system}/state").json()["records"]  # type: ignore[no-any-return]


def test_attachments_customer_updates_charges_and_unbadged_assets_over_http(client: httpx.Client) -> None:
    # Given CCB's sample meter exchange FA-1001 at SP-2001 (synchronized to ODM by FW-06), created and linked in MWM and ODM
    synchronize_service_points_over_http(client, "SP-2001")
    assert client.post("/field-work/activities", json=body_of("create-activity.json")).status_code == 202
    linked = until(lambda: (v := client.get("/field-work/activities/CCB/FA-1001").json()).get("status") == "LINKED" and v)
    assert linked, client.get("/field-work/activities/CCB/FA-1001").text
    mwm_id, odm_id = linked["links"]["MWM"], linked["links"]["ODM"]

    # When a photo is uploaded through the presigned POST (FW-07) and MWM completes the activity naming it
    asked = client.post("/field-work/activities/CCB/FA-1001/attachments", json=body_of("new-attachment.json"))
    assert asked.status_code == 201, asked.text
    upload = asked.json()["upload"]
    stored = httpx.post(upload["url"], data=upload["fields"], files={"file": ("meter-photo.jpg", PHOTO, "image/jpeg")}, timeout=30)
    assert stored.status_code in (200, 201, 204), stored.text
    # and CCB sends the customer's new details for SP-2001 (FW-10) while the activity is open
    assert client.post("/field-work/customer-updates", json=body_of("customer-updates.json")).status_code == 202
    until(lambda: any(e.get("eventId") == "FW-10-CCB-CU-501" for e in records(client, "mwm")[f"ACTIVITY#{mwm_id}"].get("events", [])))
    complete = {
        "eventId": "E2E-C1",
        "event": "COMPLETE",
        "at": "2026-12-01T10:00:00Z",
        "fromSystem": "MWM",
        "attachments": [{"attachmentId": asked.json()["attachmentId"]}],
    }
    assert client.post("/field-work/activities/CCB/FA-1001/events", json=complete).status_code == 202
    # and ODM reports billable charges (FW-05) and an asset without a badge (FW-11)
    assert client.post("/field-work/billing-charges", json=body_of("billing-charges.json")).status_code == 202
    assert client.post("/field-work/unbadged-assets", json=body_of("unbadged-assets.json")).status_code == 202

    # Then MWM's open activity got the customer update; ODM's completion carries the photo, fetchable by its URL
    mwm_events = [e["eventId"] for e in records(client, "mwm")[f"ACTIVITY#{mwm_id}"]["events"]]
    assert "FW-10-CCB-CU-501" in mwm_events
    completion = until(lambda: records(client, "odm")[f"ACTIVITY#{odm_id}"].get("completion"))
    (reference,) = completion["attachments"]
    assert httpx.get(reference["url"], timeout=30).content == PHOTO
    # and CCB holds the charges and the item, once each
    ccb = until(lambda: (r := records(client, "ccb")) and "CHARGES#ODM-COMP-77" in r and "ITEM#ODM-UB-9" in r and r)
    assert ccb, sorted(records(client, "ccb"))
    assert [c["chargeType"] for c in ccb["CHARGES#ODM-COMP-77"]["charges"]] == ["METER-TEST", "SEAL-REPLACEMENT"]
    assert ccb["ITEM#ODM-UB-9"]["assetId"] == "DV-0007-9"


def test_an_activity_refused_by_odm_is_resubmitted_over_http_and_linked(client: httpx.Client) -> None:
    # Given ODM refusing CCB's sample meter exchange at SP-2001 (which ODM keeps: FW-06): MWM's activity is canceled,
    # the activity is in ERROR
    synchronize_service_points_over_http(client, "SP-2001")
    assert client.post("/_local/sim/odm/faults", json={"kind": "reject", "count": 1, "reason": "SP-2001 unknown"}).status_code == 201
    assert client.post("/field-work/activities", json=body_of("create-activity.json")).status_code == 202
    failed = until(lambda: (v := client.get("/field-work/activities/CCB/FA-1001").json()).get("status") == "ERROR" and v)
    assert failed, client.get("/field-work/activities/CCB/FA-1001").text
    assert "not created in ODM (TargetRejected: HTTP 422)" in failed["history"][-1]["reason"]
    assert "SP-2001 unknown" not in failed["history"][-1]["reason"]  # ODM's message may repeat the activity's data

    # When the operator resubmits it (ODM has the service point now), and resubmits it again once linked
    resubmitted = client.post("/field-work/activities/CCB/FA-1001/resubmission")
    linked = until(lambda: (v := client.get("/field-work/activities/CCB/FA-1001").json()).get("status") == "LINKED" and v)
    again = client.post("/field-work/activities/CCB/FA-1001/resubmission")

    # Then it is created again (attempt 2) and linked in MWM (a new activity there) and ODM; the second is a 409
    assert (resubmitted.status_code, resubmitted.json()["attempt"]) == (202, 2), resubmitted.text
    assert linked, client.get("/field-work/activities/CCB/FA-1001").text
    assert records(client, "mwm")[f"ACTIVITY#{linked['links']['MWM']}"]["status"] == "OPEN"
    assert records(client, "odm")[f"ACTIVITY#{linked['links']['ODM']}"]["status"] == "OPEN"
    assert again.status_code == 409, again.text
