"""One execution environment of one function: ``python -m localhub.lambda_.worker <fd-in> <fd-out> <spec-json>``.

Started by :class:`localhub.lambda_.workers.WorkerPool` with the function's environment (and nothing of
another function's), it imports the handler first (the init phase of a cold start, which Lambda runs
before the first invocation, with a budget of its own) and says so in a first frame; then it answers
invocations one at a time, as a Lambda execution environment does. An import that failed is tried
again by the next invocation, as Lambda runs a failed init again in the invocation. Requests and answers
are length-prefixed JSON frames on two pipes; the handler's own output goes to the inherited
stdout and stderr, as on Lambda it goes to the log.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")


def read_frame(stream: BinaryIO) -> Any:
    """The next frame's JSON value, or None at the end of the stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return json.loads(stream.read(size))


def write_frame(stream: BinaryIO, value: Any) -> None:
    payload = json.dumps(value).encode("utf-8")
    stream.write(HEADER.pack(len(payload)) + payload)
    stream.flush()


class Environment:
    """The handler and what an invocation needs around it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.handler: Any = None
        self.throttling: Any = None
        self.throttling_version = 0

    def init(self) -> dict[str, Any]:
        """The init phase: import the handler. Its frame: how long it took, and the error that failed it (the first
        invocation then tries the import again)."""
        started = time.perf_counter()
        answer: dict[str, Any] = {"init": True}
        try:
            self._load()
        except Exception as exc:
            answer["error"] = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        answer["durationMs"] = (time.perf_counter() - started) * 1000
        return answer

    def _load(self) -> Any:
        if self.handler is None:
            module = importlib.import_module(self.spec["module"])
            self.handler = getattr(module, self.spec["function"])
        return self.handler

    def invoke(self, event: Any, deadline_ms: int | None = None) -> dict[str, Any]:
        from localhub.lambda_.runtime import LambdaContext

        context = LambdaContext(self.spec["name"], self.spec["memory"], self.spec["timeout"], deadline_ms=deadline_ms)
        started = time.perf_counter()
        try:
            result = self._load()(event, context)
            answer: dict[str, Any] = {"result": result}
            json.dumps(answer)  # what Lambda cannot serialize is a function error
        except Exception as exc:  # a failing handler is a function error, as on Lambda
            answer = {
                "error": {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-5:],
                }
            }
        answer["durationMs"] = (time.perf_counter() - started) * 1000
        return answer

    def throttle(self, settings: dict[str, Any] | None) -> None:
        """Apply the pool's AWS throttling settings (None: no throttling) when they changed."""
        version = int(settings["version"]) if settings else 0
        if version == self.throttling_version:
            return
        from localhub.aws.throttling import AwsThrottling

        if self.throttling is not None:
            self.throttling.uninstall()
            self.throttling = None
        if settings and not settings.get("off"):  # rate 0: the calls are counted, none throttled
            self.throttling = AwsThrottling(
                float(settings["rate"]), seed=int(settings["seed"]), services=frozenset(settings.get("services", []))
            ).install()
        self.throttling_version = version
        from utilhub.platform import wiring

        wiring.reset()  # what holds a client (stores, persistence layers) takes the new ones

    def throttled(self) -> dict[str, Any] | None:
        """What was throttled since the last answer (the pool adds it up)."""
        if self.throttling is None:
            return None
        report = self.throttling.report()
        self.throttling.throttled.clear()
        self.throttling.seen.clear()
        self.throttling.calls = 0
        return {"calls": report["calls"], "seen": report["seen"], "throttled": report["throttled"]}


def die_at_aws_call(number: int) -> Callable[[], None]:
    """Exit as a killed process (137, no answer, nothing flushed) when the invocation starts its AWS call
    ``number``: the local runtime's fault of an environment lost in the middle of its work. Returns what
    disarms it, for an invocation that ends before that call."""
    from botocore.client import BaseClient

    original = vars(BaseClient)["_make_api_call"]
    calls = 0

    def counting(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        nonlocal calls
        calls += 1
        if calls >= number:
            os._exit(137)
        return original(client, operation, params)

    setattr(BaseClient, "_make_api_call", counting)  # noqa: B010 - botocore's stubs do not declare it
    return lambda: setattr(BaseClient, "_make_api_call", original)


def main(argv: list[str]) -> int:
    fd_in, fd_out, spec_json = int(argv[0]), int(argv[1]), argv[2]
    # Powertools warns on every invocation that flushes no metric; on Lambda that goes to the log.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    environment = Environment(json.loads(spec_json))
    with os.fdopen(fd_in, "rb") as requests, os.fdopen(fd_out, "wb") as answers:
        write_frame(answers, environment.init())
        while (request := read_frame(requests)) is not None:
            environment.throttle(request.get("throttling"))
            restore = die_at_aws_call(int(calls) + 1) if (calls := request.get("crashAfterCalls")) is not None else None
            try:
                answer = environment.invoke(request["event"], request.get("deadlineMs"))
            finally:
                if restore is not None:  # an invocation that made fewer calls lived: the next one is not armed
                    restore()
            answer["throttling"] = environment.throttled()
            write_frame(answers, answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
