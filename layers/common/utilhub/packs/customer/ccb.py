"""CCB's customer services as the hub uses them (JSON over HTTPS), in CCB's own codes.

A customer is one person with one account, its addresses, contacts, bill route and statement
set-up, keyed at CCB by the Siebel account id it came from. CCB refuses a second customer for a
Siebel id (409): the client then reads the one there, so a create retried after a failure that
hid its answer makes nothing twice.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from utilhub.platform.budget import TimeBudget, bad_gateway
from utilhub.platform.connectors import HttpConnector

JSON = "application/json"


class _Ccb(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CcbPerson(_Ccb):
    name: str = Field(min_length=1, max_length=254)


class CcbAccountSetup(_Ccb):
    paymentMethod: str = Field(min_length=1, max_length=12)
    billCycleDay: int | None = Field(default=None, ge=1, le=28)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    billingProfileId: str


class CcbAddress(_Ccb):
    addressType: str = Field(min_length=1, max_length=12)
    address1: str = Field(min_length=1, max_length=254)
    address2: str | None = Field(default=None, max_length=254)
    city: str = Field(min_length=1, max_length=90)
    state: str | None = Field(default=None, max_length=6)
    postal: str | None = Field(default=None, max_length=12)
    country: str = Field(min_length=3, max_length=3)


class CcbContact(_Ccb):
    contactType: str = Field(min_length=1, max_length=12)
    value: str = Field(min_length=1, max_length=254)
    contactName: str | None = Field(default=None, max_length=254)


class CcbBillRoute(_Ccb):
    billRouteType: str = Field(min_length=1, max_length=12)


class CcbStatement(_Ccb):
    statementProfileId: str
    statementFormat: str = Field(min_length=1, max_length=12)
    billRouteType: str = Field(min_length=1, max_length=12)


class CcbCustomerChange(_Ccb):
    """The parts of a customer to replace (``PUT /customers/{personId}``); a part left out is kept."""

    person: CcbPerson | None = None
    account: CcbAccountSetup | None = None
    addresses: list[CcbAddress] | None = None
    contacts: list[CcbContact] | None = None
    billRoute: CcbBillRoute | None = None
    statement: CcbStatement | None = None


class CcbCustomerIn(CcbCustomerChange):
    """A new customer (``POST /customers``)."""

    siebelAccountId: str
    person: CcbPerson
    account: CcbAccountSetup
    addresses: list[CcbAddress] = Field(min_length=1)
    contacts: list[CcbContact] = Field(default_factory=list)
    billRoute: CcbBillRoute


class CcbCustomer(CcbCustomerIn):
    model_config = ConfigDict(extra="ignore")

    personId: str
    accountId: str


class CcbCustomerClient:
    def __init__(self, connector: HttpConnector) -> None:
        self._connector = connector

    def _call(
        self, budget: TimeBudget, method: str, path: str, body: BaseModel | None = None, *, absent_on: int | None = None
    ) -> dict[str, Any] | None:
        """The JSON answer, or None when CCB answers ``absent_on``; other failures are the budget's problems (502, 504)."""
        payload = body.model_dump(mode="json", exclude_none=True) if body is not None else None
        return budget.json_call(self._connector, method, path, payload, absent_on=absent_on)

    @staticmethod
    def _customer(answer: dict[str, Any]) -> CcbCustomer:
        try:
            return CcbCustomer.model_validate(answer)
        except ValidationError as exc:  # CCB answered, but not a customer: its fault, not the caller's
            raise bad_gateway("CCB", f"answered an unreadable customer ({exc.error_count()} errors)") from None

    def find(self, budget: TimeBudget, siebel_account_id: str) -> CcbCustomer | None:
        found = self._call(budget, "GET", f"customers?siebelAccountId={quote(siebel_account_id, safe='')}", absent_on=404)
        return self._customer(found) if found is not None else None

    def read(self, budget: TimeBudget, person_id: str) -> CcbCustomer | None:
        """The customer whose person is ``person_id``, or None when CCB has no such customer person."""
        found = self._call(budget, "GET", f"customers/{quote(person_id, safe='')}", absent_on=404)
        return self._customer(found) if found is not None else None

    def create(self, budget: TimeBudget, customer: CcbCustomerIn) -> tuple[CcbCustomer, bool]:
        """The customer CCB now has for the Siebel id, and whether this call created it."""
        created = self._call(budget, "POST", "customers", customer, absent_on=409)
        if created is not None:
            return self._customer(created), True
        found = self.find(budget, customer.siebelAccountId)
        if found is None:
            raise bad_gateway("CCB", f"refused customer {customer.siebelAccountId} as a duplicate but does not find it")
        return found, False

    def change(self, budget: TimeBudget, person_id: str, change: CcbCustomerChange) -> CcbCustomer:
        changed = self._call(budget, "PUT", f"customers/{quote(person_id, safe='')}", change, absent_on=404)
        if changed is None:
            raise bad_gateway("CCB", f"no longer has person {person_id}")
        return self._customer(changed)
