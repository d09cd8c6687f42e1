"""FW-01's finish and cancel steps act at their execution's attempt only (packs/field_work/activities.py, ``run_step``):
an older attempt's execution (redriven, or still running when its attempt was put in ERROR and resubmitted) records
nothing and cancels nothing once a newer attempt holds the activity; it answers ``SUPERSEDED`` and its workflow ends
there, succeeded. The steps get the payloads the state machine sends them; the activities' table is moto's, in process.
The same through the workflow, run by the local interpreter: tests/integration/test_field_work_activities.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from localhub.template import ROOT, Template
from tests.helpers import moto_xref_table
from utilhub.packs.field_work.activities import creation_input, run_step
from utilhub.packs.field_work.model import ActivityIn
from utilhub.packs.field_work.store import ActivityStore
from utilhub.platform.observability import metrics

KEY = {"sourceSystem": "CCB", "activityId": "FA-OLD"}
CREATED = [{"target": "MWM", "id": "MWM-1"}, {"target": "ODM", "id": "FA-1"}]
STATES = json.loads(
    (ROOT / Template.load().resources["FieldActivityStateMachine"]["Properties"]["DefinitionUri"]).read_text(encoding="utf-8")
)["States"]
REFUSED = {"Error": "TargetRejected", "Cause": json.dumps({"errorMessage": "HTTP 422"})}


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[ActivityStore]:
    with moto_xref_table(monkeypatch) as table:
        yield ActivityStore(table)


def meter_exchange() -> ActivityIn:
    return ActivityIn.model_validate({**KEY, "activityType": "METER-EXCHANGE", "servicePointId": "SP-0001"})


def resubmitted(store: ActivityStore) -> ActivityIn:
    """The activity put in ERROR at attempt 1, then resubmitted: CREATING under attempt 2."""
    activity = meter_exchange()
    assert store.create(activity, "hash", ["MWM", "ODM"])
    assert store.finish(activity, "ERROR", "not created in ODM (TargetRejected: HTTP 422)", attempt=1) is not None
    record = store.get("CCB", "FA-OLD")
    assert record is not None
    assert store.new_attempt(record, "resubmitted") is not None
    return activity


def status_of(store: ActivityStore) -> tuple[str, int, str]:
    record = store.get("CCB", "FA-OLD")
    assert record is not None
    return record.status, record.attempt, record.history[-1]["reason"]


def counted(name: str) -> list[float]:
    emitted = metrics.metric_set.get(name)
    return [] if emitted is None else list(emitted["Value"])


def resolved(parameters: dict[str, Any], state_input: dict[str, Any], execution_input: dict[str, Any]) -> dict[str, Any]:
    """A state's ``Parameters`` as Step Functions makes them: ``key.$`` read from the state's input (``$.``) or the
    execution's (``$$.Execution.Input``); a path that is not there fails the state (``States.Runtime``, which no
    Catch takes): a KeyError here."""
    made: dict[str, Any] = {}
    for key, value in parameters.items():
        if key.endswith(".$"):
            root, path = (
                (execution_input, value.removeprefix("$$.Execution.Input")) if value.startswith("$$.") else (state_input, value[1:])
            )
            found: Any = root
            for part in filter(None, path.split(".")):
                found = found[part]
            made[key[:-2]] = found
        else:
            made[key] = resolved(value, state_input, execution_input) if isinstance(value, dict) else value
    return made


def finish(attempt: int | None, **outcome: Any) -> dict[str, Any]:
    """The finish step as the state machine's ``Linked`` (``created``) or ``Failed`` (``failure``...) state sends it,
    in an execution started with ``attempt`` in its input (None: without one, as before the steps carried it)."""
    state = STATES["Linked" if "created" in outcome else "Failed"]
    execution_input: dict[str, Any] = {"activity": KEY} if attempt is None else {"activity": KEY, "attempt": attempt}
    return run_step(resolved(state["Parameters"]["Payload"], {"activity": KEY, **outcome}, execution_input))


SUPERSEDED = {"status": "SUPERSEDED", "failure": None, "attempt": 1, "current": 2}


@pytest.mark.parametrize(
    "outcome",
    [
        {"failure": REFUSED, "canceled": [{"target": "MWM", "canceled": True}], "compensationError": None},  # Failed
        {"created": CREATED},  # Linked, every create done
        {"created": [CREATED[0], {"target": "ODM", "failure": REFUSED}]},  # Linked, one missing: no compensation either
    ],
    ids=["error", "linked", "incomplete"],
)
def test_an_older_attempts_finish_records_nothing_over_a_newer_attempt(store: ActivityStore, outcome: dict[str, Any]) -> None:
    # Given an activity CREATING under attempt 2 (resubmitted after attempt 1 ended in ERROR)
    resubmitted(store)

    # When attempt 1's execution (redriven) reaches its finish step
    answer = finish(1, **outcome)

    # Then it is superseded: nothing recorded, nothing counted, the activity still CREATING under attempt 2
    assert answer == SUPERSEDED
    assert status_of(store) == ("CREATING", 2, "resubmitted (attempt 2)")
    assert counted("FieldActivitiesFailed") == []


@pytest.mark.parametrize(
    ("outcome", "recorded"),
    [
        ({"created": CREATED}, ("LINKED", 2, "created and linked in every routed system")),
        (
            {"failure": REFUSED, "canceled": [], "compensationError": None},
            ("ERROR", 2, "TargetRejected: HTTP 422"),
        ),
    ],
    ids=["linked", "error"],
)
def test_the_newer_attempts_finish_records_its_outcome(
    store: ActivityStore, outcome: dict[str, Any], recorded: tuple[str, int, str]
) -> None:
    # Given an activity CREATING under attempt 2, whose attempt 1 (redriven) came to its finish first
    resubmitted(store)
    assert finish(1, **outcome)["status"] == "SUPERSEDED"

    # When attempt 2's execution reaches its finish step
    answer = finish(2, **outcome)

    # Then its outcome is recorded, at attempt 2
    assert answer["status"] == recorded[0]
    assert status_of(store) == recorded


def test_a_finish_at_the_records_attempt_records_linked_once(store: ActivityStore) -> None:
    # Given an activity being created (attempt 1)
    activity = meter_exchange()
    assert store.create(activity, "hash", ["MWM", "ODM"])

    # When its finish step comes with its attempt, every create done; then a retry of that step
    linked = finish(1, created=CREATED)
    again = finish(1, created=CREATED)

    # Then it is LINKED once
    assert linked == again == {"status": "LINKED", "failure": None}
    record = store.get("CCB", "FA-OLD")
    assert record is not None
    assert (record.status, [h["status"] for h in record.history]) == ("LINKED", ["CREATING", "LINKED"])


def test_a_finish_at_the_records_attempt_records_error(store: ActivityStore) -> None:
    # Given an activity being created (attempt 1)
    assert store.create(meter_exchange(), "hash", ["MWM", "ODM"])

    # When its Failed state's finish comes with its attempt
    answer = finish(1, failure=REFUSED, canceled=[{"target": "MWM", "canceled": True}], compensationError=None)

    # Then the ERROR is recorded and counted
    assert answer == {"status": "ERROR", "reason": "TargetRejected: HTTP 422"}
    assert status_of(store) == ("ERROR", 1, "TargetRejected: HTTP 422")
    assert counted("FieldActivitiesFailed") == [1.0]


def test_a_finish_without_an_attempt_records_as_before(store: ActivityStore) -> None:
    # Given an activity CREATING under attempt 2
    resubmitted(store)

    # When a finish step comes without an attempt (an execution started before its steps carried one: which attempt
    # it ran is unknown, and it may be this one)
    answer = finish(None, created=CREATED)

    # Then it records as it always did
    assert answer == {"status": "LINKED", "failure": None}
    assert status_of(store)[:2] == ("LINKED", 2)


def test_an_older_attempts_cancel_cancels_nothing(store: ActivityStore) -> None:
    # Given an activity CREATING under attempt 2, linked at MWM by it
    activity = resubmitted(store)
    store.link(activity, "MWM", "MWM-2")

    # When attempt 1's execution (redriven) compensates at MWM (the step as creation_input gives it; no target is
    # configured here: a call to MWM would fail the step)
    cancel = json.loads(creation_input(activity, ["MWM", "ODM"], 1))["cancels"][0]
    answer = run_step(cancel)

    # Then nothing is canceled, and the link attempt 2 made is kept
    assert answer == {"target": "MWM", "canceled": False}
    record = store.get("CCB", "FA-OLD")
    assert record is not None
    assert (record.status, record.links.get("MWM")) == ("CREATING", "MWM-2")


def test_the_finish_states_send_the_executions_attempt_and_a_superseded_finish_ends_the_workflow() -> None:
    machine = Template.load().resources["FieldActivityStateMachine"]["Properties"]
    states = json.loads((ROOT / machine["DefinitionUri"]).read_text(encoding="utf-8"))["States"]
    execution = json.loads(creation_input(meter_exchange(), ["MWM"], 3))

    # the attempt from the execution's own input (never reshaped by a state's ResultPath or a Catch), where the start puts it
    assert execution["attempt"] == 3
    for name in ("Linked", "Failed"):
        assert states[name]["Parameters"]["Payload"]["execution.$"] == "$$.Execution.Input", name
    # a superseded Linked goes to a Succeed state (no compensation, no OutcomeNotRecorded); Failed ends with its answer
    rule = next(c for c in states["CreatedEverywhere"]["Choices"] if c.get("StringEquals") == "SUPERSEDED")
    assert states[rule["Next"]]["Type"] == "Succeed"
    assert states["Failed"].get("End") is True
