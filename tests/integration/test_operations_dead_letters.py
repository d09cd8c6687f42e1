"""Operators' dead-letter queues (OperationsDeadLettersFunction, functions.operations.dead_letters.app): each
queue's depth, and a redrive that sends its messages back to the queue they came from, where they are delivered once."""

from __future__ import annotations

import json
from typing import Any

import boto3

from localhub.hub import LocalHub
from tests.conftest import sample_event
from tests.helpers import JSON

OPS_CLAIMS = {"client_id": "ops", "scope": "utilhub/ops", "token_use": "access"}
MDM_CLAIMS = {"client_id": "mdm", "scope": "utilhub/meter-data-ack utilhub/meter-data-mdm", "token_use": "access"}


def depths(hub: LocalHub) -> dict[str, int]:
    answer = hub.call_api("GET", "/ops/dead-letters", claims=OPS_CLAIMS)
    assert answer.status == 200
    return {item["queue"]: item["messages"] for item in answer.json()["items"]}


def redrive(hub: LocalHub, pack: str, queue: str, claims: dict[str, Any] = OPS_CLAIMS) -> Any:
    return hub.call_api("POST", f"/{pack}/dead-letters/{queue}/redrive", body=b"", claims=claims)


def journaled(hub: LocalHub, point: str) -> list[dict[str, Any]]:
    answer = hub.call_api("GET", "/ops/transactions", claims=OPS_CLAIMS, query=f"point={point}")
    assert answer.status == 200, answer.body
    return answer.json()["items"]  # type: ignore[no-any-return]


def settle(hub: LocalHub, rounds: int = 8) -> None:
    """Deliver, and let every failed delivery come back at once, until the queue has tried each one enough."""
    for _ in range(rounds):
        hub.drain()
        hub.expire_visibility()
    hub.drain()


def test_a_bill_cycle_change_dead_lettered_by_a_long_ccb_outage_is_redriven_and_reaches_ccb_once(hub: LocalHub) -> None:
    # Given MDM's bill cycle change, dead-lettered while CCB was down beyond the relay queue's tries
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 20})
    change = json.loads(sample_event("meter_data/billing_events/bill-cycle-changes.json")["body"])
    assert hub.call_api("POST", "/meter-data/bill-cycle-changes", body=json.dumps(change), headers=JSON, claims=MDM_CLAIMS).status == 202
    settle(hub)
    assert depths(hub)["meter-data/relay"] == 1
    listed = {item["queue"]: item for item in hub.call_api("GET", "/ops/dead-letters", claims=OPS_CLAIMS).json()["items"]}
    assert listed["meter-data/relay"]["oldestAt"] is not None  # when the change was first sent
    assert listed["customer/updates"]["oldestAt"] is None
    assert "SP_BILL_CYCLE#SP-0001" not in hub.simulators["CCB"].records
    # and the operators see it failed, in the dead-letter queue after its last try, not still in flight
    assert [(t["id"], t["state"], t["reason"]) for t in journaled(hub, "MD-20")] == [
        ("MDM-BCC-3001", "FAILED", "not delivered after 5 tries (CCB answered 503); in the dead-letter queue")
    ]
    hub.simulators["CCB"].faults.clear()

    # When an operator redrives the queue, and the relay delivers
    answer = redrive(hub, "meter-data", "relay")
    hub.drain()

    # Then the redrive was accepted for one message, CCB holds the change once, and the queue is empty
    assert answer.status == 202
    assert {k: v for k, v in answer.json().items() if k != "taskHandle"} == {"queue": "meter-data/relay", "messages": 1}
    assert hub.simulators["CCB"].records["SP_BILL_CYCLE#SP-0001"]["billCycle"] == change["billCycle"]
    taken = [m for m in hub.simulators["CCB"].received if m.get("operation") == "bill-cycle-changes" and not m.get("repeat")]
    assert len(taken) == 1
    assert depths(hub)["meter-data/relay"] == 0
    assert [(t["id"], t["state"]) for t in journaled(hub, "MD-20")] == [("MDM-BCC-3001", "COMPLETED")]
    # And a second redrive finds nothing to send, by the pack's route or by the operations API's (the queue as listed)
    again = redrive(hub, "meter-data", "relay")
    assert again.status == 409
    assert "holds no message" in again.json()["detail"]
    by_name = hub.call_api("POST", "/ops/dead-letters/meter-data%2Frelay/redrive", body=b"", claims=OPS_CLAIMS)
    assert (by_name.status, by_name.json()["detail"]) == (409, again.json()["detail"])


