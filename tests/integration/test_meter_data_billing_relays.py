"""MD-13 replacement reads, MD-16 usage transaction info update and MD-20 bill cycle changes: accepted with 202,
queued, delivered once to CCB or MDM through the platform's relay, retried while the target is down, a business
refusal recorded and not retried. The API and relay functions in-process, the simulators over HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import httpx
import pytest

from localhub.hub import LocalHub
from tests.conftest import sample_event
from tests.helpers import post_json

CCB_CLAIMS = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
MDM_CLAIMS = {"client_id": "mdm", "scope": "utilhub/meter-data-ack utilhub/meter-data-mdm", "token_use": "access"}
API = "MeterDataRelayIntakeFunction"
RELAY = "MeterDataRelayFunction"


def sample_body(name: str) -> dict[str, Any]:
    return json.loads(sample_event(f"meter_data/billing_events/{name}")["body"])  # type: ignore[no-any-return]


def post(hub: LocalHub, path: str, body: dict[str, Any], claims: dict[str, Any] = MDM_CLAIMS) -> Any:
    return post_json(hub, path, body, claims)


def bill_status(hub: LocalHub, usage_transaction: str, body: dict[str, Any]) -> Any:
    return post(hub, f"/meter-data/usage-transactions/{usage_transaction}/bill-status", body, CCB_CLAIMS)


def received(hub: LocalHub, system: str, operation: str) -> list[str]:
    """What the system took (a repeat it answered 409 is left out: see :func:`repeats`)."""
    return [m["id"] for m in hub.simulators[system].received if m.get("operation") == operation and not m.get("repeat")]


def repeats(hub: LocalHub) -> list[str]:
    """What CCB and MDM were sent again after they took it (the hub's once-per-event delivery should send nothing twice)."""
    return [m["id"] for name in ("CCB", "MDM") for m in hub.simulators[name].received if m.get("repeat")]


def used_on_bill(hub: LocalHub, usage_transaction: str) -> dict[str, Any]:
    return hub.simulators["MDM"].state()["billing"]["usedOnBill"][usage_transaction]  # type: ignore[no-any-return]


def dead_letters(hub: LocalHub) -> list[dict[str, Any]]:
    """What waits in the relay's dead-letter queues (MD-16's FIFO one and the others')."""
    sqs = boto3.client("sqs", region_name=hub._stack().region)
    found: list[dict[str, Any]] = []
    for name in ("MeterDataRelayDeadLetterQueue", "MeterDataBillStatusDeadLetterQueue"):
        url = hub.resources()[name]
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", []):
            found.extend(json.loads(m["Body"]) for m in batch)
    return found


def settle_relay(hub: LocalHub, rounds: int = 8) -> None:
    """Deliver, and let every failed delivery come back at once, until the queue has tried each one enough."""
    for _ in range(rounds):
        hub.drain()
        hub.expire_visibility()
    hub.drain()


def test_replacement_reads_sent_twice_reach_ccb_as_one_off_cycle_bill_request(hub: LocalHub) -> None:
    # Given the sample MDM replacement reads notification
    event = sample_event("meter_data/billing_events/replacement-reads.json")

    # When MDM sends it twice and the queue delivers
    first = hub.invoke(API, event).result
    second = hub.invoke(API, event).result
    hub.drain()

    # Then both are accepted with 202 and nothing else, CCB holds one off-cycle bill request for it, and MDM is told nothing
    assert (first["statusCode"], second["statusCode"]) == (202, 202)
    assert json.loads(first["body"]) == {"notificationId": "MDM-RR-1001", "status": "ACCEPTED"}
    assert received(hub, "CCB", "off-cycle-bill-requests") == ["MDM-RR-1001"]
    request = hub.simulators["CCB"].records["OFF_CYCLE_BILL#MDM-RR-1001"]
    assert (request["saId"], request["usageTransactionId"], request["periodEnd"]) == ("SA-0001", "UT-5001", "2026-10-31")
    assert request["source"] == "MDM_REPLACEMENT_READS"
    assert hub.simulators["MDM"].received_total == 0
    assert repeats(hub) == []  # and never sent twice


def test_mdm_sends_replacement_reads_and_bill_cycle_changes_on_command(hub: LocalHub) -> None:
    # Given the MDM simulator connected to the hub
    mdm = hub.simulator_url("MDM")

    # When MDM's user replaces reads and changes a service point's bill cycle (MDM's own routes, over HTTP)
    reads = {"saId": "SA-0009", "usageTransactionId": "UT-9", "periodStart": "2026-10-01", "periodEnd": "2026-10-31"}
    change = {"servicePointId": "SP-0009", "billCycle": "BC12", "effectiveDate": "2026-12-01"}
    sent = [
        httpx.post(f"{mdm}/outbound/replacement-reads", json=reads, timeout=30),
        httpx.post(f"{mdm}/outbound/bill-cycle-changes", json=change, timeout=30),
    ]
    refused = httpx.post(f"{mdm}/outbound/bill-cycle-changes", json={**change, "billCycle": "no such"}, timeout=30)
    hub.drain()

    # Then the hub accepted both, and CCB holds the off-cycle bill request and the new bill cycle of the service point;
    # MDM does not send what its own model refuses
    answers = [reply.json() for reply in sent]
    assert [a["hubStatus"] for a in answers] == [202, 202]
    assert refused.status_code == 400
    ccb = hub.simulators["CCB"]
    assert ccb.records[f"OFF_CYCLE_BILL#{answers[0]['notification']['notificationId']}"]["saId"] == "SA-0009"
    assert ccb.records["SP_BILL_CYCLE#SP-0009"] == {"billCycle": "BC12", "effectiveDate": "2026-12-01"}


@pytest.mark.parametrize(("event", "flag"), [("BILL_COMPLETED", True), ("SEGMENT_FROZEN", True), ("SEGMENT_CANCELED", False)])
def test_bill_status_events_set_the_used_on_bill_flag_at_mdm(hub: LocalHub, event: str, flag: bool) -> None:
    # Given a bill status event from CCB for usage transaction UT-1
    body = {"eventId": f"E-{event}", "event": event, "at": "2026-11-02T07:30:00Z"}

    # When CCB posts it and the queue delivers
    answer = bill_status(hub, "UT-1", body)
    hub.drain()

    # Then it is accepted, and MDM holds the flag the event means
    assert answer.status == 202
    assert answer.json()["usedOnBill"] is flag
    assert used_on_bill(hub, "UT-1")["usedOnBill"] is flag


def test_a_canceled_segment_after_a_completed_bill_leaves_the_usage_not_used_and_each_event_applies_once(hub: LocalHub) -> None:
    # Given a completed bill, then the segment canceled, each sent twice, the first also redelivered from the sample
    completed = {"eventId": "E-1", "event": "BILL_COMPLETED", "at": "2026-11-02T07:30:00Z"}
    canceled = {"eventId": "E-2", "event": "SEGMENT_CANCELED", "at": "2026-11-05T10:00:00Z"}

    # When CCB posts them (the cancellation delivered first, as a queue may) and the relay delivers
    for body in (canceled, canceled, completed, completed):
        assert bill_status(hub, "UT-2", body).status == 202
    hub.drain()

    # Then MDM applied each event once, and the later cancellation wins over the earlier completion
    held = used_on_bill(hub, "UT-2")
    assert sorted(held["events"]) == ["E-1", "E-2"]
    assert held["usedOnBill"] is False
    assert received(hub, "MDM", "bill-usage") == ["UT-2", "UT-2"]
    assert repeats(hub) == []  # and never sent twice


def test_bill_cycle_change_reaches_ccb_once(hub: LocalHub) -> None:
    # Given the sample bill cycle change, sent twice by MDM
    for _ in range(2):
        assert hub.invoke(API, sample_event("meter_data/billing_events/bill-cycle-changes.json")).result["statusCode"] == 202

    # When the queue delivers
    hub.drain()

    # Then CCB took it once, and the service point's bill cycle is the new one
    assert received(hub, "CCB", "bill-cycle-changes") == ["MDM-BCC-3001"]
    assert hub.simulators["CCB"].records["SP_BILL_CYCLE#SP-0001"]["billCycle"] == "BC07"
    assert repeats(hub) == []  # and never sent twice


def test_events_while_the_target_is_down_are_retried_by_the_queue(hub: LocalHub) -> None:
    # Given CCB and MDM down for their next two calls
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 2})
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 2})

    # When replacement reads and a bill status are accepted, and the queue delivers, then redelivers
    assert post(hub, "/meter-data/replacement-reads", sample_body("replacement-reads.json")).status == 202
    assert bill_status(hub, "UT-5001", sample_body("bill-status.json")).status == 202
    settle_relay(hub)

    # Then each reached its target once, and nothing is in the dead-letter queue
    assert received(hub, "CCB", "off-cycle-bill-requests") == ["MDM-RR-1001"]
    assert received(hub, "MDM", "bill-usage") == ["UT-5001"]
    assert dead_letters(hub) == []
    assert repeats(hub) == []  # and never sent twice


