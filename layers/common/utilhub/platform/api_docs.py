"""What a route declares about itself (:func:`utilhub.platform.http.route`): its request body, its answers, its
problems and its prose. The route's code reads the body as declared here; :mod:`utilhub.platform.openapi` turns
the declarations into the OpenAPI document.

Kept free of pydantic's schema generation and of lxml so that a function importing its routes pays nothing for
their documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from pydantic import BaseModel

JsonSchemaMode = Literal["validation", "serialization"]


@dataclass(frozen=True)
class XmlBody:
    """The XML form of a body: the root element a document must have and the XSD it is validated against; ``read``
    (for a route whose request is a model) gives the model's fields from the document's root and the path parameters."""

    xsd: str  # under utilhub/schemas/, e.g. "ccb/sync-request.xsd"
    root: str  # a global element of the XSD, e.g. "SyncRequest"
    read: Callable[..., Mapping[str, Any]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Request:
    """A route's body: its JSON schema (a component name, or the model the body is parsed into), what it is, and an
    XML form where the route reads one.

    ``read`` replaces the default parsing (the JSON as ``schema``'s model, the XML through ``xml.read``): it takes the
    :class:`~utilhub.platform.http.Body` and the path parameters and returns what the route receives. ``reads_xml``
    lets such a reader take an XML body the document does not describe (default: when ``xml`` is given).
    """

    schema: str | type[BaseModel]
    description: str
    xml: XmlBody | None = None
    read: Callable[..., Any] | None = field(default=None, compare=False)
    reads_xml: bool | None = None
    text: str | None = None  # a text media type (``text/csv``) the body is taken in instead of JSON, as UTF-8 text for ``read``

    @property
    def accepts_xml(self) -> bool:
        return self.xml is not None if self.reads_xml is None else self.reads_xml


@dataclass(frozen=True)
class Reply:
    """A success answer: its status, what it means and its body's schema (a component name or a model)."""

    status: int
    description: str
    schema: str | type[BaseModel]


@dataclass(frozen=True)
class RouteDoc:
    """What one route declares. Problems 400 and 503 (every route), 401/403 (secured routes), 409 (routes honouring
    an ``Idempotency-Key``) and 413/415/422 (routes with a body) are added by the generator."""

    method: str
    path: str  # as the template writes it: /x/{id}
    scope: str
    summary: str
    description: str
    replies: tuple[Reply, ...]
    problems: tuple[int, ...] = ()
    body: Request | None = None
    path_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    honours_idempotency_key: bool = False
    operator_may_call: bool = False  # the operators' scope is taken too (platform/http.route's ``operator``)
    models: tuple[tuple[type[BaseModel], JsonSchemaMode], ...] = ()  # models the schemas below refer to
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # component schemas written by hand

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def ref(name: str | type[BaseModel]) -> dict[str, str]:
    """A reference to a component schema (by name, or a model's class name)."""
    return {"$ref": f"#/components/schemas/{name if isinstance(name, str) else name.__name__}"}
