"""What a function's policies in the template allow, held against every AWS call it really makes.

The local runtime does not enforce IAM. This module lets a run check what AWS would: each call a function makes
through the library's boto3 session (:class:`AwsCalls` records them during a run) becomes the authorizations IAM makes
for it, an action on a resource ARN resolved from the call's parameters and the stack's physical resources, and each
must be allowed by an Allow statement of the function's policies in the template: its inline statements, the managed
policies it attaches, the SAM policy templates (expanded from samtranslator's own ``policy_templates.json``), and the
AWS managed policy SAM attaches for an SQS event source.

- DynamoDB: one authorization per item of a batch or a transaction (its action, its table's or index's ARN, its
  partition key value), with ``ForAllValues:StringLike`` on ``dynamodb:LeadingKeys`` and the ``${aws:userid}``
  variable evaluated as IAM does.
- SQS (``QueueUrl`` → the queue's ARN; a batch is authorized as its single action; a dead-letter queue's redrive
  as SQS authorizes it: the task, a receive and a delete on the dead-letter queue, a send to each queue whose redrive
  policy names it, or to ``DestinationArn``), Step Functions
  (``stateMachineArn``, ``executionArn``), S3 (``arn:aws:s3:::bucket/key`` for an object, the bucket's ARN for a
  listing; a presigned URL or POST is authorized as the call it signs, with the signer's role), Secrets Manager (``SecretId``),
  SSM (``parameter`` + the name), KMS (``KeyId``: a key id, key ARN or alias, as the key's ARN).
- The KMS use a call implies: sending to a queue encrypted with a key of the stack needs ``kms:GenerateDataKey`` and
  ``kms:Decrypt`` on it, receiving ``kms:Decrypt``; writing an object to a bucket whose default encryption is such a
  key ``kms:GenerateDataKey`` (and ``kms:Decrypt`` for a multipart upload), reading it ``kms:Decrypt``; reading a
  secret encrypted with such a key ``kms:Decrypt``. The KMS use of DynamoDB on a table encrypted with a customer
  managed key is DynamoDB's own (through its grant), not the caller's, and is not counted.
- ``sts:GetCallerIdentity`` needs no permission. A ``kms:Decrypt`` without ``KeyId`` names its key only inside the
  ciphertext: the key is read from moto's ciphertext (its key id first), which AWS reads from its own; a ciphertext
  that names no key of the stack is refused. An operation this module has no model of is refused, named as such,
  never let through.

Not counted: what Lambda does for the function (the SQS event source's receive and delete, its logs and traces) and
what the runtime itself does (its pollers, the tests' clients). A statement with a condition this evaluator does not
know never allows (it cannot be shown to), nor does a managed policy given by its ARN alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote, urlparse

from localhub.aws.session_hooks import SessionHook
from localhub.template import LocalStack

LEADING_KEYS = "dynamodb:LeadingKeys"
# What each item of a transaction is authorized as.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
# The AWS managed policy SAM attaches to the role of a function with an SQS event (samtranslator's
# ``eventsources/pull.py``, ``SQS.get_policy_arn``); its document, as AWS publishes it (Resource "*").
SQS_EVENT_POLICY = "service-role/AWSLambdaSQSQueueExecutionRole"
AWS_MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    SQS_EVENT_POLICY: [
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ]
}
# The IAM action prefix of each service a function calls (botocore's service name -> IAM's).
IAM_PREFIX = {
    "dynamodb": "dynamodb",
    "sqs": "sqs",
    "stepfunctions": "states",
    "s3": "s3",
    "secretsmanager": "secretsmanager",
    "ssm": "ssm",
    "kms": "kms",
    "sts": "sts",
}
# The calls IAM authorizes as another action: a batch as its single action, S3's calls as the object actions.
SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
S3_OBJECT_ACTIONS = {
    "GetObject": "GetObject",
    "HeadObject": "GetObject",
    "PutObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "ListParts": "ListMultipartUploadParts",
    "DeleteObject": "DeleteObject",
    "GetObjectTagging": "GetObjectTagging",
    "PutObjectTagging": "PutObjectTagging",
}
S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "GetBucketLocation": "GetBucketLocation",
}
S3_WRITES_WITH_DATA_KEY = {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject", "UploadPartCopy"}
S3_MULTIPART = {"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "UploadPartCopy"}
# The request context of a presigned POST, kept in its recorded request (its key is written there after the call is seen).
PRESIGNED_POST = "PresignedPostContext"
# Calls IAM authorizes without a permission.
UNAUTHORIZED = {("sts", "GetCallerIdentity")}


@dataclass(frozen=True)
class Access:
    """One authorization IAM makes for a call."""

    action: str
    resource: str  # an ARN, or "*" for an action that takes no resource
    leading_keys: tuple[str, ...] = ()  # DynamoDB: the partition key values (empty for a call that names no key)


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    leading_keys: tuple[str, ...] | None  # the ForAllValues:StringLike patterns, None without that condition

    def allows(self, access: Access, user_id: str) -> bool:
        if not any(_like(access.action.lower(), a.lower()) for a in self.actions):
            return False
        if not any(_like(access.resource, r) for r in self.resources):
            return False
        if self.leading_keys is None:
            return True
        patterns = [p.replace("${aws:userid}", user_id) for p in self.leading_keys]
        # ForAllValues: every key must match one pattern (a call naming no key passes, as on AWS)
        return all(any(_like(key, p) for p in patterns) for key in access.leading_keys)


def _like(value: str, pattern: str) -> bool:
    """IAM's StringLike (and its matching of actions and resources): ``*`` any run of characters, ``?`` one character,
    nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _listed(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


@cache
def _sam_templates() -> Any:
    """samtranslator's policy templates (its ``policy_templates.json``), as SAM expands them on deploy."""
    from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor

    return PolicyTemplatesProcessor(PolicyTemplatesProcessor.get_default_policy_templates_json())


def _documents(stack: LocalStack, logical_id: str) -> Iterator[list[dict[str, Any]]]:
    """The statements of each policy of a function's role, as SAM builds it, unresolved."""
    properties = stack.template.resources[logical_id].get("Properties", {})
    policies = properties.get("Policies", [])
    for policy in policies if isinstance(policies, list) else [policies]:
        if isinstance(policy, str):
            if policy in AWS_MANAGED_POLICIES:
                yield AWS_MANAGED_POLICIES[policy]
            continue  # a managed policy by its ARN: its document is not in the template
        if "Ref" in policy:
            yield stack.template.resources[policy["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        elif "Statement" in policy:
            statements = policy["Statement"]
            yield statements if isinstance(statements, list) else [statements]
        else:
            ((name, args),) = policy.items()
            yield _sam_templates().convert(name, args)["Statement"]
    if any(event.get("Type") == "SQS" for event in properties.get("Events", {}).values()):
        yield AWS_MANAGED_POLICIES[SQS_EVENT_POLICY]


def function_statements(stack: LocalStack, logical_id: str) -> list[Statement]:
    """The Allow statements of a function's policies, resolved to local ARNs."""
    found: list[Statement] = []
    for raw in _documents(stack, logical_id):
        for statement in stack.resolve(raw):
            if statement.get("Effect") != "Allow" or "Action" not in statement or "Resource" not in statement:
                continue  # NotAction, NotResource: never shown to allow
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


@dataclass
class Resources:
    """The stack's resources a call names, by their physical names: queues by URL, buckets, secrets, keys."""

    stack: LocalStack
    _by_ref: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, physical ref) -> logical id
    _keys_by_id: dict[str, str] = field(default_factory=dict)  # key id -> key ARN
    _aliases: dict[str, str] = field(default_factory=dict)  # alias name -> key id

    def __post_init__(self) -> None:
        for logical_id, physical in self.stack.physical.items():
            kind = self.stack.template.resources.get(logical_id, {}).get("Type", "")
            self._by_ref[(kind, physical.ref)] = logical_id
            if kind == "AWS::KMS::Key":
                self._keys_by_id[physical.ref] = physical.attributes["Arn"]
        for logical_id, resource in self.stack.template.of_type("AWS::KMS::Alias"):
            if logical_id in self.stack.physical:
                target = str(self.stack.resolve(resource["Properties"]["TargetKeyId"]))
                self._aliases[str(self.stack.resolve(resource["Properties"]["AliasName"]))] = target.rsplit("/", 1)[-1]

    def _props(self, kind: str, ref: str) -> dict[str, Any]:
        logical_id = self._by_ref.get((kind, ref))
        return self.stack.template.resources[logical_id].get("Properties", {}) if logical_id else {}

    def key_arn(self, key: str | None) -> str | None:
        """A key of the stack (an id, ARN, alias or alias ARN) as its ARN; None for one the stack does not hold
        (an AWS managed key, ``alias/aws/...``, whose use IAM does not ask of the caller)."""
        if not key:
            return None
        name = key.split(":", 5)[-1] if key.startswith("arn:") else key
        if name.startswith("alias/"):
            name = self._aliases.get(name, "")
        key_id = name.removeprefix("key/")
        return self._keys_by_id.get(key_id)

    def _stack_key(self, value: Any) -> str | None:
        return self.key_arn(str(self.stack.resolve(value))) if value else None

    def queue_arn(self, url: str) -> str:
        account, name = urlparse(url).path.strip("/").split("/")[-2:]
        return f"arn:aws:sqs:{self.stack.region}:{account}:{name}"

    def queue_key(self, url: str) -> str | None:
        return self._stack_key(self._props("AWS::SQS::Queue", url).get("KmsMasterKeyId"))

    def _queue_by_arn(self, arn: str) -> str | None:
        for logical_id, _ in self.stack.template.of_type("AWS::SQS::Queue"):
            physical = self.stack.physical.get(logical_id)
            if physical is not None and physical.attributes.get("Arn") == arn:
                return logical_id
        return None

    def queue_key_by_arn(self, arn: str) -> str | None:
        logical_id = self._queue_by_arn(arn)
        props = self.stack.template.resources[logical_id].get("Properties", {}) if logical_id else {}
        return self._stack_key(props.get("KmsMasterKeyId"))

    def sources_of(self, dead_letter_arn: str) -> list[str]:
        """The ARNs of the queues whose redrive policy sends their failed messages to ``dead_letter_arn``."""
        found = []
        for logical_id, resource in self.stack.template.of_type("AWS::SQS::Queue"):
            redrive = resource.get("Properties", {}).get("RedrivePolicy")
            if logical_id in self.stack.physical and redrive is not None:
                policy = self.stack.resolve(redrive)
                policy = json.loads(policy) if isinstance(policy, str) else policy
                if policy.get("deadLetterTargetArn") == dead_letter_arn:
                    found.append(self.stack.physical[logical_id].attributes["Arn"])
        return sorted(found)

    def bucket_key(self, bucket: str) -> str | None:
        encryption = self._props("AWS::S3::Bucket", bucket).get("BucketEncryption", {})
        for rule in encryption.get("ServerSideEncryptionConfiguration", []):
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return self._stack_key(default.get("KMSMasterKeyID"))
        return None

    def secret_arn(self, secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            return secret_id
        for logical_id, resource in self.stack.template.of_type("AWS::SecretsManager::Secret"):
            if logical_id in self.stack.physical and self.stack.resolve(resource["Properties"].get("Name")) == secret_id:
                return self.stack.physical[logical_id].ref
        return self.stack.arn("secretsmanager", f"secret:{secret_id}")

    def secret_key(self, secret_arn: str) -> str | None:
        return self._stack_key(self._props("AWS::SecretsManager::Secret", secret_arn).get("KmsKeyId"))


def _moto_ciphertext_key(blob: Any) -> str | None:
    """The key id moto writes at the start of its ciphertexts (a UUID), or None."""
    raw = blob if isinstance(blob, bytes) else str(blob).encode()
    try:
        return str(uuid.UUID(raw[:36].decode()))
    except (UnicodeDecodeError, ValueError):
        try:
            return _moto_ciphertext_key(base64.b64decode(raw, validate=True)) if raw[:36] else None
        except (binascii.Error, ValueError):
            return None


class Authorizations:
    """What IAM authorizes for each call (:meth:`of`), for one stack."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.tables = KeySchemas(stack)
        self.resources = Resources(stack)

    def of(self, call: Call) -> Iterator[Access]:
        if (call.service, call.operation) in UNAUTHORIZED:
            return
        model = getattr(self, f"_{call.service}", None)
        if model is None:
            yield Access(f"{call.service}:{call.operation}", "(no model of this service's authorization in localhub/aws/iam.py)")
            return
        yield from model(call.operation, call.request)

    def _dynamodb(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        return self.tables.accesses(operation, request)

    def _sqs(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        action = f"sqs:{SQS_ACTIONS.get(operation, operation)}"
        if operation == "ListQueues":
            yield Access(action, "*")
            return
        if operation == "StartMessageMoveTask":
            yield from self._message_move(request["SourceArn"], request.get("DestinationArn"))
            return
        if operation == "ListMessageMoveTasks":
            yield Access(action, request["SourceArn"])
            return
        if operation == "CancelMessageMoveTask":  # the task handle names its source queue's ARN
            handle = request["TaskHandle"]
            text = base64.b64decode(handle + "=" * (-len(handle) % 4)).decode(errors="replace")
            source = re.search(r"arn:aws:sqs:[\w-]+:\d+:[\w.-]+", text)
            yield Access(action, source.group(0) if source else "(a task handle that names no queue)")
            return
        if operation == "GetQueueUrl":
            yield Access(action, self.stack.arn("sqs", request["QueueName"]))
            return
        url = request["QueueUrl"]
        yield Access(action, self.resources.queue_arn(url))
        key = self.resources.queue_key(url)
        if key and operation in ("SendMessage", "SendMessageBatch"):
            yield Access("kms:GenerateDataKey", key)
            yield Access("kms:Decrypt", key)
        elif key and operation == "ReceiveMessage":
            yield Access("kms:Decrypt", key)

    def _message_move(self, source: str, destination: str | None) -> Iterator[Access]:
        """A dead-letter queue's redrive, as SQS authorizes it for its caller: the task, a receive and a delete on the
        source queue, a send to each destination (without ``DestinationArn``, the queues whose redrive policy names
        the source, where its messages came from), and the data keys of both."""
        yield Access("sqs:StartMessageMoveTask", source)
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            yield Access(action, source)
        if (key := self.resources.queue_key_by_arn(source)) is not None:
            yield Access("kms:Decrypt", key)
        for queue in [destination] if destination else self.resources.sources_of(source):
            yield Access("sqs:SendMessage", queue)
            if (key := self.resources.queue_key_by_arn(queue)) is not None:
                yield Access("kms:GenerateDataKey", key)
                yield Access("kms:Decrypt", key)

    def _stepfunctions(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        for name in ("stateMachineArn", "executionArn", "mapRunArn", "activityArn", "resourceArn"):
            if name in request:
                yield Access(f"states:{operation}", request[name])
                return
        yield Access(f"states:{operation}", "*")  # ListStateMachines, ListActivities: no resource

    def _s3(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        bucket = request["Bucket"]
        key = request.get("Key")
        if PRESIGNED_POST in request:
            key = request[PRESIGNED_POST].get("s3-presign-post-fields", {}).get("key", "(a presigned POST whose key was not seen)")
        versioned = "VersionId" in request
        if operation in S3_BUCKET_ACTIONS:
            yield Access(f"s3:{S3_BUCKET_ACTIONS[operation]}", f"arn:aws:s3:::{bucket}")
            return
        if operation in ("CopyObject", "UploadPartCopy"):
            source = request["CopySource"]
            if isinstance(source, dict):
                source_bucket, source_key, source_version = source["Bucket"], source["Key"], source.get("VersionId")
            else:
                path, _, query = unquote(str(source)).lstrip("/").partition("?versionId=")
                (source_bucket, source_key), source_version = path.split("/", 1), query or None
            yield Access("s3:GetObjectVersion" if source_version else "s3:GetObject", f"arn:aws:s3:::{source_bucket}/{source_key}")
            if (source_data_key := self.resources.bucket_key(source_bucket)) is not None:
                yield Access("kms:Decrypt", source_data_key)
            yield Access("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")
        elif operation in S3_OBJECT_ACTIONS:
            action = S3_OBJECT_ACTIONS[operation]
            if versioned and action in ("GetObject", "DeleteObject"):
                action += "Version"
            yield Access(f"s3:{action}", f"arn:aws:s3:::{bucket}/{key}")
        elif operation == "DeleteObjects":
            for entry in request["Delete"]["Objects"]:
                action = "s3:DeleteObjectVersion" if "VersionId" in entry else "s3:DeleteObject"
                yield Access(action, f"arn:aws:s3:::{bucket}/{entry['Key']}")
            return
        else:
            yield Access(f"s3:{operation}", f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else ""))
            return
        data_key = self.resources.key_arn(request.get("SSEKMSKeyId")) if "SSEKMSKeyId" in request else None
        if data_key is None and request.get("ServerSideEncryption") != "AES256":
            data_key = self.resources.bucket_key(bucket)
        if data_key is None:
            return
        if operation in S3_WRITES_WITH_DATA_KEY:
            yield Access("kms:GenerateDataKey", data_key)
            if operation in S3_MULTIPART:
                yield Access("kms:Decrypt", data_key)
        elif operation == "GetObject":
            yield Access("kms:Decrypt", data_key)

    def _secretsmanager(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        if "SecretId" not in request:
            yield Access(f"secretsmanager:{operation}", "*")
            return
        arn = self.resources.secret_arn(request["SecretId"])
        yield Access(f"secretsmanager:{operation}", arn)
        key = self.resources.secret_key(arn)
        if key and operation == "GetSecretValue":
            yield Access("kms:Decrypt", key)

    def _ssm(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        def arn(name: str) -> str:
            return self.stack.arn("ssm", "parameter" + (name if name.startswith("/") else f"/{name}"))

        if "Name" in request:
            yield Access(f"ssm:{operation}", arn(request["Name"]))
        elif "Names" in request:
            for name in request["Names"]:
                yield Access(f"ssm:{operation}", arn(name))
        elif "Path" in request:
            yield Access(f"ssm:{operation}", arn(request["Path"]))
        else:
            yield Access(f"ssm:{operation}", "*")

    def _kms(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        key = request.get("KeyId")
        if key is None and "CiphertextBlob" in request:
            key = _moto_ciphertext_key(request["CiphertextBlob"])
        arn = self.resources.key_arn(key) if key else None
        if arn is None and key and key.startswith("arn:aws:kms:") and ":key/" in key:
            arn = key
        yield Access(f"kms:{operation}", arn or f"(a key this stack does not hold: {key!r})")

    def _sts(self, operation: str, request: dict[str, Any]) -> Iterator[Access]:
        yield Access(f"sts:{operation}", request.get("RoleArn", "*"))


@dataclass(frozen=True)
class Call:
    function: str  # the function's name (AWS_LAMBDA_FUNCTION_NAME while it ran)
    service: str  # botocore's service name: dynamodb, sqs, stepfunctions, s3, secretsmanager, ssm, kms, sts
    operation: str
    request: dict[str, Any]  # the call's parameters as sent (DynamoDB's typed: {"S": ...}), without a streamed body


class AwsCalls(SessionHook):
    """Records every AWS call functions make through the library's boto3 session, with its parameters as they go to
    the wire (a ``before-endpoint-resolution`` hook: after boto3's own transformations, before signing; a presigned
    URL is recorded too, as the call it signs; a call then throttled, :mod:`localhub.aws.throttling`, too, as AWS
    authorizes a call before it throttles it). The runtime's own calls are not recorded."""

    event = "before-endpoint-resolution"
    unique_id = "localhub-iam-calls"

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def _on_call(self, model: Any, **kwargs: Any) -> None:
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if function is None:
            return
        params: dict[str, Any] = kwargs["params"]
        service, operation = model.service_model.service_name, model.name
        request = {name: deepcopy(value) for name, value in params.items() if name != "Body"}
        context = kwargs.get("context") or {}
        if (service, operation) == ("s3", "CreateBucket") and context.get("is_presign_request"):
            # botocore resolves a presigned POST's endpoint with CreateBucket's model: the upload it signs is a PutObject
            # of the key its signer writes in the request's context (``s3-presign-post-fields``) after this event
            operation, request = "PutObject", {"Bucket": params["Bucket"], PRESIGNED_POST: context}
        with self._lock:
            self.calls.append(Call(function, service, operation, request))


def denied(stack: LocalStack, calls: list[Call], user_id: Callable[[], str]) -> list[str]:
    """Each recorded authorization the calling function's policies do not allow, described."""
    authorizations = Authorizations(stack)
    by_name = {spec.name: spec.logical_id for spec in stack.functions()}
    statements: dict[str, list[Statement]] = {}
    found: list[str] = []
    for call in calls:
        logical_id = by_name.get(call.function)
        if logical_id is None:  # not a function of this stack
            continue
        policies = statements.setdefault(logical_id, function_statements(stack, logical_id))
        for access in authorizations.of(call):
            if not any(s.allows(access, user_id()) for s in policies):
                keys = f" keys {list(access.leading_keys)}" if access.leading_keys else ""
                found.append(f"{logical_id}: {access.action} on {access.resource}{keys}")
    return sorted(set(found))
