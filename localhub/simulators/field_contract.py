"""The field systems' own contract for what the hub sends them, written for the simulators from the field systems'
documented interfaces (seed 000: Oracle Utilities Field Work — MWM, WAM v1.9.x service requests, WAM/ODM v2.1.x
field activities — and CCB's field activity services), never from the hub's models.

- A field activity as a system's activity service takes it (``POST /activities``), in that system's own shape
  (:data:`ACTIVITY_SHAPES`): MWM's (and CCB's) activity filed under an external id (``<source system>:<source id>``,
  the cross-reference the system keeps) with its type, service point, scheduled date, priority, meter, description
  and customer; WAM v1.9's service request (``ServiceRequest``: request type, WAM's service point, date required,
  priority code, meter badge, problem description, requestor); WAM/ODM v2.1's field activity (``OdmFieldActivity``:
  field activity type, ODM's service point, scheduled date, priority, device badge number, instructions, customer
  contact). Each refuses another system's shape.
- An event of the activity's life (``POST /activities/{id}/events``): an update names only fields the activity has
  (scheduled date, priority, description, customer), a cancellation its reason, a completion its readings, remarks
  and attachments; an attachment reaches the system as a file it can fetch (its name, type, size and a download
  URL), never as a bare id, since the file itself never travels in the message (FW-07).
- An appointment booking at MWM (FW-03): a window that ends after it starts.
- A meter validation (FW-04, CCB under v1.9, ODM under v2.1): a removal names the service point the meter is to
  leave, since the system cannot answer it otherwise.
- A service point from CCB (FW-06, WAM and ODM): filed under CCB's id, its premise and the system's own service
  point type; a time zone the system knows (IANA); a location with both coordinates or none.

Each system has its own activity type codes (:data:`ACTIVITY_TYPES`, as its configuration holds them): an activity,
a booking or a window asked for in a code the system does not have is refused. CCB's field activity types; MWM's
activity types; WAM 1.9's service request types (asset work only); WAM/ODM 2.1's field activity types (asset work
only).

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
ActivityType = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_\-]{0,39}$")]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^[0-9+()\-. x]+$")]


CCB_ACTIVITY_TYPES = frozenset(
    {"METER-INSTALL", "METER-EXCHANGE", "METER-REMOVE", "CONNECT", "DISCONNECT", "RECONNECT", "METER-READ", "INVESTIGATE", "PICKUP"}
)
MWM_ACTIVITY_TYPES = frozenset(
    {
        "METER_INSTALL",
        "METER_EXCHANGE",
        "METER_REMOVE",
        "CONNECT_SERVICE",
        "DISCONNECT_SERVICE",
        "RECONNECT_SERVICE",
        "METER_READ",
        "INVESTIGATION",
        "ASSET_INSPECTION",
        "ASSET_REPAIR",
        "PICKUP_REQUEST",
    }
)
WAM_SERVICE_REQUEST_TYPES = frozenset({"SR-MTRINST", "SR-MTREXCH", "SR-MTRRMV", "SR-INSPECT", "SR-REPAIR"})
ODM_FIELD_ACTIVITY_TYPES = frozenset({"INSTALL-METER", "EXCHANGE-METER", "REMOVE-METER", "INSPECT-ASSET", "REPAIR-ASSET"})
# the asset systems' own service point type codes (FW-06 sends a service point in them)
SERVICE_POINT_TYPES: dict[str, frozenset[str]] = {
    "WAM": frozenset({"ELEC-RES", "ELEC-COM", "ELEC-IND", "GAS-RES", "GAS-COM", "WTR-RES", "WTR-COM"}),
    "ODM": frozenset(
        {
            "ELECTRIC_RESIDENTIAL",
            "ELECTRIC_COMMERCIAL",
            "ELECTRIC_INDUSTRIAL",
            "GAS_RESIDENTIAL",
            "GAS_COMMERCIAL",
            "WATER_RESIDENTIAL",
            "WATER_COMMERCIAL",
        }
    ),
}
ACTIVITY_TYPES: dict[str, frozenset[str]] = {
    "CCB": CCB_ACTIVITY_TYPES,
    "MWM": MWM_ACTIVITY_TYPES,
    "WAM": WAM_SERVICE_REQUEST_TYPES,
    "ODM": ODM_FIELD_ACTIVITY_TYPES,
}


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

    @model_validator(mode="after")
    def _a_type_of_its_source(self) -> OwnActivity:
        if type(self) is OwnActivity and self.activityType not in ACTIVITY_TYPES[self.sourceSystem]:
            raise ValueError(f"{self.activityType} is not a {self.sourceSystem} activity type")
        return self


class FieldActivity(OwnActivity):
    """A field activity MWM (or CCB) takes from another system, filed under ``externalId``: every field the system
    keeps is given. WAM takes a :class:`ServiceRequest`, ODM an :class:`OdmFieldActivity` instead."""

    externalId: Annotated[str, StringConstraints(min_length=5, max_length=69)]
    priority: Literal["LOW", "NORMAL", "HIGH", "EMERGENCY"]

    @model_validator(mode="after")
    def _filed_under_its_source(self) -> FieldActivity:
        if self.externalId != f"{self.sourceSystem}:{self.activityId}":
            raise ValueError(f"externalId {self.externalId} does not name the activity's source and id")
        return self

    def filed_under(self) -> str:
        return self.externalId

    def work(self) -> tuple[str, str]:
        """Its type and service point."""
        return self.activityType, self.servicePointId


class ServiceRequest(_Message):
    """WAM v1.9's service request (asset work under implementation model v1.9), as WAM's service request service takes
    it from another system: the requesting system and its reference (the cross-reference WAM keeps), the service
    request type (WAM's code), the service point by WAM's own id, the date required, WAM's numeric priority code
    (1 most urgent ... 4), the meter's badge, the problem description and the requestor to meet. The seed names
    the service request, not its fields: these names are WAM's screens' (Request Type, Date Required, Problem
    Description, Requestor), written for the simulator."""

    externalSystem: System
    externalReference: Id
    requestType: ActivityType
    servicePoint: Id
    dateRequired: date | None = None
    priorityCode: Annotated[int, Field(ge=1, le=4)]
    meterBadge: Id | None = None
    problemDescription: Annotated[str, StringConstraints(max_length=2000)] | None = None
    requestor: Customer | None = None

    def filed_under(self) -> str:
        return f"{self.externalSystem}:{self.externalReference}"

    def work(self) -> tuple[str, str]:
        """Its type and service point, in WAM's codes and ids."""
        return self.requestType, self.servicePoint


class OdmFieldActivity(_Message):
    """WAM/ODM v2.1's field activity (asset work under implementation model v2.1), as ODM's field activity service
    takes it from another system: the originating system and its activity id, the field activity type (ODM's code),
    the service point by ODM's own id, the scheduled date, the priority, the device's badge number, the crew's
    instructions and the customer contact. The seed names the field activity, not its fields: the names are chosen
    for the simulator after ODM's field activity."""

    originatingSystem: System
    originatingActivityId: Id
    fieldActivityType: ActivityType
    servicePointId: Id
    scheduledDate: date | None = None
    priority: Literal["LOW", "NORMAL", "HIGH", "EMERGENCY"]
    deviceBadgeNumber: Id | None = None
    instructions: Annotated[str, StringConstraints(max_length=2000)] | None = None
    customerContact: Customer | None = None

    def filed_under(self) -> str:
        return f"{self.originatingSystem}:{self.originatingActivityId}"

    def work(self) -> tuple[str, str]:
        """Its type and service point, in ODM's codes and ids."""
        return self.fieldActivityType, self.servicePointId


# what each system's activity service takes to create an activity
ACTIVITY_SHAPES: dict[str, type[FieldActivity | ServiceRequest | OdmFieldActivity]] = {
    "CCB": FieldActivity,
    "MWM": FieldActivity,
    "WAM": ServiceRequest,
    "ODM": OdmFieldActivity,
}


class Reading(_Message):
    registerId: Id
    value: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    readAt: AwareDatetime


class MeterChange(_Message):
    """MWM's, WAM's and ODM's record of a meter a crew installed or removed, with its registers' reads."""

    action: Literal["INSTALLED", "REMOVED"]
    badgeNumber: Id
    readings: list[Reading] = Field(default_factory=list, max_length=20)


class RegisterRead(_Message):
    """CCB's register read of a field activity's meter step."""

    registerId: Id
    readDateTime: AwareDatetime
    reading: Annotated[float, Field(ge=0, allow_inf_nan=False)]


class CcbMeterStep(_Message):
    """CCB's field activity completion step for a meter installed or removed: its badge number and register reads."""

    badgeNumber: Id
    registerReads: list[RegisterRead] = Field(default_factory=list, max_length=20)


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
    meters: list[MeterChange] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _parts_of_its_kind(self) -> ActivityEvent:
        if self.event == "UPDATE" and self.changes is None:
            raise ValueError("an UPDATE names the fields that changed")
        if self.event != "UPDATE" and self.changes is not None:
            raise ValueError(f"a {self.event} changes no field")
        if self.event != "COMPLETE" and (self.readings or self.remarks is not None or self.attachments or self.completed_meters()):
            raise ValueError("readings, remarks, attachments and meters come with a COMPLETE only")
        if self.event != "CANCEL" and self.reason is not None:
            raise ValueError("a reason comes with a CANCEL only")
        return self

    def changed(self) -> dict[str, Any]:
        """The fields an UPDATE changed, as given."""
        return self.changes.model_dump(mode="json", exclude_unset=True) if self.changes else {}

    def completed_meters(self) -> dict[str, Any]:
        """The meters a completion installed or removed, as the system keeps them."""
        return {"meters": [m.model_dump(mode="json") for m in self.meters]} if self.meters else {}


class CcbActivityEvent(ActivityEvent):
    """An event of a field activity CCB keeps: a completion names the meters installed and removed as CCB's completion
    steps (``meterInstalls``, ``meterRemovals``), never as MWM's ``meters``."""

    meterInstalls: list[CcbMeterStep] = Field(default_factory=list, max_length=10)
    meterRemovals: list[CcbMeterStep] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _ccb_steps_only(self) -> CcbActivityEvent:
        if self.meters:
            raise ValueError("CCB takes meters as meterInstalls and meterRemovals")
        return self

    def completed_meters(self) -> dict[str, Any]:
        steps = {"meterInstalls": self.meterInstalls, "meterRemovals": self.meterRemovals}
        return {name: [m.model_dump(mode="json") for m in found] for name, found in steps.items() if found}


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
    meters: list[MeterChange] = Field(default_factory=list, max_length=10)

    def completed_meters(self) -> dict[str, Any]:
        return {"meters": [m.model_dump(mode="json") for m in self.meters]} if self.meters else {}

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
    """MWM's appointment booking (FW-03), under the id CCB gave the appointment, for one of MWM's activity types."""

    appointmentId: Id
    activityId: Id
    servicePointId: Id
    activityType: ActivityType
    window: Window

    @field_validator("activityType")
    @classmethod
    def _an_mwm_type(cls, value: str) -> str:
        if value not in MWM_ACTIVITY_TYPES:
            raise ValueError(f"{value} is not an MWM activity type")
        return value


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
