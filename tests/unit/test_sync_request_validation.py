"""Validation of a posted sync request against the contract and the entity type's data
model (utilhub.syncrequests.api.validate_sync_request, with the CCB -> MDM flow)."""

from __future__ import annotations

from typing import Any

import pytest

from utilhub.packs.meter_data.sync import FLOW
from utilhub.platform.problems import Problem
from utilhub.platform.settings import MeterDataPack, Settings
from utilhub.syncrequests.api import validate_sync_request
from utilhub.syncrequests.model import SyncRequestIn

DEFAULTS = Settings(meter_data=MeterDataPack(meters_managed_in="CCB"))

VALID_DATA: dict[str, dict[str, Any]] = {
    "PERSON": {"name": "Ada Lovelace"},
    "SERVICE_POINT": {"premiseId": "PR-7"},
    "SERVICE_AGREEMENT": {"accountId": "AC-1", "servicePointIds": ["SP-1"]},
    "SA_RELATIONSHIP": {
        "serviceAgreementId": "SA-1",
        "relatedServiceAgreementId": "SA-2",
        "relationshipType": "NET",
        "startDate": "2026-01-01",
    },
    "DYNAMIC_OPTION": {"serviceAgreementId": "SA-1", "optionType": "CPP", "startDate": "2026-06-01"},
    "DYNAMIC_OPTION_EVENT": {"optionId": "DO-1", "eventType": "PEAK", "startAt": "2026-07-14T16:00:00Z"},
    "METER": {"badgeNumber": "B-100", "meterType": "E-SMART"},
    "METER_CONFIGURATION": {
        "meterId": "M-1",
        "configurationType": "E-1",
        "effectiveAt": "2026-01-10T08:00:00Z",
        "registers": [{"registerId": "R-1", "sequence": 1, "uom": "KWH", "digitsLeft": 6}],
    },
    "SP_METER_HISTORY": {"servicePointId": "SP-1", "meterId": "M-1", "installedAt": "2026-01-10T08:00:00Z"},
    "SCALAR_METER_READ": {
        "meterId": "M-1",
        "spMeterHistoryId": "H-1",
        "readAt": "2026-11-01T07:00:00Z",
        "reads": [{"registerId": "R-1", "uom": "KWH", "reading": 12.5}],
    },
    "BILL_CYCLE": {"billCycleCode": "BC01", "schedule": [{"windowStart": "2026-12-01", "windowEnd": "2026-12-03"}]},
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
    settings = Settings(meter_data=MeterDataPack(meters_managed_in="MDM"))

    # When CCB posts a METER
    problem = refusal(raw_request("METER"), settings)

    # Then it is a 422 on entityType saying why and naming the setting
    assert problem.status == 422
    assert pointers(problem) == ["#/entityType"]
    assert "UTILHUB_METERS_MANAGED_IN=MDM" in problem.detail
    assert "MetersManagedIn" in problem.errors[0].detail


@pytest.mark.parametrize("entity_type", ["METER", "METER_CONFIGURATION", "SP_METER_HISTORY", "SCALAR_METER_READ"])
def test_the_whole_meter_group_is_refused_when_meters_are_managed_in_mdm(entity_type: str) -> None:
    assert pointers(refusal(raw_request(entity_type), Settings(meter_data=MeterDataPack(meters_managed_in="MDM")))) == ["#/entityType"]


@pytest.mark.parametrize("entity_type", ["PERSON", "SERVICE_POINT", "SERVICE_AGREEMENT", "BILL_CYCLE", "DYNAMIC_OPTION"])
def test_master_data_outside_the_meter_group_is_taken_when_meters_are_managed_in_mdm(entity_type: str) -> None:
    assert (
        validate_sync_request(FLOW, raw_request(entity_type), Settings(meter_data=MeterDataPack(meters_managed_in="MDM"))).entityType
        == entity_type
    )


@pytest.mark.parametrize("entity_type", ["METER", "METER_CONFIGURATION", "SP_METER_HISTORY"])
def test_meter_data_of_a_service_order_managed_service_point_is_refused_with_the_reason(entity_type: str) -> None:
    # Given meter data of a service point whose field work goes through Service Order Management
    raw = raw_request(entity_type)
    raw["data"]["serviceOrderManaged"] = True

    # When it is validated, Then it is a 422 on the flag saying why
    problem = refusal(raw)
    assert pointers(problem) == ["#/data/serviceOrderManaged"]
    assert "Service Order Management" in problem.detail


def test_a_service_order_managed_service_point_itself_is_synchronized() -> None:
    raw = raw_request("SERVICE_POINT")
    raw["data"]["serviceOrderManaged"] = True
    assert validate_sync_request(FLOW, raw, DEFAULTS).data["serviceOrderManaged"] is True


def test_meter_is_accepted_when_meters_are_managed_in_ccb() -> None:
    # Given an installation where CCB owns meters
    settings = Settings(meter_data=MeterDataPack(meters_managed_in="CCB"))

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


# --- hostile and inconsistent data of every entity type ---------------------------------------------


def with_data(entity_type: str, **changes: Any) -> dict[str, Any]:
    raw = raw_request(entity_type)
    raw["data"] = {**raw["data"], **changes}
    return raw


@pytest.mark.parametrize(
    ("entity_type", "missing"),
    [(entity_type, field) for entity_type, data in sorted(VALID_DATA.items()) for field in sorted(data)],
)
def test_every_required_field_of_every_entity_type_is_pointed_at(entity_type: str, missing: str) -> None:
    # Given the least valid data of an entity type, less one field
    raw = raw_request(entity_type)
    del raw["data"][missing]

    # When it is validated, Then the missing field is pointed at
    assert pointers(refusal(raw)) == [f"#/data/{missing}"]


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        (with_data("SERVICE_AGREEMENT", startDate="2026-05-01", endDate="2026-04-30"), "#/data/endDate"),
        (with_data("SA_RELATIONSHIP", endDate="2025-12-31"), "#/data/endDate"),
        (with_data("DYNAMIC_OPTION", endDate="2026-05-31"), "#/data/endDate"),
        (with_data("DYNAMIC_OPTION_EVENT", endAt="2026-07-14T16:00:00Z"), "#/data/endAt"),
        (with_data("SP_METER_HISTORY", removedAt="2026-01-10T07:59:59Z"), "#/data/removedAt"),
        (with_data("SP_METER_HISTORY", removedAt="2026-01-10T09:00:00+02:00"), "#/data/removedAt"),
        (with_data("BILL_CYCLE", schedule=[{"windowStart": "2026-12-03", "windowEnd": "2026-12-01"}]), "#/data/schedule/0/windowEnd"),
    ],
)
def test_an_end_before_its_start_is_pointed_at(raw: dict[str, Any], pointer: str) -> None:
    assert pointers(refusal(raw)) == [pointer]


