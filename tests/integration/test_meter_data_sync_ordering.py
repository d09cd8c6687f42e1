"""Order across entities (CCB -> MDM): a request goes to MDM only once MDM holds every entity it
depends on. A service agreement waits for its service points and its person; an SA relationship
for both SAs; an SP-meter history for its SP and meter; a dynamic option event for its option; a
scalar read for its meter's installation. Through the real handlers, moto and the MDM simulator
(which refuses a record whose parents it does not hold, so an order broken is an ERROR here)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localhub.hub import LocalHub
from localhub.simulators.mdm import MdmSimulator
from tests.conftest import sample_event
from tests.integration.test_meter_data_master_data_sync import post_sample
from tests.integration.test_meter_data_person_sync import CLAIMS, cycle, status_of, submit

# child sample -> (its parents' samples, the samples those parents depend on in turn)
RULES: dict[str, tuple[list[str], list[str]]] = {
    "service-agreement": (["person", "service-point"], []),
    "sa-relationship": (["service-agreement", "service-agreement-xml"], ["person", "person-xml", "service-point", "service-point-xml"]),
    "sp-meter-history": (["service-point", "meter"], []),
    "dynamic-option-event": (["dynamic-option"], []),
    "scalar-meter-read": (["sp-meter-history"], ["service-point", "meter"]),
}
# child sample -> the parent the JSON sample waits for first (parents are checked in the order the rule lists them)
FIRST_PARENT = {
    "service-agreement": "SERVICE_POINT SP-0001",
    "sa-relationship": "SERVICE_AGREEMENT SA-0001",
    "sp-meter-history": "SERVICE_POINT SP-0001",
    "dynamic-option-event": "DYNAMIC_OPTION DO-0001",
    "scalar-meter-read": "SP_METER_HISTORY H-0001",
}


def body_of(name: str) -> dict[str, Any]:
    return dict(json.loads(sample_event(f"meter_data/sync_requests/submit-{name}.json")["body"]))


def post(hub: LocalHub, body: dict[str, Any]) -> str:
    response = submit(hub, body)
    assert response.status == 202, response.body
    return str(body["syncRequestId"])


def mdm(hub: LocalHub) -> MdmSimulator:
    simulator = hub.simulators["MDM"]
    assert isinstance(simulator, MdmSimulator)
    return simulator


def received_order(hub: LocalHub) -> list[str]:
    """Sync request ids in the order MDM stored them (answers to redeliveries left out)."""
    seen: list[str] = []
    for message in mdm(hub).received:
        if message["syncRequestId"] not in seen:
            seen.append(message["syncRequestId"])
    return seen


def settle(hub: LocalHub, runs: int = 4) -> None:
    for _ in range(runs):
        cycle(hub)


def assert_no_child_before_parent(hub: LocalHub, child: str, parents: list[str]) -> None:
    order = received_order(hub)
    assert child in order, order
    assert all(p in order and order.index(p) < order.index(child) for p in parents), order


@pytest.mark.parametrize("child", sorted(RULES))
def test_a_child_posted_before_its_parents_waits_naming_the_parent_then_goes_by_itself(hub: LocalHub, child: str) -> None:
    # Given the child posted alone
    child_id = post(hub, body_of(child))
    # When the monitor and delivery run
    settle(hub, 2)
    # Then it WAITS, says for which parent, and MDM has seen nothing
    state = status_of(hub, child_id)
    assert state["status"] == "WAITING", state
    assert [h["status"] for h in state["history"]] == ["PENDING", "WAITING"]
    assert state["history"][-1]["reason"] == f"waiting for {FIRST_PARENT[child]}: not yet synchronized to MDM"
    entity_type, entity_id = FIRST_PARENT[child].split(" ")
    assert state["waitingFor"] == {"entityType": entity_type, "entityId": entity_id, "reason": state["history"][-1]["reason"]}
    assert list(mdm(hub).received) == []
    # When its parents arrive, late and all at once (each before what it depends on in turn)
    parents, grandparents = RULES[child]
    parent_ids = [post_sample(hub, parent) for parent in parents]
    others = [post_sample(hub, other) for other in grandparents]
    settle(hub, 6)
    # Then every parent is synchronized and the child went out by itself after them, once
    assert {status_of(hub, i)["status"] for i in parent_ids + others} == {"SYNCHRONIZED"}
    assert status_of(hub, child_id)["status"] == "SYNCHRONIZED"
    assert_no_child_before_parent(hub, child_id, parent_ids)
    assert mdm(hub).accepted[child_id] == 1


def test_a_service_agreement_waits_for_its_person_too(hub: LocalHub) -> None:
    # Given the SA's service point synchronized, but not its person
    post(hub, body_of("service-point"))
    settle(hub, 1)
    sa = post(hub, body_of("service-agreement"))
    settle(hub, 2)
    # Then the SA waits for the person
    assert status_of(hub, sa)["history"][-1]["reason"] == "waiting for PERSON P-0001: not yet synchronized to MDM"
    # When the person comes, Then the SA follows
    person = post(hub, body_of("person"))
    settle(hub, 2)
    assert status_of(hub, sa)["status"] == "SYNCHRONIZED"
    assert_no_child_before_parent(hub, sa, [person])


def test_a_parent_in_error_leaves_its_dependants_waiting_with_that_reason_until_it_is_resubmitted(hub: LocalHub) -> None:
    # Given MDM rejects the service point once (the second call: each request goes at its intake, the person first)
    mdm(hub).add_fault({"kind": "reject", "count": 1, "after": 1, "reason": "premise PR-0001 is not in MDM"})
    post(hub, body_of("person"))
    sp = post(hub, body_of("service-point"))
    sa = post(hub, body_of("service-agreement"))
    # When the flow runs
    settle(hub, 3)
    # Then the SP is in ERROR and the SA waits with the SP's reason, visible to an operator
    assert status_of(hub, sp)["status"] == "ERROR"
    state = status_of(hub, sa)
    assert state["status"] == "WAITING"
    assert state["history"][-1]["reason"] == (
        f"waiting for SERVICE_POINT SP-0001, whose sync request {sp} is in ERROR: premise PR-0001 is not in MDM"
    )
    # and it keeps waiting, however often the monitor runs, without a new history entry each time
    settle(hub, 3)
    assert status_of(hub, sa)["history"] == state["history"]
    # When the operator resubmits the service point
    assert hub.call_api("POST", f"/meter-data/sync-requests/{sp}/resubmission", claims=CLAIMS).status == 202
    settle(hub, 3)
    # Then the SP is synchronized and the SA is released after it
    assert status_of(hub, sp)["status"] == "SYNCHRONIZED"
    final = status_of(hub, sa)
    assert final["status"] == "SYNCHRONIZED"
    assert "waitingFor" not in final
    assert_no_child_before_parent(hub, sa, [sp])


def test_two_entities_sharing_a_parent_are_both_released_by_it(hub: LocalHub) -> None:
    # Given two service agreements on the same service point, and an SA relationship between them, all before the SP
    first = body_of("service-agreement")
    second = {**first, "syncRequestId": "SR-3009", "entityId": "SA-0009", "data": {**first["data"], "accountId": "AC-0009"}}
    relationship = body_of("sa-relationship")
    relationship["data"]["relatedServiceAgreementId"] = "SA-0009"
    ids = [post(hub, relationship), post(hub, second), post(hub, first)]
    settle(hub, 2)
    assert {status_of(hub, i)["status"] for i in ids} == {"WAITING"}
    # When the shared service point and the person arrive
    parents = [post(hub, body_of("person")), post(hub, body_of("service-point"))]
    settle(hub, 6)
    # Then both SAs, and then their relationship, reach MDM, each after what it depends on
    assert {status_of(hub, i)["status"] for i in ids} == {"SYNCHRONIZED"}
    assert_no_child_before_parent(hub, "SR-3001", parents)
    assert_no_child_before_parent(hub, "SR-3009", parents)
    assert_no_child_before_parent(hub, "SR-4001", ["SR-3001", "SR-3009"])


def test_later_changes_of_a_waiting_entity_wait_behind_it_and_keep_their_order(hub: LocalHub) -> None:
    # Given an SA waiting for its service point, then a newer image of the same SA
    older = body_of("service-agreement")
    newer = {
        **older,
        "syncRequestId": "SR-3001-B",
        "changedAt": "2026-11-21T09:00:00Z",
        "data": {**older["data"], "status": "PENDING-STOP"},
    }
    post(hub, older)
    settle(hub, 1)
    post(hub, newer)
    settle(hub, 1)
    # Then the newer one is still PENDING behind the WAITING one
    assert (status_of(hub, "SR-3001")["status"], status_of(hub, "SR-3001-B")["status"]) == ("WAITING", "PENDING")
    # When the parents arrive
    post(hub, body_of("person"))
    post(hub, body_of("service-point"))
    settle(hub, 5)
    # Then MDM got the SA's images in order, and keeps the newer
    order = received_order(hub)
    assert order.index("SR-3001") < order.index("SR-3001-B")
    assert mdm(hub).records["SERVICE_AGREEMENT#SA-0001"]["data"]["Status"] == "PENDING-STOP"


def test_a_parent_synchronized_earlier_releases_a_child_at_once(hub: LocalHub) -> None:
    # Given the meter and the service point already in MDM
    post(hub, body_of("meter"))
    post(hub, body_of("service-point"))
    settle(hub, 1)
    # When the installation arrives, Then it goes in the next run without waiting
    history = post(hub, body_of("sp-meter-history"))
    settle(hub, 1)
    assert [h["status"] for h in status_of(hub, history)["history"]] == ["PENDING", "SENT", "SYNCHRONIZED"]


# ---------------------------------------------------------------------------- a fault run over a mixed set


def mixed_set() -> list[dict[str, Any]]:
    """Four households (person, SP, SA changed twice, meter, installation, read), children listed first."""
    requests: list[dict[str, Any]] = []
    for n in range(4):
        at = f"2026-11-20T0{n}:"
        requests += [
            {
                "syncRequestId": f"FR-R{n}",
                "entityType": "SCALAR_METER_READ",
                "entityId": f"R{n}",
                "changedAt": f"{at}50:00Z",
                "data": {
                    "meterId": f"M{n}",
                    "spMeterHistoryId": f"H{n}",
                    "readAt": "2026-11-01T07:00:00Z",
                    "reads": [{"registerId": "R1", "uom": "KWH", "reading": 100 + n}],
                },
            },
            *(
                {
                    "syncRequestId": f"FR-SA{n}-v{v}",
                    "entityType": "SERVICE_AGREEMENT",
                    "entityId": f"SA{n}",
                    "changedAt": f"{at}{10 * v}:00Z",
                    "data": {"accountId": f"AC{n}", "servicePointIds": [f"SP{n}"], "personId": f"P{n}", "status": f"v{v}"},
                }
                for v in (1, 2)
            ),
            {
                "syncRequestId": f"FR-H{n}",
                "entityType": "SP_METER_HISTORY",
                "entityId": f"H{n}",
                "changedAt": f"{at}40:00Z",
                "data": {"servicePointId": f"SP{n}", "meterId": f"M{n}", "installedAt": "2026-01-10T08:00:00Z"},
            },
            {
                "syncRequestId": f"FR-SP{n}",
                "entityType": "SERVICE_POINT",
                "entityId": f"SP{n}",
                "changedAt": f"{at}00:00Z",
                "data": {"premiseId": f"PR{n}"},
            },
            {
                "syncRequestId": f"FR-P{n}",
                "entityType": "PERSON",
                "entityId": f"P{n}",
                "changedAt": f"{at}00:00Z",
                "data": {"name": f"Person {n}"},
            },
            {
                "syncRequestId": f"FR-M{n}",
                "entityType": "METER",
                "entityId": f"M{n}",
                "changedAt": f"{at}00:00Z",
                "data": {"badgeNumber": f"B{n}", "meterType": "E-SMART"},
            },
        ]
    return requests


# what each request of the mixed set depends on (by sync request id, for the order MDM saw them in)
def mixed_parents(n: int) -> dict[str, list[str]]:
    return {
        f"FR-SA{n}-v1": [f"FR-SP{n}", f"FR-P{n}"],
        f"FR-H{n}": [f"FR-SP{n}", f"FR-M{n}"],
        f"FR-R{n}": [f"FR-H{n}"],
    }


def test_a_fault_run_over_mixed_entity_types_ends_with_each_record_once_newest_and_no_child_before_parent(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling
    from tests.integration.test_meter_data_person_sync import dead_letters, run_monitor_after_the_ack_timeout

    # Given a mixed set posted children first, a third of it posted twice, MDM down for a while,
    # and a fifth of the functions' AWS calls throttled beyond boto3's own retries
    requests = mixed_set()
    mdm(hub).add_fault({"kind": "down", "count": 4})
    with AwsThrottling(0.2, seed=11) as throttling:
        for body in requests + requests[::3]:
            for _ in range(20):  # the sender retries what the hub answers 503
                response = submit(hub, body)
                if response.status != 503:
                    break
            assert response.status == 202, response.body
        for _ in range(10):
            hub.run_schedule("MeterDataSyncMonitorFunction")
            hub.drain()
            hub.expire_visibility()
    # (and the outcomes' relay to CCB, when it ran meanwhile)
    assert {function.rsplit("-", 1)[-1] for function, _ in throttling.throttled} - {"SyncRequestsCcbOutcomesFunction"} == {
        "MeterDataSyncRequestsFunction",
        "MeterDataSyncMonitorFunction",
        "MeterDataDeliveryFunction",
    }
    # When the run goes on without faults, the acknowledgement timeout passes, and the operator resubmits what is in ERROR
    for _ in range(6):
        cycle(hub)
        hub.expire_visibility()
    dead_letters(hub)
    run_monitor_after_the_ack_timeout(hub)
    for body in requests:
        if status_of(hub, body["syncRequestId"])["status"] == "ERROR":
            assert hub.call_api("POST", f"/meter-data/sync-requests/{body['syncRequestId']}/resubmission", claims=CLAIMS).status == 202
    settle(hub, 6)
    # Then every request ended SYNCHRONIZED (or DISCARDED for an older image), none WAITING
    final = {body["syncRequestId"]: status_of(hub, body["syncRequestId"]) for body in requests}
    assert {s["status"] for s in final.values()} <= {"SYNCHRONIZED", "DISCARDED"}, final
    # and no MDM answer ever said a parent was missing
    assert not [h for s in final.values() for h in s["history"] if h["reason"].startswith("unknown")], final
    # and MDM holds each record once, with the newest image
    records = mdm(hub).records
    assert len(records) == len({(b["entityType"], b["entityId"]) for b in requests})
    assert all(records[f"SERVICE_AGREEMENT#SA{n}"]["data"]["Status"] == "v2" for n in range(4))
    # and MDM received no child before its parents
    first_seen: dict[str, int] = {}
    for index, message in enumerate(mdm(hub).received):
        first_seen.setdefault(message["syncRequestId"], index)
    for n in range(4):
        for child, parents in mixed_parents(n).items():
            assert all(first_seen[p] < first_seen[child] for p in parents), (child, parents, first_seen)


def test_the_monitor_reports_how_long_the_oldest_request_has_waited_for_a_parent_ccb_never_sends(hub: LocalHub) -> None:
    from datetime import UTC, datetime

    from tests.integration.test_meter_data_person_sync import MONITOR

    # Given a service agreement (changed in CCB days ago) whose service point CCB never sends, held WAITING by a monitor run
    post(hub, body_of("service-agreement"))
    settle(hub, 1)
    waiting_since = datetime.fromisoformat(status_of(hub, "SR-3001")["history"][-1]["at"])

    # When the monitor runs again
    report = hub.run_schedule(MONITOR).result

    # Then it reports the request still waiting, and how long it has waited - since it went WAITING, not since CCB's
    # change (what the template's alarm watches)
    assert report["waiting"] == 1
    waited = (datetime.now(UTC) - waiting_since).total_seconds()
    assert 0 <= report["oldest_waiting_seconds"] <= waited + 1
    assert report["oldest_waiting_seconds"] < 60
