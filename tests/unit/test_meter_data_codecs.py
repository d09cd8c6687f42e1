"""CCB -> MDM codecs (utilhub.syncrequests.ccb_xml and utilhub.packs.meter_data.mdm_xml): CCB's XML sync
requests read into the JSON contract, the canonical request rendered as MDM's XML, and
MDM's acknowledgement read back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from utilhub.packs.meter_data.mdm_xml import MdmSyncXml, UnreadableAcknowledgement, decimal_text
from utilhub.platform.problems import Problem
from utilhub.platform.xml import parse_untrusted, validate
from utilhub.syncrequests.ccb_xml import CcbSyncRequestXml
from utilhub.syncrequests.model import SyncRequest, SyncStatus

CCB_NS = "urn:utilhub:ccb:sync-request:v1"
MDM_NS = "urn:utilhub:mdm:sync:v1"
M = {"m": MDM_NS}
LIMITS = {"max_bytes": 1_048_576, "max_depth": 32}


def ccb_document(xml: str) -> etree._Element:
    """Parse and XSD-validate a CCB document, as the intake does before the codec reads it."""
    root = parse_untrusted(xml.encode(), **LIMITS)
    validate(root, CcbSyncRequestXml.schema)
    return root


def ccb_request(entity_type: str, entity_id: str, body: str, sync_request_id: str = "sr-1") -> str:
    return f"""<SyncRequest>
      <SyncRequestId>{sync_request_id}</SyncRequestId>
      <EntityType>{entity_type}</EntityType>
      <EntityId>{entity_id}</EntityId>
      <ChangedAt>2024-05-01T10:00:00+02:00</ChangedAt>
      {body}
    </SyncRequest>"""


def single(inner: str) -> str:
    return inner.replace("<SyncRequest>", f'<SyncRequest xmlns="{CCB_NS}">', 1)


PERSON = """<Person>
  <Name> Ada Lovelace </Name>
  <PersonType>PERSON</PersonType>
  <EmailAddress>ada@example.org</EmailAddress>
  <Phone type="HOME">555-0100</Phone>
  <Phone>555-0199</Phone>
  <Address><Line1>1 Analytical Way</Line1><City>London</City><PostalCode>N1 9GU</PostalCode><Country>GB</Country></Address>
  <Language>en</Language>
  <LifeSupport>true</LifeSupport>
</Person>"""

SERVICE_POINT = """<ServicePoint>
  <PremiseId>PR-7</PremiseId>
  <SpType>E-RES</SpType>
  <Address><City>Springfield</City></Address>
  <TimeZone>America/Chicago</TimeZone>
</ServicePoint>"""

SERVICE_AGREEMENT = """<ServiceAgreement>
  <AccountId>AC-1</AccountId>
  <ServicePointId>SP-1</ServicePointId>
  <ServicePointId>SP-2</ServicePointId>
  <ServicePointId>SP-3</ServicePointId>
  <SaType>E-RES</SaType>
  <Status>ACTIVE</Status>
  <StartDate>2024-01-01</StartDate>
</ServiceAgreement>"""

BILL_CYCLE = """<BillCycle>
  <BillCycleCode> BC01 </BillCycleCode>
  <Description>Monthly, day 1</Description>
  <Window><WindowStart>2026-12-01</WindowStart><WindowEnd>2026-12-03</WindowEnd><AccountingDate>2026-12-04</AccountingDate></Window>
  <Window><WindowStart>2027-01-04</WindowStart><WindowEnd>2027-01-06</WindowEnd></Window>
</BillCycle>"""


def sync_request(entity_type: str, data: dict[str, Any], *, entity_id: str = "E-1") -> SyncRequest:
    return SyncRequest(
        flow="meter-data",
        syncRequestId="sr-42",
        entityType=entity_type,
        entityId=entity_id,
        changedAt=datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=2))),
        data=data,
        dataHash="h",
        requestHash="r",
        status=SyncStatus.SENT,
        attempt=1,
        correlationId="cid-stored",
        history=[],
    )


def rendered(request: SyncRequest, correlation_id: str = "cid-1") -> etree._Element:
    """Render for MDM, then read it back as MDM would: hardened parser and MDM's schema."""
    body = MdmSyncXml().render(request, correlation_id)
    root = parse_untrusted(body, **LIMITS)
    validate(root, "mdm/sync.xsd")
    return root


