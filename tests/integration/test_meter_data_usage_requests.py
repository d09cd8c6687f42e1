"""MD-11 batch bill determinants: a bill run's usage requests, through the real handlers, moto's tables
and queue and the MDM and CCB simulators: accepted with 202, fanned out to MDM, determinants at CCB
once (duplicates, redeliveries, outages), held AWAITING_DATA_SYNC while the SA's master data is still on
its way to MDM and released by the schedule once it is synchronized."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from localhub.hub import ApiResponse, LocalHub
from tests.conftest import sample_event
from tests.helpers import JSON, answer_lost_once, post_json
from tests.integration.test_meter_data_master_data_sync import post_sample
from tests.integration.test_meter_data_person_sync import cycle
from utilhub.packs.meter_data.billing import usage_requests
from utilhub.platform import observability

# CCB's service type codes: the determinants it holds carry the SA's service type in them, the result the hub's
CCB_SERVICE_TYPE = {"ELECTRIC": "E", "GAS": "G", "WATER": "W"}


def as_ccb_holds(usage_request_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """A usage request's result as CCB holds its determinants: under the request, the service type in CCB's code."""
    return {"usageRequestId": usage_request_id, **result, "serviceType": CCB_SERVICE_TYPE[result["serviceType"]]}


CLAIMS = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
INTAKE = "MeterDataUsageRequestsFunction"
RELEASE = "MeterDataUsageReleaseFunction"
THROTTLED = frozenset(
    {
        *(f"dynamodb.{op}" for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem", "TransactWriteItems")),
        *(f"sqs.{op}" for op in ("SendMessage", "SendMessageBatch")),
        "secretsmanager.GetSecretValue",
    }
)
VISIBILITY_TIMEOUT = timedelta(seconds=360)  # the usage request queue's, in template.yaml


def usage_request(n: int, sa: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"usageRequestId": f"UR-{n:05d}", "saId": sa or f"SA-{n:05d}", "periodStart": "2026-10-01", "periodEnd": "2026-11-01", **extra}


def post_batch(hub: LocalHub, requests: list[dict[str, Any]]) -> ApiResponse:
    return post_json(hub, "/meter-data/usage-requests:batch", {"requests": requests}, CLAIMS)


def state_of(hub: LocalHub, usage_request_id: str) -> dict[str, Any]:
    response = hub.call_api("GET", f"/meter-data/usage-requests/{usage_request_id}", claims=CLAIMS)
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def ccb_state(hub: LocalHub) -> dict[str, Any]:
    return hub.simulators["CCB"].state(summary=True)


def test_sample_batch_completes_with_determinants_at_ccb_once(hub: LocalHub) -> None:
    # Given the sample bill run of five usage requests (one with intervals), and the sample single one
    batch = hub.invoke(INTAKE, sample_event("meter_data/usage_requests/submit-batch.json")).result
    single = hub.invoke(INTAKE, sample_event("meter_data/usage_requests/submit.json")).result

    # When the queue is worked
    hub.drain()

    # Then each was accepted PENDING, is COMPLETED with MDM's determinants, and CCB holds each once
    assert (batch["statusCode"], single["statusCode"]) == (202, 202)
    assert [r["status"] for r in json.loads(batch["body"])["results"]] == ["PENDING"] * 5
    assert json.loads(single["body"]) == {"usageRequestId": "UR-00001", "status": "PENDING"}
    states = [state_of(hub, f"UR-1{n:04d}") for n in range(1, 6)]
    assert [s["status"] for s in states] == ["COMPLETED"] * 5
    assert [h["status"] for h in states[0]["history"]] == ["PENDING", "SENT", "COMPLETED"]
    with_intervals = states[2]["result"]
    total = next(Decimal(str(d["quantity"])) for d in with_intervals["determinants"] if d["touPeriod"] == "TOTAL")
    assert sum(Decimal(str(i["kwh"])) for i in with_intervals["intervals"]) == total
    assert "intervals" not in states[0]["result"]
    ccb = ccb_state(hub)
    assert (ccb["usageRequestsBilled"], ccb["billDeterminantsReceived"], ccb["usageRequestsReceivedTwice"]) == (6, 6, [])
    queried = hub.invoke(INTAKE, sample_event("meter_data/usage_requests/query.json")).result
    assert json.loads(queried["body"])["status"] == "COMPLETED"


def test_the_same_bill_run_again_changes_nothing_and_another_body_under_an_id_is_a_conflict(hub: LocalHub) -> None:
    # Given a bill run of three, completed
    run = [usage_request(n) for n in range(1, 4)]
    assert post_batch(hub, run).status == 202
    hub.drain()

    # When CCB posts it again, once with a changed period under an id already used
    again = post_batch(hub, run)
    changed = post_batch(hub, [{**run[0], "periodEnd": "2026-10-31"}])
    single = hub.call_api(
        "POST", "/meter-data/usage-requests", body=json.dumps({**run[1], "periodEnd": "2026-10-31"}), headers=JSON, claims=CLAIMS
    )
    hub.drain()

    # Then nothing new is stored or billed, and the changed ones are conflicts
    assert again.json()["accepted"] == 0
    assert [r["status"] for r in again.json()["results"]] == ["COMPLETED"] * 3
    assert changed.json()["results"][0]["status"] == "CONFLICT"
    assert single.status == 409
    assert ccb_state(hub)["billDeterminantsReceived"] == 3


def test_a_redelivered_or_duplicated_message_bills_once(hub: LocalHub) -> None:
    # Given a usage request processed, and its message sent to the queue twice more
    assert post_batch(hub, [usage_request(7)]).status == 202
    hub.drain()
    queue = hub.resources()["MeterDataUsageRequestQueue"]
    sqs = boto3.client("sqs", region_name=hub.stack.region if hub.stack else None)
    for _ in range(2):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"usageRequestId": "UR-00007"}))

    # When they are worked
    hub.drain()

    # Then CCB received the determinants once and the request stays COMPLETED
    assert ccb_state(hub)["billDeterminantsReceived"] == 1
    assert state_of(hub, "UR-00007")["status"] == "COMPLETED"


def test_mdm_or_ccb_down_is_retried_by_the_queue_and_ends_completed_once(hub: LocalHub) -> None:
    # Given MDM down for the first call and CCB down for the first delivery
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 1})
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 1})
    assert post_batch(hub, [usage_request(11), usage_request(12)]).status == 202

    # When the queue is worked, and again after the failed messages' visibility timeout
    hub.drain()
    hub.expire_visibility()
    hub.drain()
    hub.expire_visibility()
    hub.drain()

    # Then both are COMPLETED and CCB billed each once
    assert [state_of(hub, f"UR-{n:05d}")["status"] for n in (11, 12)] == ["COMPLETED", "COMPLETED"]
    ccb = ccb_state(hub)
    assert (ccb["usageRequestsBilled"], ccb["usageRequestsReceivedTwice"]) == (2, [])


def test_an_sa_mdm_does_not_hold_ends_in_error_with_the_reason(hub: LocalHub) -> None:
    assert post_batch(hub, [usage_request(1, sa="SA-99999")]).status == 202
    hub.drain()
    found = state_of(hub, "UR-00001")
    assert found["status"] == "ERROR"
    assert "MDM refused it: HTTP 404" in found["history"][-1]["reason"]
    assert ccb_state(hub)["billDeterminantsReceived"] == 0


def test_a_usage_request_waits_for_its_sa_sync_and_proceeds_by_itself(hub: LocalHub) -> None:
    # Given CCB's person and service point synchronized to MDM, and the SA's sync request still PENDING
    post_sample(hub, "person")
    post_sample(hub, "service-point")
    cycle(hub)
    post_sample(hub, "service-agreement")  # SA-0001 on SP-0001

    # When the bill run asks for SA-0001's determinants, and the release schedule runs before the sync
    accepted = post_batch(hub, [usage_request(21, sa="SA-0001"), usage_request(22)])
    early = hub.run_schedule(RELEASE)
    hub.drain()

    # Then SA-0001's request waits, naming the sync request; the other one went on
    assert [r["status"] for r in accepted.json()["results"]] == ["AWAITING_DATA_SYNC", "PENDING"]
    waiting = state_of(hub, "UR-00021")
    assert waiting["status"] == "AWAITING_DATA_SYNC"
    assert "SERVICE_AGREEMENT SA-0001" in waiting["history"][0]["reason"]
    assert early.result["released"] == 0
    assert state_of(hub, "UR-00022")["status"] == "COMPLETED"

    # When the SA is synchronized to MDM and the release schedule runs
    cycle(hub)
    released = hub.run_schedule(RELEASE)
    hub.drain()

    # Then the request proceeded by itself to COMPLETED, and CCB has its determinants once
    assert released.result["released"] == 1
    done = state_of(hub, "UR-00021")
    assert [h["status"] for h in done["history"]] == ["AWAITING_DATA_SYNC", "PENDING", "SENT", "COMPLETED"]
    assert done["result"]["saId"] == "SA-0001"
    assert ccb_state(hub)["billDeterminantsReceived"] == 2


def test_a_pending_sync_of_one_of_the_sa_service_points_holds_it_too(hub: LocalHub) -> None:
    # Given SA-0001 synchronized on SP-0001, then a change to SP-0001 not yet sent to MDM
    for name in ("person", "service-point"):
        post_sample(hub, name)
    cycle(hub)
    post_sample(hub, "service-agreement")
    cycle(hub)
    hub.call_api(
        "POST",
        "/meter-data/sync-requests",
        body=json.dumps(
            {
                "syncRequestId": "SR-SP-2",
                "entityType": "SERVICE_POINT",
                "entityId": "SP-0001",
                "changedAt": "2026-11-26T09:00:00Z",
                "data": {"premiseId": "PR-0001", "spType": "E-RES"},
            }
        ),
        headers=JSON,
        claims=CLAIMS,
    )

    # When SA-0001's usage is requested
    accepted = post_batch(hub, [usage_request(31, sa="SA-0001")])

    # Then it waits for the service point's sync request
    assert accepted.json()["results"][0]["status"] == "AWAITING_DATA_SYNC"
    assert "SR-SP-2 of SERVICE_POINT SP-0001" in state_of(hub, "UR-00031")["history"][0]["reason"]


def test_bad_batches_are_refused_whole_with_pointers(hub: LocalHub) -> None:
    bad_period = post_batch(hub, [usage_request(1), usage_request(2, periodEnd="2026-09-01")])
    too_many = post_batch(hub, [usage_request(n) for n in range(1, 1002)])
    unknown = hub.call_api("GET", "/meter-data/usage-requests/UR-404", claims=CLAIMS)
    assert bad_period.status == 422
    assert bad_period.json()["errors"][0]["pointer"] == "#/requests/1/periodEnd"
    assert too_many.status in (413, 422)
    assert unknown.status == 404
    # a single request's pointer is into its own body
    single = hub.call_api(
        "POST", "/meter-data/usage-requests", body=json.dumps(usage_request(3, periodEnd="2026-09-01")), headers=JSON, claims=CLAIMS
    )
    assert single.status == 422
    assert single.json()["errors"][0]["pointer"] == "#/periodEnd"
    # nothing of a refused batch was stored
    assert hub.call_api("GET", "/meter-data/usage-requests/UR-00001", claims=CLAIMS).status == 404


def test_the_delivery_function_takes_its_sample_batch(hub: LocalHub) -> None:
    # Given the sample usage request stored (its own message waits in the queue)
    assert hub.invoke(INTAKE, sample_event("meter_data/usage_requests/submit.json")).result["statusCode"] == 202

    # When MeterDataUsageDeliveryFunction gets the sample SQS batch for it, and then the queue's own message
    answer = hub.invoke("MeterDataUsageDeliveryFunction", sample_event("meter_data/usage_delivery/sqs.json")).result
    hub.drain()

    # Then nothing is left to redeliver, the request is COMPLETED, and CCB billed it once
    assert answer == {"batchItemFailures": []}
    assert state_of(hub, "UR-00001")["status"] == "COMPLETED"
    assert ccb_state(hub)["billDeterminantsReceived"] == 1


def test_determinants_ccb_refuses_end_in_error_with_the_reason(hub: LocalHub) -> None:
    # Given CCB refusing the next determinants it receives
    hub.simulators["CCB"].add_fault({"kind": "reject", "count": 1, "reason": "bill segment locked"})

    # When a usage request is worked
    assert post_batch(hub, [usage_request(41)]).status == 202
    hub.drain()

    # Then it is ERROR with CCB's status (never its message, which may repeat what it was sent), and nothing was billed
    found = state_of(hub, "UR-00041")
    assert found["status"] == "ERROR"
    assert found["history"][-1]["reason"] == "CCB refused the determinants: HTTP 422"
    assert ccb_state(hub)["usageRequestsBilled"] == 1  # received (and refused) once
    assert not any(k.startswith("BILL_DETERMINANTS#") for k in hub.simulators["CCB"].records)


def dead_letters(hub: LocalHub) -> list[str]:
    """The usage request ids whose messages wait in the dead-letter queue."""
    sqs = boto3.client("sqs", region_name=hub._stack().region)
    url = hub.resources()["MeterDataUsageRequestDeadLetterQueue"]
    found: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", []):
        found.extend(json.loads(m["Body"])["usageRequestId"] for m in batch)
    return found


def send_until_taken(call: Any) -> ApiResponse:
    """The sender posts again while the hub answers 503 (AWS busy)."""
    for _ in range(40):
        answer: ApiResponse = call()
        if answer.status != 503:
            return answer
        time.sleep(0.05)
    raise AssertionError(f"still 503 after 40 tries: {answer.body!r}")


def status_of(hub: LocalHub, usage_request_id: str) -> str:
    answer = send_until_taken(lambda: hub.call_api("GET", f"/meter-data/usage-requests/{usage_request_id}", claims=CLAIMS))
    assert answer.status == 200, answer.body
    return str(answer.json()["status"])


class HubClock:
    """The usage requests' clock, moved on as the test lets the queue's visibility timeouts pass at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = timedelta(0)
        monkeypatch.setattr(usage_requests.service, "_now", lambda: datetime.now(UTC) + self.offset)

    def advance(self, by: timedelta) -> None:
        self.offset += by


