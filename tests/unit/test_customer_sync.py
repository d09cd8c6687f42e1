"""The customer pack's rules of writing (utilhub.packs.customer.customers): part by part, newest
wins, and a writer that loses the race to record puts CCB back to what the winner recorded. Pure: the
store and the CCB client are stood in for by recording doubles of the pack's own classes."""

from __future__ import annotations

from typing import Any

import pytest

from utilhub.packs.customer.ccb import CcbCustomerChange, CcbCustomerIn
from utilhub.packs.customer.customers import CustomerSync
from utilhub.packs.customer.store import ConcurrentChange, CustomerState
from utilhub.platform.budget import TimeBudget

T1, T2, T3 = "2026-11-27T10:00:00.000000Z", "2026-11-27T11:00:00.000000Z", "2026-11-27T12:00:00.000000Z"


def image(name: str, payment: str = "DD") -> CcbCustomerIn:
    return CcbCustomerIn.model_validate(
        {
            "siebelAccountId": "A1",
            "person": {"name": name},
            "account": {"paymentMethod": payment, "billingProfileId": "BP-1"},
            "addresses": [{"addressType": "BILL", "address1": "1 Main St", "city": "Springfield", "country": "USA"}],
            "contacts": [],
            "billRoute": {"billRouteType": "POSTAL"},
        }
    )


def state(name: str, at: str, version: int = 3) -> CustomerState:
    return CustomerState(
        siebelAccountId="A1",
        synchronized=True,
        ccbPersonId="P1",
        ccbAccountId="C1",
        image=image(name),
        changedAt=dict.fromkeys(("name", "address", "contact", "billingProfile"), at),
        version=version,
    )


class Store:
    """Holds one customer; ``save`` loses to ``winner`` once when one is set."""

    def __init__(self, current: CustomerState, winner: CustomerState | None = None) -> None:
        self.current = current
        self.winner = winner
        self.saved: list[CustomerState] = []

    def get(self, siebel_account_id: str) -> CustomerState:
        return self.current

    def save(self, new: CustomerState) -> CustomerState:
        if self.winner is not None:
            self.current, self.winner = self.winner, None
            raise ConcurrentChange(new.siebelAccountId)
        self.saved.append(new)
        self.current = new.model_copy(update={"version": new.version + 1})
        return self.current


class Ccb:
    def __init__(self) -> None:
        self.changes: list[dict[str, Any]] = []

    def change(self, budget: TimeBudget, person_id: str, change: CcbCustomerChange) -> None:
        self.changes.append(change.model_dump(exclude_none=True))


def sync(store: Store, ccb: Ccb) -> CustomerSync:
    return CustomerSync(ccb, store, xref=None, sqs=None, queue_url=None)  # type: ignore[arg-type]


def test_only_parts_siebel_changed_later_reach_ccb() -> None:
    # Given CCB has the name and billing profile as of T2
    store, ccb = Store(state("Ada Lovelace", T2)), Ccb()
    offer = image("Ada King", payment="CC")

    # When an offer changes both, the name as of T3 and the billing profile as of T1
    outcome = sync(store, ccb)._apply(store.current, {"name": T3, "billingProfile": T1}, offer, TimeBudget(10))

    # Then only the newer name goes to CCB and is recorded with its time; the older billing profile is not applied
    assert outcome == "applied"
    assert ccb.changes == [{"person": {"name": "Ada King"}}]
    assert store.saved[0].image is not None
    assert store.saved[0].image.account.paymentMethod == "DD"
    assert store.saved[0].changedAt["name"] == T3
    assert store.saved[0].changedAt["billingProfile"] == T2


def test_an_offer_no_newer_than_what_ccb_has_is_stale_and_changes_nothing() -> None:
    # Given CCB has everything as of T2
    store, ccb = Store(state("Ada Lovelace", T2)), Ccb()

    # When an older offer comes
    outcome = sync(store, ccb)._apply(store.current, {"name": T1}, image("Ada Byron"), TimeBudget(10))

    # Then nothing is sent or recorded
    assert outcome == "stale"
    assert ccb.changes == []
    assert store.saved == []


def test_a_writer_that_loses_the_race_puts_ccb_back_to_what_the_winner_recorded() -> None:
    # Given another writer records the name as of T3 while this one applies the name as of T2
    store, ccb = Store(state("Ada Lovelace", T1), winner=state("Ada Countess", T3, version=4)), Ccb()

    # When this writer applies its change and tries to record it
    with pytest.raises(ConcurrentChange):
        sync(store, ccb)._apply(store.current, {"name": T2}, image("Ada King"), TimeBudget(10))

    # Then CCB got this writer's change, then the winner's whole image again, so it ends as recorded
    assert ccb.changes[0] == {"person": {"name": "Ada King"}}
    assert ccb.changes[1]["person"] == {"name": "Ada Countess"}
    assert set(ccb.changes[1]) == {"person", "account", "addresses", "contacts", "billRoute"}


def test_the_journal_keeps_a_failures_answer_or_kind_never_a_value_it_was_given() -> None:
    from utilhub.packs.customer.customers import failure_reason, update_key
    from utilhub.platform import problems

    assert failure_reason(problems.Problem(502, "Bad gateway", "CCB answered 503")) == "502 Bad gateway: CCB answered 503"
    assert failure_reason(LookupError("customer A1 has no synchronized record")) == "LookupError"
    assert failure_reason(ValueError("Jane")) == "ValueError"
    assert update_key("A1", "U-1") == "A1/U-1"
