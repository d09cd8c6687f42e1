"""Field systems: Mobile Workforce Management (MWM), WAM 1.9 and WAM/ODM 2.1, and CCB's field activities.

Each validates what the hub sends against the field systems' own contract
(:mod:`localhub.simulators.field_contract`, written from their documented interfaces, never the hub's models).
Each keeps activities created by the hub (``POST /activities``, in the system's own shape: MWM's activity, WAM's
service request, ODM's field activity, ``field_contract.ACTIVITY_SHAPES``; another system's shape is refused; filed under an external id: a second one for an external id is refused with 409 while the first is not canceled, and
``GET /activities?externalId=`` finds the latest), under an id of its own format, and takes their events (``POST /activities/{id}/events``): an event id it has already applied answers the same again; an event
after completion or cancellation is refused with 409. Each system takes only the activity types it
works, in its own codes (``field_contract.ACTIVITY_TYPES``; another code is a 422): WAM keeps asset work as service
requests, ODM as field activities, CCB takes pickups.

Reference data the systems share (deterministic): service points ``SP-0001`` … ``SP-0050``, each with
meter ``B-<n>`` installed, and meters ``B-0051`` … ``B-0100`` in stock. MWM offers appointment windows
(08:00-12:00 and 13:00-17:00 UTC on weekdays, two crews per window) and books them (FW-03: once per
appointment id, another booking under it is refused with 409; ``GET /appointments/{id}`` reads one); CCB (v1.9) and
ODM (v2.1) validate meters for an installation or a removal (FW-04); CCB finds service points by address,
postal code or meter (FW-08); WAM and ODM list the assets installed at a service point (FW-09).

WAM and ODM file an activity only at a service point they keep, named by their own id (422 otherwise). They keep
CCB's service points (FW-06, ``POST /service-points``): created under an id of their own the first time CCB's id is seen, updated after,
left as is when nothing changed; a service point type that is not the system's own code (the
``ServicePointType`` map's column for it) is refused with 422; the same sync request again is answered as
the first time and changes nothing; ``reject`` answers NEGATIVE, ``accept_later`` ACCEPTED.

A field system is also a source: ``POST /activities/{id}/report`` ``{"event": "COMPLETE", ...}`` applies an
event there (a crew completes the work) and sends it to the hub (FW-02), as the real system's outbound
message would.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pydantic import ValidationError

from localhub.simulators.base import Reply, Simulator, SimulatorError, json_reply
from localhub.simulators.field_contract import (
    ACTIVITY_SHAPES,
    ACTIVITY_TYPES,
    MWM_ACTIVITY_TYPES,
    SERVICE_POINT_TYPES,
    ActivityEvent,
    AppointmentBooking,
    CrewReport,
    MeterValidation,
    OwnActivity,
    ServicePoint,
)

HubSender = Callable[[str, bytes, str], tuple[int, bytes]]
SERVICE_POINTS = {
    f"SP-{n:04d}": {
        "servicePointId": f"SP-{n:04d}",
        "address": f"{n} Evergreen Terrace, Springfield",
        "postalCode": f"627{n % 100:02d}",
        "meterBadge": f"B-{n:04d}",
    }
    for n in range(1, 51)
}
IN_STOCK = frozenset(f"B-{n:04d}" for n in range(51, 101))
INSTALLED_AT = {sp["meterBadge"]: sp_id for sp_id, sp in SERVICE_POINTS.items()}
CREWS_PER_WINDOW = 2
WINDOW_HOURS = ((8, 12), (13, 17))
CLOSED = {"COMPLETE": "COMPLETED", "CANCEL": "CANCELED"}


def validate_meter(body: bytes) -> Reply:
    """FW-04 as CCB (v1.9) or ODM (v2.1) answers it: can this meter be installed, or removed from this SP?"""
    try:
        request = MeterValidation.model_validate_json(body)
    except ValidationError as exc:
        raise SimulatorError(f"invalid meter validation: {exc.errors(include_url=False, include_input=False)}") from None
    badge = request.badgeNumber
    if badge not in IN_STOCK and badge not in INSTALLED_AT:
        return json_reply(200, {"badgeNumber": badge, "valid": False, "reason": f"no meter {badge}"})
    if request.purpose == "INSTALL":
        if badge in IN_STOCK:
            return json_reply(200, {"badgeNumber": badge, "valid": True})
        return json_reply(200, {"badgeNumber": badge, "valid": False, "reason": f"{badge} is installed at {INSTALLED_AT[badge]}"})
    if INSTALLED_AT.get(badge) == request.servicePointId:
        return json_reply(200, {"badgeNumber": badge, "valid": True})
    return json_reply(200, {"badgeNumber": badge, "valid": False, "reason": f"{badge} is not installed at {request.servicePointId}"})


def installed_assets(system: str, service_point_id: str) -> Reply:
    """FW-09 as WAM or ODM answers it: the assets at a service point."""
    point = SERVICE_POINTS.get(service_point_id)
    if point is None:
        return json_reply(404, {"message": f"no service point {service_point_id}"})
    n = int(service_point_id.split("-")[1])
    prefix = "AS" if system == "WAM" else "DV"
    return json_reply(
        200,
        {
            "assets": [
                {
                    "assetId": f"{prefix}-{n:04d}-1",
                    "assetType": "METER",
                    "badgeNumber": point["meterBadge"],
                    "installedOn": f"20{10 + n % 15:02d}-0{1 + n % 9}-15",
                },
                {"assetId": f"{prefix}-{n:04d}-2", "assetType": "REGULATOR", "installedOn": "2012-05-01"},
            ]
        },
    )


def find_service_points(query: str) -> Reply:
    """FW-08 as CCB answers it: service points by address (contains), postal code or meter badge."""
    criteria = {k: v[0] for k, v in parse_qs(query).items()}
    if not criteria.keys() & {"address", "postalCode", "meterBadge"}:
        raise SimulatorError("give address, postalCode or meterBadge")
    found = [
        sp
        for sp in SERVICE_POINTS.values()
        if ("address" not in criteria or criteria["address"].casefold() in sp["address"].casefold())
        and ("postalCode" not in criteria or criteria["postalCode"] == sp["postalCode"])
        and ("meterBadge" not in criteria or criteria["meterBadge"] == sp["meterBadge"])
    ]
    return json_reply(200, {"servicePoints": found[:20]})


class ServicePointRegister:
    """FW-06 as WAM or ODM keeps CCB's service points: one record per CCB id, once per sync request."""

    def __init__(self, simulator: Simulator, id_format: str) -> None:
        self._simulator = simulator
        self._ids = itertools.count(1)
        self._id_format = id_format
        self._answers: dict[str, dict[str, Any]] = {}
        # the system's own service point type codes
        self.types = SERVICE_POINT_TYPES.get(simulator.system, frozenset())
        # sync request id -> times its image was applied (1: once; 2 would be a duplicate)
        self.applied: Counter[str] = Counter()
        # images applied over a newer one of the same service point (a sync out of order; the hub must never cause one)
        self.older_images = 0

    def sync(self, body: bytes) -> Reply:
        try:
            message = ServicePoint.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid service point: {exc.errors(include_url=False, include_input=False)}") from None
        self._simulator.note_received({"operation": "sync-service-point", "syncRequestId": message.syncRequestId})
        if message.syncRequestId in self._answers:  # a redelivery: the same answer, nothing changed
            return json_reply(200, self._answers[message.syncRequestId])
        if message.servicePointType not in self.types:
            return json_reply(422, {"message": f"{message.servicePointType} is not one of {self._simulator.system}'s service point types"})
        if fault := self._simulator.take_fault("reject"):
            return json_reply(200, {"result": "NEGATIVE", "reason": fault.reason})
        if self._simulator.take_fault("accept_later"):
            return json_reply(202, {"result": "ACCEPTED"})
        key = f"SERVICE_POINT#{message.externalId}"
        existing = self._simulator.records.get(key)
        image = message.model_dump(mode="json", exclude={"syncRequestId", "changedAt"}, exclude_none=True)
        changed_at = message.changedAt.astimezone(UTC).isoformat()
        if existing is None:
            action, target_id, version = "CREATED", self._id_format.format(next(self._ids)), 1
        elif existing["image"] == image:
            action, target_id, version = "UNCHANGED", existing["id"], existing["version"]
        else:
            action, target_id, version = "UPDATED", existing["id"], existing["version"] + 1
            if changed_at < existing["changedAt"]:  # UTC ISO text of one width sorts as time
                self.older_images += 1
        self._simulator.records[key] = {"id": target_id, "image": image, "changedAt": changed_at, "version": version}
        answer = {"result": "POSITIVE", "targetId": target_id, "action": action}
        self._answers[message.syncRequestId] = answer
        self.applied[message.syncRequestId] += 1
        return json_reply(200, answer)

    def knows(self, own_id: str) -> bool:
        """Whether the system keeps a service point under ``own_id`` (one CCB synchronized to it)."""
        return any(key.startswith("SERVICE_POINT#") and record["id"] == own_id for key, record in self._simulator.records.items())


