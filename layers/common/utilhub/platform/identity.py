"""Who is calling: the caller's OAuth2 client and the systems it may act as.

Each application has a Cognito client of its own (template.yaml, "identity"). Which systems a client may
act as is configuration built from those clients, never code: ``UTILHUB_CLIENT_SYSTEMS`` holds
``{"<client id>": ["CCB"], ...}`` (the template's ``Globals``, with each client's ``Ref``, its client id).

- Every route refuses a token of a client the mapping does not name (``403``): a client added to the user
  pool without being given its systems acts as nothing.
- A route whose body or path names the system acting (a body's ``sourceSystem`` or ``fromSystem``, a path's
  ``{sourceSystem}``, the target of the sync request being acknowledged) calls :func:`require_acting_as`:
  a client that may not act as that system gets a ``403`` problem naming it, before anything is stored or queued.
- A client mapped to ``"*"`` may act as any system. Only the local runtime maps one so (``local-dev``, for
  trying things by hand); the template maps none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from utilhub.platform.problems import Problem
from utilhub.platform.settings import ConfigurationError, get_settings
from utilhub.platform.wiring import per_process

ANY_SYSTEM = "*"


def impersonation(client_id: str, system: str) -> Problem:
    """The ``403`` of a caller naming a system its client may not act as."""
    return Problem(
        403,
        "Forbidden",
        f"Client {client_id} may not act as {system}.",
        "not-your-system",
        extra={"claimedSystem": system},
    )


def parse_client_systems(text: str) -> dict[str, frozenset[str]]:
    """``{"<client id>": ["CCB", ...]}`` as a mapping, or :class:`ConfigurationError` saying what is wrong."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"UTILHUB_CLIENT_SYSTEMS is not JSON: {exc}") from None
    if not isinstance(raw, dict) or not all(
        isinstance(systems, list) and all(isinstance(s, str) for s in systems) for systems in raw.values()
    ):
        raise ConfigurationError('UTILHUB_CLIENT_SYSTEMS must be {"<client id>": ["<system>", ...], ...}')
    return {str(client): frozenset(systems) for client, systems in raw.items()}


@per_process
def client_systems() -> Mapping[str, frozenset[str]]:
    """This deployment's clients and the systems each may act as (read once per process)."""
    return parse_client_systems(get_settings().http.require("client_systems"))


def caller(claims: Mapping[str, Any]) -> str:
    """The client id of a verified token's claims, or a ``403`` when the deployment does not know the client."""
    client_id = str(claims.get("client_id", ""))
    if client_id not in client_systems():
        raise Problem(403, "Forbidden", f"Client {client_id or '(none)'} is not a client of this hub.", "unknown-client")
    return client_id


def may_act_as(client_id: str, system: str) -> bool:
    systems = client_systems().get(client_id, frozenset())
    return system in systems or ANY_SYSTEM in systems


def require_acting_as(claims: Mapping[str, Any], system: str) -> None:
    """Nothing when the caller's client may act as ``system``; else the ``403`` naming ``system``."""
    client_id = caller(claims)
    if not may_act_as(client_id, system):
        raise impersonation(client_id, system)


def require_caller_acts_as(app: APIGatewayHttpResolver, system: str) -> None:
    """:func:`require_acting_as` for the request ``app`` is answering."""
    require_acting_as(app.current_event.request_context.authorizer.jwt_claim or {}, system)