def child(element: etree._Element, path: str) -> etree._Element:
    """The element at ``path`` under ``element``; fails the test when it is absent."""
    found = element.find(path, M)
    assert found is not None, f"no {path} under {element.tag}"
    return found


def acknowledgement(result: str, extra: str = "") -> bytes:
    return (f'<Acknowledgement xmlns="{MDM_NS}"><MessageId>sr-42</MessageId><Result>{result}</Result>{extra}</Acknowledgement>').encode()


# --- CCB XML -> contract -------------------------------------------------------------------


def test_ccb_person_is_read_with_phones_address_and_life_support() -> None:
    # Given a valid CCB person sync request
    root = ccb_document(single(ccb_request("PERSON", "P-1", PERSON)))

    # When it is read
    request = CcbSyncRequestXml().read_request(root)

    # Then the header and the person data map to the contract's field names
    assert request == {
        "syncRequestId": "sr-1",
        "entityType": "PERSON",
        "entityId": "P-1",
        "changedAt": "2024-05-01T10:00:00+02:00",
        "data": {
            "name": "Ada Lovelace",
            "personType": "PERSON",
            "emailAddress": "ada@example.org",
            "language": "en",
            "phones": [{"type": "HOME", "number": "555-0100"}, {"type": "OTHER", "number": "555-0199"}],
            "address": {"line1": "1 Analytical Way", "city": "London", "postalCode": "N1 9GU", "country": "GB"},
            "lifeSupport": True,
        },
    }


@pytest.mark.parametrize(("xml_value", "expected"), [("true", True), ("1", True), ("false", False), ("0", False)])
def test_ccb_life_support_reads_every_xsd_boolean_spelling(xml_value: str, expected: bool) -> None:
    # Given a person whose LifeSupport uses one of xs:boolean's spellings
    person = f"<Person><Name>Ada</Name><LifeSupport>{xml_value}</LifeSupport></Person>"
    root = ccb_document(single(ccb_request("PERSON", "P-1", person)))

    # When it is read, Then the flag is a JSON boolean
    assert CcbSyncRequestXml().read_request(root)["data"]["lifeSupport"] is expected


def test_ccb_service_point_is_read() -> None:
    # Given a valid CCB service point sync request
    root = ccb_document(single(ccb_request("SERVICE_POINT", "SP-1", SERVICE_POINT)))

    # When it is read
    request = CcbSyncRequestXml().read_request(root)

    # Then its data carries premise, type, address and time zone
    assert request["entityType"] == "SERVICE_POINT"
    assert request["data"] == {
        "premiseId": "PR-7",
        "spType": "E-RES",
        "timeZone": "America/Chicago",
        "address": {"city": "Springfield"},
    }


def test_ccb_service_agreement_keeps_every_service_point_in_order() -> None:
    # Given a valid CCB service agreement on three service points
    root = ccb_document(single(ccb_request("SERVICE_AGREEMENT", "SA-1", SERVICE_AGREEMENT)))

    # When it is read
    request = CcbSyncRequestXml().read_request(root)

    # Then the service point ids are a list, in document order
    assert request["data"] == {
        "accountId": "AC-1",
        "servicePointIds": ["SP-1", "SP-2", "SP-3"],
        "saType": "E-RES",
        "status": "ACTIVE",
        "startDate": "2024-01-01",
    }


