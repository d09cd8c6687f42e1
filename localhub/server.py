"""The local runtime: the HTTP API, the token endpoint, the control API, and the workers that
run the template's event sources (SQS pollers, schedules), in one process.

    runtime = LocalRuntime(api_port=3000, aws_port=4566).start()
    ...
    runtime.stop()

Everything it serves comes from ``template.yaml`` through :class:`localhub.hub.LocalHub`.
"""

from __future__ import annotations

import datetime
import json
import mimetypes
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.security import safe_join
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from localhub.apigw.auth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, AuthError, TokenIssuer
from localhub.apigw.identities import OPERATORS, application_clients
from localhub.apigw.routes import match
from localhub.aws.endpoint import embedded_aws
from localhub.aws.schedules import Schedule, parse
from localhub.hub import LocalHub
from localhub.lambda_.event_sources import SqsEventSource
from localhub.lambda_.workers import WorkerPool
from localhub.simulators.ccb import CcbSimulator
from localhub.simulators.dacs import DacsSimulator
from localhub.simulators.field import FieldSystemSimulator
from localhub.simulators.mdm import MdmSimulator
from localhub.simulators.siebel import SiebelSimulator
from localhub.template import ROOT, Template

API_GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024
CONSOLE_DIRECTORY = ROOT / "console"  # the operators' web console, served at /console (docs/operations.md)
# A poller waits this long for messages (SQS long polling), so stopping takes at most this.
POLL_WAIT_SECONDS = 1


def take_due(schedules: dict[str, Schedule], due: dict[str, datetime.datetime | None], now: datetime.datetime) -> list[str]:
    """The schedules due at ``now``; each moves on to its next run in ``due`` (None: never again)."""
    fired = [logical_id for logical_id, at in due.items() if at is not None and now >= at]
    for logical_id in fired:
        due[logical_id] = schedules[logical_id].next_run(now)
    return fired


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, default=str), status=status, content_type="application/json", headers=headers)


def _client_scopes(template: Template) -> set[str]:
    scopes: set[str] = set()
    for _, client in template.of_type("AWS::Cognito::UserPoolClient"):
        scopes.update(client.get("Properties", {}).get("AllowedOAuthScopes", []))
    return scopes


