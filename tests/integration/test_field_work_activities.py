"""FW-01 field activity creation (routing rules, the Standard workflow with compensation) and FW-02
update, cancel and completion (forwarded to every linked system, in order, once), CCB <-> MWM <->
WAM/ODM: the API function, the workflow run by moto's interpreter with its steps in-process,
the event delivery through the queue, the field system simulators over HTTP."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from localhub.hub import ApiResponse, LocalHub
from localhub.simulators.field import FieldSystemSimulator
from tests.conftest import sample_event
from tests.helpers import post_json, synchronize_service_points
from tests.integration.test_operations_dead_letters import OPS_CLAIMS, depths

API = "FieldWorkActivitiesFunction"  # with FieldWorkActivityStepsFunction (the workflow) and FieldWorkEventDeliveryFunction


@pytest.fixture
def hub(hub: LocalHub) -> LocalHub:
    """The local hub, with the service points these tests' activities name synchronized to ODM (FW-06): FW-01 sends
    ODM its own id of the service point, and waits for a service point ODM does not have yet."""
    synchronize_service_points(hub, "SP-1", "SP-0001", "SP-2001")
    return hub


def activity(activity_id: str, activity_type: str = "METER-EXCHANGE", source: str = "CCB", **extra: Any) -> dict[str, Any]:
    return {"sourceSystem": source, "activityId": activity_id, "activityType": activity_type, "servicePointId": "SP-1", **extra}


def as_system(hub: LocalHub, system: Any) -> dict[str, str]:
    """The claims of the client of the system that sends a call (CCB's for a system no client acts as)."""
    return hub.claims_of(system if system in ("CCB", "MWM", "WAM", "ODM") else "CCB")


def post(hub: LocalHub, body: dict[str, Any]) -> ApiResponse:
    claims = as_system(hub, body.get("sourceSystem"))
    return post_json(hub, "/field-work/activities", body, claims)


def post_event(hub: LocalHub, source: str, activity_id: str, body: dict[str, Any]) -> ApiResponse:
    claims = as_system(hub, body.get("fromSystem") or source)
    return post_json(hub, f"/field-work/activities/{source}/{activity_id}/events", body, claims)


def view(hub: LocalHub, source: str, activity_id: str) -> dict[str, Any]:
    for _ in range(40):  # a reader asks again when AWS is busy (503), as a client would
        response = hub.call_api("GET", f"/field-work/activities/{source}/{activity_id}", claims=hub.claims_of("CCB"))
        if response.status != 503:
            break
        time.sleep(0.2)
    assert response.status == 200, response.body
    return response.json()  # type: ignore[no-any-return]


def settled(hub: LocalHub, source: str, activity_id: str, timeout: float = 60.0) -> dict[str, Any]:
    assert hub.settle(timeout=timeout) == []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = view(hub, source, activity_id)
        if body["status"] != "CREATING":
            return body
        time.sleep(0.1)
    raise AssertionError(f"{source} {activity_id} still CREATING")


def system(hub: LocalHub, name: str) -> FieldSystemSimulator:
    simulator = hub.simulators[name]
    assert isinstance(simulator, FieldSystemSimulator)
    return simulator


def held(hub: LocalHub, name: str, target_id: str) -> dict[str, Any]:
    return dict(hub.simulators[name].records[f"ACTIVITY#{target_id}"])


def test_sample_meter_exchange_is_created_in_mwm_and_odm_and_linked(hub: LocalHub) -> None:
    # Given the sample CCB meter exchange (v2.1, the default model: asset work goes to ODM)
    event = sample_event("field_work/activities/create-activity.json")

    # When it is posted
    response = hub.invoke(API, event).result

    # Then it is routed to MWM and ODM, created in both and linked
    assert response["statusCode"] == 202, response["body"]
    assert json.loads(response["body"])["routedTo"] == ["MWM", "ODM"]
    body = settled(hub, "CCB", "FA-1001")
    assert body["status"] == "LINKED"
    assert set(body["links"]) == {"CCB", "MWM", "ODM"}
    assert body["links"]["MWM"].startswith("MWM-")
    assert body["links"]["ODM"].startswith("FA-")
    assert held(hub, "ODM", body["links"]["ODM"])["externalId"] == "CCB:FA-1001"
    assert hub.simulators["WAM"].received_total == 0


@pytest.mark.parametrize(
    ("body", "routed"),
    [
        (activity("A-2", "CONNECT"), ["MWM"]),
        (activity("A-3", "ASSET-REPAIR", source="ODM"), ["MWM"]),
        (activity("A-4", "PICKUP", source="MWM"), ["CCB"]),
    ],
)
def test_default_routing_rules(hub: LocalHub, body: dict[str, Any], routed: list[str]) -> None:
    # Given an activity of a type the default rules route
    # When it is posted
    response = post(hub, body)

    # Then it goes where the shipped routing rules say, and is linked there
    assert response.status == 202, response.body
    assert response.json()["routedTo"] == routed
    linked = settled(hub, body["sourceSystem"], body["activityId"])
    assert linked["status"] == "LINKED"
    assert set(linked["links"]) == {body["sourceSystem"], *routed}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (activity("A-5", "METER-READ", source="MWM"), "#/activityType"),
        (activity("A-5B", "METER_EXCHANGE"), "#/activityType"),  # MWM's code, not CCB's: no mapping from CCB
        (activity("A-5C", "PAINT-FENCE"), "#/activityType"),  # no system's code
        (activity("A-6", "ASSET-REPAIR", source="WAM"), "#/sourceSystem"),  # WAM is not part of model v2.1
        ({**activity("A-7"), "sourceSystem": "SAP"}, "#/sourceSystem"),
        ({**activity("A-8"), "activityType": "meter exchange"}, "#/activityType"),
        ({**activity("A-9"), "description": "bad\u0000text"}, "#/description"),
    ],
)
def test_no_rule_unknown_systems_and_hostile_input_are_422_and_nothing_is_stored(hub: LocalHub, body: dict[str, Any], pointer: str) -> None:
    # Given an activity no rule routes, from a system not in the model, or malformed
    # When it is posted
    response = post(hub, body)

    # Then it is a 422 pointing at the field, and the hub never heard of it
    assert response.status == 422, response.body
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert (
        hub.call_api("GET", f"/field-work/activities/{body['sourceSystem']}/{body['activityId']}", claims=hub.claims_of("CCB")).status
        == 404
    )


def test_the_same_activity_again_creates_nothing_and_other_content_is_409(hub: LocalHub) -> None:
    # Given an activity created and linked
    body = activity("A-10", "CONNECT")
    assert post(hub, body).status == 202
    settled(hub, "CCB", "A-10")

    # When it is posted again, and once more with other content
    again = post(hub, body)
    other = post(hub, {**body, "servicePointId": "SP-OTHER"})
    settled(hub, "CCB", "A-10")

    # Then MWM made it once, and the other content is refused
    assert again.status == 202
    assert other.status == 409
    assert [m["operation"] for m in system(hub, "MWM").received] == ["create"]


