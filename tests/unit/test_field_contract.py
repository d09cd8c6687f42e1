"""The field systems' own contract refuses what MWM, WAM, ODM and CCB would refuse, whatever the hub's models accept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from localhub.simulators.field_contract import ActivityEvent, FieldActivity, MeterValidation, ServicePoint

ACTIVITY = {
    "externalId": "CCB:FA-1",
    "sourceSystem": "CCB",
    "activityId": "FA-1",
    "activityType": "METER-EXCHANGE",
    "servicePointId": "SP-0001",
    "priority": "NORMAL",
}
ATTACHMENT = {
    "attachmentId": "AT-1",
    "fileName": "meter.jpg",
    "contentType": "image/jpeg",
    "sizeBytes": 2048,
    "url": "http://127.0.0.1:4566/bucket/attachments/CCB/FA-1/AT-1?X-Amz-Signature=abc",
}
SERVICE_POINT = {
    "syncRequestId": "S1",
    "externalSystem": "CCB",
    "externalId": "SP-0001",
    "changedAt": "2026-11-20T08:00:00Z",
    "premiseId": "PR-1",
    "servicePointType": "ELECTRIC_RESIDENTIAL",
}


def activity_for(system: str, activity_type: str, service_point: str = "SP-0001", activity_id: str = "FA-1") -> dict[str, Any]:
    """CCB's activity as ``system``'s activity service takes it: MWM's activity, WAM's service request, ODM's field activity."""
    if system == "WAM":
        return {
            "externalSystem": "CCB",
            "externalReference": activity_id,
            "requestType": activity_type,
            "servicePoint": service_point,
            "priorityCode": 3,
        }
    if system == "ODM":
        return {
            "originatingSystem": "CCB",
            "originatingActivityId": activity_id,
            "fieldActivityType": activity_type,
            "servicePointId": service_point,
            "priority": "NORMAL",
        }
    return {
        **ACTIVITY,
        "externalId": f"CCB:{activity_id}",
        "activityId": activity_id,
        "activityType": activity_type,
        "servicePointId": service_point,
    }


def parse(model: type[BaseModel], body: dict[str, Any]) -> BaseModel:
    return model.model_validate_json(json.dumps(body))


def event(**fields: Any) -> dict[str, Any]:
    return {"eventId": "EV-1", "at": "2026-11-20T08:00:00Z", **fields}


def test_an_activity_is_taken_filed_under_its_source_and_id() -> None:
    activity = parse(FieldActivity, ACTIVITY)
    assert isinstance(activity, FieldActivity)
    assert activity.externalId == "CCB:FA-1"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"externalId": "CCB:FA-2"}, "does not name the activity's source and id"),
        ({"priority": None}, "priority"),
        ({"priority": "URGENT"}, "priority"),
        ({"workOrder": "W-1"}, "Extra inputs"),
        ({"scheduledDate": "2026-11-20T08:00:00Z"}, "scheduledDate"),
    ],
)
def test_an_activity_the_system_would_refuse_is_refused(change: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        parse(FieldActivity, {**ACTIVITY, **change})


def test_a_completion_with_fetchable_attachments_and_an_update_of_known_fields_are_taken() -> None:
    completion = parse(ActivityEvent, event(event="COMPLETE", remarks="done", attachments=[ATTACHMENT]))
    update = parse(ActivityEvent, event(event="UPDATE", changes={"priority": "HIGH"}))
    assert isinstance(completion, ActivityEvent)
    assert isinstance(update, ActivityEvent)
    assert completion.attachments[0].url.startswith("http://")
    assert update.changed() == {"priority": "HIGH"}


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (event(event="COMPLETE", attachments=[{"attachmentId": "AT-1"}]), "fileName"),
        (event(event="UPDATE", changes={"meterId": "B-1"}), "Extra inputs"),
        (event(event="UPDATE"), "names the fields that changed"),
        (event(event="CANCEL", remarks="no access"), "with a COMPLETE only"),
        (event(event="COMPLETE", reason="done"), "with a CANCEL only"),
        (event(event="COMPLETE", at="2026-11-20T08:00:00"), "timezone"),
    ],
)
def test_an_event_the_system_would_refuse_is_refused(body: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        parse(ActivityEvent, body)


def test_a_removal_names_the_service_point_the_meter_leaves() -> None:
    assert isinstance(parse(MeterValidation, {"badgeNumber": "B-0060", "purpose": "INSTALL"}), MeterValidation)
    with pytest.raises(ValidationError, match="names the service point"):
        parse(MeterValidation, {"badgeNumber": "B-0001", "purpose": "REMOVE"})


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"timeZone": "Mars/Olympus_Mons"}, "is not a time zone"),
        ({"latitude": 39.8}, "both latitude and longitude"),
        ({"externalSystem": "SEBL"}, "externalSystem"),
        ({"address": {"street": "1 Main St"}}, "Extra inputs"),
    ],
)
def test_a_service_point_the_asset_system_would_refuse_is_refused(change: dict[str, Any], why: str) -> None:
    assert isinstance(parse(ServicePoint, {**SERVICE_POINT, "timeZone": "America/Chicago"}), ServicePoint)
    with pytest.raises(ValidationError, match=why):
        parse(ServicePoint, {**SERVICE_POINT, **change})


