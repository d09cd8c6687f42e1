"""OC-01's card and bank account numbers are never kept readable (PCI DSS 3.5; order_to_cash/order_store.py): the
kept revision, read from the table itself, holds them masked and encrypted with the stack's key; a FAILED revision
resubmitted still sends BRM the whole number; once SUCCEEDED only the last 4 digits remain."""

from __future__ import annotations

import json
from typing import Any

import boto3

from localhub.aws import sfn_waits
from localhub.hub import LocalHub
from tests.integration.test_order_to_cash_fulfillment_orders import BANK, CARD, CLAIMS, brm, line, resubmit, result, submit

NUMBER, ACCOUNT = CARD["number"], BANK["accountNumber"]


def kept(hub: LocalHub, order_id: str, revision: int) -> dict[str, Any]:
    item = boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"]).get_item(Key={"pk": f"ORDER#{order_id}#{revision}"})
    assert "Item" in item, item
    return item["Item"]


def order(order_id: str) -> dict[str, Any]:
    by_card, by_debit = (
        line("L1", "SA-" + order_id, "BA-" + order_id, "BP-C" + order_id),
        line("L2", "SB-" + order_id, "BB-" + order_id, "BP-D" + order_id),
    )
    by_card["billingProfile"] |= {"paymentMethod": "Credit Card", "creditCard": CARD}
    by_debit["billingProfile"] |= {"paymentMethod": "Direct Debit", "bankAccount": BANK}
    return {"orderId": order_id, "revision": 1, "lines": [by_card, by_debit]}


def test_a_revision_keeps_no_number_readable_a_resubmission_sends_them_whole_and_success_leaves_the_last_4(hub: LocalHub) -> None:
    # Given an order revision paid by card and by direct debit, failed by BRM down before its /payinfos
    brm(hub).add_fault({"kind": "down", "count": 100, "after": 1})
    with sfn_waits.scaled(0.001):
        assert submit(hub, order("ORD-PAN"))["status"] == "FAILED"

    # Then the kept revision, as the table holds it, has neither number in clear: each masked to its last 4, and
    # encrypted (KMS ciphertext) under its field
    item = kept(hub, "ORD-PAN", 1)
    assert NUMBER not in json.dumps(item, default=str)
    assert ACCOUNT not in json.dumps(item, default=str)
    lines = json.loads(item["order"])["lines"]
    assert lines[0]["billingProfile"]["creditCard"]["number"] == "000000000000" + NUMBER[-4:]
    assert lines[1]["billingProfile"]["bankAccount"]["accountNumber"] == "0000" + ACCOUNT[-4:]
    assert sorted(item["payment"]) == ["/lines/0/billingProfile/creditCard/number", "/lines/1/billingProfile/bankAccount/accountNumber"]

    # When BRM is back and the revision is resubmitted
    brm(hub).clear_faults()
    assert resubmit(hub, "ORD-PAN", 1).status == 202
    assert result(hub, "ORD-PAN", 1)["status"] == "SUCCEEDED"

    # Then BRM got the whole card and account numbers
    payinfos = {p["payInfoId"]: p for p in brm(hub).records["BRM1"]["payinfos"].values()}
    assert payinfos["BP-CORD-PAN"]["ccInfo"]["debitNum"] == NUMBER
    assert payinfos["BP-DORD-PAN"]["ddInfo"]["debitNum"] == ACCOUNT
    # And the revision, SUCCEEDED, now keeps only their last 4 digits: the ciphertexts are gone
    item = kept(hub, "ORD-PAN", 1)
    assert "payment" not in item
    assert NUMBER not in json.dumps(item, default=str)
    assert NUMBER[-4:] in item["order"]
    # and the same revision posted again is still the same (compared by what is kept), other content still 409
    assert submit(hub, order("ORD-PAN"))["status"] == "SUCCEEDED"