def test_ccb_bill_cycle_is_read_with_its_windows_in_order() -> None:
    # Given a bill cycle and its schedule
    root = ccb_document(single(ccb_request("BILL_CYCLE", "BC01", BILL_CYCLE)))

    # When it is read, Then each window keeps its dates, in document order
    assert CcbSyncRequestXml().read_request(root)["data"] == {
        "billCycleCode": "BC01",
        "description": "Monthly, day 1",
        "schedule": [
            {"windowStart": "2026-12-01", "windowEnd": "2026-12-03", "accountingDate": "2026-12-04"},
            {"windowStart": "2027-01-04", "windowEnd": "2027-01-06"},
        ],
    }


def test_ccb_batch_is_read_in_document_order() -> None:
    # Given a valid batch of a person, a service point, a service agreement and a bill cycle
    batch = f"""<SyncRequests xmlns="{CCB_NS}">
      {ccb_request("PERSON", "P-1", PERSON, "sr-1")}
      {ccb_request("SERVICE_POINT", "SP-1", SERVICE_POINT, "sr-2")}
      {ccb_request("SERVICE_AGREEMENT", "SA-1", SERVICE_AGREEMENT, "sr-3")}
      {ccb_request("BILL_CYCLE", "BC01", BILL_CYCLE, "sr-4")}
    </SyncRequests>"""
    root = ccb_document(batch)

    # When it is read
    requests = CcbSyncRequestXml().read_batch(root)

    # Then there is one contract request per element, each with its own data
    assert [(r["syncRequestId"], r["entityType"], r["entityId"]) for r in requests] == [
        ("sr-1", "PERSON", "P-1"),
        ("sr-2", "SERVICE_POINT", "SP-1"),
        ("sr-3", "SERVICE_AGREEMENT", "SA-1"),
        ("sr-4", "BILL_CYCLE", "BC01"),
    ]
    assert requests[0]["data"]["name"] == "Ada Lovelace"
    assert requests[1]["data"]["premiseId"] == "PR-7"
    assert requests[2]["data"]["servicePointIds"] == ["SP-1", "SP-2", "SP-3"]
    assert requests[3]["data"]["billCycleCode"] == "BC01"


def test_ccb_batch_document_is_refused_where_a_single_request_is_expected() -> None:
    # Given a valid batch document
    root = ccb_document(f'<SyncRequests xmlns="{CCB_NS}">{ccb_request("PERSON", "P-1", PERSON)}</SyncRequests>')

    # When it is read as a single request, Then it is a 422 naming what was expected
    with pytest.raises(Problem) as caught:
        CcbSyncRequestXml().read_request(root)
    assert caught.value.status == 422
    assert "SyncRequest" in caught.value.detail


# --- contract -> MDM XML -------------------------------------------------------------------


def test_mdm_header_carries_message_external_and_correlation_ids() -> None:
    # Given a stored sync request
    root = rendered(sync_request("SERVICE_POINT", {"premiseId": "PR-7"}, entity_id="SP-1"), "cid-1")

    # When it is rendered, Then the header identifies the message, the entity and the correlation
    header = child(root, "m:Header")
    assert header.findtext("m:SyncRequestId", namespaces=M) == "sr-42"
    # one message id per delivery attempt, so a resubmission is a new message to MDM
    assert header.findtext("m:MessageId", namespaces=M) == "sr-42-1"
    assert header.findtext("m:ExternalId", namespaces=M) == "SP-1"
    assert header.findtext("m:CorrelationId", namespaces=M) == "cid-1"
    assert header.findtext("m:Source", namespaces=M) == "CCB"
    assert header.findtext("m:EntityType", namespaces=M) == "SERVICE_POINT"
    assert header.findtext("m:ChangedAt", namespaces=M) == "2024-05-01T08:00:00.000000Z"


def test_mdm_header_falls_back_to_the_stored_correlation_id() -> None:
    # Given no correlation id for this delivery
    root = rendered(sync_request("SERVICE_POINT", {"premiseId": "PR-7"}), "")

    # When it is rendered, Then the request's own correlation id is carried
    assert root.findtext("m:Header/m:CorrelationId", namespaces=M) == "cid-stored"


