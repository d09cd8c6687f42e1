"""Step Functions locally: moto's ASL interpreter runs the executions, and its Lambda tasks
run our real handlers in this process.

moto's interpreter calls Lambda with a boto3 client from the default session; a
``before-call.lambda.Invoke`` hook on that session answers the call by invoking the
function from the template in-process. A handler that raises comes back with
``FunctionError: Unhandled`` and Lambda's error payload, and an invocation Lambda refused itself
(throttled, as the worker pool throttles a function at its concurrency) is the Invoke API's error
(``Lambda.TooManyRequestsException`` to the task), so ``Retry`` and ``Catch`` see what they see on AWS.

moto's interpreter builds a new boto3 client for every Lambda task (``boto_client_for``); building one
copies the session's event handlers and costs tens of milliseconds of the runtime's one process, a
third of what that process did in a fault run's busiest phases. While the dispatcher is installed the
Lambda tasks share one client per region (with the hook, as every client of the session has it).
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.response import StreamingBody
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from localhub.lambda_.runtime import Invocation, invoke
from localhub.template import FunctionSpec

# the interpreter's factory of the clients its Lambda tasks call with (moto does not export it)
CLIENT_FACTORY = "boto_client_for"

FunctionResolver = Callable[[str], FunctionSpec | None]
Invoker = Callable[[FunctionSpec, Any], Invocation]


def _payload(value: Any) -> StreamingBody:
    raw = json.dumps(value).encode("utf-8")
    return StreamingBody(io.BytesIO(raw), len(raw))


def _function_name(reference: str) -> str:
    # a name, a partial or full ARN, possibly with a qualifier
    if reference.startswith("arn:"):
        parts = reference.split(":")
        return parts[6]
    return reference.split(":")[0]


class LambdaTaskDispatcher:
    """Answers ``lambda:Invoke`` calls of the default boto3 session by invoking our functions (in this
    process, or in the hub's worker pool)."""

    def __init__(self, resolve: FunctionResolver, invoker: Invoker = invoke) -> None:
        self._resolve = resolve
        self._invoke = invoker
        self.invocations: Counter[tuple[str, bool]] = Counter()  # (function, succeeded) -> count
        self._builds: Callable[..., Any] | None = None  # moto's boto_client_for, while ours stands in for it
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def install(self) -> None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call.lambda.Invoke", self._on_invoke)  # type: ignore[union-attr, arg-type]
        if self._builds is None:
            self._builds = getattr(lambda_eval_utils, CLIENT_FACTORY)
            setattr(lambda_eval_utils, CLIENT_FACTORY, self._client_for)

    def uninstall(self) -> None:
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION.events.unregister("before-call.lambda.Invoke", self._on_invoke)  # type: ignore[arg-type]
        if self._builds is not None:
            setattr(lambda_eval_utils, CLIENT_FACTORY, self._builds)
            self._builds = None
        with self._lock:
            self._clients.clear()

    def _client_for(self, region: str, service: str, state_credentials: Any = None) -> Any:
        """moto's client for a Lambda task, built once per region and service (a botocore client is thread-safe)."""
        assert self._builds is not None
        with self._lock:
            key = (region, service)
            if key not in self._clients:
                self._clients[key] = self._builds(region=region, service=service, state_credentials=state_credentials)
            return self._clients[key]

    def _on_invoke(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = params.get("body") or {}
        encoded = params.get("url_path", "").split("/functions/")[-1].split("/")[0]
        name = _function_name(unquote(encoded))
        spec = self._resolve(name)
        if spec is None:
            return None  # not one of ours: let the call go through
        payload = body if isinstance(body, bytes | bytearray) else str(body).encode("utf-8")
        event = json.loads(payload) if payload else {}
        result = self._invoke(spec, event)
        self.invocations[(spec.logical_id, not result.failed)] += 1
        if result.status != 200:  # Lambda refused the invocation itself (throttled): an API error, Lambda.<code> to the task
            error = result.error or {}
            refused = AWSResponse(url="", status_code=result.status, headers=HTTPHeaders(), raw=None)
            return refused, {
                "Error": {"Code": str(error.get("errorType", "ServiceException")), "Message": str(error.get("errorMessage", ""))},
                "ResponseMetadata": {"HTTPStatusCode": result.status, "RequestId": "local"},
            }
        http = AWSResponse(url="", status_code=200, headers=HTTPHeaders(), raw=None)
        if result.failed:
            return http, {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _payload(result.error), "ExecutedVersion": "$LATEST"}
        return http, {"StatusCode": 200, "Payload": _payload(result.result), "ExecutedVersion": "$LATEST"}
