"""Siebel's XML customer messages (``schemas/siebel/customer.xsd``) read into the JSON contract, and
written from it (the Siebel simulator sends what this module writes).

The hub's HTTP layer has parsed the document with the hardened parser; :func:`read_order` and
:func:`read_account_update` validate it against the XSD, then only map element names to fields.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from utilhub.platform import problems
from utilhub.platform.xml import to_bytes, validate

NAMESPACE = "urn:utilhub:siebel:customer:v1"
NS = {"s": NAMESPACE}
SCHEMA = "siebel/customer.xsd"
ORDER = "UTH Customer Order"
ACCOUNT_UPDATE = "UTH Customer Account Update"

# contract field <-> Siebel element, per part
_ADDRESS = (
    ("type", "AddressType"),
    ("line1", "StreetAddress"),
    ("line2", "StreetAddress2"),
    ("city", "City"),
    ("state", "State"),
    ("postalCode", "PostalCode"),
    ("country", "Country"),
)
_CONTACT = (("firstName", "FirstName"), ("lastName", "LastName"), ("emailAddress", "EmailAddress"))
_BILLING = (
    ("id", "Id"),
    ("paymentMethod", "PaymentMethod"),
    ("billRoute", "BillRoute"),
    ("billCycleDay", "BillCycleDay"),
    ("currency", "Currency"),
)
_STATEMENT = (("id", "Id"), ("format", "Format"), ("billRoute", "BillRoute"))


def _text(element: etree._Element, name: str) -> str | None:
    found = element.find(f"s:{name}", NS)
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _fields(element: etree._Element | None, names: tuple[tuple[str, str], ...]) -> dict[str, Any] | None:
    if element is None:
        return None
    return {key: value for key, xml_name in names if (value := _text(element, xml_name)) is not None}


def _parts(element: etree._Element) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if (name := _text(element, "Name")) is not None:
        parts["name"] = name
    if (address := _fields(element.find("s:Address", NS), _ADDRESS)) is not None:
        parts["address"] = address
    if (contact_element := element.find("s:Contact", NS)) is not None:
        contact = _fields(contact_element, _CONTACT) or {}
        contact["phones"] = [
            {"type": phone.get("Type", ""), "number": (phone.text or "").strip()}
            for phone in contact_element.iterfind("s:ListOfPhone/s:Phone", NS)
        ]
        parts["contact"] = contact
    if (billing := _fields(element.find("s:BillingProfile", NS), _BILLING)) is not None:
        parts["billingProfile"] = billing
    if (statement := _fields(element.find("s:StatementProfile", NS), _STATEMENT)) is not None:
        parts["statementProfile"] = statement
    return parts


def _checked(root: etree._Element, kind: str) -> None:
    validate(root, SCHEMA)
    if root.get("IntObjectName") != kind:
        raise problems.invalid(
            f"This route takes a {kind!r} message, not {root.get('IntObjectName')!r}.",
            [problems.FieldError("#/SiebelMessage/@IntObjectName", f"must be {kind}")],
        )


def read_order(root: etree._Element) -> dict[str, Any]:
    """A ``UTH Customer Order`` message as the JSON order (``SiebelOrderIn``)."""
    _checked(root, ORDER)
    order = root.find("s:ListOfOrder/s:Order", NS)
    assert order is not None  # the XSD requires it
    body: dict[str, Any] = {"orderId": _text(order, "OrderNumber"), "lines": []}
    if submitted := _text(order, "SubmittedDate"):
        body["submittedAt"] = submitted
    for item in order.iterfind("s:ListOfOrderItem/s:OrderItem", NS):
        account = item.find("s:BillingAccount", NS)
        assert account is not None
        body["lines"].append(
            {"lineId": _text(item, "LineNumber"), "billingAccount": {"id": _text(account, "AccountId"), **_parts(account)}}
        )
    return body


def read_account_update(root: etree._Element, siebel_account_id: str) -> dict[str, Any]:
    """A ``UTH Customer Account Update`` message as the JSON update (``AccountUpdateIn``) of the account in the path."""
    _checked(root, ACCOUNT_UPDATE)
    account = root.find("s:ListOfAccount/s:Account", NS)
    assert account is not None
    if (named := _text(account, "AccountId")) != siebel_account_id:
        raise problems.invalid(
            "The message is about another account than the path names.",
            [problems.FieldError("#/ListOfAccount/Account/AccountId", f"is {named}, the path names {siebel_account_id}")],
        )
    return {"updateId": _text(account, "UpdateId"), "changedAt": _text(account, "ChangedAt"), **_parts(account)}


# ---------------------------------------------------------------------------------------- writing


def _add(parent: etree._Element, name: str, value: Any) -> etree._Element | None:
    if value in (None, ""):
        return None
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    element.text = str(value)
    return element


def _write_fields(parent: etree._Element, name: str, data: dict[str, Any] | None, names: tuple[tuple[str, str], ...]) -> None:
    if data is None:
        return
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    for key, xml_name in names:
        _add(element, xml_name, data.get(key))


def _write_parts(element: etree._Element, parts: dict[str, Any]) -> None:
    _add(element, "Name", parts.get("name"))
    _write_fields(element, "Address", parts.get("address"), _ADDRESS)
    if (contact := parts.get("contact")) is not None:
        contact_element = etree.SubElement(element, f"{{{NAMESPACE}}}Contact")
        for key, xml_name in _CONTACT:
            _add(contact_element, xml_name, contact.get(key))
        if contact.get("phones"):
            phones = etree.SubElement(contact_element, f"{{{NAMESPACE}}}ListOfPhone")
            for phone in contact["phones"]:
                _add(phones, "Phone", phone["number"]).set("Type", phone["type"])  # type: ignore[union-attr]
    _write_fields(element, "BillingProfile", parts.get("billingProfile"), _BILLING)
    _write_fields(element, "StatementProfile", parts.get("statementProfile"), _STATEMENT)


def _message(kind: str, message_id: str) -> etree._Element:
    root = etree.Element(f"{{{NAMESPACE}}}SiebelMessage", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    root.set("MessageId", message_id)
    root.set("MessageType", "Integration Object")
    root.set("IntObjectName", kind)
    root.set("IntObjectFormat", "Siebel Hierarchical")
    return root


def write_order(order: dict[str, Any], message_id: str) -> bytes:
    """The XML of a JSON order (``SiebelOrderIn`` as JSON), validated against the XSD."""
    root = _message(ORDER, message_id)
    element = etree.SubElement(etree.SubElement(root, f"{{{NAMESPACE}}}ListOfOrder"), f"{{{NAMESPACE}}}Order")
    _add(element, "OrderNumber", order["orderId"])
    _add(element, "SubmittedDate", order.get("submittedAt"))
    items = etree.SubElement(element, f"{{{NAMESPACE}}}ListOfOrderItem")
    for line in order["lines"]:
        item = etree.SubElement(items, f"{{{NAMESPACE}}}OrderItem")
        _add(item, "LineNumber", line["lineId"])
        account = etree.SubElement(item, f"{{{NAMESPACE}}}BillingAccount")
        _add(account, "AccountId", line["billingAccount"]["id"])
        _write_parts(account, line["billingAccount"])
    validate(root, SCHEMA)
    return to_bytes(root)


def write_account_update(siebel_account_id: str, update: dict[str, Any], message_id: str) -> bytes:
    """The XML of a JSON account update (``AccountUpdateIn`` as JSON), validated against the XSD."""
    root = _message(ACCOUNT_UPDATE, message_id)
    account = etree.SubElement(etree.SubElement(root, f"{{{NAMESPACE}}}ListOfAccount"), f"{{{NAMESPACE}}}Account")
    _add(account, "AccountId", siebel_account_id)
    _add(account, "UpdateId", update["updateId"])
    _add(account, "ChangedAt", update["changedAt"])
    _write_parts(account, update)
    validate(root, SCHEMA)
    return to_bytes(root)
