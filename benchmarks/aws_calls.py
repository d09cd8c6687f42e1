"""AWS calls per message, counted on the real handlers run by the local hub against moto.

Every call any botocore client makes is recorded (``BaseClient._make_api_call`` wrapped), with
the function that made it: the API, monitor and delivery functions, or ``runtime`` for what
Lambda itself does on AWS (the SQS event source mapping's receive and delete). Provisioning
and a warm-up pass are not counted: the figures are those of warm containers.

Scenarios, each pushing ``n`` person sync requests to SYNCHRONIZED (monitor run + drain):
``single`` (one POST each), ``single + key`` (the same with an ``Idempotency-Key`` header),
``batch`` (one ``:batch`` POST of ``n``).
"""

from __future__ import annotations

import contextvars
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import CapturedOutput, captured, sample_body
from benchmarks.cpu import JSON_SAMPLE
from localhub.aws.endpoint import embedded_aws

API = "MeterDataSyncRequestsFunction"
MONITOR = "MeterDataSyncMonitorFunction"
RUNTIME = "runtime"
CLAIMS = {"scope": "utilhub/meter-data", "client_id": "ccb", "token_use": "access"}
JSON_HEADERS = {"content-type": "application/json"}
TABLES = ("SyncRequestTable", "CrossReferenceTable", "IdempotencyTable", "JournalTable")

_function: contextvars.ContextVar[str] = contextvars.ContextVar("function", default=RUNTIME)


@dataclass
class Call:
    function: str
    operation: str  # service.Operation
    params: dict[str, Any]
    response: dict[str, Any]
    cpu_seconds: float  # the client's side of the call (serialising, signing, parsing) in the calling thread

    @property
    def label(self) -> str:
        """The operation, with an SQS receive that got nothing told apart (idle polling)."""
        if self.operation == "sqs.ReceiveMessage" and not self.response.get("Messages"):
            return "sqs.ReceiveMessage (empty)"
        return self.operation


@dataclass(frozen=True)
class TableInfo:
    name: str
    key: str
    index_keys: tuple[str, ...]  # hash and range attributes of the global secondary indexes
    sort_key: str = ""  # the table's range attribute, when it has one
    indexes: tuple[tuple[str, ...], ...] = ()  # each global secondary index's key attributes (empty: index_keys as one)


@dataclass
class Scenario:
    name: str
    messages: int
    calls: list[Call]
    invocations: Counter[str]
    cpu_seconds: dict[str, float]  # thread CPU of each function's invocations, runtime overhead removed
    log_bytes: int
    item_sizes: dict[tuple[str, str], int]  # (table, key) -> DynamoDB item size in bytes
    tables: dict[str, TableInfo]
    history_lengths: dict[tuple[str, str], int] = field(default_factory=dict)  # (table, key) -> states in its history
    transitions: int = 0  # Step Functions Standard state transitions of the run's executions
    task_transitions: int = 0  # of which entering a Task state (the workflow's steps)

    def per_message(self) -> Counter[tuple[str, str]]:
        """(function, operation) -> calls per message."""
        counts = Counter((c.function, c.label) for c in self.calls)
        return Counter({k: v / self.messages for k, v in counts.items()})

    def sdk_cpu_seconds(self, function: str) -> float:
        """CPU the function spent in the AWS SDK's side of its calls."""
        return sum(c.cpu_seconds for c in self.calls if c.function == function)


