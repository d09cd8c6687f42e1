"""Whether a usage request's SA still waits for its master data to reach MDM."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from utilhub.packs.meter_data.billing.usage_requests.model import UsageRequestIn
from utilhub.syncrequests.store import SyncRequestStore


@dataclass
class DataSyncCheck:
    """Which SAs still have master data on its way to MDM (the meter data sync flow's requests)."""

    store: Callable[[], SyncRequestStore]  # built on first use: the worker never checks

    def blocked(self, requests: Sequence[UsageRequestIn]) -> dict[str, str]:
        """usageRequestId -> why it must wait, for the requests whose SA's data is not synchronized yet."""
        if not requests:
            return {}
        sync = self.store()
        sas = {("SERVICE_AGREEMENT", r.saId) for r in requests}
        sa_states = sync.entity_states(sas)
        last_ids = {s.last_sync_request_id: sa for sa, s in sa_states.items() if s.last_sync_request_id}
        points: dict[str, set[str]] = {sa_id: set() for _, sa_id in sas}
        for request_id, (parents, _) in sync.parents_of_requests(last_ids).items():
            points[last_ids[request_id][1]] |= {p[1] for p in parents if p[0] == "SERVICE_POINT"}
        for request in requests:
            points[request.saId] |= set(request.servicePointIds)
        point_states = sync.entity_states({("SERVICE_POINT", sp) for sps in points.values() for sp in sps})
        # a key lookup per SA and service point (an SP-meter history is looked up under its service point)
        unfinished = sync.open_requests([*sas, *point_states])
        waits: dict[str, str] = {}
        for request in requests:
            entities = [("SERVICE_AGREEMENT", request.saId), *(("SERVICE_POINT", sp) for sp in sorted(points[request.saId]))]
            for entity in entities:
                state = sa_states.get(entity) or point_states.get(entity)
                if entity in unfinished:
                    waits[request.usageRequestId] = f"waits for sync request {unfinished[entity]} of {entity[0]} {entity[1]}"
                    break
                if state is not None and state.last_error_id:
                    waits[request.usageRequestId] = f"waits for sync request {state.last_error_id} of {entity[0]} {entity[1]} (in ERROR)"
                    break
        return waits
