"""What a function's policies in the template allow, held against the DynamoDB calls it really makes.

The local runtime does not enforce IAM. This module lets a run check what AWS would: each DynamoDB call a
function makes becomes the accesses IAM authorizes (one per item of a batch or a transaction: its action, its
table's or index's ARN, its partition key value), and each must be allowed by an Allow statement of the
function's policies in the template (inline statements, the managed policies it attaches, the SAM policy
templates on DynamoDB tables), with ``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys`` and the
``${aws:userid}`` variable evaluated as IAM does. :class:`DynamoDbCalls` records the calls during a run.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from localhub.aws.session_hooks import SessionHook
from localhub.template import LocalStack

LEADING_KEYS = "dynamodb:LeadingKeys"
# The SAM policy templates on a table, as SAM expands them (on the table and its indexes).
SAM_TABLE_TEMPLATES = {
    "DynamoDBCrudPolicy": (
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    ),
    "DynamoDBReadPolicy": ("dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:DescribeTable"),
}
# What each item of a transaction is authorized as.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


@dataclass(frozen=True)
class Access:
    """One authorization IAM makes for a DynamoDB call."""

    action: str
    resource: str  # the table's or the index's ARN
    leading_keys: tuple[str, ...]  # empty for a call that names no key (Scan)


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    leading_keys: tuple[str, ...] | None  # the ForAllValues:StringLike patterns, None without that condition

    def allows(self, access: Access, user_id: str) -> bool:
        if not any(fnmatch.fnmatchcase(access.action, a) for a in self.actions):
            return False
        if not any(fnmatch.fnmatchcase(access.resource, r) for r in self.resources):
            return False
        if self.leading_keys is None:
            return True
        patterns = [p.replace("${aws:userid}", user_id) for p in self.leading_keys]
        # ForAllValues: every key must match one pattern (a call naming no key passes, as on AWS)
        return all(any(_like(key, p) for p in patterns) for key in access.leading_keys)


def _like(value: str, pattern: str) -> bool:
    """IAM's StringLike: ``*`` any run of characters, ``?`` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _listed(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


