"""OC-01 synchronize fulfillment order billing account and OC-02 result query: the API function,
the Standard workflow run by moto's interpreter, the task handlers in-process, the BRM simulator.
Cases follow the rules of Oracle's pack and its Table 10-1."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import boto3
import pytest

from localhub.aws import sfn_waits
from localhub.hub import ApiResponse, LocalHub
from localhub.simulators.brm import BrmSimulator
from tests.conftest import sample_event
from tests.helpers import JSON, post_json
from utilhub.packs.order_to_cash.order_store import KmsFieldCipher

CARD = {"number": "4111111111111111", "expiry": "1229", "holderName": "Ada Lovelace"}
BANK = {"accountNumber": "31926819", "bankCode": "601613", "holderName": "Ada Lovelace"}
CLAIMS = {"client_id": "osm", "scope": "utilhub/order-to-cash", "token_use": "access"}
API = "OrderToCashOrdersFunction"


def line(
    line_id: str,
    sa: str | None,
    ba: str,
    bp: str | None,
    *,
    action: str = "ADD",
    billing_type: str | None = "Service Bundle",
    product_type: str | None = None,
    system: str = "BRM1",
    prior: dict[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"lineId": line_id, "action": action, "billingSystemId": system, "billingAccount": {"id": ba}}
    if billing_type:
        body["billingType"] = billing_type
    if product_type:
        body["productType"] = product_type
    if sa:
        body["serviceAccount"] = {"id": sa}
    if bp:
        body["billingProfile"] = {"id": bp}
    if prior:
        body["priorValues"] = prior
    return body


def post(hub: LocalHub, order: dict[str, Any], claims: dict[str, Any] = CLAIMS) -> ApiResponse:
    return post_json(hub, "/order-to-cash/fulfillment-orders", order, claims)


def result(hub: LocalHub, order_id: str, revision: int, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = hub.call_api("GET", f"/order-to-cash/fulfillment-orders/{order_id}/revisions/{revision}", claims=CLAIMS)
        assert response.status == 200, response.body
        body = response.json()
        if body["status"] != "RUNNING":
            return body  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"order {order_id} revision {revision} still RUNNING")


def submit(hub: LocalHub, order: dict[str, Any]) -> dict[str, Any]:
    response = post(hub, order)
    assert response.status == 202, response.body
    return result(hub, order["orderId"], order["revision"])


def resubmit(hub: LocalHub, order_id: str, revision: int | str, headers: dict[str, str] | None = None) -> ApiResponse:
    return hub.call_api(
        "POST", f"/order-to-cash/fulfillment-orders/{order_id}/revisions/{revision}/resubmission", headers=headers, claims=CLAIMS
    )


def payment_cipher(hub: LocalHub) -> KmsFieldCipher:
    """The revisions' payment numbers encrypted as the intake encrypts them: with the stack's data key."""
    return KmsFieldCipher(boto3.client("kms"), hub.resources()["DataKey"])


def brm(hub: LocalHub) -> BrmSimulator:
    simulator = hub.simulators["BRM"]
    assert isinstance(simulator, BrmSimulator)
    return simulator


def objects(body: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    return {(o["type"], o["sourceId"]) for o in body["result"][kind]}


def test_sample_order_creates_accounts_hierarchy_and_billing_profile(hub: LocalHub) -> None:
    # Given OSM's sample order: a service bundle (SA != BA), an item on the bill-to account, a promotion, a DELETE, a charge
    response = hub.invoke(API, sample_event("order_to_cash/fulfillment_orders/submit-order.json")).result
    assert response["statusCode"] == 202, response
    assert json.loads(response["body"]) == {"orderId": "ORD-1001", "revision": 1, "status": "RUNNING"}
    # When the workflow has run
    body = result(hub, "ORD-1001", 1)
    # Then BRM has the bill-to account, the service account under it, and the billing profile as /billinfo and /payinfo
    assert body["status"] == "SUCCEEDED", body
    assert objects(body, "created") == {("account", "BA-100"), ("account", "SA-100"), ("billinfo", "BP-100"), ("payinfo", "BP-100")}
    assert [p["lineId"] for p in body["result"]["processedLines"]] == ["L1", "L2", "L3"]
    assert {i["lineId"]: i["reason"] for i in body["result"]["ignoredLines"]}.keys() == {"L4", "L5"}
    assert "DELETE" in body["result"]["ignoredLines"][0]["reason"]
    assert body["result"]["hierarchy"] == [
        {"account": "SA-100", "parent": "BA-100", "paying": False, "billingSystemId": "BRM1", "change": "CREATED"}
    ]
    assert brm(hub).hierarchy("BRM1") == {"BA-100": None, "SA-100": "BA-100"}
    # and the GET sample event reads the same result
    query = hub.invoke(API, sample_event("order_to_cash/fulfillment_orders/query-result.json")).result
    assert json.loads(query["body"]) == body


def test_bill_to_accounts_are_created_before_service_accounts(hub: LocalHub) -> None:
    submit(hub, {"orderId": "ORD-2", "revision": 0, "lines": [line("L1", "SA-1", "BA-1", "BP-1"), line("L2", "SA-2", "BA-2", "BP-2")]})
    accounts = [c for c in brm(hub).calls if c == "POST accounts"]
    assert len(accounts) == 4
    created = list(brm(hub).records["BRM1"]["accounts"].values())  # in creation order
    assert {a["accountNo"] for a in created[:2]} == {"BA-1", "BA-2"}
    assert {a["accountNo"] for a in created[2:]} == {"SA-1", "SA-2"}


def test_same_order_revision_again_changes_nothing_and_ends_the_same(hub: LocalHub) -> None:
    order = {"orderId": "ORD-3", "revision": 1, "lines": [line("L1", "SA-3", "BA-3", "BP-3")]}
    first = submit(hub, order)
    calls = len(brm(hub).calls)
    again = post(hub, order)
    assert again.status == 202
    assert result(hub, "ORD-3", 1) == first
    assert len(brm(hub).calls) == calls


def test_other_content_under_a_used_order_revision_is_409(hub: LocalHub) -> None:
    submit(hub, {"orderId": "ORD-4", "revision": 1, "lines": [line("L1", "SA-4", "BA-4", "BP-4")]})
    response = post(hub, {"orderId": "ORD-4", "revision": 1, "lines": [line("L1", "SA-4", "BA-44", "BP-4")]})
    assert response.status == 409
    assert response.headers["content-type"] == "application/problem+json"


def test_a_revision_with_other_data_creates_only_the_delta(hub: LocalHub) -> None:
    submit(hub, {"orderId": "ORD-5", "revision": 1, "lines": [line("L1", "SA-5", "BA-5", "BP-5")]})
    body = submit(
        hub, {"orderId": "ORD-5", "revision": 2, "lines": [line("L1", "SA-5", "BA-5", "BP-5"), line("L2", "SA-6", "BA-5", "BP-5")]}
    )
    assert objects(body, "created") == {("account", "SA-6")}
    assert objects(body, "existing") == {("account", "BA-5"), ("account", "SA-5"), ("billinfo", "BP-5"), ("payinfo", "BP-5")}
    assert brm(hub).hierarchy("BRM1")["SA-6"] == "BA-5"


@pytest.mark.parametrize("action", ["UPDATE", "MOVE-ADD"])
def test_prior_values_flag_a_paying_hierarchy_change_and_the_compensation_reverts_it(hub: LocalHub, action: str) -> None:
    submit(hub, {"orderId": "ORD-6", "revision": 1, "lines": [line("L1", "SA-7", "BA-7", "BP-7")]})
    # When a revision moves the service account to another bill-to account, flagged by prior values
    moved = submit(
        hub,
        {
            "orderId": "ORD-6",
            "revision": 2,
            "lines": [line("L1", "SA-7", "BA-8", "BP-8", action=action, prior={"billingAccountId": "BA-7", "billingProfileId": "BP-7"})],
        },
    )
    assert moved["status"] == "SUCCEEDED", moved
    assert moved["result"]["hierarchy"] == [
        {"account": "SA-7", "parent": "BA-8", "paying": False, "billingSystemId": "BRM1", "change": "CHANGED", "previousParent": "BA-7"}
    ]
    assert brm(hub).hierarchy("BRM1")["SA-7"] == "BA-8"
    # And the compensation line flips the values back (Table 10-1): the hierarchy change is reverted
    reverted = submit(
        hub,
        {
            "orderId": "ORD-6",
            "revision": 3,
            "lines": [line("L1", "SA-7", "BA-7", "BP-7", action=action, prior={"billingAccountId": "BA-8", "billingProfileId": "BP-8"})],
        },
    )
    assert reverted["result"]["hierarchy"][0]["change"] == "CHANGED"
    assert brm(hub).hierarchy("BRM1")["SA-7"] == "BA-7"
    # and nothing that was created is gone
    assert {"BA-7", "BA-8", "SA-7"} <= set(brm(hub).hierarchy("BRM1"))


def test_a_revision_older_than_one_applied_is_409_and_never_reverts_the_hierarchy(hub: LocalHub) -> None:
    # Given revision 1 made SA-40 a subordinate of BA-40 and revision 3 moved it under BA-41
    submit(hub, {"orderId": "ORD-40", "revision": 1, "lines": [line("L1", "SA-40", "BA-40", "BP-40")]})
    moved = {
        "orderId": "ORD-40",
        "revision": 3,
        "lines": [line("L1", "SA-40", "BA-41", "BP-41", action="UPDATE", prior={"billingAccountId": "BA-40", "billingProfileId": "BP-40"})],
    }
    assert submit(hub, moved)["status"] == "SUCCEEDED"
    calls = len(brm(hub).calls)
    # When revision 2, which would move it back, arrives after revision 3
    late = {
        "orderId": "ORD-40",
        "revision": 2,
        "lines": [line("L1", "SA-40", "BA-40", "BP-40", action="UPDATE", prior={"billingAccountId": "BA-41", "billingProfileId": "BP-41"})],
    }
    response = post(hub, late)
    # Then it is refused, naming the later revision, nothing runs, and the hierarchy stays as revision 3 left it
    assert response.status == 409, response.body
    assert response.headers["content-type"] == "application/problem+json"
    assert "revision 3" in response.json()["detail"]
    assert hub.call_api("GET", "/order-to-cash/fulfillment-orders/ORD-40/revisions/2", claims=CLAIMS).status == 404
    assert brm(hub).hierarchy("BRM1")["SA-40"] == "BA-41"
    assert len(brm(hub).calls) == calls
    # and the revisions accepted are still answered: revision 1 again (a retry) ends as it did, revision 4 applies
    assert post(hub, {"orderId": "ORD-40", "revision": 1, "lines": [line("L1", "SA-40", "BA-40", "BP-40")]}).status == 202
    assert result(hub, "ORD-40", 1)["status"] == "SUCCEEDED"
    assert brm(hub).hierarchy("BRM1")["SA-40"] == "BA-41"
    later = {**late, "revision": 4}
    assert submit(hub, later)["result"]["hierarchy"][0]["change"] == "CHANGED"
    assert brm(hub).hierarchy("BRM1")["SA-40"] == "BA-40"


def test_a_failed_revision_is_not_resubmitted_once_a_later_one_was_accepted(hub: LocalHub) -> None:
    # Given revision 1 failed (BRM refused it) and revision 2 was accepted since
    brm(hub).add_fault({"kind": "reject", "count": 1, "reason": "account locked"})
    failed = submit(hub, {"orderId": "ORD-41", "revision": 1, "lines": [line("L1", "SA-42", "BA-42", "BP-42")]})
    assert failed["status"] == "FAILED", failed
    assert submit(hub, {"orderId": "ORD-41", "revision": 2, "lines": [line("L1", "SA-42", "BA-42", "BP-42")]})["status"] == "SUCCEEDED"
    # When revision 1 is resubmitted
    response = resubmit(hub, "ORD-41", 1)
    # Then it is refused: it could only revert what revision 2 applied
    assert response.status == 409, response.body
    assert "revision 2" in response.json()["detail"]
    assert result(hub, "ORD-41", 1)["attempt"] == 1


def test_a_step_of_an_older_revision_still_running_leaves_a_later_revisions_hierarchy(hub: LocalHub) -> None:
    # Given SA-43 under BA-43 (revision 1), then revision 3 accepted and applied: SA-43 under BA-44
    submit(hub, {"orderId": "ORD-43", "revision": 1, "lines": [line("L1", "SA-43", "BA-43", "BP-43")]})
    revision_2 = {
        "orderId": "ORD-43",
        "revision": 2,
        "lines": [line("L1", "SA-43", "BA-43", "BP-43", action="UPDATE", prior={"billingAccountId": "BA-44"})],
    }

    from utilhub.packs.order_to_cash.model import FulfillmentOrderIn
    from utilhub.packs.order_to_cash.order_store import OrderStore, Verdict
    from utilhub.packs.order_to_cash.orders import order_content

    store = OrderStore(boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"]), payment_cipher(hub))
    kept = FulfillmentOrderIn.model_validate(revision_2)
    assert store.accept(kept, order_content(kept)).verdict is Verdict.ACCEPTED  # accepted; its workflow not run yet
    submit(
        hub,
        {
            "orderId": "ORD-43",
            "revision": 3,
            "lines": [line("L1", "SA-43", "BA-44", "BP-44", action="UPDATE", prior={"billingAccountId": "BA-43"})],
        },
    )
    assert brm(hub).hierarchy("BRM1")["SA-43"] == "BA-44"
    # When revision 2's service account step runs only now (a step retried after an outage)
    step = {"task": "ensureServiceAccount", "orderId": "ORD-43", "revision": 2, "billingSystemId": "BRM1", "sourceId": "SA-43"}
    outcome = hub.invoke("OrderToCashBrmStepsFunction", step).result
    # Then it leaves the hierarchy as revision 3 made it, and says why
    assert outcome["hierarchy"] == [
        {
            "account": "SA-43",
            "parent": "BA-44",
            "paying": False,
            "billingSystemId": "BRM1",
            "change": "SUPERSEDED",
            "previousParent": None,
            "supersededBy": 3,
        }
    ]
    assert brm(hub).hierarchy("BRM1")["SA-43"] == "BA-44"


def test_an_update_line_missing_its_prior_values_is_422_naming_them_and_starts_nothing(hub: LocalHub) -> None:
    # Given an UPDATE line without prior values (Table 10-1: UPDATE "expects prior value fields to be populated")
    lines = [line("L1", "SA-44", "BA-44", "BP-44"), line("L2", "SA-45", "BA-45", "BP-45", action="UPDATE")]
    order = {"orderId": "ORD-44", "revision": 1, "lines": lines}
    response = post(hub, order)
    # Then the order is refused, naming the line's prior values, and nothing was kept or started
    assert response.status == 422, response.body
    errors = response.json()["errors"]
    assert [e["pointer"] for e in errors] == ["#/lines/1/priorValues"]
    assert "billingAccountId" in errors[0]["detail"]
    assert hub.call_api("GET", "/order-to-cash/fulfillment-orders/ORD-44/revisions/1", claims=CLAIMS).status == 404
    # and once the line names what it changes, the same revision is accepted
    lines[1]["priorValues"] = {"billingAccountId": "BA-44"}
    assert submit(hub, order)["status"] == "SUCCEEDED"


def test_brm_receives_the_whole_account_and_the_payment_details_of_the_profile(hub: LocalHub) -> None:
    # Given OSM's sample order: the bill-to account with its name, address and contact, a direct debit profile
    assert hub.invoke(API, sample_event("order_to_cash/fulfillment_orders/submit-order.json")).result["statusCode"] == 202
    assert result(hub, "ORD-1001", 1)["status"] == "SUCCEEDED"
    records = brm(hub).records["BRM1"]
    # Then BRM's account carries them as its PIN_FLD_NAMEINFO
    account = next(a for a in records["accounts"].values() if a["accountNo"] == "BA-100")
    assert account["nameinfo"] == [
        {
            "company": "Ada Lovelace",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "address": "12 Analytical Row",
            "city": "London",
            "zip": "NW1 1AA",
            "country": "GBR",
            "emailAddr": "ada@example.org",
            "phones": ["+44 20 7946 0000"],
        }
    ]
    # and the /payinfo the bank account (PIN_FLD_DD_INFO), the /billinfo that /payinfo, its cycle and currency
    payinfo = next(p for p in records["payinfos"].values() if p["payInfoId"] == "BP-100")
    assert (payinfo["payType"], payinfo["ddInfo"]) == (
        10005,
        {
            "debitNum": "31926819",
            "bankNo": "601613",
            "type": 1,
            "name": "Ada Lovelace",
            "address": "12 Analytical Row",
            "zip": "NW1 1AA",
            "country": "GBR",
        },
    )
    billinfo = next(b for b in records["billinfos"].values() if b["billInfoId"] == "BP-100")
    assert (billinfo["payInfoPoid"], billinfo["payType"], billinfo["billCycleDay"], billinfo["currency"]) == (
        payinfo["poid"],
        10005,
        1,
        "GBP",
    )
    assert billinfo["accountPoid"] == payinfo["accountPoid"] == account["poid"]


@pytest.mark.parametrize(("method", "field"), [("Credit Card", "creditCard"), ("Direct Debit", "bankAccount")])
def test_a_card_or_debit_profile_without_its_details_is_422_naming_them(hub: LocalHub, method: str, field: str) -> None:
    order_line = line("L1", "SA-46", "BA-46", "BP-46")
    order_line["billingProfile"]["paymentMethod"] = method
    response = post(hub, {"orderId": "ORD-46", "revision": 1, "lines": [order_line]})
    assert response.status == 422, response.body
    assert [e["pointer"] for e in response.json()["errors"]] == [f"#/lines/0/billingProfile/{field}"]
    assert brm(hub).records == {}


def test_an_update_line_changes_the_billing_profile_in_brm_an_add_line_does_not(hub: LocalHub) -> None:
    # Given BP-47 created as an invoice profile, cycle day 1
    first = line("L1", "SA-47", "BA-47", "BP-47")
    first["billingProfile"] |= {"billCycleDay": 1, "currency": "GBP"}
    submit(hub, {"orderId": "ORD-47", "revision": 1, "lines": [first]})
    paid_by_card = {"id": "BP-47", "paymentMethod": "Credit Card", "creditCard": CARD, "billCycleDay": 15, "currency": "GBP"}
    # When an ADD line of another order brings other values for it
    added = submit(
        hub, {"orderId": "ORD-47b", "revision": 1, "lines": [{**line("L1", "SA-47", "BA-47", None), "billingProfile": paid_by_card}]}
    )
    # Then nothing that exists is changed (ADD creates only what does not exist)
    assert added["result"]["changed"] == []
    assert next(p for p in brm(hub).records["BRM1"]["payinfos"].values())["payType"] == 10001
    # When a revision's UPDATE line brings them, flagged by the billing profile's prior value
    updated = line("L1", "SA-47", "BA-47", None, action="UPDATE", prior={"billingProfileId": "BP-47"})
    body = submit(hub, {"orderId": "ORD-47", "revision": 2, "lines": [{**updated, "billingProfile": paid_by_card}]})
    # Then BRM's /payinfo and /billinfo are changed to the profile, nothing created, and the result says what changed
    assert body["status"] == "SUCCEEDED", body
    assert body["result"]["created"] == []
    changes = {(c["type"], c["change"]): c["fields"] for c in body["result"]["changed"]}
    assert changes == {
        ("payinfo", "CHANGED"): ["ccInfo", "invInfo", "name", "payType"],
        ("billinfo", "CHANGED"): ["billCycleDay", "payType"],
    }
    payinfo = next(iter(brm(hub).records["BRM1"]["payinfos"].values()))
    assert (payinfo["payType"], payinfo["ccInfo"]["debitNum"], "invInfo" in payinfo) == (10003, "4111111111111111", False)
    billinfo = next(iter(brm(hub).records["BRM1"]["billinfos"].values()))
    assert (billinfo["payType"], billinfo["billCycleDay"]) == (10003, 15)


def test_a_billing_account_change_moves_the_billing_profile_and_its_compensation_moves_it_back(hub: LocalHub) -> None:
    # Given BP-48 billed to BA-48
    submit(hub, {"orderId": "ORD-48", "revision": 1, "lines": [line("L1", "SA-48", "BA-48", "BP-48")]})
    # When a MOVE-ADD line bills the service and its billing profile to BA-49, flagged by the prior billing account
    moved = submit(
        hub,
        {
            "orderId": "ORD-48",
            "revision": 2,
            "lines": [line("L1", "SA-48", "BA-49", "BP-48", action="MOVE-ADD", prior={"billingAccountId": "BA-48"})],
        },
    )
    # Then BP-48's /payinfo and /billinfo now belong to BA-49
    assert moved["status"] == "SUCCEEDED", moved
    assert {(c["type"], c["change"], c["previousAccount"]) for c in moved["result"]["changed"]} == {
        ("payinfo", "MOVED", "BA-48"),
        ("billinfo", "MOVED", "BA-48"),
    }
    accounts = {a["poid"]: a["accountNo"] for a in brm(hub).records["BRM1"]["accounts"].values()}
    owners = {(kind, accounts[o["accountPoid"]]) for kind in ("payinfos", "billinfos") for o in brm(hub).records["BRM1"][kind].values()}
    assert owners == {("payinfos", "BA-49"), ("billinfos", "BA-49")}
    # And the compensation line (values flipped) moves it back
    back = submit(
        hub,
        {
            "orderId": "ORD-48",
            "revision": 3,
            "lines": [line("L1", "SA-48", "BA-48", "BP-48", action="MOVE-ADD", prior={"billingAccountId": "BA-49"})],
        },
    )
    assert {(c["type"], c["change"], c["previousAccount"]) for c in back["result"]["changed"]} == {
        ("payinfo", "MOVED", "BA-49"),
        ("billinfo", "MOVED", "BA-49"),
    }
    owners = {(kind, accounts[o["accountPoid"]]) for kind in ("payinfos", "billinfos") for o in brm(hub).records["BRM1"][kind].values()}
    assert owners == {("payinfos", "BA-48"), ("billinfos", "BA-48")}


def test_without_a_prior_billing_account_the_billing_profile_stays_with_its_account(hub: LocalHub) -> None:
    submit(hub, {"orderId": "ORD-49", "revision": 1, "lines": [line("L1", "SA-50", "BA-50", "BP-50")]})
    body = submit(
        hub,
        {
            "orderId": "ORD-49",
            "revision": 2,
            "lines": [line("L1", "SA-50", "BA-51", "BP-50", action="UPDATE", prior={"billingProfileId": "BP-50"})],
        },
    )
    assert body["result"]["changed"] == []
    accounts = {a["poid"]: a["accountNo"] for a in brm(hub).records["BRM1"]["accounts"].values()}
    assert {accounts[o["accountPoid"]] for o in brm(hub).records["BRM1"]["billinfos"].values()} == {"BA-50"}


def test_a_billing_profile_step_of_an_older_revision_moves_and_changes_nothing(hub: LocalHub) -> None:
    # Given BP-52 under BA-52 (revision 1), revision 2 accepted (it would move BP-52 to BA-53 and make it a card)...
    submit(hub, {"orderId": "ORD-52", "revision": 1, "lines": [line("L1", "SA-52", "BA-52", "BP-52")]})
    revision_2 = line("L1", "SA-52", "BA-53", None, action="UPDATE", prior={"billingAccountId": "BA-52"})
    revision_2["billingProfile"] = {"id": "BP-52", "paymentMethod": "Credit Card", "creditCard": CARD}

    from utilhub.packs.order_to_cash.model import FulfillmentOrderIn
    from utilhub.packs.order_to_cash.order_store import OrderStore, Verdict
    from utilhub.packs.order_to_cash.orders import order_content

    store = OrderStore(boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"]), payment_cipher(hub))
    kept = FulfillmentOrderIn.model_validate({"orderId": "ORD-52", "revision": 2, "lines": [revision_2]})
    assert store.accept(kept, order_content(kept)).verdict is Verdict.ACCEPTED
    # ...and revision 3 (the same as revision 1) accepted and applied since
    assert submit(hub, {"orderId": "ORD-52", "revision": 3, "lines": [line("L1", "SA-52", "BA-52", "BP-52")]})["status"] == "SUCCEEDED"
    calls = len(brm(hub).calls)
    # When revision 2's steps run only now: its bill-to account (created: creating reverts nothing), its billing profile
    bill_to = {"task": "ensureAccount", "orderId": "ORD-52", "revision": 2, "billingSystemId": "BRM1", "sourceId": "BA-53"}
    assert [o["sourceId"] for o in hub.invoke("OrderToCashBrmStepsFunction", bill_to).result["created"]] == ["BA-53"]
    calls = len(brm(hub).calls)
    step = {"task": "ensureBillingProfile", "orderId": "ORD-52", "revision": 2, "billingSystemId": "BRM1", "sourceId": "BP-52"}
    outcome = hub.invoke("OrderToCashBrmStepsFunction", step).result
    # Then BP-52 stays an invoice profile of BA-52: nothing moved or changed
    assert outcome["changed"] == [], outcome
    assert not any(c.startswith("PUT") for c in brm(hub).calls[calls:])
    payinfo = next(p for p in brm(hub).records["BRM1"]["payinfos"].values() if p["payInfoId"] == "BP-52")
    accounts = {a["poid"]: a["accountNo"] for a in brm(hub).records["BRM1"]["accounts"].values()}
    assert (payinfo["payType"], accounts[payinfo["accountPoid"]]) == (10001, "BA-52")


def test_without_prior_values_an_existing_hierarchy_is_kept(hub: LocalHub) -> None:
    submit(hub, {"orderId": "ORD-7", "revision": 1, "lines": [line("L1", "SA-9", "BA-9", "BP-9")]})
    body = submit(hub, {"orderId": "ORD-7b", "revision": 1, "lines": [line("L1", "SA-9", "BA-10", "BP-10")]})
    assert body["result"]["hierarchy"][0]["change"] == "KEPT"
    assert brm(hub).hierarchy("BRM1")["SA-9"] == "BA-9"


def test_delete_compensation_is_ignored_and_what_was_created_stays(hub: LocalHub) -> None:
    submit(hub, {"orderId": "ORD-8", "revision": 1, "lines": [line("L1", "SA-11", "BA-11", "BP-11")]})
    body = submit(hub, {"orderId": "ORD-8", "revision": 2, "lines": [line("L1", "SA-11", "BA-11", "BP-11", action="DELETE")]})
    assert body["status"] == "SUCCEEDED"
    assert body["result"]["ignoredLines"][0]["lineId"] == "L1"
    assert body["result"]["created"] == body["result"]["existing"] == []
    assert brm(hub).hierarchy("BRM1") == {"BA-11": None, "SA-11": "BA-11"}
    assert not any(c.startswith("DELETE") for c in brm(hub).calls)


def test_no_change_revision_lines_are_ignored(hub: LocalHub) -> None:
    body = submit(
        hub,
        {
            "orderId": "ORD-9",
            "revision": 2,
            "lines": [line("L1", "SA-12", "BA-12", "BP-12", action="NONE"), line("L2", "SA-12", "BA-12", "BP-12", action="-")],
        },
    )
    assert [i["lineId"] for i in body["result"]["ignoredLines"]] == ["L1", "L2"]
    assert brm(hub).calls == []


def test_promotion_brings_the_billing_account_only(hub: LocalHub) -> None:
    body = submit(
        hub,
        {"orderId": "ORD-10", "revision": 1, "lines": [line("L1", "SA-13", "BA-13", "BP-13", billing_type=None, product_type="Promotion")]},
    )
    assert objects(body, "created") == {("account", "BA-13")}
    assert body["result"]["processedLines"] == [{"lineId": "L1", "action": "ADD", "brings": ["billingAccount"]}]


@pytest.mark.parametrize("billing_type", ["Item", "Subscription", "Discount", "service bundle"])
def test_each_full_billing_type_brings_all_three(hub: LocalHub, billing_type: str) -> None:
    body = submit(
        hub,
        {
            "orderId": f"ORD-T-{billing_type.replace(' ', '')}",
            "revision": 1,
            "lines": [line("L1", "SA-14", "BA-14", "BP-14", billing_type=billing_type)],
        },
    )
    assert objects(body, "created") == {("account", "BA-14"), ("account", "SA-14"), ("billinfo", "BP-14"), ("payinfo", "BP-14")}


def test_one_billing_profile_in_two_billing_systems_is_refused(hub: LocalHub) -> None:
    order = {
        "orderId": "ORD-11",
        "revision": 1,
        "lines": [line("L1", "SA-15", "BA-15", "BP-15", system="BRM1"), line("L2", "SA-16", "BA-15", "BP-15", system="BRM2")],
    }
    response = post(hub, order)
    assert response.status == 422
    problem = response.json()
    assert "different billing systems" in problem["detail"]
    assert {e["pointer"] for e in problem["errors"]} == {"#/lines/0/billingSystemId", "#/lines/1/billingSystemId"}
    assert hub.call_api("GET", "/order-to-cash/fulfillment-orders/ORD-11/revisions/1", claims=CLAIMS).status == 404
    assert brm(hub).calls == []


def test_brm_outage_is_retried_with_backoff(hub: LocalHub) -> None:
    brm(hub).add_fault({"kind": "down", "count": 2})
    with sfn_waits.scaled(0.01):
        body = submit(hub, {"orderId": "ORD-12", "revision": 1, "lines": [line("L1", "SA-17", "BA-17", "BP-17")]})
    assert body["status"] == "SUCCEEDED", body
    assert brm(hub).hierarchy("BRM1") == {"BA-17": None, "SA-17": "BA-17"}


def test_brm_down_longer_than_a_few_attempts_is_ridden_out_and_the_order_succeeds(hub: LocalHub) -> None:
    # Given BRM down for the next 10 calls: an outage that outlasts 5 attempts over about 7 s (the retries before)
    brm(hub).add_fault({"kind": "down", "count": 10})
    # When an order is fulfilled (the Retry waits, minutes long on AWS, run at a hundredth of their length)
    with sfn_waits.scaled(0.01):
        body = submit(hub, {"orderId": "ORD-OUT", "revision": 1, "lines": [line("L1", "SA-OUT", "BA-OUT", "BP-OUT")]})
    # Then the step kept retrying until BRM was back, and the order succeeded with each object created once
    assert body["status"] == "SUCCEEDED", body
    assert brm(hub).faults == []
    assert objects(body, "created") == {("account", "BA-OUT"), ("account", "SA-OUT"), ("billinfo", "BP-OUT"), ("payinfo", "BP-OUT")}
    assert brm(hub).hierarchy("BRM1") == {"BA-OUT": None, "SA-OUT": "BA-OUT"}


def test_an_answer_slower_than_the_connectors_timeout_is_retried_and_the_order_succeeds(hub: LocalHub) -> None:
    # Given the BRM steps give BRM 1 s to answer, and BRM answers the first call after 2 s (it still does the work)
    hub.function("OrderToCashBrmStepsFunction").environment["UTILHUB_READ_TIMEOUT_SECONDS"] = "1"
    brm(hub).add_fault({"kind": "slow", "count": 1, "seconds": 2})
    # When an order is fulfilled
    body = submit(hub, {"orderId": "ORD-SLOW", "revision": 1, "lines": [line("L1", "SA-SLOW", "BA-SLOW", "BP-SLOW")]})
    # Then the step that timed out (TargetTimedOut) was retried, the order succeeded, and the account is in BRM once
    assert body["status"] == "SUCCEEDED", body
    assert [a["accountNo"] for a in brm(hub).records["BRM1"]["accounts"].values()] == ["BA-SLOW", "SA-SLOW"]
    assert brm(hub).hierarchy("BRM1") == {"BA-SLOW": None, "SA-SLOW": "BA-SLOW"}


def test_brm_down_beyond_the_retries_fails_with_the_reason(hub: LocalHub) -> None:
    brm(hub).add_fault({"kind": "down", "count": 100})
    with sfn_waits.scaled(0.001):
        body = submit(hub, {"orderId": "ORD-13", "revision": 1, "lines": [line("L1", "SA-18", "BA-18", "BP-18")]})
    assert body["status"] == "FAILED"
    assert body["error"]["error"] == "TargetUnavailable"
    assert "BRM answered 503" in body["error"]["reason"]


def test_brm_business_refusal_fails_without_retry(hub: LocalHub) -> None:
    brm(hub).add_fault({"kind": "reject", "count": 1, "reason": "credit check failed"})
    body = submit(hub, {"orderId": "ORD-14", "revision": 1, "lines": [line("L1", "SA-19", "BA-19", "BP-19")]})
    assert body["status"] == "FAILED"
    assert body["error"]["error"] == "TargetRejected"
    # BRM's status and code, never its message (a target's message may repeat a customer's data)
    assert "HTTP 422 (code BUSINESS_ERROR)" in body["error"]["reason"]
    assert "credit check failed" not in json.dumps(body)
    assert brm(hub).calls.count("POST accounts") == 1


def test_a_failed_order_revision_resubmitted_as_a_new_revision_completes(hub: LocalHub) -> None:
    brm(hub).add_fault({"kind": "reject", "count": 1, "reason": "try later"})
    failed = submit(hub, {"orderId": "ORD-15", "revision": 1, "lines": [line("L1", "SA-20", "BA-20", "BP-20")]})
    assert failed["status"] == "FAILED"
    done = submit(hub, {"orderId": "ORD-15", "revision": 2, "lines": [line("L1", "SA-20", "BA-20", "BP-20")]})
    assert done["status"] == "SUCCEEDED"


def test_a_revision_failed_by_a_brm_outage_is_resubmitted_and_runs_again_from_where_it_failed(hub: LocalHub) -> None:
    # Given a revision whose bill-to account was created, then BRM went down beyond every retry of the next step
    order = {"orderId": "ORD-RS", "revision": 1, "lines": [line("L1", "SA-RS", "BA-RS", "BP-RS")]}
    brm(hub).add_fault({"kind": "down", "count": 100, "after": 1})
    with sfn_waits.scaled(0.001):
        failed = submit(hub, order)
    assert failed["status"] == "FAILED", failed
    assert (failed["attempt"], failed["error"]["error"]) == (1, "TargetUnavailable")
    assert brm(hub).calls == ["POST accounts"]

    # When BRM is back and the revision is resubmitted (twice under one Idempotency-Key: a client's retry)
    brm(hub).clear_faults()
    first = resubmit(hub, "ORD-RS", 1, {"idempotency-key": "RS-1"})
    again = resubmit(hub, "ORD-RS", 1, {"idempotency-key": "RS-1"})

    # Then it answers 202 with the new attempt, once, and that attempt succeeds
    assert first.status == 202, first.body
    assert first.json() == {"orderId": "ORD-RS", "revision": 1, "status": "RUNNING", "attempt": 2}
    assert (again.status, again.json()) == (202, first.json())
    done = result(hub, "ORD-RS", 1)
    assert (done["status"], done["attempt"]) == ("SUCCEEDED", 2), done
    # with the bill-to account taken from the first attempt, not asked of BRM again; everything else made once
    assert objects(done, "created") == {("account", "BA-RS"), ("account", "SA-RS"), ("billinfo", "BP-RS"), ("payinfo", "BP-RS")}
    assert sorted(brm(hub).calls) == ["POST accounts", "POST accounts", "POST billinfos", "POST payinfos"]
    records = brm(hub).records["BRM1"]
    assert sorted(a["accountNo"] for a in records["accounts"].values()) == ["BA-RS", "SA-RS"]
    assert brm(hub).hierarchy("BRM1") == {"BA-RS": None, "SA-RS": "BA-RS"}
    # and the revision, now SUCCEEDED, cannot be resubmitted again
    assert resubmit(hub, "ORD-RS", 1).status == 409


def test_a_revision_that_fails_again_is_resubmitted_again_and_the_query_follows_the_latest_attempt(hub: LocalHub) -> None:
    # Given OSM's sample order refused by BRM twice in a row (a business refusal: not retried)
    brm(hub).add_fault({"kind": "reject", "count": 2, "reason": "account locked"})
    assert hub.invoke(API, sample_event("order_to_cash/fulfillment_orders/submit-order.json")).result["statusCode"] == 202
    assert result(hub, "ORD-1001", 1)["status"] == "FAILED"
    # When the sample resubmission is sent: its attempt 2 fails too; and it is sent again
    response = hub.invoke(API, sample_event("order_to_cash/fulfillment_orders/resubmit-order.json")).result
    assert (response["statusCode"], json.loads(response["body"])["attempt"]) == (202, 2)
    second = result(hub, "ORD-1001", 1)
    assert (second["status"], second["attempt"], second["error"]["error"]) == ("FAILED", 2, "TargetRejected")
    assert "HTTP 422 (code BUSINESS_ERROR)" in second["error"]["reason"]
    assert resubmit(hub, "ORD-1001", 1).json()["attempt"] == 3
    # Then the query answers the latest attempt, SUCCEEDED, and the sample order's objects are in BRM once each
    third = result(hub, "ORD-1001", 1)
    assert (third["status"], third["attempt"]) == ("SUCCEEDED", 3), third
    assert brm(hub).hierarchy("BRM1") == {"BA-100": None, "SA-100": "BA-100"}
    assert brm(hub).calls.count("POST accounts") == 4  # refused twice, then BA-100 and SA-100 once each


def test_resubmission_is_409_unless_the_revision_failed_404_when_unknown_422_for_a_bad_revision(hub: LocalHub) -> None:
    submit(hub, {"orderId": "ORD-RS2", "revision": 1, "lines": [line("L1", "SA-RS2", "BA-RS2", "BP-RS2")]})
    calls = len(brm(hub).calls)
    conflict = resubmit(hub, "ORD-RS2", 1)
    assert conflict.status == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert "SUCCEEDED" in conflict.json()["detail"]
    assert resubmit(hub, "ORD-RS2", 2).status == 404
    assert resubmit(hub, "nope", 1).status == 404
    assert resubmit(hub, "ORD-RS2", "x").status == 422
    assert len(brm(hub).calls) == calls
    assert result(hub, "ORD-RS2", 1)["attempt"] == 1


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (lambda o: o.pop("lines"), "#/lines"),
        (lambda o: o.update(lines=[]), "#/lines"),
        (lambda o: o.update(revision=-1), "#/revision"),
        (lambda o: o["lines"][0].pop("billingAccount"), "#/lines/0/billingAccount"),
        (lambda o: o["lines"][0].pop("billingProfile"), "#/lines/0/billingProfile"),
        (lambda o: o["lines"][0]["billingAccount"].update(id="has space"), "#/lines/0/billingAccount/id"),
    ],
)
def test_invalid_orders_are_422_with_the_field(hub: LocalHub, mutate: Any, pointer: str) -> None:
    order = {"orderId": "ORD-16", "revision": 1, "lines": [line("L1", "SA-21", "BA-21", "BP-21")]}
    bad = copy.deepcopy(order)
    mutate(bad)
    response = post(hub, bad)
    assert response.status == 422, response.body
    assert pointer in {e["pointer"] for e in response.json()["errors"]}


def test_one_service_account_billed_to_two_accounts_is_refused(hub: LocalHub) -> None:
    response = post(
        hub, {"orderId": "ORD-17", "revision": 1, "lines": [line("L1", "SA-22", "BA-22", "BP-22"), line("L2", "SA-22", "BA-23", "BP-23")]}
    )
    assert response.status == 422
    assert "one paying parent" in response.json()["errors"][0]["detail"]


def test_wrong_scope_unknown_order_and_malformed_body(hub: LocalHub) -> None:
    order = {"orderId": "ORD-18", "revision": 1, "lines": [line("L1", "SA-23", "BA-23", "BP-23")]}
    assert post(hub, order, claims={"client_id": "ccb", "scope": "utilhub/meter-data"}).status == 403
    assert hub.call_api("GET", "/order-to-cash/fulfillment-orders/nope/revisions/1", claims=CLAIMS).status == 404
    assert hub.call_api("GET", "/order-to-cash/fulfillment-orders/nope/revisions/x", claims=CLAIMS).status == 422
    assert hub.call_api("POST", "/order-to-cash/fulfillment-orders", body="{", headers=JSON, claims=CLAIMS).status == 400


def keep_sample_order(hub: LocalHub) -> None:
    """OSM's sample order kept as the intake keeps it: the workflow's sample steps name it by its key."""

    from utilhub.packs.order_to_cash.model import FulfillmentOrderIn
    from utilhub.packs.order_to_cash.order_store import OrderStore, Verdict
    from utilhub.packs.order_to_cash.orders import order_content

    order = FulfillmentOrderIn.model_validate_json(sample_event("order_to_cash/fulfillment_orders/submit-order.json")["body"])
    store = OrderStore(boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"]), payment_cipher(hub))
    assert store.accept(order, order_content(order)).verdict is Verdict.ACCEPTED


def test_brm_step_handler_is_idempotent_for_a_retried_step(hub: LocalHub) -> None:
    # Given the sample bill-to step of functions.order_to_cash.brm_steps.app, invoked twice (a retry after success)
    keep_sample_order(hub)
    event = sample_event("order_to_cash/brm_steps/ensure-account.json")
    first = hub.invoke("OrderToCashBrmStepsFunction", event)
    second = hub.invoke("OrderToCashBrmStepsFunction", event)
    # Then BRM was asked once, and both answers are the first outcome
    assert not first.failed, first.error
    assert first.result == second.result
    assert [o["sourceId"] for o in first.result["created"]] == ["BA-100"]
    assert brm(hub).calls == ["POST accounts"]


def test_brm_steps_sample_events_build_the_hierarchy(hub: LocalHub) -> None:
    keep_sample_order(hub)
    for name in ("ensure-account", "ensure-service-account", "ensure-billing-profile"):
        invocation = hub.invoke("OrderToCashBrmStepsFunction", sample_event(f"order_to_cash/brm_steps/{name}.json"))
        assert not invocation.failed, invocation.error
    assert brm(hub).hierarchy("BRM1") == {"BA-100": None, "SA-100": "BA-100"}
    assert {o["payInfoId"] for o in brm(hub).records["BRM1"]["payinfos"].values()} == {"BP-100"}


def test_order_steps_handler_runs_the_sample_collation(hub: LocalHub) -> None:
    keep_sample_order(hub)
    invocation = hub.invoke("OrderToCashOrderStepsFunction", sample_event("order_to_cash/order_steps/collate.json"))
    assert [(a["task"], a["sourceId"]) for a in invocation.result["billToAccounts"]] == [("ensureAccount", "BA-100")]


def test_execution_name_keeps_the_contract_once_the_idempotency_key_has_expired(hub: LocalHub) -> None:
    # Given an order revision that ran (its idempotency record could have expired since)
    from localhub.lambda_.runtime import function_environment
    from utilhub.packs.order_to_cash.model import FulfillmentOrderIn
    from utilhub.packs.order_to_cash.orders import start
    from utilhub.platform.problems import Problem

    order = {"orderId": "ORD-19", "revision": 1, "lines": [line("L1", "SA-24", "BA-24", "BP-24")]}
    submit(hub, order)
    with function_environment(hub.function(API).environment):
        # When the same revision starts again straight on the workflow, Then it answers its end state
        assert start(FulfillmentOrderIn.model_validate(order))["status"] == "SUCCEEDED"
        # and other content under the same revision is a conflict
        other = {**order, "lines": [line("L1", "SA-24", "BA-25", "BP-24")]}
        with pytest.raises(Problem) as conflict:
            start(FulfillmentOrderIn.model_validate(other))
    assert conflict.value.status == 409


def test_a_service_account_made_its_own_bill_to_pays_for_itself_and_the_compensation_reverts_it(hub: LocalHub) -> None:
    submit(hub, {"orderId": "ORD-20", "revision": 1, "lines": [line("L1", "SA-30", "BA-30", "BP-30")]})
    # When a revision makes the service account its own bill-to account, flagged by the prior billing account
    own = submit(
        hub,
        {
            "orderId": "ORD-20",
            "revision": 2,
            "lines": [line("L1", "SA-30", "SA-30", "BP-31", action="UPDATE", prior={"billingAccountId": "BA-30"})],
        },
    )
    assert own["status"] == "SUCCEEDED", own
    assert own["result"]["hierarchy"] == [
        {"account": "SA-30", "parent": None, "paying": True, "billingSystemId": "BRM1", "change": "CHANGED", "previousParent": "BA-30"}
    ]
    assert brm(hub).hierarchy("BRM1")["SA-30"] is None
    # And the compensation line (values flipped) puts it back under BA-30
    back = submit(
        hub,
        {
            "orderId": "ORD-20",
            "revision": 3,
            "lines": [line("L1", "SA-30", "BA-30", "BP-30", action="UPDATE", prior={"billingAccountId": "SA-30"})],
        },
    )
    assert back["result"]["hierarchy"][0]["change"] == "CHANGED"
    assert brm(hub).hierarchy("BRM1")["SA-30"] == "BA-30"


def test_a_paying_hierarchy_cycle_is_refused_before_anything_starts(hub: LocalHub) -> None:
    response = post(
        hub, {"orderId": "ORD-21", "revision": 1, "lines": [line("L1", "X-1", "Y-1", "BP-40"), line("L2", "Y-1", "X-1", "BP-40")]}
    )
    assert response.status == 422
    assert "cycle" in response.json()["detail"]
    assert brm(hub).calls == []


def test_a_fault_run_loses_no_order_and_creates_nothing_twice(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given three orders, each sent twice, BRM down for a while,
    # and a sixth of the AWS calls the functions make throttled beyond boto3's own retries
    # (the workflow's Retry waits, minutes long on AWS, at a hundredth of their length)
    orders: list[dict[str, Any]] = [
        {
            "orderId": f"ORD-FR{n}",
            "revision": 1,
            "lines": [
                line("L1", f"SA-FR{n}", f"BA-FR{n}", f"BP-FR{n}"),
                line("L2", None, f"BA-FR{n}", None, billing_type=None, product_type="Promotion"),
            ],
        }
        for n in range(3)
    ]
    brm(hub).add_fault({"kind": "down", "count": 3})
    with sfn_waits.scaled(0.01), AwsThrottling(1 / 6, seed=5) as throttling:
        for order in orders + orders:
            for _ in range(60):  # the sender retries a 503, and a 409 that says the first call is still in progress
                response = post(hub, order)
                if response.status == 503 or (response.status == 409 and response.json()["type"].endswith("/in-progress")):
                    time.sleep(0.5)
                    continue
                break
            assert response.status == 202, response.body
        assert hub.settle(timeout=240) == []
    assert throttling.throttled
    # Then each order revision ended: SUCCEEDED, or FAILED with the error and its reason
    outcomes = {order["orderId"]: result(hub, order["orderId"], 1) for order in orders}
    for body in outcomes.values():
        assert body["status"] in {"SUCCEEDED", "FAILED"}, body
        if body["status"] == "FAILED":
            assert body["error"]["error"], body
            assert body["error"]["reason"], body
    # When each failed order revision is resubmitted, and again while it fails (a step whose claim a throttled
    # write left behind is IdempotencyInProgress until the claim lapses with its invocation, 30 s at most)
    deadline = time.monotonic() + 90
    with sfn_waits.scaled(0.01):
        for order_id in outcomes:
            while outcomes[order_id]["status"] == "FAILED" and time.monotonic() < deadline:
                response = resubmit(hub, order_id, 1)
                assert response.status == 202, response.body
                outcomes[order_id] = result(hub, order_id, 1)
                if outcomes[order_id]["status"] == "FAILED":
                    assert outcomes[order_id]["error"]["error"] == "IdempotencyInProgress", outcomes[order_id]
                    time.sleep(3)
    # Then every order succeeded, and BRM holds each account, /billinfo and /payinfo once, in the hierarchy ordered
    assert {o: body["status"] for o, body in outcomes.items()} == dict.fromkeys(outcomes, "SUCCEEDED")
    records = brm(hub).records["BRM1"]
    for n in range(3):
        assert [a["accountNo"] for a in records["accounts"].values()].count(f"BA-FR{n}") == 1
        assert [a["accountNo"] for a in records["accounts"].values()].count(f"SA-FR{n}") == 1
        assert [b["billInfoId"] for b in records["billinfos"].values()].count(f"BP-FR{n}") == 1
        assert [p["payInfoId"] for p in records["payinfos"].values()].count(f"BP-FR{n}") == 1
        assert brm(hub).hierarchy("BRM1")[f"SA-FR{n}"] == f"BA-FR{n}"
        # and what the order reports (created or found) is what BRM holds
        body = outcomes[f"ORD-FR{n}"]["result"]
        reported = {(o["type"], o["sourceId"]): o["brmId"] for o in body["created"] + body["existing"]}
        poids = {("account", a["accountNo"]): poid for poid, a in records["accounts"].items()}
        assert reported[("account", f"BA-FR{n}")] == poids[("account", f"BA-FR{n}")]
        assert reported[("account", f"SA-FR{n}")] == poids[("account", f"SA-FR{n}")]
        assert {t for t, s in reported if s == f"BP-FR{n}"} == {"billinfo", "payinfo"}


def test_a_claim_left_by_a_throttled_start_tells_the_sender_when_to_come_back(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given an order whose start was throttled, and the release of its idempotency claim too (the claim stays taken
    # until its invocation's deadline)
    order = {"orderId": "ORD-IP1", "revision": 1, "lines": [line("L1", "SA-IP1", "BA-IP1", "BP-IP1")]}
    with AwsThrottling(1.0, operations=frozenset({"stepfunctions.StartExecution", "dynamodb.DeleteItem"})):
        assert post(hub, order).status == 503

    # When OSM sends it again at once
    again = post(hub, order)

    # Then it is asked to come back once the claim has lapsed, no later than a whole invocation from now
    assert (again.status, again.json()["type"]) == (409, "https://utilhub.dev/problems/in-progress")
    wait = int(again.headers["retry-after"])
    assert 1 <= wait <= hub.function(API).timeout
    # and after that long, the order is taken
    time.sleep(wait)
    assert submit(hub, order)["status"] == "SUCCEEDED"


def test_siebel_payment_methods_reach_brm_as_its_own_pay_types(hub: LocalHub) -> None:
    # Given an order whose billing profiles carry Siebel's own payment methods (any case) and the hub's code
    methods = {"BP-PM1": "Credit Card", "BP-PM2": "Check", "BP-PM3": "invoice", "BP-PM4": "Direct Debit", "BP-PM5": "DIRECT_DEBIT"}
    lines = [line(f"L{n}", f"SA-PM{n}", f"BA-PM{n}", bp) for n, bp in enumerate(methods, 1)]
    for order_line, method in zip(lines, methods.values(), strict=True):
        order_line["billingProfile"] |= {"paymentMethod": method, "creditCard": CARD, "bankAccount": BANK}
        if method not in ("Credit Card",):
            order_line["billingProfile"].pop("creditCard")
        if "DEBIT" not in method.upper():
            order_line["billingProfile"].pop("bankAccount")

    # When it is fulfilled
    body = submit(hub, {"orderId": "ORD-PM", "revision": 1, "lines": lines})

    # Then BRM holds each /payinfo with its pay type, translated through the PaymentMethod map
    assert body["status"] == "SUCCEEDED", body
    payinfos = {p["payInfoId"]: p["payType"] for p in brm(hub).records["BRM1"]["payinfos"].values()}
    assert payinfos == {"BP-PM1": 10003, "BP-PM2": 10001, "BP-PM3": 10001, "BP-PM4": 10005, "BP-PM5": 10005}


def test_a_payment_method_without_a_brm_pay_type_is_422_naming_line_and_value(hub: LocalHub) -> None:
    # Given an order whose second line's billing profile is paid in a way no map knows
    lines = [line("L1", "SA-X1", "BA-X1", "BP-X1"), line("L2", "SA-X2", "BA-X2", "BP-X2")]
    lines[1]["billingProfile"]["paymentMethod"] = "Bitcoin"

    # When it is posted
    response = post(hub, {"orderId": "ORD-PMX", "revision": 1, "lines": lines})

    # Then it is refused before anything starts, naming the field and the value
    assert response.status == 422, response.body
    errors = response.json()["errors"]
    assert [e["pointer"] for e in errors] == ["#/lines/1/billingProfile/paymentMethod"]
    assert "'Bitcoin'" in errors[0]["detail"]
    assert brm(hub).records == {}


def test_two_resubmissions_of_one_failed_attempt_start_one_new_attempt(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    from localhub.lambda_.runtime import function_environment
    from utilhub.packs.order_to_cash import orders

    # Given a FAILED revision resubmitted, whose attempt 2 has run
    brm(hub).add_fault({"kind": "reject", "count": 1, "reason": "account locked"})
    assert submit(hub, {"orderId": "ORD-RS3", "revision": 1, "lines": [line("L1", "SA-RS3", "BA-RS3", "BP-RS3")]})["status"] == "FAILED"
    assert resubmit(hub, "ORD-RS3", 1).status == 202
    assert result(hub, "ORD-RS3", 1)["attempt"] == 2
    with function_environment(hub.function(API).environment):
        failed = orders._describe("ORD-RS3", 1, 1)
        assert failed is not None
        # When another resubmission, which read the failed attempt 1 before attempt 2 started, starts its attempt
        with monkeypatch.context() as patch:
            patch.setattr(orders, "latest_attempt", lambda order_id, revision: (1, failed))
            answer = orders.resubmit("ORD-RS3", 1)
        # Then it answers attempt 2 as it is, and no third attempt exists
        assert answer == {"orderId": "ORD-RS3", "revision": 1, "status": "SUCCEEDED", "attempt": 2}
        assert orders._describe("ORD-RS3", 1, 3) is None


def test_the_same_revision_started_again_after_a_resubmission_answers_its_latest_attempt(hub: LocalHub) -> None:
    from localhub.lambda_.runtime import function_environment
    from utilhub.packs.order_to_cash.model import FulfillmentOrderIn
    from utilhub.packs.order_to_cash.orders import start
    from utilhub.platform.problems import Problem

    # Given a revision that failed, was resubmitted and succeeded at its attempt 2
    order = {"orderId": "ORD-RS4", "revision": 1, "lines": [line("L1", "SA-RS4", "BA-RS4", "BP-RS4")]}
    brm(hub).add_fault({"kind": "reject", "count": 1, "reason": "account locked"})
    assert submit(hub, order)["status"] == "FAILED"
    assert resubmit(hub, "ORD-RS4", 1).status == 202
    assert result(hub, "ORD-RS4", 1)["status"] == "SUCCEEDED"
    with function_environment(hub.function(API).environment):
        # When OSM's order revision starts again straight on the workflow (its idempotency record expired),
        # Then it answers the latest attempt's state, and other content under it is still a conflict
        assert start(FulfillmentOrderIn.model_validate(order))["status"] == "SUCCEEDED"
        with pytest.raises(Problem) as conflict:
            start(FulfillmentOrderIn.model_validate({**order, "lines": [line("L1", "SA-RS4", "BA-RS5", "BP-RS4")]}))
    assert conflict.value.status == 409
