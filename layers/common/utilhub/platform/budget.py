"""Synchronous calls with a time budget: a route that must answer at once calls its target within
the budget (``sync_call_budget_seconds``, under API Gateway's 29 s limit) and answers a problem when
the target fails, never hangs and never answers 500 for it:

- ``502`` when the target answered an error (unavailable, or a business error that is not a 404);
- ``504`` when the target did not answer within what was left of the budget;
- a target's ``404`` is passed on as a 404 problem (the caller asked for something the target does not have);
- a target's ``400`` or ``422``, when the caller names the field it concerns (``refused``), as a 422 problem.

Each says what the target answered by its status and codes, never by its body's text (it may repeat a value).

A read-only call may be tried once more while the budget lasts (:meth:`TimeBudget.call` with
``read_only=True``); a call that changes something is made once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, overload

from utilhub.platform.connectors import HttpConnector, TargetRejected, TargetTimedOut, TargetUnavailable
from utilhub.platform.observability import logger
from utilhub.platform.problems import FieldError, Problem, invalid, not_found
from utilhub.platform.settings import get_settings

JSON = "application/json"
# below this, a call cannot be made usefully: the budget is spent
MIN_CALL_SECONDS = 0.05


def bad_gateway(system: str, detail: str) -> Problem:
    return Problem(502, "Bad gateway", f"{system} answered an error: {detail}", "bad-gateway", extra={"target": system})


def gateway_timeout(system: str, seconds: float) -> Problem:
    return Problem(504, "Gateway timeout", f"{system} did not answer within {seconds:g} s.", "gateway-timeout", extra={"target": system})


def target_detail(refusal: TargetRejected) -> str:
    """What the target said in refusing: its status and codes (its problem's ``type`` and ``title``, the fields it
    names), never the ``detail`` of its answer, which may repeat the refused value (:mod:`utilhub.platform.reasons`)."""
    return refusal.reason


@dataclass
class TimeBudget:
    """The time one request may spend calling its targets, shared by all its calls."""

    seconds: float = field(default_factory=lambda: get_settings().http.sync_call_budget_seconds)
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        return self.seconds - (self.clock() - self.started)

    def call[T](self, system: str, attempt: Callable[[float], T], *, read_only: bool = False) -> T:
        """``attempt(within)`` makes one call that takes at most ``within`` seconds; failures become problems."""
        tries = 2 if read_only else 1
        for number in range(1, tries + 1):
            within = self.remaining()
            if within < MIN_CALL_SECONDS:
                raise gateway_timeout(system, self.seconds)
            try:
                return attempt(within)
            except TargetTimedOut:
                if number == tries or self.remaining() < MIN_CALL_SECONDS:
                    raise gateway_timeout(system, self.seconds) from None
            except TargetRejected as exc:
                if exc.status == 404:
                    raise not_found(f"{system}: {target_detail(exc)}") from None
                raise bad_gateway(system, target_detail(exc)) from None
            except TargetUnavailable as exc:
                if number == tries:
                    raise bad_gateway(system, str(exc)) from None
            logger.info("read-only call tried again within its budget", extra={"target": system})
        raise AssertionError("unreachable: every attempt returns or raises")

    @overload
    def json_call(
        self,
        connector: HttpConnector,
        method: str,
        path: str,
        body: Any = None,
        *,
        absent_on: None = None,
        read_only: bool | None = None,
        refused: str | None = None,
    ) -> dict[str, Any]: ...

    @overload
    def json_call(
        self,
        connector: HttpConnector,
        method: str,
        path: str,
        body: Any = None,
        *,
        absent_on: int,
        read_only: bool | None = None,
        refused: str | None = None,
    ) -> dict[str, Any] | None: ...

    def json_call(
        self,
        connector: HttpConnector,
        method: str,
        path: str,
        body: Any = None,
        *,
        absent_on: int | None = None,
        read_only: bool | None = None,
        refused: str | None = None,
    ) -> dict[str, Any] | None:
        """One JSON call to ``connector``'s system within the budget: its JSON object, or None when it answers
        ``absent_on``; an answer that is not a JSON object is a 502. A ``read_only`` call (by default a GET) may
        be tried twice. With ``refused`` (a JSON pointer), the target's 400 or 422 is a 422 naming that field."""
        raw = json.dumps(body).encode() if body is not None else None
        system = connector.system

        def attempt(within: float) -> dict[str, Any] | None:
            try:
                response = connector.request(method, path, raw, content_type=JSON, within=within)
            except TargetRejected as exc:
                if exc.status == absent_on:
                    return None
                if refused is not None and exc.status in (400, 422):
                    detail = target_detail(exc)
                    raise invalid(f"{system} refused the request: {detail}", [FieldError(refused, detail)]) from None
                raise
            try:
                answer = json.loads(response.body) if response.body else {}
            except ValueError:
                raise bad_gateway(system, "answered something that is not JSON") from None
            if not isinstance(answer, dict):
                raise bad_gateway(system, "answered JSON that is not an object")
            return answer

        return self.call(system, attempt, read_only=method == "GET" if read_only is None else read_only)