def test_a_target_refusing_the_activity_cancels_it_where_it_was_created_and_ends_in_error(hub: LocalHub) -> None:
    # Given ODM refuses the next activity (a business error), MWM takes it
    system(hub, "ODM").add_fault({"kind": "reject", "count": 1, "reason": "service point unknown at ODM"})

    # When a meter exchange is posted
    assert post(hub, activity("A-11")).status == 202
    body = settled(hub, "CCB", "A-11")

    # Then the activity is in ERROR with ODM's reason (its status, never its message: it may repeat the activity's
    # data), and the MWM activity made for it is canceled
    assert body["status"] == "ERROR"
    assert "not created in ODM (TargetRejected: HTTP 422)" in body["history"][-1]["reason"]
    assert "service point unknown at ODM" not in json.dumps(body)
    mwm_id = system(hub, "MWM").book.by_external_id["CCB:A-11"]
    assert held(hub, "MWM", mwm_id)["status"] == "CANCELED"
    # And events for it are refused: it is closed
    assert post_event(hub, "CCB", "A-11", {"eventId": "E-1", "event": "UPDATE", "at": "2026-12-01T08:00:00Z"}).status == 409


def test_a_target_down_for_a_while_is_retried_by_the_workflow(hub: LocalHub) -> None:
    # Given MWM down for its next two calls
    system(hub, "MWM").add_fault({"kind": "down", "count": 2})

    # When an activity routed to MWM is posted
    assert post(hub, activity("A-12", "RECONNECT")).status == 202

    # Then the workflow retries and links it, once
    assert settled(hub, "CCB", "A-12")["status"] == "LINKED"
    assert [m["operation"] for m in system(hub, "MWM").received] == ["create"]


def test_events_are_forwarded_to_every_other_linked_system_once_and_in_order(hub: LocalHub) -> None:
    import requests

    # Given a meter exchange created in CCB (the CCB simulator sends it to the hub), linked in MWM and ODM
    sent = requests.put(
        f"{hub.simulator_url('CCB')}/field-activities/A-13", json={"activityType": "METER-EXCHANGE", "servicePointId": "SP-1"}, timeout=30
    )
    assert sent.json()["hubStatus"] == 202, sent.text
    links = settled(hub, "CCB", "A-13")["links"]

    # When CCB reschedules it (twice the same event) and MWM completes it with readings
    update = {"eventId": "E-U1", "event": "UPDATE", "at": "2026-12-01T08:00:00Z", "changes": {"scheduledDate": "2026-12-03"}}
    complete = sample_event("field_work/activities/complete-activity.json")["body"]
    answers = [
        post_event(hub, "CCB", "A-13", update),
        post_event(hub, "CCB", "A-13", update),
        post_event(hub, "CCB", "A-13", json.loads(complete)),
    ]
    hub.drain()

    # Then the update went to MWM and ODM once, the completion from MWM to the others (CCB, ODM) with its readings and remarks
    assert [a.status for a in answers] == [202, 202, 202]
    assert answers[0].json()["forwardedTo"] == ["MWM", "ODM"]
    assert answers[2].json()["forwardedTo"] == ["CCB", "ODM"]
    assert [e["eventId"] for e in held(hub, "MWM", links["MWM"])["events"]] == ["E-U1"]
    odm = held(hub, "ODM", links["ODM"])
    assert [e["eventId"] for e in odm["events"]] == ["E-U1", "MWM-EV-1"]
    assert odm["scheduledDate"] == "2026-12-03"
    assert odm["status"] == "COMPLETED"
    assert odm["completion"]["readings"][0]["value"] == 10234.5
    ccb_record = hub.simulators["CCB"].records["ACTIVITY#A-13"]
    assert (ccb_record["status"], ccb_record["completion"]["remarks"]) == ("COMPLETED", "Meter exchanged, seal replaced")
    # And the activity is COMPLETED: a later event is a 409, the same completion again changes nothing
    assert view(hub, "CCB", "A-13")["status"] == "COMPLETED"
    assert post_event(hub, "CCB", "A-13", {"eventId": "E-U2", "event": "UPDATE", "at": "2026-12-02T08:00:00Z"}).status == 409
    assert post_event(hub, "CCB", "A-13", json.loads(complete)).status == 202