def test_a_target_down_beyond_the_queues_tries_leaves_the_event_in_the_dead_letter_queue(hub: LocalHub) -> None:
    # Given CCB down for longer than the queue tries (maxReceiveCount 5)
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 20})

    # When a bill cycle change is accepted and the queue tries it until it gives up
    assert post(hub, "/meter-data/bill-cycle-changes", sample_body("bill-cycle-changes.json")).status == 202
    settle_relay(hub)

    # Then it waits in the dead-letter queue for an operator, and CCB has nothing
    assert [m["eventId"] for m in dead_letters(hub)] == ["MDM-BCC-3001"]
    assert received(hub, "CCB", "bill-cycle-changes") == []


def test_a_business_refusal_goes_to_the_dead_letter_queue_at_once_with_its_reason_and_is_redriven_once_fixed(hub: LocalHub) -> None:
    # Given MDM refusing the next update (a usage transaction it cannot flag yet)
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "usage transaction UT-404 is not final"})

    # When CCB posts a bill status for it, and the relay delivers once
    assert bill_status(hub, "UT-404", {"eventId": "E-404", "event": "SEGMENT_FROZEN"}).status == 202
    hub.drain()

    # Then the event waits in the dead-letter queue at once (not after the queue's five tries), with MDM's status and reason
    sqs = boto3.client("sqs", region_name=hub._stack().region)
    url = hub.resources()["MeterDataBillStatusDeadLetterQueue"]  # MD-16's own (FIFO), in its usage transaction's group
    [kept] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"]
    assert json.loads(kept["Body"])["eventId"] == "UT-404#E-404"
    assert kept["MessageAttributes"]["refusedStatus"]["StringValue"] == "422"
    assert kept["MessageAttributes"]["refusedReason"]["StringValue"] == "HTTP 422"  # MDM's status, never its message
    assert used_on_bill(hub, "UT-404")["events"] == []

    # And once MDM takes it, an operator's redrive delivers it once
    redriven = hub.call_api(
        "POST", "/meter-data/dead-letters/bill-status/redrive", body=b"", claims={"client_id": "ops", "scope": "utilhub/ops"}
    )
    assert redriven.status == 202
    hub.drain()
    assert used_on_bill(hub, "UT-404")["events"] == ["E-404"]
    assert dead_letters(hub) == []


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("/meter-data/replacement-reads", {"periodEnd": "2026-09-30"}, "#/periodEnd"),
        ("/meter-data/replacement-reads", {"saId": "SA 1/../x"}, "#/saId"),
        ("/meter-data/replacement-reads", {"notificationId": None}, "#/notificationId"),
        ("/meter-data/bill-cycle-changes", {"billCycle": "bc 7"}, "#/billCycle"),
        ("/meter-data/bill-cycle-changes", {"effectiveDate": "tomorrow"}, "#/effectiveDate"),
        ("/meter-data/usage-transactions/UT-1/bill-status", {"event": "BILL_PRINTED"}, "#/event"),
        ("/meter-data/usage-transactions/UT-1/bill-status", {"sneaky": "field"}, "#/sneaky"),
    ],
)
def test_bad_events_are_422_naming_the_field_and_never_queued(hub: LocalHub, path: str, body: dict[str, Any], pointer: str) -> None:
    # Given a sample body with one field made invalid
    name = {"replacement": "replacement-reads.json", "bill-cycle": "bill-cycle-changes.json", "usage": "bill-status.json"}
    base = next(sample_body(file) for key, file in name.items() if path.removeprefix("/meter-data/").startswith(key))

    # When it is posted
    claims = CCB_CLAIMS if "bill-status" in path else MDM_CLAIMS
    answer = post(hub, path, {**base, **body}, claims)
    hub.drain()

    # Then it is a 422 pointing at the field, and no target got anything
    assert answer.status == 422, answer.body
    assert pointer in [e["pointer"] for e in answer.json()["errors"]]
    assert hub.simulators["CCB"].received_total == hub.simulators["MDM"].received_total == 0


