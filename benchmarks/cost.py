"""Cost per million messages on AWS, from the calls counted in :mod:`benchmarks.aws_calls`.

Prices: AWS on-demand list prices for us-east-1 (US East, N. Virginia), each a :class:`Price` with
the page it is from and the date that page was read; free tiers, volume tiers and savings plans are
ignored. The pricing pages render their rate tables in the browser, so where the stored copy of a page
shows no figure, the note says where the figure was checked. When a price changes, change it here,
with the date it was read again (``tests/unit/test_bench_cost.py`` fails on a price without both).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from benchmarks.aws_calls import Call, Scenario, TableInfo


@dataclass(frozen=True)
class Price:
    """One list price: ``usd`` per ``unit``, the page it is published on and the day it was read."""

    usd: float
    unit: str
    source: str  # the page's address
    read: str  # ISO date the page was read
    note: str = ""  # where the figure was checked when the page's copy does not show it; the page's age


REGION = "us-east-1"
READ = "2026-12-07"
NO_FIGURE = "the stored copy of the page renders its rate table client-side and shows no figure; "

# ------------------------------------------------------------------ prices (USD, us-east-1)
API_GATEWAY_HTTP_PER_REQUEST = Price(
    1.00 / 1e6,
    "HTTP API request (first 300 million a month; each 512 KB counts as one)",
    "https://aws.amazon.com/api-gateway/pricing/",
    READ,
    NO_FIGURE + "$1.00 per million is the page's own worked example for US regions",
)
LAMBDA_ARM_PER_GB_SECOND = Price(
    0.0000133334,
    "GB-second of an arm64 function (first 7.5 billion GB-seconds a month)",
    "https://aws.amazon.com/lambda/pricing/",
    READ,
    NO_FIGURE + "figure as the page's us-east-1 arm64 table quoted by cloudchipr.com/blog/aws-lambda-pricing (2024)",
)
LAMBDA_PER_REQUEST = Price(
    0.20 / 1e6,
    "Lambda request (invocation)",
    "https://aws.amazon.com/lambda/pricing/",
    READ,
    NO_FIGURE + "$0.20 per million is stated in the page's Managed Instances section and pricing examples",
)
SQS_STANDARD_PER_REQUEST = Price(
    0.40 / 1e6,
    "standard queue request of up to 64 KB (a batch of up to 10 messages is one; first 100 billion a month)",
    "https://aws.amazon.com/sqs/pricing/",
    READ,
    NO_FIGURE + "figure as cloudburn.io/blog/amazon-sqs-pricing (us-east-1, March 2026)",
)
SQS_FIFO_PER_REQUEST = Price(
    0.50 / 1e6,
    "FIFO queue request of up to 64 KB (a batch of up to 10 messages is one)",
    "https://aws.amazon.com/sqs/pricing/",
    READ,
    NO_FIGURE + "figure as cloudburn.io/blog/amazon-sqs-pricing (us-east-1, March 2026)",
)
DYNAMODB_PER_WRITE_UNIT = Price(
    0.625 / 1e6,
    "on-demand write request unit (1 KB; 2 per item in a transaction)",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    READ,
    "halved on 1 November 2024 (from $1.25; eu-west-1 from $1.4125); the AWS News Blog post 'Amazon DynamoDB On-Demand' "
    "was updated on 31 January 2025 for the reduced price. "
    + NO_FIGURE
    + "figure as airbyte.com/data-engineering-resources/dynamodb-pricing (US East, July 2025)",
)
DYNAMODB_PER_READ_UNIT = Price(
    0.125 / 1e6,
    "on-demand read request unit (4 KB strongly consistent; 2 reads eventually consistent)",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    READ,
    "halved on 1 November 2024 (from $0.25). " + NO_FIGURE + "figure as airbyte.com (US East, July 2025)",
)
STEP_FUNCTIONS_STANDARD_PER_TRANSITION = Price(
    0.025 / 1000,
    "Standard workflow state transition (retries included)",
    "https://aws.amazon.com/step-functions/pricing/",
    READ,
    "the page's table: US East (N. Virginia) $0.0250 per 1,000 (Europe (Ireland) the same); the stored copy is undated",
)
STEP_FUNCTIONS_EXPRESS_PER_REQUEST = Price(
    1.00 / 1e6,
    "Express workflow request (execution started)",
    "https://aws.amazon.com/step-functions/pricing/",
    READ,
    NO_FIGURE + "figure as wring.co/blog/aws-step-functions-pricing-guide (March 2026)",
)
STEP_FUNCTIONS_EXPRESS_PER_GB_SECOND = Price(
    0.00001667,
    "GB-second of an Express workflow (first 1,000 GB-hours a month; 64 MB chunks, rounded up to 100 ms)",
    "https://aws.amazon.com/step-functions/pricing/",
    READ,
    NO_FIGURE + "figure as wring.co/blog/aws-step-functions-pricing-guide (March 2026)",
)
S3_WRITE_PER_REQUEST = Price(
    0.005 / 1000,
    "S3 Standard PUT, COPY, POST or LIST request",
    "https://aws.amazon.com/s3/pricing/",
    READ,
    NO_FIGURE + "figure as cloudburn.io/blog/amazon-s3-pricing (us-east-1, March 2026)",
)
S3_READ_PER_REQUEST = Price(
    0.0004 / 1000,
    "S3 Standard GET, SELECT or other request",
    "https://aws.amazon.com/s3/pricing/",
    READ,
    NO_FIGURE + "figure as cloudburn.io/blog/amazon-s3-pricing (us-east-1, March 2026)",
)
S3_STANDARD_PER_GB_MONTH = Price(
    0.023,
    "GB-month of S3 Standard storage (first 50 TB)",
    "https://aws.amazon.com/s3/pricing/",
    READ,
    NO_FIGURE + "figure as cloudburn.io/blog/amazon-s3-pricing (us-east-1, March 2026)",
)
KMS_PER_REQUEST = Price(
    0.03 / 10_000,
    "KMS request to a symmetric key",
    "https://aws.amazon.com/kms/pricing/",
    READ,
    NO_FIGURE + "figure as factualminds.com/blog/aws-kms-pricing-keys-requests-multi-region (us-east-1, June 2026)",
)
CLOUDWATCH_LOGS_PER_GB = Price(
    0.50,
    "GB ingested into CloudWatch Logs, standard log class",
    "https://aws.amazon.com/cloudwatch/pricing/",
    READ,
    NO_FIGURE + "figure as cloudburn.io/blog/amazon-cloudwatch-pricing (us-east-1, February 2026); eu-west-1 is $0.57",
)
SECRETS_MANAGER_PER_API_CALL = Price(
    0.05 / 10_000,
    "Secrets Manager API call",
    "https://aws.amazon.com/secrets-manager/pricing/",
    READ,
    "the page's pricing examples state $0.05 per 10,000 API calls",
)
SECRETS_MANAGER_PER_SECRET_MONTH = Price(
    0.40,
    "secret stored for a month",
    "https://aws.amazon.com/secrets-manager/pricing/",
    READ,
    "the page's pricing examples state $0.40 per secret per month",
)
# What the hub replaces: Oracle Integration Cloud, which the seeds name as the middleware of these integrations.
OIC_STANDARD_PER_MESSAGE_PACK_HOUR = Price(
    0.6452,
    "Oracle Integration Cloud Standard message pack (5,000 messages of up to 50 KB an hour) for an hour",
    "https://www.oracle.com/integration/pricing/",
    READ,
    "the Oracle page was not in the stored copies; the figure is the unit price in techsupper.com's 2021 table "
    "(www.techsupper.com/2021/07/oracle-integration-message-packs-and-pricing.html), an old source",
)
OIC_PACK_MESSAGES = 5_000

# ------------------------------------------------------------------ assumptions
LAMBDA_MEMORY_GB = 512 / 1024  # template.yaml Globals: MemorySize 512
CPU_SCALE = 3.0  # 512 MB buys about a third of a vCPU: CPU time measured on a full core x 3
AWS_CALL_MS = 8.0  # round trip of one AWS API call from Lambda, billed as duration
TARGET_CALL_MS = 50.0  # MDM's response time to one sync message (the target's, not the hub's)
LAMBDA_MINIMUM_MS = 1.0  # Lambda bills duration in 1 ms steps: the least an invocation costs
PLATFORM_LOG_BYTES = 350  # Lambda's START, END and REPORT lines per invocation
SQS_BATCH = 10  # messages in one send, receive or delete at most
# SQS calls KMS for a data key at most once per KmsDataKeyReusePeriodSeconds (3600 in the
# template) per queue and principal, and DynamoDB caches its table keys: at steady state KMS
# requests do not grow with messages. Without that reuse, each send and each receive would
# need one (the upper bound printed beside it).


def prices() -> dict[str, Price]:
    """Every price this module holds, by constant name."""
    return {name: value for name, value in globals().items() if isinstance(value, Price)}


def oic_per_message() -> float:
    """Oracle Integration Cloud Standard per message at full use of its packs (every hour's 5,000 used)."""
    return OIC_STANDARD_PER_MESSAGE_PACK_HOUR.usd / OIC_PACK_MESSAGES


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


def item_key(table: TableInfo, key: dict[str, Any]) -> str:
    """An item's key as one string: its hash value, then ``#`` and its range value when the table has one."""
    value = _key_value(key[table.key])
    if table.sort_key and table.sort_key in key:
        return f"{value}#{_key_value(key[table.sort_key])}"
    return value


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


def _indexes(table: TableInfo) -> tuple[tuple[str, ...], ...]:
    """Each global secondary index's key attributes (a table described without them: its first index key alone)."""
    if table.indexes:
        return table.indexes
    return ((table.index_keys[0],),) if table.index_keys else ()


def _index_writes_put(table: TableInfo, item: dict[str, Any]) -> int:
    """One write per index the item enters (a sparse index holds only items with its key)."""
    return sum(1 for keys in _indexes(table) if keys[0] in item)


def _index_writes_update(table: TableInfo, expression: str, names: dict[str, str] | None = None, *, new_item: bool = False) -> int:
    """An update that changes an index's key (hash or range) deletes the old entry and writes the new one, 2 writes,
    or 1 when the item is new (it only enters); removing the index's hash key deletes its entry, 1 write. An update
    that leaves the index's keys as they are is counted as no index write (its projected attributes may still change:
    1 write each, not counted; the indexes here project a few attributes that change with their keys)."""
    names = names or {}
    sets, _, removes = f" {expression}".partition(" REMOVE ")  # an expression may start with its REMOVE clause

    def assigned(text: str) -> set[str]:
        # ``a = if_not_exists(a, :v)`` keeps a value that is there: an index keyed on it is not moved (counted as kept)
        found = {name for name, kept in re.findall(r"([#\w]+)\s*=\s*(if_not_exists\()?", text) if not kept}
        return {names.get(name, name) for name in found}

    def removed(text: str) -> set[str]:
        return {names.get(name.strip(), name.strip()) for name in text.split(",") if name.strip()}

    set_names, removed_names = assigned(sets), removed(removes)
    total = 0
    for keys in _indexes(table):
        if set_names & set(keys):
            total += 1 if new_item else 2
        elif keys[0] in removed_names:
            total += 1
    return total


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
        return scenario.item_sizes.get((table, item_key(info, key)), 0)

    def write(
        table: str,
        key: dict[str, Any],
        *,
        put: dict[str, Any] | None,
        expression: str | None,
        transactional: bool,
        names: dict[str, str] | None = None,
        new_item: bool = False,
    ) -> Units:
        info = tables[table]
        item_size = size(table, key) or (_request_item_size(put) if put else 0)
        units = _write_units(item_size) * (2 if transactional else 1)
        if put is not None:
            units += _index_writes_put(info, put)
        elif expression is not None:
            units += _index_writes_update(info, expression, names, new_item=new_item)
        return Units(write=units)

    if op == "PutItem":
        return write(p["TableName"], p["Item"], put=p["Item"], expression=None, transactional=False)
    if op == "UpdateItem":
        # an update returning the old item tells whether there was one: a new item only enters its indexes
        new_item = p.get("ReturnValues") == "ALL_OLD" and not call.response.get("Attributes")
        return write(
            p["TableName"],
            p["Key"],
            put=None,
            expression=p.get("UpdateExpression", ""),
            transactional=False,
            names=p.get("ExpressionAttributeNames"),
            new_item=new_item,
        )
    if op == "DeleteItem":
        return write(p["TableName"], p["Key"], put=None, expression=None, transactional=False)
    if op == "BatchWriteItem":
        total = Units()
        for table, requests in p["RequestItems"].items():
            for request in requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    total += write(table, item, put=item, expression=None, transactional=False)
                else:
                    total += write(table, request["DeleteRequest"]["Key"], put=None, expression=None, transactional=False)
        return total
    if op == "TransactWriteItems":
        total = Units()
        for entry in p["TransactItems"]:
            ((kind, body),) = entry.items()
            if kind == "Put":
                total += write(body["TableName"], body["Item"], put=body["Item"], expression=None, transactional=True)
            elif kind == "Update":
                total += write(
                    body["TableName"],
                    body["Key"],
                    put=None,
                    expression=body.get("UpdateExpression", ""),
                    transactional=True,
                    names=body.get("ExpressionAttributeNames"),
                )
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


SQS_REQUESTS = ("sqs.SendMessageBatch", "sqs.SendMessage", "sqs.ReceiveMessage", "sqs.DeleteMessageBatch", "sqs.DeleteMessage")
S3_WRITES = ("PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload", "ListObjectsV2")


def is_fifo(call: Call) -> bool:
    return str(call.params.get("QueueUrl", "")).endswith(".fifo")


def _sqs_cost(calls: Iterable[Call]) -> float:
    """SQS requests at each queue's own rate (FIFO or standard), empty long polls left out."""
    return sum(
        (SQS_FIFO_PER_REQUEST if is_fifo(c) else SQS_STANDARD_PER_REQUEST).usd
        for c in calls
        if c.label in SQS_REQUESTS  # "sqs.ReceiveMessage (empty)" is a fixed cost of the poller, not one per message
    )


def _lambda_cost(invocations: float, milliseconds: float) -> float:
    return invocations * LAMBDA_PER_REQUEST.usd + milliseconds / 1000 * LAMBDA_MEMORY_GB * LAMBDA_ARM_PER_GB_SECOND.usd


def _other_calls_cost(calls: Iterable[Call]) -> float:
    """S3, Secrets Manager and KMS requests the functions made themselves."""
    total = 0.0
    for call in calls:
        service, _, operation = call.operation.partition(".")
        if service == "s3":
            total += (S3_WRITE_PER_REQUEST if operation in S3_WRITES else S3_READ_PER_REQUEST).usd
        elif service == "secretsmanager":
            total += SECRETS_MANAGER_PER_API_CALL.usd
        elif service == "kms":
            total += KMS_PER_REQUEST.usd
        elif service == "stepfunctions" and operation == "StartExecution":
            total += STEP_FUNCTIONS_EXPRESS_PER_REQUEST.usd  # the least an execution costs; transitions are not counted here
    return total


def write_units_by_table(scenario: Scenario) -> dict[tuple[str, str, str], float]:
    """DynamoDB write units per message by (function, operation, table): where the writes go."""
    found: dict[tuple[str, str, str], float] = {}
    for call in scenario.calls:
        if not call.operation.startswith("dynamodb."):
            continue
        p = call.params
        op = call.operation.split(".", 1)[1]
        parts: list[tuple[str, Call]] = []
        if op == "TransactWriteItems":
            for entry in p["TransactItems"]:
                table = next(iter(entry.values()))["TableName"]
                parts.append((table, dataclasses.replace(call, params={"TransactItems": [entry]})))
        elif op == "BatchWriteItem":
            for table, requests in p["RequestItems"].items():
                parts.append((table, dataclasses.replace(call, params={"RequestItems": {table: requests}})))
        elif "TableName" in p:
            parts.append((p["TableName"], call))
        for table, part in parts:
            units = dynamodb_units(part, scenario).write
            if units:
                key = (call.function, op, logical_table(table))
                found[key] = found.get(key, 0.0) + units / scenario.messages
    return found


def logical_table(table: str) -> str:
    """A table's name without the stack's prefix and suffix the local hub gives it (``utilhub-JournalTable-AB12``)."""
    parts = table.split("-")
    return next((part for part in parts if part.endswith("Table")), table)


def write_breakdown_table(scenario: Scenario) -> str:
    """:func:`write_units_by_table` as a table, the largest first."""
    from benchmarks.common import figure, format_table

    rows = [
        [function, operation, table, figure(units)]
        for (function, operation, table), units in sorted(write_units_by_table(scenario).items(), key=lambda kv: -kv[1])
    ]
    return format_table(["function", "operation", "table", "write units / msg"], rows, right={3})


def _api_requests(scenario: Scenario, api_function: str, also: tuple[str, ...]) -> float:
    """API requests: the invocations of the functions behind the point's routes (its intake, and ``also``)."""
    return float(sum(scenario.invocations.get(function, 0) for function in (api_function, *also)))


def cost_per_message(
    scenario: Scenario, cpu: CpuPerMessage, *, api_function: str, delivery_function: str, also_api: tuple[str, ...] = ()
) -> Cost:
    n = scenario.messages
    calls = scenario.calls

    units = Units()
    write_units_by_function: dict[str, float] = {}
    for call in calls:
        if call.operation.startswith("dynamodb."):
            used = dynamodb_units(call, scenario)
            units += used
            write_units_by_function[call.function] = write_units_by_function.get(call.function, 0.0) + used.write / n
    dynamodb = (units.write * DYNAMODB_PER_WRITE_UNIT.usd + units.read * DYNAMODB_PER_READ_UNIT.usd) / n

    api_requests = _api_requests(scenario, api_function, also_api) / n
    api_gateway = api_requests * API_GATEWAY_HTTP_PER_REQUEST.usd

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

    log_bytes = scenario.log_bytes / n + invocations_per_message * PLATFORM_LOG_BYTES
    kms_upper = _per_message(calls, n, "sqs.SendMessageBatch", "sqs.SendMessage", "sqs.ReceiveMessage") * KMS_PER_REQUEST.usd
    return Cost(
        by_service={
            "API Gateway (HTTP API)": api_gateway,
            "Lambda (requests + duration)": _lambda_cost(invocations_per_message, sum(lambda_ms.values())),
            "DynamoDB (on-demand)": dynamodb,
            "SQS (FIFO or standard, by queue)": _sqs_cost(calls) / n,
            # a Standard workflow's start is billed as its transitions, counted below: no Express request then
            "S3, Secrets Manager, KMS calls": _other_calls_cost(
                c for c in calls if not (scenario.transitions and c.operation == "stepfunctions.StartExecution")
            )
            / n,
            "Step Functions (Standard transitions)": scenario.transitions / n * STEP_FUNCTIONS_STANDARD_PER_TRANSITION.usd,
            "CloudWatch Logs (ingestion)": log_bytes / 1e9 * CLOUDWATCH_LOGS_PER_GB.usd,
        },
        dynamodb_units=Units(units.write / n, units.read / n),
        write_units_by_function=write_units_by_function,
        lambda_ms=lambda_ms,
        kms_without_reuse=kms_upper,
    )


# ------------------------------------------------------------------ the floor
@dataclass(frozen=True)
class Floor:
    """What the architecture cannot avoid per message, priced as :func:`cost_per_message` prices the hub.

    - the API requests the callers make (one per post; a batch is one);
    - the function invocations the run made, each at its least billed duration (1 ms), and the delivery's
      wait for the target's answer;
    - per queue a message passes through, one send, one receive and one delete in full batches of 10;
    - per state the message's lifecycle records (its ``history``), one single-unit write; nothing read;
    - Lambda's own START, END and REPORT log lines.
    """

    by_service: dict[str, float]
    queue_hops: float
    lifecycle_writes: float

    @property
    def total(self) -> float:
        return sum(self.by_service.values())


def _queue_hops(calls: Iterable[Call]) -> tuple[float, float]:
    """(messages sent to FIFO queues, to standard queues), counted from the sends."""
    fifo = standard = 0.0
    for call in calls:
        if call.operation == "sqs.SendMessageBatch":
            sent = len(call.params.get("Entries", []))
        elif call.operation == "sqs.SendMessage":
            sent = 1
        else:
            continue
        if is_fifo(call):
            fifo += sent
        else:
            standard += sent
    return fifo, standard


def lifecycle_writes(scenario: Scenario) -> int:
    """States recorded in the ``history`` of every item the scenario wrote (each one write at the least)."""
    written: set[tuple[str, str]] = set()
    for call in scenario.calls:
        if not call.operation.startswith("dynamodb."):
            continue
        p = call.params
        entries = [next(iter(e.values())) for e in p.get("TransactItems", [])] or [p]
        for body in entries:
            table, key = body.get("TableName"), body.get("Key") or body.get("Item")
            if table in scenario.tables and key:
                written.add((table, item_key(scenario.tables[table], key)))
    return sum(scenario.history_lengths.get(item, 0) for item in written)


def floor_per_message(scenario: Scenario, *, api_function: str, delivery_function: str, also_api: tuple[str, ...] = ()) -> Floor:
    n = scenario.messages
    invocations = sum(scenario.invocations.values()) / n
    deliveries = scenario.invocations.get(delivery_function, 0) / n
    fifo, standard = _queue_hops(scenario.calls)
    sqs = 3 / SQS_BATCH * (fifo * SQS_FIFO_PER_REQUEST.usd + standard * SQS_STANDARD_PER_REQUEST.usd) / n
    writes = lifecycle_writes(scenario) / n
    target_wait_ms = TARGET_CALL_MS if deliveries else 0.0
    return Floor(
        by_service={
            "API Gateway (HTTP API)": _api_requests(scenario, api_function, also_api) / n * API_GATEWAY_HTTP_PER_REQUEST.usd,
            "Lambda (requests + duration)": _lambda_cost(invocations, invocations * LAMBDA_MINIMUM_MS + target_wait_ms),
            "DynamoDB (on-demand)": writes * DYNAMODB_PER_WRITE_UNIT.usd,
            "SQS (FIFO or standard, by queue)": sqs,
            # a Standard workflow's task states are the point's steps: one transition each
            "Step Functions (Standard transitions)": scenario.task_transitions / n * STEP_FUNCTIONS_STANDARD_PER_TRANSITION.usd,
            "CloudWatch Logs (ingestion)": invocations * PLATFORM_LOG_BYTES / 1e9 * CLOUDWATCH_LOGS_PER_GB.usd,
        },
        queue_hops=(fifo + standard) / n,
        lifecycle_writes=writes,
    )


@dataclass(frozen=True)
class PointFigures:
    """One integration point's line of ``make bench``'s per-point table (per message; USD per million)."""

    point: str
    aws_calls: float  # the functions' calls and Lambda's SQS poller's (empty polls left out)
    write_units: float
    read_units: float
    usd_per_million: float
    floor_usd_per_million: float
    oic_usd_per_million: float

    @property
    def ratio(self) -> float:
        return self.usd_per_million / self.floor_usd_per_million if self.floor_usd_per_million else math.inf


def point_figures(point: str, scenario: Scenario, cost: Cost, floor: Floor) -> PointFigures:
    calls = sum(1 for c in scenario.calls if c.label != "sqs.ReceiveMessage (empty)") / scenario.messages
    return PointFigures(
        point,
        calls,
        cost.dynamodb_units.write,
        cost.dynamodb_units.read,
        cost.total * 1e6,
        floor.total * 1e6,
        oic_per_message() * 1e6,
    )
