"""The OpenAPI 3.1 document of the hub's HTTP API, generated from the code.

Nothing here is written twice:

- paths, methods, scopes and operation ids come from the ``HttpApi`` events of
  ``template.yaml`` (the route table, :func:`api_routes`);
- request schemas are the library's pydantic models (``SyncRequestIn``, ``AcknowledgementIn``,
  each flow's per-entity data models), response and error shapes follow the handlers;
- what a route does is said once, in :func:`route_docs`, keyed by route key
  (``"POST /meter-data/sync-requests"``). A template route without an entry there, or an entry
  without a route, fails the generation: a new route cannot go undocumented.

``python -m localhub.openapi > docs/openapi.json`` writes the committed document;
``tests/unit/test_openapi.py`` checks it is current and valid.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from localhub.template import REGION, ROOT, Template

if TYPE_CHECKING:
    from utilhub.syncrequests.model import SyncFlow

OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "oauth2ClientCredentials"
CLIENT_CREDENTIALS_URL = "/oauth2/token"  # relative to the server: the local hub's endpoint (Cognito's on AWS, output TokenUrl)
LOCAL_SERVER = "http://127.0.0.1:3000"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
CORRELATION_HEADER = "X-Correlation-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CORRELATION_ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$"  # what utilhub.platform.observability keeps, else generates
_CODE_URI = re.compile(r"^functions/(?P<pack>[a-z][a-z0-9_]*)/(?P<point>[a-z][a-z0-9_]*)/?$")
_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


class OpenApiError(ValueError):
    """The template and the route documentation disagree, or a route cannot be described."""


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


@dataclass(frozen=True)
class XmlBody:
    """The XML form of a body: the root element a document must have and the XSD it is validated against."""

    xsd: str  # under utilhub/schemas/, e.g. "ccb/sync-request.xsd"
    root: str  # a global element of the XSD, e.g. "SyncRequest"


@dataclass(frozen=True)
class RequestBody:
    """A JSON body (a component schema) and, where the route reads it, an XML form."""

    schema: str
    description: str
    xml: XmlBody | None = None


@dataclass(frozen=True)
class Reply:
    status: int
    description: str
    schema: str


@dataclass(frozen=True)
class RouteDoc:
    """What one route does. Problems 400 and 503 (every route), 401/403 (secured routes) and
    413/415/422 (routes with a body) are added to ``problems`` by the generator."""

    summary: str
    description: str
    replies: tuple[Reply, ...]
    problems: tuple[int, ...] = ()
    body: RequestBody | None = None
    path_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    honours_idempotency_key: bool = False


@dataclass
class ApiDocs:
    """The documentation of a set of routes: their docs, the pydantic models they use, and the
    component schemas written here (which may ``$ref`` the models by class name)."""

    routes: dict[str, RouteDoc] = field(default_factory=dict)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = field(default_factory=list)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merge(self, other: ApiDocs) -> None:
        for key, doc in other.routes.items():
            if key in self.routes:
                raise OpenApiError(f"{key} is documented twice.")
            self.routes[key] = doc
        self.models.extend(m for m in other.models if m not in self.models)
        for name, schema in other.schemas.items():
            if name in self.schemas and self.schemas[name] != schema:
                raise OpenApiError(f"Two different component schemas are named {name}.")
            self.schemas[name] = schema


def ref(name: str | type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=name if isinstance(name, str) else name.__name__)}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_ ]", name) if part)


XSD_NAMESPACE = "http://www.w3.org/2001/XMLSchema"
XML_MEDIA_TYPES = ("application/xml", "text/xml")  # utilhub.platform.http.XML_TYPES: either is read as XML


def _xml_schema(body: XmlBody) -> dict[str, Any]:
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


def sync_request_api_docs(prefix: str, flow: SyncFlow) -> ApiDocs:
    """The five routes :func:`utilhub.syncrequests.api.build_sync_request_api` serves under ``prefix``."""
    from utilhub.syncrequests.model import ID_PATTERN, AcknowledgementIn, SyncRequestBatchIn, SyncRequestIn, Transition

    flow_name = _camel(flow.name)
    request_schema, batch_schema = f"{flow_name}SyncRequest", f"{flow_name}SyncRequestBatch"
    source = flow.source_codec.schema if flow.source_codec is not None else None
    ack = flow.target_codec.schema or None  # DACS acknowledges in JSON only
    entity_list = ", ".join(flow.entities)
    collection = f"{prefix}/sync-requests"
    sync_request_id = {
        "description": "The id the source gave the sync request.",
        "schema": {"type": "string", "pattern": ID_PATTERN},
    }

    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (SyncRequestIn, "validation"),
        (SyncRequestBatchIn, "validation"),
        (AcknowledgementIn, "validation"),
        *((spec.data_model, "validation") for spec in flow.entities.values()),
        (Transition, "serialization"),
    ]
    docs = ApiDocs(models=models)
    docs.schemas[request_schema] = {
        "title": f"{flow.name} sync request",
        "description": (
            f"A change of one {flow.source} entity to synchronize to {flow.target}. `entityType` is one of {entity_list}; "
            "`data` follows that entity type's data model (`x-entity-types` names it). Unknown `data` fields are kept. "
            "An installation may refuse some entity types by configuration (422)."
        ),
        "allOf": [ref(SyncRequestIn)],
        "oneOf": [
            {
                "title": f"{entity_type} ({spec.integration_point})",
                "type": "object",
                "required": ["entityType", "data"],
                "properties": {"entityType": {"const": entity_type}, "data": ref(spec.data_model)},
            }
            for entity_type, spec in flow.entities.items()
        ],
        "x-entity-types": {
            entity_type: {"integrationPoint": spec.integration_point, "dataSchema": ref(spec.data_model)["$ref"]}
            for entity_type, spec in flow.entities.items()
        },
    }
    docs.schemas[batch_schema] = {
        "title": f"{flow.name} sync request batch",
        "description": f"Up to 100 {flow.name} sync requests, validated together.",
        "allOf": [ref(SyncRequestBatchIn)],
        "properties": {"requests": {"items": ref(request_schema)}},
    }
    docs.schemas["SyncRequestState"] = {
        "type": "object",
        "required": ["syncRequestId", "status"],
        "properties": {"syncRequestId": {"type": "string"}, "status": ref("SyncStatus")},
    }
    docs.schemas["SyncRequestView"] = {
        "type": "object",
        "description": "A stored sync request and the history of its status.",
        "required": ["syncRequestId", "status", "entityType", "entityId", "changedAt", "attempt", "history"],
        "properties": {
            "syncRequestId": {"type": "string"},
            "status": ref("SyncStatus"),
            "entityType": {"type": "string"},
            "entityId": {"type": "string"},
            "changedAt": {"type": "string", "format": "date-time"},
            "attempt": {"type": "integer", "minimum": 0, "description": "Delivery attempts so far."},
            "history": {"type": "array", "items": ref(Transition)},
            "waitingFor": {
                "type": "object",
                "description": (
                    "Only while WAITING: the entity the request depends on that the target does not hold yet "
                    "(or whose last request is in ERROR), and why. The request goes out by itself once it is synchronized."
                ),
                "required": ["entityType", "entityId", "reason"],
                "properties": {"entityType": {"type": "string"}, "entityId": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    }
    docs.schemas["SyncRequestBatchResult"] = {
        "type": "object",
        "required": ["syncRequestId", "status"],
        "properties": {
            "syncRequestId": {"type": "string"},
            "status": {
                "description": "The request's status, or CONFLICT when its id was already used for another request.",
                "anyOf": [ref("SyncStatus"), {"const": "CONFLICT"}],
            },
            "created": {"type": "boolean", "description": "False when the same request had been received before."},
            "detail": {"type": "string", "description": "Why the request was not taken (CONFLICT only)."},
        },
    }
    docs.schemas["SyncRequestBatchAccepted"] = {
        "type": "object",
        "required": ["accepted", "results"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0, "description": "How many requests were new."},
            "results": {"type": "array", "items": ref("SyncRequestBatchResult"), "description": "One result per request, in order."},
        },
    }

    xml_note = (
        f" {flow.source}'s XML form (`application/xml` or `text/xml`) is validated against the XSD named by `x-xsd`." if source else ""
    )
    docs.routes = {
        f"POST {collection}": RouteDoc(
            summary=f"Submit a {flow.source} -> {flow.target} sync request",
            description=(
                f"Stores the request PENDING; the sync monitor delivers it to {flow.target}, one in flight per entity, "
                "in order of `changedAt`, and only once the target holds every entity it depends on (until then it is WAITING, "
                "naming that entity). The same `syncRequestId` with the same content creates nothing new and answers "
                "its current status; with other content it is a 409. A refused request is never stored." + xml_note
            ),
            body=RequestBody(request_schema, "One sync request.", xml=XmlBody(source, "SyncRequest") if source else None),
            replies=(Reply(202, "Accepted: query the request with its id.", "SyncRequestState"),),
            problems=(409,),
            honours_idempotency_key=True,
        ),
        f"POST {collection}:batch": RouteDoc(
            summary=f"Submit up to 100 {flow.source} -> {flow.target} sync requests",
            description=(
                "All or nothing at validation: when any request is invalid the answer is a 422 whose `errors` point into "
                "`/requests/{index}/...`, and nothing is stored. Otherwise each request is stored as by the single intake; "
                "one whose id was already used for another request gets the result status CONFLICT." + xml_note
            ),
            body=RequestBody(batch_schema, "The batch.", xml=XmlBody(source, "SyncRequests") if source else None),
            replies=(Reply(202, "Accepted: one result per request.", "SyncRequestBatchAccepted"),),
            problems=(409,),
            honours_idempotency_key=True,
        ),
        f"GET {collection}/{{syncRequestId}}": RouteDoc(
            summary="Query a sync request",
            description="Its status and history. A request refused at intake was never stored: 404.",
            replies=(Reply(200, "The sync request.", "SyncRequestView"),),
            problems=(404,),
            path_parameters={"syncRequestId": sync_request_id},
        ),
        f"POST {collection}/{{syncRequestId}}/acknowledgement": RouteDoc(
            summary=f"Acknowledge a sync request ({flow.target})",
            description=(
                f"{flow.target}'s deferred answer to a SENT request: POSITIVE makes it SYNCHRONIZED, NEGATIVE ERROR. "
                "A POSITIVE one also completes a request that timed out to ERROR waiting for it (SYNCHRONIZED). "
                "The same acknowledgement again answers the current status; any other for a request that is not SENT is a 409; "
                "ACCEPTED is not an answer the hub takes (422)."
                + (f" {flow.target}'s XML acknowledgement is validated against the XSD named by `x-xsd`." if ack else "")
            ),
            body=RequestBody(AcknowledgementIn.__name__, "The acknowledgement.", xml=XmlBody(ack, "Acknowledgement") if ack else None),
            replies=(Reply(200, "The request's status after the acknowledgement.", "SyncRequestState"),),
            problems=(404, 409),
            path_parameters={"syncRequestId": sync_request_id},
            honours_idempotency_key=True,
        ),
        f"POST {collection}/{{syncRequestId}}/resubmission": RouteDoc(
            summary="Resubmit a sync request in ERROR",
            description=(
                "Puts an ERROR request back to PENDING for another delivery. A request already PENDING answers 202 "
                "unchanged; any other status is a 409."
            ),
            replies=(Reply(202, "Pending again.", "SyncRequestState"),),
            problems=(404, 409),
            path_parameters={"syncRequestId": sync_request_id},
            honours_idempotency_key=True,
        ),
    }
    return docs


def order_to_cash_docs() -> ApiDocs:
    """OC-01 intake and resubmission, OC-02 query (``utilhub.packs.order_to_cash.orders``)."""
    from utilhub.packs.order_to_cash import orders
    from utilhub.packs.order_to_cash.model import FulfillmentOrderIn, OrderResult

    docs = ApiDocs(models=[(FulfillmentOrderIn, "validation"), (OrderResult, "serialization")])
    status = {"type": "string", "enum": ["RUNNING", "SUCCEEDED", "FAILED"]}
    attempt = {"type": "integer", "minimum": 1, "description": "The revision's latest run: 1, then one more per resubmission."}
    docs.schemas["FulfillmentOrderState"] = {
        "type": "object",
        "required": ["orderId", "revision", "status"],
        "properties": {"orderId": {"type": "string"}, "revision": {"type": "integer"}, "status": status, "attempt": attempt},
    }
    docs.schemas["FulfillmentOrderView"] = {
        "type": "object",
        "description": "An order revision's latest attempt: RUNNING, SUCCEEDED with its result, or FAILED with the reason.",
        "required": ["orderId", "revision", "status", "attempt"],
        "properties": {
            "orderId": {"type": "string"},
            "revision": {"type": "integer"},
            "status": status,
            "attempt": attempt,
            "result": ref(OrderResult),
            "error": {
                "type": "object",
                "required": ["error", "reason"],
                "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    }
    collection = f"{orders.PREFIX}/fulfillment-orders"
    revision_parameters = {
        "orderId": {"description": "The order id.", "schema": {"type": "string"}},
        "revision": {"description": "The revision number.", "schema": {"type": "integer", "minimum": 0}},
    }
    docs.routes = {
        f"POST {collection}": RouteDoc(
            summary="Synchronize a fulfillment order's billing accounts to BRM (OC-01)",
            description=(
                "Starts one Standard workflow per order revision. Only ADD, UPDATE and MOVE-ADD lines are processed; "
                "Service Bundle, Item, Subscription and Discount lines bring the service account, billing account and "
                "billing profile, Promotion lines the billing account only; other lines are listed as ignored with their "
                "reason. Only what does not exist in BRM is created; nothing is deleted. A service account other than its "
                "bill-to account becomes its nonpaying subordinate; prior values flag a paying hierarchy change. The same "
                "order revision again answers 202 and ends with the same result; other content under a used order id and "
                "revision is a 409. An order using one billing profile in different billing systems is refused (422)."
            ),
            body=RequestBody(FulfillmentOrderIn.__name__, "The order revision."),
            replies=(Reply(202, "Started (or already started): query the revision.", "FulfillmentOrderState"),),
            problems=(409,),
            honours_idempotency_key=True,
        ),
        f"GET {collection}/{{orderId}}/revisions/{{revision}}": RouteDoc(
            summary="Status and result of an order revision (OC-02)",
            description=(
                "The latest attempt: RUNNING, SUCCEEDED with what was processed, ignored, created, found and the paying "
                "hierarchy, or FAILED with the reason."
            ),
            replies=(Reply(200, "The order revision.", "FulfillmentOrderView"),),
            problems=(404, 422),
            path_parameters=revision_parameters,
        ),
        f"POST {collection}/{{orderId}}/revisions/{{revision}}/resubmission": RouteDoc(
            summary="Resubmit a FAILED order revision (OC-01)",
            description=(
                "Runs the revision again as its next attempt, with the order it was submitted with. What BRM already holds is "
                "found, not created again: a step that succeeded answers its recorded outcome (for a day; later it finds its "
                "objects through the cross-references), a step that failed runs again against the cross-references. Any "
                "status other than FAILED is a 409; a revision whose last run ended more than 90 days ago is no longer "
                "known (404)."
            ),
            replies=(Reply(202, "Running again: query the revision.", "FulfillmentOrderState"),),
            problems=(404, 409, 422),
            path_parameters=revision_parameters,
            honours_idempotency_key=True,
        ),
    }
    return docs


def customer_docs() -> ApiDocs:
    """CU-01, CU-02 and the account query (``utilhub.packs.customer.api``)."""
    from utilhub.packs.customer import api
    from utilhub.packs.customer.model import AccountUpdateIn, CustomerOutcome, SiebelOrderIn

    docs = ApiDocs(models=[(SiebelOrderIn, "validation"), (AccountUpdateIn, "validation"), (CustomerOutcome, "serialization")])
    docs.schemas["CustomersSynchronized"] = {
        "type": "object",
        "required": ["orderId", "customers"],
        "properties": {
            "orderId": {"type": "string"},
            "customers": {
                "type": "array",
                "items": ref(CustomerOutcome),
                "description": "One per distinct billing account, in order of first line.",
            },
        },
    }
    docs.schemas["CustomerUpdateAnswer"] = {
        "type": "object",
        "required": ["siebelAccountId", "updateId", "status"],
        "properties": {
            "siebelAccountId": {"type": "string"},
            "updateId": {"type": "string"},
            "status": {"type": "string", "enum": ["ACCEPTED", "IGNORED"]},
            "reason": {"type": "string", "description": "Why an update was ignored (IGNORED only)."},
        },
    }
    docs.schemas["SiebelAccountView"] = {
        "type": "object",
        "required": ["siebelAccountId", "synchronized", "ccbPersonId", "ccbAccountId"],
        "properties": {
            "siebelAccountId": {"type": "string"},
            "synchronized": {"type": "boolean", "description": "False for a prospect whose updates the hub has ignored."},
            "ccbPersonId": {"type": ["string", "null"]},
            "ccbAccountId": {"type": ["string", "null"]},
        },
    }
    account_id = {"siebelAccountId": {"description": "The Siebel account id.", "schema": {"type": "string"}}}
    siebel_message = XmlBody("siebel/customer.xsd", "SiebelMessage")
    dvm = " Code values are Siebel's (or the hub's COMMON codes), any case; one with no domain value map entry is a 422 naming it."
    docs.routes = {
        f"POST {api.PREFIX}/orders": RouteDoc(
            summary="Create or synchronize the customers of a Siebel order in CCB (CU-01)",
            description=(
                "Each distinct billing account on the order's lines becomes, or updates, one CCB customer (person, account, "
                "addresses, contacts, bill route, statement set-up), within the route's time budget: CREATED, UPDATED or "
                "UNCHANGED, with its CCB ids. A repeated order creates nothing twice; an account not yet linked is looked up "
                "at CCB by its Siebel id before it is created. Two lines giving one billing account different data is a 422. "
                "CCB answering an error is a 502, CCB not answering in time a 504; the order can be posted again."
                + dvm
                + " Siebel's XML form (`UTH Customer Order`) is validated against the XSD named by `x-xsd`."
            ),
            body=RequestBody(SiebelOrderIn.__name__, "The order's lines and their billing accounts.", xml=siebel_message),
            replies=(Reply(200, "The customers of the order.", "CustomersSynchronized"),),
            problems=(409, 502, 504),
            honours_idempotency_key=True,
        ),
        f"POST {api.PREFIX}/accounts/{{siebelAccountId}}/updates": RouteDoc(
            summary="Update a synchronized customer in CCB (CU-02)",
            description=(
                "For a customer synchronized through an order: 202 ACCEPTED, queued and applied to CCB in the order Siebel "
                "made the changes (a part changed earlier than what CCB has is not applied). For one never synchronized (a "
                "prospect): 200 IGNORED with the reason, and nothing is sent. Nothing flows from CCB back to Siebel."
                + dvm
                + " Siebel's XML form (`UTH Customer Account Update`) is validated against the XSD named by `x-xsd`."
            ),
            body=RequestBody(AccountUpdateIn.__name__, "The parts that changed and when.", xml=siebel_message),
            replies=(
                Reply(202, "Accepted: the update will reach CCB.", "CustomerUpdateAnswer"),
                Reply(200, "Ignored: the customer is not synchronized.", "CustomerUpdateAnswer"),
            ),
            path_parameters=account_id,
            honours_idempotency_key=True,
        ),
        f"GET {api.PREFIX}/accounts/{{siebelAccountId}}": RouteDoc(
            summary="What the hub knows of a Siebel account",
            description="Whether it is synchronized to CCB and its CCB ids; 404 for an account the hub has never seen.",
            replies=(Reply(200, "The account.", "SiebelAccountView"),),
            problems=(404,),
            path_parameters=account_id,
        ),
    }
    return docs


def field_work_docs() -> ApiDocs:
    """FW-01, FW-02 and the activity query (``utilhub.packs.field_work.api``)."""
    from utilhub.packs.field_work import api
    from utilhub.packs.field_work.attachments import AttachmentIn
    from utilhub.packs.field_work.model import (
        SYSTEMS,
        ActivityEventIn,
        ActivityIn,
        BillableCompletionIn,
        CustomerInformationIn,
        UnbadgedAssetIn,
    )

    docs = ApiDocs(
        models=[
            (AttachmentIn, "validation"),
            (ActivityIn, "validation"),
            (ActivityEventIn, "validation"),
            (BillableCompletionIn, "validation"),
            (CustomerInformationIn, "validation"),
            (UnbadgedAssetIn, "validation"),
        ]
    )
    docs.schemas["AttachmentUpload"] = {
        "type": "object",
        "required": ["attachmentId", "upload", "expiresAt"],
        "properties": {
            "attachmentId": {"type": "string"},
            "upload": {
                "type": "object",
                "description": "A presigned POST: send the file as multipart/form-data to `url` with `fields` first, then `file`.",
                "properties": {"url": {"type": "string"}, "fields": {"type": "object", "additionalProperties": {"type": "string"}}},
            },
            "expiresAt": {"type": "string", "format": "date-time"},
        },
    }
    docs.schemas["NotificationAccepted"] = {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"const": "ACCEPTED"},
            "completionId": {"type": "string"},
            "updateId": {"type": "string"},
            "notificationId": {"type": "string"},
        },
    }
    relayed = (
        " Accepted at once (202), queued, and delivered once to the target even when sent twice or redelivered (keyed on"
        " the id); retried by the queue while the target is down, then kept in the dead-letter queue."
    )
    docs.schemas["FieldActivityAccepted"] = {
        "type": "object",
        "required": ["activityId", "sourceSystem", "routedTo"],
        "properties": {
            "activityId": {"type": "string"},
            "sourceSystem": {"type": "string"},
            "routedTo": {"type": "array", "items": {"type": "string", "enum": list(SYSTEMS)}},
        },
    }
    docs.schemas["FieldActivityEventAccepted"] = {
        "type": "object",
        "required": ["activityId", "event", "forwardedTo"],
        "properties": {
            "activityId": {"type": "string"},
            "event": {"type": "string", "enum": ["UPDATE", "CANCEL", "COMPLETE"]},
            "forwardedTo": {"type": "array", "items": {"type": "string"}},
        },
    }
    docs.schemas["FieldActivityResubmitted"] = {
        "type": "object",
        "required": ["activityId", "sourceSystem", "status", "attempt"],
        "properties": {
            "activityId": {"type": "string"},
            "sourceSystem": {"type": "string"},
            "status": {"const": "CREATING"},
            "attempt": {"type": "integer", "minimum": 2, "description": "1 for the first creation, one more per resubmission."},
        },
    }
    docs.schemas["FieldActivityView"] = {
        "type": "object",
        "required": ["activityId", "sourceSystem", "status", "routedTo", "links", "history"],
        "properties": {
            "activityId": {"type": "string"},
            "sourceSystem": {"type": "string"},
            "activityType": {"type": "string"},
            "status": {"type": "string", "enum": ["CREATING", "LINKED", "ERROR", "COMPLETED", "CANCELED"]},
            "routedTo": {"type": "array", "items": {"type": "string"}},
            "links": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Each system's id of the activity."},
            "history": {"type": "array", "items": {"type": "object"}},
            "refusals": {"type": "array", "items": {"type": "string"}, "description": "Events a linked system refused."},
        },
    }
    path_parameters = {
        "sourceSystem": {"description": "The system the activity was created in.", "schema": {"type": "string", "enum": list(SYSTEMS)}},
        "activityId": {"description": "Its id there.", "schema": {"type": "string"}},
    }
    docs.routes = {
        f"POST {api.PREFIX}/activities": RouteDoc(
            summary="Create a field activity in the systems its routing rule names (FW-01)",
            description=(
                "Routes the activity by its source system and type (routing rules: configuration; ASSET work goes to ODM "
                "under implementation model v2.1, to WAM under v1.9). A Standard workflow creates it in every routed system "
                "and links the ids, or cancels it where it was created and ends in ERROR with the reason. No rule for the "
                "source and type is a 422. The same activity again answers 202 and creates nothing; other content under the "
                "same source and id is a 409."
            ),
            body=RequestBody(ActivityIn.__name__, "The activity."),
            replies=(Reply(202, "Accepted: query the activity.", "FieldActivityAccepted"),),
            problems=(409,),
            honours_idempotency_key=True,
        ),
        f"POST {api.PREFIX}/activities/{{sourceSystem}}/{{activityId}}/events": RouteDoc(
            summary="Update, cancel or complete a field activity (FW-02)",
            description=(
                "Recorded once per `eventId` and forwarded, in order, to every other system linked to the activity (a "
                "completion with its readings, remarks and attachment references); an event that comes while the activity "
                "is being created is held and forwarded, in order, once it is linked in every routed system. An unknown "
                "activity is a 404; one completed, canceled or in ERROR (or with a completion or cancellation held) a 409; "
                "the same `eventId` again changes nothing."
            ),
            body=RequestBody(ActivityEventIn.__name__, "The event."),
            replies=(Reply(202, "Accepted: forwarded to the systems listed.", "FieldActivityEventAccepted"),),
            problems=(404, 409),
            path_parameters=path_parameters,
            honours_idempotency_key=True,
        ),
        f"POST {api.PREFIX}/activities/{{sourceSystem}}/{{activityId}}/resubmission": RouteDoc(
            summary="Create a field activity in ERROR again, from where it failed (FW-01)",
            description=(
                "Runs the creation workflow again under a new execution (the next attempt): where the activity is open "
                "in a routed system it is found there and linked, nothing created twice; where the compensation canceled "
                "it, or it was never made, it is created; then it is linked, or canceled where created and in ERROR again "
                "with the reason. Events held while it was being created are delivered once it is linked. An activity "
                "CREATING whose attempt never started or ended without recording its outcome is resubmitted too; one in "
                "creation, linked, completed or canceled is a 409; an unknown one a 404."
            ),
            replies=(Reply(202, "Being created again: query the activity.", "FieldActivityResubmitted"),),
            problems=(404, 409),
            path_parameters=path_parameters,
            honours_idempotency_key=True,
        ),
        f"POST {api.PREFIX}/activities/{{sourceSystem}}/{{activityId}}/attachments": RouteDoc(
            summary="Ask to upload a file for an activity's completion (FW-07)",
            description=(
                "Files never go through the API: the answer is a presigned POST to the attachment bucket whose policy pins "
                "the key, the content type and the size. Allowed types: PDF, JPEG, PNG, plain text, the name's extension "
                "matching; at most 10 MB by default. The completion then names the attachment by id; the other systems get "
                "its name, type, size and a time-limited download URL. An unknown activity is a 404, a closed one a 409."
            ),
            body=RequestBody(AttachmentIn.__name__, "The file to upload."),
            replies=(Reply(201, "Upload with this.", "AttachmentUpload"),),
            problems=(404, 409),
            path_parameters=path_parameters,
            honours_idempotency_key=True,
        ),
        f"POST {api.PREFIX}/billing-charges": RouteDoc(
            summary="Bill field work WAM/ODM completed (FW-05)",
            description="CCB gets the completion's charges as billable charges, once per `completionId`." + relayed,
            body=RequestBody(BillableCompletionIn.__name__, "The completion and its charges."),
            replies=(Reply(202, "Accepted.", "NotificationAccepted"),),
            honours_idempotency_key=True,
        ),
        f"POST {api.PREFIX}/customer-updates": RouteDoc(
            summary="A customer's new details for MWM's open activities (FW-10)",
            description="MWM's activities at the service point that are still open (linked, not completed or canceled) get them." + relayed,
            body=RequestBody(CustomerInformationIn.__name__, "The customer's details."),
            replies=(Reply(202, "Accepted.", "NotificationAccepted"),),
            honours_idempotency_key=True,
        ),
        f"POST {api.PREFIX}/unbadged-assets": RouteDoc(
            summary="An asset ODM recorded without a badge number becomes a CCB item (FW-11)",
            description="Implementation model v2.1 only (422 otherwise); CCB gets one item per `notificationId`." + relayed,
            body=RequestBody(UnbadgedAssetIn.__name__, "The asset."),
            replies=(Reply(202, "Accepted.", "NotificationAccepted"),),
            honours_idempotency_key=True,
        ),
        f"GET {api.PREFIX}/activities/{{sourceSystem}}/{{activityId}}": RouteDoc(
            summary="A field activity's status, links and history",
            description="CREATING, LINKED, ERROR, COMPLETED or CANCELED; each system's id; every transition and event.",
            replies=(Reply(200, "The activity.", "FieldActivityView"),),
            problems=(404,),
            path_parameters=path_parameters,
        ),
    }
    return docs


def field_work_query_docs() -> ApiDocs:
    """FW-03, FW-04, FW-08, FW-09 (``utilhub.packs.field_work.queries_api``): synchronous, within a time budget."""
    from utilhub.packs.field_work.api import PREFIX
    from utilhub.packs.field_work.model import (
        Appointment,
        AppointmentIn,
        AppointmentWindows,
        InstalledAsset,
        MeterValidation,
        MeterValidationIn,
        ServicePointSummary,
    )

    docs = ApiDocs(
        models=[
            (AppointmentIn, "validation"),
            (MeterValidationIn, "validation"),
            (AppointmentWindows, "serialization"),
            (Appointment, "serialization"),
            (MeterValidation, "serialization"),
            (ServicePointSummary, "serialization"),
            (InstalledAsset, "serialization"),
        ]
    )
    docs.schemas["ServicePointsFound"] = {
        "type": "object",
        "required": ["servicePoints"],
        "properties": {"servicePoints": {"type": "array", "items": ref(ServicePointSummary)}},
    }
    docs.schemas["InstalledAssets"] = {
        "type": "object",
        "required": ["servicePointId", "source", "assets"],
        "properties": {
            "servicePointId": {"type": "string"},
            "source": {"type": "string", "enum": ["WAM", "ODM"]},
            "assets": {"type": "array", "items": ref(InstalledAsset)},
        },
    }
    budget = " Synchronous: one call within the route's time budget; the system answering an error is a 502, not answering in time a 504."
    sp = {"servicePointId": {"description": "The service point.", "schema": {"type": "string"}}}
    docs.routes = {
        f"GET {PREFIX}/appointments/windows": RouteDoc(
            summary="Appointment windows MWM can still book (FW-03)",
            description="Query `servicePointId`, `activityType`, `from`, `to` (dates, at most 31 days)." + budget,
            replies=(Reply(200, "The free windows.", AppointmentWindows.__name__),),
            problems=(422, 502, 504),
        ),
        f"POST {PREFIX}/appointments": RouteDoc(
            summary="Book an appointment window at MWM (FW-03)",
            description=(
                "The same `appointmentId` again answers the same booking (MWM refuses a second booking under the id; the hub "
                "then reads the booking MWM holds, so a booking retried after a 504 is answered with it); booked for another "
                "window or canceled is a 409, and so is a window not offered or full."
            )
            + budget,
            body=RequestBody(AppointmentIn.__name__, "The appointment."),
            replies=(Reply(200, "Booked.", Appointment.__name__),),
            problems=(409, 502, 504),
            honours_idempotency_key=True,
        ),
        f"POST {PREFIX}/appointments/{{appointmentId}}/cancellation": RouteDoc(
            summary="Cancel an appointment at MWM (FW-03)",
            description="An appointment MWM does not have is a 404." + budget,
            replies=(Reply(200, "Canceled.", Appointment.__name__),),
            problems=(404, 502, 504),
            path_parameters={"appointmentId": {"description": "CCB's id of the appointment.", "schema": {"type": "string"}}},
        ),
        f"POST {PREFIX}/meter-validations": RouteDoc(
            summary="Validate a meter or item for an installation or a removal (FW-04)",
            description="Validated by CCB under implementation model v1.9, by ODM under v2.1 (`validatedBy`)." + budget,
            body=RequestBody(MeterValidationIn.__name__, "The meter and what the crew wants to do with it."),
            replies=(Reply(200, "Whether it is valid, and why not.", MeterValidation.__name__),),
            problems=(502, 504),
        ),
        f"GET {PREFIX}/service-points": RouteDoc(
            summary="Find service points for an unrelated pickup (FW-08)",
            description="Query by `address` (contains), `postalCode` or `meterBadge`, at CCB; at least one is required." + budget,
            replies=(Reply(200, "The service points found (at most 20).", "ServicePointsFound"),),
            problems=(422, 502, 504),
        ),
        f"GET {PREFIX}/service-points/{{servicePointId}}/installed-assets": RouteDoc(
            summary="Assets installed at a service point, for CCB's service point portal (FW-09)",
            description="From WAM under implementation model v1.9, ODM under v2.1; a service point the system does not have is a 404."
            + budget,
            replies=(Reply(200, "The installed assets.", "InstalledAssets"),),
            problems=(404, 502, 504),
            path_parameters=sp,
        ),
    }
    return docs


def dacs_docs() -> ApiDocs:
    """DA-04: DACS's acknowledgements per record of the incremental extract files."""
    from utilhub.packs.dacs.acknowledgements import AcknowledgementsIn, RecordAcknowledgement
    from utilhub.packs.dacs.sync import PREFIX

    docs = ApiDocs(models=[(AcknowledgementsIn, "validation"), (RecordAcknowledgement, "validation")])
    docs.schemas["DacsAcknowledgementResult"] = {
        "type": "object",
        "required": ["recordType", "externalReferenceId", "outcome"],
        "properties": {
            "recordType": {"type": "string"},
            "externalReferenceId": {"type": "string"},
            "outcome": {"enum": ["synchronized", "error", "ignored"]},
            "syncRequestId": {"type": "string", "description": "The sync request the record acknowledged (not for ignored)."},
        },
    }
    docs.schemas["DacsAcknowledgementsAnswer"] = {
        "type": "object",
        "required": ["synchronized", "error", "ignored", "results"],
        "properties": {
            "synchronized": {"type": "integer", "minimum": 0},
            "error": {"type": "integer", "minimum": 0},
            "ignored": {"type": "integer", "minimum": 0},
            "results": {"type": "array", "items": ref("DacsAcknowledgementResult"), "description": "One per record, in order."},
        },
    }
    docs.routes = {
        f"POST {PREFIX}/acknowledgements": RouteDoc(
            summary="Acknowledge the records of DACS extract files (DA-04)",
            description=(
                "Up to 1,000 records, each POSITIVE or NEGATIVE, named by `recordType`, `externalReferenceId` (the CCB id) and "
                "`changeDateTime`. A record acknowledges the DACS sync request in flight for its entity when the change time is "
                "the one written: POSITIVE makes it SYNCHRONIZED, NEGATIVE ERROR with the reason; a POSITIVE one also completes "
                "the entity's request that timed out to ERROR waiting for it. A record that matches no such request (an "
                "initial load record, an image already acknowledged) is `ignored`: posting the same acknowledgements again "
                "changes nothing."
            ),
            body=RequestBody(AcknowledgementsIn.__name__, "The acknowledgements."),
            replies=(Reply(200, "What each record did.", "DacsAcknowledgementsAnswer"),),
            problems=(409,),
            honours_idempotency_key=True,
        )
    }
    return docs