def test_mdm_person_becomes_an_individual_contact() -> None:
    # Given a person with phones, address, language and life support
    data = {
        "name": "Ada Lovelace",
        "personType": "PERSON",
        "emailAddress": "ada@example.org",
        "phones": [{"type": "HOME", "number": "555-0100"}, {"type": "MOBILE", "number": "555-0199"}],
        "address": {"line1": "1 Analytical Way", "city": "London", "country": "GB"},
        "language": "en",
        "lifeSupport": False,
    }

    # When it is rendered
    contact = child(rendered(sync_request("PERSON", data)), "m:Contact")

    # Then MDM's contact carries each value under its own name
    assert contact.findtext("m:ContactName", namespaces=M) == "Ada Lovelace"
    assert contact.findtext("m:ContactClass", namespaces=M) == "INDIVIDUAL"
    assert contact.findtext("m:Email", namespaces=M) == "ada@example.org"
    assert [(p.get("type"), p.text) for p in contact.findall("m:Phone", M)] == [("HOME", "555-0100"), ("MOBILE", "555-0199")]
    assert contact.findtext("m:Address/m:Line1", namespaces=M) == "1 Analytical Way"
    assert contact.findtext("m:Address/m:City", namespaces=M) == "London"
    assert contact.findtext("m:Address/m:Country", namespaces=M) == "GB"
    assert contact.findtext("m:Language", namespaces=M) == "en"
    assert contact.findtext("m:LifeSupport", namespaces=M) == "false"


def test_mdm_business_becomes_an_organization_contact() -> None:
    # Given a person of type BUSINESS
    data = {"name": "Acme Utilities Ltd", "personType": "BUSINESS", "phones": [{"type": "WORK", "number": "555-0123"}]}

    # When it is rendered
    contact = child(rendered(sync_request("PERSON", data)), "m:Contact")

    # Then its contact class is ORGANIZATION
    assert contact.findtext("m:ContactName", namespaces=M) == "Acme Utilities Ltd"
    assert contact.findtext("m:ContactClass", namespaces=M) == "ORGANIZATION"
    assert child(contact, "m:Phone").get("type") == "WORK"


def test_mdm_service_point_is_mapped() -> None:
    # Given a service point
    data = {"premiseId": "PR-7", "spType": "E-RES", "address": {"city": "Springfield"}, "timeZone": "America/Chicago"}

    # When it is rendered
    point = child(rendered(sync_request("SERVICE_POINT", data)), "m:ServicePoint")

    # Then MDM's service point carries premise, type, address and time zone
    assert point.findtext("m:PremiseId", namespaces=M) == "PR-7"
    assert point.findtext("m:ServicePointType", namespaces=M) == "E-RES"
    assert point.findtext("m:Address/m:City", namespaces=M) == "Springfield"
    assert point.findtext("m:TimeZone", namespaces=M) == "America/Chicago"


def test_mdm_service_agreement_becomes_a_usage_subscription_listing_service_points() -> None:
    # Given a service agreement on three service points
    data = {"accountId": "AC-1", "servicePointIds": ["SP-1", "SP-2", "SP-3"], "saType": "E-RES", "startDate": "2024-01-01"}

    # When it is rendered
    subscription = child(rendered(sync_request("SERVICE_AGREEMENT", data)), "m:UsageSubscription")

    # Then every service point id is listed, in order, under ServicePoints
    assert subscription.findtext("m:AccountId", namespaces=M) == "AC-1"
    ids = [sp.text for sp in subscription.findall("m:ServicePoints/m:ServicePointId", M)]
    assert ids == ["SP-1", "SP-2", "SP-3"]
    assert subscription.findtext("m:UsageSubscriptionType", namespaces=M) == "E-RES"
    assert subscription.findtext("m:StartDate", namespaces=M) == "2024-01-01"


def test_mdm_render_refuses_data_that_breaks_mdm_schema() -> None:
    # Given a phone type MDM does not know
    data = {"name": "Ada", "phones": [{"type": "PAGER", "number": "555-0100"}]}

    # When it is rendered, Then it fails here with a 422 rather than at MDM
    with pytest.raises(Problem) as caught:
        MdmSyncXml().render(sync_request("PERSON", data), "cid-1")
    assert caught.value.status == 422
    assert caught.value.errors


