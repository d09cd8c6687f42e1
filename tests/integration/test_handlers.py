"""Every handler module, imported as Lambda imports it and called with its sample events, in its
template environment (tables, queues and simulators from the local hub). The catalogue test
checks that each function has these; this checks that each answers them."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from localhub.hub import LocalHub
from localhub.lambda_.runtime import INVOCATION_LOCK, LambdaContext, function_environment, lambda_variables
from tests.conftest import sample_event
from tests.helpers import synchronize_service_points


def call(hub: LocalHub, logical_id: str, event: dict[str, Any]) -> Any:
    spec = hub.function(logical_id)
    with INVOCATION_LOCK, function_environment(lambda_variables(spec)):  # not while a workflow's task runs in another thread
        module = importlib.import_module(spec.module)  # its init builds what it needs from its environment
        return module.lambda_handler(event, LambdaContext(spec.name, spec.memory, spec.timeout))


def query_of(sync_request_id: str) -> dict[str, Any]:
    """The meter data query's sample event, asking for ``sync_request_id``."""
    event = sample_event("meter_data/sync_requests/query.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/meter-data/sync-requests/{sync_request_id}"
    event["pathParameters"] = {"syncRequestId": sync_request_id}
    return event


@pytest.mark.parametrize(
    ("module", "logical_id"),
    [
        ("functions.meter_data.sync_requests.app", "MeterDataSyncRequestsFunction"),
        ("functions.meter_data.sync_monitor.app", "MeterDataSyncMonitorFunction"),
        ("functions.meter_data.sync_delivery.app", "MeterDataDeliveryFunction"),
        ("functions.order_to_cash.fulfillment_orders.app", "OrderToCashOrdersFunction"),
        ("functions.order_to_cash.order_steps.app", "OrderToCashOrderStepsFunction"),
        ("functions.order_to_cash.brm_steps.app", "OrderToCashBrmStepsFunction"),
    ],
)
def test_the_template_points_at_the_handler_module(hub: LocalHub, module: str, logical_id: str) -> None:
    assert hub.function(logical_id).module == module


def test_meter_data_handlers_answer_their_sample_events(hub: LocalHub) -> None:
    # functions.meter_data.sync_requests.app: intake, batch, query, acknowledgement, resubmission
    assert call(hub, "MeterDataSyncRequestsFunction", sample_event("meter_data/sync_requests/submit-person.json"))["statusCode"] == 202
    assert call(hub, "MeterDataSyncRequestsFunction", sample_event("meter_data/sync_requests/submit-person-xml.json"))["statusCode"] == 202
    assert call(hub, "MeterDataSyncRequestsFunction", sample_event("meter_data/sync_requests/submit-batch.json"))["statusCode"] == 202
    # (the two requests posted alone went at their intake, SR-1001 as attempt 1; the batch's three wait for the monitor)
    sent = {i: call(hub, "MeterDataSyncRequestsFunction", query_of(i)) for i in ("SR-1001", "SR-1002", "SR-2001")}
    assert {i: json.loads(r["body"])["status"] for i, r in sent.items()} == {"SR-1001": "SENT", "SR-1002": "SENT", "SR-2001": "PENDING"}
    # functions.meter_data.sync_monitor.app: the scheduled event queues the batch's three
    report = call(hub, "MeterDataSyncMonitorFunction", sample_event("meter_data/sync_monitor/schedule.json"))
    assert report["queued"] == 3
    # functions.meter_data.sync_delivery.app: the sample SQS record is SR-1001's first attempt
    answer = call(hub, "MeterDataDeliveryFunction", sample_event("meter_data/sync_delivery/sqs-fifo.json"))
    assert answer == {"batchItemFailures": []}
    query = call(hub, "MeterDataSyncRequestsFunction", sample_event("meter_data/sync_requests/query.json"))
    assert json.loads(query["body"])["status"] == "SYNCHRONIZED"
    # the acknowledgement sample is for a SENT request: SR-1001 is SYNCHRONIZED now, so the same POSITIVE answer is a no-op
    ack = call(hub, "MeterDataSyncRequestsFunction", sample_event("meter_data/sync_requests/acknowledge.json"))
    assert (ack["statusCode"], json.loads(ack["body"])["status"]) == (200, "SYNCHRONIZED")
    resubmit = call(hub, "MeterDataSyncRequestsFunction", sample_event("meter_data/sync_requests/resubmit.json"))
    assert resubmit["statusCode"] == 409  # only an ERROR request can be resubmitted


def test_order_to_cash_handlers_answer_their_sample_events(hub: LocalHub) -> None:
    # functions.order_to_cash.order_steps.app and functions.order_to_cash.brm_steps.app, step by step, on the sample
    # order as the intake keeps it (the steps name it by its key)
    from tests.integration.test_order_to_cash_fulfillment_orders import keep_sample_order

    keep_sample_order(hub)
    plan = call(hub, "OrderToCashOrderStepsFunction", sample_event("order_to_cash/order_steps/collate.json"))
    assert [a["sourceId"] for a in plan["billToAccounts"]] == ["BA-100"]
    for name in ("ensure-account", "ensure-service-account", "ensure-billing-profile"):
        outcome = call(hub, "OrderToCashBrmStepsFunction", sample_event(f"order_to_cash/brm_steps/{name}.json"))
        assert outcome["created"], name
    summary = call(hub, "OrderToCashOrderStepsFunction", sample_event("order_to_cash/order_steps/summarize.json"))
    assert summary["hierarchy"][0]["account"] == "SA-100"
    # functions.order_to_cash.fulfillment_orders.app: intake and result query
    assert call(hub, "OrderToCashOrdersFunction", sample_event("order_to_cash/fulfillment_orders/submit-order.json"))["statusCode"] == 202
    assert hub.settle() == []  # the execution's tasks run in this process: let it end inside the test
    query = call(hub, "OrderToCashOrdersFunction", sample_event("order_to_cash/fulfillment_orders/query-result.json"))
    assert query["statusCode"] == 200
    assert (json.loads(query["body"])["orderId"], json.loads(query["body"])["status"]) == ("ORD-1001", "SUCCEEDED")


# The handlers of the other packs, each imported by its module name as Lambda imports it. Their flows are
# tested point by point elsewhere (through the hub, by logical id); here every sample event of each is
# answered by the module itself, on a fresh hub: no unhandled error, no 5xx, and an answer of its kind.
HANDLERS = [
    ("functions.customer.siebel_customers.app", "CustomerSiebelFunction"),
    ("functions.customer.synchronizing_monitor.app", "CustomerSynchronizingMonitorFunction"),
    ("functions.field_work.activities.app", "FieldWorkActivitiesFunction"),
    ("functions.field_work.creation_sweep.app", "FieldWorkActivityCreationSweepFunction"),
    ("functions.field_work.queries.app", "FieldWorkQueriesFunction"),
    ("functions.field_work.notifications.app", "FieldWorkRelayFunction"),
    ("functions.field_work.sp_sync_requests.app", "FieldWorkSpSyncRequestsFunction"),
    ("functions.field_work.sp_sync_monitor.app", "FieldWorkSpSyncMonitorFunction"),
    ("functions.field_work.sp_sync_delivery.app", "FieldWorkSpSyncDeliveryFunction"),
    ("functions.dacs.sync_requests.app", "DacsSyncRequestsFunction"),
    ("functions.dacs.incremental_extract.app", "DacsIncrementalExtractFunction"),
    ("functions.dacs.acknowledgements.app", "DacsAcknowledgementsFunction"),
    ("functions.meter_data.usage.app", "MeterDataUsageFunction"),
    ("functions.meter_data.usage_requests.app", "MeterDataUsageRequestsFunction"),
    ("functions.meter_data.usage_release.app", "MeterDataUsageReleaseFunction"),
    ("functions.meter_data.billing_events.app", "MeterDataRelayIntakeFunction"),
    ("functions.meter_data.billing_event_delivery.app", "MeterDataRelayFunction"),
    ("functions.meter_data.bill_cycle_requests.app", "MeterDataBillCycleFunction"),
    ("functions.meter_data.usage_adjustments.app", "MeterDataAdjustmentFunction"),
    ("functions.meter_data.links.app", "MeterDataLinksFunction"),
    ("functions.sync_requests.ccb_outcomes.app", "SyncRequestsCcbOutcomesFunction"),
]


# The handlers whose sample events are about records a fresh hub does not hold (a queued delivery, a workflow
# step, a file under extract/): each is called with them after its pack's test has made those records, in the
# test named here (through the hub, by logical id); here the template is checked to deploy the module.
NEED_STATE = [
    ("functions.customer.update_delivery.app", "CustomerUpdateDeliveryFunction", "test_customer_siebel_customers.py"),
    ("functions.field_work.activity_steps.app", "FieldWorkActivityStepsFunction", "test_field_work_activities.py"),
    ("functions.field_work.event_delivery.app", "FieldWorkEventDeliveryFunction", "test_field_work_activities.py"),
    ("functions.dacs.notifications.app", "DacsNotificationsFunction", "test_dacs_incremental_sync.py"),
    ("functions.dacs.initial_sync.app", "DacsInitialSyncFunction", "test_dacs_initial_sync.py"),
    ("functions.dacs.file_transfer.app", "DacsFileTransferFunction", "test_dacs_file_transfer.py"),
    ("functions.meter_data.usage_delivery.app", "MeterDataUsageDeliveryFunction", "test_meter_data_usage_requests.py"),
]


@pytest.mark.parametrize(("module", "logical_id", "test_file"), NEED_STATE)
def test_handlers_that_need_records_are_deployed_and_their_samples_used_by_their_pack_test(
    hub: LocalHub, module: str, logical_id: str, test_file: str
) -> None:
    from pathlib import Path

    # the template deploys the module, and the pack's test invokes the function with its sample events
    assert hub.function(logical_id).module == module
    text = (Path(__file__).parent / test_file).read_text(encoding="utf-8")
    _, pack, point, _ = module.split(".")
    assert f"{pack}/{point}/" in text, f"{test_file} does not use the sample events of {module}"


def sample_events_of(module: str) -> list[str]:
    from tests.conftest import EVENTS

    _, pack, point, _ = module.split(".")
    return sorted(str(path.relative_to(EVENTS)) for path in (EVENTS / pack / point).glob("*.json"))


@pytest.mark.parametrize(("module", "logical_id"), HANDLERS)
def test_every_handler_module_answers_each_of_its_sample_events(hub: LocalHub, module: str, logical_id: str) -> None:
    # Given the handler the template deploys for the function, and its sample events
    assert hub.function(logical_id).module == module
    samples = sample_events_of(module)
    assert samples, module
    if logical_id == "FieldWorkActivitiesFunction":  # FW-01 creates in WAM or ODM only what FW-06 synchronized there
        synchronize_service_points(hub, "SP-0007", "SP-2001")

    # When the module is called with each, Then it answers without an unhandled error: an API event with a status
    # below 500 (what the sample names may not exist on a fresh hub: 404 is an answer), an SQS batch with its list
    # of records to redeliver, a scheduled or workflow event with its report
    for name in samples:
        event = sample_event(name)
        answer = call(hub, logical_id, event)
        if "requestContext" in event:
            assert answer["statusCode"] < 500, (name, answer)
        elif "Records" in event:
            assert isinstance(answer["batchItemFailures"], list), (name, answer)
        else:
            assert isinstance(answer, dict), (name, answer)
    assert hub.settle() == []


def test_the_ccb_outcomes_handler_tells_ccb_its_sample_outcome_once(hub: LocalHub) -> None:
    # Given functions.sync_requests.ccb_outcomes.app and its sample: MDM's positive outcome of SR-P1, handed over twice
    event = sample_event("sync_requests/ccb_outcomes/sqs.json")
    first = call(hub, "SyncRequestsCcbOutcomesFunction", event)
    again = call(hub, "SyncRequestsCcbOutcomesFunction", event)
    # Then nothing is left to redeliver, and CCB holds that acknowledgement once
    assert first["batchItemFailures"] == again["batchItemFailures"] == []
    acknowledgements = hub.simulators["CCB"].records["SYNC-ACK#SR-P1"]["acknowledgements"]
    assert [(a["result"], a["target"]) for a in acknowledgements] == [("POSITIVE", "MDM")]
