"""Changes to moto's DynamoDB (5.2.5) so the embedded AWS keeps its speed as tables fill, and answers a
retried transaction as DynamoDB does.

1. ``DynamoDBBackend.transact_write_items`` deep-copied every table a transaction touches, once
   per transaction item, to be able to roll back: a 1-item transaction cost O(table), a 100-item
   one 100 x O(table). :func:`transact_write_items` keeps moto's code and semantics (all or
   nothing, per-item cancellation reasons, the 100-item and one-operation-per-item rules) and
   saves, instead, a copy of each item it is about to write (and the length of the table's
   stream); a rollback puts back exactly those items.
2. ``Table.query`` sorted every item of the table to find the few of one partition, for the
   base table and for an index alike. :func:`query` gives moto's own query code only the
   candidates: the items of that partition key, found through a dictionary per global secondary
   index kept up to date by every write (built on the first query of the index, so a table never
   queried by index pays nothing). The ordering, paging, filtering and projection are moto's.

3. An update expression was deep-copied through Python's generic (pickle-protocol) copy for each
   validation, and each of the ten validating passes over it rebuilt its table of node types for
   every node it visited: together more than a third of the embedded endpoint's CPU under the hub's
   load. :func:`_copy_node` copies a node as moto's own ``Item.__deepcopy__`` copies an item, and
   :func:`_nodes_to_be_processed` / :func:`_process` build that table once per pass.
4. moto's server answers each request on its own thread, and nothing in its DynamoDB made a
   conditional write atomic: two concurrent claims of one item could both pass their condition.
   :func:`install` runs the backend's item operations one at a time (one lock per process), as
   DynamoDB's own conditional writes and transactions are atomic.
5. moto parsed an update expression each time it met one (twice per ``UpdateItem``: in the
   response, to check the names and values it uses, and in the backend), about 8% of the
   endpoint's CPU under the hub's load, which uses a handful of expressions over and over. Those
   callers only read the tree or validate a deep copy of it (``Validator.__init__``; ``normalize``
   runs on the validated copy), so :func:`_parsed_update` keeps one tree per expression (up to
   ``_PARSED_LIMIT``) and hands it to each; an expression that does not parse is refused each time.

6. ``TransactWriteItems`` ignored its ``ClientRequestToken``. boto3 fills one in on every call and
   sends the same one when it retries, so that a transaction applied by DynamoDB whose answer was
   lost (a read timeout under load) is answered as applied when it comes again. moto applied the
   retry anew, and a conditional transaction then failed against its own first writes: the sync
   monitor took such a retried claim of 50 requests for claims someone else had made, and never
   queued them (50 of a 100,000 backlog through ``make run`` ended in ERROR, "no acknowledgement").
   :func:`_idempotent_transact` answers a token seen in the last ten minutes as DynamoDB does:
   success without writing when the transaction is the same, ``IdempotentParameterMismatchException``
   when it is not, ``TransactionInProgressException`` while the first is still running; a
   transaction that failed leaves its token free for the retry.

All are written as they could be offered upstream; drop this module on the day moto ships an
equivalent (``docs/local-runtime.md``). :func:`install` applies them once per process; the
conformance check (``make moto-conformance``) runs moto's own DynamoDB tests with them applied.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    DynamodbException,
    MockValidationException,
    MultipleTransactionsException,
    ResourceNotFoundException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import GlobalSecondaryIndex, Table
from moto.dynamodb.parsing import ast_nodes, expressions
from moto.dynamodb.responses import DynamoHandler

Node: Any = ast_nodes.Node  # type: ignore[attr-defined]  # the module has no type hints
DepthFirstTraverser: Any = ast_nodes.DepthFirstTraverser  # type: ignore[attr-defined]
UpdateExpressionParser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]

_installed = False
_install_lock = threading.Lock()
_original_query: Callable[..., Any] = Table.query
_original_table_put: Callable[..., Any] = Table.put_item
_original_table_delete: Callable[..., Any] = Table.delete_item
_original_backend_update: Callable[..., Any] = DynamoDBBackend.update_item
_original_make: Callable[..., Any] = UpdateExpressionParser.make.__func__
_parsed_updates: dict[str, Any] = {}
_PARSED_LIMIT = 1024

PrimaryKey = tuple[DynamoType, DynamoType | None]


# ---------------------------------------------------------------------------- transactions
class _Undo:
    """What a transaction changed, to put back on rollback: each touched item as it was."""

    def __init__(self) -> None:
        self.items: list[tuple[Table, PrimaryKey, Item | None]] = []
        self.streams: dict[int, tuple[Table, int]] = {}

    def save(self, table: Table, key: PrimaryKey, current: Item | None) -> None:
        if table.stream_shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (table, len(table.stream_shard.items))
        self.items.append((table, key, copy.deepcopy(current)))

    def rollback(self) -> None:
        for table, (hash_key, range_key), item in reversed(self.items):
            if item is None:
                _drop(table, hash_key, range_key)
            elif range_key is not None:
                table.items[hash_key][range_key] = item
            else:
                table.items[hash_key] = item  # type: ignore[assignment]  # moto types items as the range-key layout
            _reindex(table, hash_key, range_key)
        for table, length in self.streams.values():
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]


def _drop(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
    if range_key is None:
        table.items.pop(hash_key, None)
        return
    partition = table.items.get(hash_key)
    if partition is not None:
        partition.pop(range_key, None)
        if not partition:
            del table.items[hash_key]


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``transact_write_items``, rolling back the items it touched instead of whole tables."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _Undo()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, expression_attribute_names, expression_attribute_values)
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                table = self.get_table(table_name)
                undo.save(table, self.get_keys_value(table, key), current)
            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            undo.rollback()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # as moto: every other failure is a cancellation reason
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        undo.rollback()
        raise TransactionCanceledException(errors)


# ---------------------------------------------------------------------------- index lookups
class _GsiMap:
    """Items of one global secondary index by the values of its partition key attributes."""

    def __init__(self, index: GlobalSecondaryIndex) -> None:
        self.index = index
        self.attributes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        self.partitions: dict[tuple[DynamoType, ...], dict[PrimaryKey, Item]] = {}
        self.placed: dict[PrimaryKey, tuple[DynamoType, ...]] = {}

    def partition_of(self, item: Item) -> tuple[DynamoType, ...] | None:
        values = tuple(item.attrs.get(a) for a in self.attributes)
        return None if any(v is None for v in values) else values  # type: ignore[return-value]

    def place(self, key: PrimaryKey, item: Item | None) -> None:
        wanted = self.partition_of(item) if item is not None else None
        before = self.placed.get(key)
        if before is not None and before != wanted:
            partition = self.partitions[before]
            del partition[key]
            if not partition:
                del self.partitions[before]
        if wanted is None:
            self.placed.pop(key, None)
            return
        self.partitions.setdefault(wanted, {})[key] = item  # type: ignore[assignment]
        self.placed[key] = wanted


def _gsi_maps(table: Table) -> dict[str, _GsiMap] | None:
    return table.__dict__.get("_localhub_gsi_maps")


def _gsi_map(table: Table, index_name: str) -> _GsiMap | None:
    """The map of ``index_name`` (built now if this is its first query), None for a local index."""
    index = next((i for i in table.global_indexes if i.name == index_name), None)
    if index is None:
        return None
    maps = table.__dict__.setdefault("_localhub_gsi_maps", {})
    if index_name not in maps or maps[index_name].index is not index:  # new, or re-created by UpdateTable
        built = _GsiMap(index)
        for item in _every_item(table):
            built.place((item.hash_key, item.range_key), item)
        maps[index_name] = built
    return maps[index_name]  # type: ignore[no-any-return]


def _every_item(table: Table) -> list[Item]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())  # type: ignore[arg-type]  # one item per hash key without a range key


def _reindex(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
    maps = _gsi_maps(table)
    if not maps:
        return
    item = table.get_item(hash_key, range_key) if range_key is not None or not table.range_key_attr else None
    if range_key is not None and not table.items.get(hash_key):
        table.items.pop(hash_key, None)  # get_item's defaultdict lookup must not leave an empty partition
    for built in maps.values():
        built.place((hash_key, range_key), item)


class _Candidates:
    """The table as moto's query sees it, with only the items that can match."""

    def __init__(self, table: Table, items: list[Item]) -> None:
        self._table = table
        self._items = items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Item]:
        return sorted(self._items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def query(self: Table, hash_key: DynamoType | None, *args: Any, **kwargs: Any) -> Any:
    """moto's ``Table.query`` over the items of the partition asked for instead of the whole table."""
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    conditions = dict(kwargs.get("hash_key_conditions") or [])
    candidates: list[Item] | None = None
    if not index_name or not any(i.name == index_name for i in self.global_indexes):
        # the base table or a local index: the partition of the table's own hash key
        value = hash_key if not index_name else conditions.get(self.hash_key_attr)
        if value is not None and (not index_name or set(conditions) == {self.hash_key_attr}):
            partition = self.items.get(value)
            if partition is None:
                candidates = []
            elif self.range_key_attr:
                candidates = list(partition.values())
            else:
                candidates = [partition]  # type: ignore[list-item]  # one item per hash key without a range key
    else:
        built = _gsi_map(self, index_name)
        if built is not None and set(conditions) == set(built.attributes):
            values = tuple(conditions[a] for a in built.attributes)
            candidates = list(built.partitions.get(values, {}).values())
    if candidates is None:  # a shape this lookup does not cover: moto's own scan
        return _original_query(self, hash_key, *args, **kwargs)
    return _original_query(_Candidates(self, candidates), hash_key, *args, **kwargs)


def _table_put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    item: Item = _original_table_put(self, item_attrs, *args, **kwargs)
    _reindex(self, item.hash_key, item.range_key)
    return item


def _table_delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    try:
        return _original_table_delete(self, hash_key, range_key)  # type: ignore[no-any-return]
    finally:
        _reindex(self, hash_key, range_key)


def _backend_update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    try:
        return _original_backend_update(self, table_name, key, *args, **kwargs)  # type: ignore[no-any-return]
    finally:  # the update changes the item in place, also when it fails half way
        try:
            table = self.get_table(table_name)  # by name or by ARN, as moto's update_item finds it
        except ResourceNotFoundException:
            table = None
        if table is not None and _gsi_maps(table) and table.hash_key_attr in key:
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            _reindex(table, hash_key, range_key)


# ---------------------------------------------------------------------------- update expressions
def _copy_node(self: Any, memo: dict[int, Any]) -> Any:
    """A deep copy of an expression node without the pickle protocol (as moto copies an ``Item``)."""
    copied = object.__new__(type(self))
    memo[id(self)] = copied
    copied.__dict__.update({name: copy.deepcopy(value, memo) for name, value in self.__dict__.items()})
    return copied


def _processing_table(self: Any) -> dict[type, Any]:
    table = self.__dict__.get("_localhub_processing")
    if table is None:
        table = self.__dict__["_localhub_processing"] = self._processing_map()
    return table  # type: ignore[no-any-return]


def _nodes_to_be_processed(self: Any) -> tuple[type, ...]:
    nodes = self.__dict__.get("_localhub_nodes")
    if nodes is None:
        nodes = self.__dict__["_localhub_nodes"] = tuple(_processing_table(self))
    return nodes  # type: ignore[no-any-return]


def _process(self: Any, node: Any) -> Any:
    for class_key, processor in _processing_table(self).items():
        if isinstance(node, class_key):
            return processor(node)
    return None


# The backend's operations on items: each runs whole, never interleaved with another.
ITEM_OPERATIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
    "execute_statement",
    "batch_execute_statement",
    "execute_transaction",
)
_item_lock = threading.RLock()


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def run_alone(*args: Any, **kwargs: Any) -> Any:
        with _item_lock:
            return method(*args, **kwargs)

    return run_alone


