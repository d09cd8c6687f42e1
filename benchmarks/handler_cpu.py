"""Handler CPU per message of each integration point, the hub's own work against its floor (issue 23, item 6).

``python -m benchmarks.handler_cpu [--quick]``

For each point, the hub's path is the library code its handlers run on one message, from the body the caller
sent to the message the target receives, in process: the route's reading of the JSON body (``json.loads``, the
refused-characters scan of :func:`~utilhub.platform.text.refuse_in_json`, the model in JSON's strict mode,
:func:`~utilhub.platform.json_input.from_json`), the point's own checks, mapping and rendering, what it stores or
queues (the item, the queued message), and what its delivery reads back from there before it renders the target's
message. AWS calls are left out, the same way for every point: the functions that build what is sent to AWS
(an item, a queue message, a workflow's input) are called, the calls themselves are not (their client-side CPU is
row 5 of the CPU table, measured for MD-01's intake through the real handler). Also left out: the Powertools
resolver, logging and metrics around the library (row 5 again) and the idempotency layer's hashing inside
:func:`~utilhub.platform.idempotency.run_once`.

The floor of each point is the least any implementation must do with the same libraries for the same message:
``json.loads`` of the body, the point's input model (the same pydantic model, in its ordinary mode), the
translation a target's code needs through the same domain value map, and the target's message built and
serialised with the same model or writer; checked to give the very same bytes as the hub's path. What the floor
leaves out is the hub's choice: the strict JSON re-validation, the scan for characters XML cannot carry, the
stored item (canonical JSON, hashes, keys), the queued message and its re-reading, the check of the output.

Each hub path calls the functions the point's handlers call (a route's reader, the pack's functions that build an item,
a queued message, a workflow's input, a target's body, and read them back), never a copy of them: where a handler built
one inline between two AWS calls, the building is a function of the pack, which the handler and this module call.

Points:

- MD-11 (a usage request of a bill run): the route's reader, the intake's (``distinct_requests``, the stored item,
  ``queued_messages``), then the worker's: its queued message read, the request read back from its item,
  ``mdm_request``, ``determinants_of`` MDM's answer (read in the hub's codes and checked against the request), the
  determinants ``packed`` on the request, ``ccb_request``, and ``packed`` again as the completed request's result (MDM's
  answer is the local runtime's MDM's for the sample); floor: ``UsageRequestIn``, MDM's request, ``BillDeterminants`` of
  MDM's answer in the hub's codes, CCB's body in CCB's codes.
- MD-13 (replacement reads, relayed to CCB; MD-20 shares the path): intake to the queued
  :class:`~utilhub.platform.relay.RelayMessage`, its delivery's reading and fingerprint, CCB's off-cycle bill
  request; floor: ``ReplacementReadsIn`` and ``OffCycleBillRequest`` serialised with ``json.dumps``.
- MD-16 (bill status, relayed to MDM): the same with ``BillStatusIn`` and ``UsedOnBillUpdate`` (the handler's own
  ``bill_status_update``), and the FIFO queue's deduplication id (the relay's ``deduplication_id``).
- FW-06 (a service point to WAM or ODM through the sync engine): ``validate_sync_request``, the stored item,
  the request read back from it, ``AssetServicePointJson.render``; floor: ``SyncRequestIn`` and
  ``FieldServicePointData``, the SP type translated, ``ServicePointSyncOut.model_dump_json``.
- DA-02 (a person to DACS through the sync engine): as FW-06, rendered as its extract file's line by
  ``DacsRecordCodec.render``; floor: ``SyncRequestIn`` and ``DacsPersonData``, the line's values escaped and
  joined with tabs (the DACS record model's check of its own output is the hub's).
- DA-04 (DACS's acknowledgement of a person's record, passed on to CCB): the route's reader, the request in flight read
  from its item and matched to the record, ``notification_of``, the relay's round, then ``acknowledgement_for`` the
  request read back acknowledged, and CCB's body; floor: ``AcknowledgementsIn``, ``CcbAcknowledgement``. The
  acknowledgement's own write (a transaction) is an AWS call, left out.
- FW-01 (a CCB activity created in each target its routing names): intake (the activity, its routing, its hash,
  ``ActivityStore.new_item``, ``creation_input``), then each create step (the step's event, ``record_of`` the item,
  the fingerprint, ``in_target``, the target's body); floor: ``ActivityIn``, each target's body built and
  serialised. The service point's id in the target (a cross-reference read) is an AWS call, left out.
- FW-02 (MWM's completion of that activity, once linked in MWM and ODM): the route's reader, ``record_of`` the item,
  ``event_from``, ``forward_message``, then the delivery's (the message read, the record read again, the fingerprint,
  each other system's ``event_body``); floor: ``ActivityEventIn`` and each other system's body. The event's record
  on the activity (an update) is an AWS call, left out.
- FW-03 (an appointment booked at MWM): the route's reader, ``booking_in_mwm``, MWM's answer read (the local runtime's
  MWM's) as the ``Appointment`` CCB is answered; floor: ``AppointmentIn``, the activity type's map, MWM's body,
  ``Appointment``.
- CU-01 (a Siebel order of two billing accounts, each a customer new to CCB): the route's reader,
  ``customer_images``, each customer's create body, CCB's answer (the local runtime's CCB's) read, its record
  (``CustomerStore.state_item``) and the order's outcomes; floor: ``SiebelOrderIn``, each account through the same
  maps (``to_ccb``), ``CcbCustomerIn``, the bodies and the outcomes. CCB's lookup by Siebel id before the create (its
  404) and the cross-references are calls left out.
- CU-02 (an address changed in Siebel for that customer): intake (the route's reader, the parts' maps checked, the
  customer's flags read (``takes_updates``), ``update_message``), then the delivery's (the message read, ``state_of`` the record,
  ``change_of``, ``merged`` with the image kept, CCB's change, the new record); floor: ``AccountUpdateIn``, its parts
  through the same maps, CCB's change.
- OC-01 (an order revision from OSM): intake to the kept revision (``read_order``: the contract, the payment
  methods, the collation; the revision's canonical JSON; the execution's name and input); floor:
  ``FulfillmentOrderIn``, the payment methods' map, the collation, the order serialised. The payment numbers'
  encryption and keyed fingerprint are KMS calls, left out.

MD-01's JSON and CCB XML intakes are rows 1 and 2 of :mod:`benchmarks.cpu`; this module's command prints them
above its points, measured in the same run, as ``make bench`` does.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from benchmarks import cpu
from benchmarks.common import Row, best_of, format_table, sample_body
from benchmarks.cpu import FULL, QUICK, Plan, offline_store, offline_table
from localhub.simulators import field, mdm_usage
from localhub.simulators.ccb import CcbSimulator
from utilhub.packs.customer.ccb import CcbCustomer, CcbCustomerIn
from utilhub.packs.customer.customers import UpdateMessage, change_of, customer_images, merged, update_message
from utilhub.packs.customer.mapping import to_ccb, translator
from utilhub.packs.customer.model import COMPONENTS, AccountUpdateIn, CustomerOutcome, SiebelOrderIn
from utilhub.packs.customer.store import CustomerState, CustomerStore, state_of, takes_updates, timestamp
from utilhub.packs.dacs.acknowledgements import AcknowledgementsIn
from utilhub.packs.dacs.acknowledgements import _same_image as same_image
from utilhub.packs.dacs.extract_file import COLUMNS, Kind, escape
from utilhub.packs.dacs.mapping import ENTITY_OF_KIND
from utilhub.packs.dacs.model import DacsPersonData
from utilhub.packs.dacs.notifications import RELAY as DACS_RELAY
from utilhub.packs.dacs.notifications import CcbAcknowledgement, CcbNotification, acknowledgement_for, notification_of
from utilhub.packs.dacs.records import format_timestamp
from utilhub.packs.dacs.sync import FLOW as DACS_FLOW
from utilhub.packs.field_work.activities import ForwardMessage, body_hash, creation_input, event_from, forward_message, in_target
from utilhub.packs.field_work.model import (
    ActivityEventIn,
    ActivityIn,
    Appointment,
    AppointmentIn,
    CreateInTarget,
    FieldServicePointData,
    ServicePointSyncOut,
    StepEnvelope,
)
from utilhub.packs.field_work.queries import _answer as read_answer
from utilhub.packs.field_work.queries import booking_in_mwm
from utilhub.packs.field_work.routing import ACTIVITY_TYPES, ASSET_SYSTEM, route_activity
from utilhub.packs.field_work.sp_sync import FLOWS as SP_FLOWS
from utilhub.packs.field_work.sp_sync import SERVICE_POINT_TYPES
from utilhub.packs.field_work.store import ActivityStore, record_of
from utilhub.packs.field_work.targets import ACTIVITY_BODIES, event_body
from utilhub.packs.meter_data.billing.events import (
    BILL_EVENTS_USED_ON_BILL,
    BillStatusIn,
    OffCycleBillRequest,
    ReplacementReadsIn,
    UsedOnBillUpdate,
)
from utilhub.packs.meter_data.billing.relays import (
    BILL_STATUS,
    REPLACEMENT_READS,
    bill_status_event_id,
    bill_status_update,
    off_cycle_bill_request,
    used_on_bill_update,
)
from utilhub.packs.meter_data.billing.usage import BillDeterminants, ccb_service_type, for_ccb, from_mdm
from utilhub.packs.meter_data.billing.usage_requests.api import read_request
from utilhub.packs.meter_data.billing.usage_requests.model import UsageQueued, UsageRequestIn, UsageStatus
from utilhub.packs.meter_data.billing.usage_requests.service import (
    ccb_request,
    determinants_of,
    distinct_requests,
    mdm_request,
    queued_messages,
)
from utilhub.packs.meter_data.billing.usage_requests.store import UsageRequestStore, packed
from utilhub.packs.order_to_cash.collation import collate
from utilhub.packs.order_to_cash.model import FulfillmentOrderIn
from utilhub.packs.order_to_cash.orders import check_payment_methods, execution_name, order_content, read_order
from utilhub.platform import relay
from utilhub.platform.dvm import COMMON, domain_value_maps
from utilhub.platform.http import Body
from utilhub.platform.json_input import from_json
from utilhub.platform.relay import RelayMessage
from utilhub.platform.settings import Settings
from utilhub.platform.text import refuse_in_json
from utilhub.syncrequests.api import validate_sync_request
from utilhub.syncrequests.model import SyncFlow, SyncRequestIn, SyncStatus
from utilhub.syncrequests.store import _from_item

FIELD_WORK_MODEL = "v2.1"  # the settings' default: ODM is the asset system


@dataclass(frozen=True)
class Point:
    """One integration point: the hub's path and its floor on the same message, each returning what the target gets."""

    name: str
    hub: Callable[[], bytes]
    floor: Callable[[], bytes]
    floor_note: str


