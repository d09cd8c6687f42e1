"""The BRM steps of the OC-01 workflow: each makes sure one thing exists, creating only what does not.

Delta through cross-references (Siebel id <-> BRM poid, per billing system): an object already
linked is reported ``existing`` and BRM is not asked to create it again. Each step runs under an
idempotency key of the order revision and the item, so a step that Step Functions retries after
it succeeded answers its first outcome and changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from utilhub.packs.order_to_cash.brm import BrmBillInfo, BrmBillInfoIn, BrmClient, BrmPayInfo, BrmPayInfoIn
from utilhub.packs.order_to_cash.brm_mapping import brm_account, brm_billinfo, brm_payinfo
from utilhub.packs.order_to_cash.collation import collate
from utilhub.packs.order_to_cash.model import (
    SIEBEL,
    BrmChange,
    BrmObject,
    EnsureAccount,
    EnsureBillingProfile,
    EnsureServiceAccount,
    HierarchyLink,
    TaskKey,
    TaskOutcome,
)
from utilhub.packs.order_to_cash.order_store import OrderStore, masked_everywhere
from utilhub.platform.dvm import domain_value_maps
from utilhub.platform.idempotency import run_once
from utilhub.platform.observability import logger
from utilhub.platform.xref import CrossReferenceStore, SystemId

# what a BRM step links between Siebel's ids and each BRM instance's (cross-references)
LINKED_KINDS: tuple[Literal["account"], Literal["billinfo"], Literal["payinfo"]] = ("account", "billinfo", "payinfo")
BRM_SYSTEM_PREFIX = "BRM:"


class BillToNotFound(LookupError):
    """A step ran before the bill-to account it needs is linked: retried by the workflow."""


def brm_system(billing_system_id: str) -> str:
    """The cross-reference system name of one BRM instance."""
    return BRM_SYSTEM_PREFIX + billing_system_id


class BrmSteps:
    def __init__(self, brm: BrmClient, xref: CrossReferenceStore, orders: OrderStore) -> None:
        self._brm = brm
        self._xref = xref
        self._orders = orders

    def run(self, event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """One step, named by its ids (:class:`TaskKey`): its item is found in the plan of the order kept for it."""
        task = TaskKey.model_validate(event)
        item = collate(self._orders.get(task.orderId, task.revision)).find(task)
        key = f"OC-01#{item.orderKey}#{item.task}#{item.billingSystemId}#{task.sourceId}"
        return run_once(
            key=key,
            # the step as asked, its payment numbers masked: the same step once the revision SUCCEEDED and its numbers
            # were erased (only the last 4 kept) is the same request, and no number goes into the record's hash
            fingerprint=json.dumps(masked_everywhere(item.model_dump(mode="json")), sort_keys=True, separators=(",", ":")),
            work=lambda: self._dispatch(item, self._later_revision(task)).model_dump(),
            lambda_context=lambda_context,
        )

    def _later_revision(self, task: TaskKey) -> int | None:
        """The order's latest revision accepted when it is later than the step's own: the step then changes no paying
        hierarchy (an older revision never reverts what a later one did)."""
        latest = self._orders.latest(task.orderId)
        return latest if latest is not None and latest > task.revision else None

    def _dispatch(self, item: EnsureAccount | EnsureServiceAccount | EnsureBillingProfile, later: int | None) -> TaskOutcome:
        logger.info("brm step", extra={"task": item.task, "order": item.orderKey, "billingSystemId": item.billingSystemId})
        if isinstance(item, EnsureAccount):
            return self.ensure_account(item)
        if isinstance(item, EnsureServiceAccount):
            return self.ensure_service_account(item, later)
        return self.ensure_billing_profile(item, later)

    # ------------------------------------------------------------------ accounts
    def _linked(self, kind: str, system: str, source_id: str) -> str | None:
        return self._xref.lookup(kind, SystemId(SIEBEL, source_id), brm_system(system))

    def _link(self, kind: str, system: str, source_id: str, brm_id: str) -> None:
        self._xref.link(kind, SystemId(SIEBEL, source_id), SystemId(brm_system(system), brm_id))

    def _source_of(self, system: str, poid: str | None) -> str | None:
        return self._xref.lookup("account", SystemId(brm_system(system), poid), SIEBEL) if poid else None

    def ensure_account(self, item: EnsureAccount) -> TaskOutcome:
        system = item.billingSystemId
        outcome = TaskOutcome()
        if poid := self._linked("account", system, item.account.id):
            outcome.existing.append(BrmObject(type="account", sourceId=item.account.id, brmId=poid, billingSystemId=system))
            return outcome
        account, created = self._brm.ensure_account(system, brm_account(item.account))
        self._link("account", system, item.account.id, account.poid)
        (outcome.created if created else outcome.existing).append(
            BrmObject(type="account", sourceId=item.account.id, brmId=account.poid, billingSystemId=system)
        )
        return outcome

    def ensure_service_account(self, item: EnsureServiceAccount, later: int | None = None) -> TaskOutcome:
        """The service account as a nonpaying subordinate of its bill-to account (the paying hierarchy); ``later``, a
        later revision of the order accepted since, leaves an existing account's paying parent as it is."""
        system = item.billingSystemId
        parent_poid = self._linked("account", system, item.billToId)
        if parent_poid is None:  # the bill-to step runs first and links it; retried if the link is not seen yet
            raise BillToNotFound(f"bill-to account {item.billToId} is not in {system} yet")
        if item.billToId == item.account.id:
            return self._pay_for_itself(item, parent_poid, later)
        outcome = TaskOutcome()
        poid = self._linked("account", system, item.account.id)
        account = self._brm.account(system, poid) if poid else None
        if account is None:
            account, created = self._brm.ensure_account(system, brm_account(item.account, parent_poid=parent_poid, paying=False))
            self._link("account", system, item.account.id, account.poid)
            (outcome.created if created else outcome.existing).append(
                BrmObject(type="account", sourceId=item.account.id, brmId=account.poid, billingSystemId=system)
            )
            if created:
                outcome.hierarchy.append(
                    HierarchyLink(account=item.account.id, parent=item.billToId, billingSystemId=system, change="CREATED")
                )
                return outcome
        else:
            outcome.existing.append(BrmObject(type="account", sourceId=item.account.id, brmId=account.poid, billingSystemId=system))
        if account.parentPoid == parent_poid:
            outcome.hierarchy.append(
                HierarchyLink(account=item.account.id, parent=item.billToId, billingSystemId=system, change="UNCHANGED")
            )
            return outcome
        current_parent = self._source_of(system, account.parentPoid)
        if later is not None:
            outcome.hierarchy.append(self._superseded(item, current_parent or account.parentPoid, later))
        elif item.priorBillToId is not None or account.parentPoid is None:
            # the order flags a paying hierarchy change (prior values), or the account had no parent yet
            self._brm.set_parent(system, account.poid, parent_poid)
            outcome.hierarchy.append(
                HierarchyLink(
                    account=item.account.id, parent=item.billToId, billingSystemId=system, change="CHANGED", previousParent=current_parent
                )
            )
        else:
            # another parent and no prior values: the order does not ask for a change, so the hierarchy stays
            outcome.hierarchy.append(
                HierarchyLink(
                    account=item.account.id, parent=current_parent or str(account.parentPoid), billingSystemId=system, change="KEPT"
                )
            )
        return outcome

    @staticmethod
    def _superseded(item: EnsureServiceAccount, parent: str | None, later: int) -> HierarchyLink:
        return HierarchyLink(
            account=item.account.id,
            parent=parent,
            paying=parent is None,
            billingSystemId=item.billingSystemId,
            change="SUPERSEDED",
            supersededBy=later,
        )

    def _pay_for_itself(self, item: EnsureServiceAccount, poid: str, later: int | None) -> TaskOutcome:
        """A revision made the service account its own bill-to account (flagged by prior values): no paying parent."""
        system = item.billingSystemId
        account = self._brm.account(system, poid)
        if account is None:
            raise BillToNotFound(f"account {item.account.id} is linked but not in {system} yet")
        outcome = TaskOutcome(existing=[BrmObject(type="account", sourceId=item.account.id, brmId=poid, billingSystemId=system)])
        if account.parentPoid is None:
            outcome.hierarchy.append(
                HierarchyLink(account=item.account.id, parent=None, paying=True, billingSystemId=system, change="UNCHANGED")
            )
            return outcome
        previous = self._source_of(system, account.parentPoid)
        if later is not None:
            outcome.hierarchy.append(self._superseded(item, previous or account.parentPoid, later))
            return outcome
        self._brm.set_parent(system, poid, None)
        outcome.hierarchy.append(
            HierarchyLink(
                account=item.account.id, parent=None, paying=True, billingSystemId=system, change="CHANGED", previousParent=previous
            )
        )
        return outcome

    # ------------------------------------------------------------------ billing profiles
    def ensure_billing_profile(self, item: EnsureBillingProfile, later: int | None = None) -> TaskOutcome:
        """/payinfo and /billinfo of the bill-to account, from the billing profile.

        Both are created when they do not exist. When an UPDATE or MOVE-ADD line brings the profile
        (``applyChanges``), what exists is changed to it: moved to the line's bill-to account when the line's prior
        billing account flags the change, and its values (bill cycle, currency, pay type and payment details) set to
        the profile's. An ADD line changes nothing that exists, nor does a step of a revision older than one
        accepted since (``later``).
        """
        system = item.billingSystemId
        account_poid = self._linked("account", system, item.billToId)
        if account_poid is None:
            raise BillToNotFound(f"bill-to account {item.billToId} is not in {system} yet")
        outcome = TaskOutcome()
        profile = item.profile
        pay_type = int(
            domain_value_maps().translate(
                "PaymentMethod", profile.paymentMethod, source=SIEBEL, target="BRM", pointer="#/profile/paymentMethod"
            )
        )
        changing = item.applyChanges and later is None
        wanted_payinfo = brm_payinfo(profile, item.billTo, account_poid, pay_type)
        payinfo = self._ensure_payinfo(item, wanted_payinfo, outcome, changing)
        wanted_billinfo = brm_billinfo(profile, account_poid, payinfo.poid, pay_type)
        self._ensure_billinfo(item, wanted_billinfo, outcome, changing)
        return outcome

    def _ensure_payinfo(self, item: EnsureBillingProfile, wanted: BrmPayInfoIn, outcome: TaskOutcome, changing: bool) -> BrmPayInfo:
        system, source = item.billingSystemId, item.profile.id
        poid = self._linked("payinfo", system, source)
        found = self._brm.payinfo(system, poid) if poid else None
        if found is None:
            made, created = self._brm.ensure_payinfo(system, wanted)
            self._link("payinfo", system, source, made.poid)
            (outcome.created if created else outcome.existing).append(
                BrmObject(type="payinfo", sourceId=source, brmId=made.poid, billingSystemId=system)
            )
            return made
        outcome.existing.append(BrmObject(type="payinfo", sourceId=source, brmId=found.poid, billingSystemId=system))
        self._change(item, "payinfo", found, wanted, outcome, changing)
        return found  # changed or moved, a /payinfo keeps its poid

    def _ensure_billinfo(self, item: EnsureBillingProfile, wanted: BrmBillInfoIn, outcome: TaskOutcome, changing: bool) -> None:
        system, source = item.billingSystemId, item.profile.id
        poid = self._linked("billinfo", system, source)
        found = self._brm.billinfo(system, poid) if poid else None
        if found is None:
            made, created = self._brm.ensure_billinfo(system, wanted)
            self._link("billinfo", system, source, made.poid)
            (outcome.created if created else outcome.existing).append(
                BrmObject(type="billinfo", sourceId=source, brmId=made.poid, billingSystemId=system)
            )
            return
        outcome.existing.append(BrmObject(type="billinfo", sourceId=source, brmId=found.poid, billingSystemId=system))
        self._change(item, "billinfo", found, wanted, outcome, changing)

    def _change(
        self,
        item: EnsureBillingProfile,
        kind: Literal["billinfo", "payinfo"],
        found: BrmPayInfo | BrmBillInfo,
        wanted: BrmPayInfoIn | BrmBillInfoIn,
        outcome: TaskOutcome,
        changing: bool,
    ) -> None:
        """Set an existing /payinfo or /billinfo to ``wanted`` when the line changes it."""
        system = item.billingSystemId
        held = found.model_dump(exclude={"poid"}, exclude_none=True)
        target = wanted.model_dump(exclude_none=True)
        moved = found.accountPoid != wanted.accountPoid
        if moved and item.priorBillToId is None:
            # another account holds it and the line flags no billing account change: it stays where it is
            target["accountPoid"] = found.accountPoid
            if "payInfoPoid" in held:
                target["payInfoPoid"] = held["payInfoPoid"]
            moved = False
        fields = sorted(name for name in set(held) | set(target) if held.get(name) != target.get(name))
        if not changing or not fields:
            return
        if isinstance(wanted, BrmPayInfoIn):
            self._brm.set_payinfo(system, found.poid, BrmPayInfoIn.model_validate(target))
        else:
            self._brm.set_billinfo(system, found.poid, BrmBillInfoIn.model_validate(target))
        outcome.changed.append(
            BrmChange(
                type=kind,
                sourceId=item.profile.id,
                brmId=found.poid,
                billingSystemId=system,
                change="MOVED" if moved else "CHANGED",
                fields=fields,
                previousAccount=self._source_of(system, found.accountPoid) if moved else None,
            )
        )