def settle(hub: LocalHub, clock: HubClock, rounds: int = 10) -> None:
    """Deliver, and let every failed delivery come back (its visibility timeout passed), until the queue has tried
    each one enough."""
    for _ in range(rounds):
        hub.drain()
        hub.expire_visibility()
        clock.advance(VISIBILITY_TIMEOUT)
    hub.drain()


def test_a_fault_run_bills_every_usage_request_once_or_ends_it_visibly(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    from localhub.aws.throttling import AwsThrottling

    clock = HubClock(monkeypatch)
    # Given SA-0001's master data on its way to MDM (its sync request not yet sent), and a bill run of 36
    # usage requests: three batches of ten and six single ones, three of them for SA-0001
    post_sample(hub, "person")
    post_sample(hub, "service-point")
    cycle(hub)
    post_sample(hub, "service-agreement")
    held = [usage_request(n, sa="SA-0001", periodStart=f"2026-{n - 60:02d}-01", periodEnd=f"2026-{n - 59:02d}-01") for n in (61, 62, 63)]
    batches = [[usage_request(n) for n in range(start, start + 10)] for start in (1, 11, 21)]
    singles = [usage_request(n) for n in range(31, 34)] + held
    everyone = [r for batch in batches for r in batch] + singles
    # and MDM down after its first calls for longer than the queue tries some requests, CCB down for a while, and a
    # sixth of the functions' AWS calls throttled beyond boto3's retries: every call but the queries (the data sync
    # check makes a key lookup per SA and service point, a score per batch of ten, so at this rate almost no intake or
    # release call would pass)
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 140, "after": 3})
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 8, "after": 5})
    with AwsThrottling(1 / 6, seed=11, operations=THROTTLED) as throttling:
        # When CCB posts every batch and single request twice (again on 503), and the queue delivers and redelivers
        for _ in range(2):
            for batch in batches:
                assert send_until_taken(lambda batch=batch: post_batch(hub, batch)).status == 202
            for single in singles:
                answer = send_until_taken(
                    lambda single=single: hub.call_api(
                        "POST", "/meter-data/usage-requests", body=json.dumps(single), headers=JSON, claims=CLAIMS
                    )
                )
                assert answer.status == 202, answer.body
        settle(hub, clock)
        assert {status_of(hub, r["usageRequestId"]) for r in held} == {"AWAITING_DATA_SYNC"}
        # and SA-0001 is synchronized to MDM, and the release schedule runs (again when a throttled call failed it)
        throttling.uninstall()
        cycle(hub)
        throttling.install()
        for _ in range(20):
            if not hub.run_schedule(RELEASE).failed and all(status_of(hub, r["usageRequestId"]) != "AWAITING_DATA_SYNC" for r in held):
                break
        settle(hub, clock)
    assert throttling.throttled

    # Then every usage request is COMPLETED with its determinants at CCB, or in ERROR with its reason, or its
    # message waits in the dead-letter queue; CCB holds the determinants of the completed ones and of no other,
    # each under its own bill segment (a second delivery of the same determinants, after an attempt whose outcome a
    # throttled write did not record, is answered as the first and billed once)
    parked = set(dead_letters(hub))
    ccb = hub.simulators["CCB"]
    billed = {k.removeprefix("BILL_DETERMINANTS#"): v for k, v in ccb.records.items() if k.startswith("BILL_DETERMINANTS#")}
    outcomes: dict[str, str] = {}
    for request in everyone:
        rid = request["usageRequestId"]
        found = state_of(hub, rid)
        outcomes[rid] = found["status"]
        if found["status"] == "COMPLETED":
            assert billed[rid]["determinants"] == as_ccb_holds(rid, found["result"]), rid
        elif found["status"] == "ERROR":
            reason = found["history"][-1]["reason"]
            assert reason, rid
            if rid in billed:  # the attempt that reached CCB could not record it: the reason says CCB may hold them
                assert "CCB may hold them" in reason, (rid, reason)
        else:
            assert rid in parked, (rid, found["status"])
            assert rid not in billed, rid
    assert set(billed) <= set(outcomes)
    assert len({b["billSegmentId"] for b in billed.values()}) == len(billed)
    assert [outcomes[r["usageRequestId"]] for r in held] == ["COMPLETED"] * 3
    # MDM's outage outlasts the queue's tries for some: they end in ERROR once the retry window has passed
    assert sum(1 for s in outcomes.values() if s == "COMPLETED") >= 20
    assert any(s == "ERROR" for s in outcomes.values())