def meter_data_billing_events_docs() -> ApiDocs:
    """MD-13, MD-16, MD-20 (relayed), MD-17, MD-19 (synchronous), MD-21 (links): ``utilhub.packs.meter_data.billing_api``."""
    from utilhub.packs.meter_data.billing_api import PREFIX
    from utilhub.packs.meter_data.billing_events import (
        BillCycleChangeIn,
        BillCycleRequestIn,
        BillStatusIn,
        ReplacementReadsIn,
        UsageAdjustment,
        UsageAdjustmentIn,
    )

    docs = ApiDocs(
        models=[
            (ReplacementReadsIn, "validation"),
            (BillStatusIn, "validation"),
            (BillCycleChangeIn, "validation"),
            (BillCycleRequestIn, "validation"),
            (UsageAdjustmentIn, "validation"),
            (UsageAdjustment, "serialization"),
        ]
    )
    docs.schemas["BillCycle"] = {
        "type": "object",
        "required": ["saId", "servicePointId", "billCycle"],
        "properties": {"saId": {"type": "string"}, "servicePointId": {"type": "string"}, "billCycle": {"type": "string"}},
    }
    docs.schemas["NavigationLinks"] = {
        "type": "object",
        "required": ["entityType", "entityId", "links"],
        "properties": {
            "entityType": {"type": "string"},
            "entityId": {"type": "string"},
            "links": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["rel", "href"],
                    "properties": {"rel": {"type": "string"}, "href": {"type": "string", "format": "uri"}},
                },
            },
        },
    }
    budget = " Synchronous: one call to MDM within the route's time budget; MDM answering an error is a 502, not answering in time a 504."
    docs.schemas["MeterDataEventAccepted"] = {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"const": "ACCEPTED"},
            "notificationId": {"type": "string"},
            "changeId": {"type": "string"},
            "usageTransactionId": {"type": "string"},
            "eventId": {"type": "string"},
            "usedOnBill": {"type": "boolean", "description": "What MDM is told: true for BILL_COMPLETED and SEGMENT_FROZEN."},
        },
    }
    relayed = (
        " Queued and delivered once per id, retried while the target is down (then kept in a dead-letter queue);"
        " a refusal by the target is recorded and alarmed, not retried."
    )
    docs.routes = {
        f"POST {PREFIX}/replacement-reads": RouteDoc(
            summary="Replacement reads notification from MDM (MD-13)",
            description=(
                "MDM (scope `utilhub/meter-data-mdm`) changed determinants it had already sent for a usage transaction; CCB "
                "receives an off-cycle bill generation request, once per `notificationId`. Nothing is answered to MDM "
                "beyond the 202." + relayed
            ),
            body=RequestBody(ReplacementReadsIn.__name__, "The notification."),
            replies=(Reply(202, "Accepted.", "MeterDataEventAccepted"),),
            honours_idempotency_key=True,
        ),
        f"POST {PREFIX}/usage-transactions/{{usageTransactionId}}/bill-status": RouteDoc(
            summary="Usage transaction info update from CCB (MD-16)",
            description=(
                "A bill completed or a bill segment frozen (MDM gets used-on-bill `true`) or canceled (`false`), once per "
                "`eventId` and usage transaction; a transaction's events reach MDM in the order the hub accepted them (a "
                "failed one is redelivered before the later ones), so MDM ends with the latest event's flag; with `at`, MDM "
                "also keeps the latest when two are posted out of order." + relayed
            ),
            body=RequestBody(BillStatusIn.__name__, "The bill event."),
            replies=(Reply(202, "Accepted.", "MeterDataEventAccepted"),),
            path_parameters={"usageTransactionId": {"description": "MDM's usage transaction.", "schema": {"type": "string"}}},
            honours_idempotency_key=True,
        ),
        f"POST {PREFIX}/bill-cycle-changes": RouteDoc(
            summary="Bill cycle change notification from MDM (MD-20)",
            description="MDM (scope `utilhub/meter-data-mdm`) changed a service point's bill cycle; CCB receives it once per `changeId`."
            + relayed,
            body=RequestBody(BillCycleChangeIn.__name__, "The change."),
            replies=(Reply(202, "Accepted.", "MeterDataEventAccepted"),),
            honours_idempotency_key=True,
        ),
        f"POST {PREFIX}/bill-cycle-requests": RouteDoc(
            summary="SA activation bill cycle request (MD-19)",
            description="The bill cycle MDM links to the SA's service point; an SA or service point MDM does not hold is a 404." + budget,
            body=RequestBody(BillCycleRequestIn.__name__, "The SA being activated and its service point."),
            replies=(Reply(200, "The bill cycle.", "BillCycle"),),
            problems=(404, 502, 504),
        ),
        f"POST {PREFIX}/usage-adjustments": RouteDoc(
            summary="Usage adjustment request, self-service (MD-17)",
            description=(
                "MDM adjusts the SA's usage over the period by `quantity` (positive adds, negative takes away) and answers the "
                "usage transaction it made; the same `adjustmentId` again answers the same one, with other values it is a 409. "
                "An SA MDM does not hold is a 404. Made once (never retried by the hub): after a 504, send it again."
            )
            + budget,
            body=RequestBody(UsageAdjustmentIn.__name__, "The adjustment."),
            replies=(Reply(200, "The adjustment MDM made.", UsageAdjustment.__name__),),
            problems=(404, 409, 502, 504),
            honours_idempotency_key=True,
        ),
        f"GET {PREFIX}/links": RouteDoc(
            summary="Navigation links between CCB and MDM objects (MD-21)",
            description=(
                "Query `entityType` (CCB's PERSON, SERVICE_AGREEMENT, SERVICE_POINT, USAGE_REQUEST, METER; MDM's "
                "MDM_SERVICE_POINT) and `entityId`. The links come from URL templates kept as configuration (shipped, "
                "overridden per entity type by the links parameter); the id is URL-quoted into them. An unknown entity "
                "type is a 422."
            ),
            replies=(Reply(200, "The links.", "NavigationLinks"),),
            problems=(422,),
        ),
    }
    return docs