@dataclass
class Recorder:
    """Counts API calls and invocations while installed; ``paused`` hides the bench's own calls."""

    calls: list[Call] = field(default_factory=list)
    invocations: Counter[str] = field(default_factory=Counter)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    paused: bool = False
    runtime_overhead: float = 0.0  # CPU seconds the local runtime adds to each invocation
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def reset(self) -> None:
        self.calls = []
        self.invocations = Counter()
        self.cpu_seconds = {}

    def install(self) -> None:
        import botocore.client

        import localhub.lambda_.runtime

        original_call = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 - private, untyped
        recorder = self

        def counting_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            started = time.thread_time()  # the endpoint answers in other threads: this is the client's CPU
            response = original_call(client, operation_name, api_params)
            if not recorder.paused:
                service = client.meta.service_model.service_name
                cpu = time.thread_time() - started
                recorder.calls.append(Call(_function.get(), f"{service}.{operation_name}", api_params, response, cpu))
            return response

        original_invoke = localhub.lambda_.runtime.invoke

        def counting_invoke(spec: Any, event: Any, **kwargs: Any) -> Any:
            token = _function.set(spec.logical_id)
            started = time.thread_time()
            try:
                return original_invoke(spec, event, **kwargs)
            finally:
                if not recorder.paused:
                    recorder.invocations[spec.logical_id] += 1
                    recorder.cpu_seconds[spec.logical_id] = recorder.cpu_seconds.get(spec.logical_id, 0.0) + max(
                        0.0, time.thread_time() - started - recorder.runtime_overhead
                    )
                _function.reset(token)

        setattr(botocore.client.BaseClient, "_make_api_call", counting_call)  # noqa: B010 - patching a method
        self._undo.append(lambda: setattr(botocore.client.BaseClient, "_make_api_call", original_call))
        # the hub and its event sources import ``invoke`` by name: patch every reference
        for name, module in list(sys.modules.items()):
            if name.startswith("localhub") and getattr(module, "invoke", None) is original_invoke:
                setattr(module, "invoke", counting_invoke)  # noqa: B010
                self._undo.append(lambda module=module: setattr(module, "invoke", original_invoke))  # type: ignore[misc]

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    @contextmanager
    def pause(self) -> Iterator[None]:
        self.paused = True
        try:
            yield
        finally:
            self.paused = False


def _person(template: dict[str, Any], prefix: str, index: int) -> dict[str, Any]:
    return {**template, "syncRequestId": f"SR-{prefix}{index}", "entityId": f"P-{prefix}{index}"}


def _runtime_overhead(hub: Any) -> float:
    """CPU seconds the local runtime spends per invocation outside the handler (environment, settings)."""
    from localhub.lambda_.runtime import function_environment

    spec = hub.function(API)
    environment = {**spec.environment, "AWS_LAMBDA_FUNCTION_NAME": spec.name}
    rounds = 30
    started = time.thread_time()
    for _ in range(rounds):
        with function_environment(environment):
            continue  # the cost of entering and leaving a function's environment, nothing else
    return (time.thread_time() - started) / rounds


def _tables(hub: Any) -> dict[str, TableInfo]:
    import boto3

    client = boto3.session.Session().client("dynamodb")
    names = hub.resources()
    tables: dict[str, TableInfo] = {}
    for logical_id in TABLES:
        description = client.describe_table(TableName=names[logical_id])["Table"]
        tables[description["TableName"]] = table_info(description)
    return tables


def table_info(description: Mapping[str, Any]) -> TableInfo:
    """A table's keys and its indexes' from ``DescribeTable``'s ``Table``."""
    key = next(k["AttributeName"] for k in description["KeySchema"] if k["KeyType"] == "HASH")
    sort = next((k["AttributeName"] for k in description["KeySchema"] if k["KeyType"] == "RANGE"), "")
    indexes = tuple(tuple(k["AttributeName"] for k in gsi["KeySchema"]) for gsi in description.get("GlobalSecondaryIndexes", []))
    return TableInfo(description["TableName"], key, tuple(a for keys in indexes for a in keys), sort_key=sort, indexes=indexes)


def item_facts(tables: dict[str, TableInfo]) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """(size in bytes, states in its ``history``) of every item of ``tables``, by (table, key)."""
    import boto3

    from benchmarks.cost import item_key, typed_item_size

    client = boto3.session.Session().client("dynamodb")
    sizes: dict[tuple[str, str], int] = {}
    histories: dict[tuple[str, str], int] = {}
    for table in tables.values():
        for page in client.get_paginator("scan").paginate(TableName=table.name):
            for item in page["Items"]:
                key = (table.name, item_key(table, item))
                sizes[key] = typed_item_size(item)
                if "L" in item.get("history", {}):
                    histories[key] = len(item["history"]["L"])
    return sizes, histories


