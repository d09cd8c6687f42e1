"""What travels in the field work pack: a field activity created in one system (FW-01), the events
of its life (FW-02), and the items the creation workflow passes between its steps."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from utilhub.syncrequests.ccb_data import CcbAddress, CcbServicePointData, PhoneNumber
from utilhub.syncrequests.model import ID_PATTERN

System = Literal["CCB", "MWM", "WAM", "ODM"]
SYSTEMS: tuple[str, ...] = ("CCB", "MWM", "WAM", "ODM")
ACTIVITY_TYPE = r"^[A-Z][A-Z0-9_\-]{0,39}$"  # a system's code (MWM's have underscores)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Customer(_Message):
    name: str = Field(min_length=1, max_length=254)
    phone: PhoneNumber | None = None


class ActivityIn(_Message):
    """``POST /field-work/activities``: an activity created in ``sourceSystem`` (FW-01)."""

    sourceSystem: System
    activityId: str = Field(pattern=ID_PATTERN)
    activityType: str = Field(
        pattern=ACTIVITY_TYPE,
        description="the source system's code, or the hub's (METER-EXCHANGE, CONNECT, ASSET-REPAIR, PICKUP): domain value map FieldActivityType",
    )
    servicePointId: str = Field(pattern=ID_PATTERN)
    scheduledDate: date | None = None
    priority: Literal["LOW", "NORMAL", "HIGH", "EMERGENCY"] = "NORMAL"
    meterId: str | None = Field(default=None, pattern=ID_PATTERN)
    description: str | None = Field(default=None, max_length=2000)
    customer: Customer | None = None


class FieldActivityOut(_Message):
    """An activity as MWM (and CCB, for a pickup) takes it (``POST /activities``): the activity filed under
    ``externalId`` (``<source>:<source's id>``), its type in the system's code."""

    externalId: str
    sourceSystem: System
    activityId: str
    activityType: str
    servicePointId: str
    scheduledDate: date | None = None
    priority: Literal["LOW", "NORMAL", "HIGH", "EMERGENCY"]
    meterId: str | None = None
    description: str | None = None
    customer: Customer | None = None


class WamServiceRequestOut(_Message):
    """WAM v1.9's service request (``POST /activities`` on WAM): asset work, filed under the requesting system and its
    reference, at WAM's own service point (FW-06's id); WAM's priority codes are numbers, 1 the most urgent."""

    externalSystem: System
    externalReference: str
    requestType: str = Field(description="WAM's service request type (domain value map FieldActivityType)")
    servicePoint: str = Field(description="WAM's id of the service point (FW-06)")
    dateRequired: date | None = None
    priorityCode: int = Field(ge=1, le=4)
    meterBadge: str | None = None
    problemDescription: str | None = None
    requestor: Customer | None = None


class OdmFieldActivityOut(_Message):
    """WAM/ODM v2.1's field activity (``POST /activities`` on ODM): asset work, filed under the originating system and
    its activity id, at ODM's own service point (FW-06's id)."""

    originatingSystem: System
    originatingActivityId: str
    fieldActivityType: str = Field(description="ODM's field activity type (domain value map FieldActivityType)")
    servicePointId: str = Field(description="ODM's id of the service point (FW-06)")
    scheduledDate: date | None = None
    priority: Literal["LOW", "NORMAL", "HIGH", "EMERGENCY"]
    deviceBadgeNumber: str | None = None
    instructions: str | None = None
    customerContact: Customer | None = None


class Reading(_Message):
    registerId: str = Field(pattern=ID_PATTERN)
    value: float = Field(ge=0, allow_inf_nan=False)
    readAt: AwareDatetime


class MeterChange(_Message):
    """A meter a completion installed at or removed from the activity's service point, with its registers' reads."""

    action: Literal["INSTALLED", "REMOVED"]
    badgeNumber: str = Field(pattern=ID_PATTERN)
    readings: list[Reading] = Field(
        default_factory=list, max_length=20, description="its registers' reads at installation (start) or removal (final)"
    )

    @field_validator("readings")
    @classmethod
    def _one_read_per_register(cls, readings: list[Reading]) -> list[Reading]:
        registers = [r.registerId for r in readings]
        if len(set(registers)) != len(registers):
            raise ValueError("one read per register")
        return readings


class AttachmentRef(_Message):
    """A file uploaded for the activity (FW-07): the sender names it by id; the hub adds how to fetch it."""

    attachmentId: str = Field(pattern=ID_PATTERN)
    fileName: str | None = Field(default=None, max_length=200)
    contentType: str | None = Field(default=None, max_length=100)
    sizeBytes: int | None = Field(default=None, ge=1)
    url: str | None = Field(default=None, max_length=4000, description="a time-limited download URL (set by the hub)")


