"""CCB's own contract for what the hub sends it, written for the simulator from CCB's documented interfaces (the
CCB-MDM integration, seed 002; the field work integration, seed 000; the Siebel-CCB customer integration, seed 003)
and CCB's own codes, never from the hub's models.

- Bill determinants of a usage request (MD-11, ``POST /bill-determinants``): the usage request they answer, MDM's
  usage transaction (CCB tells MDM later whether it was used on a bill, MD-16), the SA's service type in CCB's codes
  (``E``, ``G``, ``W``) and its unit in CCB's codes (an electric SA in ``KWH`` with its peak demand in ``KW``, a gas SA
  in ``THERM`` or ``CCF``, a water SA in ``GAL`` or ``M3``): one TOTAL determinant, time-of-use buckets (electric
  only) and intervals that add up to it, over a period that ends after it starts.
- An off-cycle bill generation request (MD-13, ``POST /off-cycle-bill-requests``), once per MDM notification, over
  a period that ends on or after it starts; a bill cycle change (MD-20, ``POST /bill-cycle-changes``).
- Billable charges of completed field work (FW-05, ``POST /billable-charges``): WAM's or ODM's work order, at least
  one charge, each a positive amount in an ISO currency; an item without a badge number (FW-11, ``POST /items``).
- A customer from Siebel (CU-01 ``POST /customers``, CU-02 ``PUT /customers/{personId}``): the person, the account
  (its payment method, bill cycle day 1..28, billing profile), at least one address, contacts, the bill route and the
  statement set-up, as CCB's customer services keep them (code values are CCB's code tables, checked by the
  simulator); the customer as those services answer it.
- A person as CCB's own user changes it (``PUT /persons/{personId}``), before CCB's outbound sync request carries it
  (that XML is validated against CCB's XSD, ``ccb/sync-request.xsd``).

Every model refuses a member CCB does not have, so a hub that maps a field to a name CCB does not know, sends a code
in another system's values, or leaves out what CCB requires is refused here as CCB would refuse it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")]
Code = Annotated[str, StringConstraints(min_length=1, max_length=12)]
Text254 = Annotated[str, StringConstraints(min_length=1, max_length=254)]
BillCycle = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,15}$")]
Quantity = Annotated[float, Field(ge=0, allow_inf_nan=False)]
# CCB's service types and the units it bills each in
CcbServiceType = Literal["E", "G", "W"]
UNITS: dict[str, tuple[str, ...]] = {"E": ("KWH",), "G": ("THERM", "CCF"), "W": ("GAL", "M3")}
DEMAND_UNIT = "KW"
TOU_PERIODS = ("ON_PEAK", "SHOULDER", "OFF_PEAK")
# ISO 3166-1 alpha-3, the countries CCB is set up with; the US states, DC and Puerto Rico, and Canada's provinces and
# territories
_ISO_COUNTRIES = (
    "ARE ARG AUS AUT BEL BRA CAN CHE CHL COL CZE DEU DNK ESP FIN FRA GBR GRC IND IRL ITA JPN LUX MEX NLD NOR NZL POL PRT SAU SGP"
    " SWE USA ZAF"
)
_STATES = (
    "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE NH NJ NM NV NY OH OK OR PA PR RI"
    " SC SD TN TX UT VA VT WA WI WV WY AB BC MB NB NL NS NT NU ON PE QC SK YT"
)
# CCB's code tables a customer's values must come from (CU-01/02): CCB refuses a value that is not one of its codes
CODES: dict[str, frozenset[str]] = {
    "PaymentMethod": frozenset({"CC", "CHK", "DD", "INV"}),
    "BillRoute": frozenset({"EMAIL", "FAX", "POSTAL"}),
    "StatementFormat": frozenset({"DETL", "SUMM"}),
    "AddressType": frozenset({"BILL", "HOME", "MAIL", "SERV"}),
    "ContactType": frozenset({"BUSPHONE", "CELLPHONE", "FAX", "HOMEPHONE", "PRIMARYEMAIL"}),
    "Country": frozenset(_ISO_COUNTRIES.split()),
    "State": frozenset(_STATES.split()),
}


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _sum(values: list[float]) -> Decimal:
    return sum((Decimal(str(v)) for v in values), Decimal(0))


class Determinant(_Message):
    uom: Literal["KWH", "KW", "THERM", "CCF", "GAL", "M3"]
    touPeriod: Literal["TOTAL", "ON_PEAK", "SHOULDER", "OFF_PEAK", "PEAK"]
    quantity: Quantity


class Interval(_Message):
    start: AwareDatetime
    quantity: Quantity
    kwh: Quantity | None = None


class BillDeterminants(_Message):
    """MD-11: one usage request's bill determinants, as CCB bills them."""

    usageRequestId: Id
    saId: Id
    usageTransactionId: Id
    periodStart: date
    periodEnd: date
    serviceType: CcbServiceType
    uom: Literal["KWH", "THERM", "CCF", "GAL", "M3"]
    determinants: Annotated[list[Determinant], Field(min_length=1, max_length=20)]
    peakDemandKw: Quantity | None = None
    intervals: list[Interval] | None = None

    @model_validator(mode="after")
    def _billable(self) -> BillDeterminants:
        if self.periodEnd <= self.periodStart:
            raise ValueError("the period ends before it starts")
        if self.uom not in UNITS[self.serviceType]:
            raise ValueError(
                f"service type {self.serviceType} is not billed in {self.uom} (it is in {' or '.join(UNITS[self.serviceType])})"
            )
        totals = [d.quantity for d in self.determinants if d.touPeriod == "TOTAL"]
        if len(totals) != 1:
            raise ValueError("one TOTAL determinant is billed")
        buckets = [d for d in self.determinants if d.touPeriod in TOU_PERIODS]
        demand = [d for d in self.determinants if d.touPeriod == "PEAK"]
        if self.serviceType != "E" and (buckets or demand or self.peakDemandKw is not None):
            raise ValueError(f"service type {self.serviceType} has no time-of-use buckets or demand")
        if any(d.uom != self.uom for d in self.determinants if d.touPeriod != "PEAK") or any(d.uom != DEMAND_UNIT for d in demand):
            raise ValueError(f"a determinant is not in the SA's unit {self.uom} (demand in {DEMAND_UNIT})")
        total = _sum(totals)
        if buckets and _sum([d.quantity for d in buckets]) != total:
            raise ValueError("the time-of-use buckets do not add up to the total")
        if self.intervals is not None and _sum([i.quantity for i in self.intervals]) != total:
            raise ValueError("the intervals do not add up to the total")
        return self