def _parsed_update(cls: type, expression_str: str) -> Any:
    """``UpdateExpressionParser.make``: the expression's tree, parsed once (callers never change it)."""
    tree = _parsed_updates.get(expression_str)
    if tree is None:
        tree = _original_make(cls, expression_str)
        if len(_parsed_updates) < _PARSED_LIMIT:
            _parsed_updates[expression_str] = tree
    return tree


class IdempotentParameterMismatchException(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "The request uses the same client token as a previous, but non-identical request.",
        )


class TransactionInProgressException(DynamodbException):
    def __init__(self) -> None:
        super().__init__(
            "com.amazonaws.dynamodb.v20120810#TransactionInProgressException",
            "The transaction with the given request token is already in progress.",
        )


TOKEN_SECONDS = 600  # DynamoDB's idempotency window for a transaction's ClientRequestToken
_original_transact: Callable[..., Any] = DynamoHandler.transact_write_items
# token -> (when first seen, hash of its TransactItems, its answer; None while it runs), oldest first
_tokens: OrderedDict[str, tuple[float, str, Any]] = OrderedDict()
_tokens_lock = threading.Lock()


def _idempotent_transact(self: DynamoHandler) -> Any:
    """moto's ``transact_write_items`` answer, once per ``ClientRequestToken`` within ``TOKEN_SECONDS``."""
    token = self.body.get("ClientRequestToken")
    if not token:
        return _original_transact(self)
    fingerprint = hashlib.sha256(json.dumps(self.body["TransactItems"], sort_keys=True).encode()).hexdigest()
    now = time.monotonic()
    with _tokens_lock:
        while _tokens and now - next(iter(_tokens.values()))[0] >= TOKEN_SECONDS:
            _tokens.popitem(last=False)
        seen = _tokens.get(token)
        if seen is not None:
            if seen[1] != fingerprint:
                raise IdempotentParameterMismatchException()
            if seen[2] is None:
                raise TransactionInProgressException()
            return seen[2]
        _tokens[token] = (now, fingerprint, None)
    try:
        answer = _original_transact(self)
    except BaseException:
        with _tokens_lock:  # not applied: a retry with this token is a new attempt
            _tokens.pop(token, None)
        raise
    with _tokens_lock:
        _tokens[token] = (now, fingerprint, answer)
    return answer


def install() -> None:
    """Apply the changes to moto's classes (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        DynamoHandler.transact_write_items = _idempotent_transact  # type: ignore[method-assign]
        DynamoDBBackend.update_item = _backend_update_item  # type: ignore[method-assign]
        Table.query = query  # type: ignore[method-assign]
        Table.put_item = _table_put_item  # type: ignore[method-assign]
        Table.delete_item = _table_delete_item  # type: ignore[method-assign]
        Node.__deepcopy__ = _copy_node
        DepthFirstTraverser.nodes_to_be_processed = _nodes_to_be_processed
        DepthFirstTraverser.process = _process
        UpdateExpressionParser.make = classmethod(_parsed_update)
        for name in ITEM_OPERATIONS:
            if hasattr(DynamoDBBackend, name):
                setattr(DynamoDBBackend, name, _serialized(getattr(DynamoDBBackend, name)))
        _installed = True
