"""The fulfillment order OSM sends (the OC-01 contract) and what the workflow passes between its steps: ids and
outcomes only (the order itself is kept by :mod:`utilhub.packs.order_to_cash.order_store`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from utilhub.syncrequests.ccb_data import EmailAddress, PhoneNumber
from utilhub.syncrequests.model import ID_PATTERN

DEFAULT_BILLING_SYSTEM = "BRM"
SIEBEL = "SEBL"  # the order's ids and code values are Siebel's (cross-references, domain value maps)


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrderAddress(_Part):
    """The Siebel account's address as the order carries it (BRM's name and address, and an invoice's)."""

    line1: str = Field(min_length=1, max_length=254)
    line2: str | None = Field(default=None, max_length=254)
    city: str = Field(min_length=1, max_length=90)
    state: str | None = Field(default=None, max_length=30)
    postalCode: str | None = Field(default=None, max_length=12)
    country: str = Field(min_length=1, max_length=60)


class OrderPhone(_Part):
    type: str = Field(min_length=1, max_length=60)
    number: PhoneNumber


class OrderContact(_Part):
    """The account's primary contact."""

    firstName: str | None = Field(default=None, max_length=50)
    lastName: str = Field(min_length=1, max_length=50)
    emailAddress: EmailAddress | None = None
    phones: list[OrderPhone] = Field(default_factory=list, max_length=10)


class AccountRef(BaseModel):
    """A Siebel account on an order line (service account or billing account): BRM receives the whole account."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str = Field(pattern=ID_PATTERN)
    name: str | None = Field(default=None, max_length=254)
    address: OrderAddress | None = None
    contact: OrderContact | None = None


class CreditCard(_Part):
    """A credit card billing profile's card (BRM /payinfo/cc)."""

    number: str = Field(pattern=r"^[0-9]{12,19}$")
    expiry: str = Field(pattern=r"^(0[1-9]|1[0-2])[0-9]{2}$", description="MMYY")
    holderName: str = Field(min_length=1, max_length=254)


class BankAccount(_Part):
    """A direct debit billing profile's bank account (BRM /payinfo/dd)."""

    accountNumber: str = Field(pattern=r"^[0-9A-Za-z]{4,34}$")
    bankCode: str = Field(pattern=r"^[0-9A-Za-z]{3,11}$", description="routing number, sort code or BIC")
    holderName: str = Field(min_length=1, max_length=254)
    accountType: Literal["Checking", "Savings", "Corporate"] = "Checking"


class BillingProfileRef(BaseModel):
    """A Siebel billing profile: becomes a /billinfo and a /payinfo in BRM."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: str = Field(pattern=ID_PATTERN)
    # Siebel's own value (Invoice, Credit Card, Direct Debit, Check) or the hub's code (INVOICE, ...), any case;
    # BRM gets its pay type through the PaymentMethod domain value map
    paymentMethod: str = Field(default="Invoice", min_length=1, max_length=60)
    billCycleDay: int | None = Field(default=None, ge=1, le=28)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    creditCard: CreditCard | None = Field(default=None, description="required when the payment method is a credit card")
    bankAccount: BankAccount | None = Field(default=None, description="required when the payment method is a direct debit")


class PriorValues(BaseModel):
    """What a revised attribute was before: flags (and for compensation lines, undoes) a change."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    serviceAccountId: str | None = Field(default=None, pattern=ID_PATTERN)
    billingAccountId: str | None = Field(default=None, pattern=ID_PATTERN)
    billingProfileId: str | None = Field(default=None, pattern=ID_PATTERN)


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    lineId: str = Field(pattern=ID_PATTERN)
    action: str = Field(min_length=1, max_length=20)
    billingType: str | None = Field(default=None, max_length=60)
    productType: str | None = Field(default=None, max_length=60)
    billingSystemId: str = Field(default=DEFAULT_BILLING_SYSTEM, pattern=r"^[A-Za-z0-9_\-]{1,32}$")
    serviceAccount: AccountRef | None = None
    billingAccount: AccountRef | None = None
    billingProfile: BillingProfileRef | None = None
    priorValues: PriorValues | None = None

    @field_validator("action")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class FulfillmentOrderIn(BaseModel):
    """``POST /order-to-cash/fulfillment-orders``."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    orderId: str = Field(pattern=ID_PATTERN)
    revision: int = Field(ge=0, le=9999)
    lines: list[OrderLine] = Field(min_length=1, max_length=500)


# ---------------------------------------------------------------------------- workflow items


class EnsureAccount(BaseModel):
    """A bill-to account that must exist in a billing system."""

    task: Literal["ensureAccount"] = "ensureAccount"
    orderKey: str
    billingSystemId: str
    account: AccountRef


class EnsureServiceAccount(BaseModel):
    """A service account that must exist as a nonpaying subordinate of its bill-to account.

    ``priorBillToId`` is set when the line's prior values flag a paying hierarchy change.
    """

    task: Literal["ensureServiceAccount"] = "ensureServiceAccount"
    orderKey: str
    billingSystemId: str
    account: AccountRef
    billToId: str
    priorBillToId: str | None = None


class EnsureBillingProfile(BaseModel):
    """A billing profile that must exist as /billinfo and /payinfo of its bill-to account.

    ``applyChanges`` is set when an UPDATE or MOVE-ADD line brings it: what BRM holds is then changed to the
    profile (its values, and its account when ``priorBillToId`` flags a billing account change).
    """

    task: Literal["ensureBillingProfile"] = "ensureBillingProfile"
    orderKey: str
    billingSystemId: str
    profile: BillingProfileRef
    billToId: str
    billTo: AccountRef | None = None
    applyChanges: bool = False
    priorBillToId: str | None = None


BrmTask = Annotated[EnsureAccount | EnsureServiceAccount | EnsureBillingProfile, Field(discriminator="task")]


class TaskKey(BaseModel):
    """One BRM step as the workflow carries it: the order revision, the task and its item, by ids only. The step
    reads the order from where the hub keeps it and finds its item in the order's plan (the collation is the same
    every time for the same order), so no execution's history holds the names and addresses the item carries."""

    task: Literal["ensureAccount", "ensureServiceAccount", "ensureBillingProfile"]
    orderId: str
    revision: int
    billingSystemId: str
    sourceId: str = Field(description="the Siebel id of the account or billing profile")


