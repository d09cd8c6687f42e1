"""Every handler module, imported as Lambda imports it and called with its sample events, in its
template environment (tables, queues and simulators from the local hub). The catalogue test
checks that each function has these; this checks that each answers them."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from localhub.hub import LocalHub
from localhub.lambda_runtime import LambdaContext, function_environment
from tests.conftest import sample_event


def call(hub: LocalHub, logical_id: str, event: dict[str, Any]) -> Any:
    spec = hub.function(logical_id)
    module = importlib.import_module(spec.module)
    with function_environment({**spec.environment, "AWS_LAMBDA_FUNCTION_NAME": spec.name}):
        return module.lambda_handler(event, LambdaContext(spec.name, spec.memory, spec.timeout))


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
    # functions.meter_data.sync_monitor.app: the scheduled event queues SR-1001 as attempt 1
    report = call(hub, "MeterDataSyncMonitorFunction", sample_event("meter_data/sync_monitor/schedule.json"))
    assert report["queued"] == 5
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
    # functions.order_to_cash.order_steps.app and functions.order_to_cash.brm_steps.app, step by step
    plan = call(hub, "OrderToCashOrderStepsFunction", sample_event("order_to_cash/order_steps/collate.json"))
    assert [a["account"]["id"] for a in plan["billToAccounts"]] == ["BA-100"]
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