def test_a_request_whose_message_ends_in_the_dead_letter_queue_ends_in_error_and_a_late_delivery_bills_nothing(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given MDM down for longer than the queue tries (maxReceiveCount 5), so the usage request's message ends in the DLQ
    clock = HubClock(monkeypatch)
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 20})
    assert post_batch(hub, [usage_request(51)]).status == 202
    settle(hub, clock, rounds=6)
    assert dead_letters_kept(hub) == ["UR-00051"]
    assert state_of(hub, "UR-00051")["status"] == "SENT"
    # and the operators see it failed, its message in the dead-letter queue after its last try, not still in flight
    ops = {"client_id": "ops", "scope": "utilhub/ops", "token_use": "access"}
    listed = hub.call_api("GET", "/ops/transactions", claims=ops, query="point=MD-11").json()["items"]
    assert [(t["id"], t["state"]) for t in listed] == [("UR-00051", "FAILED")]
    assert listed[0]["reason"].startswith("not delivered after 5 tries (")
    assert listed[0]["reason"].endswith("); in the dead-letter queue")

    # When the release schedule runs within the retry window, and again once it has passed
    early = hub.run_schedule(RELEASE).result
    clock.advance(timedelta(seconds=3600))
    late = hub.run_schedule(RELEASE).result

    # Then the request stays SENT while its message could still be worked, and ends in ERROR with the reason after
    assert (early["expired"], late["expired"]) == (0, 1)
    found = state_of(hub, "UR-00051")
    assert found["status"] == "ERROR"
    assert "retry window of 3600 s" in found["history"][-1]["reason"]
    assert "dead-letter queue" in found["history"][-1]["reason"]

    # When MDM is back and an operator redrives the message from the DLQ
    hub.simulators["MDM"].faults.clear()
    redrive(hub)
    hub.drain()

    # Then the late delivery changes nothing: the request stays ERROR and CCB has no determinants for it
    assert state_of(hub, "UR-00051")["status"] == "ERROR"
    assert ccb_state(hub)["billDeterminantsReceived"] == 0