def operations_docs() -> ApiDocs:
    """Operators: dead-letter queues and their redrive (``utilhub.operations.api``)."""
    from utilhub.operations.api import PACKS

    docs = ApiDocs()
    docs.schemas["DeadLetterQueue"] = {
        "type": "object",
        "required": ["queue", "messages", "inFlight"],
        "properties": {
            "queue": {
                "type": "string",
                "description": "`<pack>/<queue>`, as the redrive route names it.",
                "examples": ["field-work/relay"],
            },
            "messages": {"type": "integer", "minimum": 0, "description": "Messages waiting to be redriven (SQS's approximate count)."},
            "inFlight": {"type": "integer", "minimum": 0, "description": "Messages being moved by a redrive, or read by someone."},
        },
    }
    docs.schemas["DeadLetterQueues"] = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("DeadLetterQueue")}},
    }
    docs.schemas["DeadLetterRedrive"] = {
        "type": "object",
        "required": ["queue", "taskHandle", "messages"],
        "properties": {
            "queue": {"type": "string"},
            "taskHandle": {"type": "string", "description": "SQS's message move task."},
            "messages": {"type": "integer", "minimum": 1, "description": "Messages the queue held when the redrive started."},
        },
    }
    docs.routes = {
        "GET /ops/dead-letters": RouteDoc(
            summary="Every dead-letter queue of the hub and its depth",
            description="One item per dead-letter queue whose messages an operator may redrive, named `<pack>/<queue>`.",
            replies=(Reply(200, "The queues.", "DeadLetterQueues"),),
        ),
    }
    queue = {
        "schema": {"type": "string", "pattern": "^[a-z][a-z-]*$"},
        "description": "The queue, as `GET /ops/dead-letters` names it after the pack.",
    }
    for pack in PACKS:
        docs.routes[f"POST /{pack}/dead-letters/{{queue}}/redrive"] = RouteDoc(
            summary=f"Redrive a dead-letter queue of {pack}",
            description=(
                "Sends every message of the dead-letter queue back to the queue it came from (SQS's `StartMessageMoveTask`), "
                "where its consumer delivers it as a new message; consumers are idempotent, so a message whose effect was "
                "already applied changes nothing. 409 when the queue holds no message or a redrive of it is under way."
            ),
            replies=(Reply(202, "The redrive started.", "DeadLetterRedrive"),),
            problems=(404, 409),
            path_parameters={"queue": queue},
            honours_idempotency_key=True,
        )
    return docs


