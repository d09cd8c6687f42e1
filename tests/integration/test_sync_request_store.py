"""The sync request store (utilhub.syncrequests.store) on moto: claims in one transaction, each
atomic, one refused without the others; a waiting request keeps its entity's slot."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localhub.hub import ApiResponse, LocalHub
from localhub.lambda_.runtime import function_environment
from tests.helpers import answer_lost_once, post_json
from tests.integration.test_meter_data_person_sync import CLAIMS, MONITOR, person
from utilhub.platform import wiring
from utilhub.syncrequests.lifecycle import Blocked, PendingRequest
from utilhub.syncrequests.model import SyncStatus
from utilhub.syncrequests.store import CLAIMS_PER_TRANSACTION, StaleTransition, SyncRequestStore


def submit(hub: LocalHub, body: dict[str, Any]) -> ApiResponse:
    """Store a request through the batch intake: PENDING until the monitor's run, for the store's calls to work on (a
    request posted alone goes at its intake, docs/sync-requests.md#sent-at-once)."""
    return post_json(hub, "/meter-data/sync-requests:batch", {"requests": [body]}, CLAIMS)


@pytest.fixture
def store(hub: LocalHub) -> Iterator[SyncRequestStore]:
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.wiring import store_for

    with function_environment(hub.function(MONITOR).environment):
        yield store_for(FLOW)
    wiring.reset()


def pending(store: SyncRequestStore, status: SyncStatus = SyncStatus.PENDING) -> dict[str, PendingRequest]:
    found: dict[str, PendingRequest] = {}
    for shard in store.shards:
        page, _ = store.pending_page(shard, 100, status=status)
        found.update({r.sync_request_id: r for r in page})
    return found


def test_claims_in_one_transaction_skip_only_the_one_whose_entity_is_busy(hub: LocalHub, store: SyncRequestStore) -> None:
    # Given three persons' requests, and a fourth request of the second person already claimed
    for sync_request_id, entity_id in (("SR-A", "P-A"), ("SR-B", "P-B"), ("SR-C", "P-C")):
        submit(hub, person(sync_request_id, entity_id=entity_id))
    submit(hub, person("SR-B0", entity_id="P-B", changed="2026-11-20T08:00:00Z"))
    requests = pending(store)
    assert store.claim_many([requests["SR-B0"]]) == [1]
    # When the three are claimed together
    attempts = store.claim_many([requests[i] for i in ("SR-A", "SR-B", "SR-C")])
    # Then the two free persons' requests are SENT, the busy one's is left PENDING, untouched
    assert attempts == [1, None, 1]
    assert [store.get(i).status for i in ("SR-A", "SR-B", "SR-C")] == [SyncStatus.SENT, SyncStatus.PENDING, SyncStatus.SENT]  # type: ignore[union-attr]


def test_more_claims_than_one_transaction_takes_are_refused_before_any_write(hub: LocalHub, store: SyncRequestStore) -> None:
    # (49: two updates a claim, and one item for the record of the transaction's claims)
    assert CLAIMS_PER_TRANSACTION == 49
    with pytest.raises(ValueError, match="at most 49"):
        store.claim_many([object()] * 50)  # type: ignore[list-item]


def test_the_record_of_a_transactions_claims_lists_what_it_claimed_until_it_is_forgotten(hub: LocalHub, store: SyncRequestStore) -> None:
    # Given three persons' requests, the second person's entity already busy
    for sync_request_id, entity_id in (("SR-RA", "P-RA"), ("SR-RB", "P-RB"), ("SR-RC", "P-RC")):
        submit(hub, person(sync_request_id, entity_id=entity_id))
    submit(hub, person("SR-RB0", entity_id="P-RB", changed="2026-11-20T08:00:00Z"))
    requests = pending(store)
    assert store.claim_many([requests["SR-RB0"]]) == [1]
    # When the three are claimed together under a record
    attempts = store.claim_many([requests[i] for i in ("SR-RA", "SR-RB", "SR-RC")], record="rec-1")
    # Then the record lists the two claimed, with their attempts, and is found once old enough
    assert attempts == [1, None, 1]
    assert store.unqueued_claims(datetime.now(UTC) - timedelta(minutes=1), 10) == []
    [(record, claims)] = store.unqueued_claims(datetime.now(UTC) + timedelta(minutes=1), 10)
    assert record == "rec-1"
    assert [(r.sync_request_id, r.entity_id, r.changed_at, attempt) for r, attempt in claims] == [
        (i, requests[i].entity_id, requests[i].changed_at, 1) for i in ("SR-RA", "SR-RC")
    ]
    # And once forgotten it is gone
    store.forget_claims(["rec-1"])
    assert store.unqueued_claims(datetime.now(UTC) + timedelta(minutes=1), 10) == []


def test_a_held_request_keeps_its_entity_until_it_is_claimed_from_waiting(hub: LocalHub, store: SyncRequestStore) -> None:
    # Given a request held WAITING for a parent
    submit(hub, person("SR-H", entity_id="P-H"))
    store.hold(pending(store)["SR-H"], Blocked(("SERVICE_POINT", "SP-9"), "waiting for SERVICE_POINT SP-9: not yet synchronized to MDM"))
    state = store.entity_states([("PERSON", "P-H")])[("PERSON", "P-H")]
    assert state.waiting == "SR-H"
    held = store.get("SR-H")
    assert held is not None
    assert (held.status, held.waitingFor) == (SyncStatus.WAITING, "SERVICE_POINT#SP-9")
    # When it is claimed from WAITING
    assert store.claim_many([pending(store, SyncStatus.WAITING)["SR-H"]]) == [1]
    # Then the entity is in flight, no longer waiting, and the request no longer says what it waited for
    state = store.entity_states([("PERSON", "P-H")])[("PERSON", "P-H")]
    assert (state.in_flight, state.waiting) == ("SR-H", None)
    claimed = store.get("SR-H")
    assert claimed is not None
    assert (claimed.status, claimed.waitingFor) == (SyncStatus.SENT, None)
    assert claimed.history[-1].reason == "queued for delivery (attempt 1): what it waited for is synchronized"


def test_an_entity_has_an_open_request_from_intake_until_it_is_synchronized_discarded_or_in_error(
    hub: LocalHub, store: SyncRequestStore
) -> None:
    from tests.integration.test_meter_data_person_sync import cycle

    # Given a person's request refused by MDM (ERROR), a second person's request left PENDING, and an SP-meter history's
    # request PENDING (the meter data flow looks it up under its service point)
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "contact locked in MDM"})
    submit(hub, person("SR-O1", entity_id="P-O1"))
    assert store.open_requests([("PERSON", "P-O1")]) == {("PERSON", "P-O1"): "SR-O1"}  # PENDING
    cycle(hub)
    submit(hub, person("SR-O2", entity_id="P-O2"))
    history = {
        "syncRequestId": "SR-OH",
        "entityType": "SP_METER_HISTORY",
        "entityId": "H-O1",
        "changedAt": "2026-11-20T10:50:00Z",
        "data": {"servicePointId": "SP-O1", "meterId": "M-O1", "installedAt": "2026-01-10T08:00:00Z"},
    }
    assert submit(hub, history).status == 202
    entities = [("PERSON", "P-O1"), ("PERSON", "P-O2"), ("SERVICE_POINT", "SP-O1"), ("PERSON", "P-NONE")]

    # When the open requests of the two persons, the service point and a person never sent are looked up
    in_error = store.open_requests(entities)

    # Then the PENDING person and the service point's history are open, the person in ERROR and the unknown one not
    assert in_error == {("PERSON", "P-O2"): "SR-O2", ("SERVICE_POINT", "SP-O1"): "SR-OH"}

    # When the request in ERROR is resubmitted it is open again, and once synchronized it is not
    request = store.get("SR-O1")
    assert request is not None
    store.resubmit(request, "resubmitted")
    assert store.open_requests([("PERSON", "P-O1")]) == {("PERSON", "P-O1"): "SR-O1"}
    run = hub.run_schedule(MONITOR)
    assert not run.failed, run.error
    assert store.open_requests([("PERSON", "P-O1")]) == {("PERSON", "P-O1"): "SR-O1"}  # SENT, MDM's answer on its way
    hub.drain()
    assert store.get("SR-O1").status is SyncStatus.SYNCHRONIZED  # type: ignore[union-attr]
    assert store.open_requests([("PERSON", "P-O1"), ("PERSON", "P-O2")]) == {}


