"""Each function touches only its own data: its policies in template.yaml reach no further than what its
integration point names.

The allowed side comes from elsewhere than the policies: the tables, queues, secrets and buckets a function's
environment names, its event sources, and the key prefixes the library builds its items under (the sync request
engine's flows, the cross-references those flows link, the packs' own items, the idempotency records' identity).
A policy on a shared table (one the functions of several packs use) must name leading keys, and only those.
Reads files and imports the library; no AWS.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from localhub.template import Template
from utilhub.packs.customer import customers as customer_sync
from utilhub.packs.customer import mapping as customer_mapping
from utilhub.packs.customer import store as customer_store
from utilhub.packs.field_work import attachments as field_attachments
from utilhub.packs.field_work import customer_updates as field_customer_updates
from utilhub.packs.field_work import model as field_model
from utilhub.packs.field_work import store as field_store
from utilhub.packs.order_to_cash import model as order_model
from utilhub.packs.order_to_cash import order_store
from utilhub.packs.order_to_cash import tasks as order_tasks
from utilhub.platform import idempotency, journal
from utilhub.platform.settings import Operations
from utilhub.platform.xref import CrossReferenceStore
from utilhub.syncrequests.model import SyncFlow
from utilhub.syncrequests.store import SyncRequestStore

SYNC_PACKS = ("meter_data", "field_work", "dacs")  # the packs whose flows' outcomes CCB is told (OutcomesToCcb)
CODE_URI = re.compile(r"^functions/(?P<pack>[a-z_]+)/")
LEADING_KEYS = "dynamodb:LeadingKeys"
# SAM policy templates that grant a whole table (every item, Scan included)
WHOLE_TABLE_TEMPLATES = {"DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBWritePolicy", "DynamoDBReconfigurePolicy"}
KEYLESS_ACTIONS = {"dynamodb:Scan", "dynamodb:PartiQLSelect", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLInsert", "dynamodb:PartiQLDelete"}
JOURNAL_READS = {"dynamodb:GetItem", "dynamodb:Query"}
SQS_SEND = {"sqs:SendMessage", "sqs:SendMessageBatch"}
SQS_RECEIVE = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch"}


# ---------------------------------------------------------------------------------------------- the template's side
def names(value: Any) -> set[str]:
    """The logical ids ``value`` refers to (Ref, GetAtt, and ``${...}`` in Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= names(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0])
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                found |= {n.split(".")[0] for n in re.findall(r"\$\{([^}!]+)\}", text) if ":" not in n}
                if isinstance(arg, list):
                    found |= names(arg[1])
            else:
                found |= names(arg)
    return found


@dataclass(frozen=True)
class Statement:
    actions: frozenset[str]
    resources: Any
    condition: dict[str, Any]
    origin: str  # where it comes from: inline, a managed policy, a SAM policy template

    @property
    def targets(self) -> set[str]:
        return names(self.resources)


