"""The HTTP API of a sync flow: intake (single and batch), query, acknowledgement, resubmission.

Every pack with a sync flow gets the same five routes under its own prefix and scope by
calling :func:`build_sync_request_api`; only the flow (entity types, codecs) differs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from utilhub.platform import problems
from utilhub.platform.api_docs import Reply, Request, XmlBody
from utilhub.platform.http import Body, HttpApiResolver, create_api, route
from utilhub.platform.json_input import from_json
from utilhub.platform.observability import MetricUnit, correlation_id, metrics
from utilhub.platform.settings import Settings, get_settings
from utilhub.platform.xml import validate as validate_xml
from utilhub.syncrequests import api_schemas
from utilhub.syncrequests.delivery import Acknowledgements, remaining_of
from utilhub.syncrequests.model import (
    ID_PATTERN,
    Acknowledgement,
    AcknowledgementIn,
    SyncFlow,
    SyncRequest,
    SyncRequestBatchIn,
    SyncRequestIn,
    SyncStatus,
    canonical_json,
)
from utilhub.syncrequests.store import ConflictingRequest, StaleTransition, SyncRequestStore

SyncRequestStoreFactory = Callable[[], SyncRequestStore]
# A stored request must fit a DynamoDB item (400 KB) with its history; numbers can grow when normalised.
MAX_STORED_DATA_BYTES = 300_000
AcknowledgementsFactory = Callable[[], Acknowledgements]


class Releaser(Protocol):
    """What sends requests at once when their entity has nothing in flight (the flow's monitor: ``SyncMonitor.release``)."""

    def release(self, requests: Sequence[SyncRequest], remaining: Callable[[], int] | None = None) -> object: ...


ReleaseFactory = Callable[[], Releaser | None]


def no_release() -> Releaser | None:
    """A flow whose requests wait for its monitor's run (DACS: its extract writes them on its own schedule)."""
    return None


def non_finite(value: Any, pointer: str) -> str | None:
    """The pointer of the first NaN or infinity in ``value`` (Python's JSON reader lets them through)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else pointer
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        escaped = str(key).replace("~", "~0").replace("/", "~1")
        if found := non_finite(item, f"{pointer}/{escaped}"):
            return found
    return None


def validate_sync_request(flow: SyncFlow, raw: dict[str, Any], settings: Settings, root: str = "", *, xml: bool = False) -> SyncRequestIn:
    """The request, checked against the contract and the entity type's data model, or a 422.

    ``raw`` is JSON an application sent (each field its JSON type, :func:`~utilhub.platform.json_input.from_json`), or
    with ``xml`` what the flow's codec read from an XML body (text, converted to the model's types)."""

    def validated[M: BaseModel](model: type[M], value: Any) -> M:
        return model.model_validate(value) if xml else from_json(model, value)

    try:
        request = validated(SyncRequestIn, raw)
    except ValidationError as exc:
        raise problems.from_validation_error(exc, root) from None
    spec = flow.spec(request.entityType)
    if spec is None:
        raise problems.invalid(
            f"entityType {request.entityType!r} is not synchronized by {flow.name}.",
            [problems.FieldError(f"#{root}/entityType", f"must be one of: {', '.join(flow.entities)}")],
        )
    if reason := spec.disabled_reason(settings):
        raise problems.invalid(reason, [problems.FieldError(f"#{root}/entityType", reason)])
    try:
        data = validated(spec.data_model, request.data)
    except ValidationError as exc:
        raise problems.from_validation_error(exc, f"{root}/data") from None
    if refusal := spec.refusal(data):
        raise problems.invalid(refusal.reason, [problems.FieldError(f"#{root}/data/{refusal.field}", refusal.reason)])
    if pointer := non_finite(request.data, f"#{root}/data"):
        raise problems.invalid(
            "JSON numbers must be finite: NaN and infinity cannot be stored or sent.",
            [problems.FieldError(pointer, "is not a finite number")],
        )
    # what was sent, normalised (types, whitespace) but without defaults it did not carry
    normalised = data.model_dump(mode="json", exclude_unset=True, by_alias=True)
    if len(canonical_json(normalised).encode("utf-8")) > MAX_STORED_DATA_BYTES:
        raise problems.Problem(
            413, "Payload too large", f"data takes more than {MAX_STORED_DATA_BYTES} bytes once stored.", "payload-too-large"
        )
    return request.model_copy(update={"data": normalised})


def build_sync_request_api(
    flow: SyncFlow,
    *,
    prefix: str,
    scope: str,
    store: SyncRequestStoreFactory,
    acknowledgements: AcknowledgementsFactory,
    ack_scope: str | None = None,
    target_described: str | None = None,
    release: ReleaseFactory = no_release,
) -> HttpApiResolver:
    """Routes under ``prefix`` (``/meter-data``), each requiring ``scope``; the acknowledgement requires
    ``ack_scope`` (default ``<scope>-ack``) and a caller that may act as the flow's target.

    ``store`` and ``acknowledgements`` are factories, called on first use, so importing the API
    touches no AWS resource; so is ``release``: what sends a request received alone at once when its entity has
    nothing in flight (None: the monitor's next run does). A batch is a load: the monitor's sweep sends each entity's
    oldest change, whatever order the batches came in, and the acknowledgements the next ones. ``target_described`` names the target in the routes' documentation where
    one set of routes serves flows to different targets (FW-06).
    """
    collection = f"{prefix}/sync-requests"
    app = create_api(scope)
    described = replace(flow, target=target_described) if target_described else flow
    source = flow.source_codec.schema if flow.source_codec is not None else None
    ack_xsd = flow.target_codec.schema or None  # DACS acknowledges in JSON only
    request_schema, batch_schema = api_schemas.request_schema_names(flow)
    xml_note = (
        f" {flow.source}'s XML form (`application/xml` or `text/xml`) is validated against the XSD named by `x-xsd`." if source else ""
    )
    sync_request_id = {
        "syncRequestId": {"description": "The id the source gave the sync request.", "schema": {"type": "string", "pattern": ID_PATTERN}}
    }
    models, schemas = api_schemas.models(flow), api_schemas.schemas(described)

    def read_single(body: Body) -> SyncRequestIn:
        if body.xml is not None and flow.source_codec is not None:
            validate_xml(body.xml, flow.source_codec.schema)
            return validate_sync_request(flow, flow.source_codec.read_request(body.xml), get_settings(), xml=True)
        assert body.json is not None
        return validate_sync_request(flow, body.json, get_settings())

    def read_batch(body: Body) -> list[SyncRequestIn]:
        settings = get_settings()
        xml = body.xml is not None and flow.source_codec is not None  # else JSON, each field its JSON type
        if body.xml is not None and flow.source_codec is not None:
            validate_xml(body.xml, flow.source_codec.schema)
            raw_requests = flow.source_codec.read_batch(body.xml)
        else:
            try:
                raw_requests = from_json(SyncRequestBatchIn, body.json).requests
            except ValidationError as exc:
                raise problems.from_validation_error(exc) from None
        errors: list[problems.FieldError] = []
        requests: list[SyncRequestIn] = []
        for index, raw in enumerate(raw_requests):
            try:
                requests.append(validate_sync_request(flow, raw, settings, f"/requests/{index}", xml=xml))
            except problems.Problem as exc:
                errors.extend(exc.errors or [problems.FieldError(f"#/requests/{index}", exc.detail)])
        if errors:
            raise problems.invalid(f"The batch was refused: {len(errors)} field(s) are invalid; nothing was stored.", errors)
        return requests

    def read_acknowledgement(body: Body, syncRequestId: str) -> Acknowledgement:
        if body.xml is not None:
            ack = flow.target_codec.read_acknowledgement(body.raw)
        else:
            try:
                ack_in = from_json(AcknowledgementIn, body.json)
            except ValidationError as exc:
                raise problems.from_validation_error(exc) from None
            ack = Acknowledgement(result=ack_in.result, reason=ack_in.reason, targetId=ack_in.targetId)
        if ack.result == "ACCEPTED":
            raise problems.invalid("An acknowledgement sent to the hub must be POSITIVE or NEGATIVE.")
        return ack

    @route(
        app,
        "POST",
        collection,
        summary=f"Submit a {flow.source} -> {described.target} sync request",
        description=(
            (
                f"Stores the request PENDING and, when its entity has nothing in flight, sends it to {described.target} at "
                "once (the answer still says PENDING); otherwise the acknowledgement of the entity's change in flight, or "
                "the sync monitor, sends it: one in flight per entity, "
                if release is not no_release
                else f"Stores the request PENDING; the sync monitor delivers it to {described.target}, one in flight per entity, "
            )
            + "in order of `changedAt`, and only once the target holds every entity it depends on (until then it is WAITING, "
            "naming that entity). The same `syncRequestId` with the same content creates nothing new and answers "
            "its current status; with other content it is a 409. A refused request is never stored." + xml_note
        ),
        request=Request(
            request_schema,
            "One sync request.",
            xml=XmlBody(source, "SyncRequest") if source else None,
            read=read_single,
            reads_xml=flow.source_codec is not None,
        ),
        replies=[Reply(202, "Accepted: query the request with its id.", "SyncRequestState")],
        problems=[409],
        idempotent=True,
        models=models,
        schemas=schemas,
    )
    def submit(request: SyncRequestIn) -> tuple[int, Any]:
        try:
            stored, created = store().create(request, correlation_id())
        except ConflictingRequest:
            raise problems.conflict(f"syncRequestId {request.syncRequestId} was already used for another request.") from None
        if created:
            metrics.add_metric(name="SyncRequestsReceived", unit=MetricUnit.Count, value=1)
            if (sender := release()) is not None:
                sender.release([stored], remaining_of(app.lambda_context))
        return 202, {"syncRequestId": stored.syncRequestId, "status": stored.status.value}

    @route(
        app,
        "POST",
        f"{collection}:batch",
        summary=f"Submit up to 100 {flow.source} -> {described.target} sync requests",
        description=(
            "All or nothing at validation: when any request is invalid the answer is a 422 whose `errors` point into "
            "`/requests/{index}/...`, and nothing is stored. Otherwise each request is stored as by the single intake; "
            "one whose id was already used for another request gets the result status CONFLICT."
            + (
                " A batch is a load: its requests wait for the sync monitor's run, which sends each entity's oldest change "
                "first whatever order the batches came in (the acknowledgements send the next ones)."
                if release is not no_release
                else ""
            )
            + xml_note
        ),
        request=Request(
            batch_schema,
            "The batch.",
            xml=XmlBody(source, "SyncRequests") if source else None,
            read=read_batch,
            reads_xml=flow.source_codec is not None,
        ),
        replies=[Reply(202, "Accepted: one result per request.", "SyncRequestBatchAccepted")],
        problems=[409],
        idempotent=True,
        models=models,
        schemas=schemas,
    )
    def submit_batch(requests: list[SyncRequestIn]) -> tuple[int, Any]:
        results: list[dict[str, Any]] = []
        created = 0
        for request, outcome in zip(requests, store().create_many(requests, correlation_id()), strict=True):
            if isinstance(outcome, ConflictingRequest):
                results.append(
                    {
                        "syncRequestId": request.syncRequestId,
                        "status": "CONFLICT",
                        "detail": "syncRequestId already used for another request",
                    }
                )
                continue
            stored, is_new = outcome
            created += is_new
            results.append({"syncRequestId": stored.syncRequestId, "status": stored.status.value, "created": is_new})
        if created:
            metrics.add_metric(name="SyncRequestsReceived", unit=MetricUnit.Count, value=created)
        return 202, {"accepted": created, "results": results}

    @route(
        app,
        "GET",
        f"{collection}/{{syncRequestId}}",
        summary="Query a sync request",
        description="Its status and history. A request refused at intake was never stored: 404.",
        replies=[Reply(200, "The sync request.", "SyncRequestView")],
        problems=[404],
        path_parameters=sync_request_id,
        models=models,
        schemas=schemas,
    )
    def query(syncRequestId: str) -> tuple[int, Any]:
        request = store().get(syncRequestId)
        if request is None:
            raise problems.not_found(f"No sync request {syncRequestId}.")
        return 200, request.public()

    @route(
        app,
        "POST",
        f"{collection}/{{syncRequestId}}/acknowledgement",
        # the target acknowledges with a scope of its own: a source's token cannot mark its own requests synchronized
        scope=ack_scope or f"{scope}-ack",
        acts_as=flow.target,  # WAM's client does not acknowledge what was sent to ODM
        summary=f"Acknowledge a sync request ({described.target})",
        description=(
            f"{described.target}'s deferred answer to a SENT request: POSITIVE makes it SYNCHRONIZED, NEGATIVE ERROR. "
            "A POSITIVE one also completes a request that timed out to ERROR waiting for it (SYNCHRONIZED). "
            "The same acknowledgement again answers the current status; any other for a request that is not SENT is a 409; "
            "ACCEPTED is not an answer the hub takes (422)."
            + (f" {described.target}'s XML acknowledgement is validated against the XSD named by `x-xsd`." if ack_xsd else "")
        ),
        request=Request(
            AcknowledgementIn,
            "The acknowledgement.",
            xml=XmlBody(ack_xsd, "Acknowledgement") if ack_xsd else None,
            read=read_acknowledgement,
            reads_xml=True,  # a target that acknowledges in JSON only is told so (422), not refused the media type
        ),
        replies=[Reply(200, "The request's status after the acknowledgement.", "SyncRequestState")],
        problems=[404, 409],
        path_parameters=sync_request_id,
        idempotent=True,
        models=models,
        schemas=schemas,
    )
    def acknowledge(ack: Acknowledgement, syncRequestId: str) -> tuple[int, Any]:
        request = store().get(syncRequestId)
        if request is None:
            raise problems.not_found(f"No sync request {syncRequestId}.")
        done = SyncStatus.SYNCHRONIZED if ack.result == "POSITIVE" else SyncStatus.ERROR
        # a positive acknowledgement still completes a request that timed out waiting for it
        late = request.status is SyncStatus.ERROR and request.timedOut and done is SyncStatus.SYNCHRONIZED
        if request.status is not done:  # the same acknowledgement again changes nothing
            if request.status is not SyncStatus.SENT and not late:
                raise problems.conflict(
                    f"Sync request {syncRequestId} is {request.status.value}; only a SENT request (or a positive "
                    "acknowledgement of one that timed out) takes an acknowledgement."
                )
            acknowledgements().apply(request, ack, remaining=remaining_of(app.lambda_context))
        current = store().get(syncRequestId)
        assert current is not None  # requests are never deleted while they can be acknowledged
        return 200, {"syncRequestId": syncRequestId, "status": current.status.value}

    @route(
        app,
        "POST",
        f"{collection}/{{syncRequestId}}/resubmission",
        operator=True,  # the operations API runs it with the operator's token (docs/operations.md)
        summary="Resubmit a sync request in ERROR",
        description=(
            "Puts an ERROR request back to PENDING for another delivery. A request already PENDING answers 202 "
            "unchanged; any other status is a 409."
        ),
        replies=[Reply(202, "Pending again.", "SyncRequestState")],
        problems=[404, 409],
        path_parameters=sync_request_id,
        idempotent=True,
        models=models,
        schemas=schemas,
    )
    def resubmit(syncRequestId: str) -> tuple[int, Any]:
        request = store().get(syncRequestId)
        if request is None:
            raise problems.not_found(f"No sync request {syncRequestId}.")
        if request.status is SyncStatus.PENDING:
            return 202, {"syncRequestId": syncRequestId, "status": request.status.value}
        if request.status is not SyncStatus.ERROR:
            raise problems.conflict(f"Sync request {syncRequestId} is {request.status.value}; only an ERROR request can be resubmitted.")
        try:
            store().resubmit(request, "resubmitted")
        except StaleTransition:
            raise problems.conflict(f"Sync request {syncRequestId} changed meanwhile; query it and retry.") from None
        return 202, {"syncRequestId": syncRequestId, "status": SyncStatus.PENDING.value}

    return app
