"""CCB's XML sync request (``schemas/ccb/sync-request.xsd``) read into the JSON contract.

The document has been parsed by the hardened parser and validated against the XSD
before it gets here; this module only maps element names to the contract's field names.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from utilhub.packs.meter_data.model import ADDRESS_XML

NS = {"c": "urn:utilhub:ccb:sync-request:v1"}
_ADDRESS = {element: field for field, element in ADDRESS_XML}


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _text(element: etree._Element, name: str) -> str | None:
    found = element.find(f"c:{name}", NS)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _fields(element: etree._Element, names: dict[str, str]) -> dict[str, Any]:
    return {key: value for xml_name, key in names.items() if (value := _text(element, xml_name)) is not None}


def _address(element: etree._Element) -> dict[str, Any] | None:
    found = element.find("c:Address", NS)
    return _fields(found, _ADDRESS) if found is not None else None


def _person(element: etree._Element) -> dict[str, Any]:
    data = _fields(element, {"Name": "name", "PersonType": "personType", "EmailAddress": "emailAddress", "Language": "language"})
    phones = [{"type": p.get("type", "OTHER"), "number": (p.text or "").strip()} for p in element.findall("c:Phone", NS)]
    if phones:
        data["phones"] = phones
    if (address := _address(element)) is not None:
        data["address"] = address
    if (life_support := _text(element, "LifeSupport")) is not None:
        data["lifeSupport"] = life_support in ("true", "1")
    return data


def _service_point(element: etree._Element) -> dict[str, Any]:
    data = _fields(element, {"PremiseId": "premiseId", "SpType": "spType", "TimeZone": "timeZone"})
    if (address := _address(element)) is not None:
        data["address"] = address
    return data


def _service_agreement(element: etree._Element) -> dict[str, Any]:
    data = _fields(
        element, {"AccountId": "accountId", "SaType": "saType", "Status": "status", "StartDate": "startDate", "EndDate": "endDate"}
    )
    data["servicePointIds"] = [(sp.text or "").strip() for sp in element.findall("c:ServicePointId", NS)]
    return data


def _generic(element: etree._Element) -> dict[str, Any]:
    return {f.get("name", ""): (f.text or "").strip() for f in element.findall("c:Field", NS)}


_READERS = {"Person": _person, "ServicePoint": _service_point, "ServiceAgreement": _service_agreement, "Data": _generic}


class CcbSyncRequestXml:
    """Source codec of the CCB -> MDM flow."""

    schema = "ccb/sync-request.xsd"

    def read_request(self, root: etree._Element) -> dict[str, Any]:
        if _local(root) != "SyncRequest":
            raise_wrong_root(root, "SyncRequest")
        return _read(root)

    def read_batch(self, root: etree._Element) -> list[dict[str, Any]]:
        if _local(root) != "SyncRequests":
            raise_wrong_root(root, "SyncRequests")
        return [_read(element) for element in root.findall("c:SyncRequest", NS)]


def _read(element: etree._Element) -> dict[str, Any]:
    body = element[4]  # the XSD fixes the order: four header fields, then the data choice
    return {
        "syncRequestId": _text(element, "SyncRequestId"),
        "entityType": _text(element, "EntityType"),
        "entityId": _text(element, "EntityId"),
        "changedAt": _text(element, "ChangedAt"),
        "data": _READERS[_local(body)](body),
    }


def raise_wrong_root(root: etree._Element, expected: str) -> None:
    from utilhub.platform.problems import invalid

    raise invalid(f"Expected a {expected} document here, got {_local(root)}.")
