"""BRM's customer services as the hub uses them (JSON over HTTPS), per billing system.

Accounts (with their name, address and contact, and their paying parent), /billinfo and /payinfo objects
(with the payment details the billing profile carries) are created, read, changed (PCM_OP_CUST_SET_BILLINFO,
PCM_OP_CUST_SET_PAYINFO: a billing profile's values, or its move to another account) and, for the paying
hierarchy, re-parented; never deleted. The bodies are BRM's flist fields (PCM_OP_CUST_COMMIT_CUSTOMER's
PIN_FLD_NAMEINFO, PIN_FLD_BILLINFO, PIN_FLD_PAYINFO with its PIN_FLD_INHERITED_INFO) as JSON. BRM refuses a duplicate (409): the
client then reads the existing object, so a retried step finds what an earlier attempt made.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from utilhub.platform.connectors import HttpConnector, TargetRejected, TargetUnavailable

JSON = "application/json"


# BRM's pay types (pin_pymt.h): what a /payinfo is, and which of its inherited info it carries
PAY_TYPE_INVOICE = 10001
PAY_TYPE_CREDIT_CARD = 10003
PAY_TYPE_DIRECT_DEBIT = 10005
# BRM's direct debit account types (PIN_FLD_TYPE of PIN_FLD_DD_INFO)
DD_ACCOUNT_TYPES = {"Checking": 1, "Savings": 2, "Corporate": 3}


class _Flist(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrmNameinfo(_Flist):
    """One element of the account's PIN_FLD_NAMEINFO array (element 1, the billing contact)."""

    company: str | None = Field(default=None, max_length=255)  # PIN_FLD_COMPANY: the Siebel account's name
    firstName: str | None = Field(default=None, max_length=90)  # PIN_FLD_FIRST_NAME
    lastName: str | None = Field(default=None, max_length=90)  # PIN_FLD_LAST_NAME
    address: str | None = Field(default=None, max_length=255)  # PIN_FLD_ADDRESS: the street lines, one per line
    city: str | None = Field(default=None, max_length=90)  # PIN_FLD_CITY
    state: str | None = Field(default=None, max_length=90)  # PIN_FLD_STATE
    zip: str | None = Field(default=None, max_length=60)  # PIN_FLD_ZIP
    country: str | None = Field(default=None, max_length=60)  # PIN_FLD_COUNTRY
    emailAddr: str | None = Field(default=None, max_length=255)  # PIN_FLD_EMAIL_ADDR
    phones: list[str] = Field(default_factory=list)  # PIN_FLD_PHONES[].PIN_FLD_PHONE


class BrmAccountIn(_Flist):
    accountNo: str = Field(min_length=1, max_length=64)
    nameinfo: list[BrmNameinfo] = Field(default_factory=list, max_length=1)
    parentPoid: str | None = None
    paying: bool = True


class BrmAccount(BrmAccountIn):
    model_config = ConfigDict(extra="ignore")

    poid: str


class BrmInvInfo(_Flist):
    """PIN_FLD_INV_INFO of an invoice /payinfo: where the invoice goes."""

    name: str | None = Field(default=None, max_length=255)
    address: str | None = Field(default=None, max_length=255)
    city: str | None = Field(default=None, max_length=90)
    state: str | None = Field(default=None, max_length=90)
    zip: str | None = Field(default=None, max_length=60)
    country: str | None = Field(default=None, max_length=60)
    emailAddr: str | None = Field(default=None, max_length=255)


class BrmCcInfo(_Flist):
    """PIN_FLD_CC_INFO of a credit card /payinfo."""

    debitNum: str  # PIN_FLD_DEBIT_NUM: the card number
    debitExp: str  # PIN_FLD_DEBIT_EXP: MMYY
    name: str  # PIN_FLD_NAME: the card holder
    address: str | None = None
    zip: str | None = None
    country: str | None = None


class BrmDdInfo(_Flist):
    """PIN_FLD_DD_INFO of a direct debit /payinfo."""

    debitNum: str  # PIN_FLD_DEBIT_NUM: the bank account number
    bankNo: str  # PIN_FLD_BANK_NO: routing number or sort code
    type: int  # PIN_FLD_TYPE: 1 checking, 2 savings, 3 corporate
    name: str  # PIN_FLD_NAME: the account holder
    address: str | None = None
    zip: str | None = None
    country: str | None = None


class BrmPayInfoIn(_Flist):
    payInfoId: str = Field(min_length=1, max_length=64)
    accountPoid: str
    # BRM's pay type (10001 invoice, 10003 credit card, 10005 direct debit, ...): the PaymentMethod map's BRM column
    payType: int = Field(ge=10000, le=10999)
    name: str | None = None  # PIN_FLD_NAME
    invInfo: BrmInvInfo | None = None  # PIN_FLD_INHERITED_INFO, one of the three by pay type
    ccInfo: BrmCcInfo | None = None
    ddInfo: BrmDdInfo | None = None


class BrmPayInfo(BrmPayInfoIn):
    model_config = ConfigDict(extra="ignore")

    poid: str


