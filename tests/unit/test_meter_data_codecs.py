"""CCB -> MDM codecs (utilhub.packs.meter_data.ccb_xml and mdm_xml): CCB's XML sync
requests read into the JSON contract, the canonical request rendered as MDM's XML, and
MDM's acknowledgement read back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from lxml import etree

from utilhub.packs.meter_data.ccb_xml import CcbSyncRequestXml
from utilhub.packs.meter_data.mdm_xml import MdmSyncXml, UnreadableAcknowledgement
from utilhub.platform.problems import Problem
from utilhub.platform.xml import parse_untrusted, validate
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

DATA = """<Data>
  <Field name="billCycleCode"> BC01 </Field>
  <Field name="description">Monthly, day 1</Field>
</Data>"""


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


def test_ccb_generic_data_fields_become_named_values() -> None:
    # Given an entity type without a typed shape, carried as named fields
    root = ccb_document(single(ccb_request("BILL_CYCLE", "BC01", DATA)))

    # When it is read, Then each field is a stripped string under its name
    assert CcbSyncRequestXml().read_request(root)["data"] == {"billCycleCode": "BC01", "description": "Monthly, day 1"}


def test_ccb_batch_is_read_in_document_order() -> None:
    # Given a valid batch of a person, a service point, a service agreement and a bill cycle
    batch = f"""<SyncRequests xmlns="{CCB_NS}">
      {ccb_request("PERSON", "P-1", PERSON, "sr-1")}
      {ccb_request("SERVICE_POINT", "SP-1", SERVICE_POINT, "sr-2")}
      {ccb_request("SERVICE_AGREEMENT", "SA-1", SERVICE_AGREEMENT, "sr-3")}
      {ccb_request("BILL_CYCLE", "BC01", DATA, "sr-4")}
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


def test_mdm_meter_travels_as_flattened_master_data_attributes() -> None:
    # Given a meter with nested registers and a boolean
    data = {"badgeNumber": "B-100", "registers": [{"uom": "KWH", "digits": 6}, {"uom": "KVARH"}], "smart": True, "model": None}

    # When it is rendered
    master = child(rendered(sync_request("METER", data)), "m:MasterData")

    # Then nested names are dotted, list items indexed, booleans lower case, nulls left out
    attributes = {a.get("name"): a.text for a in master.findall("m:Attribute", M)}
    assert attributes == {
        "badgeNumber": "B-100",
        "registers[0].digits": "6",
        "registers[0].uom": "KWH",
        "registers[1].uom": "KVARH",
        "smart": "true",
    }


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