# --- MDM acknowledgement -------------------------------------------------------------------


def test_positive_acknowledgement_carries_the_mdm_id() -> None:
    # Given MDM's positive acknowledgement
    body = acknowledgement("POSITIVE", "<MdmId>MDM-9001</MdmId>")

    # When it is read
    ack = MdmSyncXml().read_acknowledgement(body)

    # Then it is positive, with MDM's id as the target id
    assert (ack.result, ack.targetId, ack.reason) == ("POSITIVE", "MDM-9001", None)


def test_negative_acknowledgement_carries_the_reason() -> None:
    # Given MDM's negative acknowledgement with a reason
    body = acknowledgement("NEGATIVE", "<Reason>  Premise PR-7 unknown  </Reason>")

    # When it is read
    ack = MdmSyncXml().read_acknowledgement(body)

    # Then it is negative, with the reason stripped
    assert (ack.result, ack.reason, ack.targetId) == ("NEGATIVE", "Premise PR-7 unknown", None)


def test_accepted_acknowledgement_is_read() -> None:
    # Given MDM's "accepted, the answer follows"
    ack = MdmSyncXml().read_acknowledgement(acknowledgement("ACCEPTED"))

    # When it is read, Then it is ACCEPTED with nothing else
    assert (ack.result, ack.reason, ack.targetId) == ("ACCEPTED", None, None)


def test_answer_that_is_not_an_acknowledgement_is_unreadable() -> None:
    # Given MDM answering with a (schema-valid) SyncRequest document instead
    body = MdmSyncXml().render(sync_request("SERVICE_POINT", {"premiseId": "PR-7"}), "cid-1")

    # When it is read as an acknowledgement
    with pytest.raises(UnreadableAcknowledgement) as caught:
        MdmSyncXml().read_acknowledgement(body)

    # Then it is refused as unreadable, naming what came
    assert caught.value.status == 422
    assert "SyncRequest" in caught.value.detail


def test_acknowledgement_outside_mdm_schema_is_unreadable() -> None:
    # Given an acknowledgement in no namespace
    body = b"<Acknowledgement><MessageId>sr-42</MessageId><Result>POSITIVE</Result></Acknowledgement>"

    # When it is read, Then it is refused as unreadable
    with pytest.raises(UnreadableAcknowledgement) as caught:
        MdmSyncXml().read_acknowledgement(body)
    assert caught.value.status == 422


def test_acknowledgement_with_doctype_is_unreadable_and_leaks_nothing() -> None:
    # Given an "acknowledgement" carrying an XXE payload
    body = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + acknowledgement(
        "NEGATIVE", "<Reason>&x;</Reason>"
    )

    # When it is read
    with pytest.raises(UnreadableAcknowledgement) as caught:
        MdmSyncXml().read_acknowledgement(body)

    # Then it is refused for its DOCTYPE and no file content is in the problem
    assert caught.value.status == 422
    assert "DOCTYPE" in caught.value.detail
    assert "root:" not in str(caught.value.as_dict())


# --- every entity type: CCB XML -> contract -> MDM XML --------------------------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "meter_data" / "sync_requests"


