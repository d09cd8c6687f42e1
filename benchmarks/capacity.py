"""The capacity plan of a 10-million-customer utility on AWS (docs/performance.md, "Capacity plan"), computed from
what the benchmarks measured.

Three workloads: the initial MDM load (about 30 million persons, service points and SAs as MD-01..03 sync
requests, posted in batches of 100), the initial DACS load (DA-01 over 10 million persons) and the nightly bill run
(500,000 MD-11 usage requests, posted in batches of 1,000). Each workload's throughput is the least of what each
limit on its path allows, in messages per second:

- a function's concurrency (an SQS event source's ``MaximumConcurrency``, a Map's ``MaxConcurrency``, the account's
  concurrent executions) over the seconds one message keeps it busy: its AWS calls per message as measured, each
  :data:`benchmarks.cost.AWS_CALL_MS`, plus the target's answer (:data:`benchmarks.cost.TARGET_CALL_MS`) where it
  calls one;
- API Gateway's request rate times the messages one request carries;
- DynamoDB's 1,000 write units a second per partition over the writes per message that land on one partition key
  (the busiest key measured: the journal's state indexes, whose key is one of four states), and the table-level
  on-demand quota over the write units per message of the busiest table;
- SQS FIFO's requests a second per queue (high throughput mode) over the requests per message.

The figures per message are the benchmarks' (:class:`Measured`, from a run's calls; the sync monitor's on a backlog of
one request per entity, :class:`MonitorBacklog`; DA-01's per CPU second, :class:`DacsMeasured`); the quotas are AWS's
published defaults, each with the page that states it (:data:`QUOTAS`). The binding limit is the least; the time is
the messages over it; the cost is the messages times the measured USD per million.

``python -m benchmarks.capacity`` measures only what the plan takes, in one run, and prints it (:func:`main`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import cost as cost_model
from benchmarks.aws_calls import Call, Scenario

PERSONS = 10_000_000
MDM_ENTITIES = 30_000_000  # persons, service points and service agreements
BILL_RUN = 500_000
INITIAL_LOAD_GOAL_SECONDS = 4 * 3600
BILL_RUN_GOAL_SECONDS = 30 * 60
SYNC_BATCH = 100  # POST /meter-data/sync-requests:batch takes up to 100
USAGE_BATCH = 1_000  # POST /meter-data/usage-requests:batch takes up to 1,000


@dataclass(frozen=True)
class Quota:
    value: float
    what: str
    source: str  # the page that states it


QUOTAS = {
    "lambda_concurrency": Quota(
        1_000,
        "Lambda concurrent executions per account and Region (default)",
        "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html",
    ),
    "api_rate": Quota(
        10_000,
        "API Gateway requests per second per account and Region, across HTTP and REST APIs (default)",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    ),
    "partition_writes": Quota(
        1_000,
        "DynamoDB write units per second per partition, table or global secondary index",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html",
    ),
    "table_writes": Quota(
        40_000,
        "DynamoDB on-demand write request units per second per table (default table-level quota)",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html",
    ),
    "fifo_requests": Quota(
        70_000,
        "SQS FIFO requests per second per API action per queue in high throughput mode (US East (N. Virginia))",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html",
    ),
    "map_children": Quota(
        10_000,
        "Step Functions Distributed Map child workflow executions running at once",
        "https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html",
    ),
    "esm_concurrency": Quota(
        1_000,
        "Lambda SQS event source MaximumConcurrency at most (a FIFO queue's also bound by its active message groups)",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
    ),
}


# ------------------------------------------------------------------ what a run measured, per message
@dataclass(frozen=True)
class Measured:
    """One point's figures per message, from the calls a benchmark counted."""

    point: str
    calls_by_function: dict[str, float]  # AWS calls per message of each function (Lambda's SQS poller left out)
    write_units_by_table: dict[str, float]
    hottest_key: str  # "<table> <index> <value>": the partition key that takes the most writes per message
    hottest_key_writes: float
    fifo_requests: float  # SQS requests per message to FIFO queues (the busiest API action's share is at most this)
    usd_per_million: float
    journal_calls_by_function: dict[str, float] = field(default_factory=dict)  # of the calls, the journal's writes


