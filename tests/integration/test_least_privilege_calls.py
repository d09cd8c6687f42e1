"""The AWS calls functions really make, held to their policies in the template (localhub/aws/iam.py).

Every integration test does this in its ``hub`` fixture; here a person sync request goes from intake (which sends it
at once) to MDM and back, with an idempotency key, a monitor run looking for work meanwhile, and FW-01's creation sweep
starts a field activity's workflow; the checks are shown to see the calls (DynamoDB, SQS, Secrets Manager, Step
Functions), and to refuse a policy that names another flow's keys, a template without a function's SQS or Step
Functions grant, and a call to a queue or a state machine the policies do not name.
"""

from __future__ import annotations

import json
from copy import deepcopy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from localhub.aws.iam import AwsCalls, Call, denied
from localhub.aws.throttling import AwsThrottling
from localhub.hub import LocalHub
from localhub.template import LocalStack, Template
from tests.helpers import synchronize_service_points
from tests.integration.test_field_work_activities import SWEEP, activity, post, settled, view
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


def test_a_sync_requests_calls_are_each_allowed_by_its_functions_policies(hub: LocalHub, aws_calls: AwsCalls) -> None:
    # Given a person synchronized to MDM through intake (with an idempotency key), the monitor and the delivery
    synchronize(hub)
    assert hub.stack is not None
    # Then the intake, the monitor and the delivery were seen calling DynamoDB: the sync requests, the links, the records
    by_function = {spec.name: spec.logical_id for spec in hub.functions()}
    seen = {(by_function[c.function], c.operation) for c in aws_calls.calls}
    assert {("MeterDataSyncRequestsFunction", "PutItem"), ("MeterDataSyncMonitorFunction", "Query")} <= seen
    assert ("MeterDataDeliveryFunction", "TransactWriteItems") in seen
    # And every one of them is allowed by its function's policies, the idempotency records by the caller's identity
    assert denied(hub.stack, aws_calls.calls, wiring.caller_user_id) == []


def test_a_policy_naming_another_flows_keys_is_refused_the_same_calls(hub: LocalHub, aws_calls: AwsCalls) -> None:
    # Given the same calls, and a template whose MDM delivery holds DACS's flow in place of MDM's
    synchronize(hub)
    assert hub.stack is not None
    body = deepcopy(hub.stack.template.body)
    policies = body["Resources"]["MeterDataDeliveryFunction"]["Properties"]["Policies"]
    policies[policies.index({"Ref": "MeterDataSyncRequestsPolicy"})] = {"Ref": "DacsSyncRequestsPolicy"}
    swapped = LocalStack(Template(body), parameters=hub.stack.parameters)
    swapped.physical = hub.stack.physical
    # When the checks read them against it
    refused = denied(swapped, aws_calls.calls, wiring.caller_user_id)
    # Then the delivery's writes of MDM's sync requests are refused, and nothing else
    assert refused, "the MDM delivery's calls were allowed by DACS's policy"
    assert all(r.startswith("MeterDataDeliveryFunction: ") and "meter-data#" in r for r in refused), refused