class ActivityEventIn(_Message):
    """``POST /field-work/activities/{sourceSystem}/{activityId}/events`` (FW-02)."""

    eventId: str = Field(pattern=ID_PATTERN)
    event: Literal["UPDATE", "CANCEL", "COMPLETE"]
    at: AwareDatetime
    fromSystem: System | None = Field(
        default=None,
        description="the system the event happened in (default: the system in the path, which names the activity by its own id)",
    )
    changes: dict[str, Any] | None = Field(
        default=None, description="UPDATE: the fields that changed (scheduledDate, priority, description)"
    )
    reason: str | None = Field(default=None, max_length=500, description="CANCEL: why")
    readings: list[Reading] = Field(default_factory=list, max_length=50)
    remarks: str | None = Field(default=None, max_length=4000)
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=20)
    meters: list[MeterChange] = Field(
        default_factory=list,
        max_length=10,
        description="COMPLETE: the meters installed or removed (badge number, register reads); CCB gets them in its shape",
    )

    @field_validator("meters")
    @classmethod
    def _meters_with_a_completion(cls, meters: list[MeterChange], info: ValidationInfo) -> list[MeterChange]:
        if meters and info.data.get("event") != "COMPLETE":
            raise ValueError("meters installed or removed come with a COMPLETE only")
        changes = [(m.action, m.badgeNumber) for m in meters]
        if len(set(changes)) != len(changes):
            raise ValueError("a meter is installed or removed once per completion")
        return meters


# ---------------------------------------------------------------------------------------- workflow


class ActivityKey(BaseModel):
    """An activity as the creation workflow carries it: its key only. The activity itself is read from the
    hub's record of it (the cross-reference table), so no execution's history holds the activity's data."""

    sourceSystem: str
    activityId: str

    @classmethod
    def of(cls, activity: ActivityIn) -> ActivityKey:
        return cls(sourceSystem=activity.sourceSystem, activityId=activity.activityId)


class CreateInTarget(BaseModel):
    """Create the activity in one routed system (a step of the creation workflow)."""

    step: Literal["create"] = "create"
    target: str
    activity: ActivityKey
    attempt: int = Field(default=1, ge=1, description="1, then one more per resubmission")


# An execution's attempt as its finish and cancel steps carry it: ``None`` for an execution started before they
# carried it (its definition's steps send none), which then acts on the activity whatever its attempt, as it did.
# Not 1: such an execution may be a resubmission's (attempt 2 or more), and taking it for attempt 1 would refuse its
# own outcome. Executions keep the definition they started with (a redrive too), so only those send none.
StepAttempt = Annotated[int | None, Field(ge=1, description="the execution's attempt (its input's ``attempt``)")]


class CancelInTarget(BaseModel):
    """Compensation: cancel what the workflow created in a target before another target failed; nothing when a newer
    attempt holds the activity (``attempt`` no longer the record's): what it made there is the newer attempt's too."""

    step: Literal["cancel"] = "cancel"
    target: str
    activity: ActivityKey
    attempt: StepAttempt = None


class FinishCreation(BaseModel):
    """Record the outcome once every create has ended: every routed system linked (``created``: each create's
    result, ``{"target","id"}`` or ``{"target","failure"}``), or ERROR with the reason (``failure``, and what
    the compensation did: ``canceled``, each ``{"target","canceled"}`` or ``{"target","failure"}``, or the
    ``compensationError`` that stopped it). Recorded only while the activity is at the execution's ``attempt``: an
    older execution (redriven, or still running when its attempt was put in ERROR and resubmitted) is superseded."""

    step: Literal["finish"] = "finish"
    activity: ActivityKey
    attempt: StepAttempt = None
    created: list[dict[str, Any]] | None = None
    failure: dict[str, Any] | None = None
    canceled: list[dict[str, Any]] = Field(default_factory=list)
    compensationError: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _attempt_of_its_execution(cls, data: Any) -> Any:
        # the state sends the execution's whole input (``$$.Execution.Input``, a path that is always there), not its
        # ``attempt`` (a path missing from an execution started by code from before it carried one, during a deploy,
        # would fail the state with States.Runtime, which no Catch takes): its attempt, or None
        if isinstance(data, dict) and "execution" in data:
            execution = data["execution"]
            attempt = execution.get("attempt") if isinstance(execution, dict) else None
            data = {key: value for key, value in data.items() if key != "execution"} | {"attempt": attempt}
        return data


class StepEnvelope(BaseModel):
    event: CreateInTarget | CancelInTarget | FinishCreation = Field(discriminator="step")


# ---------------------------------------------------------------------------------------- synchronous points


class AppointmentWindow(_Message):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> Self:
        if self.end <= self.start:  # MWM refuses such a window: refused at intake, not a 502 from MWM
            raise ValueError("a window ends after it starts")
        return self


class AppointmentWindows(BaseModel):
    """FW-03: the windows MWM can still book for a service point and activity type."""

    servicePointId: str
    activityType: str
    windows: list[AppointmentWindow]


class AppointmentIn(_Message):
    """FW-03 ``POST /field-work/appointments``: book a window for CCB's activity at MWM."""

    appointmentId: str = Field(pattern=ID_PATTERN, description="CCB's id of the appointment (a repeat books nothing twice)")
    activityId: str = Field(pattern=ID_PATTERN)
    servicePointId: str = Field(pattern=ID_PATTERN)
    activityType: str = Field(pattern=ACTIVITY_TYPE)
    window: AppointmentWindow