def test_an_event_held_behind_a_failing_one_of_its_group_is_dead_lettered_with_it_in_the_journal(hub: LocalHub) -> None:
    # Given MD-16's FIFO relay, two bill status events of one usage transaction, and MDM down for good: the first
    # fails every try, the second is never handed to the relay (held behind it) though each receive counts against it
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 50})
    ccb = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
    for event_id, event in (("E-1", "BILL_COMPLETED"), ("E-2", "SEGMENT_CANCELED")):
        body = json.dumps({"eventId": event_id, "event": event})
        answer = hub.call_api("POST", "/meter-data/usage-transactions/UT-1/bill-status", body=body, headers=JSON, claims=ccb)
        assert answer.status == 202

    # When the queue has tried them both enough
    settle(hub)

    # Then both wait in the dead-letter queue, and the operators see both failed, the second held behind the first
    assert depths(hub)["meter-data/bill-status"] == 2
    assert not [m for m in hub.simulators["MDM"].received if m.get("operation") == "bill-status"]
    assert sorted((t["id"], t["state"], t["reason"]) for t in journaled(hub, "MD-16")) == [
        ("UT-1/E-1", "FAILED", "not delivered after 5 tries (MDM answered 503); in the dead-letter queue"),
        ("UT-1/E-2", "FAILED", "not delivered after 5 tries (held behind UT-1/E-1 of its group); in the dead-letter queue"),
    ]


def test_a_refused_event_the_dead_letter_queue_does_not_take_is_tried_again_and_failed_in_the_journal_on_its_last_try(
    hub: LocalHub,
) -> None:
    # Given MD-16's FIFO relay, MDM refusing a bill status event (422) every time, and SQS failing the move to the
    # relay queue's dead-letter queue (the queue gone: the send answers QueueDoesNotExist, as a denied or throttled one fails)
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 50, "reason": "usage transaction UT-9 is not final"})
    boto3.client("sqs").delete_queue(QueueUrl=hub.resources()["MeterDataBillStatusDeadLetterQueue"])
    body = json.dumps({"eventId": "E-9", "event": "BILL_COMPLETED"})
    ccb = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
    assert hub.call_api("POST", "/meter-data/usage-transactions/UT-9/bill-status", body=body, headers=JSON, claims=ccb).status == 202

    # When the relay is given it
    hub.drain()

    # Then its try failed as any other does: a RETRY on its timeline with MDM's answer, not REFUSED (which would say it
    # waits in a dead-letter queue), and it is still in the relay's queue, not lost
    trace = hub.call_api("GET", "/ops/transactions/MD-16/UT-9%2FE-9", claims=OPS_CLAIMS).json()
    assert trace["state"] == "RECEIVED"
    assert [(s["step"], s["outcome"], s["detail"]) for s in trace["timeline"] if s["step"] == "delivery"] == [
        ("delivery", "RETRY", "TargetRejected: HTTP 422")
    ]
    queued = boto3.client("sqs").get_queue_attributes(QueueUrl=hub.resources()["MeterDataBillStatusQueue"], AttributeNames=["All"])
    assert queued["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"

    # And when every try's move fails so, the queue's last receive is journaled DEAD_LETTERED (SQS moves it there itself)
    settle(hub)
    assert [(t["id"], t["state"], t["reason"]) for t in journaled(hub, "MD-16")] == [
        ("UT-9/E-9", "FAILED", "not delivered after 5 tries (HTTP 422); in the dead-letter queue")
    ]
    assert not [m for m in hub.simulators["MDM"].received if m.get("operation") == "bill-status" and not m.get("repeat")]


def test_a_customer_update_dead_lettered_by_a_long_ccb_outage_is_failed_in_the_journal_and_redriven_to_ccb(hub: LocalHub) -> None:
    from tests.integration.test_customer_siebel_customers import account, customer_at_ccb, order, post_order, post_update

    # Given a synchronized customer, and CCB down past the update queue's tries
    assert post_order(hub, order("SO-DL", account("DL1"))).status == 200
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 20})
    assert post_update(hub, "DL1", {"updateId": "U-DL", "changedAt": "2099-01-01T00:00:00Z", "name": "Grace Hopper"}).status == 202

    # When the queue has tried it enough
    settle(hub)

    # Then it waits in the dead-letter queue, and the operators see it failed there after its last try, not retrying
    assert depths(hub)["customer/updates"] == 1
    assert [(t["id"], t["state"], t["reason"]) for t in journaled(hub, "CU-02")] == [
        (
            "DL1/U-DL",
            "FAILED",
            "not delivered after 5 tries (502 Bad gateway: CCB answered an error: CCB answered 503); in the dead-letter queue",
        )
    ]

    # And once CCB is back, a redrive applies it once and the journal says so
    hub.simulators["CCB"].faults.clear()
    assert redrive(hub, "customer", "updates").status == 202
    hub.drain()
    assert customer_at_ccb(hub, "DL1")["person"] == {"name": "Grace Hopper"}
    assert depths(hub)["customer/updates"] == 0
    assert [(t["id"], t["state"]) for t in journaled(hub, "CU-02")] == [("DL1/U-DL", "COMPLETED")]