@dataclass(frozen=True)
class Function:
    logical_id: str
    properties: dict[str, Any]
    template: Template

    @property
    def integration_points(self) -> list[str]:
        return list(self.template.resources[self.logical_id].get("Metadata", {}).get("utilhub", {}).get("integrationPoints", []))

    @property
    def pack(self) -> str:
        match = CODE_URI.match(self.properties["CodeUri"])
        assert match, self.properties["CodeUri"]
        return match["pack"]

    @property
    def environment(self) -> dict[str, Any]:
        variables: dict[str, Any] = dict(self.template.function_globals.get("Environment", {}).get("Variables", {}))
        variables.update(self.properties.get("Environment", {}).get("Variables", {}))
        return variables

    def named_by_environment(self) -> set[str]:
        return names(list(self.environment.values()))

    def event_queues(self) -> set[str]:
        return {
            n
            for event in self.properties.get("Events", {}).values()
            if event.get("Type") == "SQS"
            for n in names(event["Properties"]["Queue"])
        }

    def policy_templates(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for policy in self.properties.get("Policies", []):
            if isinstance(policy, dict) and len(policy) == 1:
                ((name, args),) = policy.items()
                if name not in ("Statement", "Ref"):
                    yield name, args or {}

    def statements(self) -> Iterator[Statement]:
        for policy in self.properties.get("Policies", []):
            if isinstance(policy, str):
                raise AssertionError(f"{self.logical_id}: AWS managed policy {policy} is not reviewed here")
            if "Statement" in policy:
                yield from _statements(policy["Statement"], "inline")
            elif "Ref" in policy:
                managed = self.template.resources[policy["Ref"]]
                assert managed["Type"] == "AWS::IAM::ManagedPolicy", policy
                yield from _statements(managed["Properties"]["PolicyDocument"]["Statement"], policy["Ref"])
        for name, args in self.policy_templates():
            yield Statement(frozenset({f"template:{name}"}), list(args.values()), {}, name)


def _statements(raw: list[dict[str, Any]], origin: str) -> Iterator[Statement]:
    for statement in raw:
        assert statement.get("Effect") == "Allow", f"{origin}: only Allow statements are reviewed here"
        actions = statement["Action"]
        yield Statement(
            frozenset([actions] if isinstance(actions, str) else actions), statement["Resource"], statement.get("Condition", {}), origin
        )


@cache
def template() -> Template:
    return Template.load()


def functions() -> list[Function]:
    return [Function(i, r["Properties"], template()) for i, r in template().of_type("AWS::Serverless::Function")]


def tables() -> set[str]:
    return {i for i, _ in template().of_type("AWS::DynamoDB::Table")}


def shared_tables() -> set[str]:
    """Tables every function is given (Globals) or that functions of more than one pack name."""
    in_globals = names(list(template().function_globals.get("Environment", {}).get("Variables", {}).values())) & tables()
    packs_of: dict[str, set[str]] = {}
    for function in functions():
        for table in names(list(function.properties.get("Environment", {}).get("Variables", {}).values())) & tables():
            packs_of.setdefault(table, set()).add(function.pack)
    return in_globals | {t for t, packs in packs_of.items() if len(packs) > 1}


def queue_redrives() -> dict[str, str]:
    """Source queue -> its dead-letter queue."""
    return {
        i: names(r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]).pop()
        for i, r in template().of_type("AWS::SQS::Queue")
        if "RedrivePolicy" in r.get("Properties", {})
    }


# ---------------------------------------------------------------------------------------------- the library's side
@cache
def pack_flows(pack: str) -> tuple[SyncFlow, ...]:
    """The sync request flows a pack's modules declare."""
    package = importlib.import_module(f"utilhub.packs.{pack}")
    found: dict[str, SyncFlow] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for value in vars(module).values():
            candidates = value.values() if isinstance(value, dict) else [value]
            for flow in candidates:
                if isinstance(flow, SyncFlow):
                    found[f"{flow.name}/{flow.target}"] = flow
    return tuple(found.values())


def sync_request_prefixes(pack: str) -> set[str]:
    return {SyncRequestStore.key_prefix(flow.name) for flow in pack_flows(pack)}


def cross_reference_prefixes(pack: str) -> set[str]:
    """What a pack keeps in the cross-reference table: the ids its flows' acknowledgements link, and its own items."""
    prefixes = {
        CrossReferenceStore.key_prefix(entity, system)
        for flow in pack_flows(pack)
        for entity in flow.xref_entity.values()
        for system in (flow.source, flow.target)
    }
    if pack == "customer":
        prefixes |= {customer_store.KEY_PREFIX, customer_store.SYNCHRONIZING}
        prefixes |= {
            CrossReferenceStore.key_prefix(t, s)
            for t in customer_sync.LINKED_TYPES
            for s in (customer_mapping.SIEBEL, customer_mapping.CCB)
        }
    if pack == "field_work":
        prefixes |= {field_store.ACTIVITY_PREFIX, field_store.SP_ACTIVITIES_PREFIX, field_attachments.KEY_PREFIX}
        prefixes |= {field_store.CREATING}  # the shards of the index of the activities being created
        prefixes |= {field_customer_updates.KEY_PREFIX}
        # each system's id of an activity, linked to the source's (the activity named by any linked system's id)
        prefixes |= {CrossReferenceStore.key_prefix(field_store.XREF_ENTITY, system) for system in field_model.SYSTEMS}
    if pack == "order_to_cash":
        prefixes |= {order_store.KEY_PREFIX}
        prefixes |= {CrossReferenceStore.key_prefix(kind, order_model.SIEBEL) for kind in order_tasks.LINKED_KINDS}
        # every BRM instance's ids: the key of system "BRM:<id>" up to the instance's id
        prefixes |= {
            CrossReferenceStore.key_prefix(kind, order_tasks.brm_system("")).removesuffix("#") for kind in order_tasks.LINKED_KINDS
        }
    return prefixes


