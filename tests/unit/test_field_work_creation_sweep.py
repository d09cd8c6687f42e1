"""FW-01's creation sweep (packs/field_work/activities.py, ``end_creations_that_ended``): an activity left CREATING
past the workflow's longest span whose attempt's execution ended without recording the outcome, or never started,
goes to ERROR; nothing else does. The activities' table (with its sparse index ``Creating``, as the template builds
it) and Step Functions are moto's, in process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import moto_xref_table
from utilhub.packs.field_work import activities
from utilhub.packs.field_work.activities import body_hash, creation_input, end_creations_that_ended, execution_name, submit
from utilhub.packs.field_work.model import ActivityIn
from utilhub.packs.field_work.store import ActivityStore, shard_of
from utilhub.platform import wiring
from utilhub.platform.observability import metrics
from utilhub.platform.problems import Problem

BOUND = timedelta(seconds=10_800)  # the settings' default, the template's value


@dataclass
class Hub:
    store: ActivityStore
    sfn: Any
    machine: str

    def start(self, activity: ActivityIn, attempt: int = 1) -> str:
        name = execution_name(activity, attempt)
        return str(self.sfn.start_execution(stateMachineArn=self.machine, name=name, input="{}")["executionArn"])


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    import boto3

    # executions only recorded, never run (a local hub started earlier in this process may have set moto to run them)
    with moto_xref_table(monkeypatch, {"stepfunctions": {"execute_state_machine": False}}) as table:
        sfn = boto3.client("stepfunctions")
        definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
        machine = sfn.create_state_machine(
            name="field-activities", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        monkeypatch.setenv("UTILHUB_FIELD_WORK_STATE_MACHINE_ARN", machine)
        wiring.reset()
        yield Hub(ActivityStore(table), sfn, machine)


def meter_exchange(activity_id: str) -> ActivityIn:
    return ActivityIn.model_validate(
        {"sourceSystem": "CCB", "activityId": activity_id, "activityType": "METER-EXCHANGE", "servicePointId": "SP-0001"}
    )


def creating(hub: Hub, activity_id: str) -> ActivityIn:
    activity = meter_exchange(activity_id)
    assert hub.store.create(activity, "hash", ["MWM", "ODM"])
    return activity


def sweep(after: timedelta, *, out_of_time: bool = False) -> dict[str, int]:
    at = datetime.now(UTC) + after
    return end_creations_that_ended(lambda: at, lambda: out_of_time)


def status_of(hub: Hub, activity_id: str) -> tuple[str, int, str]:
    record = hub.store.get("CCB", activity_id)
    assert record is not None
    return record.status, record.attempt, record.history[-1]["reason"]


def counted(name: str) -> list[float]:
    emitted = metrics.metric_set.get(name)
    return [] if emitted is None else list(emitted["Value"])


def test_an_activity_whose_creation_was_stopped_is_put_in_error_past_the_bound_and_counted(hub: Hub) -> None:
    # Given two activities CREATING whose executions an operator stopped (ABORTED)
    for activity_id in ("FA-STOP1", "FA-STOP2"):
        hub.sfn.stop_execution(executionArn=hub.start(creating(hub, activity_id)))

    # When the sweep runs just within the bound, then just past it
    within = sweep(BOUND - timedelta(seconds=5))
    past = sweep(BOUND + timedelta(seconds=5))

    # Then nothing within; past it both are in ERROR, at their attempt, with how the execution ended; counted as
    # FieldActivitiesFailed (the alarm of activities in ERROR), and no longer among the activities being created
    assert within == {"ended": 0, "running": 0, "started": 0, "outOfTime": 0}
    assert past == {"ended": 2, "running": 0, "started": 0, "outOfTime": 0}
    for activity_id in ("FA-STOP1", "FA-STOP2"):
        assert status_of(hub, activity_id) == ("ERROR", 1, "the creation (attempt 1) ended ABORTED without recording its outcome")
    assert counted("FieldActivitiesFailed") == [2.0]
    assert list(hub.store.creating_before(datetime.now(UTC) + 2 * BOUND)) == []


def test_an_execution_still_running_past_the_bound_is_left_to_its_workflow(hub: Hub) -> None:
    # Given an activity CREATING whose execution runs
    hub.start(creating(hub, "FA-RUN"))

    # When the sweep runs past the bound
    outcome = sweep(BOUND + timedelta(seconds=5))

    # Then it is still CREATING, counted as running, nothing in ERROR
    assert outcome == {"ended": 0, "running": 1, "started": 0, "outOfTime": 0}
    assert status_of(hub, "FA-RUN")[0] == "CREATING"
    assert counted("FieldActivitiesFailed") == []


def test_an_attempt_whose_execution_never_started_is_started_by_the_sweep(hub: Hub) -> None:
    # Given an activity recorded CREATING whose start failed, and the source never sent it again
    activity = creating(hub, "FA-NONE")

    # When the sweep runs past the bound
    outcome = sweep(BOUND + timedelta(seconds=5))

    # Then it starts the attempt's execution, with the creation's input, and leaves the activity CREATING (its
    # workflow records the outcome): a source's retry at that moment starts the same execution, never a second one
    assert outcome == {"ended": 0, "running": 0, "started": 1, "outOfTime": 0}
    assert status_of(hub, "FA-NONE")[:2] == ("CREATING", 1)
    arn = hub.machine.replace(":stateMachine:", ":execution:") + ":" + execution_name(activity)
    started = hub.sfn.describe_execution(executionArn=arn)
    assert (started["status"], started["input"]) == ("RUNNING", creation_input(activity, ["MWM", "ODM"], 1))
    assert counted("FieldActivitiesFailed") == []


def test_a_retry_of_the_source_while_the_sweep_looks_leaves_the_activity_to_its_creation(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an activity recorded CREATING whose start failed, and the source's retry landing just after the sweep
    # found no execution for its attempt
    activity = meter_exchange("FA-RACE")
    assert hub.store.create(activity, body_hash(activity), ["MWM", "ODM"])
    seen = activities._creation_execution

    def then_the_source_retries(found: ActivityIn, attempt: int) -> dict[str, Any] | None:
        execution = seen(found, attempt)
        submit(activity)
        return execution

    monkeypatch.setattr(activities, "_creation_execution", then_the_source_retries)

    # When the sweep runs past the bound
    outcome = sweep(BOUND + timedelta(seconds=5))

    # Then the activity is still CREATING under the one execution of its attempt, which the retry started (the sweep's
    # start of the same name and input is answered with it, as Step Functions answers an idempotent StartExecution)
    assert outcome == {"ended": 0, "running": 0, "started": 1, "outOfTime": 0}
    assert status_of(hub, "FA-RACE")[:2] == ("CREATING", 1)
    executions = hub.sfn.list_executions(stateMachineArn=hub.machine)["executions"]
    assert [(e["name"], e["status"]) for e in executions] == [(execution_name(activity), "RUNNING")]
    assert counted("FieldActivitiesFailed") == []


def test_a_resubmitted_activity_is_swept_at_its_new_attempt_only(hub: Hub) -> None:
    # Given an activity put in ERROR by the sweep (attempt 1 stopped), then resubmitted: attempt 2 runs
    activity = creating(hub, "FA-AGAIN")
    hub.sfn.stop_execution(executionArn=hub.start(activity))
    assert sweep(BOUND + timedelta(seconds=5))["ended"] == 1
    record = hub.store.get("CCB", "FA-AGAIN")
    assert record is not None
    resubmitted = hub.store.new_attempt(record, "resubmitted")
    assert resubmitted is not None
    second = hub.start(activity, attempt=2)

    # When the sweep runs past the bound while attempt 2 runs, and a late ERROR for attempt 1 comes
    running = sweep(BOUND + timedelta(seconds=5))
    late = hub.store.finish(activity, "ERROR", "attempt 1's end, seen late", attempt=1)

    # Then attempt 2 is left to run (attempt 1's end is not recorded over it); once attempt 2 is stopped, it is in ERROR
    assert running == {"ended": 0, "running": 1, "started": 0, "outOfTime": 0}
    assert late is None
    assert status_of(hub, "FA-AGAIN") == ("CREATING", 2, "resubmitted (attempt 2)")
    hub.sfn.stop_execution(executionArn=second)
    assert sweep(BOUND + timedelta(seconds=5))["ended"] == 1
    assert status_of(hub, "FA-AGAIN") == ("ERROR", 2, "the creation (attempt 2) ended ABORTED without recording its outcome")


def test_a_linked_activity_is_never_swept(hub: Hub) -> None:
    # Given an activity its workflow linked (its execution then succeeded)
    activity = creating(hub, "FA-LINKED")
    hub.start(activity)
    assert hub.store.finish(activity, "LINKED", "created and linked in every routed system") is not None

    # When the sweep runs past the bound
    outcome = sweep(BOUND + timedelta(seconds=5))

    # Then it is not even looked at: it left the index when it was linked
    assert outcome == {"ended": 0, "running": 0, "started": 0, "outOfTime": 0}
    assert status_of(hub, "FA-LINKED")[0] == "LINKED"


def test_a_run_out_of_time_stops_before_the_next_activity(hub: Hub) -> None:
    # Given an activity whose creation never started
    creating(hub, "FA-LATE")

    # When the sweep runs past the bound with its budget spent
    outcome = sweep(BOUND + timedelta(seconds=5), out_of_time=True)

    # Then it says so and leaves the activity to the next run
    assert outcome == {"ended": 0, "running": 0, "started": 0, "outOfTime": 1}
    assert status_of(hub, "FA-LATE")[0] == "CREATING"


def test_a_repeat_of_an_activity_in_error_is_answered_as_before_and_starts_nothing(hub: Hub) -> None:
    # Given an activity whose first attempt never started, put in ERROR (by its workflow's finish, as any ERROR)
    activity = meter_exchange("FA-REPEAT")
    assert hub.store.create(activity, body_hash(activity), ["MWM", "ODM"])
    assert hub.store.finish(activity, "ERROR", "not created in ODM (TargetRejected: HTTP 422)", attempt=1) is not None

    # When the source posts the same activity again
    answer = submit(activity)

    # Then it is answered as a repeat is, and no execution of attempt 1 runs on the activity in ERROR
    assert answer == {"activityId": "FA-REPEAT", "sourceSystem": "CCB", "routedTo": ["MWM", "ODM"]}
    assert hub.sfn.list_executions(stateMachineArn=hub.machine)["executions"] == []
    assert status_of(hub, "FA-REPEAT") == ("ERROR", 1, "not created in ODM (TargetRejected: HTTP 422)")
    assert counted("FieldActivitiesStarted") == []


@pytest.mark.parametrize("status", ["RUNNING", "PENDING_REDRIVE"])
@pytest.mark.parametrize("recorded", ["ERROR", "CREATING"])
def test_an_activity_whose_attempts_execution_may_still_run_is_not_resubmitted(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, status: str, recorded: str
) -> None:
    # Given an activity at attempt 1, in ERROR (put there by the sweep, then its execution redriven by an operator) or
    # still CREATING, whose attempt's execution is running or about to run again (a redrive)
    activity = meter_exchange("FA-REDRIVE")
    assert hub.store.create(activity, body_hash(activity), ["MWM", "ODM"])
    if recorded == "ERROR":
        assert hub.store.finish(activity, "ERROR", "creation FAILED", attempt=1) is not None
    monkeypatch.setattr(activities, "_creation_state", lambda *_: status)

    # When it is resubmitted
    with pytest.raises(Problem) as refused:
        activities.resubmit("CCB", "FA-REDRIVE")

    # Then it is a 409, and no newer attempt starts beside the one that may still cancel what it finds
    assert refused.value.status == 409
    assert status_of(hub, "FA-REDRIVE")[:2] == (recorded, 1)
    assert hub.sfn.list_executions(stateMachineArn=hub.machine)["executions"] == []


def test_the_activities_being_created_are_spread_over_the_index_shards_and_read_oldest_first(hub: Hub) -> None:
    # Given twelve activities recorded CREATING one after the other
    ids = [f"FA-SHARD{n:02}" for n in range(12)]
    for activity_id in ids:
        creating(hub, activity_id)
    items = [hub.store._table.get_item(Key={"pk": f"ACTIVITY#CCB#{i}"})["Item"] for i in ids]

    # When the activities created before now are read from the index
    found = list(hub.store.creating_before(datetime.now(UTC) + timedelta(seconds=1)))

    # Then their index key is one of the settings' shards (8 by default), more than one of them taken, each the same
    # for the same activity; and they are all read, oldest first across the shards
    shards = {str(item["creatingWait"]) for item in items}
    assert shards <= {f"ACTIVITY#CREATING#{n}" for n in range(8)}
    assert len(shards) > 1
    assert [str(item["creatingWait"]) for item in items] == [f"ACTIVITY#CREATING#{shard_of(f'ACTIVITY#CCB#{i}', 8)}" for i in ids]
    by_age = sorted(zip((str(item["creatingSince"]) for item in items), ids, strict=True))
    assert found == [("CCB", activity_id) for _, activity_id in by_age]