def test_a_packs_function_is_refused_a_journal_write_of_another_packs_transaction(hub: LocalHub, aws_calls: AwsCalls) -> None:
    # Given the journal writes of a person synchronized to MDM (the meter data pack's MD-01 transaction)
    synchronize(hub)
    assert hub.stack is not None
    journal_table = hub.stack.physical["JournalTable"].ref
    writes = [
        c
        for c in aws_calls.calls
        if c.operation == "UpdateItem" and c.request.get("TableName") == journal_table and c.request["TableName"] == journal_table
    ]
    assert writes
    assert all(c.request["Key"]["pk"]["S"].startswith("MD-01#") for c in writes), writes
    # When the same functions write the heads of a field work and an order to cash transaction
    foreign = [
        Call(c.function, c.service, c.operation, {**c.request, "Key": {**c.request["Key"], "pk": {"S": key}}})
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


def without_policy(stack: LocalStack, function: str, dropped: dict[str, Any]) -> LocalStack:
    """A copy of ``stack`` whose template has ``function`` without the policy ``dropped`` (as written in it)."""
    body = deepcopy(stack.template.body)
    policies = body["Resources"][function]["Properties"]["Policies"]
    assert dropped in policies, policies
    policies.remove(dropped)
    copy = LocalStack(Template(body), parameters=stack.parameters)
    copy.physical = stack.physical
    return copy


def of(hub: LocalHub, calls: list[Call], function: str, service: str) -> list[Call]:
    by_name = {spec.name: spec.logical_id for spec in hub.functions()}
    return [c for c in calls if by_name.get(c.function) == function and c.service == service]


def test_a_sync_requests_queue_sends_are_checked_and_refused_without_the_send_policy(hub: LocalHub, aws_calls: AwsCalls) -> None:
    # Given a person synchronized to MDM: the intake sends it to MDM's delivery queue, the delivery reads MDM's secret
    synchronize(hub)
    assert hub.stack is not None
    queue = hub.stack.get_att("MdmDeliveryQueue", "Arn")
    sends = of(hub, aws_calls.calls, "MeterDataSyncRequestsFunction", "sqs")
    assert sends
    assert {c.operation for c in sends} <= {"SendMessage", "SendMessageBatch"}
    assert of(hub, aws_calls.calls, "MeterDataDeliveryFunction", "secretsmanager"), "the delivery's secret read was not seen"
    assert denied(hub.stack, aws_calls.calls, wiring.caller_user_id) == []

    # When the same calls are read against a template whose intake has no SQSSendMessagePolicy on that queue
    send_policy = {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["MdmDeliveryQueue", "QueueName"]}}}
    refused = denied(without_policy(hub.stack, "MeterDataSyncRequestsFunction", send_policy), aws_calls.calls, wiring.caller_user_id)

    # Then its sends are refused, and nothing else
    assert refused == [f"MeterDataSyncRequestsFunction: sqs:SendMessage on {queue}"]

    # And a send of the intake to a queue its policies do not name (the outcomes' dead-letter queue) is refused
    other = hub.stack.physical["CcbOutcomeDeadLetterQueue"]
    elsewhere = [replace(c, request={**c.request, "QueueUrl": other.ref}) for c in sends]
    assert denied(hub.stack, elsewhere, wiring.caller_user_id) == [
        f"MeterDataSyncRequestsFunction: sqs:SendMessage on {other.attributes['Arn']}"
    ]


def test_the_creation_sweeps_step_functions_calls_are_checked_and_refused_without_their_grants(hub: LocalHub, aws_calls: AwsCalls) -> None:
    # Given a field activity recorded CREATING whose workflow could not be started (Step Functions throttled), started
    # by the sweep past its bound
    synchronize_service_points(hub, "SP-1")
    with AwsThrottling(1.0, operations=frozenset({"stepfunctions.StartExecution"})):
        assert post(hub, activity("A-IAM", "CONNECT")).status == 503
    assert view(hub, "CCB", "A-IAM")["status"] == "CREATING"
    past = hub.run_schedule(SWEEP, at=datetime.now(UTC) + timedelta(seconds=10_900)).result
    assert past == {"ended": 0, "running": 0, "started": 1, "outOfTime": 0}
    assert settled(hub, "CCB", "A-IAM")["status"] == "LINKED"
    assert hub.stack is not None

    # Then the sweep was seen describing the attempt's execution (it did not exist) and starting it, on the workflow
    machine = hub.stack.get_att("FieldActivityStateMachine", "Arn")
    calls = of(hub, aws_calls.calls, SWEEP, "stepfunctions")
    assert [c.operation for c in calls] == ["DescribeExecution", "StartExecution"]
    described, started = calls
    assert described.request["executionArn"].startswith(machine.replace(":stateMachine:", ":execution:", 1) + ":")
    assert started.request["stateMachineArn"] == machine
    # and the intake's start, throttled, was seen too (AWS authorizes a call before it throttles it)
    assert [c.operation for c in of(hub, aws_calls.calls, "FieldWorkActivitiesFunction", "stepfunctions")] == ["StartExecution"]
    # And every call of the run is allowed by its function's policies
    assert denied(hub.stack, aws_calls.calls, wiring.caller_user_id) == []

    # When the same calls are read against a template whose sweep has no StepFunctionsExecutionPolicy, then none
    # of its grant of DescribeExecution
    start_policy = {"StepFunctionsExecutionPolicy": {"StateMachineName": {"Fn::GetAtt": ["FieldActivityStateMachine", "Name"]}}}
    describe_policy = next(
        p for p in hub.stack.template.resources[SWEEP]["Properties"]["Policies"] if "states:DescribeExecution" in json.dumps(p)
    )
    no_start = denied(without_policy(hub.stack, SWEEP, start_policy), aws_calls.calls, wiring.caller_user_id)
    no_describe = denied(without_policy(hub.stack, SWEEP, describe_policy), aws_calls.calls, wiring.caller_user_id)

    # Then each refuses that call of the sweep, and nothing else
    assert no_start == [f"{SWEEP}: states:StartExecution on {machine}"]
    assert no_describe == [f"{SWEEP}: states:DescribeExecution on {described.request['executionArn']}"]

    # And the sweep starting, or describing an execution of, another workflow (the fulfillment orders') is refused
    other = hub.stack.get_att("FulfillmentOrderStateMachine", "Arn")
    execution = f"{other.replace(':stateMachine:', ':execution:', 1)}:x"
    elsewhere = [
        replace(started, request={**started.request, "stateMachineArn": other}),
        replace(described, request={"executionArn": execution}),
    ]
    assert denied(hub.stack, elsewhere, wiring.caller_user_id) == [
        f"{SWEEP}: states:DescribeExecution on {execution}",
        f"{SWEEP}: states:StartExecution on {other}",
    ]