def function_statements(stack: LocalStack, logical_id: str) -> list[Statement]:
    """The Allow statements of a function's policies, resolved to local ARNs."""
    properties = stack.template.resources[logical_id].get("Properties", {})
    found: list[Statement] = []
    for policy in properties.get("Policies", []):
        if not isinstance(policy, dict):
            continue
        if "Ref" in policy:
            raw = stack.template.resources[policy["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        elif "Statement" in policy:
            raw = policy["Statement"]
        else:
            ((name, args),) = policy.items()
            if name in SAM_TABLE_TEMPLATES:
                arn = stack.get_att(args["TableName"]["Ref"], "Arn")
                found.append(Statement(SAM_TABLE_TEMPLATES[name], (arn, f"{arn}/index/*"), None))
            continue
        for statement in stack.resolve(raw):
            if statement.get("Effect") != "Allow":
                continue
            condition = dict(statement.get("Condition", {}))
            like = condition.pop("ForAllValues:StringLike", {})
            if condition or set(like) - {LEADING_KEYS}:
                continue  # a condition this evaluator does not know never allows (it cannot be shown to)
            found.append(
                Statement(_listed(statement["Action"]), _listed(statement["Resource"]), _listed(like[LEADING_KEYS]) if like else None)
            )
    return found


def _string(value: dict[str, Any]) -> str:
    ((_, scalar),) = value.items()  # {"S": ...} or {"N": ...}: a partition key is a scalar
    return str(scalar)


@dataclass
class KeySchemas:
    """Each local table's and index's partition key attribute and ARN, from the template."""

    stack: LocalStack
    _tables: dict[str, str] = field(default_factory=dict)  # physical name -> logical id

    def __post_init__(self) -> None:
        for logical_id, _ in self.stack.template.of_type("AWS::DynamoDB::Table"):
            if logical_id in self.stack.physical:
                self._tables[self.stack.physical[logical_id].ref] = logical_id

    def arn(self, table: str, index: str | None = None) -> str:
        arn = self.stack.get_att(self._tables[table], "Arn")
        return f"{arn}/index/{index}" if index else arn

    def partition_key(self, table: str, index: str | None = None) -> str:
        props = self.stack.template.resources[self._tables[table]]["Properties"]
        schema = (
            props["KeySchema"]
            if index is None
            else next(i for i in props["GlobalSecondaryIndexes"] if i["IndexName"] == index)["KeySchema"]
        )
        return str(next(k["AttributeName"] for k in schema if k["KeyType"] == "HASH"))

    def accesses(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        """The authorizations IAM makes for one DynamoDB call (the request as sent, typed values)."""
        if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
            table = request["TableName"]
            item = request.get("Key") or request["Item"]
            yield Access(f"dynamodb:{operation}", self.arn(table), (_string(item[self.partition_key(table)]),))
        elif operation == "Query":
            table, index = request["TableName"], request.get("IndexName")
            yield Access("dynamodb:Query", self.arn(table, index), (self._queried_key(request, self.partition_key(table, index)),))
        elif operation == "Scan":
            yield Access("dynamodb:Scan", self.arn(request["TableName"], request.get("IndexName")), ())
        elif operation == "BatchGetItem":
            for table, wanted in request["RequestItems"].items():
                hash_key = self.partition_key(table)
                yield Access("dynamodb:BatchGetItem", self.arn(table), tuple(_string(k[hash_key]) for k in wanted["Keys"]))
        elif operation == "BatchWriteItem":
            for table, writes in request["RequestItems"].items():
                hash_key = self.partition_key(table)
                keys = [(w.get("PutRequest", {}).get("Item") or w["DeleteRequest"]["Key"])[hash_key] for w in writes]
                yield Access("dynamodb:BatchWriteItem", self.arn(table), tuple(_string(k) for k in keys))
        elif operation in ("TransactWriteItems", "TransactGetItems"):
            for entry in request["TransactItems"]:
                ((kind, part),) = entry.items()
                table = part["TableName"]
                item = part.get("Key") or part["Item"]
                yield Access(f"dynamodb:{TRANSACT_ACTIONS[kind]}", self.arn(table), (_string(item[self.partition_key(table)]),))
        else:
            yield Access(f"dynamodb:{operation}", self.arn(request["TableName"]) if "TableName" in request else "*", ())

    @staticmethod
    def _queried_key(request: dict[str, Any], attribute: str) -> str:
        names = {v: k for k, v in request.get("ExpressionAttributeNames", {}).items()}
        expression = request["KeyConditionExpression"]
        for left, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", expression):
            if names.get(attribute) == left or left == attribute:
                return _string(request["ExpressionAttributeValues"][placeholder])
        raise ValueError(f"no condition on {attribute} in {expression!r}")


@dataclass(frozen=True)
class Call:
    function: str  # the function's name (AWS_LAMBDA_FUNCTION_NAME while it ran)
    operation: str
    request: dict[str, Any]


class DynamoDbCalls(SessionHook):
    """Records the DynamoDB calls functions make through the library's boto3 session (a ``before-call``
    hook, as :mod:`localhub.aws.throttling`); the runtime's own calls are not recorded. Throttling the functions'
    calls (:meth:`LocalHub.throttle_aws`) starts a session of its own: the calls after it are not recorded."""

    event = "before-call.dynamodb"
    unique_id = "localhub-iam-calls"

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def _on_call(self, model: Any, **kwargs: Any) -> None:
        params: dict[str, Any] = kwargs["params"]
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if function is None:
            return
        body = params.get("body") or b"{}"
        request = json.loads(body.decode() if isinstance(body, bytes) else body)
        with self._lock:
            self.calls.append(Call(function, model.name, request))


def denied(stack: LocalStack, calls: list[Call], user_id: Callable[[], str]) -> list[str]:
    """Each recorded access the calling function's policies do not allow, described."""
    schemas = KeySchemas(stack)
    by_name = {spec.name: spec.logical_id for spec in stack.functions()}
    statements: dict[str, list[Statement]] = {}
    found: list[str] = []
    for call in calls:
        logical_id = by_name.get(call.function)
        if logical_id is None:  # not a function of this stack
            continue
        policies = statements.setdefault(logical_id, function_statements(stack, logical_id))
        for access in schemas.accesses(call.operation, call.request):
            if not any(s.allows(access, user_id()) for s in policies):
                found.append(f"{logical_id}: {access.action} on {access.resource} keys {list(access.leading_keys)}")
    return sorted(set(found))