def test_a_path_parameter_that_is_not_an_id_is_a_400_naming_it_and_never_queued(hub: LocalHub) -> None:
    # When CCB posts a bill status under a usage transaction id holding a line feed
    answer = post(hub, "/meter-data/usage-transactions/UT%0A1/bill-status", sample_body("bill-status.json"), CCB_CLAIMS)
    hub.drain()

    # Then the one rule for path parameters refuses it (400 naming the parameter), and MDM got nothing
    assert answer.status == 400, answer.body
    assert [e["pointer"] for e in answer.json()["errors"]] == ["#/pathParameters/usageTransactionId"]
    assert hub.simulators["MDM"].received_total == 0


def test_mdm_notifications_need_mdms_scope_and_bill_status_the_meter_data_scope(hub: LocalHub) -> None:
    # Given CCB's token (meter-data) and MDM's (meter-data-mdm)
    # When each posts what the other sends
    from_ccb = post(hub, "/meter-data/replacement-reads", sample_body("replacement-reads.json"), CCB_CLAIMS)
    from_mdm = post(hub, "/meter-data/usage-transactions/UT-1/bill-status", sample_body("bill-status.json"), MDM_CLAIMS)

    # Then both are refused with 403
    assert (from_ccb.status, from_mdm.status) == (403, 403)