def _json_body[M: BaseModel](model: type[M], body: str) -> M:
    """A JSON body as the hub's routes read it (``read_body``, then the route's model in JSON's strict mode)."""
    raw = json.loads(body)
    refuse_in_json(raw)
    return from_json(model, raw)


def _relay_round(name: str, event_id: str, payload: dict[str, Any], *, fifo: bool = False) -> RelayMessage:
    """What the relay queues at intake (on a FIFO queue, with its deduplication id), and what its delivery reads back
    (with the idempotency fingerprint it makes): the relay's own functions."""
    queued = relay.relay_message(name, event_id, payload)
    body = queued.model_dump_json()
    if fifo:
        relay.deduplication_id(queued)
    message = RelayMessage.model_validate_json(body)
    relay.idempotency_fingerprint(message)
    return message


def _mdm_determinants(request: UsageRequestIn) -> bytes:
    """MDM's answer to the request's bill determinants, as the local runtime's MDM computes it."""
    found = mdm_usage.usage(request.saId, request.periodStart, request.periodEnd)
    return json.dumps(mdm_usage.bill_determinants(found, include_intervals=request.includeIntervals), default=str).encode()


def md11() -> Point:
    body = sample_body("meter_data/usage_requests/submit.json")
    store = UsageRequestStore(offline_table())
    answer = _mdm_determinants(UsageRequestIn.model_validate(json.loads(body)))
    asked = {"saId", "periodStart", "periodEnd", "includeIntervals"}

    def hub() -> bytes:
        raw = json.loads(body)
        refuse_in_json(raw)
        posted = read_request(Body(raw=body.encode(), json=raw))  # the route's reader
        fresh, _ = distinct_requests([posted])  # the intake (UsageRequests.submit), its AWS calls left out
        item = store.new_item(fresh[0], UsageStatus.PENDING, "received", "bench")
        (queued,) = queued_messages([str(item["pk"])], "bench")
        message = UsageQueued.model_validate_json(queued)  # the worker (deliver_batch, UsageRequests.process)
        if message.usageRequestId != item["pk"]:
            raise AssertionError(f"the worker's message names {message.usageRequestId}")
        request = UsageRequestIn.model_validate_json(str(item["request"]))
        mdm_request(request)
        determinants = determinants_of(request, answer)
        packed(determinants)  # kept on the request before CCB's call (UsageRequestStore.keep_determinants)
        sent = ccb_request(request, determinants)
        packed(determinants)  # the request's result, kept with its move to COMPLETED
        return sent

    def floor() -> bytes:
        request = UsageRequestIn.model_validate(json.loads(body))
        json.dumps(request.model_dump(mode="json", include=asked)).encode()
        found = BillDeterminants.model_validate(from_mdm(json.loads(answer)))
        determinants = for_ccb(found.model_dump(mode="json", exclude_none=True))
        ccb = {"usageRequestId": request.usageRequestId, **determinants, "serviceType": ccb_service_type(determinants["serviceType"])}
        return json.dumps(ccb).encode()

    return Point(
        "MD-11 usage request, MDM's determinants to CCB",
        hub,
        floor,
        "UsageRequestIn, MDM's request, BillDeterminants in the hub's codes, CCB's body in its codes",
    )


