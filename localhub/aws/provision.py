"""Create the template's AWS resources in an endpoint (the embedded moto server).

Each supported resource type has one function that turns its resolved CloudFormation
properties into the service's API calls and returns its :class:`Physical` (``Ref`` value and
``Fn::GetAtt`` attributes). Types that have no local AWS counterpart (Lambda functions run
in-process, the HTTP API is served by the local runtime, Cognito is replaced by its token
endpoint) still get a physical name, so every ``Ref`` in the template resolves.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable
from typing import Any

import boto3

from localhub.apigw.identities import client_name
from localhub.template import LocalStack, Physical


class UnsupportedResource(Exception):
    """The template has a resource type the local runtime cannot create yet."""


Provisioner = Callable[[LocalStack, str, dict[str, Any], Any], Physical]


def _kms_key(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    kms = session.client("kms")
    spec = {name: props[name] for name in ("KeySpec", "KeyUsage") if name in props}  # an HMAC key: HMAC_256, GENERATE_VERIFY_MAC
    key = kms.create_key(Description=props.get("Description", logical_id), **spec)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return Physical(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})


def _dynamodb_table(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    ddb = session.client("dynamodb")
    name = props.get("TableName") or stack.default_name(logical_id)
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "ProvisionedThroughput" in props:
        kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    if sse := props.get("SSESpecification"):
        kwargs["SSESpecification"] = {
            "Enabled": bool(sse.get("SSEEnabled")),
            **({"SSEType": sse["SSEType"]} if "SSEType" in sse else {}),
            **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
        }
    if stream := props.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    table = ddb.create_table(**kwargs)["TableDescription"]
    if ttl := props.get("TimeToLiveSpecification"):
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    if (pitr := props.get("PointInTimeRecoverySpecification")) and pitr.get("PointInTimeRecoveryEnabled"):
        ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    attributes = {"Arn": table["TableArn"]}
    if "LatestStreamArn" in table:
        attributes["StreamArn"] = table["LatestStreamArn"]
    return Physical(name, attributes)


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "SqsManagedSseEnabled",
)


def _sqs_queue(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    sqs = session.client("sqs")
    fifo = bool(props.get("FifoQueue"))
    name = props.get("QueueName") or stack.default_name(logical_id, fifo=fifo)
    attributes = {key: str(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    if fifo:
        attributes["FifoQueue"] = "true"
        if props.get("ContentBasedDeduplication"):
            attributes["ContentBasedDeduplication"] = "true"
    if redrive := props.get("RedrivePolicy"):
        attributes["RedrivePolicy"] = json.dumps(redrive)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Physical(url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def _s3_bucket(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    s3 = session.client("s3")
    name = props.get("BucketName") or f"{stack.prefix}-{logical_id}".lower()
    config = {} if stack.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": stack.region}}
    s3.create_bucket(Bucket=name, **config)
    if versioning := props.get("VersioningConfiguration"):
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning["Status"]})
    if encryption := props.get("BucketEncryption"):
        rules = [
            {
                **(
                    {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                    if "ServerSideEncryptionByDefault" in rule
                    else {}
                ),
                **({"BucketKeyEnabled": bool(rule["BucketKeyEnabled"])} if "BucketKeyEnabled" in rule else {}),
            }
            for rule in encryption["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if block := props.get("PublicAccessBlockConfiguration"):
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={key: bool(value) for key, value in block.items()})
    if ownership := props.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": ownership["Rules"]})
    if lifecycle := props.get("LifecycleConfiguration"):
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in lifecycle["Rules"]]}
        )
    if notification := props.get("NotificationConfiguration"):
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": q["Queue"],
                        "Events": [q["Event"]],
                        **({"Filter": {"Key": {"FilterRules": q["Filter"]["S3Key"]["Rules"]}}} if "Filter" in q else {}),
                    }
                    for q in notification.get("QueueConfigurations", [])
                ]
            },
        )
    return Physical(name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"})


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule as the S3 API spells it."""
    out: dict[str, Any] = {"ID": rule.get("Id", "rule"), "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if noncurrent := rule.get("NoncurrentVersionExpiration"):
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(noncurrent["NoncurrentDays"])}
    if abort := rule.get("AbortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    return out


def _requires_tls(statement: dict[str, Any]) -> bool:
    condition = statement.get("Condition", {})
    return statement.get("Effect") == "Deny" and str(condition.get("Bool", {}).get("aws:SecureTransport", "")).lower() == "false"


def local_bucket_policy(document: dict[str, Any]) -> dict[str, Any] | None:
    """The policy as the local endpoint can hold it: the embedded endpoint serves plain HTTP (moto
    evaluates a bucket's policy on object calls), so a statement denying requests without TLS would
    deny every call there; it is left out. Every other statement applies. None: nothing is left."""
    statements = [s for s in document.get("Statement", []) if not _requires_tls(s)]
    return {**document, "Statement": statements} if statements else None


def _s3_bucket_policy(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    bucket = props["Bucket"]
    if (policy := local_bucket_policy(props["PolicyDocument"])) is not None:
        session.client("s3").put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return Physical(bucket, {})


def _state_machine(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    """AWS::Serverless::StateMachine: the ASL file with its DefinitionSubstitutions applied."""
    from localhub.template import ROOT

    inline = json.dumps(props.get("Definition"))
    text = (ROOT / props["DefinitionUri"]).read_text(encoding="utf-8") if "DefinitionUri" in props else inline
    for name, value in props.get("DefinitionSubstitutions", {}).items():
        text = text.replace("${" + name + "}", str(value))
    name = props.get("Name") or stack.default_name(logical_id)
    arn = session.client("stepfunctions").create_state_machine(
        name=name,
        definition=text,
        roleArn=f"arn:aws:iam::{stack.account_id}:role/{name}",  # IAM ARNs have no region
        type=props.get("Type", "STANDARD"),
    )["stateMachineArn"]
    return Physical(arn, {"Arn": arn, "Name": name})


def _secret(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    sm = session.client("secretsmanager")
    name = props.get("Name") or stack.default_name(logical_id)
    if "SecretString" in props:
        value = props["SecretString"]
    else:
        generate = props.get("GenerateSecretString", {})
        alphabet = string.ascii_letters + string.digits
        generated = "".join(secrets.choice(alphabet) for _ in range(int(generate.get("PasswordLength", 32))))
        if template := generate.get("SecretStringTemplate"):
            document = json.loads(template)
            document[generate["GenerateStringKey"]] = generated
            value = json.dumps(document)
        else:
            value = generated
    arn = sm.create_secret(Name=name, SecretString=value)["ARN"]
    return Physical(arn, {"Id": arn})


def _ssm_parameter(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    ssm = session.client("ssm")
    name = props.get("Name") or f"/{stack.default_name(logical_id)}"
    ssm.put_parameter(Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"), Description=props.get("Description", ""))
    return Physical(name, {"Type": props.get("Type", "String"), "Value": str(props["Value"])})


def _log_group(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    logs = session.client("logs")
    name = props.get("LogGroupName") or stack.default_name(logical_id)
    logs.create_log_group(logGroupName=name)
    if retention := props.get("RetentionInDays"):
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(retention))
    return Physical(name, {"Arn": stack.arn("logs", f"log-group:{name}:*")})


def _function(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    # Runs in-process in the local runtime; named so Refs, Subs and ARNs resolve.
    name = props.get("FunctionName") or stack.default_name(logical_id)
    return Physical(name, {"Arn": stack.arn("lambda", f"function:{name}")})


def _user_pool_client(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    # The local runtime's token endpoint offers it (localhub.apigw.identities); its Ref, the client id, is its local name.
    return Physical(client_name(stack, logical_id), {"Arn": stack.arn("local", logical_id)})


def _placeholder(stack: LocalStack, logical_id: str, props: dict[str, Any], session: Any) -> Physical:
    # Served by the local runtime itself (HTTP API, Cognito token endpoint) or without effect here.
    return Physical(stack.default_name(logical_id), {"Arn": stack.arn("local", logical_id)})


PROVISIONERS: dict[str, Provisioner] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::DynamoDB::Table": _dynamodb_table,
    "AWS::SQS::Queue": _sqs_queue,
    "AWS::S3::Bucket": _s3_bucket,
    "AWS::S3::BucketPolicy": _s3_bucket_policy,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::SSM::Parameter": _ssm_parameter,
    "AWS::Serverless::Function": _function,
    "AWS::Serverless::StateMachine": _state_machine,
    "AWS::Cognito::UserPoolClient": _user_pool_client,
}

# Resource types with no local AWS resource; everything else must have a provisioner above.
LOCAL_ONLY = frozenset(
    {
        "AWS::Serverless::LayerVersion",
        "AWS::Serverless::HttpApi",
        # a composed template's routes on the HTTP API (localhub.apigw serves them from the template)
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route",
        "AWS::Lambda::Permission",
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolDomain",
        "AWS::Cognito::UserPoolResourceServer",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",  # the packs' dashboards: nothing to show locally
        "AWS::SQS::QueuePolicy",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
    }
)


class _OneClientPerService:
    """A session whose ``client(service)`` is made once: a botocore client costs tens of milliseconds to
    make (its SSL context and endpoint), and a template's resources asked for one each, 56 per start."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)
        return self._clients[service]


def provision(stack: LocalStack, session: Any | None = None) -> dict[str, str]:
    """Create every resource of ``stack``'s template; returns the logical id -> physical map."""
    session = _OneClientPerService(session or boto3.session.Session(region_name=stack.region))
    for logical_id in stack.creation_order():
        resource = stack.template.resources[logical_id]
        resource_type = resource["Type"]
        if resource_type in LOCAL_ONLY:
            provisioner: Provisioner = _placeholder
        elif resource_type in PROVISIONERS:
            provisioner = PROVISIONERS[resource_type]
        else:
            raise UnsupportedResource(f"{logical_id}: {resource_type} has no local provisioner; add one to PROVISIONERS")
        if resource_type == "AWS::Serverless::Function":
            props: dict[str, Any] = {"FunctionName": resource.get("Properties", {}).get("FunctionName")}
        else:
            props = stack.resolve(resource.get("Properties", {}))
        stack.physical[logical_id] = provisioner(stack, logical_id, props, session)
    return stack.resource_map()
