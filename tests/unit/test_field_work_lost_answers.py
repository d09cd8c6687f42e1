"""FW-01's conditional writes whose first attempt DynamoDB applied but whose answer was lost (a read timeout under
load: the SDK sends the write again, and its own first attempt refuses it; docs/reliability.md, "A write whose answer
was lost"). Each is answered as applied: journaled and counted once, a resubmission's execution started. The lost
answer is botocore's own retry decision (``tests/helpers.answer_lost_once``); the activities' table, the journal's
and Step Functions are moto's, in process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import answer_lost_once, moto_xref_table
from utilhub.packs.field_work.activities import end_creations_that_ended, execution_name, resubmit
from utilhub.packs.field_work.model import ActivityEventIn, ActivityIn
from utilhub.packs.field_work.store import ActivityStore
from utilhub.platform import aws, wiring
from utilhub.platform.journal import Journal
from utilhub.platform.observability import metrics

POINT = "FW-01"
BOUND = timedelta(seconds=10_800)  # the creation's bound: the settings' default, the template's value


@dataclass
class Hub:
    store: ActivityStore
    table: Any
    journal: Journal
    sfn: Any
    machine: str

    def lost(self, operation: str, status: str) -> Any:
        """The first ``operation`` on the activities' table that names ``status`` (the item's, or a value of its update)
        has its answer lost."""

        def picks(request: dict[str, Any]) -> bool:
            written = request.get("Item") or request.get("ExpressionAttributeValues") or {}
            return {"S": status} in written.values()

        return answer_lost_once(self.table.meta.client, operation, picks)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    import boto3

    # executions only recorded, never run
    with moto_xref_table(monkeypatch, {"stepfunctions": {"execute_state_machine": False}}) as created:
        journal_table = boto3.resource("dynamodb").create_table(
            TableName="journal",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sfn = boto3.client("stepfunctions")
        definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
        machine = sfn.create_state_machine(
            name="field-activities", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        monkeypatch.setenv("UTILHUB_FIELD_WORK_STATE_MACHINE_ARN", machine)
        monkeypatch.setenv("UTILHUB_JOURNAL_TABLE", "journal")
        wiring.reset()
        table = aws.table(created.name)  # the process's, which the routes' store writes through
        yield Hub(ActivityStore(table), table, Journal(journal_table), sfn, machine)
        wiring.reset()


def meter_exchange(activity_id: str) -> ActivityIn:
    return ActivityIn.model_validate(
        {"sourceSystem": "CCB", "activityId": activity_id, "activityType": "METER-EXCHANGE", "servicePointId": "SP-0001"}
    )


def outcomes(hub: Hub, activity_id: str) -> list[str]:
    """The journal's steps of the activity: its outcome each."""
    return [hop["outcome"] for hop in hub.journal.timeline(POINT, f"CCB/{activity_id}")]


def counted(name: str) -> list[float]:
    emitted = metrics.metric_set.get(name)
    return [] if emitted is None else list(emitted["Value"])


def executions(hub: Hub) -> list[str]:
    return sorted(e["name"] for e in hub.sfn.list_executions(stateMachineArn=hub.machine)["executions"])


def test_an_intake_whose_answer_was_lost_is_created_and_journaled(hub: Hub) -> None:
    activity = meter_exchange("FA-1")

    with hub.lost("PutItem", "CREATING") as retried:
        created = hub.store.create(activity, "hash", ["MWM", "ODM"])

    # created (not taken for a repeat of an activity recorded before), its intake journaled
    assert len(retried) == 1
    assert created is True
    assert outcomes(hub, "FA-1") == ["CREATING"]


def test_a_resubmission_whose_answer_was_lost_is_answered_as_applied_and_its_execution_started(hub: Hub) -> None:
    activity = meter_exchange("FA-2")
    assert hub.store.create(activity, "hash", ["MWM", "ODM"])
    assert hub.store.finish(activity, "ERROR", "not created in ODM (TargetRejected: HTTP 422)", attempt=1) is not None

    with hub.lost("UpdateItem", "CREATING") as retried:
        answer = resubmit("CCB", "FA-2")

    # the resubmission stood: answered as such (not a 409 "changed meanwhile"), its attempt's execution started
    # and journaled, counted
    assert len(retried) == 1
    assert answer == {"activityId": "FA-2", "sourceSystem": "CCB", "status": "CREATING", "attempt": 2}
    assert executions(hub) == [execution_name(activity, 2)]
    assert outcomes(hub, "FA-2") == ["CREATING", "ERROR", "CREATING"]
    assert counted("FieldActivitiesResubmitted") == [1.0]


