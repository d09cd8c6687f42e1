"""The applications' OAuth2 clients locally: one per ``AWS::Cognito::UserPoolClient`` of the template.

A client is named after its ``ClientName`` without the ``utilhub-`` prefix and the ``-<Stage>`` suffix
(``utilhub-ccb-${Stage}`` -> ``ccb``), or after its logical id when the name does not follow that
pattern (``MwmClient`` -> ``mwm``); its secret is ``<name>-local-secret`` and its scopes are its
``AllowedOAuthScopes``, nothing listed twice. Locally a client's ``Ref`` resolves to this name, so the
template's ``UTILHUB_CLIENT_SYSTEMS`` names the same clients here as on AWS.

``local-dev`` (:mod:`localhub.apigw.auth`) is the one client not in the template: every scope, and it may act as
any system (the local runtime adds it to each function's ``UTILHUB_CLIENT_SYSTEMS``). It exists only here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from localhub.template import LocalStack, Physical, Template

CLIENT_TYPE = "AWS::Cognito::UserPoolClient"
CLIENT_SYSTEMS_VARIABLE = "UTILHUB_CLIENT_SYSTEMS"
ANY_SYSTEM = "*"  # utilhub.platform.identity.ANY_SYSTEM
NAME_PREFIX = "utilhub-"
OPERATORS = "operators"  # the operators' client acts as no system: it is known by this name instead


@dataclass(frozen=True)
class LocalClient:
    logical_id: str
    name: str
    scopes: frozenset[str]

    @property
    def secret(self) -> str:
        return f"{self.name}-local-secret"


def client_name(stack: LocalStack, logical_id: str) -> str:
    """The local name (and ``Ref``) of the template's client ``logical_id``."""
    props = stack.template.resources[logical_id].get("Properties", {})
    stage = stack.parameters.get("Stage", "")
    resolved = str(stack.resolve(props["ClientName"])) if "ClientName" in props else ""
    suffix = f"-{stage}"
    if resolved.startswith(NAME_PREFIX) and resolved.endswith(suffix) and len(resolved) > len(NAME_PREFIX) + len(suffix):
        return resolved[len(NAME_PREFIX) : -len(suffix)]
    return logical_id.removesuffix("Client").lower()


def local_clients(stack: LocalStack | None = None) -> list[LocalClient]:
    """Every client of the template, as the local runtime offers it."""
    stack = stack or LocalStack(Template.load())
    clients = [
        LocalClient(
            logical_id=logical_id,
            name=client_name(stack, logical_id),
            scopes=frozenset(resource.get("Properties", {}).get("AllowedOAuthScopes", [])),
        )
        for logical_id, resource in stack.template.of_type(CLIENT_TYPE)
    ]
    names = [client.name for client in clients]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"two clients of the template have the local name {', '.join(duplicates)}")
    return clients


def with_any_system_client(client_systems: str, client_id: str) -> str:
    """The ``UTILHUB_CLIENT_SYSTEMS`` value ``client_systems`` with ``client_id`` allowed to act as any system."""
    mapping = json.loads(client_systems)
    mapping[client_id] = [ANY_SYSTEM]
    return json.dumps(mapping, sort_keys=True)


def clients_acting_as(client_systems: str, system: str) -> list[str]:
    """The clients ``client_systems`` lets act as ``system`` by name (``*`` aside), in its order."""
    mapping: dict[str, list[str]] = json.loads(client_systems)
    return [client for client, systems in mapping.items() if system in systems]


def client_systems_of(stack: LocalStack) -> dict[str, list[str]]:
    """``UTILHUB_CLIENT_SYSTEMS`` as the template builds it, each client's ``Ref`` resolved to its local name."""
    resolver = LocalStack(stack.template, parameters=stack.parameters, prefix=stack.prefix, region=stack.region)
    for logical_id, _ in stack.template.of_type(CLIENT_TYPE):
        resolver.physical[logical_id] = Physical(client_name(resolver, logical_id))
    value = stack.template.function_globals.get("Environment", {}).get("Variables", {})[CLIENT_SYSTEMS_VARIABLE]
    # written once as an SSM parameter's value (template.yaml's ClientSystems), which the Globals' variable reads
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        parameter, attribute = value["Fn::GetAtt"] if isinstance(value["Fn::GetAtt"], list) else value["Fn::GetAtt"].split(".")
        value = stack.template.resources[parameter]["Properties"][attribute]
    mapping: dict[str, list[str]] = json.loads(resolver.resolve(value))
    return mapping


def application_clients(stack: LocalStack | None = None) -> dict[str, LocalClient]:
    """The client each application calls with, by system code (``CCB``, ``SEBL``, ...), and the operators'
    (the first client that acts as no system: the CLI's ``ops``, not the web console's, which signs operators in) under
    :data:`OPERATORS`."""
    stack = stack or LocalStack(Template.load())
    by_name = {client.name: client for client in local_clients(stack)}
    found: dict[str, LocalClient] = {}
    for name, systems in client_systems_of(stack).items():
        for system in systems or [OPERATORS]:
            if system == OPERATORS and system in found:
                continue
            if system in found:
                raise ValueError(f"{found[system].name} and {name} both act as {system}")
            found[system] = by_name[name]
    return found
