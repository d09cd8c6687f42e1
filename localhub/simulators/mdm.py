"""Meter Data Management simulator: the inbound master data sync service.

``POST /sync-requests`` takes the hub's XML (validated against ``mdm/sync.xsd`` with the
library's hardened parser; a payload that is not the header's entity type is refused), keeps
each kind of record as MDM does (contact, service point, usage subscription and their
relationships, dynamic option and event, device, device configuration with its measuring
components, install event, measurement, bill cycle schedule) under its own MDM id, and answers an
``Acknowledgement``: POSITIVE with the MDM id; NEGATIVE for a business error (a record that
refers to one MDM does not hold: a usage subscription's service points or contact, a
relationship's usage subscriptions, an event's option, an install event's service point or
device, a measurement's device or install event, or a read taken before its installation;
or an injected ``reject`` fault); ACCEPTED for an injected ``accept_later`` fault. The same
MessageId twice is answered as the first time and stored once.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime
from typing import Any

from lxml import etree

from localhub.simulators import mdm_usage
from localhub.simulators.base import Reply, Simulator, SimulatorError
from utilhub.platform.problems import Problem
from utilhub.platform.xml import parse_untrusted, to_bytes, validate

NS = "urn:utilhub:mdm:sync:v1"
_M = {"m": NS}
# MDM record kind -> (the CCB entity type it keeps, the prefix of its MDM ids)
_KINDS = {
    "Contact": ("PERSON", "C"),
    "ServicePoint": ("SERVICE_POINT", "SP"),
    "UsageSubscription": ("SERVICE_AGREEMENT", "US"),
    "UsageSubscriptionRelationship": ("SA_RELATIONSHIP", "USR"),
    "DynamicOption": ("DYNAMIC_OPTION", "DO"),
    "DynamicOptionEvent": ("DYNAMIC_OPTION_EVENT", "DOE"),
    "Device": ("METER", "D"),
    "DeviceConfiguration": ("METER_CONFIGURATION", "DC"),
    "InstallEvent": ("SP_METER_HISTORY", "IE"),
    "Measurement": ("SCALAR_METER_READ", "MS"),
    "BillCycleSchedule": ("BILL_CYCLE", "BC"),
}
# the records a kind refers to: (element path, the entity type MDM must already hold)
_REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "UsageSubscription": (("m:ServicePoints/m:ServicePointId", "SERVICE_POINT"), ("m:MainContactId", "PERSON")),
    "UsageSubscriptionRelationship": (
        ("m:UsageSubscriptionId", "SERVICE_AGREEMENT"),
        ("m:RelatedUsageSubscriptionId", "SERVICE_AGREEMENT"),
    ),
    "DynamicOptionEvent": (("m:DynamicOptionId", "DYNAMIC_OPTION"),),
    "InstallEvent": (("m:ServicePointId", "SERVICE_POINT"), ("m:DeviceId", "METER")),
    "Measurement": (("m:DeviceId", "METER"), ("m:InstallEventId", "SP_METER_HISTORY")),
}
_NAMES = {
    "SERVICE_POINT": "service point",
    "PERSON": "contact",
    "SERVICE_AGREEMENT": "usage subscription",
    "DYNAMIC_OPTION": "dynamic option",
    "METER": "device",
    "SP_METER_HISTORY": "install event",
}


def _element_to_dict(element: etree._Element) -> Any:
    children = list(element)
    if not children:
        return element.text
    result: dict[str, Any] = {}
    for child in children:
        name = etree.QName(child).localname
        if name == "Attribute":
            result[child.get("name", "")] = child.text
            continue
        value = _element_to_dict(child)
        if child.get("type"):
            value = {"type": child.get("type"), "value": value}
        if name in result:
            existing = result[name]
            result[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[name] = value
    return result


def _instant(text: str | None) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


class MdmSimulator(Simulator):
    def __init__(self) -> None:
        super().__init__(system="MDM")
        self._ids = itertools.count(1)
        self._answers: dict[str, bytes] = {}
        # sync request id -> records stored for it (1 when it reached MDM once; 2 would be a duplicate)
        self.accepted: Counter[str] = Counter()
        # images stored over a newer one of the same record (a sync out of order; the hub must never cause one)
        self.older_images = 0

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        # usage services (MD-11, MD-12, MD-14, MD-15): computed from the seeded load shape (mdm_usage)
        if path.startswith("/usage/"):
            self.note_received({"operation": path.split("?")[0], "correlationId": headers.get("x-correlation-id")})
            return mdm_usage.handle(method, path, body, known_sa=self.holds_service_agreement)
        if (method, path.split("?")[0].rstrip("/")) != ("POST", "/sync-requests"):
            return Reply(404, b"no such service", "text/plain")
        try:
            root = parse_untrusted(body, max_bytes=1_048_576, max_depth=32)
            validate(root, "mdm/sync.xsd")
        except Problem as exc:
            raise SimulatorError(f"invalid sync request: {exc.detail} {[e.detail for e in exc.errors]}") from None
        header = root.find("m:Header", _M)
        assert header is not None  # the XSD requires it
        message_id = header.findtext("m:MessageId", namespaces=_M) or ""
        sync_request_id = header.findtext("m:SyncRequestId", namespaces=_M)
        with self._lock:
            self.note_received(
                {"messageId": message_id, "syncRequestId": sync_request_id, "correlationId": headers.get("x-correlation-id")}
            )
            if message_id in self._answers:  # a redelivery: same answer, nothing stored twice
                return Reply(200, self._answers[message_id])
        if fault := self.take_fault("reject"):
            return Reply(200, self._ack(message_id, "NEGATIVE", reason=fault.reason))
        if self.take_fault("accept_later"):
            return Reply(202, self._ack(message_id, "ACCEPTED"))
        payload = root[1]
        kind = etree.QName(payload).localname
        entity_type = header.findtext("m:EntityType", namespaces=_M) or ""
        external_id = header.findtext("m:ExternalId", namespaces=_M) or ""
        if _KINDS[kind][0] != entity_type:
            raise SimulatorError(f"a {entity_type} cannot be kept as a {kind}")
        if problem := self._business_error(kind, payload):
            answer = self._ack(message_id, "NEGATIVE", reason=problem)
            self._answers[message_id] = answer
            return Reply(200, answer)
        key = f"{entity_type}#{external_id}"
        with self._lock:
            existing = self.records.get(key)
            changed_at = header.findtext("m:ChangedAt", namespaces=_M)
            if existing and str(changed_at) < str(existing["changedAt"]):  # fixed-width UTC text sorts as time
                self.older_images += 1
            mdm_id = existing["mdmId"] if existing else f"{_KINDS[kind][1]}-{next(self._ids):06d}"
            self.records[key] = {
                "mdmId": mdm_id,
                "entityType": entity_type,
                "externalId": external_id,
                "changedAt": changed_at,
                "kind": kind,
                "data": _element_to_dict(payload),
                "version": (existing["version"] + 1) if existing else 1,
            }
            answer = self._ack(message_id, "POSITIVE", mdm_id=mdm_id)
            self._answers[message_id] = answer
            self.accepted[sync_request_id or ""] += 1
        return Reply(200, answer)

    def _business_error(self, kind: str, payload: etree._Element) -> str | None:
        """What MDM refuses in a valid message: a reference to a record it does not hold, a read before its install."""
        with self._lock:
            for path, entity_type in _REFERENCES.get(kind, ()):
                unknown = [e.text for e in payload.iterfind(path, _M) if f"{entity_type}#{e.text}" not in self.records]
                if unknown:
                    return f"unknown {_NAMES[entity_type]}(s): {', '.join(map(str, unknown))}"
            if kind == "Measurement":
                install = self.records[f"SP_METER_HISTORY#{payload.findtext('m:InstallEventId', namespaces=_M)}"]["data"]
                read_at = _instant(payload.findtext("m:ReadDateTime", namespaces=_M))
                if read_at < _instant(install["InstallDateTime"]) or (
                    install.get("RemovalDateTime") and read_at > _instant(install["RemovalDateTime"])
                ):
                    return "read taken outside its install event's period"
        return None

    def holds_service_agreement(self, sa_id: str) -> bool:
        """An SA synchronized to MDM (MD-03) or one of the seeded set (``mdm_usage``)."""
        with self._lock:
            return f"SERVICE_AGREEMENT#{sa_id}" in self.records or mdm_usage.is_seeded_sa(sa_id)

    def records_by_kind(self) -> dict[str, int]:
        with self._lock:
            return dict(Counter(record["kind"] for record in self.records.values()))

    def state(self, *, summary: bool = False) -> dict[str, Any]:
        """As every simulator's, with the sync requests MDM stored and how often each (``summary``: how many)."""
        with self._lock:
            accepted: dict[str, Any] = (
                {
                    "acceptedSyncRequests": len(self.accepted),
                    "acceptedMessages": sum(self.accepted.values()),
                    "olderImagesReceived": self.older_images,
                }
                if summary
                else {"acceptedPerSyncRequest": dict(self.accepted), "olderImagesReceived": self.older_images}
            )
            return {**super().state(summary=summary), **accepted, "recordsByKind": self.records_by_kind()}

    @staticmethod
    def _ack(message_id: str, result: str, *, reason: str | None = None, mdm_id: str | None = None) -> bytes:
        root = etree.Element(f"{{{NS}}}Acknowledgement", nsmap={None: NS})  # type: ignore[dict-item]
        etree.SubElement(root, f"{{{NS}}}MessageId").text = message_id
        etree.SubElement(root, f"{{{NS}}}Result").text = result
        if reason:
            etree.SubElement(root, f"{{{NS}}}Reason").text = reason
        if mdm_id:
            etree.SubElement(root, f"{{{NS}}}MdmId").text = mdm_id
        return to_bytes(root)
