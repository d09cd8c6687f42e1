"""The component schemas the sync request routes answer with and the per-flow request schemas they take
(:mod:`utilhub.syncrequests.api` declares the routes)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from utilhub.platform.api_docs import JsonSchemaMode, ref
from utilhub.syncrequests.model import AcknowledgementIn, SyncFlow, SyncRequestBatchIn, SyncRequestIn, Transition


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_ ]", name) if part)


def request_schema_names(flow: SyncFlow) -> tuple[str, str]:
    """The component names of ``flow``'s request and batch: ``MeterDataSyncRequest``, ``MeterDataSyncRequestBatch``."""
    flow_name = _camel(flow.name)
    return f"{flow_name}SyncRequest", f"{flow_name}SyncRequestBatch"


def models(flow: SyncFlow) -> tuple[tuple[type[BaseModel], JsonSchemaMode], ...]:
    return (
        (SyncRequestIn, "validation"),
        (SyncRequestBatchIn, "validation"),
        (AcknowledgementIn, "validation"),
        *((spec.data_model, "validation") for spec in flow.entities.values()),
        (Transition, "serialization"),
    )


def schemas(flow: SyncFlow) -> dict[str, dict[str, Any]]:
    request_schema, batch_schema = request_schema_names(flow)
    entity_list = ", ".join(flow.entities)
    return {
        request_schema: {
            "title": f"{flow.name} sync request",
            "description": (
                f"A change of one {flow.source} entity to synchronize to {flow.target}. `entityType` is one of {entity_list}; "
                "`data` follows that entity type's data model (`x-entity-types` names it). Unknown `data` fields are kept. "
                "An installation may refuse some entity types by configuration (422)."
            ),
            "allOf": [ref(SyncRequestIn)],
            "oneOf": [
                {
                    "title": f"{entity_type} ({spec.integration_point})",
                    "type": "object",
                    "required": ["entityType", "data"],
                    "properties": {"entityType": {"const": entity_type}, "data": ref(spec.data_model)},
                }
                for entity_type, spec in flow.entities.items()
            ],
            "x-entity-types": {
                entity_type: {"integrationPoint": spec.integration_point, "dataSchema": ref(spec.data_model)["$ref"]}
                for entity_type, spec in flow.entities.items()
            },
        },
        batch_schema: {
            "title": f"{flow.name} sync request batch",
            "description": f"Up to 100 {flow.name} sync requests, validated together.",
            "allOf": [ref(SyncRequestBatchIn)],
            "properties": {"requests": {"items": ref(request_schema)}},
        },
        "SyncRequestState": {
            "type": "object",
            "required": ["syncRequestId", "status"],
            "properties": {"syncRequestId": {"type": "string"}, "status": ref("SyncStatus")},
        },
        "SyncRequestView": {
            "type": "object",
            "description": "A stored sync request and the history of its status.",
            "required": ["syncRequestId", "status", "entityType", "entityId", "changedAt", "attempt", "history"],
            "properties": {
                "syncRequestId": {"type": "string"},
                "status": ref("SyncStatus"),
                "entityType": {"type": "string"},
                "entityId": {"type": "string"},
                "changedAt": {"type": "string", "format": "date-time"},
                "attempt": {"type": "integer", "minimum": 0, "description": "Delivery attempts so far."},
                "history": {"type": "array", "items": ref(Transition)},
                "waitingFor": {
                    "type": "object",
                    "description": (
                        "Only while WAITING: the entity the request depends on that the target does not hold yet "
                        "(or whose last request is in ERROR), and why. The request goes out by itself once it is synchronized."
                    ),
                    "required": ["entityType", "entityId", "reason"],
                    "properties": {"entityType": {"type": "string"}, "entityId": {"type": "string"}, "reason": {"type": "string"}},
                },
            },
        },
        "SyncRequestBatchResult": {
            "type": "object",
            "required": ["syncRequestId", "status"],
            "properties": {
                "syncRequestId": {"type": "string"},
                "status": {
                    "description": "The request's status, or CONFLICT when its id was already used for another request.",
                    "anyOf": [ref("SyncStatus"), {"const": "CONFLICT"}],
                },
                "created": {"type": "boolean", "description": "False when the same request had been received before."},
                "detail": {"type": "string", "description": "Why the request was not taken (CONFLICT only)."},
            },
        },
        "SyncRequestBatchAccepted": {
            "type": "object",
            "required": ["accepted", "results"],
            "properties": {
                "accepted": {"type": "integer", "minimum": 0, "description": "How many requests were new."},
                "results": {
                    "type": "array",
                    "items": ref("SyncRequestBatchResult"),
                    "description": "One result per request, in order.",
                },
            },
        },
    }