def md13() -> Point:
    body = sample_body("meter_data/billing_events/replacement-reads.json")

    def hub() -> bytes:
        notification = _json_body(ReplacementReadsIn, body)
        message = _relay_round(REPLACEMENT_READS, notification.notificationId, notification.model_dump(mode="json"))
        return json.dumps(off_cycle_bill_request(message)).encode()

    def floor() -> bytes:
        reads = ReplacementReadsIn.model_validate(json.loads(body))
        request = OffCycleBillRequest(
            requestId=reads.notificationId,
            saId=reads.saId,
            usageTransactionId=reads.usageTransactionId,
            periodStart=reads.periodStart,
            periodEnd=reads.periodEnd,
            reason=reads.reason,
        )
        return json.dumps(request.model_dump(mode="json", exclude_none=True)).encode()

    return Point("MD-13 replacement reads, relayed to CCB", hub, floor, "ReplacementReadsIn, OffCycleBillRequest, json.dumps")


def md16() -> Point:
    body = sample_body("meter_data/billing_events/bill-status.json")
    usage_transaction = "UT-5001"

    def hub() -> bytes:
        status = _json_body(BillStatusIn, body)
        update = bill_status_update(usage_transaction, status)
        message = _relay_round(BILL_STATUS, bill_status_event_id(usage_transaction, status), update.model_dump(mode="json"), fifo=True)
        return json.dumps(used_on_bill_update(message)[1]).encode()

    def floor() -> bytes:
        status = BillStatusIn.model_validate(json.loads(body))
        update = UsedOnBillUpdate(
            eventId=status.eventId,
            usageTransactionId=usage_transaction,
            usedOnBill=BILL_EVENTS_USED_ON_BILL[status.event],
            event=status.event,
            at=status.at,
            billId=status.billId,
            billSegmentId=status.billSegmentId,
        )
        return json.dumps(update.model_dump(mode="json", exclude_none=True)).encode()

    return Point("MD-16 bill status, relayed to MDM", hub, floor, "BillStatusIn, UsedOnBillUpdate, json.dumps")