def test_an_event_recorded_but_not_queued_is_delivered_by_the_senders_retry(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given a linked meter exchange, and an update whose post is recorded but then cannot be queued (SQS throttled)
    assert post(hub, activity("A-RQ")).status == 202
    links = settled(hub, "CCB", "A-RQ")["links"]
    update = {"eventId": "E-RQ", "event": "UPDATE", "at": "2026-12-01T08:00:00Z", "changes": {"scheduledDate": "2026-12-04"}}
    with AwsThrottling(1.0, services=frozenset({"sqs"})) as throttling:
        first = post_event(hub, "CCB", "A-RQ", update)
    assert first.status == 503, first.body
    assert throttling.throttled
    assert [h["eventId"] for h in view(hub, "CCB", "A-RQ")["history"] if "eventId" in h] == ["E-RQ"]  # recorded

    # When the sender posts it again (as a 503 asks), twice
    answers = [post_event(hub, "CCB", "A-RQ", update).status for _ in range(2)]
    hub.drain()

    # Then MWM and ODM each received it once
    assert answers == [202, 202]
    for name in ("MWM", "ODM"):
        assert [e["eventId"] for e in held(hub, name, links[name])["events"]] == ["E-RQ"], name

    # And the same id with other content (another event, another sender) is a 409 that forwards nothing
    reused = post_event(hub, "CCB", "A-RQ", {**update, "event": "CANCEL"})
    other_sender = post_event(hub, "CCB", "A-RQ", {**update, "fromSystem": "MWM"})
    hub.drain()
    assert (reused.status, other_sender.status) == (409, 409), (reused.body, other_sender.body)
    for name in ("MWM", "ODM"):
        assert [e["eventId"] for e in held(hub, name, links[name])["events"]] == ["E-RQ"], name
    assert view(hub, "CCB", "A-RQ")["status"] == "LINKED"


def test_an_event_for_an_unknown_activity_is_404_and_a_bad_event_422(hub: LocalHub) -> None:
    # Given no activity X-1, and an activity linked in MWM
    assert post(hub, activity("A-14", "CONNECT")).status == 202
    settled(hub, "CCB", "A-14")

    # When events are posted for the unknown one, and malformed or from an unlinked system for the known one
    unknown = post_event(hub, "CCB", "X-1", {"eventId": "E-1", "event": "CANCEL", "at": "2026-12-01T08:00:00Z"})
    bad_kind = post_event(hub, "CCB", "A-14", {"eventId": "E-2", "event": "DELETE", "at": "2026-12-01T08:00:00Z"})
    nan = post_event(
        hub,
        "CCB",
        "A-14",
        {
            "eventId": "E-3",
            "event": "COMPLETE",
            "at": "2026-12-01T08:00:00Z",
            "readings": [{"registerId": "R", "value": "NaN", "readAt": "2026-12-01T08:00:00Z"}],
        },
    )
    stranger = post_event(hub, "CCB", "A-14", {"eventId": "E-4", "event": "UPDATE", "at": "2026-12-01T08:00:00Z", "fromSystem": "ODM"})
    unknown_system = hub.call_api("GET", "/field-work/activities/SAP/A-14", claims=hub.claims_of("CCB"))

    # Then: 404, 422 with pointers, 422 for the system with no part, 404 for the system
    assert unknown.status == 404
    assert bad_kind.status == 422
    assert bad_kind.json()["errors"][0]["pointer"] == "#/event"
    assert nan.status == 422
    assert stranger.status == 422
    assert unknown_system.status == 404


def test_the_v1_9_model_routes_asset_work_to_wam_as_a_service_request(aws_endpoint: str) -> None:
    from localhub.aws.endpoint import reset

    # Given the hub deployed with implementation model v1.9
    reset(aws_endpoint)
    hub = LocalHub(parameters={"FieldWorkModel": "v1.9"}).start()
    try:
        # When CCB creates a meter install at SP-1, which FW-06 synchronized to WAM
        wam_ids = synchronize_service_points(hub, "SP-1")
        response = post(hub, activity("A-15", "METER-INSTALL"))

        # Then it goes to MWM and WAM, where it is a service request at WAM's own id of the service point
        assert response.status == 202, response.body
        assert response.json()["routedTo"] == ["MWM", "WAM"]
        links = settled(hub, "CCB", "A-15")["links"]
        assert links["WAM"].startswith("SR-")
        assert wam_ids["SP-1"].startswith("WSP-")
        service_request = held(hub, "WAM", links["WAM"])
        assert service_request["servicePoint"] == wam_ids["SP-1"]
        # in WAM's own shape: a service request (its type, its numeric priority code, filed under CCB's reference)
        assert (service_request["requestType"], service_request["priorityCode"]) == ("SR-MTRINST", 3)
        assert (service_request["externalSystem"], service_request["externalReference"]) == ("CCB", "A-15")
        assert "activityType" not in service_request
        assert held(hub, "MWM", links["MWM"])["servicePointId"] == "SP-1"
        assert hub.simulators["ODM"].received_total == 0
        # And ODM is not a source under v1.9
        assert post(hub, activity("A-16", "ASSET-REPAIR", source="ODM")).status == 422
    finally:
        assert hub.stop() == []


def test_a_crew_completion_reported_in_mwm_reaches_ccb_and_odm(hub: LocalHub) -> None:
    import requests

    # Given a meter exchange linked in MWM and ODM
    assert post(hub, activity("A-17")).status == 202
    links = settled(hub, "CCB", "A-17")["links"]

    # When the crew completes it in MWM (the MWM simulator sends the completion to the hub)
    reported = requests.post(
        f"{hub.simulator_url('MWM')}/activities/{links['MWM']}/report",
        json={"event": "COMPLETE", "remarks": "done", "readings": [{"registerId": "R-9", "value": 42, "readAt": "2026-12-01T10:00:00Z"}]},
        timeout=30,
    ).json()
    hub.drain()

    # Then the hub took it, ODM has the completion, and the activity is COMPLETED
    assert reported["hubStatus"] == 202, reported
    assert held(hub, "ODM", links["ODM"])["status"] == "COMPLETED"
    assert view(hub, "CCB", "A-17")["status"] == "COMPLETED"


def test_step_and_delivery_sample_events(hub: LocalHub) -> None:
    # Given the sample activity created through the API
    assert hub.invoke(API, sample_event("field_work/activities/create-activity.json")).result["statusCode"] == 202
    settled(hub, "CCB", "FA-1001")

    # When the create step sample runs again (a retried step) and the delivery sample batch is delivered twice
    step = hub.invoke("FieldWorkActivityStepsFunction", sample_event("field_work/activity_steps/create-in-target.json")).result
    batch = sample_event("field_work/event_delivery/sqs-fifo.json")
    first = hub.invoke("FieldWorkEventDeliveryFunction", batch).result
    second = hub.invoke("FieldWorkEventDeliveryFunction", batch).result

    # Then the step answers the id MWM already gave it, and ODM got the completion once
    links = view(hub, "CCB", "FA-1001")["links"]
    assert step == {"target": "MWM", "id": links["MWM"]}
    assert first == second == {"batchItemFailures": []}
    assert [e["eventId"] for e in held(hub, "ODM", links["ODM"])["events"]] == ["MWM-EV-1"]
    assert [m["operation"] for m in system(hub, "MWM").received] == ["create"]


def test_compensation_cancels_an_activity_the_target_created_though_its_link_was_never_recorded(hub: LocalHub) -> None:
    import boto3

    # Given the sample activity created in MWM and ODM, and the hub's record as a creation that failed leaves it:
    # still CREATING, its ODM link lost (the create step failed after ODM created it and before the link was
    # written: a throttled write, say)
    assert hub.invoke(API, sample_event("field_work/activities/create-activity.json")).result["statusCode"] == 202
    odm_id = settled(hub, "CCB", "FA-1001")["links"]["ODM"]
    table = boto3.resource("dynamodb").Table(hub.resources()["CrossReferenceTable"])
    table.update_item(
        Key={"pk": "ACTIVITY#CCB#FA-1001"},
        UpdateExpression="REMOVE links.ODM SET #status = :creating",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":creating": "CREATING"},
    )

    # When the workflow's compensation for ODM runs
    step = hub.invoke("FieldWorkActivityStepsFunction", sample_event("field_work/activity_steps/cancel-in-target.json")).result

    # Then ODM is asked for the activity by its external id, and cancels it
    assert step == {"target": "ODM", "canceled": True}
    assert held(hub, "ODM", odm_id)["status"] == "CANCELED"


def test_an_event_a_linked_system_refuses_is_recorded_and_the_others_still_get_it(hub: LocalHub) -> None:
    # Given a meter exchange posted by CCB directly (CCB's simulator does not have it), linked in MWM and ODM
    assert post(hub, activity("A-18")).status == 202
    links = settled(hub, "CCB", "A-18")["links"]

    # When MWM completes it
    complete = {"eventId": "E-C1", "event": "COMPLETE", "at": "2026-12-01T10:00:00Z", "fromSystem": "MWM"}
    assert post_event(hub, "CCB", "A-18", complete).status == 202
    hub.drain()

    # Then ODM has the completion, and CCB's refusal is recorded on the activity, not retried into the DLQ
    assert held(hub, "ODM", links["ODM"])["status"] == "COMPLETED"
    refusals = view(hub, "CCB", "A-18")["refusals"]
    assert len(refusals) == 1
    assert refusals[0].startswith("CCB refused COMPLETE E-C1 (404)")


