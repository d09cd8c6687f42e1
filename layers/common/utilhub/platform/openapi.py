"""The OpenAPI description of what the library's routes declare (:func:`utilhub.platform.http.route`).

:func:`declared_routes` finds every route the library declares (the resolvers its modules build);
:func:`operation` and :func:`components` describe them. The template's part (which function serves a route, its
scopes, the servers) is merged in by ``localhub.openapi``, which writes ``docs/openapi.json``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from utilhub.platform.api_docs import JsonSchemaMode, RouteDoc, XmlBody, ref
from utilhub.platform.http import JSON, XML_TYPES, HttpApiResolver
from utilhub.platform.observability import CORRELATION_HEADER
from utilhub.platform.problems import PROBLEM_CONTENT_TYPE

SCHEMA_REF = "#/components/schemas/{model}"
IDEMPOTENCY_HEADER = "Idempotency-Key"
XSD_NAMESPACE = "http://www.w3.org/2001/XMLSchema"
PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


class OpenApiError(ValueError):
    """The routes' declarations and the template disagree, or a route cannot be described."""


def declared_apis(package: str = "utilhub") -> list[HttpApiResolver]:
    """Every resolver a module of ``package`` builds (a module attribute, or a value of a module-level mapping, as
    the FW-06 API keeps one resolver per implementation model)."""
    root = importlib.import_module(package)
    found: dict[int, HttpApiResolver] = {}
    for module_info in pkgutil.walk_packages(root.__path__, f"{package}."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            candidates = value.values() if isinstance(value, Mapping) else (value,)
            for candidate in candidates:
                if isinstance(candidate, HttpApiResolver):
                    found[id(candidate)] = candidate
    return list(found.values())


def declared_routes(apis: Iterable[HttpApiResolver] | None = None) -> dict[str, RouteDoc]:
    """The declaration of every route, by route key. A route two resolvers serve (FW-06's, one per implementation
    model) must be declared the same by both."""
    routes: dict[str, RouteDoc] = {}
    for api in declared_apis() if apis is None else apis:
        for key, doc in api.declarations.items():
            if key in routes and routes[key] != doc:
                raise OpenApiError(f"{key} is declared twice, differently.")
            routes[key] = doc
    return routes


# ---------------------------------------------------------------------------------------- problems and parameters

PROBLEMS: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "The body does not parse, a header is malformed (an `Idempotency-Key` of no or over 255 characters), or a parameter breaks the id rule or holds a control character.",
    ),
    401: ("Unauthorized", "No valid bearer token."),
    403: (
        "Forbidden",
        "The token does not grant the route's scope, its client is not one of the hub's, or the client may not act as "
        "the system the request names (`claimedSystem`).",
    ),
    404: ("NotFound", "No such resource."),
    409: (
        "Conflict",
        "The request conflicts with the resource's state, or an Idempotency-Key was reused with another body; or the same "
        "request is still being processed (`in-progress`): retry after `Retry-After` seconds.",
    ),
    413: ("PayloadTooLarge", "The body exceeds the configured limit."),
    415: ("UnsupportedMediaType", "The Content-Type is not accepted by this route."),
    422: ("UnprocessableContent", "The body parses but breaks the contract; `errors` points at each invalid field."),
    502: ("BadGateway", "The target application answered an error; `target` names it."),
    504: ("GatewayTimeout", "The target application did not answer within the route's time budget; `target` names it."),
    503: ("ServiceUnavailable", "AWS throttled the hub or failed for a moment; nothing was lost, retry after `Retry-After` seconds."),
}
GATEWAY_REFUSALS = (401, 403)  # API Gateway's JWT authorizer answers these before the hub runs


def problem_components() -> tuple[dict[str, Any], dict[str, Any]]:
    """The problem details schemas and one response per problem status."""
    from utilhub.platform.problems import PROBLEM_BASE, FieldError

    field_error = TypeAdapter(FieldError).json_schema()
    field_error["description"] = "One invalid field: a JSON pointer into the request body (with a leading #) and why."
    schemas = {
        "FieldError": field_error,
        "ProblemDetails": {
            "type": "object",
            "description": "An RFC 9457 problem details object: the shape of every error the hub answers with.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "format": "uri", "examples": [f"{PROBLEM_BASE}invalid-request"]},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": ref("FieldError")},
            },
        },
        "GatewayMessage": {
            "type": "object",
            "description": "API Gateway's own refusal, answered before the hub runs.",
            "required": ["message"],
            "properties": {"message": {"type": "string"}},
        },
    }
    responses: dict[str, Any] = {}
    for status, (name, description) in PROBLEMS.items():
        content: dict[str, Any] = {PROBLEM_CONTENT_TYPE: {"schema": ref("ProblemDetails")}}
        headers: dict[str, Any] = {CORRELATION_HEADER: {"$ref": "#/components/headers/CorrelationId"}}
        if status in GATEWAY_REFUSALS:
            content[JSON] = {"schema": ref("GatewayMessage")}
            description += ' API Gateway\'s authorizer answers `{"message"}` as application/json; the hub, problem details.'
        if status == 401:
            headers["WWW-Authenticate"] = {"schema": {"type": "string"}, "description": "Bearer"}
        if status == 503:
            headers["Retry-After"] = {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}
        if status == 409:
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "With the `in-progress` problem only: seconds until the request in progress has ended at the latest.",
            }
        responses[name] = {"description": description, "headers": headers, "content": content}
    return schemas, responses


