"""packs/field_work/store.py: an activity is found by its source's id or by the id a routed system gave it,
through the cross-reference written when the hub linked it there (key reads only, no scan)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from tests.helpers import moto_xref_table
from utilhub.packs.field_work.model import ActivityIn
from utilhub.packs.field_work.store import ActivityStore


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with moto_xref_table(monkeypatch) as created:
        yield created


def meter_exchange(activity_id: str = "FA-1") -> ActivityIn:
    return ActivityIn.model_validate(
        {"sourceSystem": "CCB", "activityId": activity_id, "activityType": "METER-EXCHANGE", "servicePointId": "SP-0001"}
    )


def test_a_routed_system_names_the_activity_by_the_id_it_gave_it(table: Any) -> None:
    # Given CCB's activity created in MWM and ODM, each id linked
    store = ActivityStore(table)
    assert store.create(meter_exchange(), "hash", ["MWM", "ODM"])
    store.link(meter_exchange(), "MWM", "MWM-00000007")
    store.link(meter_exchange(), "ODM", "FA-000003")

    # When each system names it by its own id, and CCB by its own
    by_mwm, by_odm, by_ccb = store.find("MWM", "MWM-00000007"), store.find("ODM", "FA-000003"), store.find("CCB", "FA-1")

    # Then each finds CCB's activity, with every system's id
    for found in (by_mwm, by_odm, by_ccb):
        assert found is not None
        assert (found.activity.sourceSystem, found.activity.activityId) == ("CCB", "FA-1")
        assert found.links == {"CCB": "FA-1", "MWM": "MWM-00000007", "ODM": "FA-000003"}


def test_an_id_no_system_gave_the_activity_finds_nothing(table: Any) -> None:
    # Given CCB's activity linked in MWM
    store = ActivityStore(table)
    assert store.create(meter_exchange(), "hash", ["MWM"])
    store.link(meter_exchange(), "MWM", "MWM-00000007")

    # When another MWM id, CCB's id under MWM, or MWM's id under ODM names it
    # Then nothing is found
    assert store.find("MWM", "MWM-00000008") is None
    assert store.find("MWM", "FA-1") is None
    assert store.find("ODM", "MWM-00000007") is None


def test_an_id_the_activity_no_longer_has_there_finds_nothing(table: Any) -> None:
    # Given CCB's activity linked in MWM, canceled there by a compensation and created anew on resubmission
    store = ActivityStore(table)
    assert store.create(meter_exchange(), "hash", ["MWM"])
    store.link(meter_exchange(), "MWM", "MWM-00000007")
    store.unlink(meter_exchange(), "MWM", "MWM-00000007")
    store.link(meter_exchange(), "MWM", "MWM-00000009")

    # When MWM names it by the canceled id, then by the new one
    # Then only the id the activity has in MWM now finds it
    assert store.find("MWM", "MWM-00000007") is None
    found = store.find("MWM", "MWM-00000009")
    assert found is not None
    assert found.activity.activityId == "FA-1"


def test_an_activity_type_is_taken_in_upper_case_only() -> None:
    # Given the hub's code of a meter exchange, as docs/packs/field-work.md says it is posted, and in lower case
    body = {"sourceSystem": "CCB", "activityId": "FA-9", "servicePointId": "SP-0001"}
    assert ActivityIn.model_validate({**body, "activityType": "METER-EXCHANGE"}).activityType == "METER-EXCHANGE"
    # Then the lower case one is refused (the field's pattern, before the map's case-insensitive look-up is reached)
    with pytest.raises(ValidationError, match="activityType"):
        ActivityIn.model_validate({**body, "activityType": "meter-exchange"})
