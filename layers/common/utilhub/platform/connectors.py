"""Connectors to the target applications: one HTTP call per attempt, never a retry loop.

A failure raises :class:`TargetUnavailable` when trying again later may work (connection
errors, timeouts, 408, 425, 429, 5xx: the queue redelivers) and :class:`TargetRejected` when
it will not (any other 4xx: the message goes to ERROR with the target's reason: its status and codes, never
its body, which may repeat the refused values, see :mod:`utilhub.platform.reasons`).
Credentials come from Secrets Manager (``{"token"}`` for a bearer token or
``{"username","password"}`` for basic auth), cached for ``secret_max_age_seconds``.
A base URL is ``https://``; only the local runtime's simulators answer on ``http://127.0.0.1``
(the template's ``*BaseUrl`` parameters allow the same): any other is refused when the connector
is made, before a credential is read or a byte is sent.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import urllib3

from utilhub.platform import aws, journal
from utilhub.platform.reasons import target_refusal
from utilhub.platform.settings import ConfigurationError, Settings

RETRYABLE_STATUS = frozenset({408, 425, 429})
# the template's AllowedPattern of every <System>BaseUrl parameter says the same
BASE_URL = re.compile(r"https://[^\s/?#@]+(/[^\s?#]*)?|http://127\.0\.0\.1(:[0-9]{1,5})?(/[^\s?#]*)?")


def require_https(system: str, base_url: str) -> str:
    """``base_url`` when it is ``https://`` (or the local runtime's ``http://127.0.0.1``), else a
    :class:`ConfigurationError`: credentials and customer data never travel in clear text."""
    if BASE_URL.fullmatch(base_url) is None:
        raise ConfigurationError(f"the base URL of {system} must be https:// (http:// only to 127.0.0.1, the local runtime)")
    return base_url


class TargetUnavailable(RuntimeError):
    """The target could not take the message now; redeliver later."""


class TargetTimedOut(TargetUnavailable):
    """The target did not answer within the time the call was given."""


class TargetRejected(RuntimeError):
    """The target refused the message; retrying the same message will not help. ``reason``: its status and codes."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason if reason.startswith(f"HTTP {status}") else f"{status}: {reason}")
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class TargetResponse:
    status: int
    content_type: str
    body: bytes


@cache
def _pool() -> urllib3.PoolManager:
    return urllib3.PoolManager(retries=False, maxsize=10)


def _credentials(secret_arn: str | None, max_age: int) -> dict[str, Any]:
    if not secret_arn:
        return {}
    value = aws.parameters("secretsmanager").get(secret_arn, transform="json", max_age=max_age)
    return value if isinstance(value, dict) else {}


class HttpConnector:
    def __init__(self, system: str, base_url: str, secret_arn: str | None, settings: Settings) -> None:
        self.system = system
        self._base_url = require_https(system, base_url).rstrip("/")
        self._secret_arn = secret_arn
        self._settings = settings

    @classmethod
    def of(cls, system: str, settings: Settings) -> HttpConnector:
        """``system``'s connector from its settings (``UTILHUB_<SYSTEM>_BASE_URL``, ``UTILHUB_<SYSTEM>_SECRET_ARN``)."""
        target = settings.connectors.of(system)
        return cls(target.system, target.require_base_url(), target.secret_arn, settings)

    def _auth_header(self) -> dict[str, str]:
        creds = _credentials(self._secret_arn, self._settings.connectors.secret_max_age_seconds)
        if token := creds.get("token"):
            return {"Authorization": f"Bearer {token}"}
        if "username" in creds and "password" in creds:
            pair = f"{creds['username']}:{creds['password']}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def _record(self, method: str, path: str, outcome: str) -> None:
        """The call, a hop of the transaction being worked on (:mod:`utilhub.platform.journal`)."""
        journal.record_call(self.system, method, path, outcome)

    def post(self, path: str, body: bytes, *, content_type: str, headers: dict[str, str]) -> TargetResponse:
        return self.request("POST", path, body, content_type=content_type, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str,
        headers: dict[str, str] | None = None,
        within: float | None = None,
    ) -> TargetResponse:
        """One call; raises :class:`TargetUnavailable` (:class:`TargetTimedOut` when it took too long)
        or :class:`TargetRejected` on failure. ``within``: seconds the whole call may take at most."""
        url = f"{self._base_url}/{path.lstrip('/')}"
        connect, read = self._settings.connectors.connect_timeout_seconds, self._settings.connectors.read_timeout_seconds
        if within is not None:
            connect, read = min(connect, within), min(read, within)
        timeout = urllib3.Timeout(connect=connect, read=read, total=within)
        try:
            response = _pool().request(
                method,
                url,
                body=body,
                headers={"Content-Type": content_type, "Accept": content_type, **(headers or {}), **self._auth_header()},
                timeout=timeout,
                redirect=False,
            )
        except urllib3.exceptions.NewConnectionError as exc:  # refused or not resolved: down, not slow (urllib3 2 makes it a TimeoutError)
            self._record(method, path, "UNREACHABLE")
            raise TargetUnavailable(f"{self.system} unreachable: {type(exc).__name__}") from exc
        except urllib3.exceptions.TimeoutError as exc:  # read or connect timeout (without retries urllib3 raises it as is)
            self._record(method, path, "TIMED_OUT")
            raise TargetTimedOut(f"{self.system} did not answer in time") from exc
        except urllib3.exceptions.HTTPError as exc:
            self._record(method, path, "UNREACHABLE")
            raise TargetUnavailable(f"{self.system} unreachable: {type(exc).__name__}") from exc
        status = response.status
        content = response.headers.get("Content-Type", "")
        self._record(method, path, f"HTTP {status}")
        if status >= 500 or status in RETRYABLE_STATUS:
            raise TargetUnavailable(f"{self.system} answered {status}")
        if status >= 400:
            raise TargetRejected(status, target_refusal(status, response.data, content))
        return TargetResponse(status=status, content_type=content, body=response.data)