def _value(expression_values: dict[str, Any], placeholder: str) -> str:
    value = expression_values.get(placeholder, placeholder)
    return str(value.get("S", value)) if isinstance(value, dict) else str(value)


def index_key_writes(scenario: Scenario) -> dict[str, float]:
    """Writes per message to each global secondary index partition key ("<table> <index hash attribute> <value>"):
    an item entering a key is one write there, leaving it one write there (known when the update returned the old
    item); a put is one write to each index key it carries."""
    found: dict[str, float] = {}

    def add(table: str, attribute: str, value: Any) -> None:
        if value is None:
            return
        text = value.get("S", value) if isinstance(value, dict) else value
        key = f"{cost_model.logical_table(table)} {attribute} {text}"
        found[key] = found.get(key, 0.0) + 1 / scenario.messages

    for call in scenario.calls:
        if not call.operation.startswith("dynamodb."):
            continue
        for table, kind, body, response in _writes(call):
            info = scenario.tables.get(table)
            if info is None:
                continue
            hashes = [keys[0] for keys in (info.indexes or ((info.index_keys[0],) if info.index_keys else ()))]
            if kind == "Put":
                for attribute in hashes:
                    add(table, attribute, body["Item"].get(attribute))
            elif kind == "Update":
                names = {v: k for k, v in (body.get("ExpressionAttributeNames") or {}).items()}
                values = body.get("ExpressionAttributeValues") or {}
                old = response.get("Attributes") or {}
                for attribute in hashes:
                    alias = names.get(attribute, attribute)
                    match = re.search(rf"(?<![\w#]){re.escape(alias)}\s*=\s*(:\w+)", body.get("UpdateExpression", ""))
                    if match:
                        add(table, attribute, _value(values, match.group(1)))
                        if attribute in old:
                            add(table, attribute, old[attribute])
    return found


