"""FW-03, FW-04, FW-08 and FW-09 over HTTP: the synchronous field work points."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel

from utilhub.packs.field_work import queries
from utilhub.packs.field_work.api import CCB_SCOPE, MWM_SCOPE, PREFIX
from utilhub.packs.field_work.model import (
    ACTIVITY_TYPE,
    Appointment,
    AppointmentIn,
    AppointmentWindows,
    InstalledAsset,
    MeterValidation,
    MeterValidationIn,
    ServicePointSummary,
)
from utilhub.platform import problems
from utilhub.platform.api_docs import JsonSchemaMode, Reply, Request, ref
from utilhub.platform.http import HttpApiResolver, create_api, route
from utilhub.syncrequests.model import ID_PATTERN


def _query(app: APIGatewayHttpResolver, name: str, *, pattern: str | None = None, required: bool = True) -> str | None:
    value = (app.current_event.query_string_parameters or {}).get(name)
    if value is None or value == "":
        if required:
            raise problems.invalid(f"The query needs {name}.", [problems.FieldError(f"#/{name}", "required")])
        return None

    if (pattern is not None and not re.match(pattern, value)) or len(value) > 254:
        raise problems.invalid(f"{name} is not valid.", [problems.FieldError(f"#/{name}", "not valid")])
    return value


def _date(app: APIGatewayHttpResolver, name: str) -> date:
    text = _query(app, name)
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise problems.invalid(f"{name} is not a date.", [problems.FieldError(f"#/{name}", "not a date (YYYY-MM-DD)")]) from None


SCHEMAS: dict[str, dict[str, Any]] = {
    "ServicePointsFound": {
        "type": "object",
        "required": ["servicePoints"],
        "properties": {"servicePoints": {"type": "array", "items": ref(ServicePointSummary)}},
    },
    "InstalledAssets": {
        "type": "object",
        "required": ["servicePointId", "source", "assets"],
        "properties": {
            "servicePointId": {"type": "string"},
            "source": {"type": "string", "enum": ["WAM", "ODM"]},
            "assets": {"type": "array", "items": ref(InstalledAsset)},
        },
    },
}
MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ServicePointSummary, "serialization"), (InstalledAsset, "serialization")]
BUDGET = " Synchronous: one call within the route's time budget; the system answering an error is a 502, not answering in time a 504."


def build_api() -> HttpApiResolver:
    # FW-03 and FW-09 are CCB's, FW-04 and FW-08 MWM's
    app = create_api(CCB_SCOPE)

    @route(
        app,
        "GET",
        f"{PREFIX}/appointments/windows",
        summary="Appointment windows MWM can still book (FW-03)",
        description="Query `servicePointId`, `activityType`, `from`, `to` (dates, at most 31 days)." + BUDGET,
        replies=[Reply(200, "The free windows.", AppointmentWindows)],
        problems=[422, 502, 504],
    )
    def windows() -> tuple[int, Any]:
        service_point = str(_query(app, "servicePointId", pattern=ID_PATTERN))
        activity_type = str(_query(app, "activityType", pattern=ACTIVITY_TYPE))
        return 200, queries.appointment_windows(service_point, activity_type, _date(app, "from"), _date(app, "to"))

    @route(
        app,
        "POST",
        f"{PREFIX}/appointments",
        request=Request(AppointmentIn, "The appointment."),
        idempotent=True,
        summary="Book an appointment window at MWM (FW-03)",
        description=(
            "The same `appointmentId` again answers the same booking (MWM refuses a second booking under the id; the hub "
            "then reads the booking MWM holds, so a booking retried after a 504 is answered with it); booked for another "
            "window or canceled is a 409, and so is a window not offered or full."
        )
        + BUDGET,
        replies=[Reply(200, "Booked.", Appointment)],
        problems=[409, 502, 504],
    )
    def book(appointment: AppointmentIn) -> tuple[int, Any]:
        return 200, queries.book_appointment(appointment)

    @route(
        app,
        "POST",
        f"{PREFIX}/appointments/{{appointmentId}}/cancellation",
        summary="Cancel an appointment at MWM (FW-03)",
        description="An appointment MWM does not have is a 404." + BUDGET,
        replies=[Reply(200, "Canceled.", Appointment)],
        problems=[404, 502, 504],
        path_parameters={"appointmentId": {"description": "CCB's id of the appointment.", "schema": {"type": "string"}}},
    )
    def cancel(appointmentId: str) -> tuple[int, Any]:
        return 200, queries.cancel_appointment(appointmentId)

    @route(
        app,
        "POST",
        f"{PREFIX}/meter-validations",
        scope=MWM_SCOPE,
        request=Request(MeterValidationIn, "The meter and what the crew wants to do with it."),
        summary="Validate a meter or item for an installation or a removal (FW-04)",
        description="Validated by CCB under implementation model v1.9, by ODM under v2.1 (`validatedBy`)." + BUDGET,
        replies=[Reply(200, "Whether it is valid, and why not.", MeterValidation)],
        problems=[502, 504],
    )
    def validate(validation: MeterValidationIn) -> tuple[int, Any]:
        return 200, queries.validate_meter(validation)

    @route(
        app,
        "GET",
        f"{PREFIX}/service-points",
        scope=MWM_SCOPE,
        summary="Find service points for an unrelated pickup (FW-08)",
        description="Query by `address` (contains), `postalCode` or `meterBadge`, at CCB; at least one is required." + BUDGET,
        replies=[Reply(200, "The service points found (at most 20).", "ServicePointsFound")],
        problems=[422, 502, 504],
        models=MODELS,
        schemas=SCHEMAS,
    )
    def service_points() -> tuple[int, Any]:
        found = queries.service_points(
            _query(app, "address", required=False),
            _query(app, "postalCode", required=False),
            _query(app, "meterBadge", pattern=ID_PATTERN, required=False),
        )
        return 200, found

    @route(
        app,
        "GET",
        f"{PREFIX}/service-points/{{servicePointId}}/installed-assets",
        summary="Assets installed at a service point, for CCB's service point portal (FW-09)",
        description="From WAM under implementation model v1.9, ODM under v2.1; a service point the system does not have is a 404." + BUDGET,
        replies=[Reply(200, "The installed assets.", "InstalledAssets")],
        problems=[404, 502, 504],
        path_parameters={"servicePointId": {"description": "The service point.", "schema": {"type": "string"}}},
        models=MODELS,
        schemas=SCHEMAS,
    )
    def installed_assets(servicePointId: str) -> tuple[int, Any]:
        return 200, queries.installed_assets(servicePointId)

    return app


api = build_api()