def test_an_event_dead_lettered_is_shown_on_its_activity_until_a_redrive_delivers_it(hub: LocalHub) -> None:
    from tests.integration.test_operations_dead_letters import redrive, settle

    # Given a meter exchange linked in MWM and ODM, then MWM down past the event queue's tries, and two updates from CCB:
    # the first fails every try, the second is held behind it (one activity's events go in order)
    assert post(hub, activity("A-DL")).status == 202
    links = settled(hub, "CCB", "A-DL")["links"]
    system(hub, "MWM").add_fault({"kind": "down", "count": 100})
    for event_id, day in (("E-D1", "03"), ("E-D2", "04")):
        update = {"eventId": event_id, "event": "UPDATE", "at": f"2026-12-01T08:00:{day}Z", "changes": {"scheduledDate": f"2026-12-{day}"}}
        assert post_event(hub, "CCB", "A-DL", update).status == 202

    # When the queue has tried them enough
    settle(hub)

    # Then both wait in the dead-letter queue, and the activity shows each event that did not reach a system, with its
    # state and reason, the second naming the event it was held behind
    assert depths(hub)["field-work/events"] == 2
    shown = view(hub, "CCB", "A-DL")
    assert shown["status"] == "LINKED"
    assert [(u["eventId"], u["event"], u["state"], u["reason"]) for u in shown["undelivered"]] == [
        ("E-D1", "UPDATE", "DEAD_LETTERED", "not delivered after 5 tries (MWM answered 503); in the dead-letter queue"),
        ("E-D2", "UPDATE", "DEAD_LETTERED", "not delivered after 5 tries (held behind E-D1 of its activity); in the dead-letter queue"),
    ]
    assert all(u["at"] for u in shown["undelivered"])
    # And so does the operators' timeline of the activity
    trace = hub.call_api("GET", "/ops/transactions/FW-01/CCB%2FA-DL", claims=OPS_CLAIMS).json()
    assert [(h["step"], h["outcome"]) for h in trace["timeline"] if h["outcome"] == "DEAD_LETTERED"] == [
        ("event E-D1", "DEAD_LETTERED"),
        ("event E-D2", "DEAD_LETTERED"),
    ]

    # When MWM is back and an operator redrives the queue
    system(hub, "MWM").faults.clear()
    assert redrive(hub, "field-work", "events").status == 202
    hub.drain()

    # Then both reach MWM in order, and the activity shows nothing undelivered any more
    assert [e["eventId"] for e in held(hub, "MWM", links["MWM"])["events"]] == ["E-D1", "E-D2"]
    assert [e["eventId"] for e in held(hub, "ODM", links["ODM"])["events"]] == ["E-D1", "E-D2"]
    assert view(hub, "CCB", "A-DL")["undelivered"] == []
    assert depths(hub)["field-work/events"] == 0


