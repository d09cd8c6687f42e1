"""Validation of a posted sync request against the contract and the entity type's data
model (utilhub.syncrequests.api.validate_sync_request, with the CCB -> MDM flow)."""

from __future__ import annotations

from typing import Any

import pytest

from utilhub.packs.meter_data.sync import FLOW
from utilhub.platform.problems import Problem
from utilhub.platform.settings import Settings
from utilhub.syncrequests.api import validate_sync_request
from utilhub.syncrequests.model import SyncRequestIn

DEFAULTS = Settings(meters_managed_in="CCB")

VALID_DATA: dict[str, dict[str, Any]] = {
    "PERSON": {"name": "Ada Lovelace"},
    "SERVICE_POINT": {"premiseId": "PR-7"},
    "SERVICE_AGREEMENT": {"accountId": "AC-1", "servicePointIds": ["SP-1"]},
    "METER": {"badgeNumber": "B-100"},
}


def raw_request(entity_type: str = "PERSON", **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "syncRequestId": "sr-1",
        "entityType": entity_type,
        "entityId": "E-1",
        "changedAt": "2024-05-01T10:00:00+02:00",
        "data": dict(VALID_DATA.get(entity_type, {})),
    }
    raw.update(changes)
    return raw


def refusal(raw: dict[str, Any], settings: Settings = DEFAULTS, root: str = "") -> Problem:
    with pytest.raises(Problem) as caught:
        validate_sync_request(FLOW, raw, settings, root)
    return caught.value


def pointers(problem: Problem) -> list[str]:
    return [error.pointer for error in problem.errors]


@pytest.mark.parametrize("entity_type", sorted(VALID_DATA))
def test_request_meeting_the_contract_is_accepted(entity_type: str) -> None:
    # Given a request with the least data its entity type needs
    raw = raw_request(entity_type)

    # When it is validated
    request = validate_sync_request(FLOW, raw, DEFAULTS)

    # Then it comes back as the contract model, data kept
    assert isinstance(request, SyncRequestIn)
    assert (request.syncRequestId, request.entityType, request.entityId) == ("sr-1", entity_type, "E-1")
    assert request.data.items() >= VALID_DATA[entity_type].items()


def test_person_without_name_is_422_pointing_at_data_name() -> None:
    # Given a PERSON without a name
    problem = refusal(raw_request("PERSON", data={"personType": "PERSON"}))

    # Then it is a 422 pointing at the missing field
    assert problem.status == 422
    assert pointers(problem) == ["#/data/name"]


def test_service_point_without_premise_is_422_pointing_at_data_premise_id() -> None:
    # Given a SERVICE_POINT without a premise
    problem = refusal(raw_request("SERVICE_POINT", data={"spType": "E-RES"}))

    # Then it is a 422 pointing at premiseId
    assert problem.status == 422
    assert pointers(problem) == ["#/data/premiseId"]


def test_service_agreement_without_service_points_is_422() -> None:
    # Given a SERVICE_AGREEMENT with an account but no service points
    problem = refusal(raw_request("SERVICE_AGREEMENT", data={"accountId": "AC-1"}))

    # Then it is a 422 pointing at servicePointIds
    assert problem.status == 422
    assert pointers(problem) == ["#/data/servicePointIds"]


def test_service_agreement_with_empty_service_point_list_is_422() -> None:
    # Given a SERVICE_AGREEMENT whose service point list is empty
    problem = refusal(raw_request("SERVICE_AGREEMENT", data={"accountId": "AC-1", "servicePointIds": []}))

    # Then it is a 422 pointing at servicePointIds
    assert problem.status == 422
    assert pointers(problem) == ["#/data/servicePointIds"]


def test_service_agreement_without_account_is_422() -> None:
    # Given a SERVICE_AGREEMENT without an account
    problem = refusal(raw_request("SERVICE_AGREEMENT", data={"servicePointIds": ["SP-1"]}))

    # Then it is a 422 pointing at accountId
    assert problem.status == 422
    assert pointers(problem) == ["#/data/accountId"]


def test_unknown_entity_type_is_422_pointing_at_entity_type() -> None:
    # Given an entity type the flow does not synchronize
    problem = refusal(raw_request("WATER_HEATER", data={}))

    # Then it is a 422 pointing at entityType and listing the accepted ones
    assert problem.status == 422
    assert pointers(problem) == ["#/entityType"]
    assert "PERSON" in problem.errors[0].detail