def _sync_hub(flow: SyncFlow, body: str) -> Callable[[], bytes]:
    """The sync engine's path: intake to the stored item, the delivery's request read back from it, rendered."""
    settings = Settings()
    store = offline_store(flow)

    def hub() -> bytes:
        raw = json.loads(body)
        refuse_in_json(raw)
        item = store._new_item(validate_sync_request(flow, raw, settings), "bench")
        return flow.target_codec.render(_from_item(item), "bench")

    return hub


def _cu01_answers(images: dict[str, CcbCustomerIn]) -> dict[str, bytes]:
    """CCB's answers to the creation of each customer, as the local runtime's CCB gives them."""
    ccb = CcbSimulator()
    return {
        i: ccb.handle("POST", "/customers", json.dumps(image.model_dump(mode="json", exclude_none=True)).encode(), {}).body
        for i, image in images.items()
    }


def cu01() -> Point:
    """A Siebel order of two billing accounts, each a customer new to CCB (its lookup by Siebel id, CCB's 404, and the
    cross-references' reads and writes are calls left out)."""
    body = sample_body("customer/siebel_customers/synchronize-order.json")
    answers = _cu01_answers(customer_images(SiebelOrderIn.model_validate(json.loads(body)))[0])

    def hub() -> bytes:
        order = _json_body(SiebelOrderIn, body)  # the route's reader; then CustomerSync.synchronize_order
        images, carried = customer_images(order)
        at = timestamp(order.submittedAt or datetime.now(UTC))
        sent, outcomes = [], []
        for siebel_id, image in images.items():
            state = CustomerState(siebelAccountId=siebel_id)  # the store has no record of it
            sent.append(json.dumps(image.model_dump(mode="json", exclude_none=True)).encode())  # CcbCustomerClient.create
            customer = CcbCustomer.model_validate(json.loads(answers[siebel_id]))
            update = {
                "ccbPersonId": customer.personId,
                "ccbAccountId": customer.accountId,
                "image": image,
                "changedAt": dict.fromkeys(carried[siebel_id], at),
            }
            CustomerStore.state_item(state.model_copy(update=update))  # the customer's record
            outcome = CustomerOutcome(
                siebelAccountId=siebel_id, ccbPersonId=customer.personId, ccbAccountId=customer.accountId, action="CREATED"
            )
            outcomes.append(outcome.model_dump())
        return b"\n".join([*sent, json.dumps({"orderId": order.orderId, "customers": outcomes}).encode()])

    def floor() -> bytes:
        order = SiebelOrderIn.model_validate(json.loads(body))
        accounts = {line.billingAccount.id: line.billingAccount for line in order.lines}
        tr = translator()
        sent, outcomes = [], []
        for siebel_id, account in accounts.items():
            change = to_ccb({part: getattr(account, part) for part in COMPONENTS}, "", tr)
            if change is None:
                raise AssertionError(f"account {siebel_id} has a code value without a mapping")
            parts = change.model_dump(mode="json", exclude={"siebelAccountId"})
            image = CcbCustomerIn.model_validate({**parts, "contacts": parts["contacts"] or [], "siebelAccountId": siebel_id})
            sent.append(json.dumps(image.model_dump(mode="json", exclude_none=True)).encode())
            customer = json.loads(answers[siebel_id])
            outcome = CustomerOutcome(
                siebelAccountId=siebel_id, ccbPersonId=customer["personId"], ccbAccountId=customer["accountId"], action="CREATED"
            )
            outcomes.append(outcome.model_dump())
        return b"\n".join([*sent, json.dumps({"orderId": order.orderId, "customers": outcomes}).encode()])

    return Point(
        "CU-01 Siebel order, its customers created in CCB",
        hub,
        floor,
        "SiebelOrderIn, each account's CCB customer through the same maps, CCB's bodies, the outcomes",
    )