@pytest.mark.parametrize(
    ("system", "own", "foreign"),
    [("MWM", "METER_EXCHANGE", "METER-EXCHANGE"), ("ODM", "EXCHANGE-METER", "METER_EXCHANGE"), ("WAM", "SR-MTREXCH", "EXCHANGE-METER")],
)
def test_each_system_takes_an_activity_in_its_own_type_code_only(system: str, own: str, foreign: str) -> None:
    from localhub.simulators.field import mwm, odm, wam

    # Given the system's activity service (WAM and ODM keeping the service point, synchronized by FW-06)
    simulator = {"MWM": mwm, "ODM": odm, "WAM": wam}[system]()
    service_point = "SP-0001"
    if system in ("WAM", "ODM"):
        sp_type = {"WAM": "ELEC-RES", "ODM": "ELECTRIC_RESIDENTIAL"}[system]
        synced = simulator.service_points.sync(json.dumps({**SERVICE_POINT, "servicePointType": sp_type}).encode())
        service_point = json.loads(synced.body)["targetId"]

    # When the hub creates an activity in the system's code, and another in the hub's or another system's code
    taken = simulator.book.create(json.dumps(activity_for(system, own, service_point)).encode())
    refused = simulator.book.create(json.dumps(activity_for(system, foreign, service_point, "FA-2")).encode())

    # Then only the first is created
    assert taken.status == 201
    assert refused.status == 422
    assert f"does not work {foreign}" in json.loads(refused.body)["message"]


def test_an_appointment_is_booked_for_an_mwm_activity_type_only() -> None:
    from localhub.simulators.field_contract import AppointmentBooking

    booking = {
        "appointmentId": "AP-1",
        "activityId": "FA-1",
        "servicePointId": "SP-0001",
        "activityType": "CONNECT_SERVICE",
        "window": {"start": "2026-12-07T08:00:00Z", "end": "2026-12-07T12:00:00Z"},
    }
    assert isinstance(parse(AppointmentBooking, booking), AppointmentBooking)
    with pytest.raises(ValidationError, match="not an MWM activity type"):
        parse(AppointmentBooking, {**booking, "activityType": "CONNECT"})


def test_a_system_sends_its_own_activities_in_its_own_type_code() -> None:
    from localhub.simulators.field_contract import OwnActivity

    own = {"sourceSystem": "CCB", "activityId": "FA-9", "activityType": "METER-EXCHANGE", "servicePointId": "SP-0001"}
    assert isinstance(parse(OwnActivity, own), OwnActivity)
    with pytest.raises(ValidationError, match="not a CCB activity type"):
        parse(OwnActivity, {**own, "activityType": "METER_EXCHANGE"})


@pytest.mark.parametrize("system", ["WAM", "ODM"])
def test_the_asset_system_takes_an_activity_only_at_a_service_point_it_keeps(system: str) -> None:
    from localhub.simulators.field import odm, wam

    # Given the asset system keeping CCB's SP-0001 under its own id (FW-06)
    simulator = {"ODM": odm, "WAM": wam}[system]()
    sp_type = {"WAM": "ELEC-RES", "ODM": "ELECTRIC_RESIDENTIAL"}[system]
    own_id = json.loads(simulator.service_points.sync(json.dumps({**SERVICE_POINT, "servicePointType": sp_type}).encode()).body)["targetId"]
    work = {"WAM": "SR-MTREXCH", "ODM": "EXCHANGE-METER"}[system]

    # When an activity names the service point by CCB's id, and another by the system's own
    by_ccbs = simulator.book.create(json.dumps(activity_for(system, work)).encode())
    by_own = simulator.book.create(json.dumps(activity_for(system, work, own_id)).encode())

    # Then only the one at its own id is taken
    assert by_ccbs.status == 422
    assert f"{system} has no service point SP-0001" in json.loads(by_ccbs.body)["message"]
    assert by_own.status == 201


@pytest.mark.parametrize(("system", "other"), [("WAM", "ODM"), ("ODM", "WAM"), ("WAM", "MWM"), ("ODM", "MWM"), ("MWM", "WAM")])
def test_each_system_refuses_an_activity_in_another_systems_shape(system: str, other: str) -> None:
    from localhub.simulators.base import SimulatorError
    from localhub.simulators.field import mwm, odm, wam

    # Given the system's activity service, and an activity shaped for another system (WAM's service request for ODM...)
    simulator = {"MWM": mwm, "ODM": odm, "WAM": wam}[system]()
    work = {"MWM": "METER_EXCHANGE", "WAM": "SR-MTREXCH", "ODM": "EXCHANGE-METER"}[system]

    # Then the system refuses it as invalid (the simulator's 400), whatever its codes
    with pytest.raises(SimulatorError, match="invalid activity"):
        simulator.book.create(json.dumps(activity_for(other, work)).encode())