def sample_xml(name: str) -> etree._Element:
    """The CCB XML body of a sample event, parsed and validated as the intake does."""
    body = json.loads((SAMPLES / f"submit-{name}-xml.json").read_text(encoding="utf-8"))["body"]
    return ccb_document(body.split("?>", 1)[1])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "service-point",
            {
                "premiseId": "PR-0002",
                "spType": "E-RES",
                "timeZone": "America/New_York",
                "billCycleCode": "BC02",
                "serviceOrderManaged": False,
                "address": {"line1": "1 Navy Yard", "city": "Arlington", "state": "VA", "postalCode": "22202", "country": "US"},
            },
        ),
        (
            "service-agreement",
            {
                "accountId": "AC-0002",
                "servicePointIds": ["SP-0002"],
                "personId": "P-0002",
                "saType": "E-GEN",
                "status": "ACTIVE",
                "startDate": "2026-02-01",
            },
        ),
        (
            "sa-relationship",
            {
                "serviceAgreementId": "SA-0002",
                "relatedServiceAgreementId": "SA-0001",
                "relationshipType": "GENERATION-OFFSET",
                "startDate": "2026-02-01",
                "endDate": "2027-01-31",
            },
        ),
        ("dynamic-option", {"serviceAgreementId": "SA-0002", "optionType": "PEAK-TIME-REBATE", "startDate": "2026-06-01"}),
        (
            "dynamic-option-event",
            {
                "optionId": "DO-0002",
                "eventType": "PEAK-CALLED",
                "startAt": "2026-08-03T17:00:00-04:00",
                "endAt": "2026-08-03T21:00:00-04:00",
            },
        ),
        (
            "meter",
            {
                "badgeNumber": "B-000002",
                "meterType": "E-3PH-CT",
                "manufacturer": "Itron",
                "serialNumber": "IT-12-000002",
                "status": "ACTIVE",
            },
        ),
        (
            "meter-configuration",
            {
                "meterId": "M-0002",
                "configurationType": "E-DEMAND",
                "effectiveAt": "2026-02-01T09:00:00-05:00",
                "registerCount": "2",
                "registers": [
                    {
                        "registerId": "REG-0002-1",
                        "sequence": "1",
                        "uom": "KWH",
                        "readOutType": "SUBTRACTIVE",
                        "digitsLeft": "7",
                        "digitsRight": "0",
                        "multiplier": "40",
                    },
                    {
                        "registerId": "REG-0002-2",
                        "sequence": "2",
                        "uom": "KW",
                        "readOutType": "CONSUMPTIVE",
                        "digitsLeft": "3",
                        "digitsRight": "3",
                        "multiplier": "40",
                    },
                ],
            },
        ),
        (
            "sp-meter-history",
            {
                "servicePointId": "SP-0002",
                "meterId": "M-0002",
                "meterConfigurationId": "MC-0002",
                "installedAt": "2026-02-01T09:00:00-05:00",
            },
        ),
        (
            "scalar-meter-read",
            {
                "meterId": "M-0002",
                "spMeterHistoryId": "H-0002",
                "readAt": "2026-11-02T08:15:00-05:00",
                "reads": [
                    {"registerId": "REG-0002-1", "uom": "KWH", "reading": "120344", "readType": "REGULAR"},
                    {"registerId": "REG-0002-2", "uom": "KW", "reading": "12.875", "readType": "REGULAR"},
                ],
            },
        ),
    ],
)
def test_ccb_xml_of_each_entity_type_is_read_into_the_contract(name: str, expected: dict[str, Any]) -> None:
    # Given the sample CCB XML of the entity type
    root = sample_xml(name)

    # When it is read
    data = CcbSyncRequestXml().read_request(root)["data"]

    # Then every element lands under its contract name (numbers and dates as text, for the data model to convert)
    assert data == expected


def test_ccb_element_of_another_entity_type_is_422_pointing_at_data() -> None:
    # Given a METER request carrying a service point element
    root = ccb_document(single(ccb_request("METER", "M-1", SERVICE_POINT)))

    # When it is read, Then it is refused, naming the element and what it carries
    with pytest.raises(Problem) as caught:
        CcbSyncRequestXml().read_request(root)
    assert caught.value.status == 422
    assert [(e.pointer, e.detail) for e in caught.value.errors] == [("#/data", "is a ServicePoint element, which carries SERVICE_POINT")]


def test_ccb_negative_register_count_is_refused_by_the_xsd() -> None:
    # Given a meter configuration whose register count is negative
    body = sample_xml("meter-configuration")
    xml = etree.tostring(body).decode().replace("<RegisterCount>2</RegisterCount>", "<RegisterCount>-2</RegisterCount>")

    # When it is validated, Then the XSD refuses it
    with pytest.raises(Problem) as caught:
        ccb_document(xml)
    assert caught.value.status == 422