def route_docs() -> ApiDocs:
    """The documentation of every route the hub serves: one line per pack API."""
    from dataclasses import replace

    from localhub.openapi_usage import meter_data_usage_docs
    from utilhub.packs.dacs import sync as dacs
    from utilhub.packs.field_work import sp_sync
    from utilhub.packs.meter_data import sync as meter_data

    docs = ApiDocs()
    docs.merge(sync_request_api_docs(meter_data.PREFIX, meter_data.FLOW))
    docs.merge(sync_request_api_docs(dacs.PREFIX, dacs.FLOW))
    # FW-06: one flow per implementation model, the same routes and contract; the target is the model's asset system
    docs.merge(sync_request_api_docs(sp_sync.PREFIX, replace(sp_sync.FLOWS["v2.1"], target="WAM (model v1.9) or ODM (model v2.1)")))
    docs.merge(dacs_docs())
    docs.merge(order_to_cash_docs())
    docs.merge(customer_docs())
    docs.merge(field_work_docs())
    docs.merge(field_work_query_docs())
    docs.merge(meter_data_usage_docs())
    docs.merge(meter_data_billing_events_docs())
    docs.merge(operations_docs())
    return docs


# ---------------------------------------------------------------------------------------- shared components

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
    409: ("Conflict", "The request conflicts with the resource's state, or an Idempotency-Key was reused with another body."),
    413: ("PayloadTooLarge", "The body exceeds the configured limit."),
    415: ("UnsupportedMediaType", "The Content-Type is not accepted by this route."),
    422: ("UnprocessableContent", "The body parses but breaks the contract; `errors` points at each invalid field."),
    502: ("BadGateway", "The target application answered an error; `target` names it."),
    504: ("GatewayTimeout", "The target application did not answer within the route's time budget; `target` names it."),
    503: ("ServiceUnavailable", "AWS throttled the hub or failed for a moment; nothing was lost, retry after `Retry-After` seconds."),
}
GATEWAY_REFUSALS = (401, 403)  # API Gateway's JWT authorizer answers these before the hub runs


