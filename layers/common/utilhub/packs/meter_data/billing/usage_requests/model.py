"""The usage requests' statuses, the messages they travel in, and their validation."""

from __future__ import annotations

import hashlib
import zlib
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from utilhub.packs.meter_data.billing.usage import BillDeterminantsIn
from utilhub.packs.meter_data.model import ID
from utilhub.platform import problems
from utilhub.platform.json_input import from_json

INDEX = "ByStatus"
SHARDS = 8
MAX_BATCH = 1000
REQUEUE_AFTER = timedelta(minutes=5)
# an attempt's lease lasts its invocation's remaining time and this margin (clock skew between invocations)
LEASE_MARGIN = timedelta(seconds=30)
LEASE_WITHOUT_CONTEXT = timedelta(seconds=90)
RETENTION = timedelta(days=90)
RESUBMITTED = "resubmitted"


class UsageStatus(StrEnum):
    AWAITING_DATA_SYNC = "AWAITING_DATA_SYNC"
    PENDING = "PENDING"
    SENT = "SENT"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"


INDEXED = (UsageStatus.AWAITING_DATA_SYNC, UsageStatus.PENDING, UsageStatus.SENT)


class UsageRequestIn(BillDeterminantsIn):
    """One usage request of a bill run; ``servicePointIds`` (optional): the SA's service points as CCB
    bills them, checked for pending sync requests besides those MDM was last sent."""

    usageRequestId: str = Field(pattern=ID)
    servicePointIds: list[str] = Field(default_factory=list, max_length=50)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class UsageRequestBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class UsageQueued(BaseModel):
    """The message the worker takes."""

    usageRequestId: str
    correlationId: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _shard(usage_request_id: str) -> int:
    return zlib.crc32(usage_request_id.encode()) % SHARDS


class ConflictingUsageRequest(Exception):
    """The usage request id is already used by a request with other content."""


class NotResubmittable(Exception):
    """Only a usage request in ERROR can be resubmitted."""

    def __init__(self, status: UsageStatus) -> None:
        super().__init__(status.value)
        self.status = status


class AttemptInProgress(RuntimeError):
    """Another attempt holds the request's lease: the queue redelivers the message later."""


def parse_request(raw: Any) -> UsageRequestIn:
    """One validated usage request (a 422 pointing into its body)."""
    try:
        return from_json(UsageRequestIn, raw)
    except ValidationError as exc:
        raise problems.from_validation_error(exc) from None


def parse_requests(raw: Any, root: str = "") -> list[UsageRequestIn]:
    """Validated usage requests from a list of bodies; any invalid one refuses them all (422 pointing into it)."""
    errors: list[problems.FieldError] = []
    parsed: list[UsageRequestIn] = []
    for index, body in enumerate(raw):
        try:
            parsed.append(from_json(UsageRequestIn, body))
        except ValidationError as exc:
            errors.extend(problems.from_validation_error(exc, f"{root}/{index}").errors)
    if errors:
        raise problems.invalid(f"The batch was refused: {len(errors)} field(s) are invalid; nothing was stored.", errors)
    return parsed