def allowed_leading_keys(function: Function, table: str) -> set[str]:
    """The LeadingKeys patterns ``function`` may be given on the shared ``table``."""
    environment = function.named_by_environment()
    if table not in environment:
        return set()
    variable = next(k for k, v in function.environment.items() if table in names(v))
    if variable == "UTILHUB_IDEMPOTENCY_TABLE":
        return {idempotency.RECORD_KEYS}
    if variable == "UTILHUB_SYNC_REQUEST_TABLE":
        if function.pack == "sync_requests":  # the outcomes told to CCB: reads of every flow's requests, not its entities
            return {SyncRequestStore.request_key_prefix(flow.name) + "*" for pack in SYNC_PACKS for flow in pack_flows(pack)}
        return {p + "*" for p in sync_request_prefixes(function.pack)}
    if variable == "UTILHUB_XREF_TABLE":
        if function.pack == "operations":  # the cross-references lookup: an entity's ids under each type linked
            return {f"{entity_type}#*" for entity_type in Operations().xref_entity_types.split(",")}
        return {p + "*" for p in cross_reference_prefixes(function.pack)}
    if variable == "UTILHUB_JOURNAL_TABLE":
        if function.pack == "operations":  # the operators read every point's transactions, and list them by state
            return {journal.KEY_PATTERN, *journal.STATES}
        # a pack's function writes its own points' transactions, never another pack's
        return {journal.point_keys(point) for point in function.integration_points}
    raise AssertionError(f"{function.logical_id}: no key scheme known for {variable}")