def test_a_fault_run_links_every_activity_once_or_ends_it_in_error_with_its_reason(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given MWM down while CCB creates six meter exchanges (each posted twice), a sixth of the functions'
    # AWS calls throttled beyond boto3's retries, and every completion sent twice
    system(hub, "MWM").add_fault({"kind": "down", "count": 6})
    ids = [f"FR-{n}" for n in range(6)]
    with AwsThrottling(1 / 6, seed=11) as throttling:
        for activity_id in ids * 2:
            for _ in range(40):  # the sender posts again on 503 (AWS busy)
                response = post(hub, activity(activity_id))
                if response.status != 503:
                    break
                time.sleep(0.2)
            assert response.status == 202, response.body
        # each create retried through MWM's outage and the throttling (its Retry's waits, every step's invocation under
        # the throttling): about a minute on a quiet machine; a bound for one whose two cores other runs share
        assert hub.settle(timeout=600) == []
        outcomes = {activity_id: settled(hub, "CCB", activity_id) for activity_id in ids}
        for activity_id, body in outcomes.items():
            if body["status"] != "LINKED":
                continue
            complete = {"eventId": f"C-{activity_id}", "event": "COMPLETE", "at": "2026-12-01T10:00:00Z", "fromSystem": "MWM"}
            for _ in range(2):
                for _ in range(40):
                    answer = post_event(hub, "CCB", activity_id, complete)
                    if answer.status != 503:
                        break
                    time.sleep(0.2)
                assert answer.status == 202, answer.body
        for _ in range(8):
            hub.drain()
            hub.expire_visibility()
        hub.drain()
    assert throttling.throttled
    # an event whose every delivery met throttling, or the claim of an attempt whose outcome it could not record
    # (it holds until that invocation's time is up, which the queue's visibility timeout outlasts), is dead-lettered;
    # the alarm tells the operator, who sends it back
    for _ in range(3):
        if not depths(hub)["field-work/events"]:
            break
        redriven = hub.call_api("POST", "/field-work/dead-letters/events/redrive", body=b"", claims=OPS_CLAIMS)
        assert redriven.status == 202, redriven.body
        for _ in range(3):
            hub.drain()
            hub.expire_visibility()
    assert hub.settle(timeout=60) == []
    assert depths(hub)["field-work/events"] == 0
    assert any(body["status"] == "LINKED" for body in outcomes.values())  # the retries outlast MWM's outage

    # Then every activity is LINKED (then COMPLETED) in MWM and ODM exactly once, or in ERROR with its reason and
    # canceled wherever it was created; every completion reached ODM once
    for activity_id, body in outcomes.items():
        created = {
            name: [m for m in system(hub, name).received if m["operation"] == "create" and m["externalId"] == f"CCB:{activity_id}"]
            for name in ("MWM", "ODM")
        }
        if body["status"] == "ERROR":
            assert body["history"][-1]["reason"], body
            for name, made in created.items():
                assert len(made) <= 1
                if made:
                    assert held(hub, name, made[0]["id"])["status"] == "CANCELED"
            continue
        assert body["status"] == "LINKED", body
        assert [len(made) for made in created.values()] == [1, 1], activity_id
        assert view(hub, "CCB", activity_id)["status"] == "COMPLETED"
        odm = held(hub, "ODM", body["links"]["ODM"])
        assert [e["eventId"] for e in odm["events"]] == [f"C-{activity_id}"]


def test_events_posted_while_the_activity_is_being_created_reach_every_routed_system_in_order(hub: LocalHub) -> None:
    # Given a meter exchange whose creation in ODM is held until the events below are posted: still CREATING
    system(hub, "ODM").add_fault({"kind": "hold", "count": 1, "seconds": 60})
    assert post(hub, activity("A-HOLD")).status == 202
    assert view(hub, "CCB", "A-HOLD")["status"] == "CREATING"

    # When CCB reschedules it and then cancels it, before ODM has created it
    update = {"eventId": "E-H1", "event": "UPDATE", "at": "2026-12-01T08:00:00Z", "changes": {"scheduledDate": "2026-12-05"}}
    cancel = {"eventId": "E-H2", "event": "CANCEL", "at": "2026-12-01T08:05:00Z", "reason": "customer moved"}
    answers = [post_event(hub, "CCB", "A-HOLD", update), post_event(hub, "CCB", "A-HOLD", cancel)]
    meanwhile = view(hub, "CCB", "A-HOLD")

    # Then both are taken (202) and held while the creation runs: nothing is closed yet, a later event is refused
    assert [a.status for a in answers] == [202, 202], [a.body for a in answers]
    assert answers[1].json()["forwardedTo"] == ["MWM", "ODM"]
    assert meanwhile["status"] == "CREATING"
    assert post_event(hub, "CCB", "A-HOLD", {"eventId": "E-H3", "event": "UPDATE", "at": "2026-12-01T08:06:00Z"}).status == 409
    system(hub, "ODM").release_holds()

    # And once created in both, each system receives the update then the cancellation, and the activity is CANCELED
    body = settled(hub, "CCB", "A-HOLD")
    for _ in range(3):
        hub.drain()
    body = view(hub, "CCB", "A-HOLD")
    assert "LINKED" in [h["status"] for h in body["history"]]
    assert body["status"] == "CANCELED"
    for name in ("MWM", "ODM"):
        record = held(hub, name, body["links"][name])
        assert [e["eventId"] for e in record["events"]] == ["E-H1", "E-H2"], name
        assert (record["status"], record["scheduledDate"]) == ("CANCELED", "2026-12-05"), name


def test_a_target_down_for_minutes_is_ridden_out_and_the_activity_linked(hub: LocalHub) -> None:
    from localhub.aws import sfn_waits

    # Given MWM down for its next eight calls: more attempts than a few seconds of retries make
    system(hub, "MWM").add_fault({"kind": "down", "count": 8})

    # When an activity routed to MWM is posted (the workflow's Retry waits run at a hundredth of their length)
    with sfn_waits.scaled(0.01):
        assert post(hub, activity("A-OUT", "CONNECT")).status == 202
        body = settled(hub, "CCB", "A-OUT", timeout=120)

    # Then the workflow outlasts the outage and links it, created once
    assert body["status"] == "LINKED", body["history"]
    assert [m["operation"] for m in system(hub, "MWM").received] == ["create"]


def test_compensation_waits_for_a_create_still_in_flight(hub: LocalHub) -> None:
    # Given ODM refusing the activity at once while MWM answers its create slowly
    system(hub, "ODM").add_fault({"kind": "reject", "count": 1, "reason": "service point unknown at ODM"})
    system(hub, "MWM").add_fault({"kind": "slow", "count": 1, "seconds": 3})

    # When a meter exchange is posted
    assert post(hub, activity("A-SLOW")).status == 202
    body = settled(hub, "CCB", "A-SLOW")
    time.sleep(3)  # anything still in flight at MWM has arrived by now

    # Then the activity is in ERROR with ODM's reason, and the activity MWM made for it is canceled, not left open
    assert body["status"] == "ERROR"
    assert "not created in ODM (TargetRejected: HTTP 422)" in body["history"][-1]["reason"]
    mwm_id = system(hub, "MWM").book.by_external_id["CCB:A-SLOW"]
    assert held(hub, "MWM", mwm_id)["status"] == "CANCELED"


def test_a_compensation_that_keeps_failing_ends_the_activity_in_error_with_its_reason(hub: LocalHub) -> None:
    from localhub.aws import sfn_waits

    # Given ODM refusing the activity, and MWM down for good once it has created it (the compensation cannot cancel it)
    system(hub, "ODM").add_fault({"kind": "reject", "count": 1, "reason": "service point unknown at ODM"})
    system(hub, "MWM").add_fault({"kind": "down", "count": 1000, "after": 1})

    # When a meter exchange is posted (Retry waits at a hundredth of their length)
    with sfn_waits.scaled(0.01):
        assert post(hub, activity("A-STUCK")).status == 202
        body = settled(hub, "CCB", "A-STUCK", timeout=180)
    system(hub, "MWM").clear_faults()

    # Then the activity is not left CREATING: it is in ERROR, with ODM's refusal and MWM's failed cancellation as the reason
    assert body["status"] == "ERROR", body["history"]
    reason = body["history"][-1]["reason"]
    assert "not created in ODM (TargetRejected: HTTP 422)" in reason
    assert "not canceled in MWM" in reason, reason
    # And MWM's activity is still linked, for an operator (or a resubmission) to deal with
    assert body["links"]["MWM"] == system(hub, "MWM").book.by_external_id["CCB:A-STUCK"]


def test_compensation_never_cancels_an_activity_already_linked(hub: LocalHub) -> None:
    # Given the sample activity created in MWM and ODM and linked
    assert hub.invoke(API, sample_event("field_work/activities/create-activity.json")).result["statusCode"] == 202
    odm_id = settled(hub, "CCB", "FA-1001")["links"]["ODM"]

    # When a compensation step for ODM runs anyway (the workflow's finish failed after recording LINKED)
    step = hub.invoke("FieldWorkActivityStepsFunction", sample_event("field_work/activity_steps/cancel-in-target.json")).result

    # Then nothing is canceled: the activity stays open in ODM and LINKED in the hub
    assert step == {"target": "ODM", "canceled": False}
    assert held(hub, "ODM", odm_id)["status"] == "OPEN"
    assert view(hub, "CCB", "FA-1001")["status"] == "LINKED"


def resubmit(hub: LocalHub, source: str, activity_id: str) -> ApiResponse:
    return hub.call_api("POST", f"/field-work/activities/{source}/{activity_id}/resubmission", claims=as_system(hub, source))


def test_an_activity_in_error_is_resubmitted_and_created_again_from_where_it_failed(hub: LocalHub) -> None:
    # Given the sample meter exchange refused by ODM after a while (MWM created it, the compensation canceled it),
    # with an update posted while it was being created (held)
    system(hub, "ODM").add_fault({"kind": "slow", "count": 1, "seconds": 6})
    system(hub, "ODM").add_fault({"kind": "reject", "count": 1, "reason": "service point unknown at ODM"})
    assert hub.invoke(API, sample_event("field_work/activities/create-activity.json")).result["statusCode"] == 202
    update = {"eventId": "E-R1", "event": "UPDATE", "at": "2026-12-01T08:00:00Z", "changes": {"priority": "EMERGENCY"}}
    assert post_event(hub, "CCB", "FA-1001", update).status == 202
    assert settled(hub, "CCB", "FA-1001")["status"] == "ERROR"
    first_mwm = system(hub, "MWM").book.by_external_id["CCB:FA-1001"]
    assert held(hub, "MWM", first_mwm)["status"] == "CANCELED"

    # When the operator resubmits it (the sample event), once ODM knows the service point, and resubmits it again
    answer = hub.invoke(API, sample_event("field_work/activities/resubmit-activity.json")).result
    body = settled(hub, "CCB", "FA-1001")
    hub.drain()
    again = resubmit(hub, "CCB", "FA-1001")

    # Then it was taken (202, attempt 2) and the activity is LINKED: created in ODM, created anew in MWM (its first
    # activity there was canceled), each once in this attempt, and the held update reached both
    assert answer["statusCode"] == 202, answer["body"]
    assert json.loads(answer["body"]) == {"activityId": "FA-1001", "sourceSystem": "CCB", "status": "CREATING", "attempt": 2}
    assert body["status"] == "LINKED", body["history"]
    assert body["links"]["MWM"] != first_mwm
    assert [m["operation"] for m in system(hub, "MWM").received if m["operation"] == "create"] == ["create", "create"]
    assert [m["operation"] for m in system(hub, "ODM").received if m["operation"] == "create"] == ["create"]
    for name in ("MWM", "ODM"):
        record = held(hub, name, body["links"][name])
        assert (record["status"], record["priority"]) == ("OPEN", "EMERGENCY"), name
        assert [e["eventId"] for e in record["events"]] == ["E-R1"], name
    # And a linked activity is not resubmitted (409), nor an unknown one (404)
    assert again.status == 409, again.body
    assert resubmit(hub, "CCB", "NOPE").status == 404


def test_a_resubmission_whose_start_failed_is_started_by_the_retry(hub: LocalHub) -> None:
    from localhub.aws.throttling import AwsThrottling

    # Given an activity in ERROR (MWM refused it)
    system(hub, "MWM").add_fault({"kind": "reject", "count": 1, "reason": "no crew for that area"})
    assert post(hub, activity("A-RS", "CONNECT")).status == 202
    assert settled(hub, "CCB", "A-RS")["status"] == "ERROR"

    # When its resubmission is recorded but its workflow cannot be started (Step Functions throttled its start), and the operator retries
    with AwsThrottling(1.0, operations=frozenset({"stepfunctions.StartExecution"})) as throttling:
        first = resubmit(hub, "CCB", "A-RS")
    assert throttling.throttled
    stuck = view(hub, "CCB", "A-RS")["status"]
    retried = resubmit(hub, "CCB", "A-RS")
    body = settled(hub, "CCB", "A-RS")

    # Then the first answered 503 with the activity CREATING, the retry started the attempt, and the activity is LINKED
    assert (first.status, stuck) == (503, "CREATING"), first.body
    assert retried.status == 202, retried.body
    assert retried.json()["attempt"] == 2
    assert body["status"] == "LINKED", body["history"]
    assert [m["operation"] for m in system(hub, "MWM").received] == ["create"]


@pytest.mark.parametrize("mwm_takes_it", [False, True], ids=["refused-again", "created"])
def test_an_older_attempts_execution_records_nothing_over_a_newer_attempt(hub: LocalHub, mwm_takes_it: bool) -> None:
    import boto3

    from localhub.aws.throttling import AwsThrottling
    from utilhub.packs.field_work.activities import creation_input, execution_name
    from utilhub.packs.field_work.model import ActivityIn

    # Given a connect MWM refused (ERROR, attempt 1), resubmitted: CREATING under attempt 2, whose execution has not
    # started yet (Step Functions throttled its start)
    system(hub, "MWM").add_fault({"kind": "reject", "count": 1, "reason": "no crew for that area"})
    assert post(hub, activity("A-OLD", "CONNECT")).status == 202
    assert settled(hub, "CCB", "A-OLD")["status"] == "ERROR"
    with AwsThrottling(1.0, operations=frozenset({"stepfunctions.StartExecution"})):
        assert resubmit(hub, "CCB", "A-OLD").status == 503

    # When attempt 1's creation runs again (as a redrive runs it: its own input), MWM refusing it again or taking it
    if not mwm_takes_it:
        system(hub, "MWM").add_fault({"kind": "reject", "count": 1, "reason": "no crew for that area"})
    old = ActivityIn.model_validate(activity("A-OLD", "CONNECT"))
    sfn = boto3.client("stepfunctions")
    machine = hub.resources()["FieldActivityStateMachine"]
    name = f"{execution_name(old, 1)}-redriven"
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=creation_input(old, ["MWM"], 1))["executionArn"]
    assert hub.settle(timeout=60) == []
    replayed = sfn.describe_execution(executionArn=arn)
    during = view(hub, "CCB", "A-OLD")

    # Then it succeeded recording nothing, superseded (no OutcomeNotRecorded, no alarm), and cancelled nothing at MWM:
    # the activity is still CREATING under attempt 2
    assert replayed["status"] == "SUCCEEDED", replayed
    assert json.loads(replayed["output"])["status"] == "SUPERSEDED", replayed["output"]
    assert (during["status"], during["history"][-1]["reason"]) == ("CREATING", "resubmitted (attempt 2)"), during["history"]
    assert [m["operation"] for m in system(hub, "MWM").received].count("cancel") == 0
    # And the operators' timeline of the activity says so
    trace = hub.call_api("GET", "/ops/transactions/FW-01/CCB%2FA-OLD", claims=OPS_CLAIMS).json()
    assert [(h["step"], h["detail"]) for h in trace["timeline"] if h["outcome"] == "SUPERSEDED"] == [
        ("finish", "attempt 1's outcome not recorded: attempt 2 holds the activity")
    ]

    # When the operator retries the resubmission (attempt 2's execution starts)
    retried = resubmit(hub, "CCB", "A-OLD")
    body = settled(hub, "CCB", "A-OLD")

    # Then attempt 2 records its outcome: LINKED, at the activity MWM holds for it (the one attempt 1 made, if it made one)
    assert (retried.status, retried.json()["attempt"]) == (202, 2), retried.body
    assert body["status"] == "LINKED", body["history"]
    assert body["links"]["MWM"] == system(hub, "MWM").book.by_external_id["CCB:A-OLD"]
    assert held(hub, "MWM", body["links"]["MWM"])["status"] == "OPEN"


