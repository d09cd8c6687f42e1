"""MD-19 SA activation bill cycle request and MD-17 usage adjustment (synchronous to MDM within the time budget:
404 passed on, 502 when MDM answers an error, 504 when it does not answer in time) and MD-21 navigation links
(configured templates, SSM override). The functions in-process, the MDM simulator over HTTP."""

from __future__ import annotations

import json
from typing import Any

import boto3

from localhub.hub import LocalHub
from localhub.simulators.mdm import MdmSimulator
from tests.conftest import sample_event
from tests.helpers import post_json
from tests.integration.test_meter_data_master_data_sync import post_sample
from tests.integration.test_meter_data_person_sync import cycle
from utilhub.platform import aws

CLAIMS = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
BILL_CYCLE = "MeterDataBillCycleFunction"
ADJUSTMENT = "MeterDataAdjustmentFunction"
LINKS = "MeterDataLinksFunction"


def mdm_holds_sa_0001(hub: LocalHub) -> None:
    """CCB synchronizes person P-0001, service point SP-0001 (bill cycle BC01) and SA-0001 on it to MDM."""
    for name in ("person", "service-point", "service-agreement"):
        post_sample(hub, name)
        cycle(hub)
    assert "SERVICE_AGREEMENT#SA-0001" in hub.simulators["MDM"].records


def post(hub: LocalHub, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return post_json(hub, path, body, CLAIMS, headers)


def adjustment(**changes: Any) -> dict[str, Any]:
    return {**json.loads(sample_event("meter_data/usage_adjustments/usage-adjustment.json")["body"]), **changes}


def links(hub: LocalHub, query: str) -> Any:
    return hub.call_api("GET", "/meter-data/links", query=query, claims=hub.claims_of("CCB"))


# ---------------------------------------------------------------- MD-19
def test_sa_activation_gets_the_bill_cycle_of_its_service_point_from_mdm(hub: LocalHub) -> None:
    # Given MDM holds SA-0001 on SP-0001, whose bill cycle schedule is BC01
    mdm_holds_sa_0001(hub)

    # When CCB activates the SA and asks its bill cycle (the sample event)
    answer = hub.invoke(BILL_CYCLE, sample_event("meter_data/bill_cycle_requests/bill-cycle-request.json")).result

    # Then MDM's answer is passed on
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"saId": "SA-0001", "servicePointId": "SP-0001", "billCycle": "BC01"}


def test_a_bill_cycle_request_posted_again_under_its_idempotency_key_answers_the_first_answer(hub: LocalHub) -> None:
    # Given MDM holds SA-0001 on SP-0001
    mdm_holds_sa_0001(hub)
    body = {"saId": "SA-0001", "servicePointId": "SP-0001"}

    # When CCB posts the request twice under one Idempotency-Key, then another body under the same key
    first = post(hub, "/meter-data/bill-cycle-requests", body, {"idempotency-key": "BC-REQ-1"})
    again = post(hub, "/meter-data/bill-cycle-requests", body, {"idempotency-key": "BC-REQ-1"})
    other = post(hub, "/meter-data/bill-cycle-requests", {**body, "servicePointId": "SP-0002"}, {"idempotency-key": "BC-REQ-1"})

    # Then MDM was asked once, the repeat answered the first answer, and the other body is a 409
    assert (first.status, again.status, other.status) == (200, 200, 409)
    assert again.json() == first.json() == {**body, "billCycle": "BC01"}
    mdm = hub.simulators["MDM"]
    assert isinstance(mdm, MdmSimulator)
    assert mdm.billing.bill_cycle_requests == 1


def test_an_sa_or_service_point_mdm_does_not_hold_is_404(hub: LocalHub) -> None:
    # Given MDM holds SA-0001 on SP-0001 only
    mdm_holds_sa_0001(hub)

    # When CCB asks for an SA MDM does not hold, and for SA-0001 with another service point
    unknown_sa = post(hub, "/meter-data/bill-cycle-requests", {"saId": "SA-9999", "servicePointId": "SP-0001"})
    other_sp = post(hub, "/meter-data/bill-cycle-requests", {"saId": "SA-0001", "servicePointId": "SP-0002"})

    # Then both are 404 problems naming MDM's answer by its status (its message, which may repeat what it was
    # given, is not passed on)
    assert (unknown_sa.status, other_sp.status) == (404, 404)
    assert unknown_sa.json()["detail"].startswith("MDM: HTTP 404")
    assert other_sp.json()["detail"].startswith("MDM: HTTP 404")


