"""A SENT sync request whose acknowledgement does not come: never timed out while its message can still be
delivered, queued again (a new attempt, with backoff) before it is ERROR, ERROR counted for the alarm, and
completed by a positive acknowledgement that comes late. Through the real handlers on moto: MD-01 (MDM)
and FW-06 (ODM) share the engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from localhub.hub import LocalHub
from tests.integration.test_meter_data_person_sync import CLAIMS, JSON, MDM_CLAIMS, MONITOR, cycle, person, status_of, submit
from utilhub.platform import wiring
from utilhub.syncrequests.model import Acknowledgement, SyncFlow
from utilhub.syncrequests.monitor import MonitorReport

DELIVERY = "MeterDataDeliveryFunction"


@contextmanager
def flow_function(hub: LocalHub, logical_id: str) -> Iterator[SyncFlow]:
    """The MD-01 flow's engine objects as ``logical_id`` builds them from its environment."""
    from localhub.lambda_.runtime import function_environment
    from utilhub.packs.meter_data.sync import FLOW

    with function_environment(hub.function(logical_id).environment):
        wiring.reset()
        yield FLOW
    wiring.reset()


def run_monitor_at(hub: LocalHub, later: timedelta, logical_id: str = MONITOR) -> tuple[MonitorReport, float]:
    """The monitor run ``later`` from now; its report and the SyncRequestsFailed it counted."""
    from utilhub.platform.observability import metrics
    from utilhub.syncrequests.wiring import monitor_for

    with flow_function(hub, logical_id) as flow:
        monitor = monitor_for(flow)
        monitor._now = lambda: datetime.now(UTC) + later
        metrics.clear_metrics()
        report = monitor.run()
        failed = sum(metrics.metric_set.get("SyncRequestsFailed", {}).get("Value", []))
        metrics.clear_metrics()
    return report, failed


def first_window(hub: LocalHub) -> timedelta:
    from utilhub.syncrequests.wiring import store_for

    with flow_function(hub, MONITOR) as flow:
        return store_for(flow).timeouts.first


def sqs_attributes(hub: LocalHub, queue: str) -> tuple[int, int]:
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=hub.resources()[queue], AttributeNames=["All"])["Attributes"]
    return int(attributes["VisibilityTimeout"]), int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])


# ---------------------------------------------------------------------------- never before the message is beyond delivery


def test_an_mdm_outage_past_the_ack_timeout_leaves_the_request_sent_and_delivered_when_mdm_is_back(hub: LocalHub) -> None:
    # Given MDM down for the first two deliveries of a person
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 2})
    submit(hub, person("SR-O1"))
    cycle(hub)
    hub.expire_visibility()
    hub.drain()
    assert status_of(hub, "SR-O1")["status"] == "SENT"

    # When the monitor runs 16 minutes later, past SyncAckTimeoutSeconds (900 s) but while SQS still redelivers
    assert int(hub.function(MONITOR).environment["UTILHUB_SYNC_ACK_TIMEOUT_SECONDS"]) < 16 * 60
    report, failed = run_monitor_at(hub, timedelta(minutes=16))

    # Then the request is not timed out: still SENT, nothing counted as failed
    assert status_of(hub, "SR-O1")["status"] == "SENT"
    assert (report.timed_out, report.timeout_requeued, failed) == (0, 0, 0)
    # And the queue's next receive, MDM back, synchronizes it at its first attempt
    hub.expire_visibility()
    hub.drain()
    state = status_of(hub, "SR-O1")
    assert [h["status"] for h in state["history"]] == ["PENDING", "SENT", "SYNCHRONIZED"]
    assert state["attempt"] == 1


@pytest.mark.parametrize(
    ("monitor", "queue"), [(MONITOR, "MdmDeliveryQueue"), ("FieldWorkSpSyncMonitorFunction", "FieldWorkSpSyncDeliveryQueue")]
)
def test_the_earliest_time_out_is_the_delivery_queues_redelivery_span_from_the_template(hub: LocalHub, monitor: str, queue: str) -> None:
    from utilhub.platform.settings import get_settings
    from utilhub.syncrequests.wiring import ack_timeouts

    # Given the delivery queue as provisioned from the template
    visibility, receives = sqs_attributes(hub, queue)
    # When the monitor reads its settings, and a deployment sets a shorter SyncAckTimeoutSeconds than the redelivery
    with flow_function(hub, monitor):
        timeouts = ack_timeouts(get_settings())
    # Then no request times out before its message's last receive is over, and one more visibility timeout
    assert timeouts.configured < timedelta(seconds=visibility * receives)
    assert timeouts.first == timedelta(seconds=visibility * (receives + 1))
    assert timeouts.requeues == int(hub.function(monitor).environment["UTILHUB_SYNC_TIMEOUT_REQUEUES"]) > 0


# ---------------------------------------------------------------------------- queued again, then ERROR