def stored(name: str) -> SyncRequest:
    """The JSON sample of an entity type, validated and normalised as it is stored."""
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.platform.settings import MeterDataPack, Settings
    from utilhub.syncrequests.api import validate_sync_request

    raw = json.loads(json.loads((SAMPLES / f"submit-{name}.json").read_text(encoding="utf-8"))["body"])
    request = validate_sync_request(FLOW, raw, Settings(meter_data=MeterDataPack(meters_managed_in="CCB")))
    return sync_request(request.entityType, request.data, entity_id=request.entityId)


def test_mdm_service_point_carries_its_bill_cycle() -> None:
    point = child(rendered(stored("service-point")), "m:ServicePoint")
    assert point.findtext("m:PremiseId", namespaces=M) == "PR-0001"
    assert point.findtext("m:BillCycleCode", namespaces=M) == "BC01"


def test_mdm_usage_subscription_names_its_main_contact() -> None:
    subscription = child(rendered(stored("service-agreement")), "m:UsageSubscription")
    assert subscription.findtext("m:MainContactId", namespaces=M) == "P-0001"
    assert [e.text for e in subscription.iterfind("m:ServicePoints/m:ServicePointId", M)] == ["SP-0001"]


def test_mdm_sa_relationship_becomes_a_usage_subscription_relationship() -> None:
    relationship = child(rendered(stored("sa-relationship")), "m:UsageSubscriptionRelationship")
    assert [relationship.findtext(f"m:{n}", namespaces=M) for n in ("UsageSubscriptionId", "RelatedUsageSubscriptionId")] == [
        "SA-0001",
        "SA-0002",
    ]
    assert relationship.findtext("m:RelationshipType", namespaces=M) == "NET-METERING"
    assert relationship.find("m:EndDate", M) is None


def test_mdm_dynamic_option_and_event() -> None:
    option = child(rendered(stored("dynamic-option")), "m:DynamicOption")
    assert (option.findtext("m:UsageSubscriptionId", namespaces=M), option.findtext("m:EndDate", namespaces=M)) == ("SA-0001", "2026-09-30")
    event = child(rendered(stored("dynamic-option-event")), "m:DynamicOptionEvent")
    assert event.findtext("m:DynamicOptionId", namespaces=M) == "DO-0001"
    assert (event.findtext("m:StartDateTime", namespaces=M), event.findtext("m:EndDateTime", namespaces=M)) == (
        "2026-07-14T16:00:00Z",
        "2026-07-14T20:00:00Z",
    )


def test_mdm_meter_becomes_a_device() -> None:
    device = child(rendered(stored("meter")), "m:Device")
    assert [device.findtext(f"m:{n}", namespaces=M) for n in ("BadgeNumber", "DeviceType", "Status")] == [
        "B-000001",
        "E-1PH-SMART",
        "ACTIVE",
    ]


def test_mdm_meter_configuration_has_one_measuring_component_per_register_in_sequence() -> None:
    # Given a configuration whose registers are listed out of sequence
    request = stored("meter-configuration")
    request.data["registers"].reverse()

    # When it is rendered
    configuration = child(rendered(request), "m:DeviceConfiguration")

    # Then MDM gets the measuring components in sequence, with digits, multiplier and unit
    components = configuration.findall("m:MeasuringComponents/m:MeasuringComponent", M)
    assert [(c.findtext("m:ExternalId", namespaces=M), c.findtext("m:Sequence", namespaces=M)) for c in components] == [
        ("REG-0001-1", "1"),
        ("REG-0001-2", "2"),
    ]
    first = components[0]
    assert [first.findtext(f"m:{n}", namespaces=M) for n in ("Uom", "TouCode", "DigitsLeft", "DigitsRight", "Multiplier")] == [
        "KWH",
        "ON-PEAK",
        "6",
        "1",
        "1",
    ]


