"""Sent at once (docs/sync-requests.md#sent-at-once): a request received while its entity is free goes at its
intake, an acknowledgement releases its entity's next change and the requests waiting for its entity as their
parent, all without a monitor run; and a monitor run working the same entity at the same time never sends a change
twice. Through the real handlers, moto and the MDM simulator; the monitor never runs unless a test says so."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import pytest

from localhub.hub import LocalHub
from localhub.lambda_.runtime import function_environment
from localhub.simulators.mdm import MdmSimulator
from tests.conftest import sample_event
from tests.helpers import post_json
from tests.integration.test_meter_data_person_sync import MDM_CLAIMS, MONITOR, person, status_of, submit
from utilhub.platform import wiring
from utilhub.syncrequests.lifecycle import PendingRequest
from utilhub.syncrequests.model import SyncRequest, SyncRequestIn
from utilhub.syncrequests.monitor import SyncMonitor
from utilhub.syncrequests.store import SyncRequestStore


def mdm(hub: LocalHub) -> MdmSimulator:
    simulator = hub.simulators["MDM"]
    assert isinstance(simulator, MdmSimulator)
    return simulator


def statuses(hub: LocalHub, sync_request_id: str) -> list[str]:
    return [h["status"] for h in status_of(hub, sync_request_id)["history"]]


def received_order(hub: LocalHub) -> list[str]:
    seen: list[str] = []
    for message in mdm(hub).received:
        if message["syncRequestId"] not in seen:
            seen.append(message["syncRequestId"])
    return seen


def body_of(name: str) -> dict[str, Any]:
    return dict(json.loads(sample_event(f"meter_data/sync_requests/submit-{name}.json")["body"]))


@contextlib.contextmanager
def mdm_sync_parts(hub: LocalHub) -> Iterator[tuple[SyncRequestStore, SyncMonitor]]:
    """The MDM flow's store and monitor, as the monitor function builds them (its settings), for a test to drive."""
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.wiring import monitor_for, store_for

    with function_environment(hub.function(MONITOR).environment):
        wiring.reset()
        try:
            yield store_for(FLOW), monitor_for(FLOW)
        finally:
            wiring.reset()


def pending_person(store: SyncRequestStore, sync_request_id: str, entity_id: str) -> SyncRequest:
    """A PENDING change of a free person, stored as the intake stores it, without the intake's release."""
    stored, _ = store.create(
        SyncRequestIn(
            syncRequestId=sync_request_id,
            entityType="PERSON",
            entityId=entity_id,
            changedAt=datetime.fromisoformat("2026-11-20T09:00:00+00:00"),
            data={"name": "Ada"},
        ),
        "cid",
    )
    return stored


def test_a_request_received_while_its_entity_is_free_goes_at_its_intake(hub: LocalHub) -> None:
    # When a person's change is posted, and its queue delivered, with no monitor run
    assert submit(hub, person("SR-1")).status == 202
    assert statuses(hub, "SR-1") == ["PENDING", "SENT"]
    hub.drain()

    # Then MDM holds it
    assert statuses(hub, "SR-1") == ["PENDING", "SENT", "SYNCHRONIZED"]
    assert mdm(hub).accepted["SR-1"] == 1


def test_an_acknowledgement_releases_the_entitys_next_change_without_a_monitor_run(hub: LocalHub) -> None:
    # Given a person's change in flight and two newer ones received behind it (PENDING: the entity is in flight)
    submit(hub, person("SR-1", name="v1", changed="2026-11-20T09:00:00Z"))
    submit(hub, person("SR-3", name="v3", changed="2026-11-20T09:02:00Z"))
    submit(hub, person("SR-2", name="v2", changed="2026-11-20T09:01:00Z"))
    assert (statuses(hub, "SR-2"), statuses(hub, "SR-3")) == (["PENDING"], ["PENDING"])

    # When the queue is delivered, with no monitor run
    hub.drain()

    # Then each acknowledgement sent the next change, oldest first: MDM got all three in order and holds the newest
    assert received_order(hub) == ["SR-1", "SR-2", "SR-3"]
    assert [statuses(hub, i)[-1] for i in ("SR-1", "SR-2", "SR-3")] == ["SYNCHRONIZED"] * 3
    assert mdm(hub).records["PERSON#P-1"]["data"]["ContactName"] == "v3"


