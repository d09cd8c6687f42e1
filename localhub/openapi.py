"""The OpenAPI 3.1 document of the hub's HTTP API: what the routes declare, merged with the template.

Nothing here is written twice:

- each route declares its method, path, scope, request, answers and prose once, where its code is
  (:func:`utilhub.platform.http.route`); :mod:`utilhub.platform.openapi` describes the declarations;
- which function serves a route, its scopes and authorizer, its integration points and the servers come from
  ``template.yaml`` (the route table, :func:`api_routes`; the scopes' descriptions, :func:`scope_descriptions`).

A template route no route declares, a declared route the template lacks, or a declared scope the template's
route does not require fails the generation. ``python -m localhub.openapi > docs/openapi.json`` writes the
committed document; ``tests/unit/test_openapi.py`` checks it is current and valid.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localhub.template import REGION, ROOT, Template

if TYPE_CHECKING:
    from utilhub.platform.api_docs import RouteDoc

OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "oauth2ClientCredentials"
CLIENT_CREDENTIALS_URL = "/oauth2/token"  # relative to the server: the local hub's endpoint (Cognito's on AWS, output TokenUrl)
LOCAL_SERVER = "http://127.0.0.1:3000"
PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Correlation-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CORRELATION_ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$"  # what utilhub.platform.observability keeps, else generates
_CODE_URI = re.compile(r"^functions/(?P<pack>[a-z][a-z0-9_]*)/(?P<point>[a-z][a-z0-9_]*)/?$")
_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


class OpenApiError(ValueError):
    """The template and the routes' declarations disagree, or a route cannot be described."""


# ---------------------------------------------------------------------------------------- route table


@dataclass(frozen=True)
class ApiRoute:
    """One ``HttpApi`` event of a function in the template."""

    function: str
    event: str
    method: str
    path: str
    scopes: tuple[str, ...]
    authorizer: str | None
    pack: str
    integration_points: tuple[str, ...]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def path_parameters(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)

    @property
    def operation_id(self) -> str:
        """``MeterDataSyncRequestsFunction`` + ``Submit`` -> ``meterDataSyncRequestsSubmit``."""
        stem = self.function.removesuffix("Function")
        return stem[:1].lower() + stem[1:] + self.event[:1].upper() + self.event[1:]

    @property
    def tag(self) -> str:
        return self.pack.replace("_", "-")

    @property
    def secured(self) -> bool:
        return self.authorizer != "NONE"


def api_routes(template: Template) -> list[ApiRoute]:
    """The template's HTTP routes (:meth:`Template.http_routes`), each with its pack and integration points."""
    routes: list[ApiRoute] = []
    seen: dict[str, str] = {}
    for found in template.http_routes():
        where = f"{found.function}.Events.{found.event}"
        if found.method == "ANY" or "+}" in found.path:
            raise OpenApiError(f"{where}: {found.route_key} (ANY or a greedy {{name+}} path) cannot be described in OpenAPI.")
        resource = template.resources[found.function]
        code_uri = str(resource.get("Properties", {}).get("CodeUri", ""))
        match = _CODE_URI.match(code_uri)
        if match is None:
            raise OpenApiError(f"{found.function}: CodeUri {code_uri!r} is not functions/<pack>/<point>/.")
        route = ApiRoute(
            function=found.function,
            event=found.event,
            method=found.method,
            path=found.path,
            scopes=found.scopes,
            authorizer=found.authorizer or "NONE",
            pack=match["pack"],
            integration_points=tuple(resource.get("Metadata", {}).get("utilhub", {}).get("integrationPoints", [])),
        )
        if route.route_key in seen:
            raise OpenApiError(f"{route.route_key} is declared twice in the template: {seen[route.route_key]} and {where}.")
        seen[route.route_key] = where
        routes.append(route)
    return sorted(routes, key=lambda r: (r.path, r.method))


def scope_descriptions(template: Template) -> dict[str, str]:
    """``utilhub/meter-data`` -> its description, from the Cognito resource servers."""
    found: dict[str, str] = {}
    for _, resource in template.of_type("AWS::Cognito::UserPoolResourceServer"):
        props = resource.get("Properties", {})
        identifier = props.get("Identifier")
        if not isinstance(identifier, str):
            continue
        for scope in props.get("Scopes", []):
            found[f"{identifier}/{scope['ScopeName']}"] = str(scope.get("ScopeDescription", ""))
    return found


# ---------------------------------------------------------------------------------------- route documentation

# ---------------------------------------------------------------------------------------- document


def _operation(route: ApiRoute, doc: RouteDoc) -> dict[str, Any]:
    from utilhub.platform import openapi

    where = f"{route.route_key} ({route.function}.{route.event})"
    documented, declared = set(doc.path_parameters), set(route.path_parameters)
    if documented != declared:
        raise OpenApiError(f"{where}: path parameters {sorted(declared)} but documented {sorted(documented)}.")
    if route.secured and doc.scope not in route.scopes:
        raise OpenApiError(f"{where}: the route requires {doc.scope}, the template's event {list(route.scopes)}.")
    described = openapi.operation(doc, secured=route.secured)
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "tags": [route.tag],
        **described,
        "security": [{SECURITY_SCHEME: list(route.scopes)}] if route.secured else [],
    }
    if route.integration_points:
        operation["x-integration-points"] = list(route.integration_points)
    return operation


