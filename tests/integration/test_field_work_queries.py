"""FW-03 appointments, FW-04 meter and item validation, FW-08 service point query and FW-09 installed
assets: synchronous, one call within the route's time budget, 502 and 504 problems, under both
implementation models. The queries function in-process, the field system simulators over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localhub.aws.endpoint import reset
from localhub.hub import ApiResponse, LocalHub
from tests.conftest import sample_event
from tests.helpers import assert_within_budget, call_limits
from tests.integration.callers import field_work_claims
from tests.integration.callers import post_field_work as post

QUERIES = "FieldWorkQueriesFunction"


def get(hub: LocalHub, path: str, query: dict[str, str] | None = None) -> ApiResponse:
    from urllib.parse import urlencode

    return hub.call_api("GET", path, query=urlencode(query or {}), claims=field_work_claims(hub, path))


def run_sample(hub: LocalHub, name: str) -> dict[str, Any]:
    result = hub.invoke(QUERIES, sample_event(f"field_work/queries/{name}")).result
    return {"status": result["statusCode"], "body": json.loads(result["body"])}


def test_sample_appointment_windows_book_and_cancel(hub: LocalHub) -> None:
    # Given MWM's windows for two weekdays
    windows = run_sample(hub, "appointment-windows.json")

    # When CCB books the first and then cancels it
    booked = run_sample(hub, "book-appointment.json")
    again = run_sample(hub, "book-appointment.json")
    canceled = run_sample(hub, "cancel-appointment.json")

    # Then four windows were offered, the booking holds one (once), and the cancellation frees it
    assert windows["status"] == 200
    assert [w["start"] for w in windows["body"]["windows"]] == [
        "2026-12-07T08:00:00Z",
        "2026-12-07T13:00:00Z",
        "2026-12-08T08:00:00Z",
        "2026-12-08T13:00:00Z",
    ]
    assert (booked["status"], booked["body"]["status"]) == (200, "BOOKED")
    assert again["body"]["mwmAppointmentId"] == booked["body"]["mwmAppointmentId"]
    assert (canceled["status"], canceled["body"]["status"]) == (200, "CANCELED")


def test_a_full_window_or_one_not_offered_is_409(hub: LocalHub) -> None:
    # Given a window two crews have booked already
    window = {"start": "2026-12-09T13:00:00Z", "end": "2026-12-09T17:00:00Z"}
    for n in (1, 2):
        body = {
            "appointmentId": f"APT-{n}",
            "activityId": f"FA-{n}",
            "servicePointId": "SP-0001",
            "activityType": "CONNECT",
            "window": window,
        }
        assert post(hub, "/field-work/appointments", body).status == 200

    # When a third is booked in it, and one on a Saturday
    full = post(hub, "/field-work/appointments", {**body, "appointmentId": "APT-3"})
    saturday = post(
        hub,
        "/field-work/appointments",
        {**body, "appointmentId": "APT-4", "window": {"start": "2026-12-12T08:00:00Z", "end": "2026-12-12T12:00:00Z"}},
    )

    # Then both are refused, and the full window is no longer offered
    assert (full.status, saturday.status) == (409, 409)
    offered = get(
        hub,
        "/field-work/appointments/windows",
        {"servicePointId": "SP-0001", "activityType": "CONNECT", "from": "2026-12-09", "to": "2026-12-09"},
    )
    assert [w["start"] for w in offered.json()["windows"]] == ["2026-12-09T08:00:00Z"]
    # and MWM was asked in its own activity type code (its contract refuses CCB's), CCB answered in its own
    assert offered.json()["activityType"] == "CONNECT"


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ({"servicePointId": "SP-0001", "activityType": "CONNECT", "from": "2026-12-09", "to": "2026-12-01"}, "#/to"),
        ({"servicePointId": "SP-0001", "activityType": "CONNECT", "from": "2026-12-01", "to": "2027-03-01"}, "#/to"),
        ({"servicePointId": "SP-0001", "activityType": "CONNECT", "from": "yesterday", "to": "2026-12-01"}, "#/from"),
        ({"servicePointId": "SP 1", "activityType": "CONNECT", "from": "2026-12-01", "to": "2026-12-01"}, "#/servicePointId"),
        ({"activityType": "CONNECT", "from": "2026-12-01", "to": "2026-12-01"}, "#/servicePointId"),
        # MWM's own code is not CCB's: no mapping from CCB (domain value map FieldActivityType)
        ({"servicePointId": "SP-0001", "activityType": "CONNECT_SERVICE", "from": "2026-12-01", "to": "2026-12-01"}, "#/activityType"),
    ],
)
def test_bad_window_queries_are_422(hub: LocalHub, query: dict[str, str], pointer: str) -> None:
    # Given a window query with a bad or missing value
    # When it is asked
    response = get(hub, "/field-work/appointments/windows", query)

    # Then it is a 422 pointing at it
    assert response.status == 422, response.body
    assert response.json()["errors"][0]["pointer"] == pointer


@pytest.mark.parametrize(
    ("request_body", "valid", "reason"),
    [
        ({"badgeNumber": "B-0060", "purpose": "INSTALL"}, True, None),
        ({"badgeNumber": "B-0007", "purpose": "INSTALL"}, False, "B-0007 is installed at SP-0007"),
        ({"badgeNumber": "B-0007", "purpose": "REMOVE", "servicePointId": "SP-0007"}, True, None),
        ({"badgeNumber": "B-0007", "purpose": "REMOVE", "servicePointId": "SP-0008"}, False, "B-0007 is not installed at SP-0008"),
        ({"badgeNumber": "B-9999", "purpose": "INSTALL"}, False, "no meter B-9999"),
    ],
)
def test_meters_are_validated_at_odm_under_v2_1(hub: LocalHub, request_body: dict[str, Any], valid: bool, reason: str | None) -> None:
    # Given a crew's meter at a service point (model v2.1: ODM validates)
    # When it is validated
    response = post(hub, "/field-work/meter-validations", request_body)

    # Then ODM's answer comes back, saying who validated it
    assert response.status == 200, response.body
    body = response.json()
    assert (body["valid"], body.get("reason"), body["validatedBy"]) == (valid, reason, "ODM")


def test_a_removal_without_its_service_point_is_422(hub: LocalHub) -> None:
    response = post(hub, "/field-work/meter-validations", {"badgeNumber": "B-0007", "purpose": "REMOVE"})
    assert response.status == 422
    assert response.json()["errors"][0]["pointer"] == "#/servicePointId"


def test_service_points_for_an_unrelated_pickup_are_found_at_ccb(hub: LocalHub) -> None:
    # Given the sample query by meter, and one by address
    by_meter = run_sample(hub, "service-points.json")
    by_address = get(hub, "/field-work/service-points", {"address": "12 evergreen"})
    nothing = get(hub, "/field-work/service-points")

    # Then CCB's service points come back, and a query without criteria is a 422
    assert by_meter["body"]["servicePoints"] == [
        {"servicePointId": "SP-0007", "address": "7 Evergreen Terrace, Springfield", "postalCode": "62707", "meterBadge": "B-0007"}
    ]
    assert [sp["servicePointId"] for sp in by_address.json()["servicePoints"]] == ["SP-0012"]
    assert nothing.status == 422


def test_installed_assets_come_from_odm_and_an_unknown_service_point_is_404(hub: LocalHub) -> None:
    # Given the sample query for SP-0007, and one for a service point nobody has
    assets = run_sample(hub, "installed-assets.json")
    unknown = get(hub, "/field-work/service-points/SP-9999/installed-assets")

    # Then ODM's assets come back (model v2.1), and ODM's 404 is passed on
    assert assets["status"] == 200
    assert assets["body"]["source"] == "ODM"
    assert [(a["assetType"], a.get("badgeNumber")) for a in assets["body"]["assets"]] == [("METER", "B-0007"), ("REGULATOR", None)]
    assert unknown.status == 404


def test_a_system_down_is_502_and_a_slow_one_504_within_the_budget(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given ODM down for its next two calls, then slower than the 10 s budget twice
    hub.simulators["ODM"].add_fault({"kind": "down", "count": 2})
    down = get(hub, "/field-work/service-points/SP-0001/installed-assets")
    hub.simulators["ODM"].add_fault({"kind": "slow", "count": 2, "seconds": 12})
    limits = call_limits(monkeypatch)
    slow = get(hub, "/field-work/service-points/SP-0001/installed-assets")

    # Then: 502 naming ODM (the read was tried twice), and 504 when the budget is spent (not 2 x 8 s read timeouts)
    assert (down.status, down.json()["target"]) == (502, "ODM")
    assert (slow.status, slow.json()["target"]) == (504, "ODM")
    assert_within_budget(limits["ODM"], budget=10, read_timeout=8)


def test_under_v1_9_meters_are_validated_at_ccb_and_assets_come_from_wam(aws_endpoint: str) -> None:
    # Given the hub under implementation model v1.9
    reset(aws_endpoint)
    hub = LocalHub(parameters={"FieldWorkModel": "v1.9"}).start()
    try:
        # When a meter is validated and a service point's assets are asked for
        validation = post(hub, "/field-work/meter-validations", {"badgeNumber": "B-0060", "purpose": "INSTALL"})
        assets = get(hub, "/field-work/service-points/SP-0003/installed-assets")

        # Then CCB validated it and WAM answered the assets
        assert validation.json()["validatedBy"] == "CCB"
        assert [m["operation"] for m in hub.simulators["CCB"].received] == ["validate-meter"]
        assert hub.simulators["ODM"].received_total == 0
        assert assets.json()["source"] == "WAM"
        assert assets.json()["assets"][0]["assetId"].startswith("AS-")
    finally:
        assert hub.stop() == []


def test_a_booking_retried_after_a_504_answers_the_booking_mwm_made(hub: LocalHub) -> None:
    import time

    # Given a booking MWM answers only after the 10 s budget (it books it all the same)
    hub.simulators["MWM"].add_fault({"kind": "slow", "count": 1, "seconds": 11})
    window = {"start": "2026-12-10T08:00:00Z", "end": "2026-12-10T12:00:00Z"}
    body = {"appointmentId": "APT-R1", "activityId": "FA-R1", "servicePointId": "SP-0001", "activityType": "CONNECT", "window": window}
    timed_out = post(hub, "/field-work/appointments", body)
    deadline = time.monotonic() + 30
    while "APPOINTMENT#APT-R1" not in hub.simulators["MWM"].records and time.monotonic() < deadline:
        time.sleep(0.2)

    # When CCB retries the booking (MWM refuses a second booking under the appointment id: 409), and books
    # the same appointment id for another window
    retried = post(hub, "/field-work/appointments", body)
    other_window = post(
        hub, "/field-work/appointments", {**body, "window": {"start": "2026-12-10T13:00:00Z", "end": "2026-12-10T17:00:00Z"}}
    )

    # Then the first was a 504, the retry answers the booking MWM holds for this appointment (not "window taken"),
    # and the other window is a 409 naming the appointment's booking
    assert timed_out.status == 504, timed_out.body
    assert retried.status == 200, retried.body
    booked = hub.simulators["MWM"].records["APPOINTMENT#APT-R1"]
    assert retried.json() == {
        "appointmentId": "APT-R1",
        "mwmAppointmentId": booked["mwmAppointmentId"],
        "status": "BOOKED",
        "window": window,
    }
    assert other_window.status == 409, other_window.body
    assert "already booked" in other_window.json()["detail"]