def test_an_acknowledgement_posted_later_releases_the_next_change_too(hub: LocalHub) -> None:
    # Given MDM accepts the first change and acknowledges it later, and a newer change waits behind it
    mdm(hub).add_fault({"kind": "accept_later", "count": 1})
    submit(hub, person("SR-1", name="v1", changed="2026-11-20T09:00:00Z"))
    hub.drain()
    submit(hub, person("SR-2", name="v2", changed="2026-11-20T09:01:00Z"))
    assert (statuses(hub, "SR-1")[-1], statuses(hub, "SR-2")) == ("SENT", ["PENDING"])

    # When MDM posts its acknowledgement
    ack = {"result": "POSITIVE", "targetId": "MDM-1"}
    response = post_json(hub, "/meter-data/sync-requests/SR-1/acknowledgement", ack, MDM_CLAIMS)
    assert response.status == 200, response.body

    # Then the next change was queued by it, and goes with the queue's delivery, no monitor run
    assert statuses(hub, "SR-2") == ["PENDING", "SENT"]
    hub.drain()
    assert statuses(hub, "SR-2")[-1] == "SYNCHRONIZED"


def test_a_parents_acknowledgement_releases_its_waiting_children_without_a_monitor_run(hub: LocalHub) -> None:
    # Given a service agreement received before its person and service point: it waits for them at its intake
    sa = str(body_of("service-agreement")["syncRequestId"])
    assert submit(hub, body_of("service-agreement")).status == 202
    assert status_of(hub, sa)["status"] == "WAITING"

    # When its parents are received and the queue is delivered, with no monitor run
    parents = [str(body_of(name)["syncRequestId"]) for name in ("person", "service-point")]
    for name in ("person", "service-point"):
        assert submit(hub, body_of(name)).status == 202
    hub.drain()

    # Then the parents' acknowledgements released the agreement, which MDM got after both, once
    assert status_of(hub, sa)["status"] == "SYNCHRONIZED"
    order = received_order(hub)
    assert all(order.index(p) < order.index(sa) for p in parents), order
    assert mdm(hub).accepted[sa] == 1


