"""The BRM steps of the OC-01 workflow: each makes sure one thing exists, creating only what does not.

Delta through cross-references (Siebel id <-> BRM poid, per billing system): an object already
linked is reported ``existing`` and BRM is not asked to create it again. Each step runs under an
idempotency key of the order revision and the item, so a step that Step Functions retries after
it succeeded answers its first outcome and changes nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from utilhub.packs.order_to_cash.brm import BrmAccountIn, BrmBillInfo, BrmBillInfoIn, BrmClient, BrmPayInfo, BrmPayInfoIn
from utilhub.packs.order_to_cash.collation import collate
from utilhub.packs.order_to_cash.model import (
    SIEBEL,
    BrmObject,
    EnsureAccount,
    EnsureBillingProfile,
    EnsureServiceAccount,
    HierarchyLink,
    TaskKey,
    TaskOutcome,
)
from utilhub.packs.order_to_cash.order_store import OrderStore
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
            fingerprint=item.model_dump_json(),
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
        return self.ensure_billing_profile(item)

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
        account, created = self._brm.ensure_account(system, BrmAccountIn(accountNo=item.account.id, name=item.account.name))
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
            account, created = self._brm.ensure_account(
                system, BrmAccountIn(accountNo=item.account.id, name=item.account.name, parentPoid=parent_poid, paying=False)
            )
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
    def ensure_billing_profile(self, item: EnsureBillingProfile) -> TaskOutcome:
        """/billinfo and /payinfo of the bill-to account, from the billing profile."""
        system = item.billingSystemId
        account_poid = self._linked("account", system, item.billToId)
        if account_poid is None:
            raise BillToNotFound(f"bill-to account {item.billToId} is not in {system} yet")
        outcome = TaskOutcome()
        profile = item.profile
        for kind in LINKED_KINDS[1:]:  # /billinfo and /payinfo
            if poid := self._linked(kind, system, profile.id):
                outcome.existing.append(BrmObject(type=kind, sourceId=profile.id, brmId=poid, billingSystemId=system))
                continue
            made: BrmBillInfo | BrmPayInfo
            if kind == "billinfo":
                made, created = self._brm.ensure_billinfo(
                    system,
                    BrmBillInfoIn(
                        billInfoId=profile.id, accountPoid=account_poid, billCycleDay=profile.billCycleDay, currency=profile.currency
                    ),
                )
            else:
                pay_type = domain_value_maps().translate(
                    "PaymentMethod", profile.paymentMethod, source=SIEBEL, target="BRM", pointer="#/profile/paymentMethod"
                )
                made, created = self._brm.ensure_payinfo(
                    system,
                    BrmPayInfoIn(payInfoId=profile.id, accountPoid=account_poid, payType=int(pay_type)),
                )
            self._link(kind, system, profile.id, made.poid)
            (outcome.created if created else outcome.existing).append(
                BrmObject(type=kind, sourceId=profile.id, brmId=made.poid, billingSystemId=system)
            )
        return outcome