def source_of(item: EnsureAccount | EnsureServiceAccount | EnsureBillingProfile) -> str:
    return item.profile.id if isinstance(item, EnsureBillingProfile) else item.account.id


class ProcessedLine(BaseModel):
    lineId: str
    action: str
    brings: list[Literal["serviceAccount", "billingAccount", "billingProfile"]]


class IgnoredLine(BaseModel):
    lineId: str
    reason: str


class Plan(BaseModel):
    """What the collation decided: the lines it takes and ignores, and the BRM work, in order."""

    orderId: str
    revision: int
    processedLines: list[ProcessedLine]
    ignoredLines: list[IgnoredLine]
    billToAccounts: list[EnsureAccount]
    serviceAccounts: list[EnsureServiceAccount]
    billingProfiles: list[EnsureBillingProfile]

    def work(self) -> WorkPlan:
        """The BRM work by ids, as the workflow carries it."""

        def keys(items: list[EnsureAccount] | list[EnsureServiceAccount] | list[EnsureBillingProfile]) -> list[TaskKey]:
            return [
                TaskKey(task=i.task, orderId=self.orderId, revision=self.revision, billingSystemId=i.billingSystemId, sourceId=source_of(i))
                for i in items
            ]

        return WorkPlan(
            billToAccounts=keys(self.billToAccounts), serviceAccounts=keys(self.serviceAccounts), billingProfiles=keys(self.billingProfiles)
        )

    def find(self, key: TaskKey) -> EnsureAccount | EnsureServiceAccount | EnsureBillingProfile:
        """The item of the plan ``key`` names; a LookupError when the plan has none."""
        items: list[EnsureAccount | EnsureServiceAccount | EnsureBillingProfile] = [
            *self.billToAccounts,
            *self.serviceAccounts,
            *self.billingProfiles,
        ]
        for item in items:
            if (item.task, item.billingSystemId, source_of(item)) == (key.task, key.billingSystemId, key.sourceId):
                return item
        raise LookupError(f"order {self.orderId} revision {self.revision} has no {key.task} of {key.sourceId} in {key.billingSystemId}")


class WorkPlan(BaseModel):
    """The collation's output in the workflow: the BRM steps to run, each by its ids."""

    billToAccounts: list[TaskKey]
    serviceAccounts: list[TaskKey]
    billingProfiles: list[TaskKey]


class BrmObject(BaseModel):
    type: Literal["account", "billinfo", "payinfo"]
    sourceId: str
    brmId: str
    billingSystemId: str


class HierarchyLink(BaseModel):
    account: str
    parent: str | None  # None: the account pays for itself
    paying: bool = False
    billingSystemId: str
    change: Literal["CREATED", "CHANGED", "UNCHANGED", "KEPT", "SUPERSEDED"]
    previousParent: str | None = None
    supersededBy: int | None = Field(default=None, description="SUPERSEDED: the later revision whose hierarchy stays")


class BrmChange(BaseModel):
    """A /billinfo or /payinfo an UPDATE or MOVE-ADD line changed: MOVED to the line's bill-to account, or CHANGED
    to the billing profile's values."""

    type: Literal["billinfo", "payinfo"]
    sourceId: str
    brmId: str
    billingSystemId: str
    change: Literal["MOVED", "CHANGED"]
    fields: list[str] = Field(description="what changed in BRM (accountPoid for a move)")
    previousAccount: str | None = Field(default=None, description="MOVED: the account it belonged to (Siebel id)")


class TaskOutcome(BaseModel):
    created: list[BrmObject] = Field(default_factory=list)
    existing: list[BrmObject] = Field(default_factory=list)
    changed: list[BrmChange] = Field(default_factory=list)
    hierarchy: list[HierarchyLink] = Field(default_factory=list)


class OrderResult(BaseModel):
    """The OC-02 ``result`` of a SUCCEEDED order revision."""

    processedLines: list[ProcessedLine]
    ignoredLines: list[IgnoredLine]
    created: list[BrmObject]
    existing: list[BrmObject]
    changed: list[BrmChange] = Field(default_factory=list)
    hierarchy: list[HierarchyLink]


class SummarizeStep(BaseModel):
    step: Literal["summarize"]
    orderId: str
    revision: int
    outcomes: list[list[dict[str, Any]]]


class CollateStep(BaseModel):
    step: Literal["collate"]
    orderId: str
    revision: int


class FailedStep(BaseModel):
    """The workflow failed: the error States caught (its name, and a cause the journal keeps only as the name)."""

    step: Literal["failed"]
    orderId: str
    revision: int
    failure: dict[str, Any] = Field(default_factory=dict)


WorkflowStep = Annotated[CollateStep | SummarizeStep | FailedStep, Field(discriminator="step")]


class WorkflowStepEnvelope(BaseModel):
    event: WorkflowStep
