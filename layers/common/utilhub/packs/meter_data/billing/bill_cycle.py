"""MD-19 SA activation bill cycle request (processing detail 2 of Oracle's CCB-MDM integration): while CCB
activates an SA it asks MDM, at once, the bill cycle linked to the SA's service point (MDM keeps the bill
cycle and measurement cycle relationship from the bill cycle schedules CCB synchronizes, MD-18). One call
within the route's time budget: MDM not holding the SA or the service point is a 404, MDM answering an error
a 502, not answering in time a 504.

MD-20, the other direction (MDM's change of that relationship, to CCB), is a relay: ``billing_relays``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from utilhub.packs.meter_data.billing.events import BillCycleAnswer, BillCycleRequestIn
from utilhub.packs.meter_data.wiring import connector_for
from utilhub.platform.budget import TimeBudget, bad_gateway


def request_bill_cycle(request: BillCycleRequestIn) -> dict[str, Any]:
    answer = TimeBudget().json_call(connector_for("MDM"), "POST", "bill-cycle-requests", request.model_dump(mode="json"))
    try:
        bill_cycle = BillCycleAnswer.model_validate(answer)
    except ValidationError as exc:
        raise bad_gateway("MDM", f"answered an unreadable bill cycle ({exc.error_count()} errors)") from None
    return {"saId": request.saId, "servicePointId": request.servicePointId, "billCycle": bill_cycle.billCycle}
