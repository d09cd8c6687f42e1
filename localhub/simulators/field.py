"""Field systems: Mobile Workforce Management (MWM), WAM 1.9 and WAM/ODM 2.1, and CCB's field activities.

Each keeps activities created by the hub (``POST /activities`` with the library's ``ActivityIn`` and an
``externalId``; a second one for an external id is refused with 409, and ``GET /activities?externalId=``
finds it), under an id of its own format, and takes their events (``POST /activities/{id}/events`` with
the library's ``ActivityEventIn``): an event id it has already applied answers the same again; an event
after completion or cancellation is refused with 409. Each system takes only the activity types it
works: WAM keeps asset work as service requests, ODM as field activities, CCB takes pickups.

A field system is also a source: ``POST /activities/{id}/report`` ``{"event": "COMPLETE", ...}`` applies an
event there (a crew completes the work) and sends it to the hub (FW-02), as the real system's outbound
message would.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from pydantic import ValidationError

from localhub.simulators.base import Reply, Simulator, SimulatorError, json_reply
from utilhub.packs.field_work.model import ActivityEventIn, ActivityIn

HubSender = Callable[[str, bytes, str], tuple[int, bytes]]
ASSET_WORK = frozenset({"METER-INSTALL", "METER-EXCHANGE", "METER-REMOVE", "ASSET-INSPECTION", "ASSET-REPAIR"})
CLOSED = {"COMPLETE": "COMPLETED", "CANCEL": "CANCELED"}


class FieldActivityBook:
    """One system's field activities, as its services keep them."""

    def __init__(self, simulator: Simulator, id_format: str, accepts: frozenset[str] | None = None) -> None:
        self._simulator = simulator
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

    def adopt(self, activity: ActivityIn) -> None:
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
            raw = json.loads(body)
            external = str(raw.pop("externalId"))
            activity = ActivityIn.model_validate(raw)
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            raise SimulatorError(f"invalid activity: {exc}") from None
        if external != f"{activity.sourceSystem}:{activity.activityId}":
            raise SimulatorError(f"externalId {external} does not name the activity's source and id")
        if self._accepts is not None and activity.activityType not in self._accepts:
            return json_reply(422, {"message": f"{self._simulator.system} does not work {activity.activityType} activities"})
        if fault := self._simulator.take_fault("reject"):
            return json_reply(422, {"message": fault.reason})
        if external in self.by_external_id:
            return json_reply(409, {"message": f"an activity for {external} exists", "id": self.by_external_id[external]})
        activity_id = self._id_format.format(next(self._ids))
        self.by_external_id[external] = activity_id
        self._simulator.records[f"ACTIVITY#{activity_id}"] = {
            "externalId": external,
            **activity.model_dump(mode="json", exclude_none=True),
            "status": "OPEN",
            "events": [],
        }
        self._simulator.note_received({"operation": "create", "externalId": external, "id": activity_id})
        return json_reply(201, {"id": activity_id})

    @staticmethod
    def _event(body: bytes) -> ActivityEventIn:
        try:
            return ActivityEventIn.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid event: {exc.errors(include_url=False, include_input=False)}") from None

    def apply(self, activity_id: str, event: ActivityEventIn) -> Reply:
        if not self._exists(activity_id):
            return json_reply(404, {"message": f"no activity {activity_id}"})
        record = self._simulator.records[f"ACTIVITY#{activity_id}"]
        if event.eventId in (e["eventId"] for e in record["events"]):
            return json_reply(200, {"id": activity_id, "status": record["status"]})
        if record["status"] != "OPEN":
            return json_reply(409, {"message": f"activity {activity_id} is {record['status']}"})
        record["events"].append({"eventId": event.eventId, "event": event.event, "at": event.at.isoformat()})
        if event.event == "UPDATE" and event.changes:
            record.update({k: v for k, v in event.changes.items() if k in ("scheduledDate", "priority", "description")})
        if event.event == "COMPLETE":
            record["completion"] = event.model_dump(mode="json", include={"readings", "remarks", "attachments"})
        record["status"] = CLOSED.get(event.event, "OPEN")
        self._simulator.note_received({"operation": event.event.lower(), "id": activity_id, "eventId": event.eventId})
        return json_reply(200, {"id": activity_id, "status": record["status"]})


class FieldSystemSimulator(Simulator):
    """MWM, WAM or ODM."""

    def __init__(self, system: str, id_format: str, accepts: frozenset[str] | None = None) -> None:
        super().__init__(system=system)
        self.book = FieldActivityBook(self, id_format, accepts)
        self.send_to_hub: HubSender | None = None
        self._events = itertools.count(1)

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        parts = urlsplit(path).path.strip("/").split("/")
        if parts[0] != "activities":
            return json_reply(404, {"message": f"no such {self.system} service"})
        with self._lock:
            if method == "POST" and len(parts) == 3 and parts[2] == "report":
                return self.report(unquote(parts[1]), body)
            return self.book.handle(method, path, parts, body)

    def requires_credentials(self, path: str) -> bool:
        return not path.rstrip("/").endswith("/report")  # a crew's report is the system's own user's

    def report(self, activity_id: str, body: bytes) -> Reply:
        """A crew reports an event in this system: applied here, then sent to the hub."""
        if self.send_to_hub is None:
            raise SimulatorError(f"{self.system} is not connected to a hub")
        try:
            raw = json.loads(body)
            event = ActivityEventIn.model_validate(
                {
                    "eventId": f"{self.system}-EV-{next(self._events):06d}",
                    "at": datetime.now(UTC).isoformat(),
                    **raw,
                    "fromSystem": self.system,
                }
            )
        except (ValueError, TypeError, ValidationError) as exc:
            raise SimulatorError(f"invalid report: {exc}") from None
        applied = self.book.apply(activity_id, event)
        if applied.status != 200:
            return applied
        source, source_id = self.book.activity(activity_id)["externalId"].split(":", 1)
        path = f"/field-work/activities/{quote(source, safe='')}/{quote(source_id, safe='')}/events"
        status, answer = self.send_to_hub(path, event.model_dump_json().encode(), "application/json")
        return json_reply(
            200 if status < 400 else 502,
            {"event": event.model_dump(mode="json"), "hubStatus": status, "hubAnswer": json.loads(answer or b"null")},
        )


def mwm() -> FieldSystemSimulator:
    return FieldSystemSimulator("MWM", "MWM-{:08d}")


def wam() -> FieldSystemSimulator:
    return FieldSystemSimulator("WAM", "SR-{:06d}", ASSET_WORK)  # WAM 1.9 keeps asset work as service requests


def odm() -> FieldSystemSimulator:
    return FieldSystemSimulator("ODM", "FA-{:06d}", ASSET_WORK)  # ODM 2.1 keeps it as field activities