def test_only_a_final_transition_written_is_told_once_and_a_stale_one_is_not(hub: LocalHub) -> None:
    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests.outcomes import FinalTransition

    class Told(list[FinalTransition]):
        """Told of each final transition as syncrequests/outcomes.CcbOutcomes is, each queued at once."""

        enabled = True

        def event_id(self, transition: FinalTransition) -> str:
            return f"{transition.syncRequestId}#{transition.status.value}#{transition.at.isoformat()}"

        def __call__(self, transitions: Sequence[FinalTransition]) -> list[FinalTransition]:
            self.extend(transitions)
            return list(transitions)

    # Given the flow's store told of its final transitions, and two requests SENT
    told = Told()
    with function_environment(hub.function(MONITOR).environment):
        from utilhub.syncrequests.wiring import store_for

        base = store_for(FLOW)
        store = SyncRequestStore(base._table, FLOW.name, shards=base._shards, retention_days=90, timeouts=base.timeouts, outcomes=told)
        submit(hub, person("SR-T1", entity_id="P-T1"))
        submit(hub, person("SR-T2", entity_id="P-T2"))
        requests = pending(store)
        assert store.claim_many([requests["SR-T1"], requests["SR-T2"]]) == [1, 1]
        assert told == []  # claims are not final
        sent_1, sent_2 = store.get("SR-T1"), store.get("SR-T2")
        assert sent_1 is not None
        assert sent_2 is not None

        # When one is acknowledged, the same acknowledgement applied again (stale), and the other times out
        store.acknowledge(sent_1, positive=True, reason="stored by MDM")
        with pytest.raises(StaleTransition):
            store.acknowledge(sent_1, positive=True, reason="stored by MDM")
        store.time_out(sent_2, "no acknowledgement from MDM")
        # And the timed-out one is completed by a late positive acknowledgement
        timed_out = store.get("SR-T2")
        assert timed_out is not None
        store.complete_after_timeout(timed_out, "stored by MDM (after the time-out)")
        # And, each outcome queued, no request is left owing one (nothing for the monitor to tell again)
        items = [base._table.get_item(Key={"pk": f"{FLOW.name}#REQ#{i}"}, ConsistentRead=True)["Item"] for i in ("SR-T1", "SR-T2")]
        assert [("outcomeOwed" in item, "gsi1pk" in item) for item in items] == [(False, False), (False, False)]
        assert [store.tell_owed(shard, datetime.now(UTC) + timedelta(days=1), 100) for shard in store.shards] == [0] * len(store.shards)
    wiring.reset()

    # Then each written final transition was told once, in the order written, as the history records it
    assert [(t.syncRequestId, t.status, t.reason) for t in told] == [
        ("SR-T1", SyncStatus.SYNCHRONIZED, "stored by MDM"),
        ("SR-T2", SyncStatus.ERROR, "no acknowledgement from MDM"),
        ("SR-T2", SyncStatus.SYNCHRONIZED, "stored by MDM (after the time-out)"),
    ]
    assert all((t.entityType, t.entityId) == ("PERSON", f"P-{t.syncRequestId[3:]}") for t in told)
    history = hub.call_api("GET", "/meter-data/sync-requests/SR-T2", claims=CLAIMS).json()["history"]
    assert [datetime.fromisoformat(h["at"].replace("Z", "+00:00")) for h in history[-2:]] == [t.at for t in told[1:]]


