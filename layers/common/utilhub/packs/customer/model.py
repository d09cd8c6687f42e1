"""What Siebel Energy sends about a customer (the CU contract): the billing account of an order line
(CU-01) and a change to an account already synchronized (CU-02).

Code values (payment method, bill route, statement format, address and contact types, country,
state) are Siebel's own, kept as strings here and translated through the domain value maps
(:mod:`utilhub.packs.customer.mapping`), so a map can change without a new model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from utilhub.syncrequests.ccb_data import EmailAddress, PhoneNumber
from utilhub.syncrequests.model import ID_PATTERN

# The parts of a Siebel account that CU-02 updates one by one, in the order the CCB image is built.
COMPONENTS = ("name", "address", "contact", "billingProfile", "statementProfile")
Component = Literal["name", "address", "contact", "billingProfile", "statementProfile"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class SiebelAddress(_Strict):
    type: str = Field(default="Billing", min_length=1, max_length=60)
    line1: str = Field(min_length=1, max_length=254)
    line2: str | None = Field(default=None, max_length=254)
    city: str = Field(min_length=1, max_length=90)
    state: str | None = Field(default=None, max_length=30)
    postalCode: str | None = Field(default=None, max_length=12)
    country: str = Field(default="USA", min_length=1, max_length=60)


class SiebelPhone(_Strict):
    type: str = Field(min_length=1, max_length=60)
    number: PhoneNumber


class SiebelContact(_Strict):
    firstName: str | None = Field(default=None, max_length=50)
    lastName: str = Field(min_length=1, max_length=50)
    emailAddress: EmailAddress | None = None
    phones: list[SiebelPhone] = Field(default_factory=list, max_length=10)


class SiebelBillingProfile(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    paymentMethod: str = Field(default="Invoice", min_length=1, max_length=60)
    billRoute: str = Field(default="Postal", min_length=1, max_length=60)
    billCycleDay: int | None = Field(default=None, ge=1, le=28)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class SiebelStatementProfile(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    format: str = Field(default="Summary", min_length=1, max_length=60)
    billRoute: str = Field(default="Postal", min_length=1, max_length=60)


class BillingAccount(_Strict):
    """The billing account of an order line: becomes the CCB person, account, contacts, bill route and statement."""

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=254)
    address: SiebelAddress
    contact: SiebelContact | None = None
    billingProfile: SiebelBillingProfile
    statementProfile: SiebelStatementProfile | None = None


class SiebelOrderLine(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, defer_build=True)

    lineId: str = Field(pattern=ID_PATTERN)
    billingAccount: BillingAccount


class SiebelOrderIn(BaseModel):
    """``POST /customer/siebel/orders``: an order submitted in Siebel (CU-01)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, defer_build=True)

    orderId: str = Field(pattern=ID_PATTERN)
    submittedAt: AwareDatetime | None = None
    lines: list[SiebelOrderLine] = Field(min_length=1, max_length=500)


class AccountUpdateIn(_Strict):
    """``POST /customer/siebel/accounts/{siebelAccountId}/updates``: what changed in Siebel, and when (CU-02).

    Only the parts that changed are sent; each is the part's whole new value.
    """

    updateId: str = Field(pattern=ID_PATTERN)
    changedAt: AwareDatetime
    name: str | None = Field(default=None, min_length=1, max_length=254)
    address: SiebelAddress | None = None
    contact: SiebelContact | None = None
    billingProfile: SiebelBillingProfile | None = None
    statementProfile: SiebelStatementProfile | None = None

    @model_validator(mode="after")
    def _something_changed(self) -> AccountUpdateIn:
        if not any(getattr(self, part) is not None for part in COMPONENTS):
            raise ValueError(f"an update carries at least one of {', '.join(COMPONENTS)}")
        return self


class CustomerOutcome(BaseModel):
    siebelAccountId: str
    ccbPersonId: str
    ccbAccountId: str
    action: Literal["CREATED", "UPDATED", "UNCHANGED"]
