"""CU-01 and CU-02: Siebel Energy is the customer master; CCB gets customers through orders only.

- :meth:`CustomerSync.synchronize_order` (CU-01): each distinct billing account on the order's lines
  becomes, or updates, one CCB customer, within the route's time budget. A customer the hub has not
  linked yet is looked up at CCB by its Siebel id before it is created, so a create whose answer or
  cross-reference was lost is never made twice. Links imported at the cutover win: the imported customer is
  updated (never a second one made), and an order whose customer CCB finds under other ids is refused (409).
- :meth:`CustomerSync.accept_update` (CU-02 intake): an update for a synchronized customer is queued
  (FIFO, one message group per customer); one for a customer never synchronized (a prospect) is
  ignored with the reason, and nothing is sent. A customer Oracle's packs synchronized before the
  cutover is one whose Siebel account the cross-references link to a CCB person and account
  (imported from their ``XREF_DATA``, ``POST /ops/cross-references:import``): synchronized too.
- :meth:`CustomerSync.apply_update` (CU-02 delivery): applies only the parts Siebel changed later than
  what CCB already has, so an older update arriving late never overwrites a newer one.
- :func:`end_overdue_synchronizations` (a schedule): a customer an order began to
  synchronize and never recorded waits no longer than the bound (setting
  ``customer_synchronizing_wait_seconds``); then it is a prospect again, counted
  (``CustomerSynchronizationsExpired``, alarmed), and its updates queued meanwhile end in the queue's DLQ.

Both are journaled (docs/operations.md): a CU-01 order under its order id (``SYNCHRONIZING`` from Siebel, each call to
CCB, each customer's action, then ``SYNCHRONIZED`` or ``ERROR`` with the reason); a CU-02 update under
``<siebelAccountId>/<updateId>`` (``QUEUED`` when accepted, each try, then ``APPLIED``, ``UNCHANGED`` or ``STALE``:
``updates.py``). Neither has a resubmission route: Siebel sends the order again; a CU-02 update the queue gave up
on is redriven from its dead-letter queue.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from utilhub.packs.customer.ccb import CcbCustomer, CcbCustomerChange, CcbCustomerClient, CcbCustomerIn
from utilhub.packs.customer.mapping import CCB, SIEBEL, to_ccb, translator
from utilhub.packs.customer.model import COMPONENTS, AccountUpdateIn, BillingAccount, CustomerOutcome, SiebelOrderIn
from utilhub.packs.customer.store import ConcurrentChange, CustomerState, CustomerStore, timestamp
from utilhub.platform import journal, problems
from utilhub.platform.budget import TimeBudget
from utilhub.platform.observability import MetricUnit, correlation_id, logger, metrics
from utilhub.platform.reasons import loggable
from utilhub.platform.settings import get_settings
from utilhub.platform.xref import CrossReferenceStore, SystemId

# the entity types a customer links between its Siebel and CCB ids (cross-references)
LINKED_TYPES = ("PERSON", "ACCOUNT")

# the journal's points and the pack's own states of their transactions (platform/journal.py)
ORDER_POINT, UPDATE_POINT = "CU-01", "CU-02"
SYNCHRONIZING, SYNCHRONIZED, ERROR, QUEUED = "SYNCHRONIZING", "SYNCHRONIZED", "ERROR", "QUEUED"


def update_key(siebel_id: str, update_id: str) -> str:
    """A CU-02 update's id in the journal (ids joined by ``/``, as the operations API reads them)."""
    return f"{siebel_id}/{update_id}"


def failure_reason(exc: BaseException) -> str:
    """What the journal keeps of a failure: the caller's answer (a problem: ``502 Bad gateway: ...``), or the
    failure's kind and, when the hub's own, its message (never a value it was given)."""
    reason = loggable(exc)
    if isinstance(exc, problems.Problem):
        return reason
    kind = type(exc).__name__
    return reason if reason.startswith(kind) else f"{kind}: {reason}"


