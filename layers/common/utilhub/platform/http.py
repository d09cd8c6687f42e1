"""HTTP API plumbing shared by every API handler (API Gateway HTTP API, payload v2).

:func:`create_api` gives a Powertools resolver that already keeps the hub's contract:
JWT scope check per pack, ``X-Correlation-Id`` accepted or generated and echoed, body size
limit (413), problem details for every error, ``Idempotency-Key`` on POST.

Every route is declared once, with :func:`route`: its method and path (as the template writes them), its scope,
its request (read through :func:`read_body`, which decides JSON or XML from ``Content-Type``, then parsed into the
model), the system its caller must act as, whether it honours ``Idempotency-Key``, and its documentation, which
:mod:`utilhub.platform.openapi` turns into the OpenAPI document.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from pydantic import BaseModel, ValidationError

from utilhub.platform import aws, idempotency, identity
from utilhub.platform.api_docs import JsonSchemaMode, Reply, Request, RouteDoc
from utilhub.platform.json_input import from_json
from utilhub.platform.observability import CORRELATION_HEADER, correlation_id, logger, use_correlation_id
from utilhub.platform.problems import (
    PROBLEM_CONTENT_TYPE,
    Problem,
    bad_request,
    forbidden,
    from_validation_error,
    not_found,
    too_large,
    unauthorized,
    unavailable,
    unsupported_media_type,
)
from utilhub.platform.settings import get_settings
from utilhub.platform.text import refuse_in_header, refuse_in_json, refuse_in_parameters, refuse_in_xml

if TYPE_CHECKING:
    from lxml import etree

JSON = "application/json"
XML_TYPES = ("application/xml", "text/xml")
RETRY_AFTER = "Retry-After"
# the operators' scope: a route declared with ``operator=True`` (a resubmission) takes it too, its caller acting as no system
OPERATOR_SCOPE = "utilhub/ops"
# A route's ``<name>`` takes any one path segment, as API Gateway's ``{name}`` does: API Gateway hands the
# function every segment it routed (decoded), and the route, not a "No route", answers for a value it refuses.
_PATH_PARAMETER = re.compile(r"<(\w+)>")
_TEMPLATE_PARAMETER = re.compile(r"\{(\w+)\}")


class HttpApiResolver(APIGatewayHttpResolver):
    """Powertools' resolver for HTTP API events, with path parameters matched as API Gateway matches them
    (Powertools' own pattern leaves out characters such as ``"`` ``#`` ``?`` `````` and symbols such as ``€``),
    and the declarations of its routes (:func:`route`), keyed by route key (``"POST /x/{id}"``)."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope
        self.declarations: dict[str, RouteDoc] = {}

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}$") -> re.Pattern[str]:
        return re.compile(base_regex.format(_PATH_PARAMETER.sub(r"(?P<\1>[^/]+)", rule)))


@dataclass(frozen=True)
class Body:
    """A request body, parsed: ``json`` (an object) or ``xml`` (the root element)."""

    raw: bytes
    json: dict[str, Any] | None = None
    xml: etree._Element | None = None
    text: str | None = None  # a body of a text media type the route takes (its own reader checks it)

    @property
    def digest(self) -> str:
        return sha256(self.raw).hexdigest()