def test_a_removal_after_the_installation_is_accepted() -> None:
    raw = with_data("SP_METER_HISTORY", removedAt="2026-03-01T00:00:00Z")
    assert validate_sync_request(FLOW, raw, DEFAULTS).data["removedAt"] == "2026-03-01T00:00:00Z"


def test_bill_windows_that_overlap_are_refused() -> None:
    windows = [{"windowStart": "2026-12-01", "windowEnd": "2026-12-05"}, {"windowStart": "2026-12-05", "windowEnd": "2026-12-07"}]
    assert pointers(refusal(with_data("BILL_CYCLE", schedule=windows))) == ["#/data/schedule"]


def register(**changes: Any) -> dict[str, Any]:
    return {"registerId": "R-1", "sequence": 1, "uom": "KWH", "digitsLeft": 6, **changes}


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        (with_data("METER_CONFIGURATION", registerCount=-1), "#/data/registerCount"),
        (with_data("METER_CONFIGURATION", registerCount=3), "#/data/registers"),
        (with_data("METER_CONFIGURATION", registers=[]), "#/data/registers"),
        (with_data("METER_CONFIGURATION", registers=[register(), register(sequence=2)]), "#/data/registers"),
        (with_data("METER_CONFIGURATION", registers=[register(digitsLeft=-6)]), "#/data/registers/0/digitsLeft"),
        (with_data("METER_CONFIGURATION", registers=[register(multiplier=0)]), "#/data/registers/0/multiplier"),
        (with_data("METER_CONFIGURATION", registers=[register(multiplier=float("nan"))]), "#/data/registers/0/multiplier"),
        (with_data("METER_CONFIGURATION", registers=[register(multiplier=float("inf"))]), "#/data/registers/0/multiplier"),
        (with_data("METER_CONFIGURATION", registers=[register(uom="FURLONG")]), "#/data/registers/0/uom"),
        (with_data("SCALAR_METER_READ", reads=[{"registerId": "R-1", "uom": "KWH", "reading": -1}]), "#/data/reads/0/reading"),
        (with_data("SCALAR_METER_READ", reads=[{"registerId": "R-1", "uom": "KWH", "reading": float("nan")}]), "#/data/reads/0/reading"),
        (with_data("SCALAR_METER_READ", reads=[{"registerId": "R-1", "uom": "kwh!", "reading": 1}]), "#/data/reads/0/uom"),
        (with_data("SCALAR_METER_READ", readAt="2026-11-01T07:00:00"), "#/data/readAt"),
        (with_data("SERVICE_AGREEMENT", servicePointIds=["SP-1", "SP-1"]), "#/data/servicePointIds"),
        (with_data("SERVICE_AGREEMENT", servicePointIds=["SP 1"]), "#/data/servicePointIds/0"),
        (with_data("SA_RELATIONSHIP", relatedServiceAgreementId="SA-1"), "#/data/relatedServiceAgreementId"),
        (with_data("PERSON", extraReading=float("nan")), "#/data/extraReading"),
        (with_data("BILL_CYCLE", custom={"rates": [1.0, float("-inf")]}), "#/data/custom/rates/1"),
    ],
)
def test_units_numbers_and_identifiers_are_pointed_at(raw: dict[str, Any], pointer: str) -> None:
    problem = refusal(raw)
    assert problem.status == 422
    assert pointers(problem) == [pointer]


