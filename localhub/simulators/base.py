"""The base every application simulator stands on.

A simulator is a small HTTP server (werkzeug) that validates what it receives against its
application's own contract (an XSD, or models written for the simulator from the application's
documented interface: ``tests/unit/test_simulator_contracts.py`` lists the simulators whose contract is
their own, and fails if one imports the hub's message models; the others still use the hub's models),
keeps records, answers as the real system would, and
takes injected faults:

- ``down``: the next N calls answer 503 (the hub must redeliver);
- ``slow``: the next N calls wait ``seconds`` before answering (timeouts);
- ``hold``: the next N calls wait until the holds are released (:meth:`Simulator.release_holds`, or
  ``DELETE /_faults``), at most ``seconds`` (30 by default): a target busy for as long as a test needs, not a guess;
- ``reject``: the next N messages get a negative (business) answer with ``reason``;
- ``refuse``: the next N calls are refused with ``status`` (422 by default) and a problem document whose ``detail``
  is ``reason``, as a target that repeats the refused value in its answer does;
- ``accept_later``: the next N messages are accepted with an acknowledgement to follow.

``after``: the fault starts after that many calls have passed (a target that fails in the middle
of a request's calls).

``GET /_state`` and ``POST /_faults`` are served by every simulator; the local runtime's
control API forwards to them.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

FAULT_KINDS = ("down", "slow", "hold", "reject", "refuse", "accept_later")
# The messages a simulator remembers in ``received`` (the latest; ``received_total`` counts them all),
# so a hub left running through millions of messages keeps its memory flat.
RECEIVED_KEPT = 10_000


@dataclass
class Fault:
    kind: str
    remaining: int
    seconds: float = 0.0
    reason: str = "rejected by simulator fault"
    after: int = 0  # calls let through before the fault starts
    status: int = 422  # a ``refuse`` fault's answer


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/xml"


def json_reply(status: int, body: Any) -> Reply:
    return Reply(status, json.dumps(body).encode(), "application/json")


class SimulatorError(Exception):
    """The message is invalid for this system: answered as 400 with the reason."""


@dataclass
class Simulator(ABC):
    """Subclasses implement :meth:`handle` for their routes; the base does faults and state."""

    system: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECEIVED_KEPT))
    received_total: int = 0
    faults: list[Fault] = field(default_factory=list)
    # what the hub must present: {"username","password"} (Basic) or {"token"} (Bearer), from its secret
    credentials: dict[str, str] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _released: threading.Event = field(default_factory=threading.Event)

    def _authorized(self, header: str) -> bool:
        if token := self.credentials.get("token"):
            return hmac.compare_digest(header, f"Bearer {token}")
        pair = f"{self.credentials.get('username', '')}:{self.credentials.get('password', '')}".encode()
        return hmac.compare_digest(header, "Basic " + base64.b64encode(pair).decode())

    # ---------------------------------------------------------------- faults
    def add_fault(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        if kind not in FAULT_KINDS:
            raise SimulatorError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")
        fault = Fault(
            kind=kind,
            remaining=int(spec.get("count", 1)),
            seconds=float(spec.get("seconds", 30.0 if kind == "hold" else 0.0)),
            reason=str(spec.get("reason", "rejected by simulator fault")),
            after=int(spec.get("after", 0)),
            status=int(spec.get("status", 422)),
        )
        if fault.remaining < 1 or fault.after < 0:
            raise SimulatorError("count must be at least 1, after at least 0")
        if not 400 <= fault.status < 500:
            raise SimulatorError("a refusal's status is a 4xx")
        with self._lock:
            if kind == "hold":
                self._released.clear()
            self.faults.append(fault)
        return fault

    def take_fault(self, *kinds: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.after > 0:
                    fault.after -= 1
                    continue
                if fault.kind in kinds and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
        self.release_holds()

    def release_holds(self) -> None:
        """Let every call waiting on a ``hold`` fault go on."""
        self._released.set()

    def note_received(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(message)
            self.received_total += 1

    # ---------------------------------------------------------------- state
    def state(self, *, summary: bool = False) -> dict[str, Any]:
        """Records, messages received and pending faults; ``summary``: counts instead of records."""
        with self._lock:
            return {
                "system": self.system,
                **({"recordCount": len(self.records)} if summary else {"records": dict(self.records)}),
                "received": self.received_total,
                "faults": [f.__dict__ for f in self.faults],
            }

    # ---------------------------------------------------------------- HTTP
    def requires_credentials(self, path: str) -> bool:
        """Whether ``path`` is a service the hub calls (with its credentials), not one of the system's own users' routes."""
        return True

    @abstractmethod
    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        """Answer one request to the system's own routes (faults already applied)."""

    def dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/_state" and request.method == "GET":
            return Response(
                json.dumps(self.state(summary=request.args.get("summary") == "1"), default=str), content_type="application/json"
            )
        if path == "/_faults" and request.method == "POST":
            try:
                fault = self.add_fault(request.get_json(force=True, silent=False) or {})
            except (SimulatorError, ValueError, TypeError) as exc:
                return Response(json.dumps({"error": str(exc)}), status=400, content_type="application/json")
            return Response(json.dumps(fault.__dict__), status=201, content_type="application/json")
        if path == "/_faults" and request.method == "DELETE":
            self.clear_faults()
            return Response(status=204)
        if self.credentials and self.requires_credentials(path) and not self._authorized(request.headers.get("Authorization", "")):
            return Response(b"wrong or missing credentials", status=401, content_type="text/plain")
        if self.requires_credentials(path) and (refusal := self.take_fault("refuse")):
            problem = {"type": "https://simulator.invalid/problems/refused", "title": "Invalid request", "status": refusal.status}
            return Response(
                json.dumps({**problem, "detail": refusal.reason}), status=refusal.status, content_type="application/problem+json"
            )
        if self.take_fault("down"):
            return Response(b"simulated outage", status=503, content_type="text/plain")
        if slow := self.take_fault("slow"):
            time.sleep(slow.seconds)
        if hold := self.take_fault("hold"):
            self._released.wait(hold.seconds)
        headers = {k.lower(): v for k, v in request.headers.items()}
        # the path as sent (still percent-encoded: ids may hold "/"), with its query
        target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        try:
            reply = self.handle(request.method, target, request.get_data(), headers)
        except SimulatorError as exc:
            reply = Reply(400, str(exc).encode(), "text/plain")
        return Response(reply.body, status=reply.status, content_type=reply.content_type)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.dispatch(Request(environ))(environ, start_response)


class SimulatorServer:
    """Serves one simulator on 127.0.0.1 in a background thread."""

    def __init__(self, simulator: Simulator, port: int = 0) -> None:
        self.simulator = simulator
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, simulator, threaded=True)
        # a short poll interval: stopping waits for the loop to notice, once per simulator (tests stop a hub each)
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), name=f"sim-{simulator.system}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> SimulatorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
