"""CPU per message of intake (JSON and CCB XML) and of the MDM rendering, each against its floor.

Floors are the least any implementation must do with the same libraries:
- JSON intake: ``json.loads`` and the two pydantic validations (envelope, entity data);
- XML intake: ``lxml.etree.fromstring`` and the compiled XSD's ``validate``;
- MDM rendering: building the same element tree with lxml and serialising it, unvalidated.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from dataclasses import dataclass
from datetime import UTC
from types import SimpleNamespace
from typing import Any, cast

from lxml import etree

from benchmarks.common import Row, best_of, sample_body
from utilhub.packs.meter_data.mdm_xml import NAMESPACE, MdmSyncXml
from utilhub.packs.meter_data.model import PersonData
from utilhub.packs.meter_data.sync import FLOW
from utilhub.platform.settings import Settings
from utilhub.platform.xml import load_schema, parse_untrusted, validate
from utilhub.syncrequests.api import validate_sync_request
from utilhub.syncrequests.ccb_xml import ADDRESS_XML, CcbSyncRequestXml
from utilhub.syncrequests.model import SyncFlow, SyncRequest, SyncRequestIn
from utilhub.syncrequests.store import SyncRequestStore, _from_item

JSON_SAMPLE = "meter_data/sync_requests/submit-person.json"
XML_SAMPLE = "meter_data/sync_requests/submit-person-xml.json"
CCB_SCHEMA = "ccb/sync-request.xsd"


@dataclass(frozen=True)
class Plan:
    iterations: int
    rounds: int
    memory_messages: int


FULL = Plan(iterations=2000, rounds=5, memory_messages=10_000)
QUICK = Plan(iterations=300, rounds=3, memory_messages=1_000)


def offline_table() -> Any:
    """A table for a store whose item-building methods only are used: never called."""
    return cast(Any, SimpleNamespace(name="bench", meta=SimpleNamespace(client=None)))


def offline_store(flow: SyncFlow = FLOW) -> SyncRequestStore:
    """A store whose table is never called: only :meth:`SyncRequestStore._new_item` is used (with the flow's
    parents and open-under rules, as :func:`utilhub.syncrequests.wiring.store_for` builds it)."""
    return SyncRequestStore(offline_table(), flow.name, shards=8, retention_days=90, parents_of=flow.parents_of, open_under=flow.open_under)


def json_intake(plan: Plan) -> list[Row]:
    body = sample_body(JSON_SAMPLE)
    settings = Settings()  # the handler reads it once per process (get_settings)
    store = offline_store()

    def floor() -> None:
        request = SyncRequestIn.model_validate(json.loads(body))
        PersonData.model_validate(request.data)

    def hub() -> None:
        store._new_item(validate_sync_request(FLOW, json.loads(body), settings), "bench")

    validated = validate_sync_request(FLOW, json.loads(body), settings)
    t = best_of(
        {
            "floor": floor,
            "hub": hub,
            "validate": lambda: validate_sync_request(FLOW, json.loads(body), settings),
            "item": lambda: store._new_item(validated, "bench"),
        },
        iterations=plan.iterations,
        rounds=plan.rounds,
    )
    return [
        Row("1. JSON intake (validate + stored item)", t["hub"], t["floor"], "µs/msg", "floor: json.loads + 2 model_validate"),
        Row("   of which validate_sync_request", t["validate"], None, "µs/msg"),
        Row("   of which SyncRequestStore._new_item", t["item"], None, "µs/msg"),
    ]


def xml_intake(plan: Plan) -> list[Row]:
    body = sample_body(XML_SAMPLE).encode("utf-8")
    schema = load_schema(CCB_SCHEMA)
    settings = Settings()
    codec = CcbSyncRequestXml()
    limits = {"max_bytes": settings.xml.xml_max_bytes, "max_depth": settings.xml.xml_max_depth}

    def floor() -> None:
        if not schema.validate(etree.fromstring(body)):
            raise AssertionError("the sample does not validate")

    def hub() -> None:
        root = parse_untrusted(body, **limits)
        validate(root, CCB_SCHEMA)
        validate_sync_request(FLOW, codec.read_request(root), settings)

    root = parse_untrusted(body, **limits)
    raw = codec.read_request(root)
    t = best_of(
        {
            "floor": floor,
            "hub": hub,
            "parse": lambda: parse_untrusted(body, **limits),
            "read": lambda: codec.read_request(root),
            "validate": lambda: validate_sync_request(FLOW, dict(raw), settings),
        },
        iterations=plan.iterations,
        rounds=plan.rounds,
    )
    return [
        Row("2. CCB XML intake (to a validated request)", t["hub"], t["floor"], "µs/msg", "floor: fromstring + XSD validate"),
        Row("   of which parse_untrusted", t["parse"], None, "µs/msg"),
        Row("   of which CcbSyncRequestXml.read_request", t["read"], None, "µs/msg"),
        Row("   of which validate_sync_request", t["validate"], None, "µs/msg"),
    ]


def sample_request() -> SyncRequest:
    """The JSON sample as the delivery function reads it from the table."""
    validated = validate_sync_request(FLOW, json.loads(sample_body(JSON_SAMPLE)), Settings())
    return _from_item(offline_store()._new_item(validated, "bench"))


def render_floor(request: SyncRequest, correlation_id: str) -> bytes:
    """The MDM message of a PERSON built directly with lxml: the same tree, not validated."""
    ns = f"{{{NAMESPACE}}}"
    sub = etree.SubElement
    root = etree.Element(ns + "SyncRequest", nsmap={None: NAMESPACE})  # type: ignore[dict-item]
    header = sub(root, ns + "Header")
    for name, value in (
        ("MessageId", f"{request.syncRequestId}-{request.attempt}"),
        ("SyncRequestId", request.syncRequestId),
        ("CorrelationId", correlation_id),
        ("Source", "CCB"),
        ("EntityType", request.entityType),
        ("ExternalId", request.entityId),
        ("ChangedAt", request.changedAt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    ):
        sub(header, ns + name).text = value
    data = request.data
    contact = sub(root, ns + "Contact")
    sub(contact, ns + "ContactName").text = data["name"]
    sub(contact, ns + "ContactClass").text = "ORGANIZATION" if data.get("personType") == "BUSINESS" else "INDIVIDUAL"
    if email := data.get("emailAddress"):
        sub(contact, ns + "Email").text = email
    for phone in data.get("phones", []):
        sub(contact, ns + "Phone", type=phone.get("type", "OTHER")).text = phone["number"]
    if address := data.get("address"):
        element = sub(contact, ns + "Address")
        for key, name in ADDRESS_XML:
            if value := address.get(key):
                sub(element, ns + name).text = value
    if language := data.get("language"):
        sub(contact, ns + "Language").text = language
    if (life_support := data.get("lifeSupport")) is not None:
        sub(contact, ns + "LifeSupport").text = "true" if life_support else "false"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def rendering(plan: Plan) -> list[Row]:
    request = sample_request()
    codec = MdmSyncXml()
    rendered = codec.render(request, "bench")
    if rendered != render_floor(request, "bench"):  # the floor must build the very same message
        raise AssertionError(f"the floor renders another message:\n{rendered!r}\n{render_floor(request, 'bench')!r}")
    t = best_of(
        {"floor": lambda: render_floor(request, "bench"), "hub": lambda: codec.render(request, "bench")},
        iterations=plan.iterations,
        rounds=plan.rounds,
    )
    return [Row("3. MDM rendering (incl. XSD validation)", t["hub"], t["floor"], "µs/msg", "floor: same tree with lxml, unvalidated")]


def memory(plan: Plan) -> list[Row]:
    """Peak traced memory of intake + rendering over many messages, against a tenth as many.

    The ids cycle through a window of 1,000 values, so caches keyed by value (pydantic-core
    keeps the strings it validated, up to 16,384) are in their steady state after the warm-up;
    what distinct ids keep is measured apart, over as many distinct messages.
    """
    template = json.loads(sample_body(JSON_SAMPLE))
    settings = Settings()
    store = offline_store()
    codec = MdmSyncXml()
    window = 1_000

    def work(count: int, *, distinct_from: int | None = None) -> None:
        for index in range(count):
            ident = f"D{distinct_from + index}" if distinct_from is not None else f"M{index % window}"
            body = json.dumps({**template, "syncRequestId": f"SR-{ident}", "entityId": f"P-{ident}"})
            item = store._new_item(validate_sync_request(FLOW, json.loads(body), settings), "bench")
            codec.render(_from_item(item), "bench")

    def peak_of(count: int) -> int:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        work(count)
        return tracemalloc.get_traced_memory()[1] - base

    few, many = plan.memory_messages // 10, plan.memory_messages
    tracemalloc.start()
    try:
        work(window)  # warm-up: schemas, pydantic and value caches in their steady state
        peak_few, peak_many = peak_of(few), peak_of(many)
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        work(many, distinct_from=10_000_000)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return [
        Row(
            f"7. peak memory, intake + render of {many:,} msgs",
            peak_many / 1024,
            peak_few / 1024,
            "KiB",
            f"floor: the same for {few:,} msgs",
        ),
        Row(
            f"   kept after {many:,} msgs with distinct ids",
            retained / 1024,
            None,
            "KiB",
            "pydantic-core's string cache, bounded at 16,384 strings",
        ),
    ]