def test_units_are_taken_in_any_case_and_stored_in_capitals() -> None:
    raw = with_data("SCALAR_METER_READ", reads=[{"registerId": "R-1", "uom": " kWh ", "reading": 12.5}])
    assert validate_sync_request(FLOW, raw, DEFAULTS).data["reads"] == [{"registerId": "R-1", "uom": "KWH", "reading": 12.5}]


@pytest.mark.parametrize(
    ("raw", "pointer"),
    [
        (raw_request(changedAt=0), "#/changedAt"),
        (with_data("SCALAR_METER_READ", readAt=0), "#/data/readAt"),
        (with_data("SCALAR_METER_READ", reads=[{"registerId": "R-1", "uom": "KWH", "reading": "12.5"}]), "#/data/reads/0/reading"),
        (with_data("BILL_CYCLE", schedule=[{"windowStart": 0, "windowEnd": "2026-12-03"}]), "#/data/schedule/0/windowStart"),
        (with_data("METER_CONFIGURATION", registers=[register(sequence=True)]), "#/data/registers/0/sequence"),
    ],
)
def test_a_json_value_of_another_json_type_than_the_field_is_pointed_at(raw: dict[str, Any], pointer: str) -> None:
    # Given JSON an application sent with a number for a date or date-time, a string for a number, a boolean for an integer
    problem = refusal(raw)

    # Then it is refused, as the spec says, not converted
    assert problem.status == 422
    assert pointers(problem) == [pointer]


def test_what_a_codec_read_from_xml_is_converted_to_the_fields_types() -> None:
    # Given a request a codec read from XML: numbers as text
    raw = with_data("SCALAR_METER_READ", reads=[{"registerId": "R-1", "uom": "KWH", "reading": "12.5"}])

    # When it is validated as XML's
    request = validate_sync_request(FLOW, raw, DEFAULTS, xml=True)

    # Then the text is converted
    assert request.data["reads"] == [{"registerId": "R-1", "uom": "KWH", "reading": 12.5}]


@pytest.mark.parametrize(("given", "kept"), [("GAS", "GAS"), ("water", "WATER"), ("G", "GAS"), (" e ", "ELECTRIC")])
def test_a_service_agreement_s_service_type_is_taken_in_the_hub_s_or_ccb_s_codes(given: str, kept: str) -> None:
    # Given an SA whose serviceType is the hub's code or CCB's (the ServiceType domain value map), in any case
    data = {**VALID_DATA["SERVICE_AGREEMENT"], "serviceType": given}

    # Then it is stored with the hub's code
    request = validate_sync_request(FLOW, raw_request("SERVICE_AGREEMENT", data=data), DEFAULTS)
    assert request.data["serviceType"] == kept


def test_a_service_type_with_no_mapping_is_422_naming_it() -> None:
    data = {**VALID_DATA["SERVICE_AGREEMENT"], "serviceType": "STEAM"}
    problem = refusal(raw_request("SERVICE_AGREEMENT", data=data))
    assert problem.status == 422
    assert pointers(problem) == ["#/data/serviceType"]
