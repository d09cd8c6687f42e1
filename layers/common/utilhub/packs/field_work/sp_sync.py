"""FW-06 service point synchronization, CCB -> WAM (model v1.9) or ODM (model v2.1): a flow of the
sync request engine, and the entry points of its monitor and delivery handlers. Its HTTP API is in
:mod:`utilhub.packs.field_work.sp_sync_api`, so the monitor and the delivery never import the resolver.

CCB posts each change of a service point as a sync request (JSON, or CCB's XML sync request with a
``ServicePoint`` element), under ``/field-work/sync-requests``. The engine keeps it (``PENDING``), its
monitor sends one request per service point at a time, oldest first, discarding an image the target
already holds, and the delivery posts it to the asset system of the implementation model
(``UTILHUB_FIELD_WORK_MODEL``) as JSON; the answer is the acknowledgement (``SYNCHRONIZED`` with the
target's id, cross-referenced to CCB's; ``ERROR`` with the reason), a target down is retried by the
queue, and an ``ERROR`` request is resubmitted through the engine's route.

Both implementation models share the flow's name, so a request's status and history do not depend on
the model; only the target (and its codes) does. CCB's SP type is translated through the domain value
map ``ServicePointType``: a type with no value for the model's asset system is a 422 at intake, never
a request that can only fail later.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import BaseModel, ValidationError

from utilhub.packs.field_work.model import FieldServicePointData, ServicePointSyncAnswer, ServicePointSyncOut
from utilhub.packs.field_work.routing import ASSET_SYSTEM
from utilhub.platform import problems
from utilhub.platform.dvm import domain_value_maps, unmapped
from utilhub.platform.settings import get_settings
from utilhub.syncrequests import handlers
from utilhub.syncrequests.ccb_xml import CcbSyncRequestXml
from utilhub.syncrequests.model import Acknowledgement, DataRefusal, EntitySpec, SyncFlow, SyncRequest

SCOPE = "utilhub/field-work-ccb"  # what CCB sends to WAM/ODM
ACK_SCOPE = "utilhub/field-work-ack"  # WAM's or ODM's acknowledgements
PREFIX = "/field-work"
FLOW_NAME = "field-work"
SERVICE_POINT_TYPES = "ServicePointType"


def unmapped_sp_type(target: str, data: BaseModel) -> DataRefusal | None:
    """A CCB SP type the asset system has no code for: refused at intake (a business rule of the flow)."""
    sp_type = str(getattr(data, "spType", ""))
    if domain_value_maps().lookup(SERVICE_POINT_TYPES, sp_type, source="CCB", target=target) is not None:
        return None
    error = unmapped(SERVICE_POINT_TYPES, sp_type, source="CCB", target=target, pointer="#/data/spType")
    return DataRefusal("spType", error.detail)


class AssetServicePointJson:
    """The target codec: a CCB service point as WAM or ODM takes it, and their answer read back."""

    content_type = "application/json"
    schema = ""  # JSON both ways: no XSD

    def __init__(self, target: str) -> None:
        self.target = target

    def path(self, request: SyncRequest) -> str:
        return "/service-points"

    def render(self, request: SyncRequest, correlation_id: str) -> bytes:
        """The message for the target; a code the map no longer translates (an override changed it since
        intake) raises the map's 422, which the engine records as the request's ERROR."""
        data = FieldServicePointData.model_validate(request.data)
        code = domain_value_maps().translate(SERVICE_POINT_TYPES, data.spType, source="CCB", target=self.target, pointer="#/data/spType")
        message = ServicePointSyncOut(
            syncRequestId=request.syncRequestId,
            externalId=request.entityId,
            changedAt=request.changedAt,
            premiseId=data.premiseId,
            servicePointType=code,
            address=data.address,
            timeZone=data.timeZone,
            latitude=data.latitude,
            longitude=data.longitude,
        )
        return message.model_dump_json(exclude_none=True).encode("utf-8")

    def read_acknowledgement(self, body: bytes) -> Acknowledgement:
        try:
            answer = ServicePointSyncAnswer.model_validate_json(body)
        except ValidationError:
            raise problems.invalid(f"{self.target}'s answer to a service point sync is not {{result, targetId, reason}}.") from None
        return Acknowledgement(result=answer.result, reason=answer.reason, targetId=answer.targetId)


def _flow(target: str) -> SyncFlow:
    return SyncFlow(
        name=FLOW_NAME,
        source="CCB",
        target=target,
        entities={
            "SERVICE_POINT": EntitySpec("SERVICE_POINT", FieldServicePointData, "FW-06", refusal=partial(unmapped_sp_type, target)),
        },
        target_codec=AssetServicePointJson(target),
        source_codec=CcbSyncRequestXml(),
        # CCB service point <-> WAM / ODM service point
        xref_entity={"SERVICE_POINT": "SERVICE_POINT"},
    )


# One flow per implementation model: the same entity types and intake, each with its asset system as the target.
FLOWS: dict[str, SyncFlow] = {model: _flow(system) for model, system in ASSET_SYSTEM.items()}


def active_flow() -> SyncFlow:
    """The flow of this deployment's implementation model (``UTILHUB_FIELD_WORK_MODEL``)."""
    return FLOWS[get_settings().field_work_model]


def run_monitor(event: dict[str, Any] | None = None) -> dict[str, int]:
    return handlers.run_monitor(active_flow(), event)


def deliver_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handlers.deliver_batch(active_flow(), event, context)
