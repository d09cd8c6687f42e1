"""The BRM simulator judges what the hub sends by BRM's own contract (``localhub/simulators/brm_contract.py``): what
the hub's mapping makes is accepted, and what BRM would refuse (a name it does not have, an inherited info of another
pay type, a card number that is not one, a /billinfo paid by another account's /payinfo) is refused."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from localhub.simulators.base import SimulatorError
from localhub.simulators.brm import BrmSimulator
from utilhub.packs.order_to_cash.brm_mapping import brm_account, brm_billinfo, brm_payinfo
from utilhub.packs.order_to_cash.model import AccountRef, BillingProfileRef

BASE = "/billing-systems/BRM1"
ACCOUNT = AccountRef.model_validate(
    {
        "id": "BA-1",
        "name": "Ada Lovelace",
        "address": {"line1": "12 Analytical Row", "line2": "Flat 1", "city": "London", "postalCode": "NW1 1AA", "country": "GBR"},
        "contact": {"firstName": "Ada", "lastName": "Lovelace", "emailAddress": "ada@example.org"},
    }
)
CARD = {"number": "4111111111111111", "expiry": "1229", "holderName": "Ada Lovelace"}


def send(brm: BrmSimulator, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    reply = brm.handle(method, BASE + path, json.dumps(body).encode(), {})
    return reply.status, json.loads(reply.body)


def created_account(brm: BrmSimulator) -> str:
    status, account = send(brm, "POST", "/accounts", brm_account(ACCOUNT).model_dump(exclude_none=True))
    assert status == 201, account
    return str(account["poid"])


def test_the_hubs_account_payinfo_and_billinfo_are_accepted_as_brm_takes_them() -> None:
    brm = BrmSimulator()
    poid = created_account(brm)
    profile = BillingProfileRef.model_validate({"id": "BP-1", "paymentMethod": "Credit Card", "creditCard": CARD, "billCycleDay": 5})
    status, payinfo = send(brm, "POST", "/payinfos", brm_payinfo(profile, ACCOUNT, poid, 10003).model_dump(exclude_none=True))
    assert status == 201, payinfo
    assert payinfo["ccInfo"]["address"] == "12 Analytical Row\nFlat 1"
    status, billinfo = send(brm, "POST", "/billinfos", brm_billinfo(profile, poid, payinfo["poid"], 10003).model_dump(exclude_none=True))
    assert status == 201, billinfo
    assert brm.records["BRM1"]["accounts"][poid]["nameinfo"][0]["company"] == "Ada Lovelace"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"accountNo": "A", "name": "Ada"}, "extra"),  # the hub's old member: BRM has no "name" on an account
        ({"accountNo": "A", "nameinfo": [{"city": "London"}]}, "PIN_FLD_COMPANY or PIN_FLD_LAST_NAME"),
        ({"accountNo": "A", "nameinfo": [{"company": "Ada", "address": "12 Row"}]}, "PIN_FLD_CITY and PIN_FLD_COUNTRY"),
        ({"accountNo": "A", "paying": False}, "paying parent"),
        ({"accountNo": "A", "nameinfo": [{"company": "Ada", "postalCode": "NW1"}]}, "extra"),  # a hub name, not BRM's zip
    ],
)
def test_an_account_brm_would_refuse_is_refused(body: dict[str, Any], words: str) -> None:
    with pytest.raises(SimulatorError, match=words):
        send(BrmSimulator(), "POST", "/accounts", body)


@pytest.mark.parametrize(
    ("payinfo", "words"),
    [
        ({"payType": 10003, "invInfo": {}}, "ccInfo only"),
        ({"payType": 10005, "ccInfo": {"debitNum": "4111111111111111", "debitExp": "1229", "name": "A"}}, "ddInfo only"),
        ({"payType": 10003, "ccInfo": {"debitNum": "4111111111111112", "debitExp": "1229", "name": "A"}}, "not a valid card"),
        ({"payType": 10003, "ccInfo": {"debitNum": "4111111111111111", "debitExp": "2912", "name": "A"}}, "debitExp"),
        ({"payType": 10002, "invInfo": {}}, "payType"),
    ],
)
def test_a_payinfo_brm_would_refuse_is_refused(payinfo: dict[str, Any], words: str) -> None:
    brm = BrmSimulator()
    poid = created_account(brm)
    with pytest.raises(SimulatorError, match=words):
        send(brm, "POST", "/payinfos", {"payInfoId": "BP-1", "accountPoid": poid, **payinfo})


def test_a_billinfo_paid_by_another_accounts_payinfo_or_type_is_refused() -> None:
    brm = BrmSimulator()
    first, second = created_account(brm), send(brm, "POST", "/accounts", {"accountNo": "BA-2"})[1]["poid"]
    status, payinfo = send(brm, "POST", "/payinfos", {"payInfoId": "BP-1", "accountPoid": first, "payType": 10001, "invInfo": {}})
    assert status == 201
    other_account = {"billInfoId": "BP-1", "accountPoid": second, "payInfoPoid": payinfo["poid"], "payType": 10001}
    assert send(brm, "POST", "/billinfos", other_account)[0] == 422
    other_type = {**other_account, "accountPoid": first, "payType": 10003}
    assert send(brm, "POST", "/billinfos", other_type)[1]["error"] == "PAYINFO_MISMATCH"
    # and a change keeps the object's id: another billInfoId is refused
    status, billinfo = send(brm, "POST", "/billinfos", {**other_type, "payType": 10001})
    assert status == 201
    assert (
        send(brm, "PUT", f"/billinfos/{quote(billinfo['poid'], safe='')}", {**other_type, "payType": 10001, "billInfoId": "BP-2"})[0] == 422
    )
