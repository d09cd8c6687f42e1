"""CCB's own contract refuses what CCB would refuse, whatever the hub's models accept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from localhub.simulators.ccb_contract import BillableCompletionIn, BillDeterminants, CcbCustomerIn, OffCycleBillRequest

DETERMINANTS: list[dict[str, Any]] = [
    {"uom": "KWH", "touPeriod": "TOTAL", "quantity": 10.3},
    {"uom": "KWH", "touPeriod": "ON_PEAK", "quantity": 5.1},
    {"uom": "KWH", "touPeriod": "SHOULDER", "quantity": 2.1},
    {"uom": "KWH", "touPeriod": "OFF_PEAK", "quantity": 3.1},
    {"uom": "KW", "touPeriod": "PEAK", "quantity": 2.5},
]
ELECTRIC: dict[str, Any] = {
    "usageRequestId": "UR-1",
    "saId": "SA-0001",
    "usageTransactionId": "UT-1",
    "periodStart": "2026-10-01",
    "periodEnd": "2026-10-31",
    "serviceType": "E",
    "uom": "KWH",
    "determinants": DETERMINANTS,
    "peakDemandKw": 2.5,
    "intervals": [{"start": "2026-10-01T00:00:00Z", "quantity": 10.3, "kwh": 10.3}],
}
GAS = {**ELECTRIC, "serviceType": "G", "uom": "THERM", "determinants": [{"uom": "THERM", "touPeriod": "TOTAL", "quantity": 7}]}
GAS.pop("peakDemandKw")
GAS.pop("intervals")


def parse(body: dict[str, Any]) -> BillDeterminants:
    return BillDeterminants.model_validate_json(json.dumps(body))


def test_determinants_in_ccbs_codes_that_add_up_are_taken() -> None:
    assert (parse(ELECTRIC).serviceType, parse(GAS).uom) == ("E", "THERM")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({**ELECTRIC, "serviceType": "ELECTRIC"}, "serviceType"),  # the hub's code, not CCB's
        ({**GAS, "uom": "KWH"}, "is not billed in KWH"),
        ({**GAS, "peakDemandKw": 1.0}, "no time-of-use buckets or demand"),
        ({**ELECTRIC, "determinants": DETERMINANTS[1:]}, "one TOTAL"),
        ({**ELECTRIC, "intervals": [{"start": "2026-10-01T00:00:00Z", "quantity": 1}]}, "intervals do not add up"),
        ({**ELECTRIC, "periodEnd": "2026-10-01"}, "ends before it starts"),
        ({k: v for k, v in ELECTRIC.items() if k != "usageTransactionId"}, "usageTransactionId"),
        ({**ELECTRIC, "intervalCount": 1}, "Extra inputs"),
    ],
)
def test_determinants_ccb_would_refuse_are_refused(body: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        parse(body)


def test_an_off_cycle_bill_request_names_its_source_and_a_period_in_order() -> None:
    body: dict[str, Any] = {
        "requestId": "MDM-RR-1",
        "saId": "SA-0001",
        "usageTransactionId": "UT-1",
        "periodStart": "2026-10-01",
        "periodEnd": "2026-10-31",
        "source": "MDM_REPLACEMENT_READS",
    }
    assert OffCycleBillRequest.model_validate_json(json.dumps(body)).requestId == "MDM-RR-1"
    for bad, why in (({"source": None}, "source"), ({"periodEnd": "2026-09-30"}, "ends before it starts")):
        with pytest.raises(ValidationError, match=why):
            OffCycleBillRequest.model_validate_json(json.dumps({**body, **bad}))


def test_billable_charges_need_a_positive_amount_in_a_currency() -> None:
    body: dict[str, Any] = {
        "completionId": "C-1",
        "sourceSystem": "ODM",
        "workOrderId": "WO-1",
        "servicePointId": "SP-0001",
        "completedAt": "2026-11-20T08:00:00Z",
        "charges": [{"chargeType": "METER-TEST", "amount": 45.0, "currency": "USD"}],
    }
    assert BillableCompletionIn.model_validate_json(json.dumps(body)).sourceSystem == "ODM"
    refused: list[dict[str, Any]] = [
        {"charges": []},
        {"sourceSystem": "MWM"},
        {"charges": [{"chargeType": "METER-TEST", "amount": 0, "currency": "USD"}]},
    ]
    for bad in refused:
        with pytest.raises(ValidationError):
            BillableCompletionIn.model_validate_json(json.dumps({**body, **bad}))


def test_a_new_customer_has_an_address_and_its_account_a_billing_profile() -> None:
    body: dict[str, Any] = {
        "siebelAccountId": "1-XYZ",
        "person": {"name": "Ada Lovelace"},
        "account": {"paymentMethod": "INV", "billingProfileId": "1-XYZ-BP"},
        "addresses": [{"addressType": "BILL", "address1": "1 Analytical Row", "city": "London", "country": "GBR"}],
        "billRoute": {"billRouteType": "POSTAL"},
    }
    assert CcbCustomerIn.model_validate_json(json.dumps(body)).addresses[0].country == "GBR"
    refused: list[dict[str, Any]] = [
        {"addresses": []},
        {"account": {"paymentMethod": "INV"}},
        {"account": {**body["account"], "billCycleDay": 31}},
    ]
    for bad in refused:
        with pytest.raises(ValidationError):
            CcbCustomerIn.model_validate_json(json.dumps({**body, **bad}))
