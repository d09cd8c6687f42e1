"""Customer Care and Billing simulator, as the source of master data.

CCB keeps persons; a change to one (``PUT /persons/{personId}`` with the person's data, validated
against the library's ``PersonData`` model) makes CCB send a sync request to the hub the way its
outbound messages do: a CCB XML ``SyncRequest`` (validated against ``ccb/sync-request.xsd`` before it
leaves) posted to ``/meter-data/sync-requests``. The answer tells what the hub said. The hub-facing
sender is given by the runtime: over HTTP with a token in ``make run``, in-process in tests.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from lxml import etree
from pydantic import ValidationError

from localhub.simulators.base import Reply, Simulator, SimulatorError
from utilhub.packs.meter_data.model import ADDRESS_XML, PersonData
from utilhub.platform.xml import to_bytes, validate

NS = "urn:utilhub:ccb:sync-request:v1"
HubSender = Callable[[str, bytes, str], tuple[int, bytes]]  # (path, body, content type) -> (status, body)


def _add(parent: etree._Element, name: str, value: Any) -> None:
    if value not in (None, "", []):
        etree.SubElement(parent, f"{{{NS}}}{name}").text = ("true" if value else "false") if isinstance(value, bool) else str(value)


def person_sync_request(sync_request_id: str, person_id: str, changed_at: datetime, person: PersonData) -> bytes:
    """CCB's outbound XML for a changed person."""
    root = etree.Element(f"{{{NS}}}SyncRequest", nsmap={None: NS})  # type: ignore[dict-item]
    _add(root, "SyncRequestId", sync_request_id)
    _add(root, "EntityType", "PERSON")
    _add(root, "EntityId", person_id)
    _add(root, "ChangedAt", changed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    element = etree.SubElement(root, f"{{{NS}}}Person")
    _add(element, "Name", person.name)
    _add(element, "PersonType", person.personType)
    _add(element, "EmailAddress", person.emailAddress)
    for phone in person.phones:
        etree.SubElement(element, f"{{{NS}}}Phone", type=phone.type).text = phone.number
    if person.address is not None:
        address = etree.SubElement(element, f"{{{NS}}}Address")
        for field, name in ADDRESS_XML:
            _add(address, name, getattr(person.address, field))
    _add(element, "Language", person.language)
    _add(element, "LifeSupport", person.lifeSupport)
    validate(root, "ccb/sync-request.xsd")
    return to_bytes(root)


class CcbSimulator(Simulator):
    def __init__(self) -> None:
        super().__init__(system="CCB")
        self._ids = itertools.count(1)
        self.send_to_hub: HubSender | None = None

    def handle(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> Reply:
        parts = path.split("?")[0].strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "persons":
            person = self.records.get(f"PERSON#{unquote(parts[1])}")
            return Reply(200, json.dumps(person).encode(), "application/json") if person else Reply(404, b"no such person", "text/plain")
        if method == "PUT" and len(parts) == 2 and parts[0] == "persons":
            return self.change_person(unquote(parts[1]), body)
        return Reply(404, b"no such CCB service", "text/plain")

    def change_person(self, person_id: str, body: bytes) -> Reply:
        try:
            person = PersonData.model_validate_json(body)
        except ValidationError as exc:
            raise SimulatorError(f"invalid person: {exc.errors(include_url=False, include_input=False)}") from None
        if self.send_to_hub is None:
            raise SimulatorError("CCB is not connected to a hub")
        changed_at = datetime.now(UTC)
        sync_request_id = f"CCB-SR-{next(self._ids):06d}"
        with self._lock:
            self.records[f"PERSON#{person_id}"] = {
                **person.model_dump(mode="json", exclude_unset=True),
                "changedAt": changed_at.isoformat(),
            }
        status, answer = self.send_to_hub(
            "/meter-data/sync-requests", person_sync_request(sync_request_id, person_id, changed_at, person), "application/xml"
        )
        with self._lock:
            self.note_received({"syncRequestId": sync_request_id, "hubStatus": status})
        reply = {"personId": person_id, "syncRequestId": sync_request_id, "hubStatus": status, "hubAnswer": json.loads(answer or b"null")}
        return Reply(200 if status < 400 else 502, json.dumps(reply).encode(), "application/json")
