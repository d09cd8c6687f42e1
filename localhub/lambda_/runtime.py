"""Run the template's Lambda handlers in this process, as Lambda would.

Each invocation gets the function's environment from the template (and nothing else of
another function's), a context with the function's name, memory and a deadline from its
timeout, and the library's settings read afresh. Invocations are serialized: the process
environment is shared, and while one runs every thread of the process sees the function's
environment (so the hub lets executions end before it stops, see ``LocalHub.settle``).
A handler that raises is reported as a function error, never taken down with the runtime.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from localhub.lambda_.claims import Invocations
from localhub.template import FunctionSpec

# What the local process keeps for itself (the endpoint, credentials) under every function.
RUNTIME_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "PATH",
    "HOME",
    "TZ",
)
# What another thread of the process rewrites while a function runs (the test runner names the
# current test phase from its main thread): left as it is, neither cleared nor restored.
PROCESS_VARIABLES = frozenset({"PYTEST_CURRENT_TEST"})


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    # when the invocation ends at the latest (epoch ms), as the pool counts it (from its start, not from the end of
    # an init past its budget that the invocation waited for); None: the timeout from now
    deadline_ms: int | None = None
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        left = self.timeout_seconds if self.deadline_ms is None else self.deadline_ms / 1000 - time.time()
        self._deadline = time.monotonic() + left
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    # the status Lambda's Invoke API answered: 200 when the function ran (its error, if any, in ``error``); else Lambda
    # refused the invocation itself and the function never ran (429 throttled, 500 the service failed, 400 the
    # request), ``error`` naming why: a caller sees an API error, not a function error (Step Functions: Lambda.<code>)
    status: int = 200

    @property
    def failed(self) -> bool:
        return self.error is not None


# The invocations run in this process, for the claims they leave (localhub.lambda_.claims)
IN_PROCESS = Invocations()

# Held while a function runs; whatever changes what functions see (clients, hooks) takes it too.
INVOCATION_LOCK = threading.RLock()


@contextmanager
def function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """The process environment as the function sees it, for the duration of the block."""
    from utilhub.platform import wiring

    # The runtime's variables (endpoint, credentials, region) stay in place throughout: other threads (the harness's
    # own clients) read them meanwhile, and a client built in a moment they were absent would call AWS itself.
    saved = {k: v for k, v in os.environ.items() if k not in PROCESS_VARIABLES}
    for name in saved:
        if name not in RUNTIME_VARIABLES and name not in variables:
            del os.environ[name]
    os.environ.update(variables)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    wiring.reset()
    try:
        yield
    finally:
        for name in [k for k in os.environ if k not in PROCESS_VARIABLES and k not in saved]:
            del os.environ[name]
        os.environ.update(saved)


def lambda_variables(spec: FunctionSpec) -> dict[str, str]:
    """The variables a function sees: the template's, and those Lambda sets for it."""
    return {**spec.environment, "AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory)}


def invoke(spec: FunctionSpec, event: Any, *, extra_environment: Mapping[str, str] | None = None) -> Invocation:
    """Invoke ``spec``'s handler with ``event``; errors come back in ``Invocation.error``."""
    with INVOCATION_LOCK:
        environment = {**lambda_variables(spec), **(extra_environment or {})}
        with function_environment(environment):
            started = time.perf_counter()
            try:  # the init phase (the handler's module imported, its wiring built): outside the timeout, as on Lambda
                module = importlib.import_module(spec.module)
            except Exception as exc:  # a failing init is a function error, as on Lambda
                return _function_error(exc, started)
            deadline_ms = int((time.time() + spec.timeout) * 1000)
            context = LambdaContext(spec.name, spec.memory, spec.timeout, deadline_ms=deadline_ms)
            running = IN_PROCESS.started(spec.name, deadline_ms)
            try:
                result = getattr(module, spec.function_name)(event, context)
                return Invocation(result=result, duration_ms=(time.perf_counter() - started) * 1000)
            except Exception as exc:  # a failing handler is a function error, as on Lambda
                return _function_error(exc, started)
            finally:
                IN_PROCESS.ended(running)


def _function_error(exc: Exception, started: float) -> Invocation:
    return Invocation(
        error={"errorType": type(exc).__name__, "errorMessage": str(exc), "stackTrace": traceback.format_exception(exc)[-5:]},
        duration_ms=(time.perf_counter() - started) * 1000,
    )