SWEEP = "FieldWorkActivityCreationSweepFunction"


def creation(hub: LocalHub, source: str, activity_id: str, attempt: int = 1) -> dict[str, Any]:
    """The attempt's execution, as Step Functions describes it."""
    import boto3

    from utilhub.packs.field_work.activities import execution_name
    from utilhub.packs.field_work.model import ActivityIn

    machine = hub.resources()["FieldActivityStateMachine"]
    name = execution_name(ActivityIn.model_validate(activity(activity_id, source=source)), attempt)
    arn = f"{machine.replace(':stateMachine:', ':execution:', 1)}:{name}"
    return dict(boto3.client("stepfunctions").describe_execution(executionArn=arn))


def test_an_activity_whose_creation_failed_without_recording_its_outcome_is_put_in_error_by_the_sweep(hub: LocalHub) -> None:
    from datetime import UTC, datetime, timedelta

    from localhub.aws import sfn_waits
    from localhub.aws.throttling import AwsThrottling

    # Given a meter exchange ODM refuses after a while, created in MWM meanwhile, with an update posted then (held)
    system(hub, "ODM").add_fault({"kind": "slow", "count": 1, "seconds": 3})
    system(hub, "ODM").add_fault({"kind": "reject", "count": 1, "reason": "service point unknown at ODM"})
    assert post(hub, activity("A-ENDED")).status == 202
    update = {"eventId": "E-END1", "event": "UPDATE", "at": "2026-12-01T08:00:00Z", "changes": {"priority": "EMERGENCY"}}
    assert post_event(hub, "CCB", "A-ENDED", update).status == 202
    deadline = time.monotonic() + 30
    while "MWM" not in view(hub, "CCB", "A-ENDED")["links"] and time.monotonic() < deadline:
        time.sleep(0.05)
    # and from then on every DynamoDB update throttled: the compensation cannot unlink, the finish step cannot record the
    # ERROR past its retries (their waits at a hundredth of their length), so the execution fails recording nothing
    with sfn_waits.scaled(0.01), AwsThrottling(1.0, services=frozenset({"dynamodb"}), operations=frozenset({"dynamodb.UpdateItem"})):
        assert hub.settle(timeout=180) == []
    ended = creation(hub, "CCB", "A-ENDED")
    assert (ended["status"], ended.get("error")) == ("FAILED", "FieldActivityOutcomeNotRecorded")
    assert view(hub, "CCB", "A-ENDED")["status"] == "CREATING"

    # When the sweep runs within the bound (the workflow's longest span), then past it, then again
    now = datetime.now(UTC)
    within = hub.run_schedule(SWEEP, at=now + timedelta(seconds=10_700)).result
    still = view(hub, "CCB", "A-ENDED")["status"]
    past = hub.run_schedule(SWEEP, at=now + timedelta(seconds=10_900)).result
    again = hub.run_schedule(SWEEP, at=now + timedelta(seconds=11_000)).result
    body = view(hub, "CCB", "A-ENDED")

    # Then it was left alone within the bound, and past it put in ERROR once, the execution's end as the reason
    assert (within, still) == ({"ended": 0, "running": 0, "started": 0, "outOfTime": 0}, "CREATING")
    assert past == {"ended": 1, "running": 0, "started": 0, "outOfTime": 0}
    assert again == {"ended": 0, "running": 0, "started": 0, "outOfTime": 0}
    assert body["status"] == "ERROR", body["history"]
    assert body["history"][-1]["reason"] == (
        f"the creation (attempt 1) ended FAILED without recording its outcome (FieldActivityOutcomeNotRecorded: {ended['cause']})"
    )
    # And the update is still held, as for an activity its workflow put in ERROR: MWM got the compensation's
    # cancellation (sent before its unlink failed), not the update
    hub.drain()
    assert [e["eventId"] for e in held(hub, "MWM", body["links"]["MWM"])["events"]] == ["compensation-CCB-A-ENDED"]

    # When the operator resubmits it
    answer = resubmit(hub, "CCB", "A-ENDED")
    linked = settled(hub, "CCB", "A-ENDED")
    hub.drain()

    # Then it is created again and linked (attempt 2), and the held update reached both systems
    assert answer.status == 202, answer.body
    assert answer.json()["attempt"] == 2
    assert linked["status"] == "LINKED", linked["history"]
    for name in ("MWM", "ODM"):
        record = held(hub, name, linked["links"][name])
        assert (record["status"], record["priority"]) == ("OPEN", "EMERGENCY"), name
        assert [e["eventId"] for e in record["events"]] == ["E-END1"], name
    # And the sweep leaves a linked activity alone
    assert hub.run_schedule(SWEEP, at=now + timedelta(seconds=30_000)).result == {"ended": 0, "running": 0, "started": 0, "outOfTime": 0}
    assert view(hub, "CCB", "A-ENDED")["status"] == "LINKED"