def test_a_sent_request_leased_to_a_running_attempt_is_not_ended_in_error(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a usage request SENT, whose attempt still holds its lease well past the retry window (an attempt in progress)
    clock = HubClock(monkeypatch)
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 1})
    assert post_batch(hub, [usage_request(52)]).status == 202
    hub.drain()
    table = boto3.resource("dynamodb", region_name=hub._stack().region).Table(hub.resources()["MeterDataUsageRequestTable"])
    held_until = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    table.update_item(Key={"pk": "UR-00052"}, UpdateExpression="SET leaseUntil = :l", ExpressionAttributeValues={":l": held_until})

    # When the retry window has passed and the release schedule runs
    clock.advance(timedelta(hours=2))
    run = hub.run_schedule(RELEASE).result

    # Then it stays SENT: an attempt that may still reach CCB is never overtaken by ERROR
    assert run["expired"] == 0
    assert state_of(hub, "UR-00052")["status"] == "SENT"
    hub.expire_visibility()
    hub.drain()
    assert state_of(hub, "UR-00052")["status"] == "SENT"  # the redelivery waits for the lease too
    assert ccb_state(hub)["billDeterminantsReceived"] == 0


def dead_letters_kept(hub: LocalHub) -> list[str]:
    """The usage request ids in the DLQ, left visible there."""
    sqs = boto3.client("sqs", region_name=hub._stack().region)
    url = hub.resources()["MeterDataUsageRequestDeadLetterQueue"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [json.loads(m["Body"])["usageRequestId"] for m in messages]


def redrive(hub: LocalHub) -> None:
    """What an operator's redrive does: the DLQ's messages back on the queue."""
    sqs = boto3.client("sqs", region_name=hub._stack().region)
    dlq, queue = hub.resources()["MeterDataUsageRequestDeadLetterQueue"], hub.resources()["MeterDataUsageRequestQueue"]
    while batch := sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", []):
        for message in batch:
            sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])