def test_a_write_that_failed_otherwise_than_refused_leaves_nothing_a_later_write_tells(
    hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ReadTimeoutError

    from utilhub.packs.meter_data.sync import FLOW
    from utilhub.syncrequests import store as store_module
    from utilhub.syncrequests.outcomes import FinalTransition

    class Told(list[FinalTransition]):
        enabled = True

        def event_id(self, transition: FinalTransition) -> str:
            return f"{transition.syncRequestId}#{transition.status.value}#{transition.at.isoformat()}"

        def __call__(self, transitions: Sequence[FinalTransition]) -> list[FinalTransition]:
            self.extend(transitions)
            return list(transitions)

    # Given two requests SENT, and every object the store builds taking the address of the last one freed
    # (CPython hands a freed object's address to the next one: whatever is keyed by id() outlives its object)
    monkeypatch.setattr(store_module, "id", lambda _anything: 1, raising=False)
    told = Told()
    with function_environment(hub.function(MONITOR).environment):
        from utilhub.syncrequests.wiring import store_for

        base = store_for(FLOW)
        store = SyncRequestStore(base._table, FLOW.name, shards=base._shards, retention_days=90, timeouts=base.timeouts, outcomes=told)
        submit(hub, person("SR-U1", entity_id="P-U1"))
        submit(hub, person("SR-U2", entity_id="P-U2"))
        requests = pending(store)
        assert store.claim_many([requests["SR-U1"], requests["SR-U2"]]) == [1, 1]
        sent_1, sent_2 = store.get("SR-U1"), store.get("SR-U2")
        assert sent_1 is not None
        assert sent_2 is not None

        # When the time-out of the first is not written (DynamoDB does not answer in time)
        def no_answer(**_kwargs: object) -> None:
            raise ReadTimeoutError(endpoint_url="http://dynamodb")

        with monkeypatch.context() as patched:
            patched.setattr(store._client, "transact_write_items", no_answer)
            with pytest.raises(ReadTimeoutError):
                store.time_out(sent_1, "no acknowledgement from MDM")
        # And the second is sent again, a transition that is not final
        store.requeue(sent_2, "no acknowledgement from MDM yet")
        still_sent = store.get("SR-U1")
    wiring.reset()

    # Then CCB was told nothing: the first request's ERROR was never written
    assert still_sent is not None
    assert still_sent.status is SyncStatus.SENT
    assert told == []


def test_an_acknowledgements_release_reads_the_entitys_open_requests_not_the_one_it_made_final(
    hub: LocalHub, store: SyncRequestStore
) -> None:
    # Given a person's change claimed and then acknowledged, and a newer change of the person waiting behind it
    submit(hub, person("SR-R1", entity_id="P-R"))
    submit(hub, person("SR-R2", entity_id="P-R", changed="2026-11-20T10:00:00Z"))
    assert store.claim_many([pending(store)["SR-R1"]]) == [1]
    sent = store.get("SR-R1")
    assert sent is not None
    store.acknowledge(sent, positive=True, reason="acknowledged by MDM")
    read: list[str] = []

    def note_keys(params: dict[str, Any], **_: Any) -> None:
        # the keys as the table resource gives them: {"pk": "<flow's request prefix><id>"}
        read.extend(str(key["pk"]).split("#")[-1] for request in params["RequestItems"].values() for key in request["Keys"])

    store._client.meta.events.register("provide-client-params.dynamodb.BatchGetItem", note_keys)
    try:
        # When the acknowledgement's release looks for the entity's next change (given the request as it was read)
        found = store.open_pending([sent])
    finally:
        store._client.meta.events.unregister("provide-client-params.dynamodb.BatchGetItem", note_keys)

    # Then it finds the newer change, and reads only the open one: the acknowledged request is final
    assert [r.sync_request_id for r in found] == ["SR-R2"]
    assert read == ["SR-R2"]


class ItemsRead:
    """What the store's calls read, item by item: the index entries a Query evaluates (DynamoDB bills a query by what
    it reads) and the items BatchGetItem returns."""

    def __init__(self, store: SyncRequestStore) -> None:
        self.count = 0
        self._events = store._client.meta.events
        self._events.register("after-call.dynamodb.Query", self._on_query, unique_id="test-open-read-query")
        self._events.register("after-call.dynamodb.BatchGetItem", self._on_batch_get, unique_id="test-open-read-get")

    def _on_query(self, parsed: dict[str, Any], **_: Any) -> None:
        self.count += int(parsed.get("ScannedCount", 0))

    def _on_batch_get(self, parsed: dict[str, Any], **_: Any) -> None:
        self.count += sum(len(items) for items in parsed.get("Responses", {}).values())

    def close(self) -> None:
        self._events.unregister("after-call.dynamodb.Query", unique_id="test-open-read-query")
        self._events.unregister("after-call.dynamodb.BatchGetItem", unique_id="test-open-read-get")


def test_a_release_reads_a_bounded_number_of_open_requests_however_many_share_its_key(hub: LocalHub, store: SyncRequestStore) -> None:
    from utilhub.syncrequests.store import OPEN_READ_LIMIT

    # Given one person with 3 x OPEN_READ_LIMIT changes open (one in flight, acknowledged, the others PENDING behind it)
    k = 3 * OPEN_READ_LIMIT
    for n in range(k):
        submit(hub, person(f"SR-K{n:03}", entity_id="P-K", name=f"v{n}", changed=f"2026-11-20T09:{n // 60:02}:{n % 60:02}Z"))
    assert store.claim_many([pending(store)["SR-K000"]]) == [1]
    sent = store.get("SR-K000")
    assert sent is not None
    store.acknowledge(sent, positive=True, reason="acknowledged by MDM")
    read = ItemsRead(store)
    try:
        # When the acknowledgement's release looks for the person's next change
        found = store.open_pending([sent])
    finally:
        read.close()

    # Then it reads at most OPEN_READ_LIMIT + 1 index entries, not the k - 1 open ones (k releases would read O(k^2)),
    # and, not holding every open request of the key, plans none: the monitor's sweep sends the oldest
    assert read.count <= OPEN_READ_LIMIT + 1, read.count
    assert found == []


def test_a_release_under_a_key_with_few_open_requests_reads_them_all_and_finds_the_oldest(hub: LocalHub, store: SyncRequestStore) -> None:
    from utilhub.syncrequests.store import OPEN_READ_LIMIT

    # Given one person with OPEN_READ_LIMIT changes open behind the one just acknowledged
    for n in range(OPEN_READ_LIMIT + 1):
        submit(hub, person(f"SR-F{n:03}", entity_id="P-F", name=f"v{n}", changed=f"2026-11-20T09:00:{n:02}Z"))
    assert store.claim_many([pending(store)["SR-F000"]]) == [1]
    sent = store.get("SR-F000")
    assert sent is not None
    store.acknowledge(sent, positive=True, reason="acknowledged by MDM")

    # When the acknowledgement's release looks for the person's next change
    found = store.open_pending([sent])

    # Then it holds every open change of the person, the oldest among them
    assert sorted(r.sync_request_id for r in found) == [f"SR-F{n:03}" for n in range(1, OPEN_READ_LIMIT + 1)]


def test_a_request_stored_whose_answer_was_lost_is_created_by_its_caller(hub: LocalHub, store: SyncRequestStore) -> None:
    from utilhub.syncrequests.model import SyncRequestIn

    # Given the intake's PutItem applied but its answer lost (a read timeout under load): the SDK sends it again, and
    # DynamoDB refuses the retry for the item its first attempt wrote
    request = SyncRequestIn.model_validate(person("SR-LOST-1", entity_id="P-LOST-1"))
    with answer_lost_once(store._table.meta.client, "PutItem", lambda put: put["Item"]["pk"]["S"].endswith("SR-LOST-1")) as retried:
        # When the request is stored
        stored, created = store.create(request, "corr-lost-1")

    # Then it is this intake's own: created (so received in the journal, counted and released), not a repeat
    assert len(retried) == 1
    assert created is True
    assert stored.status is SyncStatus.PENDING
    assert store.get("SR-LOST-1").status is SyncStatus.PENDING  # type: ignore[union-attr]


def test_a_transition_applied_whose_answer_was_lost_is_not_taken_for_someone_elses(hub: LocalHub, store: SyncRequestStore) -> None:
    # Given a PENDING request, and the UpdateItem of its transition applied but its answer lost: the SDK's retry is
    # refused, the request being DISCARDED already (by this very write)
    submit(hub, person("SR-LOST-2", entity_id="P-LOST-2"))
    request = pending(store)["SR-LOST-2"]
    with answer_lost_once(store._table.meta.client, "UpdateItem", lambda update: update["Key"]["pk"]["S"].endswith("SR-LOST-2")) as retried:
        # When the monitor discards it
        store.discard(request, "superseded by a later image")

    # Then the transition stands as this caller's (no StaleTransition: a resubmission would have answered 409, a
    # time-out's requeue would have sent no message for its new attempt), and the request is DISCARDED
    assert len(retried) == 1
    assert store.get("SR-LOST-2").status is SyncStatus.DISCARDED  # type: ignore[union-attr]


def test_a_claim_transaction_applied_whose_answer_was_lost_is_answered_as_applied(hub: LocalHub, store: SyncRequestStore) -> None:
    # Given a PENDING request, and the TransactWriteItems of its claim applied but its answer lost: the SDK sends it
    # again with the same ClientRequestToken (botocore fills one in before the first attempt), which DynamoDB answers
    # as applied (the local runtime as DynamoDB does), so a transaction needs no mark of its own
    submit(hub, person("SR-LOST-3", entity_id="P-LOST-3"))
    request = pending(store)["SR-LOST-3"]
    with answer_lost_once(store._table.meta.client, "TransactWriteItems", lambda _: True) as retried:
        # When the monitor claims it
        attempts = store.claim_many([request])

    # Then the claim is this caller's, sent once with one token
    assert len(retried) == 1
    assert retried[0]["ClientRequestToken"]
    assert attempts == [1]
    assert store.get("SR-LOST-3").status is SyncStatus.SENT  # type: ignore[union-attr]