def test_each_system_names_the_activity_by_its_own_id(hub: LocalHub) -> None:
    # Given CCB's meter exchange linked in MWM and ODM
    assert post(hub, activity("A-OWN")).status == 202
    links = settled(hub, "CCB", "A-OWN")["links"]

    # When MWM updates it under MWM's id (MWM's client, no fromSystem), and ODM reads it under ODM's
    update = {"eventId": "E-OWN-1", "event": "UPDATE", "at": "2026-12-01T08:00:00Z", "changes": {"priority": "HIGH"}}
    by_mwm = post_json(hub, f"/field-work/activities/MWM/{links['MWM']}/events", update, hub.claims_of("MWM"))
    by_odm = hub.call_api("GET", f"/field-work/activities/ODM/{links['ODM']}", claims=hub.claims_of("ODM"))
    hub.drain()

    # Then the hub found CCB's activity through its links: the update came from MWM and reached CCB's other system
    assert by_mwm.status == 202, by_mwm.body
    assert by_mwm.json() == {
        "activityId": links["MWM"],
        "event": "UPDATE",
        "forwardedTo": ["CCB", "ODM"],
        "sourceSystem": "CCB",
        "sourceActivityId": "A-OWN",
    }
    assert held(hub, "ODM", links["ODM"])["priority"] == "HIGH"
    assert [e["eventId"] for e in held(hub, "MWM", links["MWM"])["events"]] == []  # not sent back to where it happened
    assert by_odm.status == 200, by_odm.body
    assert (by_odm.json()["sourceSystem"], by_odm.json()["activityId"], by_odm.json()["links"]) == ("CCB", "A-OWN", links)
    history = view(hub, "CCB", "A-OWN")["history"]
    assert [h["reason"] for h in history if h.get("eventId") == "E-OWN-1"] == ["UPDATE from MWM"]


def test_an_id_no_linked_system_gave_is_404_and_a_system_cannot_name_another_systems_id(hub: LocalHub) -> None:
    # Given CCB's connect linked in MWM only
    assert post(hub, activity("A-OWN2", "CONNECT")).status == 202
    links = settled(hub, "CCB", "A-OWN2")["links"]
    event = {"eventId": "E-OWN-2", "event": "CANCEL", "at": "2026-12-01T08:00:00Z", "reason": "customer moved"}

    # When MWM posts for an id it never gave, ODM names MWM's id, and MWM posts under its id as ODM would
    unknown = post_json(hub, "/field-work/activities/MWM/MWM-99999999/events", event, hub.claims_of("MWM"))
    unknown_view = hub.call_api("GET", "/field-work/activities/MWM/MWM-99999999", claims=hub.claims_of("MWM"))
    wrong_system = post_json(hub, f"/field-work/activities/ODM/{links['MWM']}/events", event, hub.claims_of("ODM"))
    impostor = post_json(hub, f"/field-work/activities/MWM/{links['MWM']}/events", event, hub.claims_of("ODM"))

    # Then: 404 for ids the activity does not have there, 403 for a system acting as another; nothing changed
    assert (unknown.status, unknown_view.status, wrong_system.status, impostor.status) == (404, 404, 404, 403)
    hub.drain()
    assert view(hub, "CCB", "A-OWN2")["status"] == "LINKED"
    assert held(hub, "MWM", links["MWM"])["status"] == "OPEN"


def test_each_system_gets_the_activity_type_in_its_own_code(hub: LocalHub) -> None:
    # Given CCB's meter exchange (CCB's code) and MWM's pickup (MWM's code)
    assert post(hub, activity("A-TYPE1", "METER-EXCHANGE")).status == 202
    pickup = post(hub, activity("A-TYPE2", "PICKUP_REQUEST", source="MWM"))

    # When they are created
    exchange = settled(hub, "CCB", "A-TYPE1")
    picked = settled(hub, "MWM", "A-TYPE2")

    # Then each routed system holds the type in its own code (domain value map FieldActivityType), the hub the source's
    assert pickup.status == 202, pickup.body
    assert pickup.json()["routedTo"] == ["CCB"]
    assert (exchange["status"], picked["status"]) == ("LINKED", "LINKED")
    assert held(hub, "MWM", exchange["links"]["MWM"])["activityType"] == "METER_EXCHANGE"
    assert held(hub, "ODM", exchange["links"]["ODM"])["fieldActivityType"] == "EXCHANGE-METER"
    assert held(hub, "CCB", picked["links"]["CCB"])["activityType"] == "PICKUP"
    assert (exchange["activityType"], picked["activityType"]) == ("METER-EXCHANGE", "PICKUP_REQUEST")


def test_a_completion_names_the_meters_exchanged_and_ccb_gets_them_in_its_shape(hub: LocalHub) -> None:
    import requests

    # Given a meter exchange created in CCB (CCB's simulator keeps it and sends it to the hub), linked in MWM and ODM
    created = requests.put(
        f"{hub.simulator_url('CCB')}/field-activities/FA-MTR1",
        json={"activityType": "METER-EXCHANGE", "servicePointId": "SP-0001"},
        timeout=30,
    ).json()
    assert created["hubStatus"] == 202, created
    links = settled(hub, "CCB", "FA-MTR1")["links"]

    # When the crew completes it in MWM, naming the meter removed and the one installed with their register reads
    meters: list[dict[str, Any]] = [
        {
            "action": "REMOVED",
            "badgeNumber": "B-0001",
            "readings": [{"registerId": "R1", "value": 1234.5, "readAt": "2026-12-01T10:00:00Z"}],
        },
        {"action": "INSTALLED", "badgeNumber": "B-0060", "readings": [{"registerId": "R1", "value": 0, "readAt": "2026-12-01T10:05:00Z"}]},
    ]
    reported = requests.post(
        f"{hub.simulator_url('MWM')}/activities/{links['MWM']}/report", json={"event": "COMPLETE", "meters": meters}, timeout=30
    ).json()
    hub.drain()

    # Then CCB holds CCB's completion steps (removal and install, each with its register reads), ODM the meters
    assert reported["hubStatus"] == 202, reported
    ccb = held(hub, "CCB", "FA-MTR1")
    assert ccb["status"] == "COMPLETED"
    assert ccb["completion"]["meterRemovals"] == [
        {"badgeNumber": "B-0001", "registerReads": [{"registerId": "R1", "readDateTime": "2026-12-01T10:00:00Z", "reading": 1234.5}]}
    ]
    assert ccb["completion"]["meterInstalls"] == [
        {"badgeNumber": "B-0060", "registerReads": [{"registerId": "R1", "readDateTime": "2026-12-01T10:05:00Z", "reading": 0.0}]}
    ]
    odm = held(hub, "ODM", links["ODM"])
    assert [(m["action"], m["badgeNumber"]) for m in odm["completion"]["meters"]] == [("REMOVED", "B-0001"), ("INSTALLED", "B-0060")]
    assert view(hub, "CCB", "FA-MTR1")["refusals"] == []