# ---------------------------------------------------------------------------------------------- the checks
def problems_of(function: Function) -> list[str]:
    """Everything ``function``'s policies reach beyond what its integration point names."""
    found: list[str] = []
    shared = shared_tables()
    environment = function.named_by_environment()
    for name, args in function.policy_templates():
        if name in WHOLE_TABLE_TEMPLATES and names(args) & shared:
            found.append(f"{name} on shared table {sorted(names(args) & shared)}: every item of every flow")
    for statement in function.statements():
        dynamodb = {a for a in statement.actions if a.startswith("dynamodb:")}
        if not dynamodb:
            continue
        on_shared = statement.targets & shared
        if not statement.targets:
            found.append(f"{statement.origin}: {sorted(dynamodb)} on a resource the template does not name (a wildcard or a literal ARN)")
        if not on_shared:
            continue
        if any("*" in a for a in dynamodb) or dynamodb & KEYLESS_ACTIONS:
            found.append(f"{statement.origin}: {sorted(dynamodb)} includes an action that reads or writes without a key")
        condition = dict(statement.condition)
        patterns = condition.pop("ForAllValues:StringLike", {}).get(LEADING_KEYS)
        if not patterns:
            found.append(f"{statement.origin}: {sorted(dynamodb)} on {sorted(on_shared)} without a LeadingKeys condition")
            continue
        if function.pack == "operations" and "JournalTable" in on_shared and dynamodb - JOURNAL_READS:
            found.append(f"{statement.origin}: {sorted(dynamodb - JOURNAL_READS)} on JournalTable: the operators only read the journal")
        for table in on_shared:
            allowed = allowed_leading_keys(function, table)
            # a pattern is allowed when it is one of the flow's, or one key an allowed pattern covers
            beyond = {p for p in patterns if p not in allowed and ("*" in p or not any(fnmatch.fnmatchcase(p, a) for a in allowed))}
            if beyond:
                found.append(f"{statement.origin}: leading keys {sorted(beyond)} of {table} belong to no flow of {function.logical_id}")
    for statement in function.statements():
        sqs = {a for a in statement.actions if a.startswith("sqs:")} | (
            {"sqs:SendMessage"} if "template:SQSSendMessagePolicy" in statement.actions else set()
        )
        queues = statement.targets & {i for i, _ in template().of_type("AWS::SQS::Queue")}
        if not sqs:
            continue
        redrives = queue_redrives()
        sources_of = {dlq: src for src, dlq in redrives.items()}
        named = environment & set(redrives) | environment & set(sources_of)
        may_send = (
            named | {redrives[q] for q in function.event_queues() if q in redrives} | {sources_of[q] for q in named if q in sources_of}
        )
        may_receive = function.event_queues() | named
        if sqs & SQS_SEND and queues - may_send:
            found.append(
                f"{statement.origin}: sends to {sorted(queues - may_send)}, which it neither names nor is the dead-letter queue of its own"
            )
        if sqs & SQS_RECEIVE and queues - may_receive:
            found.append(f"{statement.origin}: receives from {sorted(queues - may_receive)}, which it neither names nor is triggered by")
    secrets = {i for i, _ in template().of_type("AWS::SecretsManager::Secret")}
    buckets = {i for i, _ in template().of_type("AWS::S3::Bucket")}
    for statement in function.statements():
        if unnamed := (statement.targets & secrets) - environment:
            found.append(f"{statement.origin}: reads secret {sorted(unnamed)}, which its environment does not name")
        if unnamed := (statement.targets & buckets) - environment:
            found.append(f"{statement.origin}: reaches bucket {sorted(unnamed)}, which its environment does not name")
    return found


@pytest.mark.parametrize("function", functions(), ids=lambda f: f.logical_id)
def test_each_function_reaches_only_what_its_integration_point_names(function: Function) -> None:
    # Given a function's policies, its environment and the library's key schemes
    # When every statement is held to what its code may touch
    found = problems_of(function)
    # Then nothing reaches beyond it
    assert not found, f"{function.logical_id}:\n  " + "\n  ".join(found)


def test_the_shared_tables_are_the_ones_several_packs_use() -> None:
    # Given the template's tables and the packs whose functions name them
    # Then the sync requests, cross-references and idempotency records are shared (the checks above apply to them)
    assert {"SyncRequestTable", "CrossReferenceTable", "IdempotencyTable"} <= shared_tables()


def test_the_library_declares_a_flow_for_each_pack_with_sync_requests() -> None:
    # Given each function that names the sync request table
    for function in functions():
        if "SyncRequestTable" in names(list(function.properties.get("Environment", {}).get("Variables", {}).values())):
            # Then its pack's modules declare the flow(s) its keys start with (the root's outcomes function reads theirs)
            assert pack_flows(function.pack) if function.pack != "sync_requests" else SYNC_PACKS, function.logical_id