# ---------------------------------------------------------------- MD-13, MD-20
class OffCycleBillRequest(_Message):
    """MD-13: MDM replaced reads it had sent for a usage transaction; CCB's user is told the bill may need a rebill."""

    requestId: Id
    saId: Id
    usageTransactionId: Id
    periodStart: date
    periodEnd: date
    reason: Annotated[str, StringConstraints(max_length=254)] | None = None
    source: Literal["MDM_REPLACEMENT_READS"]

    @model_validator(mode="after")
    def _period(self) -> OffCycleBillRequest:
        if self.periodEnd < self.periodStart:
            raise ValueError("the period ends before it starts")
        return self


class BillCycleChangeIn(_Message):
    """MD-20: a service point's bill cycle in MDM changed, from its effective date."""

    changeId: Id
    servicePointId: Id
    billCycle: BillCycle
    effectiveDate: date
    previousBillCycle: BillCycle | None = None


# ---------------------------------------------------------------- FW-05, FW-11
class Charge(_Message):
    chargeType: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9\-]{0,39}$")]
    amount: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class BillableCompletionIn(_Message):
    """FW-05: the charges of work WAM (v1.9) or ODM (v2.1) completed, billed once per completion."""

    completionId: Id
    sourceSystem: Literal["WAM", "ODM"]
    workOrderId: Id
    servicePointId: Id
    completedAt: AwareDatetime
    charges: Annotated[list[Charge], Field(min_length=1, max_length=50)]


