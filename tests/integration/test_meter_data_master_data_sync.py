"""MD-02..10 and MD-18, CCB -> MDM, through the real handlers, moto and the MDM simulator: each
entity type from its sample events (JSON and CCB XML) to the MDM record that keeps it, the meter
group under both settings, and bad input refused with pointers and never stored."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from localhub.hub import LocalHub
from localhub.lambda_.runtime import invoke
from localhub.simulators.mdm import MdmSimulator
from tests.conftest import sample_event
from tests.helpers import JSON
from tests.integration.test_meter_data_person_sync import API, CLAIMS, cycle, status_of, submit

# sample name -> the samples whose records MDM must hold first (posted and synchronized before it)
PARENTS: dict[str, list[str]] = {
    "service-point": [],
    "service-agreement": ["person", "service-point"],
    "sa-relationship": ["person", "service-point", "service-agreement"],
    "dynamic-option": ["person", "service-point", "service-agreement"],
    "dynamic-option-event": ["person", "service-point", "service-agreement", "dynamic-option"],
    "meter": [],
    "meter-configuration": ["meter"],
    "sp-meter-history": ["service-point", "meter", "meter-configuration"],
    "scalar-meter-read": ["service-point", "meter", "meter-configuration", "sp-meter-history"],
    "bill-cycle": [],
}
# sample name -> (entity type, the MDM record kind, (JSON sample's entity id, an element and its value))
EXPECTED: dict[str, tuple[str, str, tuple[str, str, Any]]] = {
    "service-point": ("SERVICE_POINT", "ServicePoint", ("SP-0001", "BillCycleCode", "BC01")),
    "service-agreement": ("SERVICE_AGREEMENT", "UsageSubscription", ("SA-0001", "MainContactId", "P-0001")),
    "sa-relationship": ("SA_RELATIONSHIP", "UsageSubscriptionRelationship", ("SAR-0001", "RelatedUsageSubscriptionId", "SA-0002")),
    "dynamic-option": ("DYNAMIC_OPTION", "DynamicOption", ("DO-0001", "OptionType", "CRITICAL-PEAK")),
    "dynamic-option-event": ("DYNAMIC_OPTION_EVENT", "DynamicOptionEvent", ("DOE-0001", "DynamicOptionId", "DO-0001")),
    "meter": ("METER", "Device", ("M-0001", "BadgeNumber", "B-000001")),
    "meter-configuration": ("METER_CONFIGURATION", "DeviceConfiguration", ("MC-0001", "DeviceId", "M-0001")),
    "sp-meter-history": ("SP_METER_HISTORY", "InstallEvent", ("H-0001", "InstallDateTime", "2026-01-10T08:00:00Z")),
    "scalar-meter-read": ("SCALAR_METER_READ", "Measurement", ("R-0001", "InstallEventId", "H-0001")),
    "bill-cycle": ("BILL_CYCLE", "BillCycleSchedule", ("BC01", "BillCycleCode", "BC01")),
}


def post_sample(hub: LocalHub, name: str) -> str:
    """Post a sample event through the API function; returns its sync request id."""
    response = hub.invoke(API, sample_event(f"meter_data/sync_requests/submit-{name}.json")).result
    assert response["statusCode"] == 202, response
    return str(json.loads(response["body"])["syncRequestId"])


def post_both(hub: LocalHub, name: str) -> list[str]:
    return [post_sample(hub, name), post_sample(hub, f"{name}-xml")]


@pytest.mark.parametrize("name", sorted(PARENTS))
def test_each_entity_type_reaches_mdm_as_its_own_record(hub: LocalHub, name: str) -> None:
    # Given MDM holds what the entity refers to
    for parent in PARENTS[name]:
        post_both(hub, parent)
        cycle(hub)
    # When CCB posts the entity type's JSON and XML samples, and the monitor and delivery run
    ids = post_both(hub, name)
    cycle(hub)
    # Then both are SYNCHRONIZED, and MDM keeps each as the record of its kind, not an attribute bag
    assert [status_of(hub, i)["status"] for i in ids] == ["SYNCHRONIZED", "SYNCHRONIZED"], [status_of(hub, i) for i in ids]
    entity_type, kind, (entity_id, element, value) = EXPECTED[name]
    mdm = hub.simulators["MDM"]
    assert isinstance(mdm, MdmSimulator)
    record = mdm.records[f"{entity_type}#{entity_id}"]
    assert record["kind"] == kind
    assert record["data"][element] == value
    assert mdm.records_by_kind()[kind] == 2


def test_a_meter_configuration_keeps_one_measuring_component_per_register(hub: LocalHub) -> None:
    post_both(hub, "meter")
    cycle(hub)
    post_sample(hub, "meter-configuration-xml")
    cycle(hub)
    components = hub.simulators["MDM"].records["METER_CONFIGURATION#MC-0002"]["data"]["MeasuringComponents"]["MeasuringComponent"]
    assert [(c["ExternalId"], c["Uom"], c["Multiplier"]) for c in components] == [("REG-0002-1", "KWH", "40"), ("REG-0002-2", "KW", "40")]


def test_a_read_before_its_installation_is_refused_by_mdm_with_the_reason(hub: LocalHub) -> None:
    # Given the installation H-0001 (from 2026-01-10) in MDM
    for parent in PARENTS["scalar-meter-read"]:
        post_sample(hub, parent)
        cycle(hub)
    # When a read taken before it is synchronized
    read = sample_body("scalar-meter-read")
    read.update(syncRequestId="SR-EARLY", entityId="R-EARLY")
    read["data"]["readAt"] = "2025-12-31T23:00:00Z"
    assert submit(hub, read).status == 202
    cycle(hub)
    # Then MDM's negative acknowledgement is the request's ERROR reason
    state = status_of(hub, "SR-EARLY")
    assert (state["status"], state["history"][-1]["reason"]) == ("ERROR", "read taken outside its install event's period")


# ---------------------------------------------------------------------------- the meter group and its settings


METER_GROUP = ["meter", "meter-configuration", "sp-meter-history", "scalar-meter-read"]


@pytest.mark.parametrize("name", [*METER_GROUP, *(f"{n}-xml" for n in METER_GROUP)])
def test_meter_group_is_422_naming_the_setting_when_meters_are_managed_in_mdm(hub: LocalHub, name: str) -> None:
    # Given an installation where meters are managed in MDM
    event = sample_event(f"meter_data/sync_requests/submit-{name}.json")
    # When CCB posts meter data
    result = invoke(hub.function(API), event, extra_environment={"UTILHUB_METERS_MANAGED_IN": "MDM"})
    # Then it is refused, naming the setting, and nothing is stored
    response = result.result
    problem = json.loads(response["body"])
    assert response["statusCode"] == 422, response
    assert "UTILHUB_METERS_MANAGED_IN=MDM" in problem["detail"]
    assert problem["errors"][0]["pointer"] == "#/entityType"
    found = re.search(r'"syncRequestId": "([^"]+)"|<SyncRequestId>([^<]+)<', event["body"])
    assert found is not None
    assert hub.call_api("GET", f"/meter-data/sync-requests/{found[1] or found[2]}", claims=CLAIMS).status == 404


def test_master_data_is_still_taken_when_meters_are_managed_in_mdm(hub: LocalHub) -> None:
    event = sample_event("meter_data/sync_requests/submit-service-point.json")
    result = invoke(hub.function(API), event, extra_environment={"UTILHUB_METERS_MANAGED_IN": "MDM"})
    assert result.result["statusCode"] == 202


@pytest.mark.parametrize("name", ["meter", "meter-configuration", "sp-meter-history"])
def test_meter_data_of_a_service_order_managed_service_point_is_refused(hub: LocalHub, name: str) -> None:
    body = json.loads(sample_event(f"meter_data/sync_requests/submit-{name}.json")["body"])
    body["data"]["serviceOrderManaged"] = True
    response = submit(hub, body)
    assert response.status == 422
    assert response.json()["errors"][0]["pointer"] == "#/data/serviceOrderManaged"
    assert "Service Order Management" in response.json()["detail"]
    assert hub.call_api("GET", f"/meter-data/sync-requests/{body['syncRequestId']}", claims=CLAIMS).status == 404


def test_service_order_managed_flag_in_ccb_xml_is_refused(hub: LocalHub) -> None:
    event = sample_event("meter_data/sync_requests/submit-sp-meter-history-xml.json")
    event["body"] = event["body"].replace("</InstallDateTime>", "</InstallDateTime>\n    <ServiceOrderManaged>true</ServiceOrderManaged>")
    response = hub.invoke(API, event).result
    assert response["statusCode"] == 422, response
    assert json.loads(response["body"])["errors"][0]["pointer"] == "#/data/serviceOrderManaged"


# ---------------------------------------------------------------------------- bad input


def sample_body(name: str) -> dict[str, Any]:
    return dict(json.loads(sample_event(f"meter_data/sync_requests/submit-{name}.json")["body"]))


@pytest.mark.parametrize(
    ("name", "raw_body", "pointer"),
    [
        ("scalar-meter-read", lambda b: b.replace('"reading": 4211.5', '"reading": NaN'), "#/data/reads/0/reading"),
        ("scalar-meter-read", lambda b: b.replace('"reading": 4211.5', '"reading": -4211.5'), "#/data/reads/0/reading"),
        ("scalar-meter-read", lambda b: b.replace('"reading": 4211.5', '"reading": 1e999'), "#/data/reads/0/reading"),
        ("meter-configuration", lambda b: b.replace('"registerCount": 2', '"registerCount": -2'), "#/data/registerCount"),
        ("meter-configuration", lambda b: b.replace('"multiplier": 1}', '"multiplier": Infinity}', 1), "#/data/registers/0/multiplier"),
        ("meter-configuration", lambda b: b.replace('"uom": "KWH"', '"uom": "PINTS"', 1), "#/data/registers/0/uom"),
        (
            "sp-meter-history",
            lambda b: b.replace('"installedAt"', '"removedAt": "2026-01-01T00:00:00Z", "installedAt"'),
            "#/data/removedAt",
        ),
        ("dynamic-option", lambda b: b.replace('"endDate": "2026-09-30"', '"endDate": "2026-05-01"'), "#/data/endDate"),
        ("bill-cycle", lambda b: b.replace('"windowEnd": "2026-12-03"', '"windowEnd": "2026-11-30"'), "#/data/schedule/0/windowEnd"),
        ("sa-relationship", lambda b: b.replace('"relationshipType": "NET-METERING", ', ""), "#/data/relationshipType"),
    ],
)
def test_hostile_values_are_422_with_a_pointer_and_nothing_is_stored(hub: LocalHub, name: str, raw_body: Any, pointer: str) -> None:
    # Given a sample made invalid in its text (so NaN and infinity arrive as JSON numbers would)
    event = sample_event(f"meter_data/sync_requests/submit-{name}.json")
    body = raw_body(event["body"])
    assert body != event["body"]
    # When it is posted
    response = hub.call_api("POST", "/meter-data/sync-requests", body=body, headers=JSON, claims=CLAIMS)
    # Then it is a 422 pointing at the field, and the request is not stored
    assert response.status == 422, response.body
    assert pointer in [e["pointer"] for e in response.json()["errors"]], response.json()
    assert hub.call_api("GET", f"/meter-data/sync-requests/{sample_body(name)['syncRequestId']}", claims=CLAIMS).status == 404


def test_a_ccb_xml_element_of_another_entity_type_is_422(hub: LocalHub) -> None:
    event = sample_event("meter_data/sync_requests/submit-meter-xml.json")
    event["body"] = event["body"].replace("<EntityType>METER</EntityType>", "<EntityType>SERVICE_POINT</EntityType>")
    response = hub.invoke(API, event).result
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["errors"] == [{"pointer": "#/data", "detail": "is a Meter element, which carries METER"}]