def cu02() -> Point:
    """An address changed in Siebel for a customer CU-01 synchronized: accepted and queued, then applied to CCB."""
    body = sample_body("customer/siebel_customers/update-account.json")
    siebel_id = "SBL-ACC-100"  # the sample's path
    order = SiebelOrderIn.model_validate(json.loads(sample_body("customer/siebel_customers/synchronize-order.json")))
    images, carried = customer_images(order)
    answer = CcbCustomer.model_validate(json.loads(_cu01_answers(images)[siebel_id]))
    synchronized = CustomerState(
        siebelAccountId=siebel_id,
        ccbPersonId=answer.personId,
        ccbAccountId=answer.accountId,
        image=images[siebel_id],
        changedAt=dict.fromkeys(carried[siebel_id], timestamp(order.submittedAt or datetime.now(UTC))),
    )
    item = {**CustomerStore.state_item(synchronized), "synchronized": True}

    def hub() -> bytes:
        update = _json_body(AccountUpdateIn, body)  # the route's reader; then CustomerSync.accept_update
        parts = {part: getattr(update, part) for part in COMPONENTS if getattr(update, part) is not None}
        tr = translator()
        to_ccb(parts, "#", tr)  # refuses unmapped code values before anything is queued
        tr.check()
        if not takes_updates(item):  # CustomerStore.takes_updates: the item's two flags, not its image
            raise AssertionError("the customer reads as not synchronized")
        queued, _ = update_message(siebel_id, update, parts)
        message = UpdateMessage.model_validate_json(queued)  # the delivery (deliver_updates, CustomerSync.apply_update)
        state = state_of(siebel_id, item)
        change, changed_at = change_of(message)
        found = merged(state, changed_at, change)
        if found is None:
            raise AssertionError("the update is older than the customer's record")
        new_image, diff, times = found
        if diff is None:
            raise AssertionError("the update changes nothing in CCB")
        sent = json.dumps(diff.model_dump(mode="json", exclude_none=True)).encode()  # CcbCustomerClient.change
        CustomerStore.state_item(state.model_copy(update={"image": new_image, "changedAt": times}))
        return sent

    def floor() -> bytes:
        update = AccountUpdateIn.model_validate(json.loads(body))
        change = to_ccb({part: getattr(update, part) for part in COMPONENTS if getattr(update, part) is not None}, "", translator())
        if change is None:
            raise AssertionError("the update has a code value without a mapping")
        return json.dumps(change.model_dump(mode="json", exclude_none=True)).encode()

    return Point(
        "CU-02 Siebel account update applied to CCB",
        hub,
        floor,
        "AccountUpdateIn, its parts through the same maps, CCB's change",
    )


