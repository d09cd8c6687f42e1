"""The hub, assembled locally from ``template.yaml``: AWS resources in an endpoint, simulators
of the applications, the functions run in-process, and their event sources.

:class:`LocalHub` is what ``make run`` serves over HTTP and what the integration tests drive
directly. Targets' base URLs (template parameters ``<System>BaseUrl``) point at the simulators.
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import boto3

from localhub.apigw.auth import LOCAL_CLIENT_ID
from localhub.apigw.events import http_event
from localhub.apigw.identities import CLIENT_SYSTEMS_VARIABLE, LocalClient, clients_acting_as, local_clients, with_any_system_client
from localhub.apigw.routes import Route, http_routes, match
from localhub.aws import sfn_waits
from localhub.aws.provision import provision
from localhub.aws.stepfunctions import LambdaTaskDispatcher
from localhub.aws.throttling import AwsThrottling
from localhub.lambda_.event_sources import PollResult, SqsEventSource, scheduled_event, sqs_event_sources
from localhub.lambda_.runtime import IN_PROCESS, Invocation, invoke
from localhub.lambda_.workers import WorkerPool
from localhub.simulators import field as field_systems
from localhub.simulators.base import Simulator, SimulatorServer
from localhub.simulators.brm import BrmSimulator
from localhub.simulators.ccb import CcbSimulator
from localhub.simulators.dacs import DacsSimulator
from localhub.simulators.field import FieldSystemSimulator
from localhub.simulators.mdm import MdmSimulator
from localhub.simulators.siebel import SiebelSimulator
from localhub.template import FunctionSpec, LocalStack, Template

IDEMPOTENCY_TABLE = "UTILHUB_IDEMPOTENCY_TABLE"  # where a function's Powertools idempotency records go


def enable_state_machine_execution() -> None:
    """Have the endpoint run executions with moto's ASL interpreter instead of only recording them."""
    import os

    import requests

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    config = {"stepfunctions": {"execute_state_machine": True}}
    requests.post(f"{endpoint}/moto-api/config", json=config, timeout=10).raise_for_status()


def default_simulators() -> dict[str, Simulator]:
    return {
        "CCB": CcbSimulator(),
        "MDM": MdmSimulator(),
        "BRM": BrmSimulator(),
        "SEBL": SiebelSimulator(),
        "MWM": field_systems.mwm(),
        "WAM": field_systems.wam(),
        "ODM": field_systems.odm(),
        "DACS": DacsSimulator(),
    }


