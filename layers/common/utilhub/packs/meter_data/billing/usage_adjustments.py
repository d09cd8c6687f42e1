"""MD-17 usage adjustment request (customer self-service processes): a quantity added to or taken
from an SA's usage over a period, asked of MDM while the self-service user waits. Oracle's CCB-MDM integration
lists it among the synchronous processes, and it only applies where Customer Self Service is installed.

The call changes something at MDM, so it is made once within the route's time budget (never retried by the
hub); MDM makes one usage transaction per ``adjustmentId`` and answers the same one again for the same id, so
the caller's retry after a 504 is safe. MDM not holding the SA is a 404, an error a 502, no answer in time a 504.
MDM takes and answers the unit in its own code (the ``UnitOfMeasure`` domain value map): a unit with no MDM code is a
422 naming ``uom``, and MDM is not called.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from utilhub.packs.meter_data.billing.events import UsageAdjustment, UsageAdjustmentIn
from utilhub.packs.meter_data.billing.usage import UOM_MAP, UnusableAnswer, from_mdm
from utilhub.packs.meter_data.wiring import connector_for
from utilhub.platform import problems
from utilhub.platform.budget import TimeBudget, bad_gateway
from utilhub.platform.dvm import COMMON, domain_value_maps


def request_usage_adjustment(request: UsageAdjustmentIn) -> dict[str, Any]:
    body = request.model_dump(mode="json", exclude_none=True)
    body["uom"] = domain_value_maps().translate(UOM_MAP, request.uom, source=COMMON, target="MDM", pointer="#/uom")
    answer = TimeBudget().json_call(connector_for("MDM"), "POST", "usage-adjustments", body, absent_on=409)
    if answer is None:
        raise problems.conflict(f"MDM already made adjustment {request.adjustmentId} with other values.")
    try:
        adjustment = UsageAdjustment.model_validate(from_mdm(answer))
    except ValidationError as exc:
        raise bad_gateway("MDM", f"answered an unreadable usage adjustment ({exc.error_count()} errors)") from None
    except UnusableAnswer as exc:
        raise bad_gateway("MDM", f"answered a usage adjustment the hub cannot pass on: {exc}") from None
    if adjustment.adjustmentId != request.adjustmentId or adjustment.saId != request.saId:
        raise bad_gateway("MDM", f"answered adjustment {adjustment.adjustmentId} of SA {adjustment.saId} to {request.adjustmentId}")
    return adjustment.model_dump(mode="json")