@dataclass
class LocalRuntime:
    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 4566
    aws_endpoint: str | None = None  # an endpoint already running (tests); else an embedded moto server
    run_schedules: bool = True
    poll_interval: float = 0.2
    hub: LocalHub = field(default_factory=lambda: LocalHub(workers=WorkerPool()))

    def __post_init__(self) -> None:
        self._resources = ExitStack()  # the embedded endpoint, when this runtime started it
        self._api: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        # asynchronous invocations (schedules), as Lambda's event invocations: they never wait for each other
        self._async = ThreadPoolExecutor(max_workers=8, thread_name_prefix="localhub-async")
        self.issuer: TokenIssuer | None = None
        self.worker_errors: list[str] = []

    # ------------------------------------------------------------------ start / stop
    def start(self) -> LocalRuntime:
        if self.aws_endpoint is None:
            self.aws_endpoint = self._resources.enter_context(embedded_aws(self.host, self.aws_port))
        self._api = make_server(self.host, self.api_port, self, threaded=True)
        self.issuer = TokenIssuer(issuer=self.api_url)
        self.issuer.register(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET, _client_scopes(self.hub.template))
        self.hub.start()
        for client in self.hub.clients.values():  # each application's client, as the template gives it
            self.issuer.register(client.name, client.secret, client.scopes)
        # the sources (CCB, MDM, Siebel, the field systems, DACS's acknowledgements) post to the hub, each as itself
        for system, simulator in self.hub.simulators.items():
            if isinstance(simulator, CcbSimulator | MdmSimulator | SiebelSimulator | FieldSystemSimulator | DacsSimulator):
                simulator.send_to_hub = lambda path, body, content_type, system=system: self._send_over_http(
                    system, path, body, content_type
                )
        self._spawn("api", self._api.serve_forever)
        for source in self.hub.event_sources:
            # no more pollers than the function can run batches at once
            pollers = (
                source.concurrency if self.hub.workers is None else min(source.concurrency, self.hub.workers.concurrency(source.function))
            )
            for n in range(pollers):
                self._spawn(f"sqs-{source.name}-{n}", lambda s=source, n=n: self._poll_forever(s, n))
        schedules = self._parsed_schedules() if self.run_schedules else {}
        if schedules:
            self._spawn("schedules", lambda: self._schedule_forever(schedules))
        if self.hub.workers is not None:
            self._spawn("reaper", self._reap_forever)
        return self

    def _parsed_schedules(self) -> dict[str, Schedule]:
        """Each function's schedule, read once: a template with an invalid expression is refused here."""
        return {spec.logical_id: parse(expression) for spec, expression in self.hub.schedules()}

    def _send_over_http(self, system: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        """What a source application does: a client-credentials token of its own client, then the API call."""
        import httpx

        own = self.hub.client_of(system)
        with httpx.Client(base_url=self.api_url, timeout=30) as client:
            token = client.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(own.name, own.secret)).json()[
                "access_token"
            ]
            response = client.post(path, content=body, headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"})
        return response.status_code, response.content

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"localhub-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, wait: float = 5.0) -> list[str]:
        """Stop serving, let running executions finish (up to ``wait`` s); returns any left running.

        Invocations still running in their environments are stopped with them; their messages
        come back to their queues after the visibility timeout, as when Lambda stops mid-batch.
        """
        self._stopping.set()
        if self._api is not None:
            self._api.shutdown()
            self._api.server_close()
        abandoned = self.hub.stop(wait)
        for thread in self._threads:
            thread.join(timeout=POLL_WAIT_SECONDS + 1)
        self._async.shutdown(wait=False, cancel_futures=True)
        self._resources.close()
        return abandoned

    @property
    def api_url(self) -> str:
        assert self._api is not None
        return f"http://{self.host}:{self._api.server_port}"

    # ------------------------------------------------------------------ workers
    def _report(self, error: str) -> None:
        self.worker_errors.append(error)
        del self.worker_errors[:-100]  # the latest hundred

    def _poll_forever(self, source: SqsEventSource, index: int = 0) -> None:
        """One of an event source mapping's pollers: receive a batch, invoke, delete what succeeded.

        As Lambda scales a mapping's pollers with its backlog, the first poller (``index`` 0) always
        polls and the others only while the queue gives messages (``source.busy``): set by any poll
        that received some, cleared by the first poller's empty poll once no batch of the mapping is
        being handled. An idle hub makes one long poll per mapping, not one per poller."""
        while not self._stopping.is_set():
            if index and not source.busy.wait(POLL_WAIT_SECONDS):
                continue
            # a function error is the function's (in its log, and its messages come back as on Lambda)
            try:
                result = source.poll_once(wait_seconds=source.window or POLL_WAIT_SECONDS)
            except Exception as exc:  # a poller never dies: report and go on
                self._report(f"poller {source.name}: {type(exc).__name__}: {exc}")
                self._stopping.wait(self.poll_interval)
                continue
            if result.received:
                source.busy.set()
            elif index == 0 and not source.invoking:
                source.busy.clear()

    def _schedule_forever(self, schedules: dict[str, Schedule]) -> None:
        now = datetime.datetime.now(datetime.UTC)
        due = {logical_id: schedule.next_run(now) for logical_id, schedule in schedules.items()}
        while not self._stopping.wait(1.0):
            for logical_id in take_due(schedules, due, datetime.datetime.now(datetime.UTC)):
                self._async.submit(self._run_schedule, logical_id)

    def _run_schedule(self, logical_id: str) -> None:
        invocation = self.hub.run_schedule(logical_id)
        if invocation.failed:
            self._report(f"{logical_id}: {invocation.error}")

    def _reap_forever(self) -> None:
        assert self.hub.workers is not None
        while not self._stopping.wait(5.0):
            self.hub.workers.reap_idle()

    # ------------------------------------------------------------------ HTTP
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = API_GATEWAY_PAYLOAD_LIMIT
        try:
            response = self.dispatch(request)
        except Exception as exc:  # the runtime stays up whatever a request does
            response = _json(500, {"message": f"local runtime error: {type(exc).__name__}"})
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/oauth2/token" and request.method == "POST":
            return self._token(request)
        if path == "/.well-known/jwks.json":
            assert self.issuer is not None
            return _json(200, self.issuer.jwks())
        if path.startswith("/_local/"):
            return self._control(request)
        if (path == "/console" or path.startswith("/console/")) and request.method in ("GET", "HEAD"):
            return self._console(path.removeprefix("/console"))
        return self._api_route(request)

    def _console(self, path: str) -> Response:
        """The operators' web console (``console/``), its files as they are, without a token (as CloudFront serves
        them on AWS); its ``config.json`` says to take a token of the local operators' client at this runtime's token
        endpoint, as the CLI does: local only, a deployed console signs operators in through the hosted UI."""
        if path == "":
            return redirect("/console/")
        if path == "/config.json":
            operators = application_clients(self.hub.stack)[OPERATORS]
            local = {
                "mode": "local",
                "apiUrl": "",
                "tokenUrl": "/oauth2/token",
                "clientId": operators.name,
                "clientSecret": operators.secret,
            }
            return _json(200, local, {"Cache-Control": "no-store"})
        found = safe_join(str(CONSOLE_DIRECTORY), path.lstrip("/") or "index.html")
        if found is None or not Path(found).is_file():
            return _json(404, {"message": "Not Found"})
        content_type = mimetypes.guess_type(found)[0] or "application/octet-stream"
        return Response(Path(found).read_bytes(), status=200, content_type=content_type, headers={"Cache-Control": "no-cache"})

    def _token(self, request: Request) -> Response:
        assert self.issuer is not None
        try:
            return _json(
                200, self.issuer.issue(request.form.to_dict(), request.headers.get("Authorization")), {"Cache-Control": "no-store"}
            )
        except AuthError as exc:
            return _json(exc.status, {"error": exc.error, "error_description": exc.description})

    def _api_route(self, request: Request) -> Response:
        assert self.issuer is not None
        # the path as sent: an escaped "/" (%2F) stays inside its segment, as API Gateway routes it
        path = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path).split("?")[0]
        if not path.startswith("/"):
            path = request.path
        found = match(self.hub.routes, request.method, path)
        if found is None:
            return _json(404, {"message": "Not Found"})
        route, _ = found
        claims = None
        if route.authorizer:
            try:
                claims = self.issuer.verify(request.headers.get("Authorization"), route.scopes)
            except AuthError as exc:
                return _json(exc.status, {"message": exc.error}, {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)
        if (request.content_length or 0) > API_GATEWAY_PAYLOAD_LIMIT:
            return _json(413, {"message": "Request Entity Too Large"})
        answer = self.hub.call_api(
            request.method,
            path,
            body=request.get_data() if request.content_length or request.method in ("POST", "PUT", "PATCH") else None,
            headers=dict(request.headers.items()),
            claims=claims,
            query=request.query_string.decode("latin-1"),
        )
        return Response(answer.body, status=answer.status, headers=answer.headers)

    def _control(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")[1:]
        method = request.method
        if parts == ["health"] and method == "GET":
            return _json(
                200,
                {
                    "status": "ok",
                    "awsEndpoint": self.aws_endpoint,
                    "api": self.api_url,
                    "functions": [f.logical_id for f in self.hub.functions()],
                    "routes": [r.route_key for r in self.hub.routes],
                    "simulators": {system: self.hub.simulator_url(system) for system in self.hub.simulators},
                    "executionEnvironments": self.hub.workers.live() if self.hub.workers else "in-process",
                    "workerErrors": self.worker_errors[-20:],
                },
            )
        if parts == ["resources"] and method == "GET":
            return _json(200, self.hub.resources())
        if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "run" and method == "POST":
            at = None
            if request.content_length:  # {"time": "2026-12-07T03:00:00Z"}: the event says the schedule fired then
                try:
                    at = datetime.datetime.fromisoformat(str(json.loads(request.get_data())["time"]))
                except (ValueError, KeyError, TypeError) as exc:
                    return _json(400, {"message": f'the body is {{"time": <ISO 8601 date-time>}}: {exc}'})
                if at.tzinfo is None:
                    return _json(400, {"message": "the time must carry its time zone"})
            try:
                invocation = self.hub.run_schedule(parts[1], at)
            except KeyError as exc:
                return _json(404, {"message": str(exc)})
            return _json(500 if invocation.failed else 200, {"result": invocation.result, "error": invocation.error})
        if parts == ["queues", "redeliver-now"] and method == "POST":
            return _json(200, {"madeVisible": self.hub.expire_visibility()})
        if parts == ["aws", "throttling"]:
            return self._throttling(request)
        if parts == ["lambda", "crashes"]:
            return self._crashes(request)
        if len(parts) == 3 and parts[0] == "sim":
            simulator = self.hub.simulators.get(parts[1].upper())
            if simulator is None:
                return _json(404, {"message": f"no simulator {parts[1]}; have {', '.join(self.hub.simulators)}"})
            if parts[2] == "state" and method == "GET":
                return _json(200, simulator.state(summary=request.args.get("summary") == "1"))
            if parts[2] == "faults" and method == "POST":
                from localhub.simulators.base import SimulatorError

                try:
                    fault = simulator.add_fault(request.get_json(force=True, silent=True) or {})
                except (SimulatorError, ValueError, TypeError) as exc:
                    return _json(400, {"message": str(exc)})
                return _json(201, fault.__dict__)
            if parts[2] == "faults" and method == "DELETE":
                simulator.clear_faults()
                return Response(status=204)
        return _json(404, {"message": f"no control route {method} {request.path}"})

    def _crashes(self, request: Request) -> Response:
        """``POST {"function", "count", "afterCalls"}`` kills execution environments in the middle of an invocation;
        ``GET`` counts those killed so, per function."""
        workers = self.hub.workers
        if workers is None:
            return _json(409, {"message": "functions run in this process (--in-process): there is no environment to kill"})
        if request.method == "GET":
            return _json(200, {"crashed": dict(workers.crashed)})
        if request.method != "POST":
            return _json(405, {"message": "use POST or GET"})
        spec = request.get_json(force=True, silent=True)
        try:
            if not isinstance(spec, dict):
                raise ValueError('send {"function": "<logical id>" or "*", "count": n, "afterCalls": n}')
            function = str(spec.get("function", "*"))
            if function != "*" and function not in {f.logical_id for f in self.hub.functions()}:
                raise ValueError(f"no function {function}")
            crash = workers.crash(function, count=int(spec.get("count", 1)), after_calls=int(spec.get("afterCalls", 1)))
        except (ValueError, TypeError) as exc:
            return _json(400, {"message": f"invalid crash: {exc}"})
        return _json(201, {"function": crash.function, "count": crash.remaining, "afterCalls": crash.after_calls})

    def _throttling(self, request: Request) -> Response:
        """``POST {"rate", "seed", "services"}`` throttles the functions' AWS calls; ``GET`` reports; ``DELETE`` stops."""
        if request.method == "POST":
            spec = request.get_json(force=True, silent=True)
            try:
                if not isinstance(spec, dict):
                    raise ValueError('send {"rate": 0..1, "seed": n, "services": ["dynamodb", ...]}')
                throttling = self.hub.throttle_aws(
                    float(spec["rate"]), seed=int(spec.get("seed", 0)), services=frozenset(map(str, spec.get("services", [])))
                )
            except (KeyError, ValueError, TypeError) as exc:
                return _json(400, {"message": f"invalid throttling: {exc}"})
            return _json(201, throttling.report())
        if request.method == "GET":
            return _json(200, self.hub.aws_throttling.report() if self.hub.aws_throttling else {"rate": 0.0})
        if request.method == "DELETE":
            self.hub.stop_throttling()
            return Response(status=204)
        return _json(405, {"message": "use POST, GET or DELETE"})