def test_mdm_down_is_502_and_slow_is_504_within_the_budget(hub: LocalHub) -> None:
    # Given MDM down for its next call, then slower than the budget
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 1})
    hub.simulators["MDM"].add_fault({"kind": "slow", "count": 1, "seconds": 12})
    body = {"saId": "SA-0001", "servicePointId": "SP-0001"}

    # When CCB asks twice
    down = post(hub, "/meter-data/bill-cycle-requests", body)
    slow = post(hub, "/meter-data/bill-cycle-requests", body)

    # Then 502 then 504, each naming MDM
    assert (down.status, down.json()["target"]) == (502, "MDM")
    assert (slow.status, slow.json()["target"]) == (504, "MDM")


def test_a_bad_bill_cycle_request_is_422_and_never_reaches_mdm(hub: LocalHub) -> None:
    # Given requests without a service point, and with a hostile SA id
    answers = [
        post(hub, "/meter-data/bill-cycle-requests", {"saId": "SA-0001"}),
        post(hub, "/meter-data/bill-cycle-requests", {"saId": "../SA-1", "servicePointId": "SP-0001"}),
    ]

    # Then each is a 422 naming the field, and MDM was never called
    assert [a.status for a in answers] == [422, 422]
    assert [a.json()["errors"][0]["pointer"] for a in answers] == ["#/servicePointId", "#/saId"]
    assert hub.simulators["MDM"].received_total == 0


# ---------------------------------------------------------------- MD-17
def test_a_usage_adjustment_is_made_once_at_mdm_and_answered_the_same_again(hub: LocalHub) -> None:
    # Given MDM holds SA-0001
    mdm_holds_sa_0001(hub)

    # When self-service asks the sample adjustment twice (a retry after a lost answer), then with other values
    first = hub.invoke(ADJUSTMENT, sample_event("meter_data/usage_adjustments/usage-adjustment.json")).result
    again = post(hub, "/meter-data/usage-adjustments", adjustment())
    changed = post(hub, "/meter-data/usage-adjustments", adjustment(quantity=-50))

    # Then MDM made one usage transaction and answered it twice; the other values are a 409
    assert first["statusCode"] == 200
    made = json.loads(first["body"])
    assert made == again.json()
    assert (made["status"], made["quantity"], made["uom"]) == ("APPLIED", -42.5, "KWH")
    assert list(hub.simulators["MDM"].state()["billing"]["usageAdjustments"]) == ["CSS-ADJ-4001"]
    assert changed.status == 409


def test_an_adjustment_reaches_mdm_in_mdms_unit_and_is_answered_in_the_hubs(hub: LocalHub) -> None:
    # Given MDM holds SA-0001
    mdm_holds_sa_0001(hub)

    # When self-service adjusts therms, then asks an adjustment in a unit MDM has no code for
    therms = post(hub, "/meter-data/usage-adjustments", adjustment(adjustmentId="CSS-ADJ-T", uom="THERM", quantity=12.5))
    unmapped = post(hub, "/meter-data/usage-adjustments", adjustment(adjustmentId="CSS-ADJ-V", uom="KVARH"))

    # Then MDM made the first in its own code (thm) and the hub answers it in its own (THERM); the second is a 422
    # naming the unit, and MDM never saw it
    assert (therms.status, therms.json()["uom"], therms.json()["quantity"]) == (200, "THERM", 12.5)
    assert hub.simulators["MDM"].state()["billing"]["usageAdjustments"]["CSS-ADJ-T"]["uom"] == "thm"
    assert (unmapped.status, unmapped.json()["errors"][0]["pointer"]) == (422, "#/uom")
    assert "CSS-ADJ-V" not in hub.simulators["MDM"].state()["billing"]["usageAdjustments"]