def test_meter_is_refused_when_meters_are_managed_in_mdm() -> None:
    # Given an installation where MDM owns meters
    settings = Settings(meters_managed_in="MDM")

    # When CCB posts a METER
    problem = refusal(raw_request("METER"), settings)

    # Then it is a 422 on entityType saying why
    assert problem.status == 422
    assert pointers(problem) == ["#/entityType"]
    assert "MDM" in problem.errors[0].detail


def test_meter_is_accepted_when_meters_are_managed_in_ccb() -> None:
    # Given an installation where CCB owns meters
    settings = Settings(meters_managed_in="CCB")

    # When CCB posts a METER, Then it is accepted
    assert validate_sync_request(FLOW, raw_request("METER"), settings).entityType == "METER"


def test_changed_at_without_time_zone_is_refused() -> None:
    # Given a changedAt with no offset (ambiguous instant)
    problem = refusal(raw_request(changedAt="2024-05-01T10:00:00"))

    # Then it is a 422 pointing at changedAt
    assert problem.status == 422
    assert pointers(problem) == ["#/changedAt"]


@pytest.mark.parametrize(
    "sync_request_id",
    [pytest.param("sr 1", id="inner-space"), pytest.param("a" * 65, id="65-chars"), pytest.param("-sr-1", id="leading-dash")],
)
def test_malformed_sync_request_id_is_refused(sync_request_id: str) -> None:
    # Given a syncRequestId outside the id pattern
    problem = refusal(raw_request(syncRequestId=sync_request_id))

    # Then it is a 422 pointing at syncRequestId
    assert problem.status == 422
    assert pointers(problem) == ["#/syncRequestId"]


def test_sync_request_id_of_64_chars_is_accepted() -> None:
    # Given a syncRequestId of exactly the maximum length
    sync_request_id = "a" * 64

    # When it is validated, Then it is kept as is
    assert validate_sync_request(FLOW, raw_request(syncRequestId=sync_request_id), DEFAULTS).syncRequestId == sync_request_id


def test_root_prefixes_pointers_of_contract_fields() -> None:
    # Given the fourth request of a batch with a bad changedAt
    problem = refusal(raw_request(changedAt="2024-05-01T10:00:00"), root="/requests/3")

    # Then the pointer locates it inside the batch
    assert pointers(problem) == ["#/requests/3/changedAt"]


def test_root_prefixes_pointers_of_data_fields() -> None:
    # Given the fourth request of a batch: a PERSON without a name
    problem = refusal(raw_request("PERSON", data={}), root="/requests/3")

    # Then the pointer locates the data field inside the batch
    assert pointers(problem) == ["#/requests/3/data/name"]


def test_root_prefixes_pointer_of_unknown_entity_type() -> None:
    # Given the fourth request of a batch with an unknown entity type
    problem = refusal(raw_request("WATER_HEATER", data={}), root="/requests/3")

    # Then the pointer locates entityType inside the batch
    assert pointers(problem) == ["#/requests/3/entityType"]


def test_every_invalid_data_field_is_listed() -> None:
    # Given a PERSON with a bad email and a bad phone number
    data = {"name": "Ada", "emailAddress": "not-an-email", "phones": [{"type": "HOME", "number": "x"}]}

    # When it is validated
    problem = refusal(raw_request("PERSON", data=data))

    # Then each field has its own pointer
    assert problem.status == 422
    assert sorted(pointers(problem)) == ["#/data/emailAddress", "#/data/phones/0/number"]


def test_extra_data_fields_are_kept() -> None:
    # Given a PERSON with fields of the installation's own, nested ones included
    data = {"name": "Ada", "customerSegment": "RESIDENTIAL", "cisExtras": {"routeCode": "R-12", "tags": ["a", "b"]}}

    # When it is validated
    request = validate_sync_request(FLOW, raw_request("PERSON", data=data), DEFAULTS)

    # Then they are still in the data, unchanged
    assert request.data["customerSegment"] == "RESIDENTIAL"
    assert request.data["cisExtras"] == {"routeCode": "R-12", "tags": ["a", "b"]}
    assert request.data["name"] == "Ada"
