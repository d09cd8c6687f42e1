"""FW-03: a booking's window must end after it starts, as MWM requires: refused at intake (422), never forwarded for
MWM to refuse (a 502 the spec conformance run found)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from utilhub.packs.field_work.model import AppointmentIn

BOOKING = {"appointmentId": "AP-1", "activityId": "FA-1", "servicePointId": "SP-1", "activityType": "METER-EXCHANGE"}


@pytest.mark.parametrize("end", ["2026-12-07T09:00:00Z", "2026-12-07T08:00:00Z"])
def test_a_window_that_does_not_end_after_it_starts_is_refused(end: str) -> None:
    with pytest.raises(ValidationError, match="a window ends after it starts"):
        AppointmentIn.model_validate({**BOOKING, "window": {"start": "2026-12-07T09:00:00Z", "end": end}})


def test_a_window_that_ends_after_it_starts_is_taken() -> None:
    booked = AppointmentIn.model_validate({**BOOKING, "window": {"start": "2026-12-07T09:00:00Z", "end": "2026-12-07T11:00:00Z"}})
    assert booked.window.end > booked.window.start