def fw06() -> Point:
    body = sample_body("field_work/sp_sync_requests/submit.json")
    flow = SP_FLOWS[FIELD_WORK_MODEL]
    target = ASSET_SYSTEM[FIELD_WORK_MODEL]
    maps = domain_value_maps()

    def floor() -> bytes:
        request = SyncRequestIn.model_validate(json.loads(body))
        data = FieldServicePointData.model_validate(request.data)
        code = maps.translate(SERVICE_POINT_TYPES, data.spType, source="CCB", target=target, pointer="#/data/spType")
        return (
            ServicePointSyncOut(
                syncRequestId=request.syncRequestId,
                externalId=request.entityId,
                changedAt=request.changedAt,
                premiseId=data.premiseId,
                servicePointType=code,
                address=data.address,
                timeZone=data.timeZone,
                latitude=data.latitude,
                longitude=data.longitude,
            )
            .model_dump_json(exclude_none=True)
            .encode("utf-8")
        )

    return Point(
        f"FW-06 service point to {target}",
        _sync_hub(flow, body),
        floor,
        "SyncRequestIn, FieldServicePointData, the SP type's map, ServicePointSyncOut",
    )


def da02() -> Point:
    body = sample_body("dacs/sync_requests/submit-person.json")

    def floor() -> bytes:
        request = SyncRequestIn.model_validate(json.loads(body))
        data = DacsPersonData.model_validate(request.data)
        address = data.address
        values = (
            request.entityId,
            format_timestamp(request.changedAt),
            data.name,
            data.personType,
            data.emailAddress,
            data.phones[0].number if data.phones else None,
            *((address.line1, address.line2, address.city, address.state, address.postalCode, address.country) if address else (None,) * 6),
            data.language,
        )
        return ("\t".join([escape(v) if v else "" for v in values]) + "\n").encode("utf-8")

    if len(COLUMNS[Kind.CONTACT]) != 13:  # the floor's values follow the contact file's columns
        raise AssertionError(f"the contact file's columns changed: {COLUMNS[Kind.CONTACT]}")
    return Point(
        "DA-02 person to DACS (extract line)", _sync_hub(DACS_FLOW, body), floor, "SyncRequestIn, DacsPersonData, escaped TSV line"
    )


def da04() -> Point:
    """DACS's acknowledgement of a person's contact record, passed on to CCB (``DacsAcknowledgementsToCcb``): the record
    matched to the request in flight, CCB's notification relayed, CCB's acknowledgement. The request DA-02 stored, SENT,
    and the same once acknowledged are the store's items (its reads and the acknowledgement's write are AWS calls)."""
    settings = Settings()
    pending = offline_store(DACS_FLOW)._new_item(
        validate_sync_request(DACS_FLOW, json.loads(sample_body("dacs/sync_requests/submit-person.json")), settings), "bench"
    )
    sent = {
        **pending,
        "status": "SENT",
        "history": [*pending["history"], {"status": "SENT", "at": "2026-11-20T10:00:00+00:00", "reason": "sent"}],
    }
    acknowledged_at, reason = "2026-11-20T10:05:00+00:00", "acknowledged by DACS"
    done = {
        **sent,
        "status": "SYNCHRONIZED",
        "history": [*sent["history"], {"status": "SYNCHRONIZED", "at": acknowledged_at, "reason": reason}],
    }
    request = _from_item(sent)
    record = {
        "fileName": "contacts-20261120T100000000000Z-incremental.tsv",
        "recordType": "CONTACT",
        "externalReferenceId": request.entityId,
        "changeDateTime": format_timestamp(request.changedAt),
        "result": "POSITIVE",
    }
    body = json.dumps({"acknowledgements": [record]})

    def hub() -> bytes:
        acks = _json_body(AcknowledgementsIn, body)  # the route's reader; then apply_acknowledgements
        out = []
        for ack in acks.acknowledgements:
            ENTITY_OF_KIND[ack.recordType]  # the entity whose request in flight it names
            found = _from_item(sent)  # the request in flight, read
            if not (found.status is SyncStatus.SENT and same_image(format_timestamp(found.changedAt), ack.changeDateTime)):
                raise AssertionError(f"the record does not acknowledge {found.syncRequestId}")
            event_id, notification = notification_of(found, ack.result)  # queue_notifications, before applying
            message = _relay_round(DACS_RELAY, event_id, notification.model_dump())
            told = acknowledgement_for(_from_item(done), CcbNotification.model_validate(message.payload))  # notify_ccb
            out.append(json.dumps(told.model_dump()).encode())
        return b"\n".join(out)

    def floor() -> bytes:
        acks = AcknowledgementsIn.model_validate(json.loads(body))
        out = []
        for ack in acks.acknowledgements:
            told = CcbAcknowledgement(
                syncRequestId=request.syncRequestId,
                entityType=request.entityType,
                entityId=ack.externalReferenceId,
                result=ack.result,
                reason=reason,
                acknowledgedAt=acknowledged_at,
            )
            out.append(json.dumps(told.model_dump()).encode())
        return b"\n".join(out)

    return Point(
        "DA-04 DACS acknowledgement, relayed to CCB",
        hub,
        floor,
        "AcknowledgementsIn, CcbAcknowledgement of the request acknowledged, json.dumps",
    )