class UnbadgedAssetIn(_Message):
    """FW-11: an item (an asset without a badge number) ODM recorded at a service point."""

    notificationId: Id
    assetId: Id
    assetType: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9\-]{0,39}$")]
    servicePointId: Id
    quantity: Annotated[int, Field(ge=1, le=1000)]
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


# ---------------------------------------------------------------- CU-01, CU-02
class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CcbPerson(_Part):
    name: Text254


class CcbAccountSetup(_Part):
    paymentMethod: Code
    billCycleDay: Annotated[int, Field(ge=1, le=28)] | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    billingProfileId: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class CcbAddress(_Part):
    addressType: Code
    address1: Text254
    address2: Annotated[str, StringConstraints(max_length=254)] | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=90)]
    state: Annotated[str, StringConstraints(max_length=6)] | None = None
    postal: Annotated[str, StringConstraints(max_length=12)] | None = None
    country: Annotated[str, StringConstraints(min_length=3, max_length=3)]


class CcbContact(_Part):
    contactType: Code
    value: Text254
    contactName: Annotated[str, StringConstraints(max_length=254)] | None = None


class CcbBillRoute(_Part):
    billRouteType: Code


class CcbStatement(_Part):
    statementProfileId: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    statementFormat: Code
    billRouteType: Code


class CcbCustomerChange(_Part):
    """``PUT /customers/{personId}``: the parts of a customer to replace; a part left out is kept."""

    person: CcbPerson | None = None
    account: CcbAccountSetup | None = None
    addresses: list[CcbAddress] | None = None
    contacts: list[CcbContact] | None = None
    billRoute: CcbBillRoute | None = None
    statement: CcbStatement | None = None


class CcbCustomerIn(CcbCustomerChange):
    """``POST /customers``: a new customer, keyed by the Siebel account it came from."""

    siebelAccountId: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    person: CcbPerson
    account: CcbAccountSetup
    addresses: Annotated[list[CcbAddress], Field(min_length=1)]
    contacts: list[CcbContact] = Field(default_factory=list)
    billRoute: CcbBillRoute


class CcbCustomer(CcbCustomerIn):
    """A customer as CCB's customer services answer it, under CCB's person and account ids."""

    personId: Id
    accountId: Id


# ---------------------------------------------------------------- CCB as a source (its own user's change)
# the person's address fields and the elements CCB's sync request XSD gives them
ADDRESS_XML = (
    ("line1", "Line1"),
    ("line2", "Line2"),
    ("city", "City"),
    ("state", "State"),
    ("postalCode", "PostalCode"),
    ("country", "Country"),
)


class PersonAddress(_Part):
    line1: Text254 | None = None
    line2: Text254 | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=90)] | None = None
    state: Annotated[str, StringConstraints(min_length=1, max_length=30)] | None = None
    postalCode: Annotated[str, StringConstraints(min_length=1, max_length=12)] | None = None
    country: Annotated[str, StringConstraints(min_length=2, max_length=3)] | None = None


class PersonPhone(_Part):
    type: Literal["HOME", "MOBILE", "WORK", "FAX", "OTHER"] = "OTHER"
    number: Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^[0-9+()\-. x]+$")]


class PersonData(_Part):
    """A person as CCB's user keeps it (``PUT /persons/{personId}``)."""

    name: Text254
    personType: Literal["PERSON", "BUSINESS"] = "PERSON"
    emailAddress: Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    phones: Annotated[list[PersonPhone], Field(max_length=10)] = Field(default_factory=list)
    address: PersonAddress | None = None
    language: Annotated[str, StringConstraints(min_length=2, max_length=8)] | None = None
    lifeSupport: bool | None = None
