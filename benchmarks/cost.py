"""Cost per million messages on AWS, from the calls counted in :mod:`benchmarks.aws_calls`.

Prices: AWS on-demand list prices for eu-west-1 (Ireland), from each service's public
pricing page (aws.amazon.com/<service>/pricing); free tiers and volume tiers are ignored.
Change them here when the prices change.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from benchmarks.aws_calls import Call, Scenario, TableInfo

# ------------------------------------------------------------------ prices (USD, eu-west-1)
API_GATEWAY_HTTP_PER_REQUEST = 1.00 / 1e6  # HTTP API, first 300 M requests a month, per 512 KB
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334  # arm64
LAMBDA_PER_REQUEST = 0.20 / 1e6
DYNAMODB_PER_WRITE_UNIT = 1.4125 / 1e6  # on-demand write request unit (1 KB; 2 per item in a transaction)
DYNAMODB_PER_READ_UNIT = 0.283 / 1e6  # on-demand read request unit (4 KB strongly consistent, 2 reads eventually consistent)
SQS_FIFO_PER_REQUEST = 0.50 / 1e6  # FIFO queue, per request of up to 64 KB (a batch of 10 is one request)
KMS_PER_REQUEST = 0.03 / 10_000
CLOUDWATCH_LOGS_PER_GB = 0.57  # standard log class, ingestion

# ------------------------------------------------------------------ assumptions
LAMBDA_MEMORY_GB = 512 / 1024  # template.yaml Globals: MemorySize 512
CPU_SCALE = 3.0  # 512 MB buys about a third of a vCPU: CPU time measured on a full core x 3
AWS_CALL_MS = 8.0  # round trip of one AWS API call from Lambda, billed as duration
TARGET_CALL_MS = 50.0  # MDM's response time to one sync message (the target's, not the hub's)
PLATFORM_LOG_BYTES = 350  # Lambda's START, END and REPORT lines per invocation
# SQS calls KMS for a data key at most once per KmsDataKeyReusePeriodSeconds (3600 in the
# template) per queue and principal, and DynamoDB caches its table keys: at steady state KMS
# requests do not grow with messages. Without that reuse, each send and each receive would
# need one (the upper bound printed beside it).

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096


# ------------------------------------------------------------------ DynamoDB item size
def _number_size(text: str) -> int:
    digits = len(text.lstrip("-").replace(".", "").lstrip("0").rstrip("0")) or 1
    return (digits + 1) // 2 + 1


def typed_value_size(value: dict[str, Any]) -> int:
    """Size of an attribute value in DynamoDB's JSON (``{"S": ...}``) as DynamoDB counts it."""
    ((kind, content),) = value.items()
    if kind == "S":
        return len(str(content).encode())
    if kind == "N":
        return _number_size(str(content))
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + typed_value_size(v) for v in content)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + typed_value_size(v) for k, v in content.items())
    if kind == "SS":
        return sum(len(str(v).encode()) for v in content)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in content)
    return sum(len(v) for v in content)  # BS


def typed_item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + typed_value_size(value) for name, value in item.items())