def parameter_components() -> dict[str, Any]:
    return {
        "CorrelationId": {
            "name": CORRELATION_HEADER,
            "in": "header",
            "required": False,
            "description": (
                "Carried across every hop and echoed in the response. Any value is accepted: one of 1 to 128 ASCII letters, "
                "digits and `.` `_` `:` `-` is kept; any other (absent, longer, a GUID in braces) is replaced by a generated id, "
                "which the response's header returns. A request is never refused for its correlation id."
            ),
            "schema": {"type": "string"},
        },
        "IdempotencyKey": {
            "name": IDEMPOTENCY_HEADER,
            "in": "header",
            "required": False,
            "description": (
                "The same key with the same body answers the first response again; with another body, 409. "
                "Business ids make retries safe without it."
            ),
            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        },
    }


# ---------------------------------------------------------------------------------------- operations and schemas


def xml_schema(body: XmlBody) -> dict[str, Any]:
    """A schema naming the document's root element (OpenAPI's ``xml`` object: name and namespace, read from
    the XSD, which must declare it as a global element) and the XSD file the hub validates it against."""
    from lxml import etree

    xsd = resources.files("utilhub.schemas").joinpath(body.xsd)
    if not xsd.is_file():
        raise OpenApiError(f"XSD utilhub/schemas/{body.xsd} does not exist.")
    tree = etree.fromstring(xsd.read_bytes(), etree.XMLParser(resolve_entities=False, no_network=True))
    roots = [element.get("name") for element in tree.findall(f"{{{XSD_NAMESPACE}}}element")]
    if body.root not in roots:
        raise OpenApiError(f"utilhub/schemas/{body.xsd} declares no global element {body.root} (it has {roots}).")
    namespace = tree.get("targetNamespace")
    path = f"layers/common/utilhub/schemas/{body.xsd}"
    xml: dict[str, str] = {"name": body.root}
    if namespace:
        xml["namespace"] = namespace
    return {
        "type": "object",
        "title": f"{body.root} (XML)",
        "description": (
            f"An XML document whose root element is `{body.root}`"
            + (f" in the namespace `{namespace}`" if namespace else "")
            + f", valid against the XSD `{path}` (named by `x-xsd`); one that is not is a 422, one that does not parse a 400."
        ),
        "xml": xml,
        "x-xsd": path,
    }


def operation(doc: RouteDoc, *, secured: bool) -> dict[str, Any]:
    """The OpenAPI operation of a declared route, without what the template says (id, tag, security)."""
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, **doc.path_parameters[name]} for name in PATH_PARAMETER.findall(doc.path)
    ]
    parameters.append({"$ref": "#/components/parameters/CorrelationId"})
    if doc.honours_idempotency_key:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})

    # every route calls AWS, whose throttling is answered 503, and refuses a parameter holding a control character with 400
    problems = set(doc.problems) | {400, 503}
    if doc.honours_idempotency_key:
        problems |= {409}  # a key used before with another body
    if secured:
        problems |= {401, 403}
    if doc.body is not None:
        problems |= {400, 413, 415, 422}
    unknown = problems - set(PROBLEMS)
    if unknown:
        raise OpenApiError(f"{doc.route_key}: no problem response is defined for {sorted(unknown)}.")

    responses: dict[str, Any] = {}
    for reply in doc.replies:
        responses[str(reply.status)] = {
            "description": reply.description,
            "headers": {CORRELATION_HEADER: {"$ref": "#/components/headers/CorrelationId"}},
            "content": {JSON: {"schema": ref(reply.schema)}},
        }
    for status in sorted(problems):
        responses[str(status)] = {"$ref": f"#/components/responses/{PROBLEMS[status][0]}"}

    described: dict[str, Any] = {
        "summary": doc.summary,
        "description": doc.description,
        "parameters": parameters,
        "responses": responses,
    }
    if doc.body is not None:
        content: dict[str, Any] = {doc.body.text or JSON: {"schema": ref(doc.body.schema)}}
        if doc.body.xml is not None:
            content.update({media_type: {"schema": xml_schema(doc.body.xml)} for media_type in XML_TYPES})
        described["requestBody"] = {"required": True, "description": doc.body.description, "content": content}
    return described


def component_schemas(docs: Iterable[RouteDoc]) -> dict[str, Any]:
    """The schemas of the routes' models and the ones they write by hand, and the problem details schemas."""
    docs = list(docs)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for doc in docs:
        models.extend(model for model in doc.models if model not in models)
    problem_schemas, _ = problem_components()
    schemas: dict[str, Any] = {**_model_schemas(models), **problem_schemas}
    written: dict[str, Mapping[str, Any]] = {}
    for doc in docs:
        for name, schema in doc.schemas.items():
            if name in written and written[name] != schema:
                raise OpenApiError(f"Two different component schemas are named {name}.")
            if name not in written and name in schemas:
                raise OpenApiError(f"Component schema {name} is defined by a model and by a route's declaration.")
            written[name] = schema
    return {**schemas, **written}


def _model_schemas(models: list[tuple[type[BaseModel], JsonSchemaMode]]) -> dict[str, Any]:
    keys, top = models_json_schema(models, ref_template=SCHEMA_REF)
    for (model, _mode), found in keys.items():
        if found != ref(model.__name__):
            raise OpenApiError(f"The schema of {model.__module__}.{model.__qualname__} is {found['$ref']}: give the model a unique name.")
    return dict(top.get("$defs", {}))


def references(node: Any) -> Iterator[str]:
    """Every ``$ref`` under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resolves(document: dict[str, Any], target: str) -> bool:
    node: Any = document
    for part in target.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