def test_a_customer_update_held_behind_a_failing_one_is_dead_lettered_naming_it_and_redriven_after_it(hub: LocalHub) -> None:
    from tests.integration.test_customer_siebel_customers import account, customer_at_ccb, order, post_order, post_update

    # Given a synchronized customer, CCB down past the update queue's tries, and two updates of it: the first fails every
    # try, the second is never handed over (held behind it in its customer's group), though each receive counts for it
    assert post_order(hub, order("SO-HB", account("HB1"))).status == 200
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 20})
    first = {"updateId": "U-HB-1", "changedAt": "2099-01-01T00:00:00Z", "name": "Grace Hopper"}
    second = {"updateId": "U-HB-2", "changedAt": "2099-01-02T00:00:00Z", "name": "Grace Brewster Hopper"}
    assert post_update(hub, "HB1", first).status == 202
    assert post_update(hub, "HB1", second).status == 202

    # When the queue has tried them enough
    settle(hub)

    # Then both wait in the dead-letter queue, and the operators see both failed there, the second naming the first
    assert depths(hub)["customer/updates"] == 2
    assert sorted((t["id"], t["state"], t["reason"]) for t in journaled(hub, "CU-02")) == [
        (
            "HB1/U-HB-1",
            "FAILED",
            "not delivered after 5 tries (502 Bad gateway: CCB answered an error: CCB answered 503); in the dead-letter queue",
        ),
        ("HB1/U-HB-2", "FAILED", "not delivered after 5 tries (held behind HB1/U-HB-1 of its customer); in the dead-letter queue"),
    ]
    held = hub.call_api("GET", "/ops/transactions/CU-02/HB1%2FU-HB-2", claims=OPS_CLAIMS).json()
    assert held["state"] == "FAILED"
    assert held["detailState"] == "DEAD_LETTERED"

    # And once CCB is back, a redrive applies both, in Siebel's order, and the journal says so
    hub.simulators["CCB"].faults.clear()
    assert redrive(hub, "customer", "updates").json()["messages"] == 2
    hub.drain()
    assert customer_at_ccb(hub, "HB1")["person"] == {"name": "Grace Brewster Hopper"}
    assert depths(hub)["customer/updates"] == 0
    assert sorted((t["id"], t["state"]) for t in journaled(hub, "CU-02")) == [("HB1/U-HB-1", "COMPLETED"), ("HB1/U-HB-2", "COMPLETED")]