def test_the_checks_find_a_whole_table_grant_and_a_foreign_flow() -> None:
    # Given the DACS acknowledgement function as it was: CRUD on every shared table, and MDM's flow
    function = next(f for f in functions() if f.logical_id == "DacsAcknowledgementsFunction")
    widened = dict(function.properties)
    widened["Policies"] = [
        {"DynamoDBCrudPolicy": {"TableName": {"Ref": "SyncRequestTable"}}},
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:UpdateItem"],
                    "Resource": {"Fn::GetAtt": ["SyncRequestTable", "Arn"]},
                    "Condition": {"ForAllValues:StringLike": {LEADING_KEYS: ["meter-data#*"]}},
                },
                {"Effect": "Allow", "Action": ["dynamodb:Scan"], "Resource": {"Fn::GetAtt": ["CrossReferenceTable", "Arn"]}},
                {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": {"Ref": "MdmConnectionSecret"}},
            ]
        },
        {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["MdmDeliveryQueue", "QueueName"]}}},
    ]
    # When the checks read it
    found = "\n".join(problems_of(Function(function.logical_id, widened, template())))
    # Then each overreach is named
    assert "DynamoDBCrudPolicy on shared table ['SyncRequestTable']" in found
    assert "leading keys ['meter-data#*'] of SyncRequestTable" in found
    assert "without a LeadingKeys condition" in found
    assert "reads or writes without a key" in found
    assert "reads secret ['MdmConnectionSecret']" in found
    assert "sends to ['MdmDeliveryQueue']" in found


def test_the_checks_find_a_journal_write_beyond_the_packs_points_and_an_operators_write() -> None:
    # Given the MD-11 usage requests function writing every point's transactions in the journal, and the
    # operators' transactions function writing them too
    journal_write = {
        "Effect": "Allow",
        "Action": ["dynamodb:UpdateItem", "dynamodb:PutItem"],
        "Resource": {"Fn::GetAtt": ["JournalTable", "Arn"]},
        "Condition": {"ForAllValues:StringLike": {LEADING_KEYS: ["??-??#*"]}},
    }
    found = {}
    for logical_id in ("MeterDataUsageRequestsFunction", "OperationsTransactionsFunction"):
        function = next(f for f in functions() if f.logical_id == logical_id)
        widened = dict(function.properties)
        widened["Policies"] = [{"Statement": [journal_write]}]
        # When the checks read them
        found[logical_id] = "\n".join(problems_of(Function(logical_id, widened, template())))
    # Then the pack's function may write its own points' keys only, and the operators' none
    assert journal.point_keys("MD-11") == "MD-??#*"
    assert "leading keys ['??-??#*'] of JournalTable" in found["MeterDataUsageRequestsFunction"]
    assert (
        "['dynamodb:PutItem', 'dynamodb:UpdateItem'] on JournalTable: the operators only read the journal"
        in found["OperationsTransactionsFunction"]
    )


def test_only_the_oc01_intake_may_make_a_mac_with_the_order_fingerprint_key() -> None:
    # Given every function's statements that could allow kms:GenerateMac (named, or by a wildcard)
    def may_mac(actions: frozenset[str]) -> bool:
        return any(fnmatch.fnmatchcase("kms:GenerateMac", action) for action in actions)

    granted = {(f.logical_id, frozenset(s.targets)) for f in functions() for s in f.statements() if may_mac(s.actions)}
    # Then only OC-01's intake may, and only with its fingerprint key (order_store.KmsMac)
    assert granted == {("OrderToCashOrdersFunction", frozenset({"OrderFingerprintKey"}))}


def test_only_the_fw01_workflow_steps_write_the_systems_ids_of_a_field_activity() -> None:
    # Given every statement of the template on the cross-reference table naming a field activity's system ids
    # (FIELD_ACTIVITY#<system>#..., written by ActivityStore.link once a routed system answered the create)
    prefix = f"{field_store.XREF_ENTITY}#"
    readers: set[str] = set()
    writers: set[str] = set()
    for function in functions():
        for statement in function.statements():
            patterns = statement.condition.get("ForAllValues:StringLike", {}).get(LEADING_KEYS, [])
            if "CrossReferenceTable" not in statement.targets or not any(p.startswith(prefix) for p in patterns):
                continue
            if "dynamodb:GetItem" in statement.actions:
                readers.add(function.logical_id)
            if statement.actions & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}:
                writers.add(function.logical_id)
    # Then the workflow steps alone write them; the activities API (ActivityStore.find) and the event delivery read them
    assert writers == {"FieldWorkActivityStepsFunction"}
    assert readers == {"FieldWorkActivitiesFunction", "FieldWorkActivityStepsFunction", "FieldWorkEventDeliveryFunction"}