def test_an_adjustment_for_an_sa_mdm_does_not_hold_is_404_and_mdm_down_is_502(hub: LocalHub) -> None:
    # Given MDM without SA-0009, and then down
    # When self-service asks an adjustment for SA-0009, then another while MDM is down
    unknown = post(hub, "/meter-data/usage-adjustments", adjustment(saId="SA-0009"))
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 2})
    down = post(hub, "/meter-data/usage-adjustments", adjustment(adjustmentId="CSS-ADJ-2"))

    # Then 404 passed on, and 502 naming MDM, tried once only (it changes something)
    assert unknown.status == 404
    assert (down.status, down.json()["target"]) == (502, "MDM")
    assert [fault.remaining for fault in hub.simulators["MDM"].faults] == [1]


def test_a_bad_adjustment_is_422_naming_the_field(hub: LocalHub) -> None:
    # Given adjustments with a period that ends before it starts, a quantity of 0, an unknown unit, no reason
    bad = [
        adjustment(periodEnd="2026-09-30"),
        adjustment(quantity=0),
        adjustment(uom="PARSECS"),
        adjustment(reason=""),
    ]

    # When each is posted
    answers = [post(hub, "/meter-data/usage-adjustments", body) for body in bad]

    # Then each is a 422 naming its field, and MDM was never called
    assert [a.status for a in answers] == [422] * 4
    assert [a.json()["errors"][0]["pointer"] for a in answers] == ["#/periodEnd", "#/quantity", "#/uom", "#/reason"]
    assert hub.simulators["MDM"].received_total == 0


# ---------------------------------------------------------------- MD-21
def test_links_of_an_sa_from_the_shipped_templates_with_the_id_escaped(hub: LocalHub) -> None:
    # Given the sample query, and an SA id that would break a raw URL
    sample = hub.invoke(LINKS, sample_event("meter_data/links/links-service-agreement.json")).result
    hostile = links(hub, "entityType=SERVICE_AGREEMENT&entityId=SA%201%26script%3Devil")

    # Then the SA's usage subscription and 360 view links, the id URL-quoted
    assert sample["statusCode"] == 200
    assert [link["rel"] for link in json.loads(sample["body"])["links"]] == ["mdm-usage-subscription", "mdm-360-view"]
    assert hostile.status == 200
    assert hostile.json()["links"][0]["href"].endswith("externalId=SA%201%26script%3Devil")


def test_an_unknown_entity_type_is_422(hub: LocalHub) -> None:
    answer = links(hub, "entityType=INVOICE&entityId=I-1")
    assert answer.status == 422
    assert answer.json()["errors"][0]["pointer"] == "#/entityType"


def test_the_deployments_templates_in_ssm_replace_the_shipped_ones(hub: LocalHub) -> None:
    # Given this deployment's MDM host for the person's links, in the links parameter
    ssm = boto3.client("ssm", region_name=hub._stack().region)
    override = {"entityTypes": {"PERSON": [{"rel": "mdm-contact", "href": "https://mdm.utility.test/contact?ext={id}"}]}}
    name = hub.resources()["MeterDataLinksParameter"]
    ssm.put_parameter(Name=name, Value=json.dumps(override), Overwrite=True, Type="String")
    aws.clear_parameter_caches()  # the functions' cache of the parameter (max age 300 s) starts afresh
    try:
        # When CCB asks the links of a person and of a meter
        person = links(hub, "entityType=PERSON&entityId=P-0001")
        meter = links(hub, "entityType=METER&entityId=M-0001")

        # Then the person's link is the deployment's, the meter's the shipped one
        assert person.json()["links"] == [{"rel": "mdm-contact", "href": "https://mdm.utility.test/contact?ext=P-0001"}]
        assert meter.json()["links"][0]["href"].startswith("https://mdm.example.com/")
    finally:
        ssm.put_parameter(Name=name, Value="{}", Type="String", Overwrite=True)
        aws.clear_parameter_caches()
