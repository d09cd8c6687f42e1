"""CCB's XML sync request (``schemas/ccb/sync-request.xsd``) read into the JSON contract.

CCB speaks one XML sync request format to every flow it feeds (MD-01..10 and MD-18 to MDM, FW-06 to
WAM/ODM), so its reader is the engine's: a flow takes it as its source codec, and an entity type
the flow does not synchronize is the contract's 422 (``entityType``).

The document has been parsed by the hardened parser and validated against the XSD
before it gets here; this module maps element names to the contract's field names, one
typed element per entity type (the element must be the one of the request's EntityType).
Values stay text where the data model converts them (numbers, dates), so a value the model
refuses is a 422 pointing at the contract's field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from utilhub.platform import problems

NS = {"c": "urn:utilhub:ccb:sync-request:v1"}
# Address fields and the element names CCB's XSD (and MDM's) give them.
ADDRESS_XML = (
    ("line1", "Line1"),
    ("line2", "Line2"),
    ("city", "City"),
    ("state", "State"),
    ("postalCode", "PostalCode"),
    ("country", "Country"),
)
_ADDRESS = {element: field for field, element in ADDRESS_XML}


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


_CCB = "{" + NS["c"] + "}"


class _Children:
    """An element's children in CCB's namespace by local name, read in one pass: each field is then a dict
    read, not a namespaced search of the children (``find("c:Name", NS)``) per field."""

    __slots__ = ("_named",)

    def __init__(self, element: etree._Element) -> None:
        named: dict[str, list[etree._Element]] = {}
        start = len(_CCB)
        for child in element:
            tag = child.tag
            if isinstance(tag, str) and tag.startswith(_CCB):  # not a comment or processing instruction
                named.setdefault(tag[start:], []).append(child)
        self._named = named

    def first(self, name: str) -> etree._Element | None:
        found = self._named.get(name)
        return found[0] if found else None

    def all(self, name: str) -> list[etree._Element]:
        return self._named.get(name, [])


def _text(children: _Children, name: str) -> str | None:
    found = children.first(name)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _fields(children: _Children, names: dict[str, str]) -> dict[str, Any]:
    return {key: value for xml_name, key in names.items() if (value := _text(children, xml_name)) is not None}


def _flags(children: _Children, data: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    for xml_name, key in names.items():
        if (value := _text(children, xml_name)) is not None:
            data[key] = value in ("true", "1")
    return data


def _address(children: _Children) -> dict[str, Any] | None:
    found = children.first("Address")
    return _fields(_Children(found), _ADDRESS) if found is not None else None


def _with_address(children: _Children, data: dict[str, Any]) -> dict[str, Any]:
    if (address := _address(children)) is not None:
        data["address"] = address
    return data


def _all(children: _Children, name: str, names: dict[str, str]) -> list[dict[str, Any]]:
    return [_fields(_Children(item), names) for item in children.all(name)]


def _person(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    data = _fields(children, {"Name": "name", "PersonType": "personType", "EmailAddress": "emailAddress", "Language": "language"})
    phones = [{"type": p.get("type", "OTHER"), "number": (p.text or "").strip()} for p in children.all("Phone")]
    if phones:
        data["phones"] = phones
    _with_address(children, data)
    return _flags(children, data, {"LifeSupport": "lifeSupport"})


def _service_point(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    data = _fields(children, {"PremiseId": "premiseId", "SpType": "spType", "TimeZone": "timeZone", "BillCycleCode": "billCycleCode"})
    _with_address(children, data)
    return _flags(children, data, {"ServiceOrderManaged": "serviceOrderManaged"})


def _service_agreement(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    data = _fields(
        children,
        {
            "AccountId": "accountId",
            "PersonId": "personId",
            "SaType": "saType",
            "ServiceType": "serviceType",
            "Status": "status",
            "StartDate": "startDate",
            "EndDate": "endDate",
        },
    )
    data["servicePointIds"] = [(sp.text or "").strip() for sp in children.all("ServicePointId")]
    return data


def _sa_relationship(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    return _fields(
        children,
        {
            "ServiceAgreementId": "serviceAgreementId",
            "RelatedServiceAgreementId": "relatedServiceAgreementId",
            "RelationshipType": "relationshipType",
            "StartDate": "startDate",
            "EndDate": "endDate",
        },
    )


def _dynamic_option(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    return _fields(
        children,
        {
            "ServiceAgreementId": "serviceAgreementId",
            "OptionType": "optionType",
            "StartDate": "startDate",
            "EndDate": "endDate",
            "Value": "value",
        },
    )


def _dynamic_option_event(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    return _fields(children, {"OptionId": "optionId", "EventType": "eventType", "StartDateTime": "startAt", "EndDateTime": "endAt"})


_SOM = {"ServiceOrderManaged": "serviceOrderManaged"}


def _meter(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    data = _fields(
        children,
        {
            "BadgeNumber": "badgeNumber",
            "MeterType": "meterType",
            "Manufacturer": "manufacturer",
            "Model": "model",
            "SerialNumber": "serialNumber",
            "Status": "status",
        },
    )
    return _flags(children, data, _SOM)


_REGISTER = {
    "RegisterId": "registerId",
    "Sequence": "sequence",
    "Uom": "uom",
    "TouCode": "touCode",
    "ReadOutType": "readOutType",
    "DigitsLeft": "digitsLeft",
    "DigitsRight": "digitsRight",
    "Multiplier": "multiplier",
}


def _meter_configuration(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    data = _fields(
        children,
        {
            "MeterId": "meterId",
            "ConfigurationType": "configurationType",
            "EffectiveDateTime": "effectiveAt",
            "RegisterCount": "registerCount",
        },
    )
    data["registers"] = _all(children, "Register", _REGISTER)
    return _flags(children, data, _SOM)


def _sp_meter_history(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    data = _fields(
        children,
        {
            "ServicePointId": "servicePointId",
            "MeterId": "meterId",
            "MeterConfigurationId": "meterConfigurationId",
            "InstallDateTime": "installedAt",
            "RemovalDateTime": "removedAt",
        },
    )
    return _flags(children, data, _SOM)


def _scalar_meter_read(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    data = _fields(children, {"MeterId": "meterId", "SpMeterHistoryId": "spMeterHistoryId", "ReadDateTime": "readAt"})
    data["reads"] = _all(children, "RegisterRead", {"RegisterId": "registerId", "Uom": "uom", "Reading": "reading", "ReadType": "readType"})
    return data


def _bill_cycle(element: etree._Element) -> dict[str, Any]:
    children = _Children(element)
    data = _fields(children, {"BillCycleCode": "billCycleCode", "Description": "description"})
    data["schedule"] = _all(
        children, "Window", {"WindowStart": "windowStart", "WindowEnd": "windowEnd", "AccountingDate": "accountingDate"}
    )
    return data


Reader = Callable[[etree._Element], dict[str, Any]]
# element of the XSD's choice -> (the entity type it carries, its reader)
READERS: dict[str, tuple[str, Reader]] = {
    "Person": ("PERSON", _person),
    "ServicePoint": ("SERVICE_POINT", _service_point),
    "ServiceAgreement": ("SERVICE_AGREEMENT", _service_agreement),
    "SaRelationship": ("SA_RELATIONSHIP", _sa_relationship),
    "DynamicOption": ("DYNAMIC_OPTION", _dynamic_option),
    "DynamicOptionEvent": ("DYNAMIC_OPTION_EVENT", _dynamic_option_event),
    "Meter": ("METER", _meter),
    "MeterConfiguration": ("METER_CONFIGURATION", _meter_configuration),
    "SpMeterHistory": ("SP_METER_HISTORY", _sp_meter_history),
    "ScalarMeterRead": ("SCALAR_METER_READ", _scalar_meter_read),
    "BillCycle": ("BILL_CYCLE", _bill_cycle),
}

ENTITY_TYPES = frozenset(entity_type for entity_type, _ in READERS.values())


class CcbSyncRequestXml:
    """Source codec of the flows CCB feeds (CCB -> MDM, CCB -> WAM/ODM)."""

    schema = "ccb/sync-request.xsd"

    def read_request(self, root: etree._Element) -> dict[str, Any]:
        if _local(root) != "SyncRequest":
            raise_wrong_root(root, "SyncRequest")
        return _read(root, "")

    def read_batch(self, root: etree._Element) -> list[dict[str, Any]]:
        if _local(root) != "SyncRequests":
            raise_wrong_root(root, "SyncRequests")
        return [_read(element, f"/requests/{index}") for index, element in enumerate(root.findall("c:SyncRequest", NS))]


def _read(element: etree._Element, root: str) -> dict[str, Any]:
    body = element[4]  # the XSD fixes the order: four header fields, then the data choice
    header = _Children(element)
    entity_type = _text(header, "EntityType")
    carried, reader = READERS[_local(body)]
    if entity_type != carried and entity_type in ENTITY_TYPES:  # an unknown type is the contract's 422
        raise problems.invalid(
            f"A {entity_type} sync request must carry its own element, not {_local(body)}.",
            [problems.FieldError(f"#{root}/data", f"is a {_local(body)} element, which carries {carried}")],
        )
    return {
        "syncRequestId": _text(header, "SyncRequestId"),
        "entityType": entity_type,
        "entityId": _text(header, "EntityId"),
        "changedAt": _text(header, "ChangedAt"),
        "data": reader(body),
    }


def raise_wrong_root(root: etree._Element, expected: str) -> None:
    raise problems.invalid(f"Expected a {expected} document here, got {_local(root)}.")