def test_a_delivery_whose_completion_was_not_recorded_completes_on_redelivery_without_asking_mdm_again(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    # Given MDM answering its next call and then down, and the first COMPLETED write throttled beyond boto3's retries
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 10, "after": 1})
    transition = usage_requests.UsageRequestStore.transition
    throttled: list[str] = []

    def completion_throttled_once(self: Any, usage_request_id: str, from_status: Any, to_status: Any, *args: Any, **kwargs: Any) -> Any:
        if to_status == usage_requests.UsageStatus.COMPLETED and not throttled:
            throttled.append(usage_request_id)
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}}, "UpdateItem")
        return transition(self, usage_request_id, from_status, to_status, *args, **kwargs)

    monkeypatch.setattr(usage_requests.UsageRequestStore, "transition", completion_throttled_once)

    # When a usage request is worked (its determinants reach CCB, its completion is not recorded), and redelivered
    assert post_batch(hub, [usage_request(71)]).status == 202
    hub.drain()
    after_first = state_of(hub, "UR-00071")["status"]
    hub.expire_visibility()
    hub.drain()

    # Then the redelivery sent the kept determinants again without asking MDM (still down), the request is COMPLETED
    # with them, and CCB, which got them twice, billed them once
    assert throttled == ["UR-00071"]
    assert after_first == "SENT"
    found = state_of(hub, "UR-00071")
    assert found["status"] == "COMPLETED"
    assert hub.simulators["MDM"].faults[0].remaining == 10
    ccb = ccb_state(hub)
    assert (ccb["billDeterminantsReceived"], ccb["usageRequestsBilled"]) == (2, 1)
    assert hub.simulators["CCB"].records["BILL_DETERMINANTS#UR-00071"]["determinants"] == as_ccb_holds("UR-00071", found["result"])


def test_a_bill_run_sqs_does_not_take_is_a_503_and_its_second_post_bills_each_request_once(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given a bill run of 25 usage requests, posted while SQS takes no message (its batches throttled beyond retries)
    requests = [usage_request(n) for n in range(900, 925)]
    with AwsThrottling(1.0, operations=frozenset({"sqs.SendMessageBatch"})) as throttling:
        refused = post_batch(hub, requests)

    # Then the caller is told to retry (503), not a 500; the requests are stored PENDING with no message to work them
    assert refused.status == 503, refused.body
    assert throttling.throttled
    hub.drain()
    assert {state_of(hub, r["usageRequestId"])["status"] for r in requests} == {"PENDING"}

    # When the caller posts the same bill run again and the queue is worked
    again = post_batch(hub, requests)
    hub.drain()

    # Then each is COMPLETED and CCB billed each once
    assert again.status == 202, again.body
    assert {state_of(hub, r["usageRequestId"])["status"] for r in requests} == {"COMPLETED"}
    ccb = ccb_state(hub)
    assert (ccb["usageRequestsBilled"], ccb["usageRequestsReceivedTwice"]) == (25, [])


def test_a_message_for_a_request_its_worker_could_not_move_to_sent_is_redelivered_not_dropped(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from utilhub.packs.meter_data.billing.usage_requests import UsageRequestStore, UsageStatus

    # Given one usage request whose first delivery finds its move PENDING -> SENT not applied (the conditional
    # write answered as if the request were elsewhere) while the request is still PENDING
    assert post_batch(hub, [usage_request(950)]).status == 202
    original = UsageRequestStore.transition
    missed: list[str] = []

    def first_move_not_applied(self: UsageRequestStore, rid: str, from_status: Any, to_status: Any, *args: Any, **kwargs: Any) -> Any:
        if to_status is UsageStatus.SENT and not missed:
            missed.append(rid)
            return None
        return original(self, rid, from_status, to_status, *args, **kwargs)

    monkeypatch.setattr(UsageRequestStore, "transition", first_move_not_applied)
    hub.drain()
    assert missed == ["UR-00950"]
    assert state_of(hub, "UR-00950")["status"] == "PENDING"

    # When the queue hands the message over again
    hub.expire_visibility()
    hub.drain()

    # Then the message was kept (not acknowledged unworked) and worked: COMPLETED and billed once
    assert state_of(hub, "UR-00950")["status"] == "COMPLETED"
    assert ccb_state(hub)["usageRequestsBilled"] == 1


def test_a_move_to_sent_applied_whose_answer_was_lost_is_its_workers_own_not_another_attempts(hub: LocalHub) -> None:
    from utilhub.platform import aws

    # Given one usage request whose move PENDING -> SENT DynamoDB applied but whose answer was lost (a read timeout
    # under load): the SDK sends it again, and the retry is refused, the request being SENT already (by this very move)
    assert post_batch(hub, [usage_request(955)]).status == 202
    client = aws.table(hub.resources()["MeterDataUsageRequestTable"]).meta.client

    def move_to_sent(update: dict[str, Any]) -> bool:
        return bool(update["Key"]["pk"] == {"S": "UR-00955"} and update["ExpressionAttributeValues"][":to"] == {"S": "SENT"})

    # When the queue is worked
    with answer_lost_once(client, "UpdateItem", move_to_sent) as retried:
        hub.drain()

    # Then its worker went on with the lease it took (not "being worked by another attempt" until that lease ran out,
    # the message redelivered meanwhile): COMPLETED and billed once, on its first delivery, its SENT in its history
    assert len(retried) == 1
    state = state_of(hub, "UR-00955")
    assert state["status"] == "COMPLETED"
    assert [h["status"] for h in state["history"]] == ["PENDING", "SENT", "COMPLETED"]
    assert ccb_state(hub)["usageRequestsBilled"] == 1


def test_a_lease_taken_whose_answer_was_lost_is_held_by_its_redelivery_not_another_attempt(hub: LocalHub) -> None:
    from utilhub.platform import aws

    # Given a usage request SENT whose first attempt found MDM down (the attempt gave its lease back), and the lease its
    # redelivery takes applied but its answer lost: the SDK's retry is refused, the lease being held (by this very write)
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 1})
    assert post_batch(hub, [usage_request(956)]).status == 202
    hub.drain()
    assert state_of(hub, "UR-00956")["status"] == "SENT"
    client = aws.table(hub.resources()["MeterDataUsageRequestTable"]).meta.client

    def lease(update: dict[str, Any]) -> bool:
        return bool(update["Key"]["pk"] == {"S": "UR-00956"} and "leaseUntil < :now" in update.get("ConditionExpression", ""))

    # When the message is handed over again
    hub.expire_visibility()
    with answer_lost_once(client, "UpdateItem", lease) as retried:
        hub.drain()

    # Then the redelivery holds its lease and completes the request (not "being worked by another attempt" until its
    # own lease ran out), billed once
    assert len(retried) == 1
    assert state_of(hub, "UR-00956")["status"] == "COMPLETED"
    assert ccb_state(hub)["usageRequestsBilled"] == 1