def test_a_finish_whose_answer_was_lost_is_journaled_and_the_sweep_counts_it(hub: Hub) -> None:
    activity = meter_exchange("FA-3")
    assert hub.store.create(activity, "hash", ["MWM", "ODM"])
    hub.sfn.stop_execution(
        executionArn=hub.sfn.start_execution(stateMachineArn=hub.machine, name=execution_name(activity), input="{}")["executionArn"]
    )
    metrics.clear_metrics()

    at = datetime.now(UTC) + BOUND + timedelta(seconds=5)
    with hub.lost("UpdateItem", "ERROR") as retried:
        outcome = end_creations_that_ended(lambda: at, lambda: False)

    assert len(retried) == 1
    assert outcome == {"ended": 1, "running": 0, "started": 0, "outOfTime": 0}
    assert counted("FieldActivitiesFailed") == [1.0]
    assert outcomes(hub, "FA-3") == ["CREATING", "ERROR"]
    record = hub.store.get("CCB", "FA-3")
    assert record is not None
    assert (record.status, record.attempt) == ("ERROR", 1)


def test_a_finish_at_an_older_attempt_still_records_nothing(hub: Hub) -> None:
    activity = meter_exchange("FA-4")
    assert hub.store.create(activity, "hash", ["MWM", "ODM"])
    assert hub.store.finish(activity, "ERROR", "refused", attempt=1) is not None
    record = hub.store.get("CCB", "FA-4")
    assert record is not None
    assert hub.store.new_attempt(record, "resubmitted") is not None

    assert hub.store.finish(activity, "LINKED", "created", attempt=1) is None

    assert outcomes(hub, "FA-4") == ["CREATING", "ERROR", "CREATING"]


def test_a_closing_event_whose_answer_was_lost_is_journaled_once(hub: Hub) -> None:
    activity = meter_exchange("FA-5")
    assert hub.store.create(activity, "hash", ["MWM", "ODM"])
    assert hub.store.finish(activity, "LINKED", "created and linked in every routed system", attempt=1) is not None
    record = hub.store.get("CCB", "FA-5")
    assert record is not None
    cancel = ActivityEventIn.model_validate(
        {"eventId": "EV-1", "event": "CANCEL", "at": datetime.now(UTC).isoformat(), "fromSystem": "MWM"}
    )

    with hub.lost("UpdateItem", "CANCELED") as retried:
        recorded = hub.store.record_event(record, cancel, "event-hash")

    # recorded (not "changed meanwhile", to be read again and taken for a repeat), its closing journaled
    assert len(retried) == 1
    assert recorded is True
    assert outcomes(hub, "FA-5") == ["CREATING", "LINKED", "CANCELED"]
    after = hub.store.get("CCB", "FA-5")
    assert after is not None
    assert (after.status, after.eventIds) == ("CANCELED", ["EV-1"])


def test_an_event_held_whose_answer_was_lost_is_counted_once(hub: Hub) -> None:
    from utilhub.packs.field_work.activities import accept_event

    activity = meter_exchange("FA-6")
    assert hub.store.create(activity, "hash", ["MWM", "ODM"])
    cancel = ActivityEventIn.model_validate({"eventId": "EV-1", "event": "CANCEL", "at": datetime.now(UTC).isoformat()})
    metrics.clear_metrics()

    with hub.lost("UpdateItem", "CREATING") as retried:
        answer = accept_event("CCB", "FA-6", cancel)

    # recorded, held while the activity is being created, and counted in FieldActivityEvents (not taken for a repeat)
    assert len(retried) == 1
    assert answer["event"] == "CANCEL"
    assert counted("FieldActivityEvents") == [1.0]
    record = hub.store.get("CCB", "FA-6")
    assert record is not None
    assert ([e.eventId for e in record.held], record.closing) == (["EV-1"], "CANCELED")
