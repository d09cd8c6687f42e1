"""FW-02: a completion names the meters installed or removed (badge number, register reads); every other linked
system gets them, CCB in its field activity completion's shape (packs/field_work/model.py, targets.event_body). Pure."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from utilhub.packs.field_work.model import ActivityEventIn
from utilhub.packs.field_work.targets import event_body

EXCHANGE: list[dict[str, Any]] = [
    {"action": "REMOVED", "badgeNumber": "B-0001", "readings": [{"registerId": "R1", "value": 1234.5, "readAt": "2026-12-01T10:00:00Z"}]},
    {"action": "INSTALLED", "badgeNumber": "B-0060", "readings": [{"registerId": "R1", "value": 0, "readAt": "2026-12-01T10:05:00Z"}]},
]


def completion(**fields: Any) -> dict[str, Any]:
    return {"eventId": "E-1", "event": "COMPLETE", "at": "2026-12-01T10:10:00Z", **fields}


def test_ccb_gets_the_meters_as_its_installs_and_removals_with_register_reads() -> None:
    # Given a meter exchange's completion: one meter removed, one installed, each with a register read
    event = ActivityEventIn.model_validate(completion(meters=EXCHANGE))

    # When it is shaped for CCB and for ODM
    to_ccb, to_odm = event_body(event, "CCB"), event_body(event, "ODM")

    # Then CCB gets its completion steps, ODM the meters as the hub has them
    assert to_ccb["meterRemovals"] == [
        {"badgeNumber": "B-0001", "registerReads": [{"registerId": "R1", "readDateTime": "2026-12-01T10:00:00Z", "reading": 1234.5}]}
    ]
    assert to_ccb["meterInstalls"] == [
        {"badgeNumber": "B-0060", "registerReads": [{"registerId": "R1", "readDateTime": "2026-12-01T10:05:00Z", "reading": 0.0}]}
    ]
    assert "meters" not in to_ccb
    assert [(m["action"], m["badgeNumber"], m["readings"][0]["value"]) for m in to_odm["meters"]] == [
        ("REMOVED", "B-0001", 1234.5),
        ("INSTALLED", "B-0060", 0.0),
    ]
    assert "meterInstalls" not in to_odm


def test_an_event_without_meters_carries_no_meter_member_to_any_system() -> None:
    event = ActivityEventIn.model_validate(completion(remarks="read only"))
    assert {"meters", "meterInstalls", "meterRemovals"} & (set(event_body(event, "CCB")) | set(event_body(event, "MWM"))) == set()


def test_a_removal_only_gives_ccb_no_installs() -> None:
    event = ActivityEventIn.model_validate(completion(meters=EXCHANGE[:1]))
    assert set(event_body(event, "CCB")) & {"meterInstalls", "meterRemovals"} == {"meterRemovals"}


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"eventId": "E-2", "event": "UPDATE", "at": "2026-12-01T10:00:00Z", "meters": EXCHANGE}, ("meters",)),
        (completion(meters=[*EXCHANGE, EXCHANGE[0]]), ("meters",)),  # the same meter removed twice
        (completion(meters=[{**EXCHANGE[0], "action": "SWAPPED"}]), ("meters", 0, "action")),
        (completion(meters=[{**EXCHANGE[0], "badgeNumber": "B 1"}]), ("meters", 0, "badgeNumber")),
        (completion(meters=[{**EXCHANGE[0], "readings": [*EXCHANGE[0]["readings"], *EXCHANGE[0]["readings"]]}]), ("meters", 0, "readings")),
        (
            completion(meters=[{**EXCHANGE[0], "readings": [{"registerId": "R1", "value": -1, "readAt": "2026-12-01T10:00:00Z"}]}]),
            ("meters", 0, "readings", 0, "value"),
        ),
        (
            completion(meters=[{**EXCHANGE[0], "readings": [{"registerId": "R1", "value": 1, "readAt": "2026-12-01T10:00:00"}]}]),
            ("meters", 0, "readings", 0, "readAt"),
        ),
    ],
)
def test_meters_a_completion_cannot_carry_are_refused_at_their_field(body: dict[str, Any], location: tuple[Any, ...]) -> None:
    with pytest.raises(ValidationError) as refused:
        ActivityEventIn.model_validate(body)
    assert [e["loc"] for e in refused.value.errors()] == [location]
