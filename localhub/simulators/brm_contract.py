"""BRM's own contract for what the hub sends it, written for the simulator from BRM's documented opcode and flist
interface, never from the hub's models: an account as PCM_OP_CUST_COMMIT_CUSTOMER takes it (PIN_FLD_ACCOUNT_NO,
the PIN_FLD_NAMEINFO array, the paying parent), a /payinfo as PCM_OP_CUST_SET_PAYINFO takes it (PIN_FLD_PAY_TYPE
and the PIN_FLD_INHERITED_INFO its pay type calls for), a /billinfo as PCM_OP_CUST_SET_BILLINFO takes it
(PIN_FLD_BILLINFO_ID, PIN_FLD_PAYINFO_OBJ, PIN_FLD_PAY_TYPE, PIN_FLD_ACTG_CYCLE_DOM, PIN_FLD_CURRENCY), and a
paying parent as PCM_OP_BILL_GROUP_MOVE_MEMBER takes it. The REST service in front of BRM carries each flist field
as a camelCase JSON member (``PIN_FLD_ACCOUNT_NO`` → ``accountNo``, ``PIN_FLD_ACTG_CYCLE_DOM`` → ``billCycleDay``)
and POIDs as strings (``"0.0.0.1 /account 1001"``).

Every model refuses a member BRM does not have, so a hub that maps a field to a name BRM does not know, or leaves
out what BRM requires, is refused here as BRM would refuse it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# pin_pymt.h
PIN_PAY_TYPE_INVOICE = 10001
PIN_PAY_TYPE_CC = 10003
PIN_PAY_TYPE_DD = 10005
PIN_PAY_TYPE_SUBORD = 10007
PAY_TYPES = (PIN_PAY_TYPE_INVOICE, PIN_PAY_TYPE_CC, PIN_PAY_TYPE_DD)

Poid = Annotated[str, StringConstraints(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ /[a-z_/]+ [0-9]+$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class _Flist(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Nameinfo(_Flist):
    """An element of PIN_FLD_NAMEINFO: a name (PIN_FLD_COMPANY or PIN_FLD_LAST_NAME) and, when an address is given,
    PIN_FLD_ADDRESS with PIN_FLD_CITY and PIN_FLD_COUNTRY, as BRM's account creation requires."""

    company: Text | None = None
    firstName: Annotated[str, StringConstraints(max_length=90)] | None = None
    lastName: Annotated[str, StringConstraints(max_length=90)] | None = None
    address: Text | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=90)] | None = None
    state: Annotated[str, StringConstraints(max_length=90)] | None = None
    zip: Annotated[str, StringConstraints(max_length=60)] | None = None
    country: Annotated[str, StringConstraints(min_length=1, max_length=60)] | None = None
    emailAddr: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=255)] | None = None
    phones: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _named_and_located(self) -> Nameinfo:
        if not (self.company or self.lastName):
            raise ValueError("PIN_FLD_NAMEINFO needs PIN_FLD_COMPANY or PIN_FLD_LAST_NAME")
        if self.address and not (self.city and self.country):
            raise ValueError("PIN_FLD_ADDRESS needs PIN_FLD_CITY and PIN_FLD_COUNTRY")
        return self


class Account(_Flist):
    """PCM_OP_CUST_COMMIT_CUSTOMER's account: a paying account, or a nonpaying member of its paying parent."""

    accountNo: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    nameinfo: list[Nameinfo] = Field(default_factory=list, max_length=2)
    parentPoid: Poid | None = None
    paying: bool = True

    @model_validator(mode="after")
    def _nonpaying_has_parent(self) -> Account:
        if not self.paying and self.parentPoid is None:
            raise ValueError("a nonpaying account (PIN_PAY_TYPE_SUBORD) needs a paying parent")
        return self


class ParentChange(_Flist):
    """PCM_OP_BILL_GROUP_MOVE_MEMBER: the account's new paying parent, or none to pay for itself."""

    parentPoid: Poid | None
    paying: bool


class InvInfo(_Flist):
    """PIN_FLD_INV_INFO: where an invoice goes."""

    name: Text | None = None
    address: Text | None = None
    city: Text | None = None
    state: Text | None = None
    zip: Annotated[str, StringConstraints(max_length=60)] | None = None
    country: Text | None = None
    emailAddr: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=255)] | None = None


def luhn(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    return sum(d if i % 2 == 0 else (d * 2 if d < 5 else d * 2 - 9) for i, d in enumerate(digits)) % 10 == 0


class CcInfo(_Flist):
    """PIN_FLD_CC_INFO: the card (PIN_FLD_DEBIT_NUM, PIN_FLD_DEBIT_EXP as MMYY) and its holder."""

    debitNum: Annotated[str, StringConstraints(pattern=r"^[0-9]{12,19}$")]
    debitExp: Annotated[str, StringConstraints(pattern=r"^(0[1-9]|1[0-2])[0-9]{2}$")]
    name: Text
    address: Text | None = None
    zip: Annotated[str, StringConstraints(max_length=60)] | None = None
    country: Text | None = None

    @model_validator(mode="after")
    def _valid_card(self) -> CcInfo:
        if not luhn(self.debitNum):
            raise ValueError("PIN_FLD_DEBIT_NUM is not a valid card number")
        return self


class DdInfo(_Flist):
    """PIN_FLD_DD_INFO: the bank account (PIN_FLD_DEBIT_NUM), its bank (PIN_FLD_BANK_NO), type and holder."""

    debitNum: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{4,34}$")]
    bankNo: Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{3,11}$")]
    type: Literal[1, 2, 3]  # checking, savings, corporate
    name: Text
    address: Text | None = None
    zip: Annotated[str, StringConstraints(max_length=60)] | None = None
    country: Text | None = None


class PayInfo(_Flist):
    """A /payinfo: its account, its pay type and the one PIN_FLD_INHERITED_INFO its type calls for."""

    payInfoId: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    accountPoid: Poid
    payType: Literal[10001, 10003, 10005]
    name: Text | None = None
    invInfo: InvInfo | None = None
    ccInfo: CcInfo | None = None
    ddInfo: DdInfo | None = None

    @model_validator(mode="after")
    def _inherited_info_of_its_type(self) -> PayInfo:
        wanted = {PIN_PAY_TYPE_INVOICE: "invInfo", PIN_PAY_TYPE_CC: "ccInfo", PIN_PAY_TYPE_DD: "ddInfo"}[self.payType]
        given = [name for name in ("invInfo", "ccInfo", "ddInfo") if getattr(self, name) is not None]
        if given != [wanted]:
            raise ValueError(f"pay type {self.payType} carries PIN_FLD_INHERITED_INFO {wanted} only (given: {given or 'none'})")
        return self


class BillInfo(_Flist):
    """A /billinfo: its account, the /payinfo that pays its bills and that /payinfo's pay type, its cycle and currency."""

    billInfoId: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    accountPoid: Poid
    payInfoPoid: Poid
    payType: Literal[10001, 10003, 10005]
    billCycleDay: Annotated[int, Field(ge=1, le=31)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