# The CCB parts each Siebel part maps to (see mapping.to_ccb).
CCB_PARTS: dict[str, tuple[str, ...]] = {
    "name": ("person",),
    "address": ("addresses",),
    "contact": ("contacts",),
    "billingProfile": ("account", "billRoute"),
    "statementProfile": ("statement",),
}


Action = Literal["CREATED", "UPDATED", "UNCHANGED"]


class UpdateMessage(BaseModel):
    """What CU-02 queues for delivery: the Siebel parts as sent, and when Siebel changed them."""

    siebelAccountId: str
    updateId: str
    changedAt: datetime
    parts: dict[str, Any]
    correlationId: str | None = None


def distinct_billing_accounts(order: SiebelOrderIn) -> dict[str, tuple[int, BillingAccount]]:
    """Each billing account once, with the first line that carries it; two lines giving one account
    different data is a 422 (which line should win cannot be guessed)."""
    found: dict[str, tuple[int, BillingAccount]] = {}
    errors = []
    for n, line in enumerate(order.lines):
        account = line.billingAccount
        if account.id not in found:
            found[account.id] = (n, account)
        elif found[account.id][1] != account:
            first = found[account.id][0]
            errors.append(
                problems.FieldError(
                    f"#/lines/{n}/billingAccount",
                    f"billing account {account.id} differs from the one on line {order.lines[first].lineId} (#/lines/{first})",
                )
            )
    if errors:
        raise problems.invalid("Lines carry the same billing account with different data.", errors)
    return found


class ImportedCustomerMismatch(LookupError):
    """CCB contradicts the cross-references imported for a customer of Oracle's packs (the person holds another account,
    or CCB has no such person): final, as no retry changes it; the update is refused and kept for an operator."""


def imported_mismatch(siebel_id: str, imported: tuple[str, str], held: CcbCustomer | None) -> str | None:
    """Why the customer CCB holds under the imported person (``held``, None when CCB has no such customer person) is
    not the one the imported cross-references link ``siebel_id`` to; None when it is (the person holds the account)."""
    person_id, account_id = imported
    if held is not None and held.accountId == account_id:
        return None
    holds = "no customer" if held is None else f"account {held.accountId}"
    return (
        f"Siebel account {siebel_id} is linked to CCB person {person_id} and account {account_id} (imported), "
        f"but CCB person {person_id} has {holds}: not synchronized."
    )


def _parts(image: CcbCustomerIn | CcbCustomerChange) -> dict[str, Any]:
    return image.model_dump(mode="json", exclude={"siebelAccountId"})


def customer_images(order: SiebelOrderIn) -> tuple[dict[str, CcbCustomerIn], dict[str, list[str]]]:
    """Each distinct billing account of the order as the CCB customer it becomes, and the Siebel parts it carries; a 422
    naming every code value without a mapping (and two lines giving one account different data)."""
    accounts = distinct_billing_accounts(order)
    tr = translator()
    images: dict[str, CcbCustomerIn] = {}
    carried: dict[str, list[str]] = {}
    for siebel_id, (n, account) in accounts.items():
        change = to_ccb({part: getattr(account, part) for part in COMPONENTS}, f"#/lines/{n}/billingAccount", tr)
        if change is None:  # a code value has no mapping: tr names it, the other accounts are still checked
            continue
        # an account without a contact has none in CCB either; one without a statement profile keeps CCB's
        images[siebel_id] = CcbCustomerIn.model_validate(
            {**_parts(change), "contacts": _parts(change)["contacts"] or [], "siebelAccountId": siebel_id}
        )
        carried[siebel_id] = [part for part in COMPONENTS if part != "statementProfile" or account.statementProfile is not None]
    tr.check()
    return images, carried


def update_message(siebel_id: str, update: AccountUpdateIn, parts: dict[str, Any]) -> tuple[str, str]:
    """What CU-02 queues for an accepted update (:class:`UpdateMessage`'s JSON) and its FIFO deduplication id."""
    message = UpdateMessage(
        siebelAccountId=siebel_id,
        updateId=update.updateId,
        changedAt=update.changedAt,
        parts=update.model_dump(mode="json", include=set(parts)),
        correlationId=correlation_id(),
    )
    return message.model_dump_json(), hashlib.sha256(f"{siebel_id}#{update.updateId}".encode()).hexdigest()