def test_a_pending_request_whose_message_was_lost_is_queued_again_once_per_requeue_period(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given a usage request stored PENDING whose message SQS never took, and whose sender did not post again
    clock = HubClock(monkeypatch)
    with AwsThrottling(1.0, operations=frozenset({"sqs.SendMessageBatch"})):
        assert post_batch(hub, [usage_request(960)]).status == 503
    assert state_of(hub, "UR-00960")["status"] == "PENDING"

    # When the release schedule runs five minutes later, then at once again (its message waiting behind a backlog)
    clock.advance(timedelta(minutes=6))
    first = hub.run_schedule(RELEASE).result
    second = hub.run_schedule(RELEASE).result

    # Then it was queued again once, not at every run, and the queue bills it once
    assert (first["requeued"], second["requeued"]) == (1, 0)
    hub.drain()
    assert state_of(hub, "UR-00960")["status"] == "COMPLETED"
    assert ccb_state(hub)["usageRequestsBilled"] == 1


def resubmit(hub: LocalHub, usage_request_id: str) -> ApiResponse:
    return hub.call_api("POST", f"/meter-data/usage-requests/{usage_request_id}/resubmission", claims=CLAIMS)


def test_a_usage_request_in_error_resubmitted_runs_again_and_is_billed_once(hub: LocalHub) -> None:
    # Given a usage request in ERROR because CCB refused its determinants once (MDM's are kept on it)
    hub.simulators["CCB"].add_fault({"kind": "reject", "count": 1, "reason": "bill segment locked"})
    assert post_batch(hub, [usage_request(81)]).status == 202
    hub.drain()
    assert state_of(hub, "UR-00081")["status"] == "ERROR"
    mdm_calls = hub.simulators["MDM"].received_total

    # When an operator resubmits it, twice (the answer to the first was lost), and the queue is worked
    first = resubmit(hub, "UR-00081")
    again = resubmit(hub, "UR-00081")
    hub.drain()

    # Then both answers are 202 PENDING, the request ran again to COMPLETED with the determinants MDM gave the first time
    # (MDM not asked again), and CCB holds them once
    assert (first.status, again.status) == (202, 202), (first.body, again.body)
    assert first.json() == {"usageRequestId": "UR-00081", "status": "PENDING"}
    found = state_of(hub, "UR-00081")
    assert [h["status"] for h in found["history"]] == ["PENDING", "SENT", "ERROR", "PENDING", "SENT", "COMPLETED"]
    assert found["history"][3]["reason"] == "resubmitted"
    assert hub.simulators["MDM"].received_total == mdm_calls
    billed = hub.simulators["CCB"].records["BILL_DETERMINANTS#UR-00081"]
    assert billed["determinants"] == as_ccb_holds("UR-00081", found["result"])
    assert len([k for k in hub.simulators["CCB"].records if k.startswith("BILL_DETERMINANTS#")]) == 1


def test_a_usage_request_in_error_whose_determinants_may_be_at_ccb_is_billed_once_when_resubmitted(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    # Given a usage request whose determinants reached CCB but whose completion was never recorded, ended in ERROR by
    # the release schedule after the retry window (the reason says CCB may hold them)
    clock = HubClock(monkeypatch)
    transition = usage_requests.UsageRequestStore.transition

    def completion_never_recorded(self: Any, usage_request_id: str, from_status: Any, to_status: Any, *args: Any, **kwargs: Any) -> Any:
        if to_status == usage_requests.UsageStatus.COMPLETED:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}}, "UpdateItem")
        return transition(self, usage_request_id, from_status, to_status, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(usage_requests.UsageRequestStore, "transition", completion_never_recorded)
        assert post_batch(hub, [usage_request(82)]).status == 202
        settle(hub, clock, rounds=6)
    clock.advance(timedelta(seconds=3600))
    assert hub.run_schedule(RELEASE).result["expired"] == 1
    assert "CCB may hold them" in state_of(hub, "UR-00082")["history"][-1]["reason"]

    # When an operator resubmits it and the queue is worked
    answer = resubmit(hub, "UR-00082")
    hub.drain()

    # Then it is COMPLETED with the same determinants, and CCB, which got them again, billed them once
    assert answer.status == 202, answer.body
    found = state_of(hub, "UR-00082")
    assert found["status"] == "COMPLETED"
    assert hub.simulators["CCB"].records["BILL_DETERMINANTS#UR-00082"]["determinants"] == as_ccb_holds("UR-00082", found["result"])
    assert ccb_state(hub)["usageRequestsBilled"] == 1
    assert len({k for k in hub.simulators["CCB"].records if k.startswith("BILL_DETERMINANTS#")}) == 1


def test_a_resubmitted_usage_request_whose_sa_data_is_on_its_way_waits_for_it(hub: LocalHub) -> None:
    # Given a usage request in ERROR (MDM did not hold its SA), and the SA's sync request then posted, not yet sent
    post_sample(hub, "person")
    post_sample(hub, "service-point")
    cycle(hub)
    assert post_batch(hub, [usage_request(83, sa="SA-9001")]).status == 202
    hub.drain()
    assert state_of(hub, "UR-00083")["status"] == "ERROR"
    sa = json.loads(sample_event("meter_data/sync_requests/submit-service-agreement.json")["body"])
    posted = hub.call_api(
        "POST",
        "/meter-data/sync-requests",
        body=json.dumps({**sa, "syncRequestId": "SR-SA-9001", "entityId": "SA-9001"}),
        headers=JSON,
        claims=CLAIMS,
    )
    assert posted.status == 202, posted.body

    # When the usage request is resubmitted
    answer = resubmit(hub, "UR-00083")

    # Then it waits for the SA's sync request, and goes on by itself once the SA is synchronized
    assert answer.json() == {"usageRequestId": "UR-00083", "status": "AWAITING_DATA_SYNC"}
    assert "SR-SA-9001 of SERVICE_AGREEMENT SA-9001" in state_of(hub, "UR-00083")["history"][-1]["reason"]
    cycle(hub)
    assert hub.run_schedule(RELEASE).result["released"] == 1
    hub.drain()
    assert state_of(hub, "UR-00083")["status"] == "COMPLETED"
    assert ccb_state(hub)["usageRequestsBilled"] == 1


def test_only_a_usage_request_in_error_can_be_resubmitted(hub: LocalHub) -> None:
    # Given the sample usage request, completed
    assert hub.invoke(INTAKE, sample_event("meter_data/usage_requests/submit.json")).result["statusCode"] == 202
    hub.drain()

    # When the sample resubmission asks to run it again, and an id never stored is resubmitted
    completed = hub.invoke(INTAKE, sample_event("meter_data/usage_requests/resubmit.json")).result
    unknown = resubmit(hub, "UR-404")
    hub.drain()

    # Then the first is a 409 naming its status, the second a 404, and nothing more reached CCB
    assert completed["statusCode"] == 409
    assert "is COMPLETED" in json.loads(completed["body"])["detail"]
    assert unknown.status == 404
    assert ccb_state(hub)["billDeterminantsReceived"] == 1
    assert state_of(hub, "UR-00001")["status"] == "COMPLETED"


DATA_SYNC_WAIT = timedelta(seconds=14400)  # UsageDataSyncWaitSeconds' default in template.yaml


def test_a_usage_request_waiting_behind_a_sync_request_in_error_ends_in_error_after_the_bound_and_can_be_resubmitted(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given SA-0001's sync request refused by MDM (ERROR), and a usage request for SA-0001 waiting behind it
    clock = HubClock(monkeypatch)
    post_sample(hub, "person")
    post_sample(hub, "service-point")
    cycle(hub)
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "usage subscription locked in MDM"})
    sa_request = post_sample(hub, "service-agreement")
    cycle(hub)
    assert post_batch(hub, [usage_request(91, sa="SA-0001")]).json()["results"][0]["status"] == "AWAITING_DATA_SYNC"

    # When the release schedule runs within the waiting bound, and again once it has passed
    metrics: list[dict[str, Any]] = []
    monkeypatch.setattr(observability.metrics, "add_metric", lambda **kwargs: metrics.append(kwargs))
    clock.advance(DATA_SYNC_WAIT - timedelta(minutes=1))
    early = hub.run_schedule(RELEASE).result
    clock.advance(timedelta(minutes=2))
    late = hub.run_schedule(RELEASE).result

    # Then it waits while within the bound, then ends in ERROR with the reason naming the sync request in ERROR, counted
    # in the metric the alarm watches
    assert (early["timedOut"], late["timedOut"]) == (0, 1)
    found = state_of(hub, "UR-00091")
    assert found["status"] == "ERROR"
    reason = found["history"][-1]["reason"]
    assert "longer than 14400 s" in reason
    assert f"{sa_request} of SERVICE_AGREEMENT SA-0001 (in ERROR)" in reason
    assert {"name": "UsageRequestsDataSyncTimedOut", "unit": "Count", "value": 1} in [
        {**m, "unit": getattr(m["unit"], "value", m["unit"])} for m in metrics
    ]
    assert ccb_state(hub)["billDeterminantsReceived"] == 0

    # When the sync request is resubmitted and synchronized, and the usage request is resubmitted
    assert hub.call_api("POST", f"/meter-data/sync-requests/{sa_request}/resubmission", claims=CLAIMS).status == 202
    cycle(hub)
    answer = resubmit(hub, "UR-00091")
    hub.drain()

    # Then it runs and is billed once
    assert answer.json()["status"] == "PENDING"
    assert state_of(hub, "UR-00091")["status"] == "COMPLETED"
    assert ccb_state(hub)["usageRequestsBilled"] == 1