def _writes(call: Call) -> Iterable[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    p = call.params
    op = call.operation.split(".", 1)[1]
    if op == "PutItem":
        yield p["TableName"], "Put", p, call.response
    elif op == "UpdateItem":
        yield p["TableName"], "Update", p, call.response
    elif op == "TransactWriteItems":
        for entry in p["TransactItems"]:
            ((kind, body),) = entry.items()
            yield body["TableName"], kind, body, {}
    elif op == "BatchWriteItem":
        for table, requests in p["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    yield table, "Put", request["PutRequest"], {}


def measured(point: str, scenario: Scenario, usd_per_million: float) -> Measured:
    calls: dict[str, float] = {}
    for (function, operation), per in scenario.per_message().items():
        if "empty" not in operation and function != "runtime":
            calls[function] = calls.get(function, 0.0) + per
    tables: dict[str, float] = {}
    for (_, _, table), units in cost_model.write_units_by_table(scenario).items():
        tables[table] = tables.get(table, 0.0) + units
    keys = index_key_writes(scenario)
    hottest = max(keys, key=lambda k: keys[k]) if keys else ""
    fifo = sum(1 for c in scenario.calls if c.operation.startswith("sqs.") and c.label in cost_model.SQS_REQUESTS and cost_model.is_fifo(c))
    journal: dict[str, float] = {}
    for call in scenario.calls:
        if (
            call.operation in ("dynamodb.PutItem", "dynamodb.UpdateItem")
            and cost_model.logical_table(call.params.get("TableName", "")) == "JournalTable"
        ):
            journal[call.function] = journal.get(call.function, 0.0) + 1 / scenario.messages
    return Measured(point, calls, tables, hottest, keys.get(hottest, 0.0), fifo / scenario.messages, usd_per_million, journal)


# ------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class Limit:
    name: str
    per_second: float  # messages per second it allows
    lifted_by: str  # the template parameter or setting, or the quota, that lifts it
    needed: str = ""  # what it must be raised to for the workload's goal (filled by :func:`plan`)


@dataclass(frozen=True)
class Workload:
    name: str
    messages: int
    goal_seconds: float
    usd_per_million: float
    limits: list[Limit]
    # for each limit, the value that gives the messages per second asked (None: no parameter scales it)
    scale: dict[str, tuple[float, str]] = field(default_factory=dict)  # limit name -> (current value, unit)
    notes: list[str] = field(default_factory=list)  # what the plan of this workload leaves out, and why


@dataclass(frozen=True)
class PlanLine:
    workload: Workload
    binding: Limit
    seconds: float
    usd: float
    limits: list[Limit]  # each with what it must be raised to for the goal

    @property
    def meets_goal(self) -> bool:
        return self.seconds <= self.workload.goal_seconds


def busy_seconds(calls: float, *, target_answers: int = 0) -> float:
    """Seconds one message keeps a function busy: its AWS calls and the targets' answers it waits for."""
    return calls * cost_model.AWS_CALL_MS / 1000 + target_answers * cost_model.TARGET_CALL_MS / 1000


def concurrency_limit(name: str, concurrency: float, seconds_per_message: float, lifted_by: str) -> Limit:
    return Limit(name, concurrency / seconds_per_message if seconds_per_message else math.inf, lifted_by)


def plan(workload: Workload) -> PlanLine:
    """The binding limit (the least messages per second), the time and the cost; and for each limit below the goal's
    rate, the value its parameter must have (in proportion: throughput is linear in each of these)."""
    binding = min(workload.limits, key=lambda limit: limit.per_second)
    seconds = workload.messages / binding.per_second
    wanted = workload.messages / workload.goal_seconds
    limits = []
    for limit in workload.limits:
        needed = ""
        if limit.per_second < wanted:
            current = workload.scale.get(limit.name)
            needed = f"{math.ceil(current[0] * wanted / limit.per_second):,} {current[1]}" if current else "not by a parameter"
        limits.append(Limit(limit.name, limit.per_second, limit.lifted_by, needed))
    return PlanLine(workload, binding, seconds, workload.messages * workload.usd_per_million / 1e6, limits)


# ------------------------------------------------------------------ the template's settings that bound throughput
@dataclass(frozen=True)
class TemplateLimits:
    """What template.yaml and the packs' templates set (read from them, never repeated here)."""

    queue_concurrency: dict[str, int]  # function logical id -> its SQS event source's MaximumConcurrency
    concurrency_parameters: dict[str, str]  # function logical id -> the template parameter that sets it, where one does
    api_rate: float  # the HTTP API's ThrottlingRateLimit
    dacs_map_concurrency: int  # DA-01's Distributed Map MaxConcurrency (statemachines/dacs-initial-sync.asl.json)


def template_limits() -> TemplateLimits:
    import json

    from benchmarks.common import ROOT
    from localhub.template import Template

    template = Template.load()
    resources = template.resources
    concurrency: dict[str, int] = {}
    parameters: dict[str, str] = {}
    api_rate = 0.0
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            for event in (properties.get("Events") or {}).values():
                scaling = event.get("Properties", {}).get("ScalingConfig", {}) if event.get("Type") == "SQS" else {}
                value = scaling.get("MaximumConcurrency")
                if isinstance(value, dict) and "Ref" in value:  # a parameter: its default, as deployed without overrides
                    parameters[logical_id] = value["Ref"]
                    value = template.parameters[value["Ref"]]["Default"]
                if value is not None:
                    concurrency[logical_id] = int(str(value))
        elif resource["Type"] == "AWS::Serverless::HttpApi":
            api_rate = float(properties.get("DefaultRouteSettings", {}).get("ThrottlingRateLimit", QUOTAS["api_rate"].value))
    machine = json.loads((ROOT / "statemachines" / "dacs-initial-sync.asl.json").read_text(encoding="utf-8"))
    return TemplateLimits(concurrency, parameters, api_rate, int(machine["States"]["WriteParts"]["MaxConcurrency"]))


# ------------------------------------------------------------------ the workloads
MD_API, MD_MONITOR, MD_DELIVERY = "MeterDataSyncRequestsFunction", "MeterDataSyncMonitorFunction", "MeterDataDeliveryFunction"
OUTCOMES = "SyncRequestsCcbOutcomesFunction"
USAGE_API, USAGE_DELIVERY, USAGE_RELEASE = (
    "MeterDataUsageRequestsFunction",
    "MeterDataUsageDeliveryFunction",
    "MeterDataUsageReleaseFunction",
)
TARGET_ANSWERS = {MD_DELIVERY: 1, OUTCOMES: 1, USAGE_DELIVERY: 2}  # MDM's answer; CCB's; MDM's and CCB's
ALSO = {OUTCOMES: "; or the parameter OutcomesToCcb without the load's flow, so no outcome is relayed"}


def _shared_limits(
    measured: Measured, template: TemplateLimits, per_request: int, monitor: MonitorBacklog | None = None
) -> tuple[list[Limit], dict[str, tuple[float, str]]]:
    """The limits every API-fed workload meets: API Gateway, the account's concurrency, DynamoDB, SQS FIFO, and each
    queue consumer's MaximumConcurrency. The sync monitor's calls are its calls per request on a backlog when measured."""
    limits = [
        Limit(
            f"API Gateway: the HTTP API's ThrottlingRateLimit ({template.api_rate:,.0f} requests/s, {per_request:,} messages each)",
            template.api_rate * per_request,
            "template.yaml, HttpApi DefaultRouteSettings.ThrottlingRateLimit (a constant, no parameter)",
        ),
        Limit(
            f"API Gateway: account quota ({QUOTAS['api_rate'].value:,.0f} requests/s)",
            QUOTAS["api_rate"].value * per_request,
            "a Service Quotas increase",
        ),
    ]
    scale: dict[str, tuple[float, str]] = {limits[0].name: (template.api_rate, "requests/s")}
    busy_total = 0.0
    for function, calls in sorted(measured.calls_by_function.items()):
        if function == MD_MONITOR and monitor is not None:  # its queries are shared by a backlog's requests (initial_mdm_load)
            calls = monitor.calls_per_request
        busy = busy_seconds(calls, target_answers=TARGET_ANSWERS.get(function, 0))
        busy_total += busy
        if function in template.queue_concurrency:
            concurrency = template.queue_concurrency[function]
            name = f"{function}: its queue's MaximumConcurrency {concurrency} ({busy * 1000:.0f} ms per message)"
            parameter = template.concurrency_parameters.get(function)
            where = f"the parameter {parameter}" if parameter else f"{function}'s Queue event, MaximumConcurrency (a constant)"
            limits.append(concurrency_limit(name, concurrency, busy, where + ALSO.get(function, "")))
            scale[name] = (concurrency, parameter or "MaximumConcurrency")
    name = f"Lambda: the account's {QUOTAS['lambda_concurrency'].value:,.0f} concurrent executions ({busy_total * 1000:.0f} ms per message, all functions)"
    limits.append(concurrency_limit(name, QUOTAS["lambda_concurrency"].value, busy_total, "a Service Quotas increase"))
    scale[name] = (QUOTAS["lambda_concurrency"].value, "concurrent executions")
    if measured.hottest_key_writes:
        limits.append(
            Limit(
                f"DynamoDB: one partition key, {measured.hottest_key} ({measured.hottest_key_writes:.2f} writes per message)",
                QUOTAS["partition_writes"].value / measured.hottest_key_writes,
                "not by a parameter: the key's writes must be spread (a sharded key) or left out",
            )
        )
    if measured.write_units_by_table:
        table = max(measured.write_units_by_table, key=lambda t: measured.write_units_by_table[t])
        units = measured.write_units_by_table[table]
        limits.append(
            Limit(
                f"DynamoDB: {table}'s on-demand table quota ({units:.1f} write units per message)",
                QUOTAS["table_writes"].value / units,
                "a Service Quotas increase (table-level write throughput)",
            )
        )
    if measured.fifo_requests:
        limits.append(
            Limit(
                f"SQS FIFO: one queue in high throughput mode ({measured.fifo_requests:.2f} FIFO requests per message)",
                QUOTAS["fifo_requests"].value / measured.fifo_requests,
                "FifoThroughputLimit perMessageGroupId is already set on every FIFO queue (high throughput mode)",
            )
        )
    return limits, scale


@dataclass(frozen=True)
class MonitorBacklog:
    """The sync monitor draining a backlog (``python -m benchmarks.monitor_backlog``): its own AWS calls per request (its
    queries, reads, claims, sends and the journal's writes of each claim, a page of 200 at a time). A run of a few dozen
    requests, as the AWS calls section's, shares the monitor's queries among too few to say what a backlog costs."""

    requests: int
    per_entity: int
    calls_per_request: float


def initial_mdm_load(md01_batch: Measured, template: TemplateLimits, monitor: MonitorBacklog | None) -> Workload:
    """The initial MDM load; the sync monitor's limit (one run at a time, page after page) from its calls per request on a
    backlog as measured, or left out, and said so, when no backlog was measured."""
    notes = []
    if monitor is not None and monitor.per_entity != 1:
        # a release at each acknowledgement sends an entity's next change, so the monitor claims only each entity's first:
        # a backlog of several changes per entity says nothing of a load of one request per entity
        notes.append(
            f"{MD_MONITOR}'s limit (one run at a time) is left out: the backlog measured had {monitor.per_entity} changes per"
            " entity, an initial load has one (python -m benchmarks.capacity measures that)"
        )
        monitor = None
    elif MD_MONITOR in md01_batch.calls_by_function and monitor is None:
        notes.append(
            f"{MD_MONITOR}'s limit (one run at a time) is left out: no backlog was measured in this run (the monitor backlog"
            " section gives its calls per request); the account's concurrency counts its calls in a run of a few requests"
        )
    limits, scale = _shared_limits(md01_batch, template, SYNC_BATCH, monitor)
    if MD_MONITOR in md01_batch.calls_by_function and monitor is not None:
        limits.append(
            Limit(
                f"{MD_MONITOR}: one run at a time, page after page ({monitor.calls_per_request:.3f} calls per request, journal"
                f" included, measured on a backlog of {monitor.requests:,} requests, {monitor.per_entity} per entity)",
                1 / busy_seconds(monitor.calls_per_request),
                "not by a parameter: MonitorScheduleRate, UTILHUB_SYNC_MONITOR_BUDGET_SECONDS and _PAGE_SIZE change how often and how"
                " long it runs, not its rate; a run per shard (UTILHUB_SYNC_REQUEST_SHARDS, 8) would multiply it (not built);"
                " JournalHops false takes 1 write per claim off",
            )
        )
    return Workload(
        f"initial MDM load: {MDM_ENTITIES:,} sync requests in batches of {SYNC_BATCH}",
        MDM_ENTITIES,
        INITIAL_LOAD_GOAL_SECONDS,
        md01_batch.usd_per_million,
        limits,
        scale,
        notes,
    )


def bill_run(md11: Measured, template: TemplateLimits) -> Workload:
    limits, scale = _shared_limits(md11, template, USAGE_BATCH)
    release = md11.calls_by_function.get(USAGE_RELEASE, 0.0)
    if release:
        limits.append(
            Limit(
                f"{USAGE_RELEASE}: one scheduled run at a time ({release:.3f} calls per request)",
                1 / busy_seconds(release),
                "not by a parameter",
            )
        )
    return Workload(
        f"nightly bill run: {BILL_RUN:,} usage requests in batches of {USAGE_BATCH:,}",
        BILL_RUN,
        BILL_RUN_GOAL_SECONDS,
        md11.usd_per_million,
        limits,
        scale,
    )


@dataclass(frozen=True)
class DacsMeasured:
    """DA-01 through the local runtime: persons written per second of one process doing the plan, every part and the
    join in turn (its CPU seconds when measured: on a shared machine its wall time counts the other processes' too),
    and the persons per part."""

    persons: int
    wall_seconds: float
    persons_per_part: int
    cpu_seconds: float | None = None

    @property
    def seconds(self) -> float:
        return self.cpu_seconds if self.cpu_seconds is not None else self.wall_seconds


def initial_dacs_load(dacs: DacsMeasured, template: TemplateLimits) -> Workload:
    # one child execution writes one part; the local run did all of them one after another on a full core, a Lambda
    # of 512 MB has about a third of one (CPU_SCALE)
    per_child = dacs.persons / dacs.seconds / cost_model.CPU_SCALE
    concurrency = template.dacs_map_concurrency
    limits = [
        Limit(
            f"DA-01's Distributed Map MaxConcurrency {concurrency} ({per_child:,.0f} persons/s per child execution)",
            concurrency * per_child,
            "statemachines/dacs-initial-sync.asl.json, WriteParts.MaxConcurrency (a constant, no parameter)",
        ),
        Limit(
            f"Step Functions: {QUOTAS['map_children'].value:,.0f} child executions at once",
            QUOTAS["map_children"].value * per_child,
            "a quota AWS does not raise",
        ),
    ]
    lambda_seconds_per_person = 1 / per_child
    usd_per_million = 1e6 * (
        lambda_seconds_per_person * cost_model.LAMBDA_MEMORY_GB * cost_model.LAMBDA_ARM_PER_GB_SECOND.usd
        + 3 / dacs.persons_per_part * cost_model.STEP_FUNCTIONS_STANDARD_PER_TRANSITION.usd  # a child's start, task, end
    )
    return Workload(
        f"initial DACS load: DA-01 over {PERSONS:,} persons",
        PERSONS,
        INITIAL_LOAD_GOAL_SECONDS,
        usd_per_million,
        limits,
        {limits[0].name: (concurrency, "MaxConcurrency")},
    )


def capacity_plan(
    md01_batch: Measured, md11: Measured | None, dacs: DacsMeasured | None, monitor: MonitorBacklog | None = None
) -> list[PlanLine]:
    template = template_limits()
    workloads = [initial_mdm_load(md01_batch, template, monitor)]
    if dacs is not None:
        workloads.append(initial_dacs_load(dacs, template))
    if md11 is not None:
        workloads.append(bill_run(md11, template))
    return [plan(workload) for workload in workloads]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def report(lines: list[PlanLine]) -> str:
    from benchmarks.common import format_table

    out = []
    for line in lines:
        workload = line.workload
        out.append(
            f"{workload.name}: {_duration(line.seconds)} (goal {_duration(workload.goal_seconds)}: "
            f"{'met' if line.meets_goal else 'NOT met'}), USD {line.usd:,.2f}; binds first: {line.binding.name}"
        )
        rows = [
            [limit.name, f"{limit.per_second:,.0f}", _duration(workload.messages / limit.per_second), limit.needed or "-", limit.lifted_by]
            for limit in sorted(line.limits, key=lambda limit: limit.per_second)
        ]
        out.append(format_table(["limit", "messages/s", "time alone", "for the goal", "lifted by"], rows, right={1, 2}))
        out.extend(f"  not planned: {note}" for note in workload.notes)
        out.append("")
    out.append(
        "quotas: "
        + "; ".join(f"{q.what}: {q.value:,.0f} ({q.source})" for q in QUOTAS.values())
        + f". Busy time per message: {cost_model.AWS_CALL_MS:g} ms per AWS call, {cost_model.TARGET_CALL_MS:g} ms per target answer."
    )
    return "\n".join(out)


# ------------------------------------------------------------------ the plan alone: python -m benchmarks.capacity
def _summary_of(command: list[str]) -> tuple[dict[str, Any] | None, int]:
    """Run a benchmark module in a process of its own (an embedded AWS and a hub no other section has used) with
    ``--summary``; what it wrote, and its exit code."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="utilhub-bench-") as directory:
        summary = Path(directory, "summary.json")
        completed = subprocess.run([sys.executable, *command, "--summary", str(summary)], check=False)  # noqa: S603 - this interpreter, our own module
        written = json.loads(summary.read_text(encoding="utf-8")) if summary.exists() else None
    return written, completed.returncode


def _per_function(measured: Measured) -> str:
    return ", ".join(f"{function} {calls:.3f}" for function, calls in sorted(measured.calls_by_function.items()))


def main(argv: list[str] | None = None) -> int:
    """Measure what the plan takes, and only that, in one run: MD-01 batched (the AWS calls section's scenario), MD-11's
    counted requests (the bill run section), the monitor on a backlog, DA-01 through the local runtime; then the plan."""
    import argparse

    from benchmarks import aws_calls, cpu, dacs_extract

    parser = argparse.ArgumentParser(prog="python -m benchmarks.capacity", description=main.__doc__)
    parser.add_argument("--messages", type=int, default=50, help="MD-01 person sync requests in the batch scenario (default 50)")
    parser.add_argument("--bill-run", type=int, default=1_000, help="MD-11: usage requests posted over HTTP (default 1000)")
    parser.add_argument("--counted", type=int, default=200, help="MD-11: usage requests whose AWS calls are counted (default 200)")
    parser.add_argument("--backlog-requests", type=int, default=5_000, help="the monitor's backlog (default 5000)")
    parser.add_argument(
        "--backlog-per-entity", type=int, default=1, help="the backlog's changes per entity (default 1: an initial load's, one each)"
    )
    parser.add_argument("--dacs-persons", type=int, default=100_000, help="DA-01: persons in CCB's extract (default 100000)")
    args = parser.parse_args(argv)
    failed = 0

    rows = cpu.json_intake(cpu.FULL) + cpu.rendering(cpu.FULL)  # the Lambda duration's CPU, as make bench prices it
    cpu_figures = cost_model.CpuPerMessage(intake=rows[0].hub, render=next(r.hub for r in rows if r.measure.startswith("3.")))
    batch = next(s for s in aws_calls.measure(args.messages).scenarios if s.name == "batch")
    batch_cost = cost_model.cost_per_message(batch, cpu_figures, api_function=MD_API, delivery_function=MD_DELIVERY)
    md01 = measured("MD-01 batch", batch, batch_cost.total * 1e6)
    print(
        f"MD-01 batched, {args.messages} requests: USD {md01.usd_per_million:.2f} per million; AWS calls per request by function:"
        f" {_per_function(md01)}"
    )

    written, code = _summary_of(["-m", "benchmarks.bill_run", "--requests", str(args.bill_run), "--counted", str(args.counted)])
    md11 = Measured(**written["measured"]) if written else None
    failed = failed or code
    if md11 is not None:
        print(
            f"MD-11, {args.counted} requests counted: USD {md11.usd_per_million:.2f} per million; AWS calls per request: {_per_function(md11)}"
        )

    backlog = ["-m", "benchmarks.monitor_backlog", "--requests", str(args.backlog_requests), "--per-entity", str(args.backlog_per_entity)]
    written, code = _summary_of(backlog)
    monitor = MonitorBacklog(**written) if written else None
    failed = failed or code

    per_part = 100_000 if args.dacs_persons >= 500_000 else 5_000
    initial = dacs_extract.initial_sync_through_the_local_runtime(args.dacs_persons, per_part)
    dacs = DacsMeasured(args.dacs_persons, float(str(initial["wallSeconds"])), per_part, float(str(initial["cpuSeconds"])))
    print(
        f"DA-01, {args.dacs_persons:,} persons through the local runtime: {initial['status']} in {dacs.wall_seconds:.1f} s wall,"
        f" {dacs.seconds:.1f} s CPU"
    )
    failed = failed or int(initial["status"] != "SUCCEEDED" or not initial["countsAsExpected"])

    print("\nCapacity plan for a 10-million-customer utility on AWS: each limit's messages per second from this run's calls per message")
    print(report(capacity_plan(md01, md11, dacs, monitor)))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