def test_a_sync_request_dead_lettered_by_a_long_mdm_outage_is_failed_in_the_journal_and_synchronized_by_a_redrive(
    hub: LocalHub,
) -> None:
    from tests.integration.test_meter_data_person_sync import cycle, person, status_of, submit

    # Given a person's sync request sent while MDM is down past the delivery queue's tries
    hub.simulators["MDM"].add_fault({"kind": "down", "count": 20})
    assert submit(hub, person("SR-DL")).status == 202
    cycle(hub)

    # When the queue has tried it enough
    settle(hub)

    # Then its message waits in the dead-letter queue, and the operators see the request failed there, not in flight
    # (the request itself is SENT: its time-out, after the queue's redelivery span, queues it again)
    assert depths(hub)["meter-data/sync-deliveries"] == 1
    assert status_of(hub, "SR-DL")["status"] == "SENT"
    assert [(t["id"], t["state"], t["reason"]) for t in journaled(hub, "MD-01")] == [
        ("SR-DL", "FAILED", "not delivered after 5 tries (MDM answered 503); in the dead-letter queue")
    ]

    # And once MDM is back, a redrive synchronizes it, at its first attempt, and the journal says so
    hub.simulators["MDM"].faults.clear()
    assert redrive(hub, "meter-data", "sync-deliveries").status == 202
    hub.drain()
    state = status_of(hub, "SR-DL")
    assert (state["status"], state["attempt"]) == ("SYNCHRONIZED", 1)
    assert depths(hub)["meter-data/sync-deliveries"] == 0
    assert [(t["id"], t["state"]) for t in journaled(hub, "MD-01")] == [("SR-DL", "COMPLETED")]


def test_every_dead_letter_queue_of_the_template_is_listed_and_an_unknown_one_is_not_found(hub: LocalHub) -> None:
    listed = depths(hub)
    dead_letter_queues = {k for k in hub.resources() if k.endswith("DeadLetterQueue") and k != "MonitorDeadLetterQueue"}
    assert len(listed) == len(dead_letter_queues) == 11
    assert "sync-requests/ccb-outcomes" in listed  # the root's, of the sync outcomes to CCB
    assert set(listed.values()) == {0}
    missing = redrive(hub, "field-work", "nowhere")
    assert missing.status == 404
    assert missing.json()["detail"] == "No dead-letter queue nowhere in field-work."
    unknown = hub.call_api("POST", "/ops/dead-letters/field-work%2Fnowhere/redrive", body=b"", claims=OPS_CLAIMS)
    assert (unknown.status, unknown.json()["detail"]) == (404, "No dead-letter queue nowhere in field-work.")


def test_only_an_operator_may_redrive(hub: LocalHub) -> None:
    refused = redrive(hub, "meter-data", "relay", claims=MDM_CLAIMS)
    assert refused.status == 403
    assert hub.call_api("GET", "/ops/dead-letters", claims=MDM_CLAIMS).status == 403


def test_the_handler_answers_its_sample_events_as_lambda_invokes_it(hub: LocalHub) -> None:
    # Given the sample events of functions.operations.dead_letters.app, on a hub whose queues are empty
    listing = hub.invoke("OperationsDeadLettersFunction", sample_event("operations/dead_letters/list.json")).result
    redrive_empty = hub.invoke("OperationsDeadLettersFunction", sample_event("operations/dead_letters/redrive.json")).result
    # Then the list names every queue, and a redrive of an empty one is a 409 problem
    assert listing["statusCode"] == 200
    assert {item["queue"] for item in json.loads(listing["body"])["items"]} >= {"field-work/relay", "meter-data/bill-status"}
    assert redrive_empty["statusCode"] == 409
    assert json.loads(redrive_empty["body"])["detail"] == "The dead-letter queue field-work/relay holds no message."