def _problem_components() -> tuple[dict[str, Any], dict[str, Any]]:
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
        content: dict[str, Any] = {PROBLEM_JSON: {"schema": ref("ProblemDetails")}}
        headers: dict[str, Any] = {CORRELATION_HEADER: {"$ref": "#/components/headers/CorrelationId"}}
        if status in GATEWAY_REFUSALS:
            content[JSON] = {"schema": ref("GatewayMessage")}
            description += ' API Gateway\'s authorizer answers `{"message"}` as application/json; the hub, problem details.'
        if status == 401:
            headers["WWW-Authenticate"] = {"schema": {"type": "string"}, "description": "Bearer"}
        if status == 503:
            headers["Retry-After"] = {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again."}
        responses[name] = {"description": description, "headers": headers, "content": content}
    return schemas, responses


def _parameters() -> dict[str, Any]:
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


# ---------------------------------------------------------------------------------------- document


def _operation(route: ApiRoute, doc: RouteDoc) -> dict[str, Any]:
    where = f"{route.route_key} ({route.function}.{route.event})"
    documented, declared = set(doc.path_parameters), set(route.path_parameters)
    if documented != declared:
        raise OpenApiError(f"{where}: path parameters {sorted(declared)} but documented {sorted(documented)}.")
    if doc.honours_idempotency_key and route.method != "POST":
        raise OpenApiError(f"{where}: Idempotency-Key is for POST routes only.")

    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, **doc.path_parameters[name]} for name in route.path_parameters
    ]
    parameters.append({"$ref": "#/components/parameters/CorrelationId"})
    if doc.honours_idempotency_key:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})

    # every route calls AWS, whose throttling is answered 503, and refuses a parameter holding a control character with 400
    problems = set(doc.problems) | {400, 503}
    if doc.honours_idempotency_key:
        problems |= {409}  # a key used before with another body
    if route.secured:
        problems |= {401, 403}
    if doc.body is not None:
        problems |= {400, 413, 415, 422}
    unknown = problems - set(PROBLEMS)
    if unknown:
        raise OpenApiError(f"{where}: no problem response is defined for {sorted(unknown)}.")

    responses: dict[str, Any] = {}
    for reply in doc.replies:
        responses[str(reply.status)] = {
            "description": reply.description,
            "headers": {CORRELATION_HEADER: {"$ref": "#/components/headers/CorrelationId"}},
            "content": {JSON: {"schema": ref(reply.schema)}},
        }
    for status in sorted(problems):
        responses[str(status)] = {"$ref": f"#/components/responses/{PROBLEMS[status][0]}"}

    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": doc.summary,
        "description": doc.description,
        "tags": [route.tag],
        "parameters": parameters,
        "responses": responses,
        "security": [{SECURITY_SCHEME: list(route.scopes)}] if route.secured else [],
    }
    if route.integration_points:
        operation["x-integration-points"] = list(route.integration_points)
    if doc.body is not None:
        content: dict[str, Any] = {JSON: {"schema": ref(doc.body.schema)}}
        if doc.body.xml is not None:
            content.update({media_type: {"schema": _xml_schema(doc.body.xml)} for media_type in XML_MEDIA_TYPES})
        operation["requestBody"] = {"required": True, "description": doc.body.description, "content": content}
    return operation


