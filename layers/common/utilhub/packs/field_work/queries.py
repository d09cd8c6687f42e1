"""The synchronous field work points, each one call within the route's time budget (``platform/budget``):
502 when the system answered an error, 504 when it did not answer in time, never a hang.

- FW-03 appointments: available windows, book, cancel (CCB -> MWM);
- FW-04 meter and item validation (MWM -> CCB under v1.9, -> ODM under v2.1);
- FW-08 service point query for an unrelated pickup (MWM -> CCB);
- FW-09 installed assets for CCB's service point portal (CCB -> WAM under v1.9, ODM under v2.1).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ValidationError

from utilhub.packs.field_work.model import (
    Appointment,
    AppointmentIn,
    AppointmentWindows,
    InstalledAsset,
    MeterValidation,
    MeterValidationIn,
    ServicePointSummary,
)
from utilhub.packs.field_work.routing import ASSET_SYSTEM, common_type, type_in
from utilhub.packs.field_work.wiring import connector_for
from utilhub.platform import problems
from utilhub.platform.budget import TimeBudget, bad_gateway
from utilhub.platform.observability import logger
from utilhub.platform.settings import get_settings

MAX_WINDOW_DAYS = 31


def _answer[M: BaseModel](model: type[M], system: str, answer: dict[str, Any] | None) -> M:
    try:
        return model.model_validate(answer)
    except ValidationError as exc:
        raise bad_gateway(system, f"answered an unreadable {model.__name__} ({exc.error_count()} errors)") from None


def appointment_windows(service_point_id: str, activity_type: str, start: date, end: date) -> dict[str, Any]:
    if end < start:
        raise problems.invalid("The period ends before it starts.", [problems.FieldError("#/to", "before from")])
    if (end - start).days > MAX_WINDOW_DAYS:
        raise problems.invalid(
            f"Ask for at most {MAX_WINDOW_DAYS} days.", [problems.FieldError("#/to", f"more than {MAX_WINDOW_DAYS} days after from")]
        )
    mwm_type = _in_mwm(activity_type)
    query = urlencode({"servicePointId": service_point_id, "activityType": mwm_type, "from": start.isoformat(), "to": end.isoformat()})
    answer = TimeBudget().json_call(connector_for("MWM"), "GET", f"appointments/windows?{query}")
    windows = _answer(AppointmentWindows, "MWM", answer)
    return windows.model_copy(update={"activityType": activity_type}).model_dump(mode="json")  # in CCB's code, as asked


def _in_mwm(ccb_type: str) -> str:
    """CCB's activity type (or the hub's) in MWM's code: the domain value map FieldActivityType; a 422 when MWM has none."""
    return type_in("MWM", common_type(ccb_type, "CCB"))


def booking_in_mwm(appointment: AppointmentIn) -> dict[str, Any]:
    """The booking MWM is asked for: CCB's appointment, its activity type in MWM's code."""
    return {**appointment.model_dump(mode="json"), "activityType": _in_mwm(appointment.activityType)}


def book_appointment(appointment: AppointmentIn) -> dict[str, Any]:
    """Book the window. MWM books an appointment id once and refuses another booking under it (409), as it
    refuses a window that is full: a booking retried after a 504 (MWM booked it after the budget ran out) is
    answered with the booking MWM holds for this appointment when it is this window, read within the budget."""
    budget = TimeBudget()
    mwm = connector_for("MWM")
    answer = budget.json_call(mwm, "POST", "appointments", booking_in_mwm(appointment), absent_on=409)
    if answer is not None:
        return _answer(Appointment, "MWM", answer).model_dump(mode="json")
    held = budget.json_call(mwm, "GET", f"appointments/{quote(appointment.appointmentId, safe='')}", absent_on=404)
    booking = _answer(Appointment, "MWM", held) if held is not None else None
    if booking is None:
        raise problems.conflict(
            f"MWM cannot book that window for appointment {appointment.appointmentId}: it is taken or no longer offered."
        )
    if booking.status != "BOOKED":
        raise problems.conflict(f"Appointment {appointment.appointmentId} was canceled at MWM: book under a new appointment id.")
    if booking.window.start != appointment.window.start or booking.window.end != appointment.window.end:
        raise problems.conflict(
            f"Appointment {appointment.appointmentId} is already booked at MWM ({booking.mwmAppointmentId}) for the window "
            f"from {booking.window.start.isoformat()}: cancel it to book another."
        )
    logger.info("booking found at MWM after its refusal", extra={"appointmentId": appointment.appointmentId})
    return booking.model_dump(mode="json")


def cancel_appointment(appointment_id: str) -> dict[str, Any]:
    answer = TimeBudget().json_call(connector_for("MWM"), "POST", f"appointments/{quote(appointment_id, safe='')}/cancellation")
    return _answer(Appointment, "MWM", answer).model_dump(mode="json")


def validate_meter(request: MeterValidationIn) -> dict[str, Any]:
    if request.purpose == "REMOVE" and request.servicePointId is None:
        raise problems.invalid(
            "A removal is validated against the service point it is installed at.",
            [problems.FieldError("#/servicePointId", "required to remove")],
        )
    system = "CCB" if get_settings().field_work.field_work_model == "v1.9" else "ODM"
    answer = TimeBudget().json_call(connector_for(system), "POST", "meter-validations", request.model_dump(mode="json", exclude_none=True))
    return _answer(MeterValidation, system, {**answer, "validatedBy": system}).model_dump(mode="json", exclude_none=True)


def service_points(address: str | None, postal_code: str | None, meter_badge: str | None) -> dict[str, Any]:
    criteria = {k: v for k, v in (("address", address), ("postalCode", postal_code), ("meterBadge", meter_badge)) if v}
    if not criteria:
        raise problems.invalid(
            "Give an address, a postal code or a meter badge.", [problems.FieldError("#/address", "one criterion is required")]
        )
    answer = TimeBudget().json_call(connector_for("CCB"), "GET", f"service-points?{urlencode(criteria)}")
    found = answer.get("servicePoints", [])
    if not isinstance(found, list):
        raise bad_gateway("CCB", "answered service points that are not a list")
    return {"servicePoints": [_answer(ServicePointSummary, "CCB", sp).model_dump(mode="json", exclude_none=True) for sp in found]}


def installed_assets(service_point_id: str) -> dict[str, Any]:
    system = ASSET_SYSTEM[get_settings().field_work.field_work_model]
    answer = TimeBudget().json_call(connector_for(system), "GET", f"service-points/{quote(service_point_id, safe='')}/assets")
    found = answer.get("assets", [])
    if not isinstance(found, list):
        raise bad_gateway(system, "answered assets that are not a list")
    assets = [_answer(InstalledAsset, system, a).model_dump(mode="json", exclude_none=True) for a in found]
    return {"servicePointId": service_point_id, "source": system, "assets": assets}
