"""The DynamoDB calls functions really make, held to their policies in the template (localhub/aws/iam.py).

Every integration test does this in its ``hub`` fixture; here a person sync request goes from intake (which sends it
at once) to MDM and back, with an idempotency key, a monitor run looking for work meanwhile, and the checks are shown
to see the calls and to refuse a policy that names another flow's keys.
"""

from __future__ import annotations

import json
from copy import deepcopy

from localhub.aws.iam import Call, DynamoDbCalls, denied
from localhub.hub import LocalHub
from localhub.template import LocalStack, Template
from utilhub.platform import wiring

CLAIMS = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
REQUEST = {
    "syncRequestId": "SR-IAM-1",
    "entityType": "PERSON",
    "entityId": "P-IAM",
    "changedAt": "2026-11-20T09:00:00Z",
    "data": {"name": "Ada"},
}


def synchronize(hub: LocalHub) -> None:
    headers = {"content-type": "application/json", "idempotency-key": "iam-1"}
    accepted = hub.call_api("POST", "/meter-data/sync-requests", body=json.dumps(REQUEST), headers=headers, claims=CLAIMS)
    assert accepted.status == 202, accepted.body
    sent = hub.call_api("GET", "/meter-data/sync-requests/SR-IAM-1", claims=CLAIMS)
    assert sent.json()["status"] == "SENT", sent.body  # at its intake: the person had nothing in flight
    run = hub.run_schedule("MeterDataSyncMonitorFunction")
    assert not run.failed
    assert run.result["queued"] == 0
    hub.drain()
    state = hub.call_api("GET", "/meter-data/sync-requests/SR-IAM-1", claims=CLAIMS)
    assert state.json()["status"] == "SYNCHRONIZED", state.body


def test_a_sync_requests_calls_are_each_allowed_by_its_functions_policies(hub: LocalHub, dynamodb_calls: DynamoDbCalls) -> None:
    # Given a person synchronized to MDM through intake (with an idempotency key), the monitor and the delivery
    synchronize(hub)
    assert hub.stack is not None
    # Then the intake, the monitor and the delivery were seen calling DynamoDB: the sync requests, the links, the records
    by_function = {spec.name: spec.logical_id for spec in hub.functions()}
    seen = {(by_function[c.function], c.operation) for c in dynamodb_calls.calls}
    assert {("MeterDataSyncRequestsFunction", "PutItem"), ("MeterDataSyncMonitorFunction", "Query")} <= seen
    assert ("MeterDataDeliveryFunction", "TransactWriteItems") in seen
    # And every one of them is allowed by its function's policies, the idempotency records by the caller's identity
    assert denied(hub.stack, dynamodb_calls.calls, wiring.caller_user_id) == []


def test_a_policy_naming_another_flows_keys_is_refused_the_same_calls(hub: LocalHub, dynamodb_calls: DynamoDbCalls) -> None:
    # Given the same calls, and a template whose MDM delivery holds DACS's flow in place of MDM's
    synchronize(hub)
    assert hub.stack is not None
    body = deepcopy(hub.stack.template.body)
    policies = body["Resources"]["MeterDataDeliveryFunction"]["Properties"]["Policies"]
    policies[policies.index({"Ref": "MeterDataSyncRequestsPolicy"})] = {"Ref": "DacsSyncRequestsPolicy"}
    swapped = LocalStack(Template(body), parameters=hub.stack.parameters)
    swapped.physical = hub.stack.physical
    # When the checks read them against it
    refused = denied(swapped, dynamodb_calls.calls, wiring.caller_user_id)
    # Then the delivery's writes of MDM's sync requests are refused, and nothing else
    assert refused, "the MDM delivery's calls were allowed by DACS's policy"
    assert all(r.startswith("MeterDataDeliveryFunction: ") and "meter-data#" in r for r in refused), refused


def test_a_packs_function_is_refused_a_journal_write_of_another_packs_transaction(hub: LocalHub, dynamodb_calls: DynamoDbCalls) -> None:
    # Given the journal writes of a person synchronized to MDM (the meter data pack's MD-01 transaction)
    synchronize(hub)
    assert hub.stack is not None
    journal_table = hub.stack.physical["JournalTable"].ref
    writes = [c for c in dynamodb_calls.calls if c.operation == "UpdateItem" and c.request["TableName"] == journal_table]
    assert writes
    assert all(c.request["Key"]["pk"]["S"].startswith("MD-01#") for c in writes), writes
    # When the same functions write the heads of a field work and an order to cash transaction
    foreign = [
        Call(c.function, c.operation, {**c.request, "Key": {**c.request["Key"], "pk": {"S": key}}})
        for c in writes
        for key in ("FW-01#CCB/A-1", "OC-01#O-1/1")
    ]
    # Then their policies allow their own and refuse every one of another pack's (each refusal named once: the intake
    # writes the head twice, received and sent at its intake, the delivery once, synchronized)
    assert denied(hub.stack, writes, wiring.caller_user_id) == []
    by_name = {spec.name: spec.logical_id for spec in hub.functions()}
    assert sorted(by_name[c.function] for c in writes) == ["MeterDataDeliveryFunction"] + ["MeterDataSyncRequestsFunction"] * 2
    arn = hub.stack.get_att("JournalTable", "Arn")
    assert denied(hub.stack, foreign, wiring.caller_user_id) == sorted(
        {f"{by_name[c.function]}: dynamodb:UpdateItem on {arn} keys [{c.request['Key']['pk']['S']!r}]" for c in foreign}
    )