def _model_schemas(models: list[tuple[type[BaseModel], JsonSchemaMode]]) -> dict[str, Any]:
    keys, top = models_json_schema(models, ref_template=SCHEMA_REF)
    for (model, _mode), found in keys.items():
        if found != ref(model.__name__):
            raise OpenApiError(f"The schema of {model.__module__}.{model.__qualname__} is {found['$ref']}: give the model a unique name.")
    return dict(top.get("$defs", {}))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


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


def build_openapi(template: Template | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP API of ``template`` (``template.yaml`` by default)."""
    template = template or Template.load()
    routes = api_routes(template)
    docs = route_docs()

    undocumented = [f"{r.route_key} ({r.function}.{r.event})" for r in routes if r.route_key not in docs.routes]
    if undocumented:
        raise OpenApiError("Routes without documentation (add them to route_docs() in localhub/openapi.py): " + "; ".join(undocumented))
    stale = sorted(set(docs.routes) - {r.route_key for r in routes})
    if stale:
        raise OpenApiError("Documented routes that template.yaml does not declare: " + "; ".join(stale))

    problem_schemas, problem_responses = _problem_components()
    schemas: dict[str, Any] = {**_model_schemas(docs.models), **problem_schemas}
    for name, schema in docs.schemas.items():
        if name in schemas:
            raise OpenApiError(f"Component schema {name} is defined by a model and by route_docs().")
        schemas[name] = schema

    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, docs.routes[route.route_key])

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
            "parameters": _parameters(),
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
    missing = sorted({target for target in _refs(document) if not _resolves(document, target)})
    if missing:
        raise OpenApiError(f"Dangling references: {missing}.")
    return document


def _resolves(document: dict[str, Any], target: str) -> bool:
    node: Any = document
    for part in target.removeprefix("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


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
