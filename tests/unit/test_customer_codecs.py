"""The customer pack's codecs and rules (utilhub.packs.customer): Siebel XML read into the JSON
contract and written from it, Siebel parts mapped to CCB parts through the domain value maps, and the
billing accounts of an order's lines. Pure: no AWS, no sockets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from utilhub.packs.customer import siebel_xml
from utilhub.packs.customer.customers import distinct_billing_accounts
from utilhub.packs.customer.mapping import to_ccb
from utilhub.packs.customer.model import AccountUpdateIn, SiebelOrderIn
from utilhub.platform.dvm import DomainValueMaps, UnmappedValue, shipped_maps
from utilhub.platform.problems import Problem
from utilhub.platform.xml import parse_untrusted

EVENTS = Path(__file__).resolve().parents[2] / "events" / "customer" / "siebel_customers"
LIMITS = {"max_bytes": 1_048_576, "max_depth": 32}


def sample_body(name: str) -> Any:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event["body"]


def translator() -> Any:
    return DomainValueMaps(dict(shipped_maps())).translator(source="SEBL", target="CCB")


def test_a_siebel_xml_order_reads_as_the_json_order_it_was_written_from() -> None:
    # Given the sample JSON order
    order = json.loads(sample_body("synchronize-order.json"))

    # When it is written as Siebel XML and read back
    xml = siebel_xml.write_order(order, "MSG-1")
    read = siebel_xml.read_order(parse_untrusted(xml, **LIMITS))

    # Then both validate to the same order
    assert SiebelOrderIn.model_validate(read) == SiebelOrderIn.model_validate(order)


def test_a_siebel_xml_update_reads_as_the_json_update_it_was_written_from() -> None:
    # Given an update carrying a contact with two phones
    update = {
        "updateId": "U-1",
        "changedAt": "2026-11-27T10:00:00+00:00",
        "contact": {
            "lastName": "Lovelace",
            "phones": [{"type": "Work Phone", "number": "+44 20 7946 0000"}, {"type": "Fax", "number": "+44 20 7946 0001"}],
        },
    }

    # When it is written as Siebel XML and read back
    xml = siebel_xml.write_account_update("A-1", update, "MSG-2")
    read = siebel_xml.read_account_update(parse_untrusted(xml, **LIMITS), "A-1")

    # Then it is the same update
    assert AccountUpdateIn.model_validate(read) == AccountUpdateIn.model_validate(update)


def test_an_xml_update_about_another_account_than_the_path_is_refused() -> None:
    # Given an update message for account A-1
    xml = siebel_xml.write_account_update("A-1", {"updateId": "U-1", "changedAt": "2026-11-27T10:00:00Z", "name": "X"}, "MSG-3")

    # When it is read for account A-2
    with pytest.raises(Problem) as raised:
        siebel_xml.read_account_update(parse_untrusted(xml, **LIMITS), "A-2")

    # Then it is a 422 saying which account it is about
    assert raised.value.status == 422
    assert "A-1" in raised.value.errors[0].detail


def test_an_order_message_on_the_update_route_and_an_invalid_document_are_422() -> None:
    # Given an order message, and a message with no billing profile
    order_xml = siebel_xml.write_order(json.loads(sample_body("synchronize-order.json")), "MSG-4")
    broken = order_xml.replace(b"<BillingProfile>", b"<Nothing>").replace(b"</BillingProfile>", b"</Nothing>")

    # When they are read
    with pytest.raises(Problem) as wrong_kind:
        siebel_xml.read_account_update(parse_untrusted(order_xml, **LIMITS), "SBL-ACC-100")
    with pytest.raises(Problem) as invalid:
        siebel_xml.read_order(parse_untrusted(broken, **LIMITS))

    # Then both are 422s with the reason
    assert wrong_kind.value.status == 422
    assert "UTH Customer Account Update" in wrong_kind.value.detail
    assert invalid.value.status == 422
    assert any("Nothing" in e.detail for e in invalid.value.errors)


def test_siebel_parts_map_to_ccb_parts_in_ccb_codes() -> None:
    # Given a billing account of the sample order
    order = SiebelOrderIn.model_validate_json(sample_body("synchronize-order.json"))
    account = order.lines[0].billingAccount
    parts = {part: getattr(account, part) for part in ("name", "address", "contact", "billingProfile", "statementProfile")}

    # When it is mapped
    change = to_ccb(parts, "#/lines/0/billingAccount", translator())

    # Then every code is CCB's and every part is there
    assert change is not None
    held = change.model_dump(exclude_none=True)
    assert held["person"] == {"name": "Marge Simpson"}
    assert held["account"]["paymentMethod"] == "DD"
    assert held["billRoute"] == {"billRouteType": "EMAIL"}
    assert (held["statement"]["statementFormat"], held["statement"]["billRouteType"]) == ("SUMM", "EMAIL")
    assert (held["addresses"][0]["addressType"], held["addresses"][0]["country"], held["addresses"][0]["state"]) == ("BILL", "USA", "IL")
    assert [(c["contactType"], c["contactName"]) for c in held["contacts"]] == [
        ("PRIMARYEMAIL", "Marge Simpson"),
        ("CELLPHONE", "Marge Simpson"),
    ]


def test_an_update_maps_only_the_parts_it_carries() -> None:
    # Given an update of the statement profile only
    update = AccountUpdateIn.model_validate(
        {"updateId": "U-1", "changedAt": "2026-11-27T10:00:00Z", "statementProfile": {"id": "ST-1", "format": "detailed"}}
    )

    # When it is mapped
    change = to_ccb({"statementProfile": update.statementProfile}, "#", translator())

    # Then only the statement set-up is changed
    assert change is not None
    assert change.model_dump(exclude_none=True) == {
        "statement": {"statementProfileId": "ST-1", "statementFormat": "DETL", "billRouteType": "POSTAL"}
    }


def test_unmapped_values_of_every_part_are_named_together() -> None:
    # Given an account with an unknown address type, phone type and bill route
    order = SiebelOrderIn.model_validate_json(sample_body("synchronize-order.json"))
    account = order.lines[0].billingAccount.model_copy(deep=True)
    account.address.type = "Holiday Home"
    account.contact.phones[0].type = "Pager"  # type: ignore[union-attr]
    account.billingProfile.billRoute = "Carrier Pigeon"
    parts = {part: getattr(account, part) for part in ("name", "address", "contact", "billingProfile", "statementProfile")}
    tr = translator()

    # When it is mapped
    change = to_ccb(parts, "#/lines/0/billingAccount", tr)

    # Then nothing is built, and one 422 names each value
    assert change is None
    with pytest.raises(UnmappedValue) as raised:
        tr.check()
    assert [e.pointer for e in raised.value.errors] == [
        "#/lines/0/billingAccount/address/type",
        "#/lines/0/billingAccount/contact/phones/0/type",
        "#/lines/0/billingAccount/billingProfile/billRoute",
    ]


def test_lines_sharing_a_billing_account_make_one_customer_unless_they_disagree() -> None:
    # Given the sample order (lines 1 and 2 bill to one account), and a copy where line 2's account differs
    order = SiebelOrderIn.model_validate_json(sample_body("synchronize-order.json"))
    disagreeing = order.model_copy(deep=True)
    disagreeing.lines[1].billingAccount.name = "Someone Else"

    # When their billing accounts are collected
    accounts = distinct_billing_accounts(order)
    with pytest.raises(Problem) as raised:
        distinct_billing_accounts(disagreeing)

    # Then the order has two customers, and the disagreement is a 422 at the second line naming the first
    assert list(accounts) == ["SBL-ACC-100", "SBL-ACC-200"]
    assert raised.value.status == 422
    assert raised.value.errors[0].pointer == "#/lines/1/billingAccount"
    assert "line 1" in raised.value.errors[0].detail


def test_an_update_must_carry_something() -> None:
    # Given an update with only its id and time
    # When it is validated
    with pytest.raises(ValueError, match="at least one of name, address, contact, billingProfile, statementProfile"):
        AccountUpdateIn.model_validate({"updateId": "U-1", "changedAt": "2026-11-27T10:00:00Z"})
