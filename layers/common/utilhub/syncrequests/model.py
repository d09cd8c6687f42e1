"""Messages and records of the sync request engine (pydantic v2)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from utilhub.platform.settings import Settings

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"


class SyncStatus(StrEnum):
    PENDING = "PENDING"
    # held by the monitor until the entities it depends on are synchronized (``waitingFor``)
    WAITING = "WAITING"
    DISCARDED = "DISCARDED"
    SENT = "SENT"
    SYNCHRONIZED = "SYNCHRONIZED"
    ERROR = "ERROR"


TERMINAL = frozenset({SyncStatus.DISCARDED, SyncStatus.SYNCHRONIZED})


class SyncRequestIn(BaseModel):
    """What a source posts: the contract of ``POST /<pack>/sync-requests``."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    syncRequestId: str = Field(pattern=ID_PATTERN)
    entityType: str = Field(min_length=1, max_length=40)
    entityId: str = Field(pattern=ID_PATTERN)
    changedAt: AwareDatetime
    data: dict[str, Any]

    @field_validator("changedAt")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        # also keeps the conversion to UTC (for ordering) from overflowing at the calendar's ends
        if not 1970 <= value.year <= 9998:
            raise ValueError("must be between the years 1970 and 9998")
        return value


class SyncRequestBatchIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    requests: list[dict[str, Any]] = Field(min_length=1, max_length=100)


class Transition(BaseModel):
    status: SyncStatus
    at: datetime
    reason: str


class SyncRequest(BaseModel):
    """A stored sync request."""

    flow: str
    syncRequestId: str
    entityType: str
    entityId: str
    changedAt: datetime
    data: dict[str, Any]
    dataHash: str
    requestHash: str
    status: SyncStatus
    attempt: int = 0
    correlationId: str
    history: list[Transition]
    waitingFor: str | None = None  # "<entityType>#<entityId>" of the parent a WAITING request waits for
    timeouts: int = 0  # how many of its attempts timed out since it was received or last resubmitted
    timedOut: bool = False  # ERROR because no acknowledgement came in time (a late positive one still completes it)

    def public(self) -> dict[str, Any]:
        """The contract of ``GET /<pack>/sync-requests/{id}``."""
        waiting: dict[str, Any] = {}
        if self.status is SyncStatus.WAITING and self.waitingFor:
            entity_type, _, entity_id = self.waitingFor.partition("#")
            reason = self.history[-1].reason if self.history else ""
            waiting = {"waitingFor": {"entityType": entity_type, "entityId": entity_id, "reason": reason}}
        return {
            "syncRequestId": self.syncRequestId,
            "status": self.status.value,
            "entityType": self.entityType,
            "entityId": self.entityId,
            "changedAt": self.changedAt.isoformat(),
            "attempt": self.attempt,
            "history": [{"status": t.status.value, "at": t.at.isoformat(), "reason": t.reason} for t in self.history],
            **waiting,
        }


class DeliveryMessage(BaseModel):
    """The SQS message the monitor queues for delivery: ids only, the data stays in the table."""

    model_config = ConfigDict(extra="forbid")

    flow: str
    syncRequestId: str
    attempt: int = Field(ge=1)
    correlationId: str


class Acknowledgement(BaseModel):
    """A target's answer to a sync request: positive, negative, or accepted (an answer follows)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    result: Literal["POSITIVE", "NEGATIVE", "ACCEPTED"]
    reason: str | None = Field(default=None, max_length=2000)
    targetId: str | None = Field(default=None, max_length=128)


class AcknowledgementIn(BaseModel):
    """The body a target posts to ``/<pack>/sync-requests/{id}/acknowledgement``."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    result: Literal["POSITIVE", "NEGATIVE"]
    reason: str | None = Field(default=None, max_length=2000)
    targetId: str | None = Field(default=None, max_length=128)


def canonical_json(value: Any) -> str:
    """One text for one JSON value: key order and spacing do not matter."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class TargetCodec(Protocol):
    """How a flow speaks to its target: render a request, read the acknowledgement."""

    content_type: str
    schema: str

    def path(self, request: SyncRequest) -> str: ...

    def render(self, request: SyncRequest, correlation_id: str) -> bytes: ...

    def read_acknowledgement(self, body: bytes) -> Acknowledgement: ...


class SourceCodec(Protocol):
    """How a flow reads the source's own XML format into the JSON contract."""

    schema: str

    def read_request(self, root: Any) -> dict[str, Any]: ...

    def read_batch(self, root: Any) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class DataRefusal:
    """Why valid data is still not taken: the data field it is about and the reason."""

    field: str
    reason: str


EntityRef = tuple[str, str]  # (entityType, entityId)


def _no_parents(_data: Mapping[str, Any]) -> Sequence[EntityRef]:
    return ()


@dataclass(frozen=True)
class EntitySpec:
    """One entity type a flow synchronizes: its data model, when it is enabled, what valid data it
    still refuses (a business rule of the flow, answered as a 422 on that field), and the entities
    its requests depend on (``parents``, read from the request's data): a request is sent only once
    the target holds each of them. ``open_under`` (optional): the entity an open request of this type is
    looked up under instead of its own (an SP-meter history under its service point), read from its data."""

    entity_type: str
    data_model: type[BaseModel]
    integration_point: str
    disabled_reason: Callable[[Settings], str | None] = lambda _settings: None
    refusal: Callable[[BaseModel], DataRefusal | None] = lambda _data: None
    parents: Callable[[Mapping[str, Any]], Sequence[EntityRef]] = _no_parents
    open_under: Callable[[Mapping[str, Any]], EntityRef] | None = None

    @property
    def ordered(self) -> bool:
        """Whether requests of this type can depend on other entities."""
        return self.parents is not _no_parents


@dataclass(frozen=True, eq=False)
class SyncFlow:
    """A source -> target sync flow: the unit the engine is configured with."""

    name: str
    source: str
    target: str
    entities: Mapping[str, EntitySpec]
    target_codec: TargetCodec
    source_codec: SourceCodec | None = None
    xref_entity: Mapping[str, str] = field(default_factory=dict)

    def spec(self, entity_type: str) -> EntitySpec | None:
        return self.entities.get(entity_type)

    def point_of(self, entity_type: str) -> str:
        """The integration point a request of ``entity_type`` is a transaction of (the flow's name for a type it lacks)."""
        spec = self.entities.get(entity_type)
        return spec.integration_point if spec is not None else self.name

    def parents_of(self, entity_type: str, data: Mapping[str, Any]) -> list[EntityRef]:
        """The entities a request's data depends on, each once, in the order the spec lists them."""
        spec = self.entities.get(entity_type)
        return list(dict.fromkeys(spec.parents(data))) if spec is not None else []

    def open_under(self, entity_type: str, entity_id: str, data: Mapping[str, Any]) -> EntityRef:
        """The entity an open request is looked up under: its own, unless its spec names another."""
        spec = self.entities.get(entity_type)
        return spec.open_under(data) if spec is not None and spec.open_under is not None else (entity_type, entity_id)

    @property
    def ordered_types(self) -> frozenset[str]:
        return frozenset(t for t, spec in self.entities.items() if spec.ordered)
