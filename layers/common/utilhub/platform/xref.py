"""Cross-references between the ids each application gives the same entity.

One item per (entity type, system, id), holding the ids of the other systems as
``link_<SYSTEM>`` attributes, so a lookup in either direction is one read. Both directions
are written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# DynamoDB's limits: keys per BatchGetItem, actions per TransactWriteItems
_BATCH_GET_KEYS = 100
_TRANSACTION_ITEMS = 100


@dataclass(frozen=True)
class SystemId:
    system: str
    id: str


ItemKey = tuple[str, SystemId]  # (entity type, the id in one system): one item of the table


class LinkConflict(Exception):
    """A link written meanwhile by another writer differs from the one asked for: nothing of that batch was written."""


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

    def links(self, entity_type: str, source: SystemId) -> dict[str, str]:
        """Every id the entity ``source`` names is linked to (``{system: id}``, ``source``'s own not included; empty
        when not linked): one strongly consistent read."""
        item = self._table.get_item(Key={"pk": self._key(entity_type, source)}, ConsistentRead=True).get("Item") or {}
        return {str(name).removeprefix("link_"): str(value) for name, value in item.items() if str(name).startswith("link_")}

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

    def links_of(self, keys: Iterable[ItemKey]) -> dict[ItemKey, dict[str, str]]:
        """The ids each item links to (``{system: id}``, empty when the item does not exist), read
        :data:`_BATCH_GET_KEYS` at a time, strongly consistent."""
        wanted = list(dict.fromkeys(keys))
        by_pk = {self._key(entity_type, ref): (entity_type, ref) for entity_type, ref in wanted}
        found: dict[ItemKey, dict[str, str]] = {key: {} for key in wanted}
        pks = list(by_pk)
        for start in range(0, len(pks), _BATCH_GET_KEYS):
            request: dict[str, Any] = {
                self._table.name: {"Keys": [{"pk": pk} for pk in pks[start : start + _BATCH_GET_KEYS]], "ConsistentRead": True}
            }
            while request:
                answer = self._table.meta.client.batch_get_item(RequestItems=request)
                for stored in answer["Responses"].get(self._table.name, []):
                    found[by_pk[str(stored["pk"])]] = {
                        name.removeprefix("link_"): str(value) for name, value in stored.items() if name.startswith("link_")
                    }
                request = answer.get("UnprocessedKeys") or {}
        return found

    def add_links(self, items: Mapping[ItemKey, Mapping[str, str]]) -> None:
        """Give each item the links it is mapped to (``{system: id}``), keeping those it has: up to
        :data:`_TRANSACTION_ITEMS` items per transaction, each update on condition that every link it writes is
        absent or already the same, so an existing link is never overwritten. Raises :class:`LinkConflict` when
        a condition fails (another writer linked one of them otherwise since it was read): that transaction wrote
        nothing, those before it stand, and writing the same items again completes the rest."""
        entries = [(key, dict(links)) for key, links in items.items() if links]
        now = datetime.now(UTC).isoformat()
        for start in range(0, len(entries), _TRANSACTION_ITEMS):
            actions: list[Any] = []
            for (entity_type, ref), links in entries[start : start + _TRANSACTION_ITEMS]:
                names = {f"#l{n}": f"link_{system}" for n, system in enumerate(links)}
                values: dict[str, Any] = {f":l{n}": other for n, other in enumerate(links.values())}
                values[":now"] = now
                sets = ", ".join(f"#l{n} = :l{n}" for n in range(len(links)))
                condition = " AND ".join(f"(attribute_not_exists(#l{n}) OR #l{n} = :l{n})" for n in range(len(links)))
                actions.append(
                    {
                        "Update": {
                            "TableName": self._table.name,
                            "Key": {"pk": self._key(entity_type, ref)},
                            "UpdateExpression": f"SET {sets}, updatedAt = :now",
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    }
                )
            try:
                self._table.meta.client.transact_write_items(TransactItems=actions)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" not in reasons:
                    raise
                raise LinkConflict("a link was written otherwise meanwhile") from None
