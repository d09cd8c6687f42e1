"""The field systems' own contract for what the hub sends them, written for the simulators from the field systems'
documented interfaces (seed 000: Oracle Utilities Field Work — MWM, WAM v1.9.x service requests, WAM/ODM v2.1.x
field activities — and CCB's field activity services), never from the hub's models.

- A field activity as a system's activity service takes it (``POST /activities``): the external id it is filed
  under (``<source system>:<source id>``, the cross-reference the system keeps), the activity's type, service point,
  scheduled date, priority (the systems' four priority codes), meter, description and the customer to meet.
- An event of the activity's life (``POST /activities/{id}/events``): an update names only fields the activity has
  (scheduled date, priority, description, customer), a cancellation its reason, a completion its readings, remarks
  and attachments; an attachment reaches the system as a file it can fetch (its name, type, size and a download
  URL), never as a bare id, since the file itself never travels in the message (FW-07).
- An appointment booking at MWM (FW-03): a window that ends after it starts.
- A meter validation (FW-04, CCB under v1.9, ODM under v2.1): a removal names the service point the meter is to
  leave, since the system cannot answer it otherwise.
- A service point from CCB (FW-06, WAM and ODM): filed under CCB's id, its premise and the system's own service
  point type; a time zone the system knows (IANA); a location with both coordinates or none.

Every model refuses a member the system does not have, and every time carries its offset, so a hub that maps a field
to a name the system does not know, leaves out what it requires or sends what it cannot take is refused here as the
system would refuse it. A crew's report (``CrewReport``) is the system's own outbound message to the hub.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

System = Literal["CCB", "MWM", "WAM", "ODM"]
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")]
ActivityType = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9\-]{0,39}$")]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^[0-9+()\-. x]+$")]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Customer(_Message):
    name: Annotated[str, StringConstraints(min_length=1, max_length=254)]
    phone: Phone | None = None


class OwnActivity(_Message):
    """A field activity a system created itself, as its outbound message carries it to the hub."""

    sourceSystem: System
    activityId: Id
    activityType: ActivityType
    servicePointId: Id
    scheduledDate: date | None = None
    priority: Literal["LOW", "NORMAL", "HIGH", "EMERGENCY"] = "NORMAL"
    meterId: Id | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    customer: Customer | None = None


class FieldActivity(OwnActivity):
    """A field activity created from another system, filed under ``externalId``: every field the system keeps is given."""

    externalId: Annotated[str, StringConstraints(min_length=5, max_length=69)]
    priority: Literal["LOW", "NORMAL", "HIGH", "EMERGENCY"]

    @model_validator(mode="after")
    def _filed_under_its_source(self) -> FieldActivity:
        if self.externalId != f"{self.sourceSystem}:{self.activityId}":
            raise ValueError(f"externalId {self.externalId} does not name the activity's source and id")
        return self


class Reading(_Message):
    registerId: Id
    value: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    readAt: AwareDatetime


class Attachment(_Message):
    """A file of a completion, as the receiving system fetches it: by its download URL."""

    attachmentId: Id
    fileName: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    contentType: Annotated[str, StringConstraints(pattern=r"^[\w.+\-]+/[\w.+\-]+$", max_length=100)]
    sizeBytes: Annotated[int, Field(ge=1)]
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=4000)]


class ActivityChanges(_Message):
    """An update's changed fields: only those the activity has."""

    scheduledDate: date | None = None
    priority: Literal["LOW", "NORMAL", "HIGH", "EMERGENCY"] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    customer: Customer | None = None


class ActivityEvent(_Message):
    """An update, cancellation or completion of an activity the system keeps."""

    eventId: Id
    event: Literal["UPDATE", "CANCEL", "COMPLETE"]
    at: AwareDatetime
    fromSystem: System | None = None
    changes: ActivityChanges | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    readings: list[Reading] = Field(default_factory=list, max_length=50)
    remarks: Annotated[str, StringConstraints(max_length=4000)] | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _parts_of_its_kind(self) -> ActivityEvent:
        if self.event == "UPDATE" and self.changes is None:
            raise ValueError("an UPDATE names the fields that changed")
        if self.event != "UPDATE" and self.changes is not None:
            raise ValueError(f"a {self.event} changes no field")
        if self.event != "COMPLETE" and (self.readings or self.remarks is not None or self.attachments):
            raise ValueError("readings, remarks and attachments come with a COMPLETE only")
        if self.event != "CANCEL" and self.reason is not None:
            raise ValueError("a reason comes with a CANCEL only")
        return self

    def changed(self) -> dict[str, Any]:
        """The fields an UPDATE changed, as given."""
        return self.changes.model_dump(mode="json", exclude_unset=True) if self.changes else {}


class ReportedAttachment(_Message):
    """An attachment a crew uploaded to the hub, named by the id the hub gave it."""

    attachmentId: Id


class CrewReport(_Message):
    """What a field system sends the hub when a crew reports an event there (its outbound message)."""

    eventId: Id
    event: Literal["UPDATE", "CANCEL", "COMPLETE"]
    at: AwareDatetime
    fromSystem: System
    changes: ActivityChanges | None = None
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    readings: list[Reading] = Field(default_factory=list, max_length=50)
    remarks: Annotated[str, StringConstraints(max_length=4000)] | None = None
    attachments: list[ReportedAttachment] = Field(default_factory=list, max_length=20)

    def changed(self) -> dict[str, Any]:
        """The fields an UPDATE changed, as given."""
        return self.changes.model_dump(mode="json", exclude_unset=True) if self.changes else {}


class Window(_Message):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Window:
        if self.end <= self.start:
            raise ValueError("a window ends after it starts")
        return self


class AppointmentBooking(_Message):
    """MWM's appointment booking (FW-03), under the id CCB gave the appointment."""

    appointmentId: Id
    activityId: Id
    servicePointId: Id
    activityType: ActivityType
    window: Window


class MeterValidation(_Message):
    """CCB's (v1.9) or ODM's (v2.1) meter validation (FW-04)."""

    badgeNumber: Id
    purpose: Literal["INSTALL", "REMOVE"]
    servicePointId: Id | None = None

    @model_validator(mode="after")
    def _removal_names_its_service_point(self) -> MeterValidation:
        if self.purpose == "REMOVE" and self.servicePointId is None:
            raise ValueError("a removal names the service point the meter leaves")
        return self


class Address(_Message):
    line1: Annotated[str, StringConstraints(max_length=254)] | None = None
    line2: Annotated[str, StringConstraints(max_length=254)] | None = None
    city: Annotated[str, StringConstraints(max_length=90)] | None = None
    state: Annotated[str, StringConstraints(max_length=30)] | None = None
    postalCode: Annotated[str, StringConstraints(max_length=12)] | None = None
    country: Annotated[str, StringConstraints(min_length=2, max_length=3)] | None = None


class ServicePoint(_Message):
    """CCB's service point as WAM (v1.9) or ODM (v2.1) files it (FW-06)."""

    syncRequestId: Id
    externalSystem: Literal["CCB"]
    externalId: Id
    changedAt: AwareDatetime
    premiseId: Id
    servicePointType: Annotated[str, StringConstraints(min_length=1, max_length=30)]
    address: Address | None = None
    timeZone: Annotated[str, StringConstraints(max_length=64)] | None = None
    latitude: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)] | None = None

    @field_validator("timeZone")
    @classmethod
    def _known_time_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value} is not a time zone") from None
        return value

    @model_validator(mode="after")
    def _whole_location(self) -> ServicePoint:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("a location has both latitude and longitude, or neither")
        return self