def plain_value_size(value: Any) -> int:
    """The same for the Python values the boto3 resource takes and returns."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int | float | Decimal):
        return _number_size(str(value))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, list | tuple):
        return 3 + sum(1 + plain_value_size(v) for v in value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(str(k).encode()) + plain_value_size(v) for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sum(plain_value_size(v) for v in value)
    return len(str(value).encode())


def _key_value(value: Any) -> str:
    return str(value["S"]) if isinstance(value, dict) else str(value)


# ------------------------------------------------------------------ DynamoDB request units
@dataclass
class Units:
    write: float = 0.0
    read: float = 0.0

    def __iadd__(self, other: Units) -> Units:
        self.write += other.write
        self.read += other.read
        return self


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def _read_units(size: int) -> int:
    return max(1, math.ceil(size / READ_UNIT_BYTES))


def _index_writes_put(table: TableInfo, item: dict[str, Any]) -> int:
    return 1 if table.index_keys and table.index_keys[0] in item else 0


def _index_writes_update(table: TableInfo, expression: str) -> int:
    """An update that moves an item in an index deletes the old entry and writes the new one."""
    if not table.index_keys:
        return 0
    key = re.escape(table.index_keys[0])
    sets, _, removes = expression.partition(" REMOVE ")
    if re.search(rf"\b{key}\s*=", sets):
        return 2
    if re.search(rf"\b{key}\b", removes):
        return 1
    return 0


def dynamodb_units(call: Call, scenario: Scenario) -> Units:
    """Request units of one call: item sizes from the tables after the run (an upper bound
    for writes, whose items only grow); global secondary index writes at the standard rate."""
    op = call.operation.split(".", 1)[1]
    p = call.params
    tables = scenario.tables

    def size(table: str, key: dict[str, Any] | None) -> int:
        if not key:
            return 0
        info = tables[table]
        return scenario.item_sizes.get((table, _key_value(key[info.key])), 0)

    def write(table: str, key: dict[str, Any], *, put: dict[str, Any] | None, expression: str | None, transactional: bool) -> Units:
        info = tables[table]
        item_size = size(table, key) or (_request_item_size(put) if put else 0)
        units = _write_units(item_size) * (2 if transactional else 1)
        if put is not None:
            units += _index_writes_put(info, put)
        elif expression is not None:
            units += _index_writes_update(info, expression)
        return Units(write=units)

    if op == "PutItem":
        return write(p["TableName"], p["Item"], put=p["Item"], expression=None, transactional=False)
    if op == "UpdateItem":
        return write(p["TableName"], p["Key"], put=None, expression=p.get("UpdateExpression", ""), transactional=False)
    if op == "DeleteItem":
        return write(p["TableName"], p["Key"], put=None, expression=None, transactional=False)
    if op == "TransactWriteItems":
        total = Units()
        for entry in p["TransactItems"]:
            ((kind, body),) = entry.items()
            if kind == "Put":
                total += write(body["TableName"], body["Item"], put=body["Item"], expression=None, transactional=True)
            elif kind == "Update":
                total += write(body["TableName"], body["Key"], put=None, expression=body.get("UpdateExpression", ""), transactional=True)
            elif kind == "Delete":
                total += write(body["TableName"], body["Key"], put=None, expression=None, transactional=True)
            else:  # ConditionCheck: a transactional read
                total += Units(read=2 * _read_units(size(body["TableName"], body["Key"])))
        return total
    if op == "GetItem":
        factor = 1.0 if p.get("ConsistentRead") else 0.5
        return Units(read=factor * _read_units(size(p["TableName"], p["Key"])))
    if op == "BatchGetItem":
        total = Units()
        for table, request in p["RequestItems"].items():
            factor = 1.0 if request.get("ConsistentRead") else 0.5
            for key in request["Keys"]:  # a key that is not there is still read
                total += Units(read=factor * _read_units(size(table, key)))
        return total
    if op in ("Query", "Scan"):
        returned = sum(plain_value_size(item) - 3 for item in call.response.get("Items", []))
        factor = 1.0 if p.get("ConsistentRead") else 0.5
        return Units(read=factor * _read_units(returned))
    return Units()


_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"})


def _request_item_size(item: dict[str, Any]) -> int:
    """Size of an item as sent: DynamoDB JSON (low-level client) or Python values (resource)."""
    typed = all(isinstance(v, dict) and len(v) == 1 and next(iter(v)) in _TYPES for v in item.values())
    if typed:
        return typed_item_size(item)
    return sum(len(name.encode()) + plain_value_size(value) for name, value in item.items())


# ------------------------------------------------------------------ the model
@dataclass(frozen=True)
class CpuPerMessage:
    """CPU microseconds per message, measured on a full core (benchmarks 1 and 3)."""

    intake: float
    render: float


@dataclass(frozen=True)
class Cost:
    """Dollars per message by service, and what they were computed from."""

    by_service: dict[str, float]
    dynamodb_units: Units
    write_units_by_function: dict[str, float]
    lambda_ms: dict[str, float]
    kms_without_reuse: float

    @property
    def total(self) -> float:
        return sum(self.by_service.values())


def _per_message(calls: Iterable[Call], messages: int, *operations: str) -> float:
    return sum(1 for c in calls if c.label in operations) / messages


def cost_per_message(scenario: Scenario, cpu: CpuPerMessage, *, api_function: str, delivery_function: str) -> Cost:
    n = scenario.messages
    calls = scenario.calls

    units = Units()
    write_units_by_function: dict[str, float] = {}
    for call in calls:
        if call.operation.startswith("dynamodb."):
            used = dynamodb_units(call, scenario)
            units += used
            write_units_by_function[call.function] = write_units_by_function.get(call.function, 0.0) + used.write / n
    dynamodb = (units.write * DYNAMODB_PER_WRITE_UNIT + units.read * DYNAMODB_PER_READ_UNIT) / n

    sqs_requests = _per_message(
        calls, n, "sqs.SendMessageBatch", "sqs.SendMessage", "sqs.ReceiveMessage", "sqs.DeleteMessageBatch", "sqs.DeleteMessage"
    )
    sqs = sqs_requests * SQS_FIFO_PER_REQUEST

    api_requests = scenario.invocations[api_function] / n
    api_gateway = api_requests * API_GATEWAY_HTTP_PER_REQUEST

    # Lambda duration per message: CPU (scaled to 512 MB) + the wait on every AWS call + the target's answer
    lambda_ms: dict[str, float] = {}
    for function in scenario.invocations:
        aws_calls = sum(1 for c in calls if c.function == function) / n
        ms = aws_calls * AWS_CALL_MS
        if function == api_function:
            ms += CPU_SCALE * cpu.intake / 1000
        if function == delivery_function:
            ms += CPU_SCALE * cpu.render / 1000 + TARGET_CALL_MS
        lambda_ms[function] = ms
    invocations_per_message = sum(scenario.invocations.values()) / n
    lambda_cost = (
        invocations_per_message * LAMBDA_PER_REQUEST + sum(lambda_ms.values()) / 1000 * LAMBDA_MEMORY_GB * LAMBDA_ARM_PER_GB_SECOND
    )

    log_bytes = scenario.log_bytes / n + invocations_per_message * PLATFORM_LOG_BYTES
    logs = log_bytes / 1e9 * CLOUDWATCH_LOGS_PER_GB

    kms_upper = _per_message(calls, n, "sqs.SendMessageBatch", "sqs.SendMessage", "sqs.ReceiveMessage") * KMS_PER_REQUEST
    return Cost(
        by_service={
            "API Gateway (HTTP API)": api_gateway,
            "Lambda (requests + duration)": lambda_cost,
            "DynamoDB (on-demand)": dynamodb,
            "SQS FIFO": sqs,
            "KMS (data key reuse)": 0.0,
            "CloudWatch Logs (ingestion)": logs,
        },
        dynamodb_units=Units(units.write / n, units.read / n),
        write_units_by_function=write_units_by_function,
        lambda_ms=lambda_ms,
        kms_without_reuse=kms_upper,
    )