class ItemsRead:
    """The sync request items the functions' queries read (DynamoDB bills a query by what it reads)."""

    def __init__(self) -> None:
        from localhub.lambda_.runtime import INVOCATION_LOCK
        from utilhub.platform import aws

        self.by_function: dict[str, int] = {}
        with INVOCATION_LOCK:
            aws.reset_clients()
            self._session = aws.session()
            self._session.events.register("after-call.dynamodb.Query", self._on_query, unique_id="test-items-read")

    def _on_query(self, parsed: dict[str, Any], **_: Any) -> None:
        import os

        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.by_function[function] = self.by_function.get(function, 0) + int(parsed.get("ScannedCount", 0))

    def of(self, function: str) -> int:
        return sum(n for f, n in self.by_function.items() if f.endswith(function))

    def close(self) -> None:
        from utilhub.platform import aws

        self._session.events.unregister("after-call.dynamodb.Query", unique_id="test-items-read")
        aws.reset_clients()


def test_the_data_sync_check_reads_the_sas_own_entities_not_the_backlog_of_sync_requests(hub: LocalHub) -> None:
    # Given SA-0001 synchronized on SP-0001, then a change to SP-0001 not yet sent, behind a backlog of 300 sync
    # requests of other service points
    for name in ("person", "service-point"):
        post_sample(hub, name)
    cycle(hub)
    post_sample(hub, "service-agreement")
    cycle(hub)
    point = json.loads(sample_event("meter_data/sync_requests/submit-service-point.json")["body"])
    for start in range(0, 300, 100):
        backlog = [{**point, "syncRequestId": f"SR-BL-{n}", "entityId": f"SP-BL-{n}"} for n in range(start, start + 100)]
        posted = hub.call_api(
            "POST", "/meter-data/sync-requests:batch", body=json.dumps({"requests": backlog}), headers=JSON, claims=CLAIMS
        )
        assert posted.status == 202, posted.body
    change = {**point, "syncRequestId": "SR-SP-9", "changedAt": "2026-11-26T09:00:00Z"}
    # (in a batch: a single request would be sent at its intake; a batch waits for the monitor)
    body = json.dumps({"requests": [change]})
    assert hub.call_api("POST", "/meter-data/sync-requests:batch", body=body, headers=JSON, claims=CLAIMS).status == 202

    # When SA-0001's usage and another SA's are requested, and the release schedule runs
    read = ItemsRead()
    try:
        accepted = post_batch(hub, [usage_request(101, sa="SA-0001"), usage_request(102)])
        released = hub.run_schedule(RELEASE).result
    finally:
        read.close()

    # Then SA-0001's waits for its service point's sync request and the other goes on, and neither the intake nor the
    # release read more than a few items to know it: the SAs' own entities, not the 300 others waiting
    assert [r["status"] for r in accepted.json()["results"]] == ["AWAITING_DATA_SYNC", "PENDING"]
    assert "SR-SP-9 of SERVICE_POINT SP-0001" in state_of(hub, "UR-00101")["history"][0]["reason"]
    assert released["waiting"] == 1
    assert read.of(INTAKE) <= 3, read.by_function
    assert read.of(RELEASE) <= 3, read.by_function