def test_the_monitor_and_a_release_working_one_entity_at_once_send_its_change_once(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    with mdm_sync_parts(hub) as (store, monitor):
        # Given a PENDING change of a free person
        stored = pending_person(store, "SR-R", "P-R")
        # and both paths made to claim only once both have planned it (each saw the entity free and the request PENDING)
        both_planned = threading.Barrier(2, timeout=30)
        claim_many: Callable[..., list[int | None]] = store.claim_many

        def claim_when_both_planned(requests: Sequence[PendingRequest], *, record: str | None = None) -> list[int | None]:
            both_planned.wait()
            return claim_many(requests, record=record)

        monkeypatch.setattr(store, "claim_many", claim_when_both_planned)

        # When a monitor run and a release (an acknowledgement's, or the intake's) work it at the same time
        reports: dict[str, Any] = {}
        run = threading.Thread(target=lambda: reports.update(run=monitor.run()))
        run.start()
        reports["release"] = monitor.release([stored])
        run.join(60)
        monkeypatch.undo()

    # Then one claim went through and the other was skipped as stale: the change was queued once, at attempt 1
    assert sorted((r.queued, r.skipped_stale) for r in reports.values()) == [(0, 1), (1, 0)]
    assert statuses(hub, "SR-R") == ["PENDING", "SENT"]
    hub.drain()
    assert statuses(hub, "SR-R") == ["PENDING", "SENT", "SYNCHRONIZED"]
    assert mdm(hub).accepted["SR-R"] == 1
    assert len([m for m in mdm(hub).received if m["syncRequestId"] == "SR-R"]) == 1


def test_a_dependants_note_dynamodb_does_not_answer_leaves_the_pages_ready_requests_claimed(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ReadTimeoutError

    # Given a person and a service point MDM holds
    for name in ("person", "service-point"):
        assert submit(hub, body_of(name)).status == 202
    hub.drain()
    agreement = body_of("service-agreement")
    with mdm_sync_parts(hub) as (store, monitor):
        # and, PENDING on one page (stored as the intake stores them, without its release), an agreement of theirs
        # and one of a person and service point never received (held WAITING, noted on its parent)
        ready = SyncRequestIn.model_validate({**agreement, "syncRequestId": "SR-READY", "entityId": "SA-READY"})
        held_data = {**agreement["data"], "personId": "P-NONE", "servicePointIds": ["SP-NONE"]}
        held = SyncRequestIn.model_validate({**agreement, "syncRequestId": "SR-HELD", "entityId": "SA-HELD", "data": held_data})
        store.create(ready, "cid")
        store.create(held, "cid")

        # When the monitor runs and DynamoDB does not answer the note of the held agreement on its parent
        update_item = store._client.update_item

        def no_answer_to_notes(**kwargs: Any) -> Any:
            if str(kwargs.get("UpdateExpression", "")).startswith("ADD dependants"):
                raise ReadTimeoutError(endpoint_url="http://dynamodb")
            return update_item(**kwargs)

        monkeypatch.setattr(store._client, "update_item", no_answer_to_notes)
        report = monitor.run()
        monkeypatch.undo()

    # Then the ready agreement was claimed and queued all the same, and the held one waits for the sweep
    assert (report.queued, report.held, report.failed_shards) == (1, 1, 0)
    assert statuses(hub, "SR-READY") == ["PENDING", "SENT"]
    assert statuses(hub, "SR-HELD") == ["PENDING", "WAITING"]
    hub.drain()
    assert statuses(hub, "SR-READY")[-1] == "SYNCHRONIZED"


def test_a_release_reads_its_entitys_state_once(hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    with mdm_sync_parts(hub) as (store, monitor):
        # Given a PENDING change of a free person
        stored = pending_person(store, "SR-ONCE", "P-ONCE")
        read: list[list[tuple[str, str]]] = []
        entity_states = store.entity_states

        def counted(entities: Any) -> Any:
            wanted = list(entities)
            read.append(wanted)
            return entity_states(wanted)

        monkeypatch.setattr(store, "entity_states", counted)

        # When its intake's release plans it and looks for what its entity releases
        report = monitor.release([stored])
        monkeypatch.undo()

    # Then it was queued, and its entity's item read once (one consistent BatchGetItem), not once per step
    assert report.queued == 1
    assert read == [[("PERSON", "P-ONCE")]]


def test_a_delivery_with_too_little_of_its_invocation_left_leaves_the_entitys_next_change_to_the_monitor(hub: LocalHub) -> None:
    from localhub.lambda_.runtime import LambdaContext
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.model import DeliveryMessage
    from utilhub.syncrequests.monitor import RELEASE_MARGIN_MS
    from utilhub.syncrequests.wiring import delivery_for

    # Given a person's change in flight (its message queued) and a newer one PENDING behind it
    submit(hub, person("SR-1", name="v1", changed="2026-11-20T09:00:00Z"))
    submit(hub, person("SR-2", name="v2", changed="2026-11-20T09:01:00Z"))
    assert (statuses(hub, "SR-1"), statuses(hub, "SR-2")) == (["PENDING", "SENT"], ["PENDING"])

    # When the delivery function delivers the first in an invocation with less than the release's margin left
    spec = hub.function("MeterDataDeliveryFunction")
    with function_environment({**spec.environment, "AWS_LAMBDA_FUNCTION_NAME": spec.name}):
        wiring.reset()
        context = LambdaContext(spec.name, spec.memory, (RELEASE_MARGIN_MS - 1000) // 1000)
        outcome = delivery_for(FLOW).deliver(DeliveryMessage(flow=FLOW.name, syncRequestId="SR-1", attempt=1, correlationId="cid"), context)
    wiring.reset()

    # Then the first is acknowledged and the second left PENDING, for the monitor's next run, which sends it
    assert outcome == "synchronized"
    assert statuses(hub, "SR-2") == ["PENDING"]
    hub.drain()  # the first's message again: stale, skipped
    assert statuses(hub, "SR-2") == ["PENDING"]
    run = hub.run_schedule(MONITOR)
    assert not run.failed, run.error
    assert run.result["queued"] == 1
    hub.drain()
    assert statuses(hub, "SR-2")[-1] == "SYNCHRONIZED"


def test_a_child_the_monitors_sweep_sends_is_taken_off_its_parents_notes(hub: LocalHub) -> None:
    # Given a person and a service point MDM holds
    for name in ("person", "service-point"):
        assert submit(hub, body_of(name)).status == 202
    hub.drain()
    agreement = body_of("service-agreement")
    person_entity = ("PERSON", str(agreement["data"]["personId"]))
    with mdm_sync_parts(hub) as (store, monitor):
        # and an agreement of theirs PENDING (stored without the intake's release), still noted on the person (its note
        # written after the person's acknowledgement had taken the notes: held, then sent by the sweep, not a release)
        store.create(SyncRequestIn.model_validate({**agreement, "syncRequestId": "SR-NOTED"}), "cid")
        store.note_dependants({person_entity: ["SR-NOTED"]})
        assert store.entity_states([person_entity])[person_entity].dependants == frozenset({"SR-NOTED"})

        # When the monitor's sweep sends it
        report = monitor.run()
        notes = store.entity_states([person_entity])[person_entity].dependants

    # Then it is no longer on the person's notes (which no later acknowledgement of the person would otherwise clear)
    assert report.queued == 1
    assert statuses(hub, "SR-NOTED") == ["PENDING", "SENT"]
    assert notes == frozenset()