class FieldActivityBook:
    """One system's field activities, as its services keep them."""

    def __init__(
        self,
        simulator: Simulator,
        id_format: str,
        accepts: frozenset[str] | None = None,
        event_model: type[ActivityEvent] = ActivityEvent,
        service_points: Callable[[str], bool] | None = None,
    ) -> None:
        self._simulator = simulator
        self._shape = ACTIVITY_SHAPES[simulator.system]  # MWM's activity, WAM's service request, ODM's field activity
        self._service_points = service_points  # WAM's and ODM's: an activity names one of the service points they keep
        self._event_model = event_model  # CCB's events name meters in its own shape
        self._ids = itertools.count(1)
        self._id_format = id_format
        self._accepts = accepts
        self.by_external_id: dict[str, str] = {}

    def handle(self, method: str, path: str, parts: list[str], body: bytes) -> Reply:
        if method == "GET" and len(parts) == 1:
            external = parse_qs(urlsplit(path).query).get("externalId", [""])[0]
            found = self.by_external_id.get(external)
            return json_reply(200, {"id": found, **self.activity(found)}) if found else json_reply(404, {"message": "no such activity"})
        if method == "GET" and len(parts) == 2:
            activity_id = unquote(parts[1])
            return (
                json_reply(200, self.activity(activity_id))
                if self._exists(activity_id)
                else json_reply(404, {"message": "no such activity"})
            )
        if method == "POST" and len(parts) == 1:
            return self.create(body)
        if method == "POST" and len(parts) == 3 and parts[2] == "events":
            return self.apply(unquote(parts[1]), self._event(body))
        return json_reply(405, {"message": f"{method} {path} is not a {self._simulator.system} activity service"})

    def adopt(self, activity: OwnActivity) -> None:
        """An activity the system itself created (its own id): kept, so the hub's events for it apply."""
        self.by_external_id[f"{activity.sourceSystem}:{activity.activityId}"] = activity.activityId
        self._simulator.records[f"ACTIVITY#{activity.activityId}"] = {
            "externalId": f"{activity.sourceSystem}:{activity.activityId}",
            **activity.model_dump(mode="json", exclude_none=True),
            "status": "OPEN",
            "events": [],
        }

    def _exists(self, activity_id: str) -> bool:
        return f"ACTIVITY#{activity_id}" in self._simulator.records

    def activity(self, activity_id: str) -> dict[str, Any]:
        return dict(self._simulator.records[f"ACTIVITY#{activity_id}"])

    def create(self, body: bytes) -> Reply:
        try:
            activity = self._shape.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid activity: {exc.errors(include_url=False, include_input=False)}") from None
        external = activity.filed_under()
        activity_type, service_point = activity.work()
        if self._accepts is not None and activity_type not in self._accepts:  # not one of its own codes, or not work it takes
            return json_reply(422, {"message": f"{self._simulator.system} does not work {activity_type} activities"})
        if self._service_points is not None and not self._service_points(service_point):
            return json_reply(422, {"message": f"{self._simulator.system} has no service point {service_point}"})
        if fault := self._simulator.take_fault("reject"):
            return json_reply(422, {"message": fault.reason})
        existing = self.by_external_id.get(external)
        if existing is not None and self._simulator.records[f"ACTIVITY#{existing}"]["status"] != "CANCELED":
            return json_reply(409, {"message": f"an activity for {external} exists", "id": existing})
        activity_id = self._id_format.format(next(self._ids))
        self.by_external_id[external] = activity_id
        self._simulator.records[f"ACTIVITY#{activity_id}"] = {
            "externalId": external,
            **activity.model_dump(mode="json", exclude_none=True, exclude={"externalId"}),
            "status": "OPEN",
            "events": [],
        }
        self._simulator.note_received({"operation": "create", "externalId": external, "id": activity_id})
        return json_reply(201, {"id": activity_id})

    def _event(self, body: bytes) -> ActivityEvent:
        try:
            return self._event_model.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid event: {exc.errors(include_url=False, include_input=False)}") from None

    def apply(self, activity_id: str, event: ActivityEvent | CrewReport) -> Reply:
        if not self._exists(activity_id):
            return json_reply(404, {"message": f"no activity {activity_id}"})
        record = self._simulator.records[f"ACTIVITY#{activity_id}"]
        if event.eventId in (e["eventId"] for e in record["events"]):
            return json_reply(200, {"id": activity_id, "status": record["status"]})
        if record["status"] != "OPEN":
            return json_reply(409, {"message": f"activity {activity_id} is {record['status']}"})
        record["events"].append({"eventId": event.eventId, "event": event.event, "at": event.at.isoformat()})
        if event.event == "UPDATE":
            record.update(event.changed())
        if event.event == "COMPLETE":
            record["completion"] = {
                **event.model_dump(mode="json", include={"readings", "remarks", "attachments"}),
                **event.completed_meters(),
            }
        record["status"] = CLOSED.get(event.event, "OPEN")
        self._simulator.note_received({"operation": event.event.lower(), "id": activity_id, "eventId": event.eventId})
        return json_reply(200, {"id": activity_id, "status": record["status"]})


