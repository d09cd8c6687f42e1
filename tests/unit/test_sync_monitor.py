"""The sync monitor's sweep with a pluggable dispatch step (utilhub.syncrequests.monitor): the monitor pages,
plans and claims; what it claimed goes to the dispatch step it was given (the delivery queue for the MDM
flows, the run's extract files for DACS). Pure: an in-memory store, no AWS."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from utilhub.packs.dacs.incremental import plan_newest
from utilhub.syncrequests.lifecycle import AckTimeouts, EntityState, PendingRequest, sortable_time
from utilhub.syncrequests.model import SyncRequest, SyncStatus
from utilhub.syncrequests.monitor import RELEASE_MARGIN_MS, MonitorReport, SyncMonitor, per_flow

Claims = Sequence[tuple[PendingRequest, int]]


def pending(request_id: str, entity_id: str, minute: int) -> PendingRequest:
    changed = datetime(2026, 11, 20, 9, minute, tzinfo=UTC)
    return PendingRequest(request_id, "PERSON", entity_id, changed, f"h-{request_id}", f"{sortable_time(changed)}#{request_id}", 0, "c")


class Store:
    """What the monitor asks of the sync request store, in memory: one page list per shard and status."""

    timeouts = AckTimeouts(timedelta(minutes=5))
    tells_ccb = False

    def __init__(self, pages: dict[int, list[list[PendingRequest]]]) -> None:
        self._pages = pages
        self.owed: dict[int, int] = {}  # shard -> outcomes owed to CCB it holds (tell_owed)
        self.asked_for_owed: list[tuple[int, datetime]] = []
        self.claimed: list[tuple[list[str], str | None]] = []
        self.discarded: list[str] = []
        self.asked_for_unqueued = 0
        self.forgotten: list[str] = []
        self.fail_shard: int | None = None

    @property
    def shards(self) -> range:
        return range(len(self._pages))

    def pending_page(
        self, shard: int, limit: int, start: dict[str, Any] | None = None, *, status: SyncStatus = SyncStatus.PENDING
    ) -> tuple[list[PendingRequest], dict[str, Any] | None]:
        if shard == self.fail_shard:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")
        if status is not SyncStatus.PENDING:
            return [], None
        index = start["page"] if start else 0
        pages = self._pages[shard]
        return (pages[index] if pages else []), ({"page": index + 1} if index + 1 < len(pages) else None)

    def entity_states(self, entities: Iterable[tuple[str, str]]) -> dict[tuple[str, str], EntityState]:
        return {entity: EntityState() for entity in entities}

    def claim_many(self, requests: Sequence[PendingRequest], *, record: str | None = None) -> list[int | None]:
        self.claimed.append(([r.sync_request_id for r in requests], record))
        return [r.attempt + 1 for r in requests]

    def discard(self, request: PendingRequest, reason: str, *, advances: bool = False) -> None:
        self.discarded.append(request.sync_request_id)

    def sent_due(self, shard: int, now: datetime, limit: int) -> list[tuple[str, int]]:
        return []

    def unqueued_claims(self, before: datetime, limit: int) -> list[Any]:
        self.asked_for_unqueued += 1
        return []

    def forget_claims(self, records: list[str]) -> None:
        self.forgotten += records

    def tell_owed(self, shard: int, written_before: datetime, limit: int) -> int:
        self.asked_for_owed.append((shard, written_before))
        if shard == self.fail_shard:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")
        return self.owed.pop(shard, 0)


class Recorded:
    """A dispatch step that keeps what it is given, one call per page."""

    stopped_reason = "claimed by a run that stopped"

    def __init__(self, records_claims: bool) -> None:
        self.records_claims = records_claims
        self.calls: list[list[tuple[str, int]]] = []
        self.records: list[str] = []  # told dispatched, in order

    def dispatch(self, claims: Claims, report: MonitorReport) -> None:
        self.calls.append([(request.sync_request_id, attempt) for request, attempt in claims])

    def record_id(self) -> str:
        return f"record-{len(self.calls)}"

    def dispatched(self, records: Sequence[str]) -> None:
        self.records += records

    def stopped_claims(self, record: str, claims: Claims) -> list[tuple[PendingRequest, int]]:
        return list(claims)


def monitor(store: Store, dispatch: Recorded, **options: Any) -> SyncMonitor:
    return SyncMonitor(store, dispatch, "test", page_size=2, target="TARGET", **options)  # type: ignore[arg-type]


def test_each_page_claimed_goes_to_the_dispatch_step_with_its_attempts_and_its_claims_record_is_forgotten() -> None:
    # Given one shard with two pages of persons
    store = Store({0: [[pending("A", "P-1", 1), pending("B", "P-2", 2)], [pending("C", "P-3", 3)]]})
    dispatch = Recorded(records_claims=True)

    # When the monitor runs
    report = monitor(store, dispatch).run()

    # Then each page's claims reached the dispatch step once, page by page, with their new attempts
    assert dispatch.calls == [[("A", 1), ("B", 1)], [("C", 1)]]
    assert (report.pages, report.queued) == (2, 0)  # queueing is the queue's dispatch step, not the sweep's
    # And each page's claims were recorded under an id of the dispatch step's, which was told once they were
    # dispatched (it forgets the record then, or once they reached the target); a stopped run's records were looked for
    assert [record for _, record in store.claimed] == dispatch.records == ["record-0", "record-1"]
    assert store.asked_for_unqueued == 1


def test_a_dispatch_step_without_claims_records_claims_without_one_and_looks_for_none() -> None:
    store = Store({0: [[pending("A", "P-1", 1)]]})
    dispatch = Recorded(records_claims=False)

    monitor(store, dispatch).run()

    assert dispatch.calls == [[("A", 1)]]
    assert store.claimed == [(["A"], None)]
    assert (dispatch.records, store.asked_for_unqueued) == ([], 0)


def test_the_plan_is_pluggable_newest_image_first_counting_what_it_superseded() -> None:
    # Given three changes of one person on one page
    store = Store({0: [[pending("A", "P-1", 1), pending("B", "P-1", 2), pending("C", "P-1", 3)]]})
    dispatch = Recorded(records_claims=False)

    # When the monitor plans with DACS's rule (the newest image)
    report = monitor(store, dispatch, plan=plan_newest).run()

    # Then the newest is claimed and dispatched, the older ones discarded as superseded
    assert dispatch.calls == [[("C", 1)]]
    assert store.discarded == ["A", "B"]
    assert (report.superseded, report.discarded) == (2, 0)

    # And with the engine's rule (oldest first, one in flight) the oldest goes, the others wait
    store = Store({0: [[pending("A", "P-1", 1), pending("B", "P-1", 2), pending("C", "P-1", 3)]]})
    dispatch = Recorded(records_claims=False)
    report = monitor(store, dispatch).run()
    assert dispatch.calls == [[("A", 1)]]
    assert (report.waiting, report.superseded) == (2, 0)


def test_a_shard_that_cannot_be_read_waits_for_the_next_run_unless_the_run_is_one_unit() -> None:
    # Given two shards, the second throttled beyond the SDK's retries
    pages = {0: [[pending("A", "P-1", 1)]], 1: [[pending("B", "P-2", 2)]]}
    store = Store(pages)
    store.fail_shard = 1
    dispatch = Recorded(records_claims=False)

    # When the monitor runs, then the first shard is dispatched and the second left for the next run
    report = monitor(store, dispatch).run()
    assert (dispatch.calls, report.failed_shards) == ([[("A", 1)]], 1)

    # And a run whose dispatch step is one unit (DACS's files) ends at the failure instead
    store = Store(pages)
    store.fail_shard = 1
    with pytest.raises(ClientError):
        monitor(store, Recorded(records_claims=False), tolerate_shard_failures=False).run()


def test_a_flow_telling_ccb_has_its_owed_outcomes_queued_again_shard_by_shard_after_the_grace() -> None:
    # Given a flow that tells CCB, two outcomes owed in shard 0 and shard 1 throttled beyond the SDK's retries
    store = Store({0: [[pending("A", "P-1", 1)]], 1: [[pending("B", "P-2", 2)]]})
    store.tells_ccb = True
    store.owed = {0: 2}
    store.fail_shard = 1
    dispatch = Recorded(records_claims=False)

    # When the monitor runs
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    report = monitor(store, dispatch, clock=lambda: now).run()

    # Then each shard was asked for what was written before the grace, shard 0's two were queued again,
    # and shard 1 is left for the next run while the run goes on
    assert store.asked_for_owed == [(0, now - timedelta(minutes=2)), (1, now - timedelta(minutes=2))]
    assert report.outcomes_retold == 2
    assert dispatch.calls == [[("A", 1)]]

    # And a flow that does not tell CCB asks for none
    quiet = Store({0: []})
    monitor(quiet, Recorded(records_claims=False)).run()
    assert quiet.asked_for_owed == []


def test_the_budget_ends_the_run_between_pages() -> None:
    # Given four pages and a budget spent after two clock readings past the start
    store = Store({0: [[pending(f"R{n}", f"P-{n}", n)] for n in range(4)]})
    dispatch = Recorded(records_claims=False)
    readings = iter([0.0, 1.0, 2.0, 10.0, 10.0])

    # When the monitor runs
    report = monitor(store, dispatch, budget=timedelta(seconds=5), monotonic=lambda: next(readings)).run()

    # Then it dispatched the pages it read before the budget was spent, and says it ran out of time
    assert dispatch.calls == [[("R0", 1)], [("R1", 1)]]
    assert report.out_of_time == 1


def _per_flow_lines(output: str) -> list[tuple[str, str, float, str]]:
    found = []
    for line in output.splitlines():
        blob = json.loads(line)
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "utilhub"
        assert directive["Dimensions"] == [["flow"]]
        found += [(m["Name"], blob["flow"], value, m["Unit"]) for m in directive["Metrics"] for value in blob[m["Name"]]]
    return found


def test_a_runs_waiting_and_timed_out_requests_are_counted_per_flow_for_the_packs_dashboard(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a run's report: requests put waiting, timed out to ERROR, its oldest wait, and counts the dashboard does not show
    report = MonitorReport(waiting=2, timed_out=1, oldest_waiting_seconds=30, pages=3, queued=5)
    capsys.readouterr()

    # When its per-flow metrics are written
    per_flow("meter-data", report)

    # Then the three the pack's dashboard reads are written with the flow (the pack) as their one dimension
    assert _per_flow_lines(capsys.readouterr().out) == [
        ("SyncRequestsWaiting", "meter-data", 2.0, "Count"),
        ("SyncRequestsTimedOut", "meter-data", 1.0, "Count"),
        ("SyncRequestsOldestWaitingSeconds", "meter-data", 30.0, "Seconds"),
    ]
    # and a run with none of them writes none
    per_flow("meter-data", MonitorReport(pages=1))
    assert _per_flow_lines(capsys.readouterr().out) == []


class ParentsStore(Store):
    """The store with parents and WAITING: requests held are kept in their shard's WAITING page."""

    def __init__(self, pages: dict[int, list[list[PendingRequest]]], parents: dict[str, list[tuple[str, str]]]) -> None:
        super().__init__(pages)
        self._parents = parents
        self.in_flight: set[tuple[str, str]] = set()
        self.waiting: dict[int, list[PendingRequest]] = {shard: [] for shard in pages}
        self.held: list[str] = []

    def pending_page(
        self, shard: int, limit: int, start: dict[str, Any] | None = None, *, status: SyncStatus = SyncStatus.PENDING
    ) -> tuple[list[PendingRequest], dict[str, Any] | None]:
        if status is SyncStatus.WAITING:
            return list(self.waiting[shard]), None
        return super().pending_page(shard, limit, start, status=status)

    def parents_of_requests(self, ids: Iterable[str]) -> dict[str, tuple[list[tuple[str, str]], str | None]]:
        return {i: (self._parents[i], None) for i in ids if i in self._parents}

    def entity_states(self, entities: Iterable[tuple[str, str]]) -> dict[tuple[str, str], EntityState]:
        return {entity: EntityState(in_flight="x" if entity in self.in_flight else None) for entity in entities}

    def open_requests(self, entities: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        unsent = {(r.entity_type, r.entity_id): r.sync_request_id for pages in self._pages.values() for page in pages for r in page}
        return {e: unsent[e] for e in entities if e in unsent and e not in self.in_flight}

    def claim_many(self, requests: Sequence[PendingRequest], *, record: str | None = None) -> list[int | None]:
        self.in_flight.update((r.entity_type, r.entity_id) for r in requests)
        for page in self.waiting.values():
            page[:] = [w for w in page if w not in requests]
        return super().claim_many(requests, record=record)

    def hold(self, request: PendingRequest, blocked: Any) -> None:
        self.held.append(f"{request.sync_request_id}: {blocked.reason}")
        shard = next(shard for shard, pages in self._pages.items() if any(request in page for page in pages))
        self.waiting[shard].append(PendingRequest(**{**request.__dict__, "status": SyncStatus.WAITING}))

    def still_waiting(self, request: PendingRequest, blocked: Any) -> None:
        self.held.append(f"{request.sync_request_id} still: {blocked.reason}")


def agreement_of(request_id: str, minute: int) -> PendingRequest:
    changed = datetime(2026, 11, 20, 9, minute, tzinfo=UTC)
    return PendingRequest(request_id, "SERVICE_AGREEMENT", "SA-1", changed, "h", f"{sortable_time(changed)}#{request_id}", 0, "c")


def test_a_parents_first_target_gets_a_child_held_for_a_parent_another_shard_sent_in_the_same_run() -> None:
    # Given an agreement on shard 0 whose person's change is PENDING on shard 1 (swept after it)
    store = ParentsStore({0: [[agreement_of("sa", 1)]], 1: [[pending("p", "P-1", 2)]]}, {"sa": [("PERSON", "P-1")]})
    dispatch = Recorded(records_claims=False)

    # When a run whose target imports parents first sweeps them
    report = monitor(store, dispatch, ordered_types=frozenset({"SERVICE_AGREEMENT"}), parents_ready_once_sent=True).run()

    # Then the agreement was held for the unsent person, the person sent, and the agreement released in the same run
    assert store.held == ["sa: waiting for PERSON P-1: its change p is not yet sent to TARGET"]
    assert dispatch.calls == [[("p", 1)], [("sa", 1)]]
    assert (report.held, report.released) == (1, 1)


def test_a_child_and_its_parent_on_one_page_go_together_parent_claimed_first() -> None:
    # Given an agreement and its person's change on the same page, the agreement first
    store = ParentsStore({0: [[agreement_of("sa", 1), pending("p", "P-1", 2)]]}, {"sa": [("PERSON", "P-1")]})
    dispatch = Recorded(records_claims=False)

    # When the run sweeps it
    report = monitor(store, dispatch, ordered_types=frozenset({"SERVICE_AGREEMENT"}), parents_ready_once_sent=True).run()

    # Then the person is claimed first and the agreement, seeing it in flight, with it: nothing held
    assert [ids for ids, _ in store.claimed] == [["p"], ["sa"]]
    assert dispatch.calls == [[("p", 1), ("sa", 1)]]
    assert (report.held, report.released) == (0, 0)


def test_a_waiting_child_released_in_the_same_run_is_not_reported_waiting() -> None:
    # Given an agreement WAITING for ten minutes for its person, whose change is PENDING on a shard swept after it
    waiting_since = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    changed = datetime(2026, 11, 20, 8, 50, tzinfo=UTC)
    agreement = PendingRequest(
        "sa",
        "SERVICE_AGREEMENT",
        "SA-1",
        changed,
        "h",
        f"{sortable_time(changed)}#{sortable_time(waiting_since)}#sa",
        0,
        "c",
        SyncStatus.WAITING,
    )
    store = ParentsStore({0: [[]], 1: [[pending("p", "P-1", 2)]]}, {"sa": [("PERSON", "P-1")]})
    store.waiting[0].append(agreement)
    dispatch = Recorded(records_claims=False)
    run = monitor(store, dispatch, ordered_types=frozenset({"SERVICE_AGREEMENT"}), parents_ready_once_sent=True)

    # When a run sends the person, then releases the agreement
    report = run.at(lambda: waiting_since + timedelta(minutes=10)).run()

    # Then the run reports nothing left waiting: the waiting-too-long alarm reads what still waits, not what went out
    assert dispatch.calls == [[("p", 1)], [("sa", 1)]]
    assert report.released == 1
    assert (report.waiting, report.oldest_waiting_seconds) == (0, 0)


# --- release: what a request made final (or just received) lets go, at once ---------------------------------------


def stored(request_id: str, entity_type: str, entity_id: str) -> SyncRequest:
    """A request as the acknowledgement (or the intake) has it: what the release is given."""
    return SyncRequest(
        flow="test",
        syncRequestId=request_id,
        entityType=entity_type,
        entityId=entity_id,
        changedAt=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        data={},
        dataHash="h",
        requestHash="r",
        status=SyncStatus.SYNCHRONIZED,
        correlationId="c",
        history=[],
    )


class ReleaseStore(Store):
    """The store as the release sees it: each entity's open PENDING requests, its state (with the requests held for it),
    the WAITING requests, their parents; what it noted and took off a parent's dependants."""

    def __init__(
        self,
        pending_of: dict[tuple[str, str], list[PendingRequest]],
        states: dict[tuple[str, str], EntityState],
        waiting: Sequence[PendingRequest] = (),
        parents: dict[str, list[tuple[str, str]]] | None = None,
        reasons: dict[str, str] | None = None,
    ) -> None:
        super().__init__({0: [[]]})
        self.pending_of = pending_of
        self.states = states
        self.waiting_requests = {w.sync_request_id: w for w in waiting}
        self.parents = parents or {}
        self.reasons = reasons or {}  # the reason a WAITING request was last recorded with (default: another)
        self.noted: dict[tuple[str, str], list[str]] = {}
        self.notes_forgotten: dict[tuple[str, str], list[str]] = {}
        self.taken: list[tuple[tuple[str, str], set[str]]] = []
        self.held: list[str] = []
        self.throttle_open_pending = False
        self.open_pending_error: str | None = None  # an AWS error code the read of the entity's changes fails with

    def open_pending(self, requests: Sequence[SyncRequest]) -> list[PendingRequest]:
        if self.throttle_open_pending:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")
        if self.open_pending_error:
            raise ClientError({"Error": {"Code": self.open_pending_error, "Message": "no"}}, "Query")
        return [p for r in requests for p in self.pending_of.get((r.entityType, r.entityId), [])]

    def entity_states(self, entities: Iterable[tuple[str, str]]) -> dict[tuple[str, str], EntityState]:
        return {entity: self.states.get(entity, EntityState()) for entity in entities}

    def take_dependants(self, parent: tuple[str, str], ids: Iterable[str]) -> list[PendingRequest]:
        ids = set(ids)
        self.taken.append((parent, ids))
        if parent in self.states:  # taken off its notes, as the update does
            self.states[parent] = dataclasses.replace(self.states[parent], dependants=self.states[parent].dependants - ids)
        return [self.waiting_requests[i] for i in sorted(ids) if i in self.waiting_requests]

    def note_dependants(self, held: dict[tuple[str, str], list[str]]) -> None:
        self.noted.update(held)

    def forget_dependants(self, sent: dict[tuple[str, str], list[str]]) -> None:
        self.notes_forgotten.update(sent)

    def parents_of_requests(self, ids: Iterable[str]) -> dict[str, tuple[list[tuple[str, str]], str | None]]:
        return {i: (self.parents[i], self.reasons.get(i, "the reason it waited")) for i in ids if i in self.parents}

    def hold(self, request: PendingRequest, blocked: Any) -> None:
        self.held.append(f"{request.sync_request_id}: {blocked.reason}")

    def still_waiting(self, request: PendingRequest, blocked: Any) -> None:
        self.held.append(f"{request.sync_request_id} still: {blocked.reason}")


def waiting_agreement(request_id: str, entity_id: str) -> PendingRequest:
    changed = datetime(2026, 11, 20, 8, 50, tzinfo=UTC)
    order = f"{sortable_time(changed)}#{sortable_time(changed)}#{request_id}"
    return PendingRequest(request_id, "SERVICE_AGREEMENT", entity_id, changed, "h", order, 0, "c", SyncStatus.WAITING)


def test_an_acknowledgement_releases_its_entitys_oldest_change_with_the_sweeps_claim_and_dispatch() -> None:
    # Given a person just synchronized, with two newer changes PENDING behind it
    person = ("PERSON", "P-1")
    store = ReleaseStore({person: [pending("B", "P-1", 3), pending("A", "P-1", 2)]}, {person: EntityState(last_sent_hash="h0")})
    dispatch = Recorded(records_claims=True)

    # When its acknowledgement releases it
    report = monitor(store, dispatch).release([stored("R0", *person)])

    # Then the older change alone is claimed (recorded like a page's claims), dispatched at once and its record forgotten
    assert store.claimed == [(["A"], "record-0")]
    assert dispatch.calls == [[("A", 1)]]
    assert dispatch.records == ["record-0"]
    # and the newer waits behind it: the next acknowledgement releases it
    assert report.waiting == 1


def test_an_entity_still_in_flight_releases_nothing() -> None:
    # Given a request received while its entity has a change in flight (the intake's release)
    person = ("PERSON", "P-1")
    store = ReleaseStore({person: [pending("A", "P-1", 2)]}, {person: EntityState(in_flight="R0")})
    dispatch = Recorded(records_claims=True)

    # When the release plans it, Then nothing is claimed: the acknowledgement of the one in flight will send it
    monitor(store, dispatch).release([stored("A", *person)])
    assert (store.claimed, dispatch.calls) == ([], [])


def test_a_parents_acknowledgement_releases_its_waiting_children_and_notes_one_still_held_on_its_other_parent() -> None:
    # Given a service point just synchronized, with two agreements held WAITING for it; the second also needs a person
    # MDM does not hold yet
    sp, person = ("SERVICE_POINT", "SP-1"), ("PERSON", "P-2")
    store = ReleaseStore(
        {},
        {sp: EntityState(last_sent_hash="h", dependants=frozenset({"sa-1", "sa-2"}))},
        waiting=[waiting_agreement("sa-1", "SA-1"), waiting_agreement("sa-2", "SA-2")],
        parents={"sa-1": [sp], "sa-2": [sp, person]},
    )
    dispatch = Recorded(records_claims=True)

    # When the service point's acknowledgement releases what waited for it
    report = monitor(store, dispatch, ordered_types=frozenset({"SERVICE_AGREEMENT"})).release([stored("sp-req", *sp)])

    # Then the first agreement is claimed and dispatched, released from WAITING
    assert dispatch.calls == [[("sa-1", 1)]]
    assert report.released == 1
    # and the second, now waiting for the person, records why and is noted on the person, whose acknowledgement releases it
    assert store.taken == [(sp, {"sa-1", "sa-2"})]
    assert store.held == ["sa-2 still: waiting for PERSON P-2: not yet synchronized to TARGET"]
    assert store.noted == {person: ["sa-2"]}
    # and the released one, taken off the service point's notes by the release itself, costs no second update
    assert store.notes_forgotten == {}


def test_a_child_taken_off_a_parent_and_still_held_for_the_same_reason_is_noted_again_and_nothing_else() -> None:
    # Given a service point just synchronized with an agreement noted on it that already waits for a person MDM does not
    # hold yet, and says so (noted there by an earlier release that failed to take it off)
    sp, person = ("SERVICE_POINT", "SP-1"), ("PERSON", "P-2")
    reason = "waiting for PERSON P-2: not yet synchronized to TARGET"
    store = ReleaseStore(
        {},
        {sp: EntityState(last_sent_hash="h", dependants=frozenset({"sa-2"}))},
        waiting=[waiting_agreement("sa-2", "SA-2")],
        parents={"sa-2": [sp, person]},
        reasons={"sa-2": reason},
    )
    dispatch = Recorded(records_claims=True)

    # When the service point's acknowledgement releases what was noted on it
    report = monitor(store, dispatch, ordered_types=frozenset({"SERVICE_AGREEMENT"})).release([stored("sp-req", *sp)])

    # Then the agreement is noted on the person, whose acknowledgement releases it, and nothing is written on it: no new
    # history entry, its waiting age kept (the reason it waits did not change)
    assert store.taken == [(sp, {"sa-2"})]
    assert store.noted == {person: ["sa-2"]}
    assert store.held == []
    assert dispatch.calls == []
    assert (report.waiting, report.released) == (1, 0)


def test_a_release_aws_throttles_is_left_to_the_monitor_without_failing_the_acknowledgement() -> None:
    # Given a release whose read of the entity's changes is throttled beyond the SDK's retries
    person = ("PERSON", "P-1")
    store = ReleaseStore({person: [pending("A", "P-1", 2)]}, {person: EntityState()})
    store.throttle_open_pending = True
    dispatch = Recorded(records_claims=True)

    # When the acknowledgement releases it, Then nothing raises and nothing is claimed: the monitor's next run sends it
    report = monitor(store, dispatch).release([stored("R0", *person)])
    assert (store.claimed, dispatch.calls, report.queued) == ([], [], 0)


def test_a_release_that_fails_for_good_is_left_to_the_monitor_and_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    # Given a release whose read of the entity's changes is refused (a grant missing: no retry will change it)
    person = ("PERSON", "P-1")
    store = ReleaseStore({person: [pending("A", "P-1", 2)]}, {person: EntityState()})
    store.open_pending_error = "AccessDeniedException"
    dispatch = Recorded(records_claims=True)

    # When the acknowledgement releases it
    report = monitor(store, dispatch).release([stored("R0", *person)])

    # Then nothing raises (the acknowledgement is written: failing its caller would only have the delivery tried again
    # and the entity's queue group held) and nothing is claimed; the failure is logged as an error, for the operator
    assert (store.claimed, dispatch.calls, report.queued) == ([], [], 0)
    errors = [r for r in caplog.records if r.getMessage() == "release left to the monitor" and r.levelname == "ERROR"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None


def test_a_release_with_too_little_of_its_invocation_left_is_left_to_the_monitor() -> None:
    # Given a person just synchronized with a newer change PENDING behind it
    person = ("PERSON", "P-1")
    store = ReleaseStore({person: [pending("A", "P-1", 2)]}, {person: EntityState(last_sent_hash="h0")})
    dispatch = Recorded(records_claims=True)

    # When its acknowledgement's invocation has less than the release's margin left
    report = monitor(store, dispatch).release([stored("R0", *person)], lambda: RELEASE_MARGIN_MS - 1)

    # Then nothing is claimed nor dispatched (an invocation killed between the two would leave it SENT unqueued): the
    # monitor's next run sends it
    assert (store.claimed, dispatch.calls, report.out_of_time) == ([], [], 1)


def test_a_release_running_short_stops_before_its_next_step_with_what_it_claimed_dispatched() -> None:
    # Given a person just synchronized, with its next change PENDING and an agreement held WAITING for it
    person = ("PERSON", "P-1")
    store = ReleaseStore(
        {person: [pending("A", "P-1", 2)]},
        {person: EntityState(last_sent_hash="h0", dependants=frozenset({"sa-1"}))},
        waiting=[waiting_agreement("sa-1", "SA-1")],
        parents={"sa-1": [person]},
    )
    dispatch = Recorded(records_claims=True)
    # and its invocation with time enough for the plan, not after
    left = iter([RELEASE_MARGIN_MS + 1, RELEASE_MARGIN_MS - 1])

    # When its acknowledgement releases what it lets go
    report = monitor(store, dispatch, ordered_types=frozenset({"SERVICE_AGREEMENT"})).release([stored("R0", *person)], lambda: next(left))

    # Then the next change is claimed and dispatched, and the agreement is left on the person's notes for the monitor
    assert dispatch.calls == [[("A", 1)]]
    assert (store.taken, report.out_of_time) == ([], 1)