def test_mdm_sp_meter_history_becomes_an_install_event() -> None:
    event = child(rendered(stored("sp-meter-history")), "m:InstallEvent")
    assert [event.findtext(f"m:{n}", namespaces=M) for n in ("ServicePointId", "DeviceId", "InstallDateTime")] == [
        "SP-0001",
        "M-0001",
        "2026-01-10T08:00:00Z",
    ]
    assert event.find("m:RemovalDateTime", M) is None


def test_mdm_scalar_read_becomes_a_measurement_with_decimal_values() -> None:
    measurement = child(rendered(stored("scalar-meter-read")), "m:Measurement")
    assert measurement.findtext("m:InstallEventId", namespaces=M) == "H-0001"
    readings = [
        (r.findtext("m:MeasuringComponentId", namespaces=M), r.findtext("m:Value", namespaces=M))
        for r in measurement.findall("m:Reading", M)
    ]
    assert readings == [("REG-0001-1", "4211.5"), ("REG-0001-2", "9870.25")]


def test_mdm_bill_cycle_becomes_a_schedule_of_windows() -> None:
    schedule = child(rendered(stored("bill-cycle")), "m:BillCycleSchedule")
    windows = [(w.findtext("m:StartDate", namespaces=M), w.findtext("m:EndDate", namespaces=M)) for w in schedule.findall("m:Window", M)]
    assert windows == [("2026-12-01", "2026-12-03"), ("2027-01-04", "2027-01-06")]


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e-07, "0.0000001"), (40.0, "40"), (12.875, "12.875"), (0, "0"), (1e15, "1000000000000000"), ("2.50", "2.5")],
)
def test_numbers_are_written_as_xsd_decimals_never_with_an_exponent(value: Any, text: str) -> None:
    assert decimal_text(value) == text


def test_stored_data_missing_what_mdm_needs_cannot_be_rendered() -> None:
    # Given a meter stored before its data model required a meter type
    request = sync_request("METER", {"badgeNumber": "B-1"})

    # When it is rendered, Then it fails with the reason (delivery records it as ERROR), never a half message
    with pytest.raises(ValueError, match="lacks what MDM needs"):
        MdmSyncXml().render(request, "cid-1")


@pytest.mark.parametrize(("service_type", "mdm_code"), [("GAS", "GAS"), ("WATER", "WATR"), ("ELECTRIC", "ELEC"), ("G", "GAS")])
def test_mdm_usage_subscription_carries_its_service_type_in_mdm_s_code(service_type: str, mdm_code: str) -> None:
    # Given an SA of a service type (the hub's code, or CCB's as kept with an older request)
    data = {"accountId": "AC-1", "servicePointIds": ["SP-1"], "serviceType": service_type}

    # Then MDM's usage subscription carries MDM's code of it (the ServiceType map), valid against MDM's XSD
    subscription = child(rendered(sync_request("SERVICE_AGREEMENT", data)), "m:UsageSubscription")
    assert subscription.findtext("m:ServiceType", namespaces=M) == mdm_code


def test_mdm_usage_subscription_without_a_service_type_has_none() -> None:
    subscription = child(
        rendered(sync_request("SERVICE_AGREEMENT", {"accountId": "AC-1", "servicePointIds": ["SP-1"]})), "m:UsageSubscription"
    )
    assert subscription.find("m:ServiceType", M) is None


def test_ccb_service_agreement_reads_its_service_type() -> None:
    # Given a CCB service agreement with CCB's service type code after its SA type
    xml = SERVICE_AGREEMENT.replace("<SaType>E-RES</SaType>", "<SaType>G-RES</SaType><ServiceType>G</ServiceType>")
    root = ccb_document(single(ccb_request("SERVICE_AGREEMENT", "SA-1", xml)))

    # Then it is read as it came (the contract's model translates it)
    assert CcbSyncRequestXml().read_request(root)["data"]["serviceType"] == "G"
