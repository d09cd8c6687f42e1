"""Cross-references between the ids each application gives the same entity.

One item per (entity type, system, id), holding the ids of the other systems as
``link_<SYSTEM>`` attributes, so a lookup in either direction is one read. Both directions
are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


@dataclass(frozen=True)
class SystemId:
    system: str
    id: str


class CrossReferenceStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    @staticmethod
    def key_prefix(entity_type: str, system: str) -> str:
        """Where the items of one entity type's ids in one system start (each function's policy names these)."""
        return f"{entity_type}#{system}#"

    @classmethod
    def _key(cls, entity_type: str, ref: SystemId) -> str:
        return cls.key_prefix(entity_type, ref.system) + ref.id

    def link(self, entity_type: str, a: SystemId, b: SystemId) -> None:
        """Record that ``a`` and ``b`` are the same ``entity_type`` (idempotent; a link already
        there costs one read, not a transaction)."""
        if self.lookup(entity_type, a, b.system) == b.id and self.lookup(entity_type, b, a.system) == a.id:
            return
        now = datetime.now(UTC).isoformat()
        client = self._table.meta.client
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self._table.name,
                        "Key": {"pk": self._key(entity_type, this)},
                        "UpdateExpression": "SET #link = :other, updatedAt = :now",
                        "ExpressionAttributeNames": {"#link": f"link_{other.system}"},
                        "ExpressionAttributeValues": {":other": other.id, ":now": now},
                    }
                }
                for this, other in ((a, b), (b, a))
            ]
        )

    def lookup(self, entity_type: str, source: SystemId, target_system: str) -> str | None:
        """The id ``target_system`` gives the entity ``source`` names, or None when not linked."""
        # strongly consistent: a workflow step reads the link the step before it has just written
        item = self._table.get_item(Key={"pk": self._key(entity_type, source)}, ConsistentRead=True).get("Item")
        value = item.get(f"link_{target_system}") if item else None
        return str(value) if value is not None else None

    def ids_of(self, entity_types: Sequence[str], source: SystemId) -> tuple[str, dict[str, str]] | None:
        """The entity ``source`` names, by the first of ``entity_types`` it is linked as: its type and its id in
        every system linked to it (``source``'s own included); None when it is linked as none of them."""
        keys = [{"pk": self._key(entity_type, source)} for entity_type in dict.fromkeys(entity_types)]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self._table.name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                answer = self._table.meta.client.batch_get_item(RequestItems=request)
                for stored in answer["Responses"].get(self._table.name, []):
                    found[str(stored["pk"])] = dict(stored)  # the resource's client: plain values
                request = answer.get("UnprocessedKeys") or {}
        for entity_type in dict.fromkeys(entity_types):
            links = found.get(self._key(entity_type, source))
            if links is not None:
                ids = {source.system: source.id}
                for name, value in links.items():
                    if name.startswith("link_"):
                        ids[name.removeprefix("link_")] = str(value)
                return entity_type, ids
        return None