def build_openapi(template: Template | None = None, declared: dict[str, RouteDoc] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP API of ``template`` (``template.yaml`` by default) and the routes the
    library declares (``declared``: every one, by default)."""
    from utilhub.platform import openapi

    template = template or Template.load()
    routes = api_routes(template)
    declared = openapi.declared_routes() if declared is None else declared

    undeclared = [f"{r.route_key} ({r.function}.{r.event})" for r in routes if r.route_key not in declared]
    if undeclared:
        raise OpenApiError("Routes no code declares (declare each with utilhub.platform.http.route): " + "; ".join(undeclared))
    stale = sorted(set(declared) - {r.route_key for r in routes})
    if stale:
        raise OpenApiError("Declared routes that template.yaml does not declare: " + "; ".join(stale))

    try:
        schemas = openapi.component_schemas(declared[r.route_key] for r in routes)
        paths: dict[str, dict[str, Any]] = {}
        for route in routes:
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, declared[route.route_key])
    except openapi.OpenApiError as exc:
        raise OpenApiError(str(exc)) from None
    _, problem_responses = openapi.problem_components()

    operation_ids = [r.operation_id for r in routes]
    duplicates = sorted({o for o in operation_ids if operation_ids.count(o) > 1})
    if duplicates:
        raise OpenApiError(f"Operation ids are not unique: {duplicates}.")

    descriptions = scope_descriptions(template)
    scopes = sorted({scope for route in routes for scope in route.scopes})
    tags = []
    for tag in sorted({route.tag for route in routes}):
        pack_routes = [route for route in routes if route.tag == tag]
        pack_scopes = sorted({scope for route in pack_routes for scope in route.scopes})
        points = sorted({point for route in pack_routes for point in route.integration_points})
        sentences = [descriptions.get(scope, "").rstrip(".") for scope in pack_scopes]
        sentences += [f"Scope: {', '.join(pack_scopes) or 'none'}", f"Integration points: {', '.join(points) or 'none'}"]
        tags.append({"name": tag, "description": ". ".join(s for s in sentences if s) + "."})

    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": _info(),
        "servers": _servers(template),
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": problem_responses,
            "parameters": openapi.parameter_components(),
            "headers": {
                "CorrelationId": {
                    "description": "The request's correlation id (the one sent when it is safe, else the one generated).",
                    "schema": {"type": "string", "pattern": CORRELATION_ID_PATTERN},
                }
            },
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "oauth2",
                    "description": (
                        "OAuth2 client credentials, one client per application. Locally the token endpoint is the hub's "
                        "(clients ccb, mdm, siebel, osm, mwm, wam, odm, dacs, ops with secret <name>-local-secret, and "
                        "local-dev); on AWS it is the Cognito domain's (stack output TokenUrl)."
                    ),
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": CLIENT_CREDENTIALS_URL,
                            "scopes": {scope: descriptions.get(scope, f"Routes requiring {scope}.") for scope in scopes},
                        }
                    },
                }
            },
        },
    }
    missing = sorted({target for target in openapi.references(document) if not openapi.resolves(document, target)})
    if missing:
        raise OpenApiError(f"Dangling references: {missing}.")
    return document


def _servers(template: Template) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = [{"url": LOCAL_SERVER, "description": "The local hub (`make run`)."}]
    api_url = template.body.get("Outputs", {}).get("ApiUrl", {}).get("Value", {})
    text = api_url.get("Fn::Sub") if isinstance(api_url, dict) else None
    if isinstance(text, str):
        names = re.findall(r"\$\{([^}]+)\}", text)
        defaults = {"AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com"}
        variables = {
            name.removeprefix("AWS::"): {
                "default": defaults.get(name, name),
                "description": f"{name} of the deployed stack" if name.startswith("AWS::") else f"The physical id of {name}",
            }
            for name in names
        }
        url = re.sub(r"\$\{(?:AWS::)?([^}]+)\}", r"{\1}", text)
        servers.append({"url": url, "description": "The deployed stack (output ApiUrl).", "variables": variables})
    return servers


def _info() -> dict[str, Any]:
    from utilhub.platform.settings import HttpApi

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    limit = HttpApi.model_fields["max_body_bytes"].default
    return {
        "title": "utilhub HTTP API",
        "version": project["version"],
        "summary": project["description"],
        "description": (
            "Generated from template.yaml and the library's models by `python -m localhub.openapi`; do not edit.\n\n"
            "Every route requires an OAuth2 client-credentials bearer token with the route's scope; each application "
            "has its own client, holding the scopes of what it sends, and acts only as itself. "
            f"`{CORRELATION_HEADER}` is accepted whatever its value (one generated replaces one absent or unsafe) and returned on every response. "
            f"POST routes marked so honour `{IDEMPOTENCY_HEADER}`. Errors are RFC 9457 problem details "
            f"(`{PROBLEM_JSON}`). Bodies over {limit} bytes (configurable) are refused with 413. "
            "Where a route also reads XML, `Content-Type` decides, and the XML is validated against the XSD named by `x-xsd`."
        ),
        "license": {"name": project["license"], "identifier": project["license"]},
    }


def render(document: dict[str, Any]) -> str:
    """The committed form: JSON, indent 2, sorted keys, a trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    # Run as a script, the common layer is not on the path as it is under pytest (pyproject) or in Lambda (/opt/python).
    if importlib.util.find_spec("utilhub") is None:
        sys.path.insert(0, str(ROOT / "layers" / "common"))
    sys.stdout.write(render(build_openapi()))


if __name__ == "__main__":
    main()