def create_api(scope: str, *, compound_path_ids: frozenset[str] = frozenset()) -> HttpApiResolver:
    """A resolver whose routes require the OAuth2 ``scope`` (``utilhub/<pack>``), or the one a route declares;
    ``compound_path_ids``: path parameters that are ids joined by ``/`` (percent-encoded in their segment)."""
    app = HttpApiResolver(scope)

    def contract(_: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[str]:
        event = app.current_event
        use_correlation_id(event.headers.get(CORRELATION_HEADER.lower()))
        declared = app.declarations.get(event.request_context.route_key)
        required = declared.scope if declared is not None else scope
        claims = event.request_context.authorizer.jwt_claim or {}
        if declared is None or not declared.operator_may_call or not _is_operator(claims):
            _require_scope(claims, required)
        identity.caller(event.request_context.authorizer.jwt_claim or {})  # a client this deployment knows
        refuse_in_parameters("pathParameters", event.path_parameters, path=True, compound=compound_path_ids)
        refuse_in_parameters("queryStringParameters", event.query_string_parameters)
        return next_middleware(app)

    app.use(middlewares=[contract])

    @app.exception_handler(Problem)
    def _problem(exc: Problem) -> Response[str]:
        if exc.status >= 500:
            logger.error("request failed", extra={"problem": exc.slug})
        else:
            logger.info("request refused", extra={"status": exc.status, "problem": exc.slug})
        return problem_response(exc)

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        use_correlation_id(app.current_event.headers.get(CORRELATION_HEADER.lower()))
        return problem_response(not_found(f"No route {app.current_event.request_context.http.method} {app.current_event.path}."))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        if aws.transient(exc):  # throttled or briefly failing AWS: nothing was changed that a retry would repeat
            logger.warning("AWS unavailable, caller asked to retry", extra={"error": type(exc).__name__})
            response = problem_response(unavailable("The hub is busy; retry after Retry-After seconds. Nothing was lost."))
            response.headers[RETRY_AFTER] = str(get_settings().http.retry_after_seconds)
            return response
        logger.exception("unexpected error")
        return problem_response(Problem(500, "Internal error", "The hub failed; the request can be retried.", "internal-error"))

    return app


def _is_operator(claims: dict[str, Any]) -> bool:
    return OPERATOR_SCOPE in str(claims.get("scope", "")).split()


def _require_scope(claims: dict[str, Any], scope: str) -> None:
    # API Gateway's JWT authorizer has already checked the token; this is defence in depth and
    # what the local runtime relies on too. No claims means no verified token reached us.
    if not claims:
        raise unauthorized("A bearer token is required.")
    granted = str(claims.get("scope", "")).split()
    if scope not in granted:
        raise forbidden(f"The token does not grant the scope {scope}.")


def json_response(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body), headers={CORRELATION_HEADER: correlation_id()})


def problem_response(problem: Problem) -> Response[str]:
    headers = {CORRELATION_HEADER: correlation_id()}
    if problem.retry_after is not None:
        headers[RETRY_AFTER] = str(problem.retry_after)
    return Response(
        status_code=problem.status,
        content_type=PROBLEM_CONTENT_TYPE,
        body=json.dumps(problem.as_dict()),
        headers=headers,
    )