def fw01() -> Point:
    body = sample_body("field_work/activities/create-activity.json")
    maps = domain_value_maps()

    def hub() -> bytes:
        activity = _json_body(ActivityIn, body)  # the route's reader; then submit, its AWS calls left out
        routed_to = route_activity(activity.sourceSystem, activity.activityType, FIELD_WORK_MODEL)
        item = ActivityStore.new_item(activity, body_hash(activity), routed_to)
        execution = creation_input(activity, routed_to, 1)
        sent = []
        for create in json.loads(execution)["creates"]:  # each create step (run_step), as the workflow hands it over
            step = StepEnvelope.model_validate({"event": create}).event
            if not isinstance(step, CreateInTarget):
                raise AssertionError(f"a create step read as {step!r}")
            recorded = record_of(item).activity  # the step reads the activity from its record
            body_hash(recorded)  # the step's idempotency fingerprint (run_once)
            # the service point's id in the target is a cross-reference read (an AWS call): CCB's, as the floor's
            target = in_target(recorded, step.target, recorded.servicePointId)
            sent.append(json.dumps(ACTIVITY_BODIES[step.target](target)).encode())  # the target client's create
        return b"\n".join(sent)

    def floor() -> bytes:
        activity = ActivityIn.model_validate(json.loads(body))
        common = maps.translate(ACTIVITY_TYPES, activity.activityType, source=activity.sourceSystem, target=COMMON, pointer="")
        sent = []
        for target in route_activity(activity.sourceSystem, activity.activityType, FIELD_WORK_MODEL):
            code = maps.translate(ACTIVITY_TYPES, common, source=COMMON, target=target, pointer="")
            sent.append(json.dumps(ACTIVITY_BODIES[target](activity.model_copy(update={"activityType": code}))).encode())
        return b"\n".join(sent)

    return Point("FW-01 CCB activity to its targets", hub, floor, "ActivityIn, routing, each target's body")


def fw02() -> Point:
    """MWM's completion of a CCB activity created in MWM and ODM (FW-01), forwarded to the other linked systems."""
    body = sample_body("field_work/activities/complete-activity.json")
    activity = ActivityIn.model_validate(json.loads(sample_body("field_work/activities/create-activity.json")))
    routed_to = route_activity(activity.sourceSystem, activity.activityType, FIELD_WORK_MODEL)
    links = {activity.sourceSystem: activity.activityId, **{target: f"{target}-0001" for target in routed_to}}
    linked = {**ActivityStore.new_item(activity, body_hash(activity), routed_to), "status": "LINKED", "links": links}
    sender = "MWM"

    def hub() -> bytes:
        event = _json_body(ActivityEventIn, body)  # the route's reader; then accept_event, its AWS calls left out
        record = record_of(linked)  # the activity the sender names, read
        resolved, _ = event_from(event, event.fromSystem or sender)
        queued, _ = forward_message(record.activity.sourceSystem, record.activity.activityId, resolved)
        message = ForwardMessage.model_validate_json(queued)  # the delivery (deliver_events, forward_event)
        record = record_of(linked)
        from_system = message.event.fromSystem or message.sourceSystem
        message.event.model_dump_json()  # the delivery's idempotency fingerprint (run_once)
        sent = [json.dumps(event_body(message.event, system)).encode() for system in record.links if system != from_system]
        return b"\n".join(sent)

    def floor() -> bytes:
        event = ActivityEventIn.model_validate(json.loads(body))
        return b"\n".join(json.dumps(event_body(event, system)).encode() for system in links if system != event.fromSystem)

    return Point(
        "FW-02 activity completion to the other linked systems",
        hub,
        floor,
        "ActivityEventIn, each other system's body",
    )