def test_a_dead_letter_redrive_needs_a_send_to_the_queues_its_messages_came_from(hub: LocalHub) -> None:
    # Given the operators' redrive of MDM's delivery dead-letter queue (no destination: its messages go back to the
    # queue whose redrive policy names it), as the operations function starts it
    assert hub.stack is not None
    function = hub.stack.physical["OperationsDeadLettersFunction"].ref
    dead_letters = hub.stack.get_att("MdmDeliveryDeadLetterQueue", "Arn")
    redrive = [Call(function, "sqs", "StartMessageMoveTask", {"SourceArn": dead_letters})]
    # Then its policies allow it: the task, the receive and delete on the dead-letter queue, the send to the delivery queue
    assert denied(hub.stack, redrive, wiring.caller_user_id) == []

    # When its statement of sends to the source queues is taken out of a copy of the template
    body = deepcopy(hub.stack.template.body)
    policies = body["Resources"]["OperationsDeadLettersFunction"]["Properties"]["Policies"]
    statements = next(p["Statement"] for p in policies if "Statement" in p)
    statements[:] = [s for s in statements if "sqs:SendMessage" not in s["Action"]]
    copy = LocalStack(Template(body), parameters=hub.stack.parameters)
    copy.physical = hub.stack.physical

    # Then the redrive is refused its send to the delivery queue, and nothing else
    queue = hub.stack.get_att("MdmDeliveryQueue", "Arn")
    assert denied(copy, redrive, wiring.caller_user_id) == [f"OperationsDeadLettersFunction: sqs:SendMessage on {queue}"]


def test_a_write_to_an_encrypted_bucket_needs_its_prefix_and_the_data_key_and_an_unknown_call_is_refused(hub: LocalHub) -> None:
    # Given FW-07's upload of a photo under attachments/ of the field work bucket (encrypted with the data key)
    assert hub.stack is not None
    function = hub.stack.physical["FieldWorkActivitiesFunction"].ref
    bucket = hub.stack.physical["FieldWorkAttachmentBucket"].ref
    upload = Call(function, "s3", "PutObject", {"Bucket": bucket, "Key": "attachments/CCB/A-1/ATT-1"})
    # Then its policies allow it; the same write outside attachments/ is refused
    assert denied(hub.stack, [upload], wiring.caller_user_id) == []
    outside = replace(upload, request={"Bucket": bucket, "Key": "upload/ATT-1"})
    assert denied(hub.stack, [outside], wiring.caller_user_id) == [
        f"FieldWorkActivitiesFunction: s3:PutObject on arn:aws:s3:::{bucket}/upload/ATT-1"
    ]

    # When the policy that holds its use of the data key is taken out of a copy of the template
    no_key = without_policy(hub.stack, "FieldWorkActivitiesFunction", {"Ref": "FieldWorkIdempotencyRecordsPolicy"})
    # Then the write is refused the data key S3 encrypts the object with, and nothing else
    key = hub.stack.get_att("DataKey", "Arn")
    assert denied(no_key, [upload], wiring.caller_user_id) == [f"FieldWorkActivitiesFunction: kms:GenerateDataKey on {key}"]

    # And a call of a service the checks have no model of is refused, named as such, never let through
    publish = Call(function, "sns", "Publish", {"TopicArn": hub.stack.arn("sns", "t"), "Message": "m"})
    assert denied(hub.stack, [publish], wiring.caller_user_id) == [
        "FieldWorkActivitiesFunction: sns:Publish on (no model of this service's authorization in localhub/aws/iam.py)"
    ]