def test_relay_sample_batch_delivered_twice_reaches_each_target_once(hub: LocalHub) -> None:
    # Given the relay's sample batch (replacement reads, a bill status, a bill cycle change)
    batch = sample_event("meter_data/billing_event_delivery/sqs.json")

    # When it is delivered twice (the queue may redeliver)
    first = hub.invoke(RELAY, batch).result
    second = hub.invoke(RELAY, batch).result

    # Then no record fails, and each target got each event once
    assert first == second == {"batchItemFailures": []}
    assert received(hub, "CCB", "off-cycle-bill-requests") == ["MDM-RR-1001"]
    assert received(hub, "CCB", "bill-cycle-changes") == ["MDM-BCC-3001"]
    assert received(hub, "MDM", "bill-usage") == ["UT-5001"]


def test_a_fault_run_delivers_every_event_once_or_leaves_it_in_the_dead_letter_queue(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given CCB and MDM down for a while, a sixth of the functions' AWS calls throttled beyond boto3's retries,
    # and every replacement reads notification and bill status event sent twice
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 6})
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 6, "after": 2})
    reads = [{**sample_body("replacement-reads.json"), "notificationId": f"RR-{n}", "usageTransactionId": f"UT-{n}"} for n in range(8)]
    statuses = [(f"UT-{n}", {"eventId": f"BS-{n}", "event": "BILL_COMPLETED", "at": "2026-11-02T07:30:00Z"}) for n in range(8)]

    def send(call: Any) -> None:
        for _ in range(40):  # the sender posts again on 503 (AWS busy)
            answer = call()
            if answer.status != 503:
                break
            time.sleep(0.05)
        assert answer.status == 202, answer.body

    with AwsThrottling(1 / 6, seed=13) as throttling:
        for body in reads * 2:
            send(lambda body=body: post(hub, "/meter-data/replacement-reads", body))
        for usage_transaction, body in statuses * 2:
            send(lambda ut=usage_transaction, body=body: bill_status(hub, ut, body))
        settle_relay(hub, rounds=10)
    assert throttling.throttled

    # Then no event reached its target twice, and every event reached it or waits in the dead-letter queue (a copy
    # of a delivered event may wait there too: its key was still claimed by the delivery whose outcome a throttled
    # write did not record; redriven, it finds the target holding it and changes nothing)
    parked = {m["eventId"] for m in dead_letters(hub)}
    off_cycle = received(hub, "CCB", "off-cycle-bill-requests")
    used = [f"{m['id']}#{m['eventId']}" for m in hub.simulators["MDM"].received if m.get("operation") == "bill-usage"]
    for body in reads:
        assert off_cycle.count(body["notificationId"]) <= 1, body["notificationId"]
        assert body["notificationId"] in off_cycle or body["notificationId"] in parked, body["notificationId"]
    for usage_transaction, body in statuses:
        key = f"{usage_transaction}#{body['eventId']}"
        assert used.count(key) <= 1, key
        assert key in used or key in parked, key
    assert len(off_cycle) + len(used) >= 8  # the retries outlast the outages


