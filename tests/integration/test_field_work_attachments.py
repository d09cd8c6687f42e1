"""FW-07 attachments with a completion: a presigned upload to the encrypted attachment bucket (never
through the API), a completion that names only uploaded attachments of its activity, and the references
forwarded to the other systems with a download URL. The API and delivery functions in-process, the
upload and download against the embedded S3 as a crew's device and a receiving system would do them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from localhub.hub import LocalHub
from tests.conftest import sample_event
from tests.helpers import synchronize_service_points
from tests.integration.callers import post_field_work as post

PHOTO = b"\xff\xd8\xff\xe0" + b"\x00" * 2044  # 2,048 bytes that start like a JPEG


@pytest.fixture
def linked(hub: LocalHub) -> dict[str, str]:
    """A meter exchange from CCB at SP-1 (synchronized to ODM by FW-06), linked in MWM and ODM."""
    synchronize_service_points(hub, "SP-1")
    body = {"sourceSystem": "CCB", "activityId": "FA-1001", "activityType": "METER-EXCHANGE", "servicePointId": "SP-1"}
    assert post(hub, "/field-work/activities", body).status == 202
    assert hub.settle(timeout=60) == []
    links = hub.call_api("GET", "/field-work/activities/CCB/FA-1001", claims=hub.claims_of("CCB")).json()["links"]
    return dict(links)


def upload(answer: dict[str, Any], content: bytes, content_type: str = "image/jpeg") -> requests.Response:
    fields = dict(answer["upload"]["fields"])
    return requests.post(answer["upload"]["url"], data=fields, files={"file": ("meter-photo.jpg", content, content_type)}, timeout=30)


def test_an_uploaded_photo_reaches_the_other_systems_with_the_completion(hub: LocalHub, linked: dict[str, str]) -> None:
    # Given an upload asked for through the sample event, and the photo uploaded to S3 with it
    asked = hub.invoke("FieldWorkActivitiesFunction", sample_event("field_work/activities/new-attachment.json")).result
    assert asked["statusCode"] == 201, asked["body"]
    answer = json.loads(asked["body"])
    assert upload(answer, PHOTO).status_code in (200, 201, 204)

    # When MWM completes the activity naming the attachment
    complete = {
        "eventId": "E-C1",
        "event": "COMPLETE",
        "at": "2026-12-01T10:00:00Z",
        "fromSystem": "MWM",
        "attachments": [{"attachmentId": answer["attachmentId"]}],
    }
    accepted = post(hub, "/field-work/activities/CCB/FA-1001/events", complete)
    hub.drain()

    # Then ODM's completion carries the attachment's name, type, size and a URL that fetches the photo
    assert accepted.status == 202, accepted.body
    (reference,) = hub.simulators["ODM"].records[f"ACTIVITY#{linked['ODM']}"]["completion"]["attachments"]
    assert {k: reference[k] for k in ("attachmentId", "fileName", "contentType", "sizeBytes")} == {
        "attachmentId": answer["attachmentId"],
        "fileName": "meter-photo.jpg",
        "contentType": "image/jpeg",
        "sizeBytes": 2048,
    }
    assert requests.get(reference["url"], timeout=30).content == PHOTO


@pytest.mark.parametrize(
    ("request_body", "pointer"),
    [
        ({"fileName": "run.exe", "contentType": "application/x-msdownload", "sizeBytes": 100}, "#/contentType"),
        ({"fileName": "page.html", "contentType": "text/html", "sizeBytes": 100}, "#/contentType"),
        ({"fileName": "photo.pdf", "contentType": "image/jpeg", "sizeBytes": 100}, "#/fileName"),
        ({"fileName": "huge.pdf", "contentType": "application/pdf", "sizeBytes": 50 * 1024 * 1024}, "#/sizeBytes"),
        ({"fileName": "../../etc/passwd.txt", "contentType": "text/plain", "sizeBytes": 100}, "#/fileName"),
    ],
)
def test_unsafe_or_oversize_attachments_are_refused(
    hub: LocalHub, linked: dict[str, str], request_body: dict[str, Any], pointer: str
) -> None:
    # Given an attachment of a type not on the allow list, a mismatched name, an oversize or a hostile name
    # When an upload is asked for
    response = post(hub, "/field-work/activities/CCB/FA-1001/attachments", request_body)

    # Then it is a 422 at the field, and no upload is offered
    assert response.status == 422, response.body
    assert pointer in [e["pointer"] for e in response.json()["errors"]]


def test_a_completion_naming_an_attachment_not_uploaded_or_of_another_activity_is_422(hub: LocalHub, linked: dict[str, str]) -> None:
    # Given an upload asked for but never made, and one that uploaded another file than announced
    never = post(
        hub, "/field-work/activities/CCB/FA-1001/attachments", {"fileName": "a.pdf", "contentType": "application/pdf", "sizeBytes": 10}
    ).json()
    other = post(
        hub, "/field-work/activities/CCB/FA-1001/attachments", {"fileName": "b.txt", "contentType": "text/plain", "sizeBytes": 10}
    ).json()
    upload(other, b"just five", "text/plain")

    # When a completion names them, and an attachment id nobody gave out
    refs = [{"attachmentId": never["attachmentId"]}, {"attachmentId": other["attachmentId"]}, {"attachmentId": "ATT-nope"}]
    response = post(
        hub,
        "/field-work/activities/CCB/FA-1001/events",
        {"eventId": "E-C2", "event": "COMPLETE", "at": "2026-12-01T10:00:00Z", "attachments": refs},
    )

    # Then it is a 422 naming each, and the activity is still open
    assert response.status == 422, response.body
    assert [e["pointer"] for e in response.json()["errors"]] == [f"#/attachments/{n}/attachmentId" for n in range(3)]
    assert hub.call_api("GET", "/field-work/activities/CCB/FA-1001", claims=hub.claims_of("CCB")).json()["status"] == "LINKED"


def test_attachments_only_for_an_open_activity_and_only_with_a_completion(hub: LocalHub, linked: dict[str, str]) -> None:
    # Given an activity
    asked = post(
        hub, "/field-work/activities/CCB/FA-1001/attachments", {"fileName": "a.txt", "contentType": "text/plain", "sizeBytes": 3}
    ).json()
    upload(asked, b"abc", "text/plain")

    # When an UPDATE names an attachment, then the activity is canceled and an upload is asked for
    update = post(
        hub,
        "/field-work/activities/CCB/FA-1001/events",
        {"eventId": "E-U", "event": "UPDATE", "at": "2026-12-01T10:00:00Z", "attachments": [{"attachmentId": asked["attachmentId"]}]},
    )
    assert (
        post(hub, "/field-work/activities/CCB/FA-1001/events", {"eventId": "E-X", "event": "CANCEL", "at": "2026-12-01T11:00:00Z"}).status
        == 202
    )
    late = post(hub, "/field-work/activities/CCB/FA-1001/attachments", {"fileName": "b.txt", "contentType": "text/plain", "sizeBytes": 3})
    unknown = post(hub, "/field-work/activities/CCB/NOPE/attachments", {"fileName": "b.txt", "contentType": "text/plain", "sizeBytes": 3})

    # Then: 422 (attachments come with a completion), 409 (canceled), 404 (unknown activity)
    assert (update.status, late.status, unknown.status) == (422, 409, 404)


def test_a_completion_with_attachments_reaches_the_last_system_after_a_partial_failure(hub: LocalHub) -> None:
    import time

    # Given a meter exchange created in CCB (its simulator sends it to the hub), linked in MWM and ODM, and a photo uploaded
    synchronize_service_points(hub, "SP-1")
    sent = requests.put(
        f"{hub.simulator_url('CCB')}/field-activities/FA-2002",
        json={"activityType": "METER-EXCHANGE", "servicePointId": "SP-1"},
        timeout=30,
    )
    assert sent.json()["hubStatus"] == 202, sent.text
    assert hub.settle(timeout=60) == []
    links = hub.call_api("GET", "/field-work/activities/CCB/FA-2002", claims=hub.claims_of("CCB")).json()["links"]
    asked = post(
        hub,
        "/field-work/activities/CCB/FA-2002/attachments",
        {"fileName": "meter-photo.jpg", "contentType": "image/jpeg", "sizeBytes": 2048},
    ).json()
    assert upload(asked, PHOTO).status_code in (200, 201, 204)

    # When MWM completes it with the photo while ODM is down for the first delivery (CCB got it; the message comes back)
    hub.simulators["ODM"].add_fault({"kind": "down", "count": 1})
    complete = {
        "eventId": "E-C9",
        "event": "COMPLETE",
        "at": "2026-12-01T10:00:00Z",
        "fromSystem": "MWM",
        "attachments": [{"attachmentId": asked["attachmentId"]}],
    }
    assert post(hub, "/field-work/activities/CCB/FA-2002/events", complete).status == 202
    hub.drain()
    for _ in range(3):  # redelivered later (a download URL signed in another second)
        time.sleep(1.1)
        hub.expire_visibility()
        hub.drain()

    # Then ODM received the completion and its photo, and CCB had it once
    odm = hub.simulators["ODM"].records[f"ACTIVITY#{links['ODM']}"]
    assert odm["status"] == "COMPLETED"
    assert requests.get(odm["completion"]["attachments"][0]["url"], timeout=30).content == PHOTO
    ccb = hub.simulators["CCB"].records["ACTIVITY#FA-2002"]
    assert ccb["status"] == "COMPLETED"
    assert [m for m in hub.simulators["CCB"].received if m.get("eventId") == "E-C9"] == [
        {"operation": "complete", "id": "FA-2002", "eventId": "E-C9"}
    ]