# HTTP API's integration timeout (its default and its maximum): a route whose function has not answered by then is
# answered 503, the invocation going on (API Gateway does not stop it).
API_INTEGRATION_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def from_lambda(cls, result: dict[str, Any]) -> ApiResponse:
        import base64

        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        return cls(int(result.get("statusCode", 200)), headers, body)

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class LocalHub:
    simulators: dict[str, Simulator] = field(default_factory=default_simulators)
    parameters: dict[str, str] = field(default_factory=dict)
    template: Template = field(default_factory=Template.load)
    # None: functions run in this process, one at a time (tests, debuggers); else each invocation
    # runs in an execution environment of its own, concurrently, as on Lambda (make run)
    workers: WorkerPool | None = None
    # Step Functions' Retry waits at this fraction of their length (1: as on AWS); see localhub.aws.sfn_waits
    sfn_retry_scale: float = 1.0
    # with ``workers``, a route's function not answered by then is a 503, as API Gateway answers it (in process, the
    # caller's own thread runs the function to its end)
    api_timeout_seconds: float = API_INTEGRATION_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        self._servers: dict[str, SimulatorServer] = {}
        self.stack: LocalStack | None = None
        self._sources: list[SqsEventSource] = []
        self._expiring = threading.Lock()  # expire_visibility one at a time
        self.routes: list[Route] = []
        self._dispatcher: LambdaTaskDispatcher | None = None
        self.aws_throttling: AwsThrottling | PooledThrottling | None = None
        self._specs: dict[str, FunctionSpec] = {}
        self.clients: dict[str, LocalClient] = {}
        self.client_systems = "{}"  # UTILHUB_CLIENT_SYSTEMS as the functions see it (local-dev added)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalHub:
        """Start the simulators, then provision every resource of the template."""
        for system, simulator in self.simulators.items():
            self._servers[system] = SimulatorServer(simulator).start()
        parameters = dict(self.parameters)
        if "Console" in self.template.parameters:  # the local runtime serves the console at /console itself (no bucket, CDN, client)
            parameters.setdefault("Console", "false")
        for system, server in self._servers.items():
            name = f"{system.title()}BaseUrl"
            if name in self.template.parameters:
                parameters.setdefault(name, server.url)
        self.stack = LocalStack(self.template, parameters=parameters)
        session = boto3.session.Session(region_name=self.stack.region)
        enable_state_machine_execution()
        sfn_waits.set_scale(self.sfn_retry_scale)
        provision(self.stack, session)
        self.clients = {client.name: client for client in local_clients(self.stack)}
        self._specs = {spec.logical_id: self._with_local_dev(spec) for spec in self.stack.functions()}
        self._share_credentials(session)
        self._dispatcher = LambdaTaskDispatcher(self._function_named, self._invoke)
        self._dispatcher.install()
        self._sources = sqs_event_sources(self.stack, session.client("sqs"), self._invoke)
        self.routes = http_routes(self.stack)
        # the sources (CCB, MDM, Siebel, the field systems, DACS's acknowledgements) post to the hub, each as itself
        for system, simulator in self.simulators.items():
            if (
                isinstance(simulator, CcbSimulator | MdmSimulator | SiebelSimulator | FieldSystemSimulator | DacsSimulator)
                and simulator.send_to_hub is None
            ):
                simulator.send_to_hub = lambda path, body, content_type, system=system: self._send_in_process(
                    system, path, body, content_type
                )
            if isinstance(simulator, DacsSimulator) and "DacsExchangeBucket" in self.stack.physical:  # DACS reads upload/
                simulator.attach_exchange(session.client("s3"), self.stack.physical["DacsExchangeBucket"].ref)
        return self

    def _with_local_dev(self, spec: FunctionSpec) -> FunctionSpec:
        """``spec`` with ``local-dev`` allowed to act as any system: the client exists only here."""
        if CLIENT_SYSTEMS_VARIABLE not in spec.environment:
            return spec
        self.client_systems = with_any_system_client(spec.environment[CLIENT_SYSTEMS_VARIABLE], LOCAL_CLIENT_ID)
        return dataclasses.replace(spec, environment={**spec.environment, CLIENT_SYSTEMS_VARIABLE: self.client_systems})

    def client_of(self, system: str) -> LocalClient:
        """The client of the application ``system`` (``CCB``, ``SEBL``, ...): the one the template lets act as it."""
        names = [name for name in clients_acting_as(self.client_systems, system) if name in self.clients]
        if len(names) != 1:
            raise LookupError(f"{len(names)} clients of the template act as {system}: {', '.join(names) or 'none'}")
        return self.clients[names[0]]

    def claims_of(self, system: str) -> dict[str, str]:
        """The claims of a token of ``system``'s client, as the authorizer passes them on."""
        return self.claims_of_client(self.client_of(system).name)

    def claims_of_client(self, name: str) -> dict[str, str]:
        """The claims of a token of the client ``name`` (``ccb``, ``ops``, ...) with all its scopes."""
        client = self.clients[name]
        return {"client_id": client.name, "scope": " ".join(sorted(client.scopes)), "token_use": "access"}

    def _send_in_process(self, system: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        """A source simulator's call to the hub, as if through API Gateway with a token of its application's client."""
        claims = self.claims_of(system)
        response = self.call_api("POST", path, body=body, headers={"content-type": content_type}, claims=claims)
        return response.status, response.body

    def _share_credentials(self, session: Any) -> None:
        """Each simulator expects what the hub will present: the value of ``<System>ConnectionSecret``."""
        import json

        secrets = session.client("secretsmanager")
        for system, simulator in self.simulators.items():
            logical_id = f"{system.title()}ConnectionSecret"
            if logical_id in self._stack().physical:
                value = secrets.get_secret_value(SecretId=self._stack().physical[logical_id].ref)["SecretString"]
                simulator.credentials = json.loads(value)

    def _function_named(self, name: str) -> FunctionSpec | None:
        return next((spec for spec in self.functions() if name in (spec.name, spec.logical_id)), None)

    def _invoke(self, spec: FunctionSpec, event: Any) -> Invocation:
        if self.workers is not None:
            return self.workers.invoke(spec, event)
        return invoke(spec, event)

    def running_executions(self) -> list[str]:
        """ARNs of the executions still running on the template's state machines."""
        sfn = boto3.client("stepfunctions", region_name=self._stack().region)
        return [
            execution["executionArn"]
            for logical_id, _ in self._stack().template.of_type("AWS::Serverless::StateMachine")
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self._stack().physical[logical_id].ref, statusFilter="RUNNING"
            )
            for execution in page["executions"]
        ]

    def settle(self, timeout: float = 60.0) -> list[str]:
        """Wait up to ``timeout`` s until no execution is running; returns those still running.

        Their tasks run in this process under the hub's hook, so the hub must not stop under them.
        """
        deadline = time.monotonic() + timeout
        while (running := self.running_executions()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return running

    def throttle_aws(self, rate: float, *, seed: int = 0, services: frozenset[str] = frozenset()) -> AwsThrottling | PooledThrottling:
        """Throttle ``rate`` of the AWS calls functions make from now on (replacing any throttling before)."""
        self.stop_throttling()
        if self.workers is not None:
            self.workers.throttle(rate, seed=seed, services=services)
            self.aws_throttling = PooledThrottling(self.workers)
        else:
            self.aws_throttling = AwsThrottling(rate, seed=seed, services=services).install()
        return self.aws_throttling

    def stop_throttling(self) -> None:
        if isinstance(self.aws_throttling, AwsThrottling):
            self.aws_throttling.uninstall()
        elif self.workers is not None:
            self.workers.stop_throttling()
        self.aws_throttling = None

    def stop(self, wait: float = 60.0) -> list[str]:
        """Let running executions finish (up to ``wait`` s), then stop; returns any left running."""
        self.stop_throttling()
        abandoned: list[str] = []
        if self._dispatcher is not None:
            try:
                abandoned = self.settle(wait)
            finally:
                self._dispatcher.uninstall()
                self._dispatcher = None
        if self.workers is not None:
            self.workers.stop()
        for server in self._servers.values():
            server.stop()
        self._servers.clear()
        return abandoned

    def simulator_url(self, system: str) -> str:
        return self._servers[system].url

    # ------------------------------------------------------------------ functions
    def _stack(self) -> LocalStack:
        if self.stack is None:
            raise RuntimeError("the hub is not started")
        return self.stack

    def functions(self) -> list[FunctionSpec]:
        self._stack()
        return list(self._specs.values())

    def function(self, logical_id: str) -> FunctionSpec:
        self._stack()
        try:
            return self._specs[logical_id]
        except KeyError:
            raise KeyError(f"no function {logical_id} in the template") from None

    def invoke(self, logical_id: str, event: Any) -> Invocation:
        return self._invoke(self.function(logical_id), event)

    def call_api(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        claims: dict[str, Any] | None = None,
        query: str = "",
    ) -> ApiResponse:
        """Route ``method path`` as API Gateway would and invoke its function.

        ``claims`` are those of a token the authorizer has already verified (None: no token
        reached the function). Returns 404 for an unknown route, 500 for a function error and 503 for
        one not answered within ``api_timeout_seconds`` (run by ``workers``), as API Gateway does.
        """
        found = match(self.routes, method, path)
        if found is None:
            return ApiResponse(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
        route, matched = found
        # API Gateway routes on the path as sent (an escaped "/" stays inside its segment) and decodes each parameter
        parameters = {name: unquote(value) for name, value in matched.items()}
        event = http_event(
            method,
            path,
            route_key=route.route_key,
            body=body,
            headers=headers,
            path_parameters=parameters,
            query=query,
            claims=claims,
            scopes=None,
        )
        invocation = self._invoke_route(self.function(route.function), event)
        if invocation is None:  # the integration timed out
            return ApiResponse(503, {"content-type": "application/json"}, b'{"message":"Service Unavailable"}')
        if invocation.failed and invocation.error and invocation.error.get("errorType") == "TooManyRequestsException":
            return ApiResponse(429, {"content-type": "application/json"}, b'{"message":"Too Many Requests"}')
        if invocation.failed or not isinstance(invocation.result, dict):
            return ApiResponse(500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
        return ApiResponse.from_lambda(invocation.result)

    def _invoke_route(self, spec: FunctionSpec, event: Any) -> Invocation | None:
        """A route's invocation, or None when it did not answer within the API's integration timeout (it goes on,
        as on AWS: a waiting for a free environment, a slow cold start and the function's own run all count)."""
        if self.workers is None:
            return self._invoke(spec, event)
        answered: list[Invocation | BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                answered.append(self._invoke(spec, event))
            except BaseException as exc:  # raised to the caller, as the call in its own thread would
                answered.append(exc)
            finally:
                done.set()

        threading.Thread(target=run, name=f"api-{spec.logical_id}", daemon=True).start()
        if not done.wait(self.api_timeout_seconds):
            return None
        if isinstance(answered[0], BaseException):
            raise answered[0]
        return answered[0]

    def run_schedule(self, logical_id: str, at: datetime.datetime | None = None) -> Invocation:
        """Run a function's ``Schedule`` event source now, its event saying it fired now or ``at``."""
        spec = self.function(logical_id)
        schedules = [e for e in spec.events if e.type in ("Schedule", "ScheduleV2")]
        if not schedules:
            raise KeyError(f"{logical_id} has no schedule")
        return self._invoke(spec, scheduled_event(self._stack(), spec, schedules[0], at))

    def schedules(self) -> list[tuple[FunctionSpec, str]]:
        return [
            (spec, str(event.properties.get("Schedule") or event.properties.get("ScheduleExpression")))
            for spec in self.functions()
            for event in spec.events
            if event.type in ("Schedule", "ScheduleV2")
        ]

    @property
    def event_sources(self) -> list[SqsEventSource]:
        return list(self._sources)

    def poll_queues(self) -> list[PollResult]:
        """One poll of every SQS event source mapping."""
        return [source.poll_once() for source in self._sources]

    def drain(self, max_polls: int = 50) -> int:
        """Poll until no event source receives anything; returns the messages handled."""
        handled = 0
        for _ in range(max_polls):
            received = sum(result.received for result in self.poll_queues())
            if not received:
                break
            handled += received
        return handled

    def expire_visibility(self) -> int:
        """Let every failed message come back now instead of after its visibility timeout. That much time (the longest
        visibility timeout of the queues, as every queue's failed messages come back; each is at least the timeout of
        the function it feeds) also lapses the idempotency claims left by the invocations that ended meanwhile,
        answered or not, whose deadline it passes (:mod:`localhub.lambda_.claims`), as on AWS before the message
        came back. One at a time: a caller that gave up waiting leaves it running, and the next waits for it."""
        with self._expiring:
            return self._expire_visibility()

    def _expire_visibility(self) -> int:
        if self._sources:
            invocations = IN_PROCESS if self.workers is None else self.workers.invocations
            horizon_ms = int((time.time() + max(source.visibility_timeout for source in self._sources)) * 1000)
            tables = {spec.environment[IDEMPOTENCY_TABLE] for spec in self._specs.values() if IDEMPOTENCY_TABLE in spec.environment}
            invocations.lapse_ended(boto3.client("dynamodb", region_name=self._stack().region), tables, horizon_ms)
        return sum(source.expire_visibility() for source in self._sources)

    def resources(self) -> dict[str, str]:
        return self._stack().resource_map()


class PooledThrottling:
    """The throttling of the AWS calls of functions that run in the worker pool (as reported by it)."""

    def __init__(self, workers: WorkerPool) -> None:
        self._workers = workers

    def report(self) -> dict[str, Any]:
        return self._workers.throttling_report()
