"""AWS calls and cost per message of the integration points beyond MD-01 and MD-11, through the real handlers.

``python -m benchmarks.points [--messages 20] [--summary FILE]``

Each point is driven as its callers drive it, in-process on the local hub and the embedded AWS (as
:mod:`benchmarks.aws_calls` drives MD-01): its route called ``--messages`` times with distinct ids, the schedules
its flow needs run, the queues drained and the workflows waited for, until the journal (docs/operations.md) holds
every transaction in its final state. Every botocore call is recorded with the function that made it, after a
warm-up of the same point (imports, clients, the targets' secrets). Step Functions Standard transitions are read from
the executions' histories (each ``...StateEntered`` event is one billed transition). The cost per message and its
floor are :func:`benchmarks.cost.cost_per_message` and :func:`benchmarks.cost.floor_per_message`; the handlers'
CPU is the local runtime's, as the MD-11 bill run measures it.

Points: MD-13 (the meter data relay MD-16 and MD-20 share), CU-02 (a customer CU-01 synchronized first, not
counted), FW-01 (a CCB meter exchange routed to MWM and ODM), OC-01 (one order of the sample's shape through its
Standard workflow; its payment numbers encrypted with KMS), DA-02 (a person through the incremental extract, the
file transfer and DACS's acknowledgement, DA-04, with ``DacsAcknowledgementsToCcb`` on).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import cost as cost_model
from benchmarks.aws_calls import RUNTIME, Recorder, Scenario, ScenarioFailed, TableInfo, item_facts, table_info
from benchmarks.common import captured, format_table, sample_body
from localhub.aws.endpoint import embedded_aws

JSON_HEADERS = {"content-type": "application/json"}
JOURNAL = "JournalTable"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict[str, Any]
    claims: dict[str, Any]


@dataclass(frozen=True)
class PointFlow:
    """How one integration point is driven: its requests, what they need first, and what runs them to the end."""

    point: str  # the journal's point id
    label: str  # the line of the per-point table
    api_function: str
    target_function: str  # the function that waits on the target's answer (priced with TARGET_CALL_MS)
    requests: Callable[[str, int], list[Request]]  # the counted request(s) of message ``index`` of run ``prefix``
    final: frozenset[str]  # the journal's detail states that end the transaction
    schedules: tuple[str, ...] = ()  # functions whose schedule moves the flow on (run between drains)
    prepare: Callable[[str, int], list[Request]] | None = None  # requests sent before, not counted
    prepare_schedules: tuple[str, ...] = ()  # functions whose schedule moves the prepared requests on
    answer: Callable[[Any, Recorder], None] | None = None  # what the target application does on its side, between drains
    also_api: tuple[str, ...] = ()  # other functions behind routes the flow calls (each invocation an API request)


def _body(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sample_body(relative))
    return loaded


def _claims(client: str, scope: str) -> dict[str, Any]:
    return {"client_id": client, "scope": scope, "token_use": "access"}


def _relay(prefix: str, index: int) -> list[Request]:
    body = {**_body("meter_data/billing_events/replacement-reads.json"), "notificationId": f"RR-{prefix}{index}"}
    return [Request("POST", "/meter-data/replacement-reads", body, _claims("mdm", "utilhub/meter-data-mdm"))]


def _siebel_account(prefix: str, index: int) -> str:
    return f"SBL-{prefix}{index}"


def _customer_order(prefix: str, index: int) -> list[Request]:
    order = _body("customer/siebel_customers/synchronize-order.json")
    account = copy.deepcopy(order["lines"][0]["billingAccount"])
    account_id = _siebel_account(prefix, index)
    account.update(id=account_id)
    account["billingProfile"]["id"] = f"BP-{account_id}"
    account["statementProfile"]["id"] = f"ST-{account_id}"
    body = {
        "orderId": f"SBL-ORD-{prefix}{index}",
        "submittedAt": order["submittedAt"],
        "lines": [{"lineId": "1", "billingAccount": account}],
    }
    return [Request("POST", "/customer/siebel/orders", body, _claims("siebel", "utilhub/customer"))]


def _customer_update(prefix: str, index: int) -> list[Request]:
    body = {**_body("customer/siebel_customers/update-account.json"), "updateId": f"UPD-{prefix}{index}"}
    account_id = _siebel_account(prefix, index)
    return [Request("POST", f"/customer/siebel/accounts/{account_id}/updates", body, _claims("siebel", "utilhub/customer"))]


def _activity_service_point(prefix: str, index: int) -> list[Request]:
    """FW-06 first: the activity reaches ODM at ODM's id of its service point (the same request again stores nothing)."""
    body = _activity(prefix, index)[0].body
    sync = {
        "syncRequestId": f"SPS-{body['servicePointId']}",
        "entityType": "SERVICE_POINT",
        "entityId": body["servicePointId"],
        "changedAt": "2026-11-01T09:00:00Z",
        "data": {"premiseId": f"PR-{body['servicePointId']}", "spType": "E-RES"},
    }
    return [Request("POST", "/field-work/sync-requests", sync, _claims("ccb", "utilhub/field-work-ccb"))]


