"""The canonical sync request mapped to MDM's inbound XML (``schemas/mdm/sync.xsd``), and
MDM's acknowledgement read back.

One mapping per entity type, each to the MDM record that keeps it: CCB person -> contact
(person type PERSON/BUSINESS -> contact class INDIVIDUAL/ORGANIZATION); service point ->
service point; service agreement -> usage subscription; SA relationship -> usage subscription
relationship; dynamic option and its events -> dynamic option and dynamic option event;
meter -> device; meter configuration -> device configuration with one measuring component per
register; SP-meter history -> install event; scalar meter read -> measurement; bill cycle ->
bill cycle schedule. Fields CCB adds beyond the data model are kept by the hub, not sent.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from lxml import etree

from utilhub.packs.meter_data.model import SERVICE_TYPE_MAP
from utilhub.platform.dvm import domain_value_maps
from utilhub.platform.problems import Problem
from utilhub.platform.reasons import exception_reason
from utilhub.platform.settings import get_settings
from utilhub.platform.xml import parse_untrusted, to_bytes, validate
from utilhub.syncrequests.ccb_xml import ADDRESS_XML  # the element names MDM's XSD gives them too
from utilhub.syncrequests.lifecycle import sortable_time
from utilhub.syncrequests.model import Acknowledgement, SyncRequest

NAMESPACE = "urn:utilhub:mdm:sync:v1"
SCHEMA = "mdm/sync.xsd"


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _add(parent: etree._Element, name: str, value: Any) -> etree._Element | None:
    if value is None or value == "":
        return None
    child = etree.SubElement(parent, _q(name))
    child.text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return child


def _address(parent: etree._Element, address: dict[str, Any] | None) -> None:
    if not address or not any(address.get(k) for k, _ in ADDRESS_XML):
        return
    element = etree.SubElement(parent, _q("Address"))
    for key, name in ADDRESS_XML:
        _add(element, name, address.get(key))


def contact(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("Contact"))
    _add(element, "ContactName", data["name"])
    _add(element, "ContactClass", "ORGANIZATION" if data.get("personType") == "BUSINESS" else "INDIVIDUAL")
    _add(element, "Email", data.get("emailAddress"))
    for phone in data.get("phones", []):
        node = _add(element, "Phone", phone["number"])
        if node is not None:
            node.set("type", phone.get("type", "OTHER"))
    _address(element, data.get("address"))
    _add(element, "Language", data.get("language"))
    _add(element, "LifeSupport", data.get("lifeSupport"))


def service_point(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("ServicePoint"))
    _add(element, "PremiseId", data["premiseId"])
    _add(element, "ServicePointType", data.get("spType"))
    _address(element, data.get("address"))
    _add(element, "TimeZone", data.get("timeZone"))
    _add(element, "BillCycleCode", data.get("billCycleCode"))


def usage_subscription(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("UsageSubscription"))
    _add(element, "AccountId", data["accountId"])
    sps = etree.SubElement(element, _q("ServicePoints"))
    for sp in data["servicePointIds"]:
        _add(sps, "ServicePointId", sp)
    _add(element, "MainContactId", data.get("personId"))
    _add(element, "UsageSubscriptionType", data.get("saType"))
    if (service_type := data.get("serviceType")) is not None:
        _add(
            element,
            "ServiceType",
            domain_value_maps().translate(SERVICE_TYPE_MAP, service_type, source="CCB", target="MDM", pointer="#/data/serviceType"),
        )
    _add(element, "Status", data.get("status"))
    _add(element, "StartDate", data.get("startDate"))
    _add(element, "EndDate", data.get("endDate"))


def usage_subscription_relationship(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("UsageSubscriptionRelationship"))
    _add(element, "UsageSubscriptionId", data["serviceAgreementId"])
    _add(element, "RelatedUsageSubscriptionId", data["relatedServiceAgreementId"])
    _add(element, "RelationshipType", data["relationshipType"])
    _add(element, "StartDate", data["startDate"])
    _add(element, "EndDate", data.get("endDate"))


def dynamic_option(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("DynamicOption"))
    _add(element, "UsageSubscriptionId", data["serviceAgreementId"])
    _add(element, "OptionType", data["optionType"])
    _add(element, "StartDate", data["startDate"])
    _add(element, "EndDate", data.get("endDate"))
    _add(element, "Value", data.get("value"))


def dynamic_option_event(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("DynamicOptionEvent"))
    _add(element, "DynamicOptionId", data["optionId"])
    _add(element, "EventType", data["eventType"])
    _add(element, "StartDateTime", data["startAt"])
    _add(element, "EndDateTime", data.get("endAt"))


def device(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("Device"))
    _add(element, "BadgeNumber", data["badgeNumber"])
    _add(element, "DeviceType", data["meterType"])
    _add(element, "Manufacturer", data.get("manufacturer"))
    _add(element, "Model", data.get("model"))
    _add(element, "SerialNumber", data.get("serialNumber"))
    _add(element, "Status", data.get("status", "ACTIVE"))


def decimal_text(value: float | int | str) -> str:
    """A number as ``xs:decimal`` text: fixed point, never an exponent (``1e-07`` is not a decimal)."""
    text = format(Decimal(str(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def device_configuration(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("DeviceConfiguration"))
    _add(element, "DeviceId", data["meterId"])
    _add(element, "ConfigurationType", data["configurationType"])
    _add(element, "EffectiveDateTime", data["effectiveAt"])
    components = etree.SubElement(element, _q("MeasuringComponents"))
    for register in sorted(data["registers"], key=lambda r: int(r["sequence"])):
        component = etree.SubElement(components, _q("MeasuringComponent"))
        _add(component, "ExternalId", register["registerId"])
        _add(component, "Sequence", register["sequence"])
        _add(component, "Uom", register["uom"])
        _add(component, "TouCode", register.get("touCode"))
        _add(component, "ReadOutType", register.get("readOutType", "SUBTRACTIVE"))
        _add(component, "DigitsLeft", register["digitsLeft"])
        _add(component, "DigitsRight", register.get("digitsRight", 0))
        _add(component, "Multiplier", decimal_text(register.get("multiplier", 1)))


def install_event(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("InstallEvent"))
    _add(element, "ServicePointId", data["servicePointId"])
    _add(element, "DeviceId", data["meterId"])
    _add(element, "DeviceConfigurationId", data.get("meterConfigurationId"))
    _add(element, "InstallDateTime", data["installedAt"])
    _add(element, "RemovalDateTime", data.get("removedAt"))


def measurement(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("Measurement"))
    _add(element, "DeviceId", data["meterId"])
    _add(element, "InstallEventId", data["spMeterHistoryId"])
    _add(element, "ReadDateTime", data["readAt"])
    for read in data["reads"]:
        reading = etree.SubElement(element, _q("Reading"))
        _add(reading, "MeasuringComponentId", read["registerId"])
        _add(reading, "Uom", read["uom"])
        _add(reading, "Value", decimal_text(read["reading"]))
        _add(reading, "Condition", read.get("readType", "REGULAR"))


def bill_cycle_schedule(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("BillCycleSchedule"))
    _add(element, "BillCycleCode", data["billCycleCode"])
    _add(element, "Description", data.get("description"))
    for window in data["schedule"]:
        node = etree.SubElement(element, _q("Window"))
        _add(node, "StartDate", window["windowStart"])
        _add(node, "EndDate", window["windowEnd"])
        _add(node, "AccountingDate", window.get("accountingDate"))


Mapping = Callable[[etree._Element, dict[str, Any]], None]
MAPPINGS: dict[str, Mapping] = {
    "PERSON": contact,
    "SERVICE_POINT": service_point,
    "SERVICE_AGREEMENT": usage_subscription,
    "SA_RELATIONSHIP": usage_subscription_relationship,
    "DYNAMIC_OPTION": dynamic_option,
    "DYNAMIC_OPTION_EVENT": dynamic_option_event,
    "METER": device,
    "METER_CONFIGURATION": device_configuration,
    "SP_METER_HISTORY": install_event,
    "SCALAR_METER_READ": measurement,
    "BILL_CYCLE": bill_cycle_schedule,
}


class MdmSyncXml:
    """Target codec of the CCB -> MDM flow."""

    content_type = "application/xml"
    schema = SCHEMA

    def path(self, request: SyncRequest) -> str:
        return "sync-requests"

    def render(self, request: SyncRequest, correlation_id: str) -> bytes:
        root = etree.Element(_q("SyncRequest"), nsmap={None: NAMESPACE})  # type: ignore[dict-item]
        header = etree.SubElement(root, _q("Header"))
        # one message id per delivery attempt: a resubmitted request is a new message to MDM
        _add(header, "MessageId", f"{request.syncRequestId}-{request.attempt}")
        _add(header, "SyncRequestId", request.syncRequestId)
        _add(header, "CorrelationId", correlation_id or request.correlationId or "-")
        _add(header, "Source", "CCB")
        _add(header, "EntityType", request.entityType)
        _add(header, "ExternalId", request.entityId)
        _add(header, "ChangedAt", sortable_time(request.changedAt))
        mapping = MAPPINGS.get(request.entityType)
        if mapping is None:
            raise ValueError(f"no MDM mapping for entity type {request.entityType}")
        try:
            mapping(root, request.data)
        except (KeyError, TypeError, ValueError) as exc:  # stored before its model required the field
            raise ValueError(f"the stored {request.entityType} data lacks what MDM needs ({exception_reason(exc)})") from None
        validate(root, SCHEMA)  # a mapping that breaks MDM's schema fails here, not at MDM
        return to_bytes(root)

    def read_acknowledgement(self, body: bytes) -> Acknowledgement:
        settings = get_settings()
        try:
            root = parse_untrusted(body, max_bytes=settings.xml.xml_max_bytes, max_depth=settings.xml.xml_max_depth)
            validate(root, SCHEMA)
        except Problem as exc:
            raise UnreadableAcknowledgement(f"MDM answered something that is not an acknowledgement: {exc.detail}") from None
        if etree.QName(root).localname != "Acknowledgement":
            raise UnreadableAcknowledgement(f"MDM answered a {etree.QName(root).localname}, not an Acknowledgement")
        ns = {"m": NAMESPACE}
        return Acknowledgement(
            result=root.findtext("m:Result", namespaces=ns),  # type: ignore[arg-type]
            reason=root.findtext("m:Reason", namespaces=ns),
            targetId=root.findtext("m:MdmId", namespaces=ns),
        )


class UnreadableAcknowledgement(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(422, "Unreadable acknowledgement", detail, "unreadable-acknowledgement")
