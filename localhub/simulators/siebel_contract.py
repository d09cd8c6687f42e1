"""Siebel's own contract for the accounts the simulator keeps and the messages it sends, written for the simulator
from Siebel's documented account integration object and its lists of values, never from the hub's models.

An account is Siebel's ``Account`` business component with the children an order's billing account carries: its
primary address (``CUT Address``: street, city, state, postal code, country, in the lengths of Siebel's columns),
its primary contact (first and last name, e-mail, phones), its billing profile (``CUT Invoice Profile``: payment
method, bill route, bill cycle day, currency) and its statement profile. Picklist fields take only the values of
Siebel's lists of values (``PAYMENT_METHOD``, ``BILL_ROUTE``, ``STATEMENT_FORMAT``, ``ADDRESS_TYPE``,
``PHONE_TYPE``), as Siebel's UI and EAI would refuse any other.

:func:`write_order` and :func:`write_account_update` render the ``UTH Customer Order`` and ``UTH Customer Account
Update`` integration objects as Siebel EAI does, element by element from the integration object's own XSD
(``siebel/customer.xsd``), against which they are validated before they are sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from lxml import etree
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from utilhub.platform.xml import to_bytes, validate

# The parts of an account a change is sent with, one by one (Siebel's Account integration components).
PARTS = ("name", "address", "contact", "billingProfile", "statementProfile")

RowId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")]


class _Component(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Address(_Component):
    type: Literal["Billing", "Mailing", "Service", "Home"] = "Billing"  # ADDRESS_TYPE
    line1: Annotated[str, StringConstraints(min_length=1, max_length=200)]  # S_ADDR_PER.ADDR
    line2: Annotated[str, StringConstraints(max_length=100)] | None = None  # ADDR_LINE_2
    city: Annotated[str, StringConstraints(min_length=1, max_length=50)]  # CITY
    state: Annotated[str, StringConstraints(max_length=10)] | None = None  # STATE
    postalCode: Annotated[str, StringConstraints(max_length=30)] | None = None  # ZIPCODE
    country: Annotated[str, StringConstraints(min_length=1, max_length=30)] = "USA"  # COUNTRY


class Phone(_Component):
    type: Literal["Home Phone", "Work Phone", "Mobile Phone", "Fax"]  # PHONE_TYPE
    number: Annotated[str, StringConstraints(pattern=r"^[0-9+()\-. x]{3,40}$")]


class Contact(_Component):
    firstName: Annotated[str, StringConstraints(max_length=50)] | None = None  # S_CONTACT.FST_NAME
    lastName: Annotated[str, StringConstraints(min_length=1, max_length=50)]  # LAST_NAME
    emailAddress: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=100)] | None = None
    phones: list[Phone] = Field(default_factory=list, max_length=10)


class BillingProfile(_Component):
    id: RowId
    paymentMethod: Literal["Invoice", "Credit Card", "Direct Debit", "Check"] = "Invoice"  # PAYMENT_METHOD
    billRoute: Literal["Postal", "Email", "Fax"] = "Postal"  # BILL_ROUTE
    billCycleDay: Annotated[int, Field(ge=1, le=28)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None


class StatementProfile(_Component):
    id: RowId
    format: Literal["Summary", "Detailed"] = "Summary"  # STATEMENT_FORMAT
    billRoute: Literal["Postal", "Email", "Fax"] = "Postal"


class Account(_Component):
    """A Siebel account as its users keep it: what an order's billing account carries."""

    id: RowId
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]  # S_ORG_EXT.NAME
    address: Address
    contact: Contact | None = None
    billingProfile: BillingProfile
    statementProfile: StatementProfile | None = None


# ------------------------------------------------------------------------------- the integration objects as XML

NAMESPACE = "urn:utilhub:siebel:customer:v1"
SCHEMA = "siebel/customer.xsd"
ORDER = "UTH Customer Order"
ACCOUNT_UPDATE = "UTH Customer Account Update"
# integration component field names, per component, in the order of the XSD
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


def _add(parent: etree._Element, name: str, value: Any) -> etree._Element | None:
    if value in (None, ""):
        return None
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    element.text = str(value)
    return element


def _component(parent: etree._Element, name: str, data: dict[str, Any] | None, fields: tuple[tuple[str, str], ...]) -> None:
    if data is None:
        return
    element = etree.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    for key, xml_name in fields:
        _add(element, xml_name, data.get(key))


def _account_fields(element: etree._Element, parts: dict[str, Any]) -> None:
    _add(element, "Name", parts.get("name"))
    _component(element, "Address", parts.get("address"), _ADDRESS)
    if (contact := parts.get("contact")) is not None:
        contact_element = etree.SubElement(element, f"{{{NAMESPACE}}}Contact")
        for key, xml_name in _CONTACT:
            _add(contact_element, xml_name, contact.get(key))
        if contact.get("phones"):
            phones = etree.SubElement(contact_element, f"{{{NAMESPACE}}}ListOfPhone")
            for phone in contact["phones"]:
                etree.SubElement(phones, f"{{{NAMESPACE}}}Phone", Type=phone["type"]).text = phone["number"]
    _component(element, "BillingProfile", parts.get("billingProfile"), _BILLING)
    _component(element, "StatementProfile", parts.get("statementProfile"), _STATEMENT)


def _message(kind: str, message_id: str) -> etree._Element:
    root = etree.Element(f"{{{NAMESPACE}}}SiebelMessage", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    root.set("MessageId", message_id)
    root.set("MessageType", "Integration Object")
    root.set("IntObjectName", kind)
    root.set("IntObjectFormat", "Siebel Hierarchical")
    return root


def write_order(order: dict[str, Any], message_id: str) -> bytes:
    """``UTH Customer Order``: the order number, its submission time and each line's billing account."""
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
        _account_fields(account, line["billingAccount"])
    validate(root, SCHEMA)
    return to_bytes(root)


def write_account_update(account_id: str, update: dict[str, Any], message_id: str) -> bytes:
    """``UTH Customer Account Update``: the parts of one account that changed, and when."""
    root = _message(ACCOUNT_UPDATE, message_id)
    account = etree.SubElement(etree.SubElement(root, f"{{{NAMESPACE}}}ListOfAccount"), f"{{{NAMESPACE}}}Account")
    _add(account, "AccountId", account_id)
    _add(account, "UpdateId", update["updateId"])
    _add(account, "ChangedAt", update["changedAt"])
    _account_fields(account, update)
    validate(root, SCHEMA)
    return to_bytes(root)