def test_the_same_notification_id_with_other_values_is_not_applied_and_waits_in_the_dead_letter_queue(hub: LocalHub) -> None:
    # Given replacement reads delivered to CCB
    first = sample_body("replacement-reads.json")
    assert post(hub, "/meter-data/replacement-reads", first).status == 202
    hub.drain()

    # When MDM reuses the notification id for another SA
    assert post(hub, "/meter-data/replacement-reads", {**first, "saId": "SA-0002"}).status == 202
    settle_relay(hub)

    # Then CCB keeps the first request only, and the conflicting one waits for an operator
    assert received(hub, "CCB", "off-cycle-bill-requests") == ["MDM-RR-1001"]
    assert hub.simulators["CCB"].records["OFF_CYCLE_BILL#MDM-RR-1001"]["saId"] == "SA-0001"
    assert [(m["eventId"], m["payload"]["saId"]) for m in dead_letters(hub)] == [("MDM-RR-1001", "SA-0002")]


def test_a_completed_bill_redelivered_after_its_segment_was_canceled_does_not_override_the_cancellation(hub: LocalHub) -> None:
    # Given MDM down for the first delivery of a usage transaction's completed bill (no `at`: MDM takes the order it
    # is given), so the queue has to deliver it again
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 1})
    assert bill_status(hub, "UT-7", {"eventId": "E-71", "event": "BILL_COMPLETED"}).status == 202
    hub.drain()
    assert "UT-7" not in hub.simulators["MDM"].state()["billing"]["usedOnBill"]

    # When CCB then cancels the segment, the relay delivers what it can, and the completed bill comes back to it
    assert bill_status(hub, "UT-7", {"eventId": "E-72", "event": "SEGMENT_CANCELED"}).status == 202
    hub.drain()
    hub.expire_visibility()
    hub.drain()

    # Then MDM got the events in the order CCB gave them, each once, and ends with the flag of the latest: not used
    held = used_on_bill(hub, "UT-7")
    assert held["events"] == ["E-71", "E-72"]
    assert held["usedOnBill"] is False
    assert repeats(hub) == []


def test_bill_status_events_of_different_usage_transactions_are_not_held_behind_each_other(hub: LocalHub) -> None:
    # Given MDM down for its next call: the first usage transaction's event fails its first delivery
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 1})
    assert bill_status(hub, "UT-8", {"eventId": "E-81", "event": "BILL_COMPLETED"}).status == 202
    hub.drain()

    # When another usage transaction's event is accepted and the queue delivers
    assert bill_status(hub, "UT-9", {"eventId": "E-91", "event": "SEGMENT_FROZEN"}).status == 202
    hub.drain()

    # Then it reached MDM at once, while the first waits for its redelivery, then reaches MDM too
    assert used_on_bill(hub, "UT-9")["usedOnBill"] is True
    assert "UT-8" not in hub.simulators["MDM"].state()["billing"]["usedOnBill"]
    hub.expire_visibility()
    hub.drain()
    assert used_on_bill(hub, "UT-8")["usedOnBill"] is True


def test_a_failed_bill_status_holds_back_the_later_events_of_its_usage_transaction_only(hub: LocalHub) -> None:
    # Given the relay's FIFO sample batch: UT-5001 completed then canceled, and UT-5002 frozen; MDM down for one call
    batch = sample_event("meter_data/billing_event_delivery/sqs-bill-status-fifo.json")
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 1})

    # When the relay function gets it, then the records it handed back once more
    first = hub.invoke(RELAY, batch).result
    handed_back = {f["itemIdentifier"] for f in first["batchItemFailures"]}
    again = hub.invoke(RELAY, {"Records": [r for r in batch["Records"] if r["messageId"] in handed_back]}).result

    # Then the failed completion and the cancellation behind it were handed back, not the other transaction's event;
    # redelivered, they reach MDM in order, and UT-5001 ends not used on bill
    assert handed_back == {r["messageId"] for r in batch["Records"][:2]}
    assert again == {"batchItemFailures": []}
    assert used_on_bill(hub, "UT-5001")["events"] == ["CCB-BS-2001", "CCB-BS-2002"]
    assert used_on_bill(hub, "UT-5001")["usedOnBill"] is False
    assert used_on_bill(hub, "UT-5002")["usedOnBill"] is True