def test_the_intakes_idempotency_record_holds_no_unkeyed_hash_a_number_could_be_guessed_from(hub: LocalHub) -> None:
    import hashlib

    from tests.integration.test_order_to_cash_fulfillment_orders import post
    from utilhub.packs.order_to_cash.model import FulfillmentOrderIn
    from utilhub.packs.order_to_cash.order_store import masked_content
    from utilhub.packs.order_to_cash.orders import order_content

    def unkeyed(card: str) -> str:
        """What Powertools would store for a fingerprint that is the order itself, with ``card`` as its card number."""
        candidate = order("ORD-MAC")
        candidate["lines"][0]["billingProfile"]["creditCard"] = {**CARD, "number": card}
        content = order_content(FulfillmentOrderIn.model_validate(candidate))
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()

    # Given an order revision paid by card and by direct debit, taken by the intake
    assert post(hub, order("ORD-MAC")).status == 202
    result_of = result(hub, "ORD-MAC", 1)
    assert result_of["status"] in ("RUNNING", "SUCCEEDED")
    records = boto3.resource("dynamodb").Table(hub.resources()["IdempotencyTable"]).scan()["Items"]
    stored = {str(r["validation"]) for r in records if "validation" in r}
    assert stored  # the intake's record keeps its request's hash

    # Then no stored hash is the unkeyed SHA-256 of the order with its card number, whichever middle digits are tried
    # (the last 4 and the length are known from the kept revision), nor of the order with its numbers masked
    tried = {unkeyed(NUMBER[:6] + f"{middle:06d}" + NUMBER[-4:]) for middle in (0, 111111, 123456, 999999)}
    masked_only = hashlib.sha256(json.dumps(masked_content(order_content(FulfillmentOrderIn.model_validate(order("ORD-MAC"))))).encode())
    assert unkeyed(NUMBER) in tried
    assert not stored & (tried | {masked_only.hexdigest()})

    # And the same order again is the same request; one differing only in the card's middle digits is another (409)
    assert post(hub, order("ORD-MAC")).status == 202
    other = order("ORD-MAC")
    other["lines"][0]["billingProfile"]["creditCard"] = {**CARD, "number": NUMBER[:6] + "000000" + NUMBER[-4:]}
    refused = post(hub, other)
    assert refused.status == 409, refused.body


def test_the_idempotency_key_headers_record_holds_no_unkeyed_hash_of_the_body_a_number_could_be_guessed_from(hub: LocalHub) -> None:
    import hashlib

    from tests.helpers import post_json
    from utilhub.packs.order_to_cash.model import FulfillmentOrderIn
    from utilhub.packs.order_to_cash.order_store import masked_content
    from utilhub.packs.order_to_cash.orders import order_content

    def with_card(card: str) -> dict[str, Any]:
        candidate = order("ORD-KEY")
        candidate["lines"][0]["billingProfile"]["creditCard"] = {**CARD, "number": card}
        return candidate

    def kept_hash(fingerprint: str) -> str:
        """What Powertools keeps as the validation hash of a record whose fingerprint is ``fingerprint``."""
        return hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()

    def unkeyed(card: str) -> set[str]:
        """The hashes a reader of the records could recompute for ``card`` without a key: of the raw body as posted
        (and of its SHA-256, the header's fingerprint until now), and of the order revision's canonical JSON."""
        raw = json.dumps(with_card(card)).encode()
        content = order_content(FulfillmentOrderIn.model_validate(with_card(card)))
        return {kept_hash(raw.decode()), kept_hash(hashlib.sha256(raw).hexdigest()), kept_hash(content)}

    def posted(body: dict[str, Any] | str) -> Any:
        return post_json(hub, "/order-to-cash/fulfillment-orders", body, CLAIMS, headers={"Idempotency-Key": "osm-ORD-KEY-1"})

    # Given an order revision paid by card and by direct debit, posted with an Idempotency-Key
    first = posted(order("ORD-KEY"))
    assert first.status == 202, first.body
    assert result(hub, "ORD-KEY", 1)["status"] in ("RUNNING", "SUCCEEDED")
    records = boto3.resource("dynamodb").Table(hub.resources()["IdempotencyTable"]).scan()["Items"]
    stored = {str(r["validation"]) for r in records if "validation" in r}
    assert len(stored) >= 2  # the header's record and the intake's own

    # Then no stored hash is an unkeyed hash of the body or of the order, whichever middle digits are tried (the last 4
    # and the length are known from the kept revision), nor of the order with its numbers masked
    tried = set().union(*(unkeyed(NUMBER[:6] + f"{middle:06d}" + NUMBER[-4:]) for middle in (0, 111111, 123456, 999999)))
    assert unkeyed(NUMBER) <= tried
    masked_only = kept_hash(masked_content(order_content(FulfillmentOrderIn.model_validate(order("ORD-KEY")))))
    assert not stored & (tried | {masked_only})

    # And the same body with the same key is the same request (the first answer again); one differing only in the
    # card's middle digits, under the same key, is another request (409)
    again = posted(order("ORD-KEY"))
    assert (again.status, again.json()) == (first.status, first.json())
    laid_out_otherwise = posted(json.dumps(order("ORD-KEY"), indent=2, sort_keys=True))  # compared as an order, not as bytes
    assert (laid_out_otherwise.status, laid_out_otherwise.json()) == (first.status, first.json())
    refused = posted(with_card(NUMBER[:6] + "000000" + NUMBER[-4:]))
    assert refused.status == 409, refused.body
    assert "idempotency key" in refused.json()["detail"]
