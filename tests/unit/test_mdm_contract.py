"""MDM's own contract for its billing services refuses what MDM would refuse, whatever the hub's models accept."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from localhub.simulators.mdm_contract import BillUsage, UsageAdjustmentRequest

ADJUSTMENT = {
    "adjustmentId": "CSS-ADJ-1",
    "saId": "SA-0001",
    "periodStart": "2026-10-01",
    "periodEnd": "2026-10-31",
    "uom": "kWh",
    "quantity": -42.5,
    "reason": "disputed reading",
}


def test_a_used_on_bill_indicator_that_follows_its_event_is_taken() -> None:
    for event, used in (("BILL_COMPLETED", True), ("SEGMENT_FROZEN", True), ("SEGMENT_CANCELED", False)):
        body = {"eventId": "E1", "usageTransactionId": "UT-1", "usedOnBill": used, "event": event}
        assert BillUsage.model_validate_json(json.dumps(body)).usedOnBill is used


@pytest.mark.parametrize(("event", "used"), [("SEGMENT_CANCELED", True), ("BILL_COMPLETED", False)])
def test_an_indicator_against_its_event_is_refused(event: str, used: bool) -> None:
    body = {"eventId": "E1", "usageTransactionId": "UT-1", "usedOnBill": used, "event": event}
    with pytest.raises(ValidationError, match="means used on bill"):
        BillUsage.model_validate_json(json.dumps(body))


def test_an_adjustment_in_mdms_unit_is_taken() -> None:
    assert UsageAdjustmentRequest.model_validate_json(json.dumps(ADJUSTMENT)).uom == "kWh"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"uom": "KWH"}, "uom"),  # CCB's code, not MDM's
        ({"quantity": 0}, "changes nothing"),
        ({"periodEnd": "2026-09-30"}, "before periodStart"),
        ({"reason": ""}, "reason"),
        ({"unit": "kWh"}, "Extra inputs"),
    ],
)
def test_an_adjustment_mdm_would_refuse_is_refused(change: dict[str, Any], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        UsageAdjustmentRequest.model_validate_json(json.dumps({**ADJUSTMENT, **change}))
