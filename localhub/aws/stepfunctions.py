"""Step Functions locally: moto's ASL interpreter runs the executions, and its Lambda tasks
run our real handlers in this process.

moto's interpreter calls Lambda with a boto3 client from the default session; a
``before-call.lambda.Invoke`` hook on that session answers the call by invoking the
function from the template in-process. A handler that raises comes back with
``FunctionError: Unhandled`` and Lambda's error payload, so ``Retry`` and ``Catch`` see
what they see on AWS.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.response import StreamingBody

from localhub.lambda_.runtime import Invocation, invoke
from localhub.template import FunctionSpec

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

    def install(self) -> None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("before-call.lambda.Invoke", self._on_invoke)  # type: ignore[union-attr, arg-type]

    def uninstall(self) -> None:
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION.events.unregister("before-call.lambda.Invoke", self._on_invoke)  # type: ignore[arg-type]

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
        http = AWSResponse(url="", status_code=200, headers=HTTPHeaders(), raw=None)
        if result.failed:
            return http, {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _payload(result.error), "ExecutedVersion": "$LATEST"}
        return http, {"StatusCode": 200, "Payload": _payload(result.result), "ExecutedVersion": "$LATEST"}