def _activity(prefix: str, index: int) -> list[Request]:
    body = {**_body("field_work/activities/create-activity.json"), "activityId": f"FA-{prefix}{index}"}
    return [Request("POST", "/field-work/activities", body, _claims("ccb", "utilhub/field-work"))]


def _order(prefix: str, index: int) -> list[Request]:
    body = {**_body("order_to_cash/fulfillment_orders/submit-order.json"), "orderId": f"ORD-{prefix}{index}"}
    # the order's own accounts: each order creates its accounts, billinfo and payinfo in BRM, as a new customer's does
    text = json.dumps(body).replace('"SA-100"', f'"SA-{prefix}{index}"').replace('"BA-100"', f'"BA-{prefix}{index}"')
    text = text.replace('"BP-100"', f'"BP-{prefix}{index}"')
    return [Request("POST", "/order-to-cash/fulfillment-orders", json.loads(text), _claims("osm", "utilhub/order-to-cash"))]


def _dacs_imports_and_acknowledges(hub: Any, recorder: Recorder) -> None:
    """DACS imports the files in upload/ (its own reads, not counted) and posts its acknowledgements (DA-04, counted)."""
    dacs = hub.simulators["DACS"]
    with recorder.pause():
        dacs.import_uploads()
    dacs.send_acknowledgements()


def _dacs_person(prefix: str, index: int) -> list[Request]:
    body = {**_body("dacs/sync_requests/submit-person.json"), "syncRequestId": f"DSR-{prefix}{index}", "entityId": f"P-{prefix}{index}"}
    return [Request("POST", "/dacs/sync-requests", body, _claims("ccb", "utilhub/dacs"))]


FLOWS = (
    PointFlow(
        "MD-13",
        "MD-13 relay (MD-16, MD-20 alike)",
        "MeterDataRelayIntakeFunction",
        "MeterDataRelayFunction",
        _relay,
        frozenset({"DELIVERED"}),
    ),
    PointFlow(
        "CU-02",
        "CU-02 customer update",
        "CustomerSiebelFunction",
        "CustomerUpdateDeliveryFunction",
        _customer_update,
        frozenset({"APPLIED", "UNCHANGED"}),
        prepare=_customer_order,
    ),
    PointFlow(
        "FW-01",
        "FW-01 activity to MWM and ODM",
        "FieldWorkActivitiesFunction",
        "FieldWorkActivityStepsFunction",
        _activity,
        frozenset({"LINKED"}),
        prepare=_activity_service_point,
        prepare_schedules=("FieldWorkSpSyncMonitorFunction",),
    ),
    PointFlow(
        "OC-01",
        "OC-01 order through its workflow",
        "OrderToCashOrdersFunction",
        "OrderToCashBrmStepsFunction",
        _order,
        frozenset({"SUCCEEDED"}),
    ),
    PointFlow(
        "DA-02",
        "DA-02 person to DACS, acknowledged",
        "DacsSyncRequestsFunction",
        "DacsIncrementalExtractFunction",
        _dacs_person,
        frozenset({"SYNCHRONIZED"}),
        schedules=("DacsIncrementalExtractFunction",),
        answer=_dacs_imports_and_acknowledges,
        also_api=("DacsAcknowledgementsFunction",),
    ),
)