def change_of(message: UpdateMessage) -> tuple[CcbCustomerChange, dict[str, str]]:
    """A queued update as CCB's change of the parts it carries, and when Siebel changed each of them."""
    update = AccountUpdateIn.model_validate({**message.parts, "updateId": message.updateId, "changedAt": message.changedAt})
    tr = translator()
    change = to_ccb({part: getattr(update, part) for part in message.parts}, "#", tr)
    tr.check()
    if change is None:  # tr.check() has raised for every unmapped value
        raise AssertionError("a change without unmapped values was not built")
    return change, dict.fromkeys(message.parts, timestamp(message.changedAt))


def merged(
    state: CustomerState, changed_at: dict[str, str], offer: CcbCustomerIn | CcbCustomerChange
) -> tuple[CcbCustomerIn, CcbCustomerChange | None, dict[str, str]] | None:
    """The customer's image with the Siebel parts changed later than what CCB has (None when none is: stale), what CCB
    must be given for it (None: it has it already) and when each part of the new image was changed."""
    if state.image is None or not state.ccbPersonId:
        raise LookupError(f"customer {state.siebelAccountId} has no synchronized record")
    newer = [part for part, at in changed_at.items() if at > state.changedAt.get(part, "")]
    if not newer:
        return None
    offered, wanted = _parts(offer), _parts(state.image)
    for part in newer:
        for ccb_part in CCB_PARTS[part]:
            if offered.get(ccb_part) is not None:
                wanted[ccb_part] = offered[ccb_part]
    new_image = CcbCustomerIn.model_validate({**wanted, "siebelAccountId": state.siebelAccountId})
    return new_image, difference(state.image, new_image), {**state.changedAt, **{p: changed_at[p] for p in newer}}


def difference(have: CcbCustomerIn, want: CcbCustomerIn) -> CcbCustomerChange | None:
    """The parts of ``want`` that differ from ``have`` (a part ``want`` leaves out is kept), or None."""
    current, wanted = _parts(have), _parts(want)
    diff = {part: value for part, value in wanted.items() if value is not None and value != current.get(part)}
    return CcbCustomerChange.model_validate(diff) if diff else None