def read_body(app: APIGatewayHttpResolver, *, xml: bool, text: str | None = None) -> Body:
    """The request body as JSON or (where the route speaks XML) hardened-parsed XML; for a route that takes a text
    media type (``text``, such as ``text/csv``), that type only, as UTF-8 text its reader checks.

    Raises 413 over the size limit, 415 for another Content-Type, 400 when it does not parse, 422 when
    a string holds a control character (:mod:`utilhub.platform.text`, whatever the route's target).
    """
    settings = get_settings()
    event = app.current_event
    raw_text = event.body or ""
    raw = base64.b64decode(raw_text) if event.is_base64_encoded else raw_text.encode("utf-8")
    if len(raw) > settings.http.max_body_bytes:
        raise too_large(settings.http.max_body_bytes)
    media_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if text is not None:
        if media_type != text:
            raise unsupported_media_type(media_type, [text])
        try:
            return Body(raw=raw, text=raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise bad_request(f"The body is not UTF-8 text: {exc}") from None
    if media_type == JSON or media_type.endswith("+json"):
        try:
            parsed = json.loads(raw.decode("utf-8"))  # JSON between systems is UTF-8 (RFC 8259): no UTF-16 or -32 guessed
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad_request(f"The body is not valid JSON: {exc}") from None
        except RecursionError:
            raise bad_request("The body is nested too deeply.") from None
        if not isinstance(parsed, dict):
            raise bad_request("The body must be a JSON object.")
        refuse_in_json(parsed)
        return Body(raw=raw, json=parsed)
    if xml and media_type in XML_TYPES:
        from utilhub.platform.xml import parse_untrusted  # lxml, loaded by a function whose routes take XML when one comes

        root = parse_untrusted(raw, max_bytes=settings.xml.xml_max_bytes, max_depth=settings.xml.xml_max_depth)
        refuse_in_xml(root)
        return Body(raw=raw, xml=root)
    raise unsupported_media_type(media_type, [JSON, *XML_TYPES] if xml else [JSON])


def once_per_key(
    app: APIGatewayHttpResolver,
    body: Body,
    work: Callable[[], tuple[int, Any]],
    fingerprint: Callable[[], str] | None = None,
) -> Response[str]:
    """Run a POST's ``work`` once per ``Idempotency-Key`` header; without the header, run it.

    A repeat with the same key and request answers the first response again; the same key with
    another request is a 409. Business ids make the work itself safe to repeat without the key.

    What tells one request from another (Powertools keeps its SHA-256 in the record) is the SHA-256 of the
    body as posted, or what ``fingerprint`` answers, asked only when the header is there: a route whose body
    holds a number an unkeyed hash must not be kept of (a card number) gives its own keyed fingerprint.
    """
    key = app.current_event.headers.get("idempotency-key")
    if key is None:  # an empty key is a malformed one, not an absent one
        status, payload = work()
        return json_response(status, payload)
    if not 0 < len(key) <= 255:
        raise bad_request("Idempotency-Key must be 1 to 255 characters.")
    refuse_in_header("Idempotency-Key", key)
    route = f"{app.current_event.request_context.http.method} {app.current_event.path}"
    status, payload = idempotency.run_once(
        key=f"{route}#{key}",
        fingerprint=body.digest if fingerprint is None else fingerprint(),
        work=lambda: list(work()),
        lambda_context=app.lambda_context,
    )
    return json_response(status, payload)


def parsed[M: BaseModel](model: type[M], raw: Any) -> M:
    """A JSON body (read by :func:`read_body`) as ``model``, each field its JSON type (:func:`from_json`), or a
    422 pointing at every field it refuses."""
    try:
        return from_json(model, raw)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def parsed_xml[M: BaseModel](model: type[M], fields: Mapping[str, Any]) -> M:
    """``fields`` a route read from an XML body (text, converted to the model's types) as ``model``, or a 422
    pointing at every field it refuses."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise from_validation_error(exc) from None


RouteResult = tuple[int, Any] | Response[str]
RouteFunction = Callable[..., RouteResult]


def route(
    app: HttpApiResolver,
    method: str,
    path: str,
    *,
    summary: str,
    description: str,
    replies: Sequence[Reply],
    request: Request | None = None,
    scope: str | None = None,
    acts_as: str | Callable[..., str] | None = None,
    idempotent: bool = False,
    fingerprint: Callable[..., str] | None = None,
    operator: bool = False,
    problems: Iterable[int] = (),
    path_parameters: Mapping[str, Mapping[str, Any]] | None = None,
    models: Iterable[tuple[type[BaseModel], JsonSchemaMode]] = (),
    schemas: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[RouteFunction], RouteFunction]:
    """Declare ``method path`` (``"POST", "/x/{id}"``, as the template writes it) on ``app``, once for its code and
    its documentation.

    The route function takes the path parameters by name, preceded by the parsed request when the route has one,
    and returns ``(status, body)`` (answered as JSON) or a :class:`Response`. Before it runs, in this order:

    - ``scope`` (default: the resolver's) is required of the token (the resolver's middleware);
    - a literal ``acts_as`` is the system the caller must be allowed to act as (:mod:`utilhub.platform.identity`);
    - the ``request`` body is read (:func:`read_body`: size, media type, the text rule, hardened XML where the request
      has an XML form) and parsed: by the request's ``read``, else a JSON body as its model (:func:`parsed`) and an
      XML body as its model from the fields its XML form reads (:func:`parsed_xml`);
    - an ``acts_as`` function of the request and path parameters names the system the caller must act as;
    - with ``idempotent``, the function runs once per ``Idempotency-Key`` (:func:`once_per_key`), a request told from
      another by the SHA-256 of its body, or by ``fingerprint`` of the parsed request and path parameters (a keyed
      fingerprint where the body holds a number no unkeyed hash may be kept of);
    - with ``operator``, a token granting the operators' scope (``utilhub/ops``) is taken as well, its caller acting as
      no system (the ``acts_as`` check is the applications'): the operations API runs a pack's resubmission so.

    ``summary``, ``description``, ``replies``, ``problems`` (those the generator does not add), ``path_parameters``
    (each one's OpenAPI parameter object) and the ``models`` and hand-written ``schemas`` they refer to are the
    route's documentation (:mod:`utilhub.platform.openapi`).
    """
    if method not in ("GET", "POST"):
        raise ValueError(f"{method} {path}: the hub's routes are GET or POST.")
    if idempotent and method != "POST":
        raise ValueError(f"{method} {path}: Idempotency-Key is for POST routes only.")
    if fingerprint is not None and not idempotent:
        raise ValueError(f"{method} {path}: a fingerprint is for a route that honours Idempotency-Key.")
    parameters = dict(path_parameters or {})
    if set(parameters) != set(_TEMPLATE_PARAMETER.findall(path)):
        raise ValueError(f"{method} {path}: path parameters documented are {sorted(parameters)}.")
    declared_models: list[tuple[type[BaseModel], JsonSchemaMode]] = list(models)
    if request is not None and not isinstance(request.schema, str):
        declared_models.append((request.schema, "validation"))
    declared_models += [(reply.schema, "serialization") for reply in replies if not isinstance(reply.schema, str)]
    doc = RouteDoc(
        method=method,
        path=path,
        scope=scope or app.scope,
        summary=summary,
        description=description,
        replies=tuple(replies),
        problems=tuple(problems),
        body=request,
        path_parameters=parameters,
        honours_idempotency_key=idempotent,
        operator_may_call=operator,
        models=tuple(dict.fromkeys(declared_models)),
        schemas=dict(schemas or {}),
    )
    if doc.route_key in app.declarations:
        raise ValueError(f"{doc.route_key} is declared twice.")

    def decorate(function: RouteFunction) -> RouteFunction:
        def handler(**params: str) -> Response[str]:
            as_operator = operator and _is_operator(app.current_event.request_context.authorizer.jwt_claim or {})
            if isinstance(acts_as, str) and not as_operator:
                identity.require_caller_acts_as(app, acts_as)
            body = Body(raw=b"")
            arguments: tuple[Any, ...] = ()
            if request is not None:
                body = read_body(app, xml=request.accepts_xml, text=request.text)
                arguments = (_parse(request, body, params),)
            if callable(acts_as) and not as_operator:
                identity.require_caller_acts_as(app, acts_as(*arguments, **params))
            if idempotent:
                told = None if fingerprint is None else (lambda: fingerprint(*arguments, **params))
                return once_per_key(app, body, lambda: _result_of(function(*arguments, **params)), told)
            result = function(*arguments, **params)
            return result if isinstance(result, Response) else json_response(*result)

        app.declarations[doc.route_key] = doc
        app.route(_TEMPLATE_PARAMETER.sub(r"<\1>", path), method)(handler)
        return function

    return decorate


def _parse(request: Request, body: Body, params: Mapping[str, str]) -> Any:
    if request.read is not None:
        return request.read(body, **params)
    if isinstance(request.schema, str):
        raise TypeError(f"A request whose schema is {request.schema!r} (not a model) needs a reader.")
    if body.xml is not None:
        if request.xml is None or request.xml.read is None:
            raise TypeError(f"The XML form of {request.schema.__name__} has no reader.")
        return parsed_xml(request.schema, request.xml.read(body.xml, **params))
    return parsed(request.schema, body.json)


def _result_of(result: RouteResult) -> tuple[int, Any]:
    if isinstance(result, Response):
        raise TypeError("A route that honours Idempotency-Key answers (status, body), which is kept for a replay.")
    return result
