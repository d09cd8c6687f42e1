"""Siebel account parts -> CCB customer parts, with every code value through the domain value maps.

Each Siebel part maps to its own CCB parts, so an update that changes one part (CU-02) changes only
what it maps to: name -> person; address -> addresses; contact -> contacts; billing profile ->
account set-up and bill route; statement profile -> statement set-up.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from utilhub.packs.customer.ccb import (
    CcbAccountSetup,
    CcbAddress,
    CcbBillRoute,
    CcbContact,
    CcbCustomerChange,
    CcbPerson,
    CcbStatement,
)
from utilhub.packs.customer.model import (
    COMPONENTS,
    SiebelAddress,
    SiebelBillingProfile,
    SiebelContact,
    SiebelStatementProfile,
)
from utilhub.platform.dvm import Translator, domain_value_maps

SIEBEL = "SEBL"
CCB = "CCB"
EMAIL = "Email"  # the Siebel contact type of a contact's e-mail address


def _address(address: SiebelAddress, tr: Translator, at: str) -> CcbAddress:
    return CcbAddress(
        addressType=tr("AddressType", address.type, f"{at}/type") or "",
        address1=address.line1,
        address2=address.line2,
        city=address.city,
        state=tr("State", address.state, f"{at}/state"),
        postal=address.postalCode,
        country=tr("Country", address.country, f"{at}/country") or "",
    )


def _contacts(contact: SiebelContact, tr: Translator, at: str) -> list[CcbContact]:
    name = " ".join(part for part in (contact.firstName, contact.lastName) if part)
    contacts = []
    if contact.emailAddress:
        contacts.append(
            CcbContact(contactType=tr("ContactType", EMAIL, f"{at}/emailAddress") or "", value=contact.emailAddress, contactName=name)
        )
    for n, phone in enumerate(contact.phones):
        contacts.append(
            CcbContact(contactType=tr("ContactType", phone.type, f"{at}/phones/{n}/type") or "", value=phone.number, contactName=name)
        )
    return contacts


def _billing(profile: SiebelBillingProfile, tr: Translator, at: str) -> dict[str, Any]:
    return {
        "account": CcbAccountSetup(
            paymentMethod=tr("PaymentMethod", profile.paymentMethod, f"{at}/paymentMethod") or "",
            billCycleDay=profile.billCycleDay,
            currency=profile.currency,
            billingProfileId=profile.id,
        ),
        "billRoute": CcbBillRoute(billRouteType=tr("BillRoute", profile.billRoute, f"{at}/billRoute") or ""),
    }


def _statement(profile: SiebelStatementProfile, tr: Translator, at: str) -> CcbStatement:
    return CcbStatement(
        statementProfileId=profile.id,
        statementFormat=tr("StatementFormat", profile.format, f"{at}/format") or "",
        billRouteType=tr("BillRoute", profile.billRoute, f"{at}/billRoute") or "",
    )


def to_ccb(parts: dict[str, Any], at: str, tr: Translator) -> CcbCustomerChange | None:
    """The CCB parts of the Siebel ``parts`` given (keys from :data:`COMPONENTS`; ``at`` is their JSON
    pointer), or None when a code value has no mapping: ``tr`` then names each one (``tr.check()``)."""
    change: dict[str, Any] = {}
    for part in COMPONENTS:
        value = parts.get(part)
        if value is None:
            continue
        unmapped_before = len(tr.errors)
        try:
            if part == "name":
                change["person"] = CcbPerson(name=value)
            elif part == "address":
                change["addresses"] = [_address(value, tr, f"{at}/address")]
            elif part == "contact":
                change["contacts"] = _contacts(value, tr, f"{at}/contact")
            elif part == "billingProfile":
                change.update(_billing(value, tr, f"{at}/billingProfile"))
            else:
                change["statement"] = _statement(value, tr, f"{at}/statementProfile")
        except ValidationError:
            if len(tr.errors) == unmapped_before:
                raise
            # an unmapped value left a CCB field empty; the translator names it, and the other parts are still checked
    return None if tr.errors else CcbCustomerChange(**change)


def translator() -> Translator:
    """Siebel's code values to CCB's, through this deployment's domain value maps."""
    return domain_value_maps().translator(source=SIEBEL, target=CCB)
