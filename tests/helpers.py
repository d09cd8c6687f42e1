"""What the integration and e2e tests share: a JSON body posted to the hub in-process with a caller's claims,
waiting until something is so, and a token of a local application's client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from localhub.hub import ApiResponse, LocalHub

JSON = {"content-type": "application/json"}


def post_json(hub: LocalHub, path: str, body: Any, claims: dict[str, Any] | None, headers: dict[str, str] | None = None) -> ApiResponse:
    """``POST path`` through the hub's API with ``body`` as JSON (text or bytes as they are, no body for None), as the
    caller ``claims`` name (None: no token); ``headers`` are added to the JSON content type (or replace it)."""
    raw = body if body is None or isinstance(body, str | bytes) else json.dumps(body)
    return hub.call_api("POST", path, body=raw, headers={**JSON, **(headers or {})}, claims=claims)


def until[T](probe: Callable[[], T], timeout: float = 20.0, interval: float = 0.1) -> T:
    """What ``probe`` answers once it answers something true, or its last answer when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not (found := probe()) and time.monotonic() < deadline:
        time.sleep(interval)
    return found


def bearer(anonymous: httpx.Client, client_id: str) -> dict[str, str]:
    """A token of the local client ``client_id`` (its application's, with its deployed counterpart's scopes)."""
    answer = anonymous.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, f"{client_id}-local-secret"))
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}
