"""CCB's side of MD-11: the bill determinants of a bill run's usage requests.

``POST /bill-determinants`` takes one usage request's determinants (validated against CCB's own contract,
:class:`localhub.simulators.ccb_contract.BillDeterminants`, never the hub's models: the usage request and MDM's
usage transaction, the SA's service type and unit in CCB's codes, one TOTAL determinant that the time-of-use buckets
and any intervals add up to, a period that ends after it starts) and keeps them under the usage request. The same determinants again for a usage request are answered as the first
time and kept once; other determinants for a usage request already billed are refused (409): a bill is
never computed twice. ``received`` counts every delivery per usage request, so a test sees a duplicate.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import ValidationError

from localhub.simulators.base import Reply, Simulator, SimulatorError, json_reply
from localhub.simulators.ccb_contract import BillDeterminants


class BillDeterminantsBook:
    def __init__(self, simulator: Simulator) -> None:
        self._simulator = simulator
        self.received: Counter[str] = Counter()

    def take(self, body: bytes) -> Reply:
        try:
            parsed = BillDeterminants.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid bill determinants: {exc.errors(include_url=False, include_input=False)}") from None
        usage_request_id = parsed.usageRequestId
        key = f"BILL_DETERMINANTS#{usage_request_id}"
        image = parsed.model_dump(mode="json", exclude_none=True)
        self.received[usage_request_id] += 1
        self._simulator.note_received({"operation": "bill-determinants", "id": usage_request_id})
        existing = self._simulator.records.get(key)
        if existing is not None:
            if existing["determinants"] != image:
                return json_reply(409, {"message": f"usage request {usage_request_id} is already billed with other determinants"})
            return json_reply(200, {"usageRequestId": usage_request_id, "billSegmentId": existing["billSegmentId"]})
        if fault := self._simulator.take_fault("reject"):
            return json_reply(422, {"message": fault.reason})
        segment = f"BSEG-{len([k for k in self._simulator.records if k.startswith('BILL_DETERMINANTS#')]) + 1:08d}"
        self._simulator.records[key] = {"usageRequestId": usage_request_id, "billSegmentId": segment, "determinants": image}
        return json_reply(201, {"usageRequestId": usage_request_id, "billSegmentId": segment})

    def state(self) -> dict[str, Any]:
        return {
            "billDeterminantsReceived": sum(self.received.values()),
            "usageRequestsBilled": len(self.received),
            "usageRequestsReceivedTwice": sorted(k for k, n in self.received.items() if n > 1),
        }
