"""Functions run concurrently, each invocation in an execution environment of its own, as on Lambda.

An execution environment is a process (:mod:`localhub.lambda_.worker`) started with the function's
environment from the template; it imports the handler once (the cold start's init phase) and serves one
invocation at a time. As on Lambda, the init phase has a budget of its own (``init_seconds``, Lambda's
10 s), not counted in the function's timeout: on a loaded machine an import may take longer than a
10-second function's timeout, and counting it there would time out every cold start, each retry a
new cold start. An init past its budget goes on within the first invocation's timeout (Lambda runs
it again there). Each function may run as many invocations at once as its concurrency
allows: ``ReservedConcurrentExecutions`` from the template, else the pool's default. Environments
are reused while warm, stopped after ``idle_seconds`` unused, and never more than ``max_processes``
live at once (an idle one of another function is stopped to make room).

What Lambda does to an invocation, the pool does too: one that outlives the function's timeout
is stopped with its environment (``Sandbox.Timedout``), one whose environment dies is
``Runtime.ExitError``, one that finds every slot of its function busy for ``wait_seconds`` is
``TooManyRequestsException``. None of them can take the runtime down.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from localhub.aws.throttling import per_operation
from localhub.lambda_.claims import Invocations
from localhub.lambda_.logs import FunctionLogs
from localhub.lambda_.runtime import RUNTIME_VARIABLES, Invocation, lambda_variables
from localhub.lambda_.worker import HEADER
from localhub.template import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
# Lambda gives a function a few hundred milliseconds past its timeout before it reports it.
TIMEOUT_GRACE_SECONDS = 0.5
# Lambda's budget for an execution environment's init phase (the handler's import), outside the function's timeout.
INIT_SECONDS = 10.0


class EnvironmentLost(Exception):
    """The execution environment ended (or was stopped) before it answered."""


class FrameReader:
    """The frames a worker writes (:mod:`localhub.lambda_.worker`: a length, then the JSON), each read whole within a
    timeout from the pipe's read end ``fd``.

    Unbuffered: ``select`` tells whether the pipe holds bytes, so nothing may be read ahead of the frame asked for. A
    buffered reader would take the answer along with the init frame when a worker wrote both before the pool read
    the first, and the wait for the answer would then time out on an empty pipe (a finished invocation reported as
    ``Sandbox.Timedout``)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def read(self, timeout: float) -> dict[str, Any]:
        """The next frame within ``timeout`` s (TimeoutError), or EOFError when the worker ended before writing it whole."""
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        if not ready:
            raise TimeoutError
        (size,) = HEADER.unpack(self._exactly(HEADER.size))
        frame: dict[str, Any] = json.loads(self._exactly(size))
        return frame

    def _exactly(self, size: int) -> bytes:
        """``size`` bytes (a worker writes each frame at once, so they come without a wait the timeout must bound)."""
        parts: list[bytes] = []
        left = size
        while left:
            part = os.read(self._fd, left)
            if not part:
                raise EOFError
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def close(self) -> None:
        """Close the read end once (a second close could close a descriptor the number was given to since)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class Environment:
    """One worker process of one function."""

    def __init__(self, spec: FunctionSpec, serial: int, logs: FunctionLogs | None = None) -> None:
        self.spec = spec
        self.serial = serial
        self.last_used = time.monotonic()
        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        described = {
            "name": spec.name,
            "memory": spec.memory,
            "timeout": spec.timeout,
            "module": spec.module,
            "function": spec.function_name,
        }
        try:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter running our own module
                [sys.executable, "-m", "localhub.lambda_.worker", str(to_child_read), str(from_child_write), json.dumps(described)],
                env=self._environment(spec),
                pass_fds=(to_child_read, from_child_write),
                stdin=subprocess.DEVNULL,
                # the handler's output: to the pool's logs when it has them, else inherited (the terminal, as on Lambda the log)
                stdout=subprocess.PIPE if logs is not None else None,
                stderr=subprocess.STDOUT if logs is not None else None,
                cwd=ROOT,
            )
        finally:
            os.close(to_child_read)
            os.close(from_child_write)
        self._requests: BinaryIO = os.fdopen(to_child_write, "wb")
        self._answers = FrameReader(from_child_read)
        self.initialized = False  # the worker's first frame (its init phase ended) has been read
        if logs is not None and self.process.stdout is not None:
            logs.follow(spec.logical_id, self.process.stdout)

    def initialize(self, budget: float) -> bool:
        """Wait up to ``budget`` s for the init phase to end; whether it did (failed or not: a failed import is
        tried again by the invocation)."""
        if not self.initialized:
            try:
                self._read(budget)
            except (TimeoutError, EnvironmentLost):  # the invocation finds out which, within its own timeout
                return False
            self.initialized = True
        return True

    def _read(self, timeout: float) -> dict[str, Any]:
        """The worker's next frame, within ``timeout`` s (TimeoutError), or EnvironmentLost when it ended."""
        try:
            return self._answers.read(timeout)
        except EOFError:
            raise EnvironmentLost(f"the environment exited (code {self.process.wait(5)})") from None

    @staticmethod
    def _environment(spec: FunctionSpec) -> dict[str, str]:
        kept = {k: v for k, v in os.environ.items() if k in RUNTIME_VARIABLES}
        pythonpath = os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])
        return {**kept, "PYTHONPATH": pythonpath, "POWERTOOLS_TRACE_DISABLED": "true", **lambda_variables(spec)}

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one invocation and wait for its answer up to ``timeout`` s."""
        payload = json.dumps(request).encode("utf-8")
        try:
            self._requests.write(HEADER.pack(len(payload)) + payload)
            self._requests.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise EnvironmentLost(f"the environment is gone ({type(exc).__name__})") from None
        deadline = time.monotonic() + timeout
        if not self.initialized:  # an init past its budget: it goes on within this invocation's timeout
            self._read(timeout)
            self.initialized = True
        answer = self._read(deadline - time.monotonic())
        self.last_used = time.monotonic()
        return answer

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._requests.close()  # the worker ends at the end of its input
        try:
            self.process.wait(1)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError, ValueError):
            self._answers.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self._requests, self._answers):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


@dataclass
class _Function:
    spec: FunctionSpec
    slots: threading.BoundedSemaphore
    idle: list[Environment] = field(default_factory=list)
    busy: int = 0


@dataclass
class Crash:
    function: str
    remaining: int
    after_calls: int


class WorkerPool:
    def __init__(
        self,
        *,
        default_concurrency: int = 4,
        max_processes: int = 12,
        idle_seconds: float = 120.0,
        wait_seconds: float = 30.0,
        init_seconds: float = INIT_SECONDS,
        logs: FunctionLogs | None = None,
    ) -> None:
        self.logs = logs
        self.init_seconds = init_seconds
        self.default_concurrency = default_concurrency
        self.max_processes = max_processes
        self.idle_seconds = idle_seconds
        self.wait_seconds = wait_seconds
        self._functions: dict[str, _Function] = {}
        self._live = 0
        self._changed = threading.Condition()
        self._serials = itertools.count(1)
        self._stopped = False
        self.cold_starts: Counter[str] = Counter()
        # AWS throttling, applied by each environment (seeded per environment)
        self._throttling: dict[str, Any] | None = None
        self._throttling_versions = itertools.count(1)
        self.throttled: Counter[tuple[str, str]] = Counter()
        self.throttle_seen: Counter[tuple[str, str]] = Counter()
        self.throttle_calls = 0
        # environments to kill in the middle of an invocation: function logical id ("*": any) -> crashes left
        self._crashes: list[Crash] = []
        self.crashed: Counter[str] = Counter()
        # the invocations running and ended (answered, or their environment gone): the claims they left behind lapse
        # as time passes (localhub.lambda_.claims)
        self.invocations = Invocations()

    def concurrency(self, spec: FunctionSpec) -> int:
        return self.default_concurrency if spec.reserved_concurrency is None else spec.reserved_concurrency

    def _function(self, spec: FunctionSpec) -> _Function:
        with self._changed:
            found = self._functions.get(spec.logical_id)
            if found is None:
                found = self._functions[spec.logical_id] = _Function(spec, threading.BoundedSemaphore(self.concurrency(spec)))
            return found

    # ------------------------------------------------------------------ invocations
    def invoke(self, spec: FunctionSpec, event: Any) -> Invocation:
        function = self._function(spec)
        if not function.slots.acquire(timeout=self.wait_seconds):
            return Invocation(error={"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."}, status=429)
        try:
            return self._run(function, event)
        finally:
            function.slots.release()

    def _run(self, function: _Function, event: Any) -> Invocation:
        started = time.perf_counter()
        environment = self._take(function)
        if environment is None and self._stopped:
            return Invocation(error={"errorType": "ServiceException", "errorMessage": "the local runtime is stopping"}, status=500)
        if environment is None:  # every environment the pool may run is busy
            return Invocation(error={"errorType": "TooManyRequestsException", "errorMessage": "Rate Exceeded."}, status=429)
        environment.initialize(self.init_seconds)  # a cold start's init phase, outside the function's timeout
        # the deadline the function's context counts down to (its claims expire then): from now, the environment taken
        # (an init past its budget goes on within it: the worker's context counts from here, not from its init's end)
        deadline_ms = int((time.time() + function.spec.timeout) * 1000)
        request = {"event": event, "throttling": self._throttling_for(environment), "deadlineMs": deadline_ms}
        crash = self._crash_for(function.spec)
        if crash is not None:
            request["crashAfterCalls"] = crash
        running = self.invocations.started(function.spec.name, deadline_ms)
        try:
            return self._call(function, environment, request, crash, started)
        finally:
            self.invocations.ended(running)

    def _call(
        self, function: _Function, environment: Environment, request: dict[str, Any], crash: int | None, started: float
    ) -> Invocation:
        try:
            answer = environment.call(request, function.spec.timeout + TIMEOUT_GRACE_SECONDS)
        except TypeError as exc:  # an event JSON cannot carry never reaches the environment
            self._give_back(function, environment)
            return Invocation(error={"errorType": "InvalidRequestContentException", "errorMessage": str(exc)}, status=400)
        except TimeoutError:
            self._discard(function, environment)
            self._report(function.spec, "timeout", "Sandbox.Timedout", started)
            return Invocation(
                error={"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {function.spec.timeout:.2f} seconds"},
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        except (EnvironmentLost, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            self._discard(function, environment)
            if crash is not None:
                with self._changed:
                    self.crashed[function.spec.logical_id] += 1
            self._report(function.spec, "error", "Runtime.ExitError", started)
            return Invocation(
                error={"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: local Error: {exc}"},
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        except BaseException:
            self._discard(function, environment)
            raise
        self._give_back(function, environment)
        self._count_throttling(function.spec.name, answer.get("throttling"))
        return Invocation(result=answer.get("result"), error=answer.get("error"), duration_ms=float(answer.get("durationMs", 0.0)))

    def _report(self, spec: FunctionSpec, status: str, error_type: str, started: float) -> None:
        """What Lambda writes to a function's log group (JSON format) when an invocation timed out or lost its
        environment: a ``platform.report`` record; ``function`` names it, as every function's output goes to one
        place locally (the pool's logs, else this process's output)."""
        record = {
            "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "type": "platform.report",
            "record": {
                "function": spec.name,
                "status": status,
                "errorType": error_type,
                "metrics": {"durationMs": round((time.perf_counter() - started) * 1000, 1)},
            },
        }
        line = json.dumps(record)
        if self.logs is not None:
            self.logs.write(spec.logical_id, line)
        else:
            print(line, flush=True)

    def _take(self, function: _Function) -> Environment | None:
        """A warm environment of the function, else a new one; None when stopping or none frees up in time."""
        deadline = time.monotonic() + self.wait_seconds
        with self._changed:
            while True:
                if self._stopped or time.monotonic() > deadline:
                    return None
                if function.idle:
                    function.busy += 1
                    return function.idle.pop()
                if self._live < self.max_processes or self._stop_oldest_idle():
                    self._live += 1
                    function.busy += 1
                    break
                self._changed.wait(1.0)
        try:
            environment = Environment(function.spec, next(self._serials), self.logs)
        except Exception:
            with self._changed:
                self._live -= 1
                function.busy -= 1
                self._changed.notify_all()
            raise
        with self._changed:
            self.cold_starts[function.spec.logical_id] += 1
        return environment

    def _stop_oldest_idle(self) -> bool:
        """Make room for a new environment (the caller holds the lock)."""
        candidates = [(e.last_used, f, e) for f in self._functions.values() for e in f.idle]
        if not candidates:
            return False
        _, function, environment = min(candidates, key=lambda c: c[0])
        function.idle.remove(environment)
        self._live -= 1
        threading.Thread(target=environment.stop, daemon=True).start()
        return True

    def _give_back(self, function: _Function, environment: Environment) -> None:
        with self._changed:
            function.busy -= 1
            if self._stopped:
                self._live -= 1
                stop: Environment | None = environment
            else:
                function.idle.append(environment)
                stop = None
            self._changed.notify_all()
        if stop is not None:
            stop.stop()

    def _discard(self, function: _Function, environment: Environment) -> None:
        environment.kill()
        with self._changed:
            function.busy -= 1
            self._live -= 1
            self._changed.notify_all()

    def reap_idle(self) -> int:
        """Stop the environments unused for ``idle_seconds``; returns how many."""
        cutoff = time.monotonic() - self.idle_seconds
        stale: list[Environment] = []
        with self._changed:
            for function in self._functions.values():
                keep = [e for e in function.idle if e.last_used >= cutoff]
                stale += [e for e in function.idle if e.last_used < cutoff]
                function.idle = keep
            self._live -= len(stale)
            self._changed.notify_all()
        for environment in stale:
            environment.stop()
        return len(stale)

    def live(self) -> dict[str, dict[str, int]]:
        with self._changed:
            return {
                logical_id: {"idle": len(f.idle), "busy": f.busy, "concurrency": self.concurrency(f.spec)}
                for logical_id, f in self._functions.items()
            }

    def stop(self) -> None:
        """Stop every idle environment now; busy ones stop when their invocation ends (or is killed)."""
        with self._changed:
            self._stopped = True
            idle = [e for f in self._functions.values() for e in f.idle]
            for function in self._functions.values():
                function.idle = []
            self._live -= len(idle)
            self._changed.notify_all()
        for environment in idle:
            environment.stop()

    # ------------------------------------------------------------------ crashes
    def crash(self, function: str, *, count: int = 1, after_calls: int = 1) -> Crash:
        """Kill the next ``count`` environments of ``function`` ("*": of any function) in the middle of an
        invocation: each exits as a killed process would when its handler starts its AWS call number
        ``after_calls`` + 1, after the first ``after_calls`` calls were made (a batch half done)."""
        if count < 1 or after_calls < 0:
            raise ValueError("count must be at least 1, afterCalls at least 0")
        crash = Crash(function, count, after_calls)
        with self._changed:
            self._crashes.append(crash)
        return crash

    def _crash_for(self, spec: FunctionSpec) -> int | None:
        with self._changed:
            for crash in self._crashes:
                if crash.function in ("*", spec.logical_id) and crash.remaining > 0:
                    crash.remaining -= 1
                    if crash.remaining == 0:
                        self._crashes.remove(crash)
                    return crash.after_calls
        return None

    # ------------------------------------------------------------------ AWS throttling
    def throttle(self, rate: float, *, seed: int = 0, services: frozenset[str] = frozenset()) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._changed:
            self._throttling = {"version": next(self._throttling_versions), "rate": rate, "seed": seed, "services": sorted(services)}
            self.throttled.clear()
            self.throttle_seen.clear()
            self.throttle_calls = 0

    def stop_throttling(self) -> None:
        with self._changed:
            self._throttling = None if self._throttling is None else {"version": next(self._throttling_versions), "off": True}

    def _throttling_for(self, environment: Environment) -> dict[str, Any] | None:
        settings = self._throttling
        if settings is None or not settings.get("rate"):
            return settings
        # one seeded sequence per environment: a run is repeatable per environment
        return {**settings, "seed": int(settings["seed"]) * 1_000_003 + environment.serial}

    def _count_throttling(self, function_name: str, counted: dict[str, Any] | None) -> None:
        if not counted:
            return
        with self._changed:
            self.throttle_calls += int(counted["calls"])
            for entry in counted["throttled"]:
                self.throttled[(function_name, entry["operation"])] += int(entry["count"])
            for entry in counted.get("seen", []):
                self.throttle_seen[(function_name, entry["operation"])] += int(entry["count"])

    def throttling_report(self) -> dict[str, Any]:
        with self._changed:
            settings = self._throttling or {}
            return {
                "rate": float(settings.get("rate", 0.0)),
                "services": list(settings.get("services", [])),
                "calls": self.throttle_calls,
                "seen": per_operation(self.throttle_seen),
                "throttled": per_operation(self.throttled),
            }
