"""FW-03, FW-04, FW-08 and FW-09 over HTTP: the synchronous field work points."""

from __future__ import annotations

import re
from datetime import date

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from utilhub.packs.field_work import queries
from utilhub.packs.field_work.api import CCB_SCOPE, MWM_SCOPE, PREFIX
from utilhub.packs.field_work.model import ACTIVITY_TYPE, AppointmentIn, MeterValidationIn
from utilhub.platform import problems
from utilhub.platform.http import create_api, json_response, once_per_key, parsed, read_body
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


def build_api() -> APIGatewayHttpResolver:
    # FW-03 and FW-09 are CCB's, FW-04 and FW-08 MWM's
    app = create_api(CCB_SCOPE, {f"POST {PREFIX}/meter-validations": MWM_SCOPE, f"GET {PREFIX}/service-points": MWM_SCOPE})

    @app.get(f"{PREFIX}/appointments/windows")
    def windows() -> Response[str]:
        service_point = str(_query(app, "servicePointId", pattern=ID_PATTERN))
        activity_type = str(_query(app, "activityType", pattern=ACTIVITY_TYPE))
        return json_response(200, queries.appointment_windows(service_point, activity_type, _date(app, "from"), _date(app, "to")))

    @app.post(f"{PREFIX}/appointments")
    def book() -> Response[str]:
        body = read_body(app, xml=False)
        appointment = parsed(AppointmentIn, body.json)
        return once_per_key(app, body, lambda: (200, queries.book_appointment(appointment)))

    @app.post(f"{PREFIX}/appointments/<appointmentId>/cancellation")
    def cancel(appointmentId: str) -> Response[str]:
        return json_response(200, queries.cancel_appointment(appointmentId))

    @app.post(f"{PREFIX}/meter-validations")
    def validate() -> Response[str]:
        body = read_body(app, xml=False)
        return json_response(200, queries.validate_meter(parsed(MeterValidationIn, body.json)))

    @app.get(f"{PREFIX}/service-points")
    def service_points() -> Response[str]:
        found = queries.service_points(
            _query(app, "address", required=False),
            _query(app, "postalCode", required=False),
            _query(app, "meterBadge", pattern=ID_PATTERN, required=False),
        )
        return json_response(200, found)

    @app.get(f"{PREFIX}/service-points/<servicePointId>/installed-assets")
    def installed_assets(servicePointId: str) -> Response[str]:
        return json_response(200, queries.installed_assets(servicePointId))

    return app


api = build_api()