class ScenarioFailed(RuntimeError):
    """A benchmark scenario did not end as the hub should (its figures would mean nothing)."""


@dataclass(frozen=True)
class WarmHandler:
    """CPU of the API handler called directly, as in a warm Lambda container (no local runtime): each single post
    stores its request and releases it (``SyncMonitor.release``: what it lets go is claimed and queued at once)."""

    messages: int
    cpu_seconds: float
    sdk_cpu_seconds: float
    calls: Counter[str] = field(default_factory=Counter)  # AWS call -> calls per post
    # the same posts of other persons in the same container with ``SyncMonitor.release`` doing nothing: the intake as it
    # was before a request went at its intake (the monitor queued it), to say what the release adds
    unreleased_cpu_seconds: float = 0.0
    unreleased_sdk_cpu_seconds: float = 0.0
    unreleased_calls: Counter[str] = field(default_factory=Counter)

    def calls_label(self, unreleased: bool = False) -> str:
        """The AWS calls per post, e.g. ``1 dynamodb.PutItem, 1 dynamodb.Query``."""
        calls = self.unreleased_calls if unreleased else self.calls
        return ", ".join(f"{n:g} {operation}" for operation, n in sorted(calls.items(), key=lambda item: (-item[1], item[0])))


def _warm_api_handler(hub: Any, recorder: Recorder, template: dict[str, Any], count: int) -> WarmHandler:
    import importlib
    from unittest import mock

    from localhub.apigw.events import http_event
    from localhub.lambda_.runtime import LambdaContext, function_environment
    from utilhub.syncrequests.monitor import SyncMonitor

    spec = hub.function(API)
    handler = getattr(importlib.import_module(spec.module), spec.function_name)
    path = "/meter-data/sync-requests"

    def events(prefix: str, how_many: int) -> list[dict[str, Any]]:
        return [
            http_event(
                "POST",
                path,
                route_key=f"POST {path}",
                body=json.dumps(_person(template, prefix, index)),
                headers=JSON_HEADERS,
                claims=CLAIMS,
            )
            for index in range(how_many)
        ]

    def warm_pass(posts: list[dict[str, Any]], context: Any) -> tuple[float, float, Counter[str]]:
        recorder.reset()
        token = _function.set(API)
        started = time.thread_time()
        try:
            results = [handler(event, context) for event in posts]
            cpu = time.thread_time() - started
        finally:
            _function.reset(token)
        if any(r.get("statusCode") != 202 for r in results):
            raise ScenarioFailed(f"the API handler answered {next(r for r in results if r.get('statusCode') != 202)}")
        calls = Counter(c.label for c in recorder.calls)
        return cpu, sum(c.cpu_seconds for c in recorder.calls), Counter({k: v / len(posts) for k, v in calls.items()})

    with function_environment({**spec.environment, "AWS_LAMBDA_FUNCTION_NAME": spec.name}):
        context = LambdaContext(spec.name, spec.memory, spec.timeout)
        with recorder.pause():
            handler(events("H0-", 1)[0], context)  # the container's first request builds the store
        cpu, sdk_cpu, calls = warm_pass(events("H", count), context)
        with mock.patch.object(SyncMonitor, "release", autospec=True, return_value=None) as release:
            unreleased = warm_pass(events("HU", count), context)
        if release.call_count != count:  # the counterfactual must have left out exactly the release of each post
            raise ScenarioFailed(f"the release was called {release.call_count} times for {count} posts")
    return WarmHandler(count, cpu, sdk_cpu, calls, *unreleased)


@dataclass(frozen=True)
class Measurement:
    scenarios: list[Scenario]
    warm_api: WarmHandler


