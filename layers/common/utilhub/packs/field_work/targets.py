"""The field systems' activity services as the hub uses them (JSON over HTTPS): MWM, WAM, ODM, and
CCB for activities routed to it (a pickup). One base URL and secret per system (configuration).

Each system takes an activity in its own shape: MWM (and CCB) its activity (:func:`field_activity`), WAM v1.9 a
service request (:func:`wam_service_request`), WAM/ODM v2.1 a field activity (:func:`odm_field_activity`).

An activity is created once per system: the system refuses a second one with the same external id
(409) and the client then reads the one there, so a step retried after a lost answer makes nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from utilhub.packs.field_work.model import ActivityEventIn, ActivityIn, FieldActivityOut, OdmFieldActivityOut, WamServiceRequestOut
from utilhub.platform.connectors import HttpConnector, TargetRejected, TargetUnavailable

JSON = "application/json"


def external_id(activity: ActivityIn) -> str:
    return f"{activity.sourceSystem}:{activity.activityId}"


# WAM v1.9's priority codes: numbers, 1 the most urgent (the hub's four levels, in order)
WAM_PRIORITY_CODES = {"EMERGENCY": 1, "HIGH": 2, "NORMAL": 3, "LOW": 4}


def field_activity(activity: ActivityIn) -> dict[str, Any]:
    """MWM's (and CCB's) activity: the hub's fields as they are, filed under the external id."""
    return FieldActivityOut(externalId=external_id(activity), **activity.model_dump()).model_dump(mode="json", exclude_none=True)


def wam_service_request(activity: ActivityIn) -> dict[str, Any]:
    """WAM v1.9's service request: its own names, its numeric priority code."""
    return WamServiceRequestOut(
        externalSystem=activity.sourceSystem,
        externalReference=activity.activityId,
        requestType=activity.activityType,
        servicePoint=activity.servicePointId,
        dateRequired=activity.scheduledDate,
        priorityCode=WAM_PRIORITY_CODES[activity.priority],
        meterBadge=activity.meterId,
        problemDescription=activity.description,
        requestor=activity.customer,
    ).model_dump(mode="json", exclude_none=True)


def odm_field_activity(activity: ActivityIn) -> dict[str, Any]:
    """WAM/ODM v2.1's field activity: its own names."""
    return OdmFieldActivityOut(
        originatingSystem=activity.sourceSystem,
        originatingActivityId=activity.activityId,
        fieldActivityType=activity.activityType,
        servicePointId=activity.servicePointId,
        scheduledDate=activity.scheduledDate,
        priority=activity.priority,
        deviceBadgeNumber=activity.meterId,
        instructions=activity.description,
        customerContact=activity.customer,
    ).model_dump(mode="json", exclude_none=True)


# the activity as each system's activity service takes it (its type and service point already in the system's own)
ACTIVITY_BODIES: dict[str, Callable[[ActivityIn], dict[str, Any]]] = {
    "CCB": field_activity,
    "MWM": field_activity,
    "WAM": wam_service_request,
    "ODM": odm_field_activity,
}


class FieldSystemClient:
    def __init__(self, connector: HttpConnector) -> None:
        self._connector = connector

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        raw = json.dumps(body).encode() if body is not None else None
        response = self._connector.request(method, path, raw, content_type=JSON)
        answer = json.loads(response.body) if response.body else {}
        return answer if isinstance(answer, dict) else {}

    def create(self, activity: ActivityIn) -> str:
        """The id the system gives the activity (the one it already had for it, after a lost answer)."""
        body = ACTIVITY_BODIES[self._connector.system](activity)
        try:
            return str(self._call("POST", "activities", body)["id"])
        except TargetRejected as exc:
            if exc.status != 409:
                raise
        found = self.find(activity)
        if found is None:
            raise TargetUnavailable(
                f"{self._connector.system} refused activity {external_id(activity)} as a duplicate but does not find it"
            )
        return found

    def find(self, activity: ActivityIn) -> str | None:
        """The system's id for the activity (by its external id), or None when it has none."""
        try:
            found = self._call("GET", f"activities?externalId={quote(external_id(activity), safe='')}")
        except TargetRejected as exc:
            if exc.status != 404:
                raise
            return None
        return str(found["id"]) if "id" in found else None

    def send_event(self, target_id: str, event: ActivityEventIn) -> None:
        """Apply an update, cancellation or completion to the system's own activity (it ignores an event id it has)."""
        self._call("POST", f"activities/{quote(target_id, safe='')}/events", event_body(event, self._connector.system))


def event_body(event: ActivityEventIn, system: str) -> dict[str, Any]:
    """The event as ``system`` takes it. A completion's meters go to MWM, WAM and ODM as the hub has them
    (``meters``); CCB takes them in its field activity completion's shape: ``meterInstalls`` and ``meterRemovals``,
    each ``{"badgeNumber","registerReads":[{"registerId","readDateTime","reading"}]}``."""
    body = event.model_dump(mode="json", exclude_none=True)
    meters = body.pop("meters", [])
    if not meters:
        return body
    if system != "CCB":
        return {**body, "meters": meters}
    for action, collection in (("INSTALLED", "meterInstalls"), ("REMOVED", "meterRemovals")):
        chosen = [
            {
                "badgeNumber": meter["badgeNumber"],
                "registerReads": [
                    {"registerId": r["registerId"], "readDateTime": r["readAt"], "reading": r["value"]} for r in meter["readings"]
                ],
            }
            for meter in meters
            if meter["action"] == action
        ]
        if chosen:
            body[collection] = chosen
    return body