class FieldSystemSimulator(Simulator):
    """MWM, WAM or ODM."""

    def __init__(self, system: str, id_format: str, accepts: frozenset[str] | None = None) -> None:
        super().__init__(system=system)
        self.service_points = ServicePointRegister(self, "WSP-{:06d}" if system == "WAM" else "OSP-{:06d}")
        # WAM and ODM file an activity at a service point they keep, named by their own id (FW-06 gave it)
        known = self.service_points.knows if system in ("WAM", "ODM") else None
        self.book = FieldActivityBook(self, id_format, accepts, service_points=known)
        self.send_to_hub: HubSender | None = None
        self._events = itertools.count(1)

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        with self._lock:
            if parts[0] == "activities":
                if method == "POST" and len(parts) == 3 and parts[2] == "report":
                    return self.report(unquote(parts[1]), body)
                return self.book.handle(method, path, parts, body)
            if parts == ["service-points"] and method == "POST" and self.system in ("WAM", "ODM"):
                return self.service_points.sync(body)
            if parts[0] == "appointments" and self.system == "MWM":
                return self.appointments(method, parts, url.query, body)
            if parts == ["meter-validations"] and method == "POST" and self.system == "ODM":
                self.note_received({"operation": "validate-meter"})
                return validate_meter(body)
            if (
                method == "GET"
                and len(parts) == 3
                and parts[0] == "service-points"
                and parts[2] == "assets"
                and self.system in ("WAM", "ODM")
            ):
                return installed_assets(self.system, unquote(parts[1]))
        return json_reply(404, {"message": f"no such {self.system} service"})

    def state(self, *, summary: bool = False) -> dict[str, Any]:
        """As every simulator's; WAM and ODM add the service point syncs they applied (``summary``: how many)."""
        base = super().state(summary=summary)
        if self.system not in ("WAM", "ODM"):
            return base
        with self._lock:
            applied = self.service_points.applied
            syncs: dict[str, Any] = (
                {"appliedServicePointSyncs": len(applied), "appliedServicePointImages": sum(applied.values())}
                if summary
                else {"appliedPerServicePointSync": dict(applied)}
            )
            return {**base, **syncs, "olderServicePointImagesReceived": self.service_points.older_images}

    # ---------------------------------------------------------------- FW-03 (MWM)
    @staticmethod
    def offered(start: date, end: date) -> list[tuple[datetime, datetime]]:
        windows: list[tuple[datetime, datetime]] = []
        day = start
        while day <= end:
            if day.weekday() < 5:
                windows.extend(
                    (datetime(day.year, day.month, day.day, a, tzinfo=UTC), datetime(day.year, day.month, day.day, b, tzinfo=UTC))
                    for a, b in WINDOW_HOURS
                )
            day += timedelta(days=1)
        return windows

    def _booked(self, window_start: datetime) -> int:
        return sum(
            1
            for k, v in self.records.items()
            if k.startswith("APPOINTMENT#") and v["status"] == "BOOKED" and v["window"]["start"] == window_start.isoformat()
        )

    def appointments(self, method: str, parts: list[str], query: str, body: bytes) -> Reply:
        if method == "GET" and parts == ["appointments", "windows"]:
            args = {k: v[0] for k, v in parse_qs(query).items()}
            try:
                start, end = date.fromisoformat(args["from"]), date.fromisoformat(args["to"])
                service_point, activity_type = args["servicePointId"], args["activityType"]
            except (KeyError, ValueError) as exc:
                raise SimulatorError(f"windows need servicePointId, activityType, from, to: {exc}") from None
            if service_point not in SERVICE_POINTS:
                return json_reply(404, {"message": f"no service point {service_point}"})
            if activity_type not in MWM_ACTIVITY_TYPES:
                return json_reply(422, {"message": f"{activity_type} is not an MWM activity type"})
            free = [
                {"start": a.isoformat(), "end": b.isoformat()} for a, b in self.offered(start, end) if self._booked(a) < CREWS_PER_WINDOW
            ]
            return json_reply(200, {"servicePointId": service_point, "activityType": activity_type, "windows": free})
        if method == "POST" and parts == ["appointments"]:
            try:
                appointment = AppointmentBooking.model_validate_json(body)
            except ValidationError as exc:
                raise SimulatorError(f"invalid appointment: {exc.errors(include_url=False, include_input=False)}") from None
            key = f"APPOINTMENT#{appointment.appointmentId}"
            if key in self.records:  # MWM books an appointment id once: another booking under it is refused
                return json_reply(
                    409, {"message": f"appointment {appointment.appointmentId} exists", "id": self.records[key]["mwmAppointmentId"]}
                )
            start = appointment.window.start.astimezone(UTC)
            offered = dict(self.offered(start.date(), start.date()))
            if offered.get(start) != appointment.window.end.astimezone(UTC) or self._booked(start) >= CREWS_PER_WINDOW:
                return json_reply(409, {"message": "the window is not offered or is full"})
            self.records[key] = {
                "appointmentId": appointment.appointmentId,
                "mwmAppointmentId": f"APT-{next(self._events):06d}",
                "status": "BOOKED",
                "window": {"start": start.isoformat(), "end": appointment.window.end.astimezone(UTC).isoformat()},
                "activityId": appointment.activityId,
            }
            self.note_received({"operation": "book", "appointmentId": appointment.appointmentId})
            return json_reply(200, self.records[key])
        if method == "GET" and len(parts) == 2:  # an appointment by the id it was booked under
            key = f"APPOINTMENT#{unquote(parts[1])}"
            return (
                json_reply(200, self.records[key])
                if key in self.records
                else json_reply(404, {"message": f"no appointment {unquote(parts[1])}"})
            )
        if method == "POST" and len(parts) == 3 and parts[2] == "cancellation":
            key = f"APPOINTMENT#{unquote(parts[1])}"
            if key not in self.records:
                return json_reply(404, {"message": f"no appointment {unquote(parts[1])}"})
            self.records[key]["status"] = "CANCELED"
            return json_reply(200, self.records[key])
        return json_reply(405, {"message": "not an MWM appointment service"})

    def requires_credentials(self, path: str) -> bool:
        return not path.rstrip("/").endswith("/report")  # a crew's report is the system's own user's

    def report(self, activity_id: str, body: bytes) -> Reply:
        """A crew reports an event in this system: applied here, then sent to the hub."""
        if self.send_to_hub is None:
            raise SimulatorError(f"{self.system} is not connected to a hub")
        try:
            raw = json.loads(body)
            event = CrewReport.model_validate_json(
                json.dumps(
                    {
                        "eventId": f"{self.system}-EV-{next(self._events):06d}",
                        "at": datetime.now(UTC).isoformat(),
                        **raw,
                        "fromSystem": self.system,
                    }
                )
            )
        except (ValueError, TypeError, ValidationError) as exc:
            raise SimulatorError(f"invalid report: {exc}") from None
        applied = self.book.apply(activity_id, event)
        if applied.status != 200:
            return applied
        # the system names the activity by its own id; the hub finds it through the link it recorded at creation
        path = f"/field-work/activities/{quote(self.system, safe='')}/{quote(activity_id, safe='')}/events"
        status, answer = self.send_to_hub(path, event.model_dump_json(exclude_none=True).encode(), "application/json")
        return json_reply(
            200 if status < 400 else 502,
            {"event": event.model_dump(mode="json"), "hubStatus": status, "hubAnswer": json.loads(answer or b"null")},
        )


def mwm() -> FieldSystemSimulator:
    return FieldSystemSimulator("MWM", "MWM-{:08d}", ACTIVITY_TYPES["MWM"])


def wam() -> FieldSystemSimulator:
    return FieldSystemSimulator("WAM", "SR-{:06d}", ACTIVITY_TYPES["WAM"])  # WAM 1.9 keeps asset work as service requests


def odm() -> FieldSystemSimulator:
    return FieldSystemSimulator("ODM", "FA-{:06d}", ACTIVITY_TYPES["ODM"])  # ODM 2.1 keeps it as field activities