def _run_scenario(
    hub: Any,
    recorder: Recorder,
    output: CapturedOutput,
    name: str,
    messages: int,
    submit: Callable[[], None],
    tables: dict[str, TableInfo],
    *,
    monitor_queues: int,
) -> Scenario:
    """``monitor_queues``: how many of the messages the monitor's run queues by design (a single post goes at its intake,
    a batch waits for the run): a release that stopped working would move its sends to the monitor, and the figures
    would be another path's."""
    received_before = hub.simulators["MDM"].received_total
    recorder.reset()
    logs_before = output.stdout_bytes()
    submit()
    run = hub.run_schedule(MONITOR)  # a single post went at its intake; a batch waits for this run
    if run.failed:
        raise ScenarioFailed(f"{name}: the monitor failed: {run.result} ({run.error})")
    if (queued := run.result.get("queued", 0)) != monitor_queues:
        raise ScenarioFailed(f"{name}: the monitor queued {queued} of {messages} messages, not {monitor_queues}")
    hub.drain()
    delivered = hub.simulators["MDM"].received_total - received_before
    if delivered != messages:
        raise ScenarioFailed(f"{name}: MDM received {delivered} of {messages} messages")
    log_bytes = output.stdout_bytes() - logs_before
    with recorder.pause():
        sizes, histories = item_facts(tables)
    return Scenario(
        name,
        messages,
        list(recorder.calls),
        Counter(recorder.invocations),
        dict(recorder.cpu_seconds),
        log_bytes,
        sizes,
        tables,
        histories,
    )


def measure(messages: int) -> Measurement:
    """Run the scenarios in a fresh hub; their output (logs, servers) is captured, not shown."""
    template = json.loads(sample_body(JSON_SAMPLE))
    recorder = Recorder()
    with captured() as output, embedded_aws():
        from localhub.hub import LocalHub

        hub = LocalHub()
        hub.start()
        recorder.install()
        try:
            recorder.runtime_overhead = _runtime_overhead(hub)
            with recorder.pause():
                tables = _tables(hub)

            def singles(prefix: str, count: int, key: bool = False) -> Callable[[], None]:
                def submit() -> None:
                    for index in range(count):
                        body = json.dumps(_person(template, prefix, index))
                        headers = {**JSON_HEADERS, **({"Idempotency-Key": f"key-{prefix}{index}"} if key else {})}
                        response = hub.call_api("POST", "/meter-data/sync-requests", body=body, headers=headers, claims=CLAIMS)
                        if response.status != 202:
                            raise ScenarioFailed(f"intake answered {response.status}: {response.body[:300]!r}")

                return submit

            def batch(prefix: str, count: int) -> Callable[[], None]:
                def submit() -> None:
                    body = json.dumps({"requests": [_person(template, prefix, index) for index in range(count)]})
                    response = hub.call_api("POST", "/meter-data/sync-requests:batch", body=body, headers=JSON_HEADERS, claims=CLAIMS)
                    if response.status != 202 or response.json().get("accepted") != count:
                        raise ScenarioFailed(f"batch intake answered {response.status}: {response.body[:300]!r}")

                return submit

            # warm-up: imports, clients, schemas and the target's secret, as in a warm container
            _run_scenario(hub, recorder, output, "warm-up", 3, singles("W", 3), tables, monitor_queues=0)
            _run_scenario(hub, recorder, output, "warm-up", 3, batch("WB", 3), tables, monitor_queues=3)
            scenarios = [
                _run_scenario(hub, recorder, output, "single", messages, singles("S", messages), tables, monitor_queues=0),
                _run_scenario(hub, recorder, output, "single + key", messages, singles("K", messages, key=True), tables, monitor_queues=0),
                _run_scenario(hub, recorder, output, "batch", messages, batch("B", messages), tables, monitor_queues=messages),
            ]
            return Measurement(scenarios, _warm_api_handler(hub, recorder, template, messages))
        finally:
            recorder.uninstall()
            hub.stop()
