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

Points:

- MD-11 (a usage request of a bill run): intake to the stored request and the worker's queued message, then the
  worker's request read back from its item, MDM's request, MDM's answer read in the hub's codes and checked against
  the request, kept compressed on the request, and CCB's body in CCB's codes (MDM's answer is the local runtime's
  MDM's for the sample); floor: ``UsageRequestIn``, MDM's request, ``BillDeterminants`` of MDM's answer in the hub's
  codes, CCB's body in CCB's codes.
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
- FW-01 (a CCB activity created in each target its routing names): intake (the activity, its routing, its hash,
  the stored activity, the workflow's input), then each create step (the step's event, the activity read back,
  its type in the target's code, the target's body); floor: ``ActivityIn``, each target's body built and
  serialised. The service point's id in the target (a cross-reference read) is an AWS call, left out.
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
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from benchmarks import cpu
from benchmarks.common import Row, best_of, format_table, sample_body
from benchmarks.cpu import FULL, QUICK, Plan, offline_store, offline_table
from localhub.simulators import mdm_usage
from utilhub.packs.dacs.extract_file import COLUMNS, Kind, escape
from utilhub.packs.dacs.model import DacsPersonData
from utilhub.packs.dacs.records import format_timestamp
from utilhub.packs.dacs.sync import FLOW as DACS_FLOW
from utilhub.packs.field_work.activities import body_hash
from utilhub.packs.field_work.model import (
    ActivityIn,
    ActivityKey,
    CancelInTarget,
    CreateInTarget,
    FieldServicePointData,
    ServicePointSyncOut,
    StepEnvelope,
)
from utilhub.packs.field_work.routing import ACTIVITY_TYPES, ASSET_SYSTEM, common_type, route_activity, type_in
from utilhub.packs.field_work.sp_sync import FLOWS as SP_FLOWS
from utilhub.packs.field_work.sp_sync import SERVICE_POINT_TYPES
from utilhub.packs.field_work.targets import ACTIVITY_BODIES
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
from utilhub.packs.meter_data.billing.usage import BillDeterminants, ccb_service_type, for_ccb, from_mdm, mismatch, read_determinants
from utilhub.packs.meter_data.billing.usage_requests.model import UsageQueued, UsageRequestIn, UsageStatus, parse_request
from utilhub.packs.meter_data.billing.usage_requests.store import UsageRequestStore
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
from utilhub.syncrequests.model import SyncFlow, SyncRequestIn
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

    def to_ccb(request: UsageRequestIn, determinants: dict[str, Any]) -> bytes:
        ccb = {"usageRequestId": request.usageRequestId, **determinants, "serviceType": ccb_service_type(determinants["serviceType"])}
        return json.dumps(ccb).encode()

    def hub() -> bytes:
        raw = json.loads(body)
        refuse_in_json(raw)
        item = store.new_item(parse_request(raw), UsageStatus.PENDING, "received", "bench")
        queued = UsageQueued(usageRequestId=str(item["pk"]), correlationId="bench").model_dump_json()
        UsageQueued.model_validate_json(queued)  # the worker's message
        request = UsageRequestIn.model_validate_json(str(item["request"]))
        json.dumps(request.model_dump(mode="json", include=asked)).encode()  # MDM's request
        found = read_determinants(answer)
        if (wrong := mismatch(found, request)) is not None:
            raise AssertionError(wrong)
        determinants = for_ccb(found.model_dump(mode="json", exclude_none=True))
        zlib.compress(json.dumps(determinants, separators=(",", ":")).encode())  # kept on the request before CCB's call
        return to_ccb(request, determinants)

    def floor() -> bytes:
        request = UsageRequestIn.model_validate(json.loads(body))
        json.dumps(request.model_dump(mode="json", include=asked)).encode()
        found = BillDeterminants.model_validate(from_mdm(json.loads(answer)))
        return to_ccb(request, for_ccb(found.model_dump(mode="json", exclude_none=True)))

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


def fw01() -> Point:
    body = sample_body("field_work/activities/create-activity.json")
    maps = domain_value_maps()

    def hub() -> bytes:
        activity = _json_body(ActivityIn, body)
        routed_to = route_activity(activity.sourceSystem, activity.activityType, FIELD_WORK_MODEL)
        body_hash(activity)
        stored = activity.model_dump_json()  # the activity's item
        key = ActivityKey.of(activity)
        execution = json.dumps(
            {
                "activity": key.model_dump(mode="json"),
                "creates": [CreateInTarget(target=t, activity=key, attempt=1).model_dump(mode="json") for t in routed_to],
                "cancels": [CancelInTarget(target=t, activity=key).model_dump(mode="json") for t in routed_to],
                "canceled": [],
                "compensationError": None,
            }
        )
        sent = []
        for create in json.loads(execution)["creates"]:  # each create step, as the workflow hands it over
            step = StepEnvelope.model_validate({"event": create}).event
            if not isinstance(step, CreateInTarget):
                raise AssertionError(f"a create step read as {step!r}")
            recorded = ActivityIn.model_validate_json(stored)
            body_hash(recorded)  # the step's idempotency fingerprint
            in_target = recorded.model_copy(
                update={"activityType": type_in(step.target, common_type(recorded.activityType, recorded.sourceSystem))}
            )
            sent.append(json.dumps(ACTIVITY_BODIES[step.target](in_target)).encode())
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
POINTS: tuple[PointFactory, ...] = (md11, md13, md16, fw06, da02, fw01, oc01)


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
