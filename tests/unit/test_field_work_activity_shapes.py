"""FW-01: WAM v1.9 takes a service request and WAM/ODM v2.1 a field activity, each in its own shape, MWM (and CCB)
its activity (packs/field_work/targets.py); each system's own contract (localhub/simulators/field_contract.py, never
the hub's models) takes its shape and refuses the others'. Pure."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from localhub.simulators.field_contract import ACTIVITY_SHAPES
from utilhub.packs.field_work.model import ActivityIn
from utilhub.packs.field_work.targets import ACTIVITY_BODIES, odm_field_activity, wam_service_request

ACTIVITY = ActivityIn.model_validate(
    {
        "sourceSystem": "CCB",
        "activityId": "FA-1001",
        "activityType": "SR-MTREXCH",
        "servicePointId": "WSP-000001",
        "scheduledDate": "2026-12-09",
        "priority": "HIGH",
        "meterId": "B-0001",
        "description": "exchange the meter",
        "customer": {"name": "Marge Simpson", "phone": "+1 555 0100"},
    }
)


def test_wam_gets_a_service_request_in_its_own_names_and_priority_code() -> None:
    assert wam_service_request(ACTIVITY) == {
        "externalSystem": "CCB",
        "externalReference": "FA-1001",
        "requestType": "SR-MTREXCH",
        "servicePoint": "WSP-000001",
        "dateRequired": "2026-12-09",
        "priorityCode": 2,
        "meterBadge": "B-0001",
        "problemDescription": "exchange the meter",
        "requestor": {"name": "Marge Simpson", "phone": "+1 555 0100"},
    }


@pytest.mark.parametrize(("priority", "code"), [("EMERGENCY", 1), ("HIGH", 2), ("NORMAL", 3), ("LOW", 4)])
def test_wams_priority_codes_run_from_the_most_urgent(priority: str, code: int) -> None:
    assert wam_service_request(ACTIVITY.model_copy(update={"priority": priority}))["priorityCode"] == code


def test_odm_gets_a_field_activity_in_its_own_names() -> None:
    activity = ACTIVITY.model_copy(update={"activityType": "EXCHANGE-METER", "servicePointId": "OSP-000001", "customer": None})
    assert odm_field_activity(activity) == {
        "originatingSystem": "CCB",
        "originatingActivityId": "FA-1001",
        "fieldActivityType": "EXCHANGE-METER",
        "servicePointId": "OSP-000001",
        "scheduledDate": "2026-12-09",
        "priority": "HIGH",
        "deviceBadgeNumber": "B-0001",
        "instructions": "exchange the meter",
    }


def body_for(system: str) -> dict[str, Any]:
    codes = {"CCB": "PICKUP", "MWM": "METER_EXCHANGE", "WAM": "SR-MTREXCH", "ODM": "EXCHANGE-METER"}
    return ACTIVITY_BODIES[system](ACTIVITY.model_copy(update={"activityType": codes[system]}))


@pytest.mark.parametrize("system", ["CCB", "MWM", "WAM", "ODM"])
def test_each_system_takes_the_body_made_for_it_and_refuses_every_other_shape(system: str) -> None:
    # Given the system's own contract for an activity created from another system
    shape = ACTIVITY_SHAPES[system]

    # Then the hub's body for it is taken, filed under the source's system and id
    taken = shape.model_validate_json(json.dumps(body_for(system)))
    assert taken.filed_under() == "CCB:FA-1001"

    # And a body shaped for a system of another shape is refused
    for other in ("MWM", "WAM", "ODM"):
        if ACTIVITY_SHAPES[other] is not shape:
            with pytest.raises(ValidationError):
                shape.model_validate_json(json.dumps(body_for(other)))
