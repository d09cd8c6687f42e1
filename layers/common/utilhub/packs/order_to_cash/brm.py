"""BRM's customer services as the hub uses them (JSON over HTTPS), per billing system.

Accounts (with their paying parent), /billinfo and /payinfo objects are created, read and,
for the paying hierarchy, re-parented; never deleted. BRM refuses a duplicate (409): the
client then reads the existing object, so a retried step finds what an earlier attempt made.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from utilhub.platform.connectors import HttpConnector, TargetRejected, TargetUnavailable

JSON = "application/json"


class BrmAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accountNo: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=254)
    parentPoid: str | None = None
    paying: bool = True


class BrmAccount(BrmAccountIn):
    model_config = ConfigDict(extra="ignore")

    poid: str


class BrmBillInfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    billInfoId: str = Field(min_length=1, max_length=64)
    accountPoid: str
    billCycleDay: int | None = Field(default=None, ge=1, le=28)
    currency: str | None = None


class BrmBillInfo(BrmBillInfoIn):
    model_config = ConfigDict(extra="ignore")

    poid: str


class BrmPayInfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payInfoId: str = Field(min_length=1, max_length=64)
    accountPoid: str
    # BRM's pay type (10001 invoice, 10003 credit card, 10005 direct debit, ...): the PaymentMethod map's BRM column
    payType: int = Field(ge=10000, le=10999)


class BrmPayInfo(BrmPayInfoIn):
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
