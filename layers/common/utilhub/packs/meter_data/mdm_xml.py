"""The canonical sync request mapped to MDM's inbound XML (``schemas/mdm/sync.xsd``), and
MDM's acknowledgement read back.

CCB person -> MDM contact (person type PERSON/BUSINESS -> contact class
INDIVIDUAL/ORGANIZATION); service point -> service point; service agreement -> usage
subscription. The other entity types go as ``MasterData`` attributes (flattened field
names, lists indexed) until their own mappings land.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

from utilhub.packs.meter_data.model import ADDRESS_XML
from utilhub.platform.problems import Problem
from utilhub.platform.settings import get_settings
from utilhub.platform.xml import parse_untrusted, to_bytes, validate
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


def usage_subscription(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("UsageSubscription"))
    _add(element, "AccountId", data["accountId"])
    sps = etree.SubElement(element, _q("ServicePoints"))
    for sp in data["servicePointIds"]:
        _add(sps, "ServicePointId", sp)
    _add(element, "UsageSubscriptionType", data.get("saType"))
    _add(element, "Status", data.get("status"))
    _add(element, "StartDate", data.get("startDate"))
    _add(element, "EndDate", data.get("endDate"))


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    elif value is not None:
        yield prefix, ("true" if value else "false") if isinstance(value, bool) else str(value)


def master_data(parent: etree._Element, data: dict[str, Any]) -> None:
    element = etree.SubElement(parent, _q("MasterData"))
    for name, value in _flatten(data):
        attribute = etree.SubElement(element, _q("Attribute"), name=name)
        attribute.text = value


MAPPINGS: dict[str, Callable[[etree._Element, dict[str, Any]], None]] = {
    "PERSON": contact,
    "SERVICE_POINT": service_point,
    "SERVICE_AGREEMENT": usage_subscription,
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
        MAPPINGS.get(request.entityType, master_data)(root, request.data)
        validate(root, SCHEMA)  # a mapping that breaks MDM's schema fails here, not at MDM
        return to_bytes(root)

    def read_acknowledgement(self, body: bytes) -> Acknowledgement:
        settings = get_settings()
        try:
            root = parse_untrusted(body, max_bytes=settings.xml_max_bytes, max_depth=settings.xml_max_depth)
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