class Appointment(BaseModel):
    appointmentId: str
    mwmAppointmentId: str
    status: Literal["BOOKED", "CANCELED"]
    window: AppointmentWindow


class MeterValidationIn(_Message):
    """FW-04 ``POST /field-work/meter-validations``: can the crew install (or remove) this meter or item here?"""

    badgeNumber: str = Field(pattern=ID_PATTERN)
    purpose: Literal["INSTALL", "REMOVE"]
    servicePointId: str | None = Field(default=None, pattern=ID_PATTERN, description="required to validate a removal")


class MeterValidation(BaseModel):
    badgeNumber: str
    valid: bool
    validatedBy: str
    reason: str | None = None


class ServicePointSummary(BaseModel):
    servicePointId: str
    address: str
    postalCode: str | None = None
    meterBadge: str | None = None


class InstalledAsset(BaseModel):
    assetId: str
    assetType: str
    badgeNumber: str | None = None
    installedOn: date | None = None


# ---------------------------------------------------------------------------------------- relayed notifications


class Charge(_Message):
    chargeType: str = Field(pattern=ACTIVITY_TYPE)
    amount: float = Field(gt=0, le=1_000_000, allow_inf_nan=False)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class BillableCompletionIn(_Message):
    """FW-05 ``POST /field-work/billing-charges``: WAM/ODM completed billable work; CCB bills it once."""

    completionId: str = Field(pattern=ID_PATTERN)
    sourceSystem: Literal["WAM", "ODM"]
    workOrderId: str = Field(pattern=ID_PATTERN)
    servicePointId: str = Field(pattern=ID_PATTERN)
    completedAt: AwareDatetime
    charges: list[Charge] = Field(min_length=1, max_length=50)


class CustomerInformationIn(_Message):
    """FW-10 ``POST /field-work/customer-updates``: a customer's details changed in CCB; MWM's open activities at the SP get them."""

    updateId: str = Field(pattern=ID_PATTERN)
    servicePointId: str = Field(pattern=ID_PATTERN)
    changedAt: AwareDatetime
    customer: Customer


class UnbadgedAssetIn(_Message):
    """FW-11 ``POST /field-work/unbadged-assets``: ODM recorded an asset without a badge number; CCB gets an item."""

    notificationId: str = Field(pattern=ID_PATTERN)
    assetId: str = Field(pattern=ID_PATTERN)
    assetType: str = Field(pattern=ACTIVITY_TYPE)
    servicePointId: str = Field(pattern=ID_PATTERN)
    quantity: int = Field(default=1, ge=1, le=1000)
    description: str | None = Field(default=None, max_length=500)


# ---------------------------------------------------------------------------------------- service point sync (FW-06)


class FieldServicePointData(CcbServicePointData):
    """SERVICE_POINT (FW-06): the ``data`` of CCB's service point sync request to the asset system.

    CCB's service point (:mod:`utilhub.syncrequests.ccb_data`) with an id-shaped ``premiseId``, the contract's
    least, and a required ``spType``, what WAM/ODM files the service point under,
    translated through the domain value map ``ServicePointType``. Other fields CCB sends (bill cycle,
    the Service Order Management flag) are kept with the request but not sent to WAM/ODM. A location WAM/ODM would
    refuse, one coordinate without the other, is refused here, at intake.
    """

    premiseId: str = Field(pattern=ID_PATTERN)
    spType: str = Field(min_length=1, max_length=30, description="CCB's SP type, e.g. E-RES, G-COM")
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)

    @model_validator(mode="after")
    def _whole_location(self) -> Self:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("a location has both latitude and longitude, or neither")
        return self


class ServicePointSyncOut(_Message):
    """What WAM (v1.9) and ODM (v2.1) take (``POST /service-points``): CCB's service point, created or updated
    under the external id; the same ``syncRequestId`` again changes nothing there."""

    syncRequestId: str = Field(pattern=ID_PATTERN)
    externalSystem: Literal["CCB"] = "CCB"
    externalId: str = Field(pattern=ID_PATTERN, description="CCB's service point id")
    changedAt: AwareDatetime
    premiseId: str = Field(pattern=ID_PATTERN)
    servicePointType: str = Field(min_length=1, max_length=30, description="the target's own code")
    address: CcbAddress | None = None
    timeZone: str | None = Field(default=None, max_length=64)
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


class ServicePointSyncAnswer(BaseModel):
    """WAM's or ODM's answer to a service point sync: its id for the service point and what it did, or why not."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    result: Literal["POSITIVE", "NEGATIVE", "ACCEPTED"]
    targetId: str | None = Field(default=None, max_length=128)
    action: Literal["CREATED", "UPDATED", "UNCHANGED"] | None = None
    reason: str | None = Field(default=None, max_length=2000)
