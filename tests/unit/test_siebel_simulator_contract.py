"""The Siebel simulator keeps accounts by Siebel's own contract (``localhub/simulators/siebel_contract.py``): values
outside Siebel's lists of values and its column lengths are refused, and the integration objects it sends are
written from the XSD and valid against it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from lxml import etree

from localhub.simulators.base import SimulatorError
from localhub.simulators.siebel import SiebelSimulator
from localhub.simulators.siebel_contract import write_order

ACCOUNT: dict[str, Any] = {
    "name": "Ada Lovelace",
    "address": {"line1": "12 Analytical Row", "city": "Springfield", "state": "IL", "postalCode": "62701", "country": "USA"},
    "contact": {"lastName": "Lovelace", "phones": [{"type": "Home Phone", "number": "+1 217 555 0101"}]},
    "billingProfile": {"id": "BP-1", "paymentMethod": "Direct Debit", "billRoute": "Email"},
}


def put(siebel: SiebelSimulator, account: dict[str, Any]) -> int:
    return siebel.handle("PUT", "/accounts/A-1", json.dumps(account).encode(), {}).status


def test_an_account_within_siebels_contract_is_kept_as_a_prospect() -> None:
    siebel = SiebelSimulator()
    assert put(siebel, ACCOUNT) == 201
    assert siebel.records["ACCOUNT#A-1"]["billingProfile"]["paymentMethod"] == "Direct Debit"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"billingProfile": {"id": "BP-1", "paymentMethod": "DIRECT_DEBIT"}}, "paymentMethod"),  # the hub's code, not Siebel's LOV
        ({"billingProfile": {"id": "BP-1", "billRoute": "Pigeon"}}, "billRoute"),
        ({"address": {**ACCOUNT["address"], "state": "Illinois State"}}, "state"),  # longer than Siebel's STATE column
        ({"contact": {"lastName": "L", "phones": [{"type": "Pager", "number": "1234"}]}}, "type"),
        ({"statementProfile": {"id": "ST-1", "format": "Verbose"}}, "format"),
    ],
)
def test_values_outside_siebels_lists_and_columns_are_refused(change: dict[str, Any], field: str) -> None:
    with pytest.raises(SimulatorError, match=field):
        put(SiebelSimulator(), {**ACCOUNT, **change})


def test_the_order_it_sends_is_siebels_integration_object_valid_against_the_xsd() -> None:
    xml = write_order({"orderId": "SO-1", "lines": [{"lineId": "1", "billingAccount": {"id": "A-1", **ACCOUNT}}]}, "MSG-1")
    root = etree.fromstring(xml)
    ns = {"s": "urn:utilhub:siebel:customer:v1"}
    assert root.get("IntObjectName") == "UTH Customer Order"
    assert (
        root.findtext("s:ListOfOrder/s:Order/s:ListOfOrderItem/s:OrderItem/s:BillingAccount/s:Address/s:City", namespaces=ns)
        == "Springfield"
    )
    phone = root.find(".//s:ListOfPhone/s:Phone", ns)
    assert phone is not None
    assert (phone.get("Type"), phone.text) == ("Home Phone", "+1 217 555 0101")
