"""Collation of a fulfillment order's lines into BRM work: the rules of Oracle's pack, as pure functions.

- Only lines with action ADD, UPDATE or MOVE-ADD are processed; every other line is listed as
  ignored with its reason (a DELETE compensation line is ignored: nothing is ever deleted or
  inactivated in BRM, Table 10-1).
- Billing type Service Bundle, Item, Subscription or Discount brings the service account, the
  billing account and the billing profile; product type Promotion brings the billing account only;
  any other line is ignored.
- A service account different from its bill-to account becomes a nonpaying subordinate of it.
  When the line's prior values name another bill-to account, the paying hierarchy changes (UPDATE,
  MOVE-ADD, and compensation lines whose flipped values revert an earlier change).
- An UPDATE line says which of the attributes it brings changed by their prior values (Table 10-1: "UPDATE ...
  expects prior value fields to be populated"): one without any is refused, naming ``priorValues`` and the
  attributes it could name. A MOVE-ADD line needs them only "for values that are changing from an existing
  asset", so a MOVE-ADD line without prior values changes nothing that exists.
- One billing profile may not be used for services fulfilled in different billing systems; one
  service account may not be billed to two accounts on one order. Such an order is refused.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from utilhub.packs.order_to_cash.model import (
    EnsureAccount,
    EnsureBillingProfile,
    EnsureServiceAccount,
    FulfillmentOrderIn,
    IgnoredLine,
    OrderLine,
    Plan,
    ProcessedLine,
)
from utilhub.platform.problems import FieldError, invalid

PROCESSED_ACTIONS = ("ADD", "UPDATE", "MOVE-ADD")
CHANGING_ACTIONS = ("UPDATE", "MOVE-ADD")  # ADD creates what does not exist and changes nothing that does
FULL_BILLING_TYPES = frozenset({"SERVICE BUNDLE", "ITEM", "SUBSCRIPTION", "DISCOUNT"})
PROMOTION = "PROMOTION"
PRIOR_OF = {"serviceAccount": "serviceAccountId", "billingAccount": "billingAccountId", "billingProfile": "billingProfileId"}


def _normal(value: str | None) -> str:
    return " ".join((value or "").replace("_", " ").split()).upper()


def order_key(order: FulfillmentOrderIn) -> str:
    return f"{order.orderId}#{order.revision}"


def why_ignored(line: OrderLine) -> str | None:
    """The reason a line brings no customer data, or None when it is processed."""
    if line.action not in PROCESSED_ACTIONS:
        if line.action == "DELETE":
            return "DELETE compensation is ignored: nothing is deleted or inactivated in BRM"
        if line.action in ("NONE", "-"):
            return f"action {line.action}: no change for customer data"
        return f"action {line.action} is not processed (only ADD, UPDATE, MOVE-ADD)"
    if _normal(line.billingType) in FULL_BILLING_TYPES or _normal(line.productType) == PROMOTION:
        return None
    return (
        f"billing type {line.billingType or '(none)'} and product type {line.productType or '(none)'} bring no customer data "
        "(Service Bundle, Item, Subscription, Discount or Promotion)"
    )


def _cycles(services: list[tuple[int, EnsureServiceAccount]]) -> list[FieldError]:
    """Lines whose paying parents would go round in a circle (A pays for B, B pays for A)."""
    parent = {(i.billingSystemId, i.account.id): i.billToId for _, i in services if i.billToId != i.account.id}
    errors = []
    for index, item in services:
        node, seen = item.account.id, set()
        while (item.billingSystemId, node) in parent and node not in seen:
            seen.add(node)
            node = parent[(item.billingSystemId, node)]
        if node == item.account.id and seen:
            errors.append(
                FieldError(f"#/lines/{index}/billingAccount/id", f"the paying hierarchy would be a cycle through {item.account.id}")
            )
    return errors


def collate(order: FulfillmentOrderIn) -> Plan:
    """The plan for ``order``, or a 422 :class:`~utilhub.platform.problems.Problem` listing every refused field."""
    key = order_key(order)
    processed: list[ProcessedLine] = []
    ignored: list[IgnoredLine] = []
    bill_to: OrderedDict[tuple[str, str], EnsureAccount] = OrderedDict()
    services: OrderedDict[tuple[str, str], tuple[int, EnsureServiceAccount]] = OrderedDict()
    profiles: OrderedDict[tuple[str, str], EnsureBillingProfile] = OrderedDict()
    profile_systems: dict[str, dict[str, int]] = {}
    errors: list[FieldError] = []

    for index, line in enumerate(order.lines):
        if reason := why_ignored(line):
            ignored.append(IgnoredLine(lineId=line.lineId, reason=reason))
            continue
        full = _normal(line.billingType) in FULL_BILLING_TYPES
        required = ("billingAccount", "serviceAccount", "billingProfile") if full else ("billingAccount",)
        missing = [name for name in required if getattr(line, name) is None]
        if missing:
            errors += [
                FieldError(f"#/lines/{index}/{name}", f"required for a {line.billingType or line.productType} line") for name in missing
            ]
            continue
        assert line.billingAccount is not None
        system = line.billingSystemId
        bill_to.setdefault(
            (system, line.billingAccount.id), EnsureAccount(orderKey=key, billingSystemId=system, account=line.billingAccount)
        )
        brings: list[Literal["serviceAccount", "billingAccount", "billingProfile"]] = ["billingAccount"]
        if full:
            assert line.serviceAccount is not None
            assert line.billingProfile is not None
            brings = ["serviceAccount", "billingAccount", "billingProfile"]
            profile_systems.setdefault(line.billingProfile.id, {}).setdefault(system, index)
            prior = line.priorValues.billingAccountId if line.priorValues else None
            profile = profiles.setdefault(
                (system, line.billingProfile.id),
                EnsureBillingProfile(
                    orderKey=key,
                    billingSystemId=system,
                    profile=line.billingProfile,
                    billToId=line.billingAccount.id,
                    billTo=line.billingAccount,
                ),
            )
            if line.action in CHANGING_ACTIONS and profile.billToId == line.billingAccount.id:
                # an UPDATE or MOVE-ADD line applies the billing profile's changes in BRM (Table 10-1)
                profile.applyChanges = True
                profile.priorBillToId = profile.priorBillToId or (prior if prior and prior != line.billingAccount.id else None)
            if line.serviceAccount.id != line.billingAccount.id or (prior and prior != line.billingAccount.id):
                # a subordinate of its bill-to account, or (same ids, flagged by prior values) back to paying for itself
                item = EnsureServiceAccount(
                    orderKey=key,
                    billingSystemId=system,
                    account=line.serviceAccount,
                    billToId=line.billingAccount.id,
                    priorBillToId=prior if prior and prior != line.billingAccount.id else None,
                )
                first = services.setdefault((system, line.serviceAccount.id), (index, item))
                if first[1].billToId != item.billToId:
                    errors.append(
                        FieldError(
                            f"#/lines/{index}/billingAccount/id",
                            f"service account {line.serviceAccount.id} is billed to {first[1].billToId} on line "
                            f"{order.lines[first[0]].lineId} and to {item.billToId} here; it can have one paying parent",
                        )
                    )
        if line.action == "UPDATE" and not any(getattr(line.priorValues, PRIOR_OF[name], None) for name in brings):
            names = ", ".join(PRIOR_OF[name] for name in brings)
            errors.append(
                FieldError(
                    f"#/lines/{index}/priorValues",
                    f"an UPDATE line gives the prior value of each attribute it changes ({names}); line {line.lineId} gives none",
                )
            )
        processed.append(ProcessedLine(lineId=line.lineId, action=line.action, brings=brings))

    errors += _cycles([(index, item) for index, item in services.values()])
    for profile_id, systems in profile_systems.items():
        if len(systems) > 1:
            names = ", ".join(sorted(systems))
            errors += [
                FieldError(
                    f"#/lines/{index}/billingSystemId",
                    f"billing profile {profile_id} is used for services fulfilled in different billing systems ({names}); "
                    "a billing profile may be synchronized to one billing system only",
                )
                for index in systems.values()
            ]
    if errors:
        raise invalid(f"Order {order.orderId} revision {order.revision} was refused: {errors[0].detail}.", errors)
    return Plan(
        orderId=order.orderId,
        revision=order.revision,
        processedLines=processed,
        ignoredLines=ignored,
        billToAccounts=list(bill_to.values()),
        serviceAccounts=[item for _, item in services.values()],
        billingProfiles=list(profiles.values()),
    )
