"""Customer Care and Billing simulator: the source of master data, and the target of Siebel's customers.

As a source, CCB keeps persons; a change to one (``PUT /persons/{personId}`` with the person's data, validated
against CCB's own contract, :mod:`localhub.simulators.ccb_contract`) makes CCB send a sync request to the hub the way its
outbound messages do: a CCB XML ``SyncRequest`` (validated against ``ccb/sync-request.xsd`` before it
leaves) posted to ``/meter-data/sync-requests``. The answer tells what the hub said. The hub-facing
sender is given by the runtime: over HTTP with a token in ``make run``, in-process in tests.

As a target (CU-01, CU-02), CCB's customer services take a customer created or changed in Siebel:
``POST /customers`` (validated against CCB's own contract, :mod:`localhub.simulators.ccb_contract`, never the hub's
models, as is everything else the hub sends CCB; every code value must be one
of CCB's own, the CCB column of the shipped domain value maps; a second customer for one Siebel id is
refused with 409), ``GET /customers?siebelAccountId=`` (the lookup by Siebel id), ``GET /customers/{personId}``
(the customer of a person, 404 for a person that is no customer's) and ``PUT /customers/{personId}`` (the parts
given replace CCB's). CCB keeps what it makes as separate
records: the person (with addresses and contacts), the account (with its auto-pay set-up), the bill
route and the statement set-up. These services need the hub's credentials; the source routes are
CCB's own users' and do not.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from lxml import etree
from pydantic import ValidationError

from localhub.simulators.base import Reply, Simulator, SimulatorError, json_reply
from localhub.simulators.ccb_billing import BillDeterminantsBook
from localhub.simulators.ccb_contract import (
    ADDRESS_XML,
    CODES,
    BillableCompletionIn,
    BillCycleChangeIn,
    CcbCustomer,
    CcbCustomerChange,
    CcbCustomerIn,
    OffCycleBillRequest,
    PersonData,
    UnbadgedAssetIn,
)
from localhub.simulators.field import FieldActivityBook, find_service_points, validate_meter
from localhub.simulators.field_contract import CcbActivityEvent, OwnActivity
from utilhub.platform.xml import to_bytes, validate

NS = "urn:utilhub:ccb:sync-request:v1"
HubSender = Callable[[str, bytes, str], tuple[int, bytes]]  # (path, body, content type) -> (status, body)

# CCB's sync request types by the system it sends them to (CCB -> MDM: MD-01..10, MD-18; -> WAM/ODM: FW-06; -> DACS: DA-02)
_MDM_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "SERVICE_POINT",
    "SERVICE_AGREEMENT",
    "SA_RELATIONSHIP",
    "DYNAMIC_OPTION",
    "DYNAMIC_OPTION_EVENT",
)
_MDM_ENTITIES += ("METER", "METER_CONFIGURATION", "SP_METER_HISTORY", "SCALAR_METER_READ", "BILL_CYCLE")
SYNC_TARGET_ENTITIES: dict[str, tuple[str, ...]] = {
    "MDM": _MDM_ENTITIES,
    "WAM": ("SERVICE_POINT",),
    "ODM": ("SERVICE_POINT",),
    "DACS": ("PERSON", "SERVICE_POINT", "SERVICE_AGREEMENT"),
}


def _add(parent: etree._Element, name: str, value: Any) -> None:
    if value not in (None, "", []):
        etree.SubElement(parent, f"{{{NS}}}{name}").text = ("true" if value else "false") if isinstance(value, bool) else str(value)


def person_sync_request(sync_request_id: str, person_id: str, changed_at: datetime, person: PersonData) -> bytes:
    """CCB's outbound XML for a changed person."""
    root = etree.Element(f"{{{NS}}}SyncRequest", nsmap={None: NS})  # type: ignore[dict-item]
    _add(root, "SyncRequestId", sync_request_id)
    _add(root, "EntityType", "PERSON")
    _add(root, "EntityId", person_id)
    _add(root, "ChangedAt", changed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    element = etree.SubElement(root, f"{{{NS}}}Person")
    _add(element, "Name", person.name)
    _add(element, "PersonType", person.personType)
    _add(element, "EmailAddress", person.emailAddress)
    for phone in person.phones:
        etree.SubElement(element, f"{{{NS}}}Phone", type=phone.type).text = phone.number
    if person.address is not None:
        address = etree.SubElement(element, f"{{{NS}}}Address")
        for field, name in ADDRESS_XML:
            _add(address, name, getattr(person.address, field))
    _add(element, "Language", person.language)
    _add(element, "LifeSupport", person.lifeSupport)
    validate(root, "ccb/sync-request.xsd")
    return to_bytes(root)


# MD-13 and MD-20: what CCB takes from MDM through the hub -> (model, record prefix, the id CCB keeps it by)
_METER_DATA_EVENTS: dict[str, tuple[type[OffCycleBillRequest | BillCycleChangeIn], str, str]] = {
    "off-cycle-bill-requests": (OffCycleBillRequest, "OFF_CYCLE_BILL", "requestId"),
    "bill-cycle-changes": (BillCycleChangeIn, "BILL_CYCLE_CHANGE", "changeId"),
}

# CCB's code tables: which code each field of a customer takes (the CCB column of the shipped maps)
_CODE_FIELDS = (
    ("account", "paymentMethod", "PaymentMethod"),
    ("billRoute", "billRouteType", "BillRoute"),
    ("statement", "statementFormat", "StatementFormat"),
    ("statement", "billRouteType", "BillRoute"),
)


# Customers Oracle's packs made in CCB before the cutover to the hub (the ones events/xref_export_sample.csv links):
# CCB holds them from the start, under the ids Oracle's packs were given, as a utility's CCB does when it switches.
BEFORE_CUTOVER: tuple[dict[str, Any], ...] = (
    {
        "personId": "2840193756",
        "accountId": "6917304825",
        "siebelAccountId": "1-ABC123",
        "person": {"name": "Katherine Johnson"},
        "account": {"paymentMethod": "DD", "billCycleDay": 12, "currency": "USD", "billingProfileId": "1-ABC123-BP"},
        "addresses": [{"addressType": "BILL", "address1": "4 Langley Boulevard", "city": "Hampton", "state": "VA", "country": "USA"}],
        "contacts": [{"contactType": "PRIMARYEMAIL", "value": "katherine.johnson@example.com"}],
        "billRoute": {"billRouteType": "EMAIL"},
    },
    {
        "personId": "3075519264",
        "accountId": "7402618853",
        "siebelAccountId": "1-DEF456",
        "person": {"name": "Dorothy Vaughan"},
        "account": {"paymentMethod": "INV", "billingProfileId": "1-DEF456-BP"},
        "addresses": [{"addressType": "BILL", "address1": "9 Computing Lane", "city": "Hampton", "state": "VA", "country": "USA"}],
        "contacts": [],
        "billRoute": {"billRouteType": "POSTAL"},
    },
)


class CcbSimulator(Simulator):
    def __init__(self) -> None:
        super().__init__(system="CCB")
        self._ids = itertools.count(1)
        self._person_ids = itertools.count(5_000_000_001)
        self._account_ids = itertools.count(7_000_000_001)
        self.send_to_hub: HubSender | None = None
        self.by_siebel_id: dict[str, str] = {}  # Siebel account id -> CCB person id
        self._account_of: dict[str, str] = {}  # CCB person id -> its account id
        self._codes = CODES
        # field activities routed to CCB (pickups), and CCB's own: their events as CCB takes them
        self.field_activities = FieldActivityBook(self, "{:010d}", frozenset({"PICKUP"}), CcbActivityEvent)
        self.bill_determinants = BillDeterminantsBook(self)  # MD-11: determinants of a bill run's usage requests
        for existing in BEFORE_CUTOVER:
            self._hold(CcbCustomer.model_validate(existing))

    def _hold(self, customer: CcbCustomer) -> None:
        """A customer CCB has from before the hub (made by Oracle's packs), under its own ids."""
        person_id, account_id = customer.personId, customer.accountId
        self.by_siebel_id[customer.siebelAccountId] = person_id
        self._account_of[person_id] = account_id
        self.records[f"PERSON#{person_id}"] = {"personId": person_id, "siebelAccountId": customer.siebelAccountId}
        self.records[f"ACCOUNT#{account_id}"] = {"accountId": account_id, "personId": person_id}
        self._store(person_id, account_id, CcbCustomerIn.model_validate(customer.model_dump(exclude={"personId", "accountId"})))

    def relink(self, person_id: str, account_id: str) -> None:
        """A CCB user moves a customer person to another account (CCB's own screens: no service of CCB's does it)."""
        if f"ACCOUNT#{account_id}" not in self.records:
            raise KeyError(f"CCB has no account {account_id}")
        self._account_of[person_id] = account_id

    def requires_credentials(self, path: str) -> bool:
        return path.strip("/").startswith(
            (
                "customers",
                "activities",
                "service-points",
                "meter-validations",
                "billable-charges",
                "items",
                "sync-requests",
                "bill-determinants",
                *_METER_DATA_EVENTS,
            )
        )

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        parts = path.split("?")[0].strip("/").split("/")
        if parts[0] == "customers":
            with self._lock:
                return self._customers(method, path, parts, body)
        if parts[0] == "activities":
            with self._lock:
                return self.field_activities.handle(method, path, parts, body)
        if method == "POST" and len(parts) == 1 and parts[0] in _METER_DATA_EVENTS:
            with self._lock:
                return self._meter_data_event(parts[0], body)
        if method == "POST" and parts in (["billable-charges"], ["items"]):
            with self._lock:
                return self._field_billing(parts[0], body)
        if method == "POST" and parts == ["bill-determinants"]:  # MD-11 (ccb_billing)
            with self._lock:
                return self.bill_determinants.take(body)
        if method == "GET" and parts == ["service-points"]:
            return find_service_points(urlsplit(path).query)
        if method == "POST" and parts == ["meter-validations"]:
            self.note_received({"operation": "validate-meter"})
            return validate_meter(body)  # CCB validates meters under implementation model v1.9
        if method == "GET" and len(parts) == 2 and parts[0] == "persons":
            person = self.records.get(f"PERSON#{unquote(parts[1])}")
            return Reply(200, json.dumps(person).encode(), "application/json") if person else Reply(404, b"no such person", "text/plain")
        if method == "PUT" and len(parts) == 3 and parts[0] == "sync-requests" and parts[2] == "acknowledgement":
            with self._lock:
                return self.acknowledge_sync_request(unquote(parts[1]), body)
        if method == "PUT" and len(parts) == 3 and parts[0] == "usage-requests" and parts[2] == "status":  # MD-11 in ERROR
            with self._lock:
                return self.usage_request_status(unquote(parts[1]), body)
        if method == "PUT" and len(parts) == 2 and parts[0] == "field-activities":
            return self.create_field_activity(unquote(parts[1]), body)
        if method == "PUT" and len(parts) == 2 and parts[0] == "persons":
            return self.change_person(unquote(parts[1]), body)
        return Reply(404, b"no such CCB service", "text/plain")

    def state(self, *, summary: bool = False) -> dict[str, Any]:
        """As every simulator's, with how often each usage request's determinants were delivered (MD-11)."""
        with self._lock:
            return {**super().state(summary=summary), **self.bill_determinants.state()}

    def acknowledge_sync_request(self, sync_request_id: str, body: bytes) -> Reply:
        """The outcome of a sync request CCB sent (to MDM, WAM/ODM or DACS), passed on by the hub, as CCB's sync request
        moves from awaiting acknowledgement to synchronized or error; kept in the order received, per request."""
        try:
            ack = json.loads(body)
        except ValueError:
            raise SimulatorError("an acknowledgement is JSON") from None
        if not isinstance(ack, dict):
            return json_reply(400, {"message": "an acknowledgement is a JSON object"})
        checks = {
            "syncRequestId differs from the path": ack.get("syncRequestId") != sync_request_id,
            "target is not MDM, WAM, ODM or DACS": ack.get("target") not in SYNC_TARGET_ENTITIES,
            "unknown entityType for its target": ack.get("entityType") not in SYNC_TARGET_ENTITIES.get(str(ack.get("target")), ()),
            "entityId missing": not ack.get("entityId"),
            "result is not POSITIVE or NEGATIVE": ack.get("result") not in ("POSITIVE", "NEGATIVE"),
            "a NEGATIVE acknowledgement has no reason": ack.get("result") == "NEGATIVE" and not ack.get("reason"),
            "acknowledgedAt missing": not ack.get("acknowledgedAt"),
        }
        problems = [problem for problem, failed in checks.items() if failed]
        if problems:
            return json_reply(400, {"message": "; ".join(problems)})
        kept = self.records.setdefault(f"SYNC-ACK#{sync_request_id}", {"acknowledgements": []})["acknowledgements"]
        repeat = ack in kept  # the same one again changes nothing (noted, so a test sees it was sent twice)
        self.note_received({"operation": "sync-request-acknowledgement", "id": sync_request_id, "result": ack["result"], "repeat": repeat})
        if not repeat:
            kept.append(ack)
        return json_reply(200, {"syncRequestId": sync_request_id, "acknowledgements": len(kept)})

    def usage_request_status(self, usage_request_id: str, body: bytes) -> Reply:
        """MD-11: a usage request of a bill run that will not get its determinants (ERROR), with the reason; kept in the
        order received, per usage request (the same one again is kept once)."""
        try:
            status = json.loads(body)
        except ValueError:
            raise SimulatorError("a usage request status is JSON") from None
        if not isinstance(status, dict):
            return json_reply(400, {"message": "a usage request status is a JSON object"})
        checks = {
            "usageRequestId differs from the path": status.get("usageRequestId") != usage_request_id,
            "saId missing": not status.get("saId"),
            "status is not ERROR": status.get("status") != "ERROR",
            "an ERROR has no reason": not status.get("reason"),
            "at missing": not status.get("at"),
            "unknown fields": bool(set(status) - {"usageRequestId", "saId", "status", "reason", "at"}),
        }
        problems = [problem for problem, failed in checks.items() if failed]
        if problems:
            return json_reply(400, {"message": "; ".join(problems)})
        kept = self.records.setdefault(f"USAGE-REQUEST-STATUS#{usage_request_id}", {"statuses": []})["statuses"]
        repeat = status in kept
        self.note_received({"operation": "usage-request-status", "id": usage_request_id, "status": status["status"], "repeat": repeat})
        if not repeat:
            kept.append(status)
        return json_reply(200, {"usageRequestId": usage_request_id, "statuses": len(kept)})

    def change_person(self, person_id: str, body: bytes) -> Reply:
        try:
            person = PersonData.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid person: {exc.errors(include_url=False, include_input=False)}") from None
        if self.send_to_hub is None:
            raise SimulatorError("CCB is not connected to a hub")
        changed_at = datetime.now(UTC)
        sync_request_id = f"CCB-SR-{next(self._ids):06d}"
        with self._lock:
            self.records[f"PERSON#{person_id}"] = {
                **person.model_dump(mode="json", exclude_unset=True),
                "changedAt": changed_at.isoformat(),
            }
        status, answer = self.send_to_hub(
            "/meter-data/sync-requests", person_sync_request(sync_request_id, person_id, changed_at, person), "application/xml"
        )
        with self._lock:
            self.note_received({"syncRequestId": sync_request_id, "hubStatus": status})
        reply = {"personId": person_id, "syncRequestId": sync_request_id, "hubStatus": status, "hubAnswer": json.loads(answer or b"null")}
        return Reply(200 if status < 400 else 502, json.dumps(reply).encode(), "application/json")

    # ---------------------------------------------------------------- field activities (FW-01, FW-02)
    def create_field_activity(self, activity_id: str, body: bytes) -> Reply:
        """A field activity created in CCB (its own id): kept, and sent to the hub (FW-01)."""
        try:
            raw = json.loads(body)
            activity = OwnActivity.model_validate_json(
                json.dumps({**raw, "sourceSystem": "CCB", "activityId": activity_id} if isinstance(raw, dict) else raw)
            )
        except (ValueError, ValidationError) as exc:
            raise SimulatorError(f"invalid field activity: {exc}") from None
        if self.send_to_hub is None:
            raise SimulatorError("CCB is not connected to a hub")
        with self._lock:
            self.field_activities.adopt(activity)
        status, answer = self.send_to_hub(
            "/field-work/activities", activity.model_dump_json(exclude_none=True).encode(), "application/json"
        )
        reply = {"activityId": activity_id, "hubStatus": status, "hubAnswer": json.loads(answer or b"null")}
        return json_reply(200 if status < 400 else 502, reply)

    def _field_billing(self, collection: str, body: bytes) -> Reply:
        """FW-05 billable charges (one set per completion) and FW-11 items without a badge (one per notification)."""
        model: type[BillableCompletionIn | UnbadgedAssetIn] = BillableCompletionIn if collection == "billable-charges" else UnbadgedAssetIn
        try:
            parsed = model.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid {collection}: {exc.errors(include_url=False, include_input=False)}") from None
        key = parsed.completionId if isinstance(parsed, BillableCompletionIn) else parsed.notificationId
        record = f"{'CHARGES' if collection == 'billable-charges' else 'ITEM'}#{key}"
        if record in self.records:
            return json_reply(409, {"message": f"{key} was already taken"})
        if fault := self.take_fault("reject"):
            return json_reply(422, {"message": fault.reason})
        self.records[record] = parsed.model_dump(mode="json")
        self.note_received({"operation": collection, "id": key})
        return json_reply(201, {"id": key})

    # ---------------------------------------------------------------- meter data billing events (MD-13, MD-20)
    def _meter_data_event(self, collection: str, body: bytes) -> Reply:
        """MD-13 off-cycle bill requests (one per MDM notification: CCB tells its user the bill may need a rebill)
        and MD-20 bill cycle changes (one per change; the service point's bill cycle follows the latest effective one)."""
        model, record_prefix, id_field = _METER_DATA_EVENTS[collection]
        try:
            event = model.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid {collection}: {exc.errors(include_url=False, include_input=False)}") from None
        key = str(getattr(event, id_field))
        if f"{record_prefix}#{key}" in self.records:  # noted, so a test sees the hub sent it twice
            self.note_received({"operation": collection, "id": key, "repeat": True})
            return json_reply(409, {"message": f"{key} was already taken"})
        if fault := self.take_fault("reject"):
            return json_reply(422, {"message": fault.reason})
        self.records[f"{record_prefix}#{key}"] = {
            **event.model_dump(mode="json"),
            "status": "PENDING_REVIEW" if record_prefix == "OFF_CYCLE_BILL" else "APPLIED",
        }
        if isinstance(event, BillCycleChangeIn):
            current = self.records.get(f"SP_BILL_CYCLE#{event.servicePointId}")
            if current is None or event.effectiveDate.isoformat() >= current["effectiveDate"]:
                self.records[f"SP_BILL_CYCLE#{event.servicePointId}"] = {
                    "billCycle": event.billCycle,
                    "effectiveDate": event.effectiveDate.isoformat(),
                }
        self.note_received({"operation": collection, "id": key})
        return json_reply(201, {"id": key})

    # ---------------------------------------------------------------- customer services (CU-01, CU-02)
    def _customers(self, method: str, path: str, parts: list[str], body: bytes) -> Reply:
        if method == "GET" and len(parts) == 1:
            siebel_id = parse_qs(urlsplit(path).query).get("siebelAccountId", [""])[0]
            person_id = self.by_siebel_id.get(siebel_id)
            return json_reply(200, self.customer(person_id).model_dump()) if person_id else json_reply(404, {"message": "no such customer"})
        if method == "GET" and len(parts) == 2:
            person = self.records.get(f"PERSON#{unquote(parts[1])}")
            if person is None or "siebelAccountId" not in person:
                return json_reply(404, {"message": f"no customer person {unquote(parts[1])}"})
            return json_reply(200, self.customer(unquote(parts[1])).model_dump())
        if method == "POST" and len(parts) == 1:
            return self._create(self._parse(CcbCustomerIn, body))
        if method == "PUT" and len(parts) == 2:
            return self._change(unquote(parts[1]), self._parse(CcbCustomerChange, body))
        return json_reply(405, {"message": f"{method} {path} is not a CCB customer service"})

    def _parse[M: CcbCustomerChange](self, model: type[M], body: bytes) -> M:
        try:
            parsed = model.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid customer: {exc.errors(include_url=False, include_input=False)}") from None
        unknown = self._unknown_codes(parsed)
        if unknown:
            raise SimulatorError(f"values that are not CCB codes: {', '.join(unknown)}")
        return parsed

    def _unknown_codes(self, change: CcbCustomerChange) -> list[str]:
        unknown = []
        for part, field_name, table in _CODE_FIELDS:
            value = getattr(getattr(change, part), field_name) if getattr(change, part) is not None else None
            if value is not None and value not in self._codes[table]:
                unknown.append(f"{part}.{field_name}={value}")
        for n, address in enumerate(change.addresses or []):
            for field_name, table in (("addressType", "AddressType"), ("country", "Country"), ("state", "State")):
                value = getattr(address, field_name)
                if value is not None and value not in self._codes[table]:
                    unknown.append(f"addresses[{n}].{field_name}={value}")
        unknown.extend(
            f"contacts[{n}].contactType={c.contactType}"
            for n, c in enumerate(change.contacts or [])
            if c.contactType not in self._codes["ContactType"]
        )
        return unknown

    def _create(self, customer: CcbCustomerIn) -> Reply:
        if fault := self.take_fault("reject"):
            return json_reply(422, {"message": fault.reason})
        if customer.siebelAccountId in self.by_siebel_id:
            return json_reply(409, {"message": f"a customer for Siebel account {customer.siebelAccountId} exists"})
        person_id, account_id = f"{next(self._person_ids):010d}", f"{next(self._account_ids):010d}"
        self.by_siebel_id[customer.siebelAccountId] = person_id
        self._account_of[person_id] = account_id
        self.records[f"PERSON#{person_id}"] = {"personId": person_id, "siebelAccountId": customer.siebelAccountId}
        self.records[f"ACCOUNT#{account_id}"] = {"accountId": account_id, "personId": person_id}
        self._store(person_id, account_id, customer)
        self.note_received({"operation": "create", "siebelAccountId": customer.siebelAccountId, "personId": person_id})
        return json_reply(201, self.customer(person_id).model_dump())

    def _change(self, person_id: str, change: CcbCustomerChange) -> Reply:
        person = self.records.get(f"PERSON#{person_id}")
        if person is None or "siebelAccountId" not in person:
            return json_reply(404, {"message": f"no customer person {person_id}"})
        if fault := self.take_fault("reject"):
            return json_reply(422, {"message": fault.reason})
        self._store(person_id, self._account_of[person_id], change)
        changed = sorted(change.model_dump(exclude_none=True))
        self.note_received({"operation": "change", "siebelAccountId": person["siebelAccountId"], "personId": person_id, "parts": changed})
        return json_reply(200, self.customer(person_id).model_dump())

    def _store(self, person_id: str, account_id: str, change: CcbCustomerChange) -> None:
        """Each part in the record CCB keeps it in: person (name, addresses, contacts), account
        (auto-pay set-up), bill route, statement set-up."""
        data = change.model_dump(exclude_none=True)
        person, account = self.records[f"PERSON#{person_id}"], self.records[f"ACCOUNT#{account_id}"]
        for part in ("person", "addresses", "contacts"):
            if part in data:
                person.update(data[part] if part == "person" else {part: data[part]})
        if "account" in data:
            account.update(data["account"])
        if "billRoute" in data:
            self.records[f"BILL_ROUTE#{account_id}"] = {"accountId": account_id, **data["billRoute"]}
        if "statement" in data:
            self.records[f"STATEMENT#{account_id}"] = {"accountId": account_id, **data["statement"]}

    def customer(self, person_id: str) -> CcbCustomer:
        """The customer as CCB's services answer it, assembled from its records."""
        person = self.records[f"PERSON#{person_id}"]
        account_id = self._account_of[person_id]
        account = self.records[f"ACCOUNT#{account_id}"]
        statement = self.records.get(f"STATEMENT#{account_id}")
        return CcbCustomer.model_validate(
            {
                "personId": person_id,
                "accountId": account_id,
                "siebelAccountId": person["siebelAccountId"],
                "person": {"name": person["name"]},
                "account": {k: v for k, v in account.items() if k not in ("accountId", "personId")},
                "addresses": person.get("addresses", []),
                "contacts": person.get("contacts", []),
                "billRoute": {"billRouteType": self.records[f"BILL_ROUTE#{account_id}"]["billRouteType"]},
                "statement": {k: v for k, v in statement.items() if k != "accountId"} if statement else None,
            }
        )

    def customers_created(self, siebel_account_id: str) -> int:
        """How many customers CCB made for a Siebel account (for tests: never more than one)."""
        return sum(1 for m in self.received if m.get("operation") == "create" and m["siebelAccountId"] == siebel_account_id)
