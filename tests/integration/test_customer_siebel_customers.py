"""CU-01 create/synchronize customers during order processing and CU-02 update customers, Siebel
Energy -> CCB: the API function and the update delivery run in-process, resources from
the template in moto, the CCB and Siebel simulators over HTTP."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from localhub.hub import ApiResponse, LocalHub
from localhub.simulators.ccb import CcbSimulator
from tests.conftest import sample_event
from tests.helpers import JSON, assert_within_budget, call_limits, post_json

CLAIMS = {"client_id": "siebel", "scope": "utilhub/customer", "token_use": "access"}
XML = {"content-type": "application/xml"}
API = "CustomerSiebelFunction"  # and CustomerUpdateDeliveryFunction, through the queue


def account(account_id: str, name: str = "Ada Lovelace", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": account_id,
        "name": name,
        "address": {
            "type": "Billing",
            "line1": "12 Analytical Row",
            "city": "Springfield",
            "state": "IL",
            "postalCode": "62701",
            "country": "USA",
        },
        "contact": {
            "firstName": "Ada",
            "lastName": "Lovelace",
            "emailAddress": "ada@example.com",
            "phones": [{"type": "Home Phone", "number": "+1 217 555 0101"}],
        },
        "billingProfile": {
            "id": f"BP-{account_id}",
            "paymentMethod": "Direct Debit",
            "billRoute": "Email",
            "billCycleDay": 5,
            "currency": "USD",
        },
        "statementProfile": {"id": f"ST-{account_id}", "format": "Detailed", "billRoute": "Postal"},
    }
    body.update(changes)
    return body


def order(order_id: str, *accounts: dict[str, Any]) -> dict[str, Any]:
    return {"orderId": order_id, "lines": [{"lineId": f"L{n}", "billingAccount": a} for n, a in enumerate(accounts, 1)]}


def post_order(hub: LocalHub, body: dict[str, Any] | bytes, headers: dict[str, str] = JSON) -> ApiResponse:
    return post_json(hub, "/customer/siebel/orders", body, CLAIMS, headers)


def post_update(hub: LocalHub, account_id: str, body: dict[str, Any]) -> ApiResponse:
    return post_json(hub, f"/customer/siebel/accounts/{account_id}/updates", body, CLAIMS)


def ccb(hub: LocalHub) -> CcbSimulator:
    simulator = hub.simulators["CCB"]
    assert isinstance(simulator, CcbSimulator)
    return simulator


def customer_at_ccb(hub: LocalHub, account_id: str) -> dict[str, Any]:
    return ccb(hub).customer(ccb(hub).by_siebel_id[account_id]).model_dump()


def test_sample_order_creates_each_billing_account_once_in_ccb_codes(hub: LocalHub) -> None:
    # Given the sample order: two lines billing to one account, a third to another
    event = sample_event("customer/siebel_customers/synchronize-order.json")

    # When it is posted
    response = hub.invoke(API, event).result

    # Then each distinct billing account is one CCB customer, created, with CCB's ids
    assert response["statusCode"] == 200, response["body"]
    customers = json.loads(response["body"])["customers"]
    assert [(c["siebelAccountId"], c["action"]) for c in customers] == [("SBL-ACC-100", "CREATED"), ("SBL-ACC-200", "CREATED")]
    assert all(c["ccbPersonId"].isdigit() and c["ccbAccountId"].isdigit() for c in customers)
    assert ccb(hub).customers_created("SBL-ACC-100") == 1
    # And CCB holds them in its own codes, translated through the domain value maps
    held = customer_at_ccb(hub, "SBL-ACC-100")
    assert held["account"]["paymentMethod"] == "DD"
    assert held["billRoute"] == {"billRouteType": "EMAIL"}
    assert held["statement"]["statementFormat"] == "SUMM"
    assert held["addresses"][0]["addressType"] == "BILL"
    assert held["addresses"][0]["country"] == "USA"
    assert {c["contactType"] for c in held["contacts"]} == {"PRIMARYEMAIL", "CELLPHONE"}


def test_a_repeated_order_creates_nothing_twice_and_a_changed_one_updates(hub: LocalHub) -> None:
    # Given an order that created a customer
    first = post_order(hub, order("SO-1", account("A1")))
    assert first.status == 200, first.body
    created = first.json()["customers"][0]

    # When the same order comes again, then another order carries a changed name for the account
    again = post_order(hub, order("SO-1", account("A1")))
    changed = post_order(hub, order("SO-2", account("A1", name="Ada King")))

    # Then the repeat is UNCHANGED with the same ids, the change UPDATED, and CCB made one customer
    assert again.json()["customers"] == [{**created, "action": "UNCHANGED"}]
    assert changed.json()["customers"] == [{**created, "action": "UPDATED"}]
    assert ccb(hub).customers_created("A1") == 1
    assert customer_at_ccb(hub, "A1")["person"] == {"name": "Ada King"}
    assert hub.call_api("GET", "/customer/siebel/accounts/A1", claims=CLAIMS).json() == {
        "siebelAccountId": "A1",
        "synchronized": True,
        "ccbPersonId": created["ccbPersonId"],
        "ccbAccountId": created["ccbAccountId"],
    }


def test_ccb_down_in_the_middle_of_an_order_then_retried_creates_each_customer_once(hub: LocalHub) -> None:
    # Given CCB answers the first customer's calls (its lookup and create), then is down for three calls
    ccb(hub).add_fault({"kind": "down", "count": 3, "after": 2})
    body = order("SO-3", account("B1"), account("B2"), account("B3"))

    # When the order is posted, and again once CCB is back
    failed = post_order(hub, body)
    created_before_retry = [ccb(hub).customers_created(a) for a in ("B1", "B2", "B3")]
    retried = post_order(hub, body)

    # Then the first answer is a 502 naming CCB after the first customer was made; the retry does the
    # rest and reports the first as it is now (UNCHANGED); none is made twice
    assert failed.status == 502, failed.body
    assert failed.json()["target"] == "CCB"
    assert created_before_retry == [1, 0, 0]
    assert retried.status == 200, retried.body
    assert [c["action"] for c in retried.json()["customers"]] == ["UNCHANGED", "CREATED", "CREATED"]
    assert {c["siebelAccountId"] for c in retried.json()["customers"]} == {"B1", "B2", "B3"}
    assert [ccb(hub).customers_created(a) for a in ("B1", "B2", "B3")] == [1, 1, 1]


def test_a_create_whose_link_was_lost_is_found_at_ccb_not_made_again(hub: LocalHub) -> None:
    # Given CCB already has the customer (a create whose answer never reached the hub)
    requests.post(
        f"{hub.simulator_url('CCB')}/customers",
        json={
            "siebelAccountId": "C1",
            "person": {"name": "Ada Lovelace"},
            "account": {"paymentMethod": "DD", "billCycleDay": 5, "currency": "USD", "billingProfileId": "BP-C1"},
            "addresses": [
                {
                    "addressType": "BILL",
                    "address1": "12 Analytical Row",
                    "city": "Springfield",
                    "state": "IL",
                    "postal": "62701",
                    "country": "USA",
                }
            ],
            "contacts": [],
            "billRoute": {"billRouteType": "EMAIL"},
        },
        auth=(ccb(hub).credentials["username"], ccb(hub).credentials["password"]),
        timeout=10,
    ).raise_for_status()

    # When the order for that account is processed
    response = post_order(hub, order("SO-4", account("C1")))

    # Then the hub links the one CCB has and brings it up to date; CCB made no second one
    assert response.status == 200, response.body
    assert response.json()["customers"][0]["action"] == "UPDATED"
    assert ccb(hub).customers_created("C1") == 1
    assert customer_at_ccb(hub, "C1")["statement"]["statementFormat"] == "DETL"


def test_siebel_xml_order_is_read_like_json(hub: LocalHub) -> None:
    # Given the sample Siebel XML order
    event = sample_event("customer/siebel_customers/synchronize-order-xml.json")

    # When it is posted
    response = hub.invoke(API, event).result

    # Then its billing account is a CCB customer in CCB's codes
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["customers"][0]["action"] == "CREATED"
    assert customer_at_ccb(hub, "SBL-ACC-300")["account"]["paymentMethod"] == "CHK"


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"billingProfile": {"id": "BP-X", "paymentMethod": "Bitcoin"}}, "#/lines/0/billingAccount/billingProfile/paymentMethod"),
        ({"address": {"line1": "1 Rue", "city": "Lyon", "country": "Atlantis"}}, "#/lines/0/billingAccount/address/country"),
        ({"statementProfile": {"id": "ST-X", "format": "Verbose"}}, "#/lines/0/billingAccount/statementProfile/format"),
    ],
)
def test_unmapped_code_values_are_422_naming_field_and_value(hub: LocalHub, change: dict[str, Any], pointer: str) -> None:
    # Given an order whose account carries a code value no domain value map has
    body = order("SO-5", account("D1", **change))

    # When it is posted
    response = post_order(hub, body)

    # Then it is a 422 naming the field and the value, and nothing reached CCB
    assert response.status == 422, response.body
    errors = response.json()["errors"]
    assert [e["pointer"] for e in errors] == [pointer]
    assert "D1" not in ccb(hub).by_siebel_id


def test_bad_orders_are_refused_and_nothing_is_stored(hub: LocalHub) -> None:
    # Given a line without a billing account, one account with two images, and a control character
    no_account = {"orderId": "SO-6", "lines": [{"lineId": "L1"}]}
    two_images = order("SO-7", account("E1"), account("E1", name="Someone Else"))
    hostile = order("SO-8", account("E2", name="Ada\u0000Lovelace"))

    # When each is posted
    answers = [post_order(hub, body) for body in (no_account, two_images, hostile)]

    # Then each is a 422 with where the fault is; nothing is in CCB or known to the hub
    assert [a.status for a in answers] == [422, 422, 422]
    assert answers[0].json()["errors"][0]["pointer"] == "#/lines/0/billingAccount"
    assert answers[1].json()["errors"][0]["pointer"] == "#/lines/1/billingAccount"
    assert answers[2].json()["errors"][0]["pointer"] == "#/lines/0/billingAccount/name"
    assert ccb(hub).received_total == 0
    assert hub.call_api("GET", "/customer/siebel/accounts/E1", claims=CLAIMS).status == 404


def test_updates_for_a_prospect_are_ignored_and_nothing_is_sent(hub: LocalHub) -> None:
    # Given an account Siebel never ordered for (a prospect)
    update = {"updateId": "U-1", "changedAt": "2026-11-27T10:00:00Z", "name": "Prospect Person"}

    # When an update for it comes
    response = post_update(hub, "P1", update)
    hub.drain()

    # Then it is 200 IGNORED with the reason, nothing reaches CCB, and the hub knows it is not synchronized
    assert response.status == 200, response.body
    assert response.json()["status"] == "IGNORED"
    assert "prospect" in response.json()["reason"]
    assert ccb(hub).received_total == 0
    assert hub.call_api("GET", "/customer/siebel/accounts/P1", claims=CLAIMS).json()["synchronized"] is False


def test_updates_reach_ccb_in_siebel_order_even_when_they_arrive_out_of_order(hub: LocalHub) -> None:
    # Given a synchronized customer
    assert post_order(hub, order("SO-9", account("F1"))).status == 200
    newer = {"updateId": "U-2", "changedAt": "2099-01-01T10:05:00Z", "name": "Ada King"}
    older = {
        "updateId": "U-1",
        "changedAt": "2099-01-01T10:00:00Z",
        "name": "Ada Byron",
        "billingProfile": {"id": "BP-F1", "paymentMethod": "Credit Card", "billRoute": "Email"},
    }

    # When the newer update arrives first, then the older one, then the newer one again (SQS drops it as a duplicate)
    answers = [post_update(hub, "F1", body) for body in (newer, older, newer)]
    hub.drain()

    # Then all are accepted; CCB keeps the newer name and takes the older update's other part
    assert [a.status for a in answers] == [202, 202, 202]
    held = customer_at_ccb(hub, "F1")
    assert held["person"] == {"name": "Ada King"}
    assert held["account"]["paymentMethod"] == "CC"
    # And CCB was changed once per update that brought something newer, never back to the old name
    changes = [m["parts"] for m in ccb(hub).received if m["operation"] == "change"]
    assert changes == [["person"], ["account"]]


def test_an_update_while_ccb_is_down_is_retried_by_the_queue(hub: LocalHub) -> None:
    # Given a synchronized customer and CCB down for the next call
    assert post_order(hub, order("SO-10", account("G1"))).status == 200
    ccb(hub).add_fault({"kind": "down", "count": 1})

    # When an update comes, and the queue redelivers it after the failure
    assert post_update(hub, "G1", {"updateId": "U-9", "changedAt": "2099-01-01T00:00:00Z", "name": "Grace Hopper"}).status == 202
    hub.drain()
    hub.expire_visibility()
    hub.drain()

    # Then CCB has the change once
    assert customer_at_ccb(hub, "G1")["person"] == {"name": "Grace Hopper"}
    assert [m["parts"] for m in ccb(hub).received if m["operation"] == "change"] == [["person"]]


def test_the_siebel_simulator_sends_orders_and_account_changes_to_the_hub(hub: LocalHub) -> None:
    # Given an account captured in Siebel (a prospect) and changed before any order
    siebel = hub.simulator_url("SEBL")
    created = requests.put(f"{siebel}/accounts/H1", json=account("H1"), timeout=30)
    before_order = requests.put(f"{siebel}/accounts/H1", json=account("H1", name="Hedy Lamarr"), timeout=30).json()

    # When an order bills to it (as Siebel XML), and the account changes afterwards
    ordered = requests.post(
        f"{siebel}/orders?format=xml", json={"orderId": "SO-11", "lines": [{"lineId": "1", "accountId": "H1"}]}, timeout=30
    ).json()
    after_order = requests.put(f"{siebel}/accounts/H1?format=xml", json=account("H1", name="Hedy Kiesler"), timeout=30).json()
    hub.drain()

    # Then the prospect's change was ignored, the order created it, and the later change reached CCB
    assert created.status_code == 201
    assert before_order["hubAnswer"]["status"] == "IGNORED"
    assert ordered["hubAnswer"]["customers"][0]["action"] == "CREATED"
    assert after_order["hubAnswer"]["status"] == "ACCEPTED"
    assert customer_at_ccb(hub, "H1")["person"] == {"name": "Hedy Kiesler"}


def test_the_route_needs_the_customer_scope(hub: LocalHub) -> None:
    # Given a token for another pack
    other = {**CLAIMS, "scope": "utilhub/order-to-cash"}

    # When it posts an order
    response = hub.call_api("POST", "/customer/siebel/orders", body=json.dumps(order("SO-12", account("J1"))), headers=JSON, claims=other)

    # Then it is refused
    assert response.status == 403


def test_update_delivery_sample_event_applies_a_queued_update(hub: LocalHub) -> None:
    # Given the customer of the sample update, synchronized
    assert post_order(hub, order("SO-13", account("SBL-ACC-100"))).status == 200
    event = copy.deepcopy(sample_event("customer/update_delivery/sqs-fifo.json"))

    # When the delivery handler gets the sample batch
    response = hub.invoke("CustomerUpdateDeliveryFunction", event).result

    # And the same batch redelivered (the queue may deliver twice)
    redelivered = hub.invoke("CustomerUpdateDeliveryFunction", event).result

    # Then no record fails, CCB has the new address, and it was changed once
    assert response == {"batchItemFailures": []}
    assert redelivered == {"batchItemFailures": []}
    assert customer_at_ccb(hub, "SBL-ACC-100")["addresses"][0]["city"] == "Shelbyville"
    assert [m["parts"] for m in ccb(hub).received if m["operation"] == "change"] == [["addresses"]]


def test_a_deployment_overrides_a_map_through_its_parameter_without_code(hub: LocalHub) -> None:
    # Given the deployment's domain value map parameter holding a PaymentMethod map with a value of its own
    import boto3

    from utilhub.platform import aws

    ssm = boto3.client("ssm", region_name=hub.stack.region if hub.stack else None)
    name = hub.resources()["DomainValueMapsParameter"]
    override = {
        "PaymentMethod": {
            "columns": ["COMMON", "SEBL", "CCB", "BRM"],
            "rows": [{"COMMON": "STANDING_ORDER", "SEBL": "Standing Order", "CCB": "DD", "BRM": "10005"}],
        }
    }
    ssm.put_parameter(Name=name, Value=json.dumps(override), Type="String", Overwrite=True)
    aws.clear_parameter_caches()  # the functions' cache of the parameter (max age 300 s) starts afresh
    try:
        # When orders carry the new value, and a value the override no longer has
        taken = post_order(hub, order("SO-14", account("K1", billingProfile={"id": "BP-K1", "paymentMethod": "standing order"})))
        dropped = post_order(hub, order("SO-15", account("K2")))  # Direct Debit: not in the overriding map

        # Then the new value maps to CCB's code, and the replaced map no longer knows the old one
        assert taken.status == 200, taken.body
        assert customer_at_ccb(hub, "K1")["account"]["paymentMethod"] == "DD"
        assert dropped.status == 422, dropped.body
        assert dropped.json()["errors"][0]["pointer"] == "#/lines/0/billingAccount/billingProfile/paymentMethod"
    finally:
        ssm.put_parameter(Name=name, Value="{}", Type="String", Overwrite=True)
        aws.clear_parameter_caches()


def test_a_fault_run_creates_each_customer_once_and_keeps_the_newest_of_each_part(hub: LocalHub) -> None:
    import time

    from localhub.aws.throttling import AwsThrottling

    def until_answered(send: Any) -> ApiResponse:
        # the sender (Siebel) posts again on 502 (CCB failed), 503 (AWS busy) and 409 (the customer changed meanwhile)
        for _ in range(40):
            response: ApiResponse = send()
            if response.status in (502, 503, 409):
                time.sleep(0.2)
                continue
            return response
        raise AssertionError(f"never answered: {response.status} {response.body!r}")

    # Given four orders over three accounts (one account on two orders), each sent twice, CCB down now
    # and then, and a sixth of the functions' AWS calls throttled beyond boto3's own retries
    orders = [order(f"SO-FR{n}", account(f"FR{n}"), account("FR-SHARED")) for n in range(2)] * 2
    updates = [
        ("FR0", {"updateId": "U-FR1", "changedAt": "2099-01-01T10:00:00Z", "name": "Old Name"}),
        ("FR0", {"updateId": "U-FR2", "changedAt": "2099-01-01T11:00:00Z", "name": "New Name"}),
        ("FR-SHARED", {"updateId": "U-FR3", "changedAt": "2099-01-01T10:00:00Z", "statementProfile": {"id": "ST-S", "format": "Summary"}}),
    ]
    with AwsThrottling(1 / 6, seed=7) as throttling:
        ccb(hub).add_fault({"kind": "down", "count": 2})
        answers = [until_answered(lambda body=body: post_order(hub, body)) for body in orders]
        ccb(hub).add_fault({"kind": "down", "count": 2})
        # When the updates arrive newest first, each twice, and the queue redelivers what failed
        for account_id, body in [updates[1], updates[0], updates[2], updates[1], updates[0]]:
            assert until_answered(lambda a=account_id, b=body: post_update(hub, a, b)).status == 202
        for _ in range(6):
            hub.drain()
            hub.expire_visibility()
        hub.drain()
    assert throttling.throttled

    # Then every order was answered, each customer exists once in CCB, and every part is the newest Siebel made
    assert [a.status for a in answers] == [200] * 4
    assert [ccb(hub).customers_created(a) for a in ("FR0", "FR1", "FR-SHARED")] == [1, 1, 1]
    assert customer_at_ccb(hub, "FR0")["person"] == {"name": "New Name"}
    assert customer_at_ccb(hub, "FR-SHARED")["statement"]["statementFormat"] == "SUMM"
    names_given = [m for m in ccb(hub).received if m["operation"] == "change" and m["siebelAccountId"] == "FR0"]
    assert len(names_given) == 1  # the older name never reached CCB after the newer one
    # And no update was lost: none is left in the queue or its dead-letter queue
    import boto3

    sqs = boto3.client("sqs", region_name=hub.stack.region if hub.stack else None)
    for queue in ("CustomerUpdateQueue", "CustomerUpdateDeadLetterQueue"):
        attributes = sqs.get_queue_attributes(QueueUrl=hub.resources()[queue], AttributeNames=["All"])["Attributes"]
        assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == ("0", "0"), queue


def test_a_slow_ccb_is_a_504_within_the_budget_and_the_order_completes_when_posted_again(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given CCB slower than the route's time budget (10 s) for its next two answers
    ccb(hub).add_fault({"kind": "slow", "count": 2, "seconds": 12})

    # When an order is posted
    limits = call_limits(monkeypatch)
    slow = post_order(hub, order("SO-16", account("L1")))
    slow_limits = list(limits["CCB"])
    again = post_order(hub, order("SO-16", account("L1")))

    # Then the answer is a 504 naming CCB, given once the 10 s budget is spent: without the budget the
    # lookup and its second try would each wait out the 8 s read timeout (16 s); and the order posted
    # again creates the customer once
    assert slow.status == 504, slow.body
    assert slow.json()["target"] == "CCB"
    assert_within_budget(slow_limits, budget=10, read_timeout=8)
    assert again.status == 200, again.body
    assert ccb(hub).customers_created("L1") == 1


def test_an_update_for_a_customer_an_order_is_synchronizing_is_queued_not_ignored(hub: LocalHub) -> None:
    # Given an order of two customers that failed after the first was made, while the hub was starting the second
    ccb(hub).add_fault({"kind": "down", "count": 2, "after": 2})
    body = order("SO-17", account("M0"), account("M1"))
    assert post_order(hub, body).status == 502

    # When Siebel sends a change of the second account, the queue tries it, and then the order is posted again
    update = post_update(hub, "M1", {"updateId": "U-M1", "changedAt": "2099-01-01T00:00:00Z", "name": "Margaret Hamilton"})
    hub.drain()
    before_order = "M1" in ccb(hub).by_siebel_id
    assert post_order(hub, body).status == 200
    hub.expire_visibility()
    hub.drain()

    # Then the update was accepted (the account is no prospect: an order is making it), waited in the queue
    # while the customer did not exist, and reached CCB once the order made it
    assert update.status == 202, update.body
    assert update.json()["status"] == "ACCEPTED"
    assert before_order is False
    assert customer_at_ccb(hub, "M1")["person"] == {"name": "Margaret Hamilton"}


def test_a_customer_whose_order_never_completed_is_not_synchronizing_for_ever(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from utilhub.platform import observability

    # Given an order that failed while the hub was creating its customer, and Siebel never sent it again
    ccb(hub).add_fault({"kind": "down", "count": 2})
    assert post_order(hub, order("SO-18", account("W1"))).status == 502
    # ... an update that arrived meanwhile (queued: an order was making the customer), and an hour and more passed
    assert post_update(hub, "W1", {"updateId": "U-W1", "changedAt": "2099-01-01T00:00:00Z", "name": "Grace Hopper"}).status == 202
    table = boto3.resource("dynamodb", region_name=hub.stack.region if hub.stack else None).Table(hub.resources()["CrossReferenceTable"])
    overdue = (datetime.now(UTC) - timedelta(seconds=3601)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    table.update_item(
        Key={"pk": "CUSTOMER#SEBL#W1"}, UpdateExpression="SET synchronizingSince = :t", ExpressionAttributeValues={":t": overdue}
    )
    # ... and another customer whose order began a moment ago
    ccb(hub).add_fault({"kind": "down", "count": 2})
    assert post_order(hub, order("SO-19", account("W2"))).status == 502

    # When the schedule runs
    metrics: list[dict[str, Any]] = []
    monkeypatch.setattr(observability.metrics, "add_metric", lambda **kwargs: metrics.append(kwargs))
    run = hub.run_schedule("CustomerSynchronizingMonitorFunction")

    # Then the customer waiting past CustomerSynchronizingWaitSeconds (3600 s) is given up and counted (alarmed),
    # the recent one still waits, and a later update of the given-up one is a prospect's (ignored), not queued
    assert not run.failed, run.error
    assert run.result == {"expired": 1}
    assert [(m["name"], m["value"]) for m in metrics] == [("CustomerSynchronizationsExpired", 1)]
    assert "synchronizing" not in table.get_item(Key={"pk": "CUSTOMER#SEBL#W1"})["Item"]
    assert table.get_item(Key={"pk": "CUSTOMER#SEBL#W2"})["Item"]["synchronizing"] is True
    later = post_update(hub, "W1", {"updateId": "U-W1b", "changedAt": "2099-01-02T00:00:00Z", "name": "Grace B. Hopper"})
    assert later.json()["status"] == "IGNORED", later.body
    # and a second run has nothing more to give up
    assert hub.run_schedule("CustomerSynchronizingMonitorFunction").result == {"expired": 0}
