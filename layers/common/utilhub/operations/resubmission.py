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
from dataclasses import dataclass
from typing import Any

import urllib3

from utilhub.platform.connectors import require_https

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