class CustomerSync:
    def __init__(self, ccb: CcbCustomerClient, store: CustomerStore, xref: CrossReferenceStore, sqs: Any, queue_url: str | None) -> None:
        self._ccb = ccb
        self._store = store
        self._xref = xref
        self._sqs = sqs
        self._queue_url = queue_url

    # ------------------------------------------------------------------ CU-01
    def synchronize_order(self, order: SiebelOrderIn) -> dict[str, Any]:
        images, carried = customer_images(order)
        # the order's image is Siebel's as of submission (the hub's clock when Siebel does not say)
        at = timestamp(order.submittedAt or datetime.now(UTC))
        budget = TimeBudget()
        journal.changed(ORDER_POINT, order.orderId, SYNCHRONIZING, step="intake", system="Siebel")
        outcomes: list[dict[str, Any]] = []
        try:
            with journal.working_on(ORDER_POINT, order.orderId):
                for i, image in images.items():
                    outcomes.append(self._synchronize(image, dict.fromkeys(carried[i], at), budget).model_dump())
                    journal.hop(ORDER_POINT, order.orderId, step=f"customer {i}", system="CCB", outcome=outcomes[-1]["action"])
        except Exception as exc:
            journal.changed(ORDER_POINT, order.orderId, ERROR, reason=failure_reason(exc), step="failed")
            raise
        actions = ", ".join(f"{o['siebelAccountId']} {o['action']}" for o in outcomes)
        journal.changed(ORDER_POINT, order.orderId, SYNCHRONIZED, reason=actions, step="synchronized")
        for action in ("CREATED", "UPDATED", "UNCHANGED"):
            if count := sum(1 for o in outcomes if o["action"] == action):
                metrics.add_metric(name=f"Customers{action.title()}", unit=MetricUnit.Count, value=count)
        return {"orderId": order.orderId, "customers": outcomes}

    def _synchronize(self, image: CcbCustomerIn, changed_at: dict[str, str], budget: TimeBudget) -> CustomerOutcome:
        siebel_id = image.siebelAccountId
        state = self._store.get(siebel_id) or CustomerState(siebelAccountId=siebel_id)
        if state.synchronized and state.ccbPersonId and state.ccbAccountId:
            applied = self._apply(state, changed_at, image, budget)
            action: Action = "UPDATED" if applied == "applied" else "UNCHANGED"
            return CustomerOutcome(siebelAccountId=siebel_id, ccbPersonId=state.ccbPersonId, ccbAccountId=state.ccbAccountId, action=action)
        # linked by the cutover's import (Oracle's XREF_DATA): those links win over what CCB finds by the Siebel id,
        # and an order whose customer CCB finds under other ids, or whose imported person CCB holds with another
        # account, is refused before anything is marked or sent
        imported = self.imported_ids(siebel_id)
        customer = self._ccb.find(budget, siebel_id) if imported is not None else None
        if imported is not None and customer is not None and (customer.personId, customer.accountId) != imported:
            raise problems.conflict(
                f"Siebel account {siebel_id} is linked to CCB person {imported[0]} and account {imported[1]} (imported), "
                f"but CCB finds person {customer.personId} and account {customer.accountId} under it: not synchronized."
            )
        # the imported customer, which CCB does not know by its Siebel id: its person read first
        if (
            imported is not None
            and customer is None
            and (mismatch := imported_mismatch(siebel_id, imported, self._ccb.read(budget, imported[0])))
        ):
            raise problems.conflict(mismatch)
        # updates Siebel sends from now on are queued (delivered once this ends), not ignored as a prospect's
        self._store.mark_synchronizing(siebel_id)
        if imported is None:
            # not linked yet: CCB may have it, made by an attempt whose answer or link was lost, or by another
            # order at the same moment (CCB then refuses the create as a duplicate and the client finds it)
            customer = self._ccb.find(budget, siebel_id)
        created = False
        if customer is None and imported is not None:  # the imported customer, its account checked above
            customer = self._ccb.change(budget, imported[0], CcbCustomerChange.model_validate(_parts(image)))
            action = "UPDATED"
        else:
            if customer is None:
                customer, created = self._ccb.create(budget, image)
            action = "CREATED"
            if not created and (diff := difference(customer, image)):
                customer = self._ccb.change(budget, customer.personId, diff)
                action = "UPDATED"
        person, account = LINKED_TYPES
        self._xref.link(person, SystemId(SIEBEL, siebel_id), SystemId(CCB, customer.personId))
        self._xref.link(account, SystemId(SIEBEL, siebel_id), SystemId(CCB, customer.accountId))
        update = {"ccbPersonId": customer.personId, "ccbAccountId": customer.accountId, "image": image, "changedAt": changed_at}
        self._save(state.model_copy(update=update), budget)
        logger.info("customer synchronized", extra={"siebelAccountId": siebel_id, "action": action})
        return CustomerOutcome(siebelAccountId=siebel_id, ccbPersonId=customer.personId, ccbAccountId=customer.accountId, action=action)

    def _save(self, state: CustomerState, budget: TimeBudget) -> None:
        """Record ``state``. When another writer recorded first, CCB may have taken this writer's change
        after the winner's: CCB is given the winner's recorded image again before the caller retries."""
        try:
            self._store.save(state)
        except ConcurrentChange:
            winner = self._store.get(state.siebelAccountId)
            if winner is not None and winner.synchronized and winner.image is not None and winner.ccbPersonId:
                self._ccb.change(budget, winner.ccbPersonId, CcbCustomerChange.model_validate(_parts(winner.image)))
            raise

    def _apply(self, state: CustomerState, changed_at: dict[str, str], offer: CcbCustomerIn | CcbCustomerChange, budget: TimeBudget) -> str:
        """Give CCB the Siebel parts changed later than what it has, and record the new image:
        ``stale`` (nothing newer), ``unchanged`` (newer, but CCB already has it) or ``applied``."""
        if state.image is None or not state.ccbPersonId:
            raise LookupError(f"customer {state.siebelAccountId} has no synchronized record")
        found = merged(state, changed_at, offer)
        if found is None:
            return "stale"
        new_image, diff, times = found
        if diff is not None:
            self._ccb.change(budget, state.ccbPersonId, diff)
        self._save(state.model_copy(update={"image": new_image, "changedAt": times}), budget)
        return "unchanged" if diff is None else "applied"

    # ------------------------------------------------------------------ CU-02
    def accept_update(self, siebel_id: str, update: AccountUpdateIn) -> tuple[int, dict[str, Any]]:
        parts = {part: getattr(update, part) for part in COMPONENTS if getattr(update, part) is not None}
        tr = translator()
        to_ccb(parts, "#", tr)  # refuses unmapped code values before anything is queued
        tr.check()
        if not self._store.takes_updates(siebel_id) and self.imported_ids(siebel_id) is None and self._store.note_prospect(siebel_id):
            metrics.add_metric(name="CustomerUpdatesIgnored", unit=MetricUnit.Count, value=1)
            reason = (
                f"Siebel account {siebel_id} has not been synchronized to CCB: customers reach CCB through order "
                "processing only, so a prospect's updates are not sent."
            )
            return 200, {"siebelAccountId": siebel_id, "updateId": update.updateId, "status": "IGNORED", "reason": reason}
        body, deduplication_id = update_message(siebel_id, update, parts)
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageGroupId=siebel_id,  # one customer's updates are delivered one at a time, in order
            MessageDeduplicationId=deduplication_id,
        )
        metrics.add_metric(name="CustomerUpdatesAccepted", unit=MetricUnit.Count, value=1)
        journal.changed(UPDATE_POINT, update_key(siebel_id, update.updateId), QUEUED, step="intake", system="Siebel")
        return 202, {"siebelAccountId": siebel_id, "updateId": update.updateId, "status": "ACCEPTED"}

    def apply_update(self, message: UpdateMessage) -> str:
        """Deliver one queued update: ``applied``, ``unchanged`` or ``stale`` (for logs and tests)."""
        siebel_id = message.siebelAccountId
        state = self._store.get(siebel_id)
        # accepted while its order was being synchronized: redelivered until that ends
        if state is not None and not state.synchronized and state.synchronizing:
            raise LookupError(f"customer {siebel_id} is still being synchronized by an order")
        # a customer Oracle's packs synchronized, known from the cross-references imported at the cutover
        imported = None if state is not None and state.synchronized else self.imported_ids(siebel_id)
        # accepted only for a synchronized customer, so its record is missing: kept (DLQ) for an operator
        if state is None and imported is None:
            raise LookupError(f"customer {siebel_id} has no synchronized record")
        # its order was given up (end_overdue_synchronizations): kept (DLQ) until Siebel sends it again
        if imported is None and state is not None and not state.synchronized:
            raise LookupError(f"customer {siebel_id} was never synchronized: the order making it did not complete")
        change, changed_at = change_of(message)
        if imported is not None:
            outcome = self._apply_first(state or CustomerState(siebelAccountId=siebel_id), imported, changed_at, change)
        else:
            outcome = self._apply(state or CustomerState(siebelAccountId=siebel_id), changed_at, change, TimeBudget())
        metrics.add_metric(name=f"CustomerUpdates{outcome.title()}", unit=MetricUnit.Count, value=1)
        logger.info("customer update", extra={"siebelAccountId": message.siebelAccountId, "updateId": message.updateId, "outcome": outcome})
        return outcome

    def imported_ids(self, siebel_id: str) -> tuple[str, str] | None:
        """The CCB person and account the cross-references link the Siebel account to, when both are linked (a
        customer Oracle's packs synchronized, imported at the cutover; CU-01 links them too); else None."""
        person, account = LINKED_TYPES
        person_id = self._xref.lookup(person, SystemId(SIEBEL, siebel_id), CCB)
        account_id = self._xref.lookup(account, SystemId(SIEBEL, siebel_id), CCB) if person_id else None
        return (person_id, account_id) if person_id and account_id else None

    def _apply_first(self, state: CustomerState, ids: tuple[str, str], changed_at: dict[str, str], change: CcbCustomerChange) -> str:
        """The first update of a customer the hub knows from the cross-references only: the hub has no image of it,
        so CCB is given the parts Siebel changed as they are, and the customer CCB answers is recorded as the image
        the next updates are compared with. ``applied``. The imported person is read first: CCB holding it with
        another account, or not at all, is refused (:class:`ImportedCustomerMismatch`) before anything is written;
        CCB's answer to the change is checked the same way (a person moved to another account in CCB between the read
        and the change), and such a customer is refused unrecorded. The delivery journals a refusal ``REFUSED`` at
        once and keeps the update in the queue's DLQ for an operator (``updates.py``): no retry would change it."""
        person_id, account_id = ids
        budget = TimeBudget()
        # read first, as CU-01 does: a person CCB holds with another account (or not at all) is never changed
        if mismatch := imported_mismatch(state.siebelAccountId, ids, self._ccb.read(budget, person_id)):
            raise ImportedCustomerMismatch(mismatch)
        customer = self._ccb.change(budget, person_id, change)
        # and CCB's answer to the change: a person moved to another account in CCB since the read is not recorded as this
        # customer (CCB took the change: the operator sees it refused, with both accounts named)
        if mismatch := imported_mismatch(state.siebelAccountId, ids, customer):
            raise ImportedCustomerMismatch(f"CCB answered the change: {mismatch}")
        image = CcbCustomerIn.model_validate(customer.model_dump(exclude={"personId", "accountId"}))
        update = {"ccbPersonId": person_id, "ccbAccountId": account_id, "image": image, "changedAt": changed_at}
        self._save(state.model_copy(update=update), budget)
        logger.info("imported customer recorded", extra={"siebelAccountId": state.siebelAccountId})
        return "applied"

    # ------------------------------------------------------------------ query
    def status(self, siebel_id: str) -> dict[str, Any]:
        state = self._store.get(siebel_id)
        imported = None if state is not None and state.synchronized else self.imported_ids(siebel_id)
        if imported is not None:  # imported at the cutover, not updated since
            person_id, account_id = imported
            return {"siebelAccountId": siebel_id, "synchronized": True, "ccbPersonId": person_id, "ccbAccountId": account_id}
        if state is None:
            raise problems.not_found(f"No Siebel account {siebel_id} is known to the hub.")
        return {
            "siebelAccountId": siebel_id,
            "synchronized": state.synchronized,
            "ccbPersonId": state.ccbPersonId,
            "ccbAccountId": state.ccbAccountId,
        }


def end_overdue_synchronizations(store: CustomerStore, now: datetime | None = None) -> dict[str, int]:
    """Customers an order began to synchronize longer ago than the bound and never recorded (the order failed
    and was not posted again, or its invocation was killed): no longer synchronizing, counted and alarmed."""
    bound = get_settings().customer.customer_synchronizing_wait_seconds
    ended = 0
    for siebel_id, since in store.synchronizing_before((now or datetime.now(UTC)) - timedelta(seconds=bound)):
        if store.end_synchronizing(siebel_id, since):
            logger.warning(
                "customer synchronization given up: its order did not complete; Siebel sends the order again",
                extra={"siebelAccountId": siebel_id, "synchronizingSince": since, "boundSeconds": bound},
            )
            ended += 1
    if ended:
        metrics.add_metric(name="CustomerSynchronizationsExpired", unit=MetricUnit.Count, value=ended)
    return {"expired": ended}