@pytest.mark.parametrize(
    ("event", "pointer"),
    [
        ({"event": "UPDATE", "changes": {"priority": "HIGH"}, "meters": [{"action": "INSTALLED", "badgeNumber": "B-0060"}]}, "#/meters"),
        ({"event": "COMPLETE", "meters": [{"action": "SWAPPED", "badgeNumber": "B-0060"}]}, "#/meters/0/action"),
        (
            {
                "event": "COMPLETE",
                "meters": [
                    {
                        "action": "INSTALLED",
                        "badgeNumber": "B-0060",
                        "readings": [{"registerId": "R1", "value": "NaN", "readAt": "2026-12-01T10:00:00Z"}],
                    }
                ],
            },
            "#/meters/0/readings/0/value",
        ),
    ],
)
def test_meters_a_completion_cannot_carry_are_422_at_their_pointer_and_nothing_is_recorded(
    hub: LocalHub, event: dict[str, Any], pointer: str
) -> None:
    # Given a meter exchange linked in MWM and ODM
    assert post(hub, activity("A-MTR2")).status == 202
    settled(hub, "CCB", "A-MTR2")

    # When MWM posts an event whose meters are wrong
    response = post_json(
        hub,
        "/field-work/activities/CCB/A-MTR2/events",
        {"eventId": "E-MTR2", "at": "2026-12-01T10:00:00Z", "fromSystem": "MWM", **event},
        hub.claims_of("MWM"),
    )

    # Then it is a 422 pointing at the field, and the activity took no event
    assert response.status == 422, response.body
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert [h for h in view(hub, "CCB", "A-MTR2")["history"] if "eventId" in h] == []


def test_odm_gets_the_activity_at_its_own_id_of_the_service_point_and_mwm_at_ccbs(hub: LocalHub) -> None:
    # Given SP-2001 synchronized to ODM (the fixture; FW-06 again answers the id ODM gave it)
    odm_id = synchronize_service_points(hub, "SP-2001")["SP-2001"]

    # When CCB's sample meter exchange at SP-2001 is created
    assert hub.invoke(API, sample_event("field_work/activities/create-activity.json")).result["statusCode"] == 202
    links = settled(hub, "CCB", "FA-1001")["links"]

    # Then ODM holds it at ODM's service point, in its field activity's shape; MWM at CCB's, in its activity's
    assert odm_id.startswith("OSP-")
    field_activity = held(hub, "ODM", links["ODM"])
    assert field_activity["servicePointId"] == odm_id
    assert (field_activity["originatingSystem"], field_activity["originatingActivityId"]) == ("CCB", "FA-1001")
    assert (field_activity["fieldActivityType"], field_activity["priority"]) == ("EXCHANGE-METER", "HIGH")
    assert "activityType" not in field_activity
    assert held(hub, "MWM", links["MWM"])["servicePointId"] == "SP-2001"
    assert view(hub, "CCB", "FA-1001")["status"] == "LINKED"


def test_an_activity_at_a_service_point_odm_does_not_have_yet_ends_in_error_and_is_created_once_synchronized(hub: LocalHub) -> None:
    from localhub.aws import sfn_waits

    # Given CCB's meter exchange at SP-9001, a service point FW-06 has not synchronized to ODM
    with sfn_waits.scaled(0.001):  # the create's retries, minutes on AWS
        assert post(hub, activity("A-SP1", servicePointId="SP-9001")).status == 202
        failed = settled(hub, "CCB", "A-SP1")

    # Then ODM was never asked (the hub has no ODM id to send) and the activity ended in ERROR, saying why; MWM's
    # activity was canceled (the compensation)
    assert failed["status"] == "ERROR", failed["history"]
    assert (
        "not created in ODM (ServicePointNotSynchronized: service point SP-9001 not yet synchronized to ODM (FW-06))"
        in failed["history"][-1]["reason"]
    )
    assert [m for m in system(hub, "ODM").received if m["operation"] == "create"] == []
    assert held(hub, "MWM", system(hub, "MWM").book.by_external_id["CCB:A-SP1"])["status"] == "CANCELED"

    # When FW-06 synchronizes SP-9001 to ODM and the operator resubmits the activity
    odm_id = synchronize_service_points(hub, "SP-9001")["SP-9001"]
    assert resubmit(hub, "CCB", "A-SP1").status == 202
    body = settled(hub, "CCB", "A-SP1")

    # Then it is created in ODM at ODM's id of the service point, and linked
    assert body["status"] == "LINKED", body["history"]
    assert held(hub, "ODM", body["links"]["ODM"])["servicePointId"] == odm_id


def test_odm_refuses_an_activity_at_a_service_point_it_does_not_keep(hub: LocalHub) -> None:
    # ODM's own check (its contract), whatever the hub sends: CCB's id is not one of ODM's service points
    body = {
        "originatingSystem": "CCB",
        "originatingActivityId": "X-1",
        "fieldActivityType": "EXCHANGE-METER",
        "servicePointId": "SP-2001",
        "priority": "NORMAL",
    }
    refused = system(hub, "ODM").handle("POST", "/activities", json.dumps(body).encode(), {})
    assert refused.status == 422
    assert "ODM has no service point SP-2001" in json.loads(refused.body)["message"]


def test_an_activity_whose_creation_never_started_is_started_by_the_sweep(hub: LocalHub) -> None:
    from datetime import UTC, datetime, timedelta

    from localhub.aws.throttling import AwsThrottling

    # Given an activity recorded CREATING whose workflow could not be started (Step Functions throttled: 503), and
    # the source never sent it again
    with AwsThrottling(1.0, operations=frozenset({"stepfunctions.StartExecution"})) as throttling:
        first = post(hub, activity("A-NOSTART", "CONNECT"))
    assert throttling.throttled
    assert (first.status, view(hub, "CCB", "A-NOSTART")["status"]) == (503, "CREATING"), first.body

    # When the sweep runs past the bound
    now = datetime.now(UTC)
    past = hub.run_schedule(SWEEP, at=now + timedelta(seconds=10_900)).result
    body = settled(hub, "CCB", "A-NOSTART")

    # Then it started the attempt (under the sweep's own grant), which created and linked the activity, once
    assert past == {"ended": 0, "running": 0, "started": 1, "outOfTime": 0}
    assert creation(hub, "CCB", "A-NOSTART")["status"] == "SUCCEEDED"
    assert body["status"] == "LINKED", body["history"]
    assert [m["operation"] for m in system(hub, "MWM").received] == ["create"]