def fw03() -> Point:
    body = sample_body("field_work/queries/book-appointment.json")
    maps = domain_value_maps()
    booking = AppointmentIn.model_validate(json.loads(body))
    answer = field.mwm().handle("POST", "/appointments", json.dumps(booking_in_mwm(booking)).encode(), {}).body  # the local runtime's MWM

    def hub() -> bytes:
        appointment = _json_body(AppointmentIn, body)  # the route's reader; then book_appointment, MWM's call left out
        sent = json.dumps(booking_in_mwm(appointment)).encode()  # TimeBudget.json_call's body
        booked = read_answer(Appointment, "MWM", json.loads(answer)).model_dump(mode="json")  # what CCB is answered
        return sent + b"\n" + json.dumps(booked).encode()

    def floor() -> bytes:
        appointment = AppointmentIn.model_validate(json.loads(body))
        common = maps.translate(ACTIVITY_TYPES, appointment.activityType, source="CCB", target=COMMON, pointer="")
        code = maps.translate(ACTIVITY_TYPES, common, source=COMMON, target="MWM", pointer="")
        sent = json.dumps({**appointment.model_dump(mode="json"), "activityType": code}).encode()
        booked = Appointment.model_validate(json.loads(answer)).model_dump(mode="json")
        return sent + b"\n" + json.dumps(booked).encode()

    return Point(
        "FW-03 appointment booked at MWM",
        hub,
        floor,
        "AppointmentIn, the activity type's map, MWM's body, Appointment of MWM's answer",
    )


def oc01() -> Point:
    body = sample_body("order_to_cash/fulfillment_orders/submit-order.json")

    def hub() -> bytes:
        raw = json.loads(body)
        refuse_in_json(raw)
        order = read_order(Body(raw=body.encode(), json=raw))
        content = order_content(order)  # what is kept, and what a retry is compared with
        execution_name(order.orderId, order.revision)
        json.dumps({"orderId": order.orderId, "revision": order.revision}, sort_keys=True, separators=(",", ":"))
        return content.encode()

    def floor() -> bytes:
        order = FulfillmentOrderIn.model_validate(json.loads(body))
        check_payment_methods(order)
        collate(order)
        return json.dumps(order.model_dump(mode="json", exclude_none=True), sort_keys=True, separators=(",", ":")).encode()

    return Point(
        "OC-01 order intake (to the kept revision)",
        hub,
        floor,
        "FulfillmentOrderIn, its payment methods' map, the collation, json.dumps",
    )


PointFactory = Callable[[], Point]
POINTS: tuple[PointFactory, ...] = (md11, md13, md16, fw06, da02, da04, fw01, fw02, fw03, cu01, cu02, oc01)


def measure(plan: Plan) -> list[Row]:
    """A row per point: the hub's path and its floor in µs per message, interleaved, the least of the plan's rounds."""
    points = [make() for make in POINTS]
    for point in points:
        hub, floor = point.hub(), point.floor()
        if hub != floor:  # the floor must build the very same message
            raise AssertionError(f"{point.name}: the floor sends another message:\n{hub!r}\n{floor!r}")
    cases: dict[str, Callable[[], object]] = {}
    for point in points:
        cases[f"{point.name} floor"] = point.floor
        cases[f"{point.name} hub"] = point.hub
    t = best_of(cases, iterations=plan.iterations, rounds=plan.rounds)
    return [Row(point.name, t[f"{point.name} hub"], t[f"{point.name} floor"], "µs/msg", f"floor: {point.floor_note}") for point in points]


def with_md01(cpu_rows: list[Row], points: list[Row]) -> list[Row]:
    """MD-01's two intakes (rows 1 and 2 of the CPU table, measured in the same run) above the section's points."""
    json_row, xml_row = (next(r for r in cpu_rows if r.measure.startswith(n)) for n in ("1.", "2."))
    return [
        Row("MD-01 JSON intake (row 1)", json_row.hub, json_row.floor, json_row.unit, json_row.note),
        Row("MD-01 CCB XML intake (row 2)", xml_row.hub, xml_row.floor, xml_row.unit, xml_row.note),
        *points,
    ]


def report(rows: list[Row]) -> str:
    body = [
        [row.measure, f"{row.hub:.1f}", f"{row.floor:.1f}" if row.floor else "", f"{row.ratio:.2f}" if row.ratio else "", row.note]
        for row in rows
    ]
    return format_table(["integration point", "hub µs", "floor µs", "ratio", "note"], body, right={1, 2, 3})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.handler_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations and rounds (checks it works; figures are rough)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    cpu_rows = cpu.json_intake(plan) + cpu.xml_intake(plan)
    print(report(with_md01(cpu_rows, measure(plan))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