def test_a_request_that_timed_out_is_queued_again_and_synchronized_by_itself(hub: LocalHub) -> None:
    # Given MDM accepts a person but never acknowledges it
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-Q1"))
    cycle(hub)
    assert status_of(hub, "SR-Q1")["status"] == "SENT"

    # When the monitor runs once its acknowledgement is overdue
    report, failed = run_monitor_at(hub, first_window(hub) + timedelta(seconds=1))

    # Then it is queued again as attempt 2, not ERROR, with the reason in its history
    assert (report.timeout_requeued, report.timed_out, failed) == (1, 0, 0)
    state = status_of(hub, "SR-Q1")
    assert (state["status"], state["attempt"]) == ("SENT", 2)
    assert state["history"][-1]["reason"].startswith(f"no acknowledgement from MDM within {int(first_window(hub).total_seconds())} s")
    # And the new attempt is delivered, and MDM's answer synchronizes it
    hub.drain()
    assert status_of(hub, "SR-Q1")["status"] == "SYNCHRONIZED"
    assert [h["status"] for h in status_of(hub, "SR-Q1")["history"]] == ["PENDING", "SENT", "SENT", "SYNCHRONIZED"]


def test_a_scheduled_run_decides_as_of_the_time_its_schedule_fired(hub: LocalHub) -> None:
    # Given a person MDM accepted and never acknowledged
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-Q2"))
    cycle(hub)
    assert status_of(hub, "SR-Q2")["status"] == "SENT"

    # When its schedule fires now, or at a time already past, nothing is overdue
    for fired in (None, datetime.now(UTC) - timedelta(days=1)):
        assert hub.run_schedule(MONITOR, fired).result["timeout_requeued"] == 0
    assert (status_of(hub, "SR-Q2")["status"], status_of(hub, "SR-Q2")["attempt"]) == ("SENT", 1)

    # When its schedule's event says it fired after the acknowledgement was due (time a runtime compressed)
    later = hub.run_schedule(MONITOR, datetime.now(UTC) + first_window(hub) + timedelta(seconds=5))

    # Then the run times it out as of that time: queued again as attempt 2, and synchronized
    assert later.result["timeout_requeued"] == 1
    hub.drain()
    assert (status_of(hub, "SR-Q2")["status"], status_of(hub, "SR-Q2")["attempt"]) == ("SYNCHRONIZED", 2)


def test_each_attempt_waits_twice_as_long_then_error_is_counted_and_a_late_positive_acknowledgement_completes_it(
    hub: LocalHub,
) -> None:
    # Given MDM accepts every attempt of a person and never acknowledges one
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 10})
    submit(hub, person("SR-B1"))
    cycle(hub)
    first = first_window(hub)

    # When the monitor runs after each attempt's window: the first, then twice, four times, eight times as long
    outcomes = []
    for window in (first, first * 2, first * 4):
        # (a run before the attempt's window is over leaves it alone)
        early, _ = run_monitor_at(hub, window - timedelta(seconds=60))
        assert (early.timeout_requeued, early.timed_out) == (0, 0)
        report, failed = run_monitor_at(hub, window + timedelta(seconds=1))
        outcomes.append((report.timeout_requeued, report.timed_out, failed))
        hub.drain()
    report, failed = run_monitor_at(hub, first * 8 + timedelta(seconds=1))
    outcomes.append((report.timeout_requeued, report.timed_out, failed))

    # Then it was queued again three times (SyncTimeoutRequeues), then ERROR, counted by SyncRequestsFailed
    assert outcomes == [(1, 0, 0), (1, 0, 0), (1, 0, 0), (0, 1, 1)]
    state = status_of(hub, "SR-B1")
    assert (state["status"], state["attempt"]) == ("ERROR", 4)
    assert state["history"][-1]["reason"] == f"no acknowledgement from MDM within {int((first * 8).total_seconds())} s, after 4 time-outs"
    assert len(hub.simulators["MDM"].received) == 4

    # When MDM's positive acknowledgement comes after all that
    ack = json.dumps({"result": "POSITIVE", "targetId": "C-LATE"})
    response = hub.call_api("POST", "/meter-data/sync-requests/SR-B1/acknowledgement", body=ack, headers=JSON, claims=MDM_CLAIMS)

    # Then the request is SYNCHRONIZED, and the person is the entity's image at MDM (a later change of it is sent after it)
    assert response.json() == {"syncRequestId": "SR-B1", "status": "SYNCHRONIZED"}
    assert status_of(hub, "SR-B1")["history"][-1]["reason"] == "acknowledged by MDM as C-LATE (after the time-out)"
    submit(hub, person("SR-B2", changed="2026-11-20T08:00:00Z"))
    cycle(hub)
    assert status_of(hub, "SR-B2")["status"] == "DISCARDED"


