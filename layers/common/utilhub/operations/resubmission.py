"""Running a failed transaction again from the operations API, without importing the pack that runs it.

The journal's head of a transaction names its pack's resubmission route (``resubmit``: a path of the hub's own
API). The operations function calls that route through the hub's API, with the operator's own bearer token: the
pack's route checks the token (each resubmission route also grants ``utilhub/ops``) and does what its own
resubmission does, the pack's rules (409 when not failed, nothing done twice) included. The API is the one the
operator's request came in through: ``https://<domainName>`` of the request on AWS; the local runtime's
``http://127.0.0.1:<port>`` (its ``Host``) locally, the one plain-HTTP address the connectors allow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3

from utilhub.platform.connectors import require_https
from utilhub.platform.journal import Page
from utilhub.platform.problems import Problem

LOCAL_HOST = re.compile(r"127\.0\.0\.1(:[0-9]{1,5})?")


class HubUnreachable(RuntimeError):
    """The hub's own API did not answer the forwarded resubmission."""


@dataclass(frozen=True)
class Forwarded:
    status: int
    body: dict[str, Any]


def api_base_url(domain_name: str, host: str | None) -> str:
    """The base URL of the API a request came in through (``domainName`` of its request context, ``Host``)."""
    if domain_name == "127.0.0.1" and host and LOCAL_HOST.fullmatch(host):
        return require_https("hub", f"http://{host}")
    return require_https("hub", f"https://{domain_name}")


class HubApi:
    """The hub's own API, called with the operator's token."""

    def __init__(self, base_url: str, authorization: str, correlation_id: str, *, timeout: float = 5.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._authorization = authorization
        self._correlation_id = correlation_id
        self._timeout = timeout
        self._pool = urllib3.PoolManager(retries=False, maxsize=2)

    def post(self, path: str) -> Forwarded:
        try:
            response = self._pool.request(
                "POST",
                f"{self._base_url}{path}",
                body=b"",
                headers={
                    "Authorization": self._authorization,
                    "X-Correlation-Id": self._correlation_id,
                    "Content-Type": "application/json",
                },
                timeout=urllib3.Timeout(total=self._timeout),
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise HubUnreachable(type(exc).__name__) from exc
        try:
            body = json.loads(response.data or b"{}")
        except ValueError:
            body = {}
        return Forwarded(response.status, body if isinstance(body, dict) else {})


def resubmit_listed(
    listing: Callable[[str | None], Page],
    resubmit: Callable[[str, str], object],
    *,
    cursor: str | None,
    out_of_time: Callable[[], bool],
) -> dict[str, Any]:
    """Resubmit each transaction ``listing`` gives (page by page from ``cursor``) with ``resubmit(point, id)``, until
    the last or ``out_of_time()``; then ``remaining`` and the ``cursor`` that continues after the last one tried.

    A transaction the pack refused (a problem under 500: not failed any more, unknown, no resubmission) is in
    ``refused`` with its reason and not tried again by the continued call; one whose resubmission failed (502: the
    pack's route failed or the hub's API did not answer) is in ``failed``: the operator retries it."""
    resubmitted = tried = 0
    refused: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []

    def answer(**more: Any) -> dict[str, Any]:
        return {"resubmitted": resubmitted, "refused": refused, "failed": failed, **more}

    while True:
        page = listing(cursor)
        for item, after in zip(page.items, page.after, strict=True):
            if tried and out_of_time():  # one at least per call: a call again always gets further
                return answer(remaining=True, **({"cursor": cursor} if cursor else {}))
            tried += 1
            try:
                resubmit(item["point"], item["id"])
                resubmitted += 1
            except Problem as problem:
                outcome = {"point": item["point"], "id": item["id"], "status": problem.status, "reason": problem.detail or problem.title}
                (failed if problem.status >= 500 else refused).append(outcome)
            cursor = after
        if page.cursor is None:
            return answer()
        cursor = page.cursor