# ------------------------------------------------------------------------------ the run
def _tables() -> dict[str, TableInfo]:
    """Every table of the stack (the embedded AWS holds only the hub's)."""
    import boto3

    client = boto3.session.Session().client("dynamodb")
    tables: dict[str, TableInfo] = {}
    for name in client.list_tables()["TableNames"]:
        tables[name] = table_info(client.describe_table(TableName=name)["Table"])
    return tables


def _heads(hub: Any, point: str) -> dict[str, str]:
    """The journal's transactions of ``point``: id -> the pack's own state."""
    import boto3

    client = boto3.session.Session().client("dynamodb")
    heads: dict[str, str] = {}
    for page in client.get_paginator("scan").paginate(TableName=hub.resources()[JOURNAL]):
        for item in page["Items"]:
            if item.get("sk", {}).get("S") == "head" and item.get("point", {}).get("S") == point:
                heads[item["id"]["S"]] = item.get("detailState", {}).get("S", "")
    return heads


def _transitions_since(started: float) -> tuple[int, int]:
    """Standard workflow state transitions of the executions started since ``started`` (epoch seconds), and of them
    those entering a Task state."""
    import boto3

    client = boto3.session.Session().client("stepfunctions")
    transitions = tasks = 0
    for machine in client.list_state_machines()["stateMachines"]:
        for execution in client.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]:
            if execution["startDate"].timestamp() < started:
                continue
            history = client.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            transitions += sum(1 for event in history if event["type"].endswith("StateEntered"))
            tasks += sum(1 for event in history if event["type"] == "TaskStateEntered")
    return transitions, tasks


def _send(hub: Any, requests: list[Request]) -> None:
    for request in requests:
        response = hub.call_api(request.method, request.path, body=json.dumps(request.body), headers=JSON_HEADERS, claims=request.claims)
        if response.status not in (200, 202):
            raise ScenarioFailed(f"{request.method} {request.path} answered {response.status}: {response.body[:300]!r}")


def _settle(hub: Any, recorder: Recorder, flow: PointFlow, ids: set[str], timeout: float) -> dict[str, str]:
    """Run the flow's schedules and drain its queues until every transaction of ``ids`` is in a final state."""
    deadline = time.monotonic() + timeout
    while True:
        for schedule in flow.schedules:
            run = hub.run_schedule(schedule)
            if run.failed:
                raise ScenarioFailed(f"{flow.point}: {schedule} failed: {run.error}")
        hub.drain(max_polls=1_000)
        if flow.answer is not None:
            flow.answer(hub, recorder)
            hub.drain(max_polls=1_000)
        with recorder.pause():
            heads = _heads(hub, flow.point)
        states = {key: state for key, state in heads.items() if any(i in key for i in ids)}
        if len(states) >= len(ids) and all(state in flow.final for state in states.values()):
            return states
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"{flow.point}: not every transaction ended in {sorted(flow.final)}: {Counter(states.values())}")
        time.sleep(0.2)