class BrmBillInfoIn(_Flist):
    billInfoId: str = Field(min_length=1, max_length=64)
    accountPoid: str
    payInfoPoid: str | None = None  # PIN_FLD_PAYINFO_OBJ
    payType: int | None = None  # PIN_FLD_PAY_TYPE, the /payinfo's
    billCycleDay: int | None = Field(default=None, ge=1, le=28)  # PIN_FLD_ACTG_CYCLE_DOM
    currency: str | None = None


class BrmBillInfo(BrmBillInfoIn):
    model_config = ConfigDict(extra="ignore")

    poid: str


class BrmParentIn(BaseModel):
    """The paying parent of an account; None makes it pay for itself."""

    model_config = ConfigDict(extra="forbid")

    parentPoid: str | None
    paying: bool = False


class BrmClient:
    def __init__(self, connector: HttpConnector) -> None:
        self._connector = connector

    def _call(self, method: str, path: str, body: BaseModel | None = None) -> dict[str, Any] | None:
        """The JSON answer, or None for 404."""
        raw = body.model_dump_json(exclude_none=True).encode() if body is not None else None
        try:
            response = self._connector.request(method, path, raw, content_type=JSON)
        except TargetRejected as exc:
            if exc.status == 404:
                return None
            raise
        return json.loads(response.body) if response.body else {}

    @staticmethod
    def _base(system: str) -> str:
        return f"billing-systems/{quote(system, safe='')}"

    def _create_or_find(self, system: str, collection: str, body: BaseModel, key_field: str, key: str) -> tuple[dict[str, Any], bool]:
        try:
            created = self._call("POST", f"{self._base(system)}/{collection}", body)
            assert created is not None
            return created, True
        except TargetRejected as exc:
            if exc.status != 409:
                raise
        found = self._call("GET", f"{self._base(system)}/{collection}?{key_field}={quote(key, safe='')}")
        if found is None:  # refused as a duplicate, yet not found: BRM is not consistent yet; let the step retry
            raise TargetUnavailable(f"BRM refused {collection} {key} as a duplicate but does not find it")
        return found, False

    def ensure_account(self, system: str, account: BrmAccountIn) -> tuple[BrmAccount, bool]:
        found, created = self._create_or_find(system, "accounts", account, "accountNo", account.accountNo)
        return BrmAccount.model_validate(found), created

    def account(self, system: str, poid: str) -> BrmAccount | None:
        found = self._call("GET", f"{self._base(system)}/accounts/{quote(poid, safe='')}")
        return BrmAccount.model_validate(found) if found is not None else None

    def set_parent(self, system: str, poid: str, parent_poid: str | None) -> BrmAccount:
        """Move the account under ``parent_poid`` (nonpaying), or with None make it pay for itself."""
        change = BrmParentIn(parentPoid=parent_poid, paying=parent_poid is None)
        raw = change.model_dump_json().encode()  # parentPoid null must be sent, not left out
        response = self._connector.request("PUT", f"{self._base(system)}/accounts/{quote(poid, safe='')}/parent", raw, content_type=JSON)
        changed = json.loads(response.body)
        return BrmAccount.model_validate(changed)

    def ensure_billinfo(self, system: str, billinfo: BrmBillInfoIn) -> tuple[BrmBillInfo, bool]:
        found, created = self._create_or_find(system, "billinfos", billinfo, "billInfoId", billinfo.billInfoId)
        return BrmBillInfo.model_validate(found), created

    def ensure_payinfo(self, system: str, payinfo: BrmPayInfoIn) -> tuple[BrmPayInfo, bool]:
        found, created = self._create_or_find(system, "payinfos", payinfo, "payInfoId", payinfo.payInfoId)
        return BrmPayInfo.model_validate(found), created

    def billinfo(self, system: str, poid: str) -> BrmBillInfo | None:
        found = self._call("GET", f"{self._base(system)}/billinfos/{quote(poid, safe='')}")
        return BrmBillInfo.model_validate(found) if found is not None else None

    def payinfo(self, system: str, poid: str) -> BrmPayInfo | None:
        found = self._call("GET", f"{self._base(system)}/payinfos/{quote(poid, safe='')}")
        return BrmPayInfo.model_validate(found) if found is not None else None

    def set_billinfo(self, system: str, poid: str, billinfo: BrmBillInfoIn) -> BrmBillInfo:
        """Change a /billinfo to ``billinfo`` (PCM_OP_CUST_SET_BILLINFO): its values, or its account (a move)."""
        changed = self._call("PUT", f"{self._base(system)}/billinfos/{quote(poid, safe='')}", billinfo)
        if changed is None:
            raise TargetUnavailable(f"BRM does not find /billinfo {poid} it holds")
        return BrmBillInfo.model_validate(changed)

    def set_payinfo(self, system: str, poid: str, payinfo: BrmPayInfoIn) -> BrmPayInfo:
        """Change a /payinfo to ``payinfo`` (PCM_OP_CUST_SET_PAYINFO)."""
        changed = self._call("PUT", f"{self._base(system)}/payinfos/{quote(poid, safe='')}", payinfo)
        if changed is None:
            raise TargetUnavailable(f"BRM does not find /payinfo {poid} it holds")
        return BrmPayInfo.model_validate(changed)