def test_a_gas_sa_synchronized_with_its_service_type_is_billed_in_therms(hub: LocalHub) -> None:
    # Given CCB's person and service point, and a gas SA (CCB's service type code G) synchronized to MDM
    post_sample(hub, "person")
    post_sample(hub, "service-point")
    cycle(hub)
    gas_sa = {"accountId": "AC-0001", "servicePointIds": ["SP-0001"], "personId": "P-0001", "saType": "G-RES", "serviceType": "G"}
    synced = post_json(
        hub,
        "/meter-data/sync-requests",
        {
            "syncRequestId": "SR-GAS-1",
            "entityType": "SERVICE_AGREEMENT",
            "entityId": "SA-GAS-1",
            "changedAt": "2026-11-20T09:50:00Z",
            "data": gas_sa,
        },
        CLAIMS,
    )
    assert synced.status == 202, synced.body
    cycle(hub)
    mdm_record = hub.simulators["MDM"].records["SERVICE_AGREEMENT#SA-GAS-1"]
    assert mdm_record["data"]["ServiceType"] == "GAS"  # MDM's code, through the ServiceType map

    # When the bill run asks for its determinants, beside an electric SA's
    assert post_batch(hub, [usage_request(31, sa="SA-GAS-1"), usage_request(32)]).status == 202
    hub.drain()

    # Then the gas SA is billed at CCB on one total in therms, the electric SA as before in kWh with time of use
    gas, electric = state_of(hub, "UR-00031"), state_of(hub, "UR-00032")
    assert (gas["status"], electric["status"]) == ("COMPLETED", "COMPLETED")
    assert (gas["result"]["serviceType"], gas["result"]["uom"]) == ("GAS", "THERM")
    assert [(d["uom"], d["touPeriod"]) for d in gas["result"]["determinants"]] == [("THERM", "TOTAL")]
    assert {d["touPeriod"] for d in electric["result"]["determinants"]} == {"TOTAL", "ON_PEAK", "SHOULDER", "OFF_PEAK", "PEAK"}
    held = hub.simulators["CCB"].records["BILL_DETERMINANTS#UR-00031"]["determinants"]
    assert held["determinants"] == gas["result"]["determinants"]
    # and CCB received the service type in its own code (the ServiceType map's CCB column), as it bills it
    assert (held["serviceType"], hub.simulators["CCB"].records["BILL_DETERMINANTS#UR-00032"]["determinants"]["serviceType"]) == ("G", "E")
    assert ccb_state(hub)["usageRequestsReceivedTwice"] == []