def _run(hub: Any, recorder: Recorder, output: Any, flow: PointFlow, prefix: str, count: int, tables: dict[str, TableInfo]) -> Scenario:
    ids = {f"{prefix}{index}" for index in range(count)}
    if flow.prepare is not None:
        prepare = flow.prepare
        with recorder.pause():
            for index in range(count):
                _send(hub, prepare(prefix, index))
            hub.drain(max_polls=1_000)
            for schedule in flow.prepare_schedules:
                hub.run_schedule(schedule)
                hub.drain(max_polls=1_000)
    recorder.reset()
    logs_before = output.stdout_bytes()
    started = time.time() - 1
    for index in range(count):
        _send(hub, flow.requests(prefix, index))
    _settle(hub, recorder, flow, ids, timeout=120 + count * 5)
    log_bytes = output.stdout_bytes() - logs_before
    # outside the functions only Lambda's SQS pollers are the hub's (a simulator's own S3 calls, DACS taking its files, are not)
    calls = [c for c in recorder.calls if c.function != RUNTIME or c.operation.startswith("sqs.")]
    invocations, cpu = Counter(recorder.invocations), dict(recorder.cpu_seconds)
    with recorder.pause():
        sizes, histories = item_facts(tables)
        transitions, tasks = _transitions_since(started)
    return Scenario(
        flow.label, count, calls, invocations, cpu, log_bytes, sizes, tables, histories, transitions=transitions, task_transitions=tasks
    )


def measure(count: int, flows: tuple[PointFlow, ...] = FLOWS) -> list[tuple[PointFlow, Scenario]]:
    recorder = Recorder()
    measured: list[tuple[PointFlow, Scenario]] = []
    with captured() as output, embedded_aws():
        from localhub.hub import LocalHub

        hub = LocalHub(parameters={"DacsAcknowledgementsToCcb": "true"}).start()
        recorder.install()
        try:
            with recorder.pause():
                tables = _tables()
            for flow in flows:
                _run(hub, recorder, output, flow, f"W{flow.point[:2]}", 2, tables)  # warm-up: imports, clients, secrets
                measured.append((flow, _run(hub, recorder, output, flow, f"C{flow.point[:2]}", count, tables)))
        finally:
            recorder.uninstall()
            hub.stop()
    return measured


def figures(flow: PointFlow, scenario: Scenario) -> tuple[cost_model.PointFigures, cost_model.Cost, cost_model.Floor]:
    n = scenario.messages
    cpu = cost_model.CpuPerMessage(
        intake=scenario.cpu_seconds.get(flow.api_function, 0.0) / n * 1e6,
        render=scenario.cpu_seconds.get(flow.target_function, 0.0) / n * 1e6,
    )
    cost = cost_model.cost_per_message(
        scenario, cpu, api_function=flow.api_function, delivery_function=flow.target_function, also_api=flow.also_api
    )
    floor = cost_model.floor_per_message(
        scenario, api_function=flow.api_function, delivery_function=flow.target_function, also_api=flow.also_api
    )
    return cost_model.point_figures(flow.label, scenario, cost, floor), cost, floor


def report(measured: list[tuple[PointFlow, Scenario]]) -> str:
    lines = []
    for flow, scenario in measured:
        point, cost, _ = figures(flow, scenario)
        lines.append(f"{flow.label}: {scenario.messages} messages, per message")
        per = scenario.per_message()
        rows = [[f, op, f"{v:.2f}"] for (f, op), v in sorted(per.items()) if "empty" not in op]
        rows.append(["Step Functions", "Standard transitions", f"{scenario.transitions / scenario.messages:.2f}"])
        lines.append(format_table(["function", "call", "per message"], rows, right={2}))
        lines.append(cost_model.write_breakdown_table(scenario))
        lines.append(f"USD per million: {point.usd_per_million:.2f} (DynamoDB {cost.by_service['DynamoDB (on-demand)'] * 1e6:.2f})")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.points", description=__doc__)
    parser.add_argument("--messages", type=int, default=20, help="messages counted per point")
    parser.add_argument("--summary", type=Path, default=None, help="write the points' lines of the per-point cost table here (JSON)")
    args = parser.parse_args(argv)
    measured = measure(args.messages)
    print(report(measured))
    if args.summary is not None:
        args.summary.write_text(json.dumps([dataclasses.asdict(figures(f, s)[0]) for f, s in measured]), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
