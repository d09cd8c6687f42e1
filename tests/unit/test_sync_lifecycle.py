"""Rules of the sync request lifecycle (utilhub.syncrequests.lifecycle): which status
changes are allowed, and the monitor's plan for one entity at one target."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from utilhub.syncrequests.lifecycle import (
    SORTABLE_TIME,
    AckTimeouts,
    Blocked,
    Discard,
    EntityState,
    InvalidTransition,
    PendingRequest,
    Send,
    blocking_parent,
    blocking_unsent_parent,
    check_transition,
    dependants_released,
    plan_entity,
    sortable_time,
)
from utilhub.syncrequests.model import SyncStatus

S = SyncStatus

# The lifecycle of docs/sync-requests.md, written out independently of the module's table.
EXPECTED_ALLOWED = {
    (S.PENDING, S.DISCARDED),
    (S.PENDING, S.SENT),
    (S.SENT, S.SYNCHRONIZED),
    (S.SENT, S.ERROR),
    (S.SENT, S.PENDING),  # the monitor could not queue what it claimed
    (S.ERROR, S.PENDING),  # resubmission
    (S.PENDING, S.WAITING),  # its parents are not at the target yet
    (S.WAITING, S.WAITING),  # still waiting, for another parent or another reason
    (S.WAITING, S.SENT),  # its parents are there: claimed straight from WAITING
    (S.SENT, S.SENT),  # no acknowledgement in time: queued again as a new attempt
    (S.ERROR, S.SYNCHRONIZED),  # timed out, then the target's positive acknowledgement came
}
ALL_PAIRS = list(itertools.product(SyncStatus, SyncStatus))

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def pending(sync_request_id: str, changed_at: datetime, data_hash: str) -> PendingRequest:
    """A PENDING request as the store lists it: ordered by changedAt, then id."""
    return PendingRequest(
        sync_request_id=sync_request_id,
        entity_type="PERSON",
        entity_id="P-1",
        changed_at=changed_at,
        data_hash=data_hash,
        order_key=f"{sortable_time(changed_at)}#{sync_request_id}",
        attempt=0,
        correlation_id=f"cid-{sync_request_id}",
    )


# --- check_transition ----------------------------------------------------------------------


@pytest.mark.parametrize(("current", "wanted"), [p for p in ALL_PAIRS if p in EXPECTED_ALLOWED], ids=lambda s: s.value)
def test_allowed_transition_passes(current: SyncStatus, wanted: SyncStatus) -> None:
    # Given a status change the lifecycle allows
    # When it is checked, Then nothing is raised
    check_transition(current, wanted)


@pytest.mark.parametrize(("current", "wanted"), [p for p in ALL_PAIRS if p not in EXPECTED_ALLOWED], ids=lambda s: s.value)
def test_refused_transition_raises_naming_both_statuses(current: SyncStatus, wanted: SyncStatus) -> None:
    # Given a status change the lifecycle does not allow (terminal states, skips, self-loops)
    # When it is checked
    with pytest.raises(InvalidTransition) as caught:
        check_transition(current, wanted)

    # Then the error says which change was refused
    assert caught.value.current is current
    assert caught.value.wanted is wanted
    assert current.value in str(caught.value)
    assert wanted.value in str(caught.value)


# --- plan_entity ---------------------------------------------------------------------------


def test_nothing_is_decided_while_a_request_is_in_flight() -> None:
    # Given a request already sent and not acknowledged, and newer ones waiting
    state = EntityState(in_flight="sr-0", last_sent_hash="h0", last_sent_changed_at=T0)
    waiting = [pending("sr-1", T0 + timedelta(minutes=1), "h0"), pending("sr-2", T0 + timedelta(minutes=2), "h2")]

    # When the monitor plans, Then it neither sends nor discards
    assert plan_entity(waiting, state) == []


def test_nothing_pending_means_no_decision() -> None:
    # Given an idle entity, When the monitor plans, Then there is nothing to do
    assert plan_entity([], EntityState()) == []


def test_first_request_of_an_entity_is_sent() -> None:
    # Given an entity never sent to the target
    request = pending("sr-1", T0, "h1")

    # When the monitor plans, Then it sends the request
    assert plan_entity([request], EntityState()) == [Send(request)]


def test_oldest_request_is_sent_first() -> None:
    # Given three changed requests listed out of order
    newest = pending("sr-3", T0 + timedelta(minutes=3), "h3")
    oldest = pending("sr-1", T0 + timedelta(minutes=1), "h1")
    middle = pending("sr-2", T0 + timedelta(minutes=2), "h2")

    # When the monitor plans
    decisions = plan_entity([newest, oldest, middle], EntityState(last_sent_hash="h0", last_sent_changed_at=T0))

    # Then only the oldest is sent; the others wait for its acknowledgement
    assert decisions == [Send(oldest)]


def test_at_most_one_request_is_sent_per_plan() -> None:
    # Given several changed requests for a never-sent entity
    requests = [pending(f"sr-{i}", T0 + timedelta(minutes=i), f"h{i}") for i in range(5)]

    # When the monitor plans
    decisions = plan_entity(requests, EntityState())

    # Then exactly one Send and nothing else
    assert [type(d) for d in decisions] == [Send]


def test_request_with_the_data_last_sent_is_discarded_as_unchanged() -> None:
    # Given a newer request whose data hash equals what was last synchronized
    request = pending("sr-2", T0 + timedelta(minutes=5), "h-same")
    state = EntityState(last_sent_hash="h-same", last_sent_changed_at=T0)

    # When the monitor plans
    [decision] = plan_entity([request], state)

    # Then it is discarded with the reason recorded
    assert isinstance(decision, Discard)
    assert decision.request == request
    assert decision.reason == "unchanged since the last image synchronized"


def test_a_change_at_exactly_the_last_image_time_is_sent_not_discarded_as_older() -> None:
    # Given a changed request stamped at exactly the time of the image the target holds
    request = pending("sr-2", T0, "h-other")
    state = EntityState(last_sent_hash="h0", last_sent_changed_at=T0)

    # When the monitor plans
    decisions = plan_entity([request], state)

    # Then it is not older than that image: it is sent
    assert decisions == [Send(request)]


def test_request_older_than_the_last_sent_image_is_discarded() -> None:
    # Given a changed request that is older than the image already synchronized
    request = pending("sr-1", T0 - timedelta(seconds=1), "h-other")
    state = EntityState(last_sent_hash="h0", last_sent_changed_at=T0)

    # When the monitor plans
    [decision] = plan_entity([request], state)

    # Then it is discarded: the target never sees an older image after a newer one
    assert isinstance(decision, Discard)
    assert decision.request == request
    assert "older" in decision.reason
    assert sortable_time(T0) in decision.reason


def test_older_is_judged_in_time_not_in_local_clock_time() -> None:
    # Given last sent at 08:00Z and a request stamped 09:30+02:00 (07:30Z): later on the clock, earlier in time
    request = pending("sr-1", datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2))), "h-other")
    state = EntityState(last_sent_hash="h0", last_sent_changed_at=T0)

    # When the monitor plans, Then it is discarded as older
    assert [type(d) for d in plan_entity([request], state)] == [Discard]


def test_changed_request_after_an_unchanged_one_is_sent() -> None:
    # Given an older unchanged request followed by a newer changed one
    unchanged = pending("sr-1", T0 + timedelta(minutes=1), "h0")
    changed = pending("sr-2", T0 + timedelta(minutes=2), "h2")
    state = EntityState(last_sent_hash="h0", last_sent_changed_at=T0)

    # When the monitor plans
    decisions = plan_entity([changed, unchanged], state)

    # Then the unchanged one is discarded and the changed one sent, in that order
    assert [type(d) for d in decisions] == [Discard, Send]
    assert decisions[0].request == unchanged
    assert decisions[1] == Send(changed)


# --- sortable_time -------------------------------------------------------------------------


def test_sortable_time_is_utc_fixed_width_text() -> None:
    # Given a time in a +02:00 zone without microseconds
    moment = datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))

    # When it is made sortable, Then it is the same instant in UTC, with microseconds and Z
    assert sortable_time(moment) == "2023-12-31T23:00:00.000000Z"


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 59, 59, 1, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
        datetime(2026, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14))),
    ],
)
def test_sortable_time_is_the_form_its_readers_parse(moment: datetime) -> None:
    # Given a time, with or without microseconds, in any zone
    # When it is made sortable
    text = sortable_time(moment)

    # Then it is SORTABLE_TIME's form (as strftime writes it), read back as the same instant
    assert text == moment.astimezone(UTC).strftime(SORTABLE_TIME)
    assert datetime.strptime(text, SORTABLE_TIME).replace(tzinfo=UTC) == moment


def test_sortable_time_is_utc_whatever_the_machines_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a machine whose local time zone is not UTC (a developer's laptop, not Lambda)
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        # When a time is made sortable
        found = sortable_time(datetime(2024, 7, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    finally:
        monkeypatch.undo()
        time.tzset()

    # Then it is written in UTC, never in the machine's zone
    assert found == "2024-07-01T10:00:00.000000Z"


def test_a_pending_request_entered_its_status_at_the_transition_time_of_its_index_key() -> None:
    # Given a request changed at 08:00 that entered its status (WAITING, say) at 08:05:30.25 (its status index key)
    moved = datetime(2024, 5, 1, 8, 5, 30, 250000, tzinfo=UTC)
    request = PendingRequest(
        sync_request_id="sr-1",
        entity_type="PERSON",
        entity_id="P-1",
        changed_at=T0,
        data_hash="h1",
        order_key=f"{sortable_time(T0)}#{sortable_time(moved)}#sr-1",
        attempt=0,
        correlation_id="cid",
        status=SyncStatus.WAITING,
    )

    # When the monitor asks since when it is in its status, Then it is the transition time, in UTC, not the change's
    assert request.in_status_since == moved
    assert request.in_status_since.utcoffset() == timedelta(0)


def test_sortable_time_sorts_as_time_across_time_zones() -> None:
    # Given instants whose local clock readings sort differently from time
    moments = [
        datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),  # 2023-12-31T23:00Z
        datetime(2024, 1, 1, 0, 30, tzinfo=UTC),
        datetime(2023, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))),  # 2024-01-01T01:00Z
        datetime(2023, 12, 31, 23, 0, 0, 1, tzinfo=UTC),
    ]
    assert sorted(m.isoformat() for m in moments) != [m.isoformat() for m in sorted(moments)]

    # When they are sorted by their sortable text
    by_text = sorted(moments, key=sortable_time)

    # Then the order is the order in time
    assert by_text == sorted(moments)


def test_an_unchanged_image_moves_the_entitys_image_time_so_an_older_one_is_discarded() -> None:
    # Given the target holds image A as of 09:01, an unchanged A as of 09:03 and a changed B as of 09:02 arrive together
    t1, t2, t3 = (datetime(2026, 11, 20, 9, m, tzinfo=UTC) for m in (1, 2, 3))
    state = EntityState(last_sent_hash="A", last_sent_changed_at=t1)
    unchanged, older = pending("Y", t3, "A"), pending("Z", t2, "B")
    # When the monitor plans them (Z sorts first: it is older)
    decisions = plan_entity([unchanged, older], state)
    # Then Z is sent (it is newer than what the target holds) and Y, the same image as the target's, is not
    assert [type(d).__name__ for d in decisions] == ["Send"]
    # and once Y has been discarded (the image time moved to 09:03), a late Z is older: discarded, never sent
    after = EntityState(last_sent_hash="A", last_sent_changed_at=t3)
    assert isinstance(plan_entity([older], after)[0], Discard)


def test_the_unchanged_discard_says_it_advances_the_image_time() -> None:
    t1, t3 = datetime(2026, 11, 20, 9, 1, tzinfo=UTC), datetime(2026, 11, 20, 9, 3, tzinfo=UTC)
    decision = plan_entity([pending("Y", t3, "A")], EntityState(last_sent_hash="A", last_sent_changed_at=t1))[0]
    assert isinstance(decision, Discard)
    assert decision.advances


# --- waiting for parents -------------------------------------------------------------------

SP = ("SERVICE_POINT", "SP-1")
PERSON = ("PERSON", "P-1")


def test_nothing_is_decided_while_a_request_of_the_entity_waits_for_its_parents() -> None:
    # Given an entity whose earlier request is WAITING for a parent
    state = EntityState(waiting="sr-0")

    # When its later requests are planned, Then none overtakes the waiting one
    assert plan_entity([pending("sr-1", T0, "h1")], state) == []


def test_a_parent_the_target_never_acknowledged_blocks_naming_it_and_the_target() -> None:
    blocked = blocking_parent([SP], {}, "MDM")
    assert blocked == Blocked(SP, "waiting for SERVICE_POINT SP-1: not yet synchronized to MDM")


def test_a_parent_being_sent_for_the_first_time_blocks() -> None:
    blocked = blocking_parent([SP], {SP: EntityState(in_flight="sr-sp")}, "MDM")
    assert blocked is not None
    assert blocked.reason == "waiting for SERVICE_POINT SP-1: being sent to MDM"


def test_a_parent_the_target_holds_does_not_block_even_while_a_newer_image_is_sent() -> None:
    states = {SP: EntityState(last_sent_hash="h", in_flight="sr-sp-2"), PERSON: EntityState(last_sent_hash="p")}
    assert blocking_parent([SP, PERSON], states, "MDM") is None


def test_a_parent_in_error_blocks_with_its_request_and_reason() -> None:
    states = {SP: EntityState(last_sent_hash="h", last_error_id="sr-sp-2", last_error_reason="premise unknown")}
    blocked = blocking_parent([SP], states, "MDM")
    assert blocked == Blocked(SP, "waiting for SERVICE_POINT SP-1, whose sync request sr-sp-2 is in ERROR: premise unknown")


def test_a_parent_in_error_without_a_reason_blocks_naming_its_request() -> None:
    states = {SP: EntityState(last_sent_hash="h", last_error_id="sr-sp-2")}
    blocked = blocking_parent([SP], states, "MDM")
    assert blocked == Blocked(SP, "waiting for SERVICE_POINT SP-1, whose sync request sr-sp-2 is in ERROR")


def test_the_first_blocking_parent_in_order_is_named() -> None:
    states = {SP: EntityState(last_sent_hash="h")}
    blocked = blocking_parent([SP, PERSON, ("PERSON", "P-2")], states, "MDM")
    assert blocked is not None
    assert blocked.parent == PERSON


def test_no_parents_never_block() -> None:
    assert blocking_parent([], {}, "MDM") is None


# --- AckTimeouts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "visibility", "receives", "first"),
    [
        (900, 360, 5, 2160),  # the template's queue outlasts the configured timeout: its redelivery wins
        (14_400, 1800, 5, 14_400),  # a timeout longer than the redelivery is kept
        (900, 0, 0, 900),  # a flow without a queue (settings unset): the configured timeout
    ],
)
def test_the_first_window_never_ends_while_the_message_can_still_be_delivered(
    configured: int, visibility: int, receives: int, first: int
) -> None:
    timeouts = AckTimeouts(timedelta(seconds=configured), visibility=timedelta(seconds=visibility), receives=receives)
    assert timeouts.first == timedelta(seconds=first)


def test_each_requeued_attempt_waits_twice_as_long_and_the_last_time_out_is_not_requeued() -> None:
    timeouts = AckTimeouts(timedelta(seconds=900), visibility=timedelta(seconds=360), receives=5, requeues=3)
    assert [timeouts.window(n).total_seconds() for n in range(5)] == [2160, 4320, 8640, 17280, 17280]
    assert [timeouts.requeue(n) for n in range(5)] == [True, True, True, False, False]
    assert not AckTimeouts(timedelta(seconds=900), requeues=0).requeue(0)


# ---------------------------------------------------------------- a target that imports parents first (DACS)


def test_for_a_parents_first_target_a_parent_in_flight_or_never_seen_does_not_block() -> None:
    # Given a person being sent (this run's contacts file, or an earlier one), and a service point the engine never saw
    # (loaded by the initial synchronization)
    states = {PERSON: EntityState(in_flight="sr-p")}
    # Then neither holds the agreement back, even with a newer change of the person not yet sent
    assert blocking_unsent_parent([PERSON, SP], states, {PERSON: "sr-p-2"}, "DACS") is None


def test_for_a_parents_first_target_a_parent_with_a_change_not_yet_sent_blocks_naming_it() -> None:
    blocked = blocking_unsent_parent([SP, PERSON], {}, {PERSON: "sr-p"}, "DACS")
    assert blocked == Blocked(PERSON, "waiting for PERSON P-1: its change sr-p is not yet sent to DACS")


def test_for_a_parents_first_target_a_parent_in_error_blocks_even_while_sent_again() -> None:
    states = {PERSON: EntityState(in_flight="sr-p-2", last_error_id="sr-p", last_error_reason="contact refused")}
    blocked = blocking_unsent_parent([PERSON], states, {}, "DACS")
    assert blocked == Blocked(PERSON, "waiting for PERSON P-1, whose sync request sr-p is in ERROR: contact refused")


# --- dependants_released -------------------------------------------------------------------


def test_an_acknowledged_parent_the_target_holds_releases_the_requests_waiting_for_it() -> None:
    # Given a service point just synchronized with two agreements waiting for it, and a person synchronized with none
    sp, person = ("SERVICE_POINT", "SP-1"), ("PERSON", "P-1")
    states = {
        sp: EntityState(last_sent_hash="h", last_sent_changed_at=T0, dependants=frozenset({"sa-1", "sa-2"})),
        person: EntityState(last_sent_hash="h", last_sent_changed_at=T0),
    }

    # When the release asks what the acknowledgements let go, Then the agreements waiting for the service point
    assert dependants_released(states, "MDM") == {sp: frozenset({"sa-1", "sa-2"})}


@pytest.mark.parametrize(
    "state",
    [
        EntityState(last_error_id="sr-7", last_error_reason="refused", dependants=frozenset({"sa-1"})),  # its last request in ERROR
        EntityState(last_sent_hash="h", last_error_id="sr-8", dependants=frozenset({"sa-1"})),  # held before, in ERROR now
        EntityState(in_flight="sr-9", dependants=frozenset({"sa-1"})),  # never yet at the target
    ],
    ids=["in-error", "in-error-after-an-image", "not-yet-at-the-target"],
)
def test_a_parent_the_target_does_not_hold_releases_nothing(state: EntityState) -> None:
    # Given a parent made final without being (or staying) at the target, When the release asks, Then nothing goes:
    # its dependants would only wait again (the monitor records their new reason)
    assert dependants_released({("SERVICE_POINT", "SP-1"): state}, "MDM") == {}
