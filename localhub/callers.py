"""Who sends each call of the hub's API, by the catalogue (Oracle's packs, docs/packs/*.md), and an ``httpx`` auth
that calls as that application with its own local client.

:func:`route_senders` names the systems that send a route (the flow column of the catalogue: CCB's
sync requests, MDM's acknowledgements and notifications, WAM's or ODM's billable charges, ...); the
template's test checks that each route's scope is held by exactly those applications' clients.
:class:`ApplicationAuth` gives each request the token of the application that sends it (for a route
more than one application sends, the one the body or path names), so the demo, the fault run and the
e2e tests call as the applications do and a scope the template forgot fails them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Mapping
from typing import Any

import httpx

from localhub.apigw.identities import OPERATORS, LocalClient, application_clients

FIELD_SYSTEMS = frozenset({"CCB", "MWM", "WAM", "ODM"})
ASSET_SYSTEMS = frozenset({"WAM", "ODM"})  # the asset system of model v1.9 and of v2.1


def route_senders(method: str, path: str) -> frozenset[str]:
    """The systems (or :data:`OPERATORS`) that send ``method path`` (a template path or a concrete one): a pack's
    resubmission is its application's and the operators' too (the operations API runs it, docs/operations.md)."""
    senders = _senders(method, path)
    if path.endswith("/resubmission") and not path.startswith("/ops/"):
        return senders | {OPERATORS}
    return senders


def _senders(method: str, path: str) -> frozenset[str]:
    parts = path.strip("/").split("/")
    pack, rest = parts[0], parts[1:]
    if pack == "ops" or (len(rest) > 1 and rest[0] == "dead-letters"):
        return frozenset({OPERATORS})  # dead letters and their redrive
    if rest and rest[0].startswith("sync-requests"):
        if rest[-1] == "acknowledgement":  # the flow's target: MD-01..10/18 MDM, FW-06 WAM or ODM, DA-02 DACS
            return {"meter-data": frozenset({"MDM"}), "field-work": ASSET_SYSTEMS, "dacs": frozenset({"DACS"})}[pack]
        return frozenset({"CCB"})  # CCB's sync requests: intake, batch, query, resubmission
    if pack == "dacs" and rest == ["acknowledgements"]:
        return frozenset({"DACS"})  # DA-04
    if pack == "meter-data" and rest:
        if rest[0] in ("replacement-reads", "bill-cycle-changes"):
            return frozenset({"MDM"})  # MD-13, MD-20
        if rest[0] == "links":
            return frozenset({"CCB", "MDM"})  # MD-21: CCB's objects into MDM, MDM's SP into CCB's control central
        return frozenset({"CCB"})  # MD-11, MD-12, MD-14..17, MD-19
    if pack == "customer":
        return frozenset({"SEBL"})  # CU-01, CU-02
    if pack == "order-to-cash":
        return frozenset({"OSM"})  # OC-01, OC-02
    if pack == "field-work" and rest:
        if rest[0] == "activities":
            # FW-07 attachments are MWM's; FW-01 any of CCB/MWM/WAM/ODM creates, FW-02 any linked system reports
            return frozenset({"MWM"}) if rest[-1] == "attachments" else FIELD_SYSTEMS
        if rest in (["meter-validations"], ["service-points"]):
            return frozenset({"MWM"})  # FW-04, FW-08
        if rest == ["billing-charges"]:
            return ASSET_SYSTEMS  # FW-05
        if rest == ["unbadged-assets"]:
            return frozenset({"ODM"})  # FW-11
        if rest[0] in ("appointments", "customer-updates", "service-points"):
            return frozenset({"CCB"})  # FW-03, FW-10, FW-09 (a service point's installed assets)
    raise LookupError(f"{method} {path}: no application of the catalogue sends it")


def call_sender(method: str, path: str, body: bytes = b"", *, asset_system: str = "ODM") -> str | None:
    """The system (or :data:`OPERATORS`) sending this call; None for what is not a route of the hub's API (the
    token endpoint, the control API, a path no application sends: called without a token). Among several
    senders: the body's ``fromSystem`` or ``sourceSystem``, else the path's system, else CCB (MD-21), else
    ``asset_system`` (WAM or ODM, by the implementation model)."""
    if path.startswith(("/_local/", "/oauth2/", "/.well-known/")):
        return None
    try:
        senders = route_senders(method, path)
    except LookupError:
        return None
    if len(senders) == 1:
        return next(iter(senders))
    try:
        fields = json.loads(body) if body else {}
    except ValueError:
        fields = {}
    parts = path.strip("/").split("/")
    named = [
        fields.get("fromSystem") if isinstance(fields, dict) else None,
        fields.get("sourceSystem") if isinstance(fields, dict) else None,
        parts[2] if len(parts) > 2 else None,
    ]
    for candidate in [*named, "CCB", asset_system]:
        if candidate in senders:
            return str(candidate)
    return sorted(senders)[0]


class ApplicationAuth(httpx.Auth):
    """Each request with a token of the client of the application that sends it (client credentials at the
    hub's ``/oauth2/token``, one token per client, fetched again before it expires)."""

    requires_request_body = True

    def __init__(self, api_url: str, clients: Mapping[str, LocalClient] | None = None, *, asset_system: str = "ODM") -> None:
        self.api_url = api_url
        self.clients = dict(clients) if clients is not None else application_clients()
        self.asset_system = asset_system
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def client_for(self, request: httpx.Request) -> LocalClient | None:
        system = call_sender(request.method, request.url.path, request.content, asset_system=self.asset_system)
        return None if system is None else self.clients[system]

    def token(self, client: LocalClient) -> str:
        import time

        with self._lock:
            cached = self._tokens.get(client.name)
            if cached is None or cached[1] < time.monotonic():
                answer = httpx.post(
                    f"{self.api_url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client.name, client.secret), timeout=30
                )
                answer.raise_for_status()
                token: dict[str, Any] = answer.json()
                cached = (str(token["access_token"]), time.monotonic() + float(token.get("expires_in", 3600)) / 2)
                self._tokens[client.name] = cached
            return cached[0]

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        client = self.client_for(request)
        if client is not None:
            request.headers["Authorization"] = f"Bearer {self.token(client)}"
        yield request