def test_a_positive_acknowledgement_of_an_earlier_attempt_completes_the_request(hub: LocalHub) -> None:
    from utilhub.syncrequests.wiring import acknowledgements_for, store_for

    # Given a person whose first attempt timed out and was queued again
    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-L1"))
    cycle(hub)
    with flow_function(hub, MONITOR) as flow:
        first_attempt = store_for(flow).get("SR-L1")
    run_monitor_at(hub, first_window(hub) + timedelta(seconds=1))
    assert status_of(hub, "SR-L1")["attempt"] == 2

    # When the first attempt's positive answer is applied (its delivery was still under way)
    with flow_function(hub, DELIVERY) as flow:
        assert first_attempt is not None
        outcome = acknowledgements_for(flow).apply(first_attempt, Acknowledgement(result="POSITIVE"))

    # Then the request is SYNCHRONIZED, and the second attempt's message is skipped: MDM is not called again
    assert outcome == "synchronized"
    received = len(hub.simulators["MDM"].received)
    hub.drain()
    assert status_of(hub, "SR-L1")["status"] == "SYNCHRONIZED"
    assert len(hub.simulators["MDM"].received) == received


def test_a_negative_acknowledgement_of_an_earlier_attempt_leaves_the_current_attempt_alone(hub: LocalHub) -> None:
    from utilhub.syncrequests.wiring import acknowledgements_for, store_for

    hub.simulators["MDM"].add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-L2"))
    cycle(hub)
    with flow_function(hub, MONITOR) as flow:
        first_attempt = store_for(flow).get("SR-L2")
    run_monitor_at(hub, first_window(hub) + timedelta(seconds=1))
    with flow_function(hub, DELIVERY) as flow:
        assert first_attempt is not None
        outcome = acknowledgements_for(flow).apply(first_attempt, Acknowledgement(result="NEGATIVE", reason="old"))
    assert outcome == "stale"
    hub.drain()
    assert status_of(hub, "SR-L2")["status"] == "SYNCHRONIZED"


# ---------------------------------------------------------------------------- claims never queued


def test_a_claim_whose_message_never_left_goes_back_to_pending_and_is_sent_by_a_later_run(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    from utilhub.syncrequests.store import SyncRequestStore

    # Given a run that claims a person, then every SendMessageBatch fails and so does giving the claim back
    # (as when the invocation is killed between the claim and the queueing); the request of a batch, which waits
    # for the monitor's run (a single post would go at its intake)
    batch = json.dumps({"requests": [person("SR-K1")]})
    assert hub.call_api("POST", "/meter-data/sync-requests:batch", body=batch, headers=JSON, claims=CLAIMS).status == 202
    original = BaseClient._make_api_call  # type: ignore[attr-defined]  # botocore's one call path

    def throttled(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateItem")

    def refusing_sends(self: Any, name: str, params: Any) -> Any:
        return throttled() if name == "SendMessageBatch" else original(self, name, params)

    with monkeypatch.context() as patched:
        patched.setattr(BaseClient, "_make_api_call", refusing_sends)
        patched.setattr(SyncRequestStore, "unclaim", throttled)
        hub.run_schedule(MONITOR)
    assert status_of(hub, "SR-K1")["status"] == "SENT"
    assert hub.drain() == 0  # nothing was queued
    # (a run while the stopped one could still be alive leaves its claims alone)
    soon, _ = run_monitor_at(hub, timedelta(minutes=10))
    assert (status_of(hub, "SR-K1")["status"], soon.queued) == ("SENT", 0)

    # When a run comes after no invocation of the stopped run can still be alive (long before its acknowledgement is due)
    assert first_window(hub) > timedelta(minutes=16)
    report, failed = run_monitor_at(hub, timedelta(minutes=16))

    # Then the claim went back to PENDING and this run sent it: synchronized, no time-out, never ERROR
    hub.drain()
    state = status_of(hub, "SR-K1")
    assert [h["status"] for h in state["history"]] == ["PENDING", "SENT", "PENDING", "SENT", "SYNCHRONIZED"]
    assert (report.unqueued, report.queued, report.timeout_requeued, failed) == (1, 1, 0, 0)
    assert state["history"][2]["reason"] == "claimed by a monitor run that stopped before queueing it; retried"
    assert claims_records(hub) == []


def test_runs_that_queue_what_they_claim_leave_no_claims_record(hub: LocalHub) -> None:
    for n in range(3):
        submit(hub, person(f"SR-N{n}", entity_id=f"P-N{n}"))
    # each one queued at its intake, with the same claims and claims records as a monitor run's
    assert [h["status"] for h in status_of(hub, "SR-N0")["history"]] == ["PENDING", "SENT"]
    assert cycle(hub)["queued"] == 0
    assert {status_of(hub, f"SR-N{n}")["status"] for n in range(3)} == {"SYNCHRONIZED"}
    assert claims_records(hub) == []


def claims_records(hub: LocalHub) -> list[str]:
    table = boto3.resource("dynamodb").Table(hub.resources()["SyncRequestTable"])
    return [str(item["pk"]) for item in table.scan().get("Items", []) if "#CLAIMS#" in str(item["pk"])]
