"""Every failure sink of template.yaml raises an alarm to ``AlarmTopicArn``.

A sink is where a message or a business transaction ends when the hub could not finish it:
a dead-letter queue, a queue whose oldest message outlived its retries (stuck), a state machine's
failed executions, and each failure metric the library emits (requests in ERROR, timed out,
refused). The sinks are read from the template and from the library's own ``add_metric`` calls,
so a queue, a state machine or a failure metric added without its alarm fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localhub.template import LocalStack, Template
from utilhub.syncrequests.monitor import MonitorReport

LIBRARY = Path(__file__).resolve().parents[2] / "layers" / "common" / "utilhub"
FAILURE = re.compile(r"(Failed|Refused|TimedOut|InError|Expired|Errors?)$")
# Failure metrics whose names the pattern does not tell: a release that failed leaves its sends to the monitor's next run
# (a release that keeps failing, a grant missing say, would move every send to the monitor unseen).
ALSO_FAILURES = frozenset({"SyncReleasesLeftToMonitor"})
# A metric name built at run time, and the names it can take (read from the code that builds it).
DYNAMIC_NAMES: dict[str, list[str]] = {
    "SyncRequests{}": [f"SyncRequests{f.name.title().replace('_', '')}" for f in dataclasses.fields(MonitorReport)],
    "CustomerUpdates{}": ["CustomerUpdatesApplied", "CustomerUpdatesUnchanged", "CustomerUpdatesStale"],
    "Customers{}": ["CustomersCreated", "CustomersUpdated", "CustomersUnchanged"],
}

TEMPLATE = Template.load()


def _alarms() -> list[dict[str, Any]]:
    return [resource["Properties"] for _, resource in TEMPLATE.of_type("AWS::CloudWatch::Alarm")]


def _metrics_of(alarm: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The metrics an alarm watches: its own, or those of its metric math."""
    if "MetricName" in alarm:
        yield {"Namespace": alarm.get("Namespace"), "MetricName": alarm["MetricName"], "Dimensions": alarm.get("Dimensions", [])}
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            yield query["MetricStat"]["Metric"]


def _notifies_the_topic(alarm: dict[str, Any]) -> bool:
    return "AlarmTopicArn" in repr(alarm.get("AlarmActions"))


def _watched(namespace: str, metric: str, dimension: str, logical_id: str) -> bool:
    reference = {"Fn::GetAtt": [logical_id, "QueueName"]} if dimension == "QueueName" else {"Ref": logical_id}
    for alarm in _alarms():
        for watched in _metrics_of(alarm):
            if watched.get("Namespace") == namespace and watched.get("MetricName") == metric:
                values = [d.get("Value") for d in watched.get("Dimensions", []) if d.get("Name") == dimension]
                if reference in values and _notifies_the_topic(alarm):
                    return True
    return False


def _queues() -> dict[str, dict[str, Any]]:
    return {logical_id: resource.get("Properties", {}) for logical_id, resource in TEMPLATE.of_type("AWS::SQS::Queue")}


def _dead_letter_queues() -> list[str]:
    """Queues nothing redrives from: the end of the line for a message (an SQS redrive target, or the
    destination of failed schedules and asynchronous invocations)."""
    return [logical_id for logical_id, properties in _queues().items() if "RedrivePolicy" not in properties]


def _source_queues() -> list[str]:
    return [logical_id for logical_id, properties in _queues().items() if "RedrivePolicy" in properties]


def _names(node: ast.expr | None, where: str) -> list[str]:
    """The names a metric's ``name=`` argument can take."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _names(node.body, where) + _names(node.orelse, where)
    if isinstance(node, ast.JoinedStr):
        pattern = "".join(str(part.value) if isinstance(part, ast.Constant) else "{}" for part in node.values)
        if pattern not in DYNAMIC_NAMES:
            raise AssertionError(f"{where}: metric {pattern!r} is built at run time; list the names it takes in DYNAMIC_NAMES")
        return DYNAMIC_NAMES[pattern]
    raise AssertionError(f"{where}: a metric whose name this test cannot read")


def _failure_metrics() -> set[str]:
    """The failure metrics the library emits, from its ``add_metric(name=...)`` calls."""
    names: set[str] = set()
    for path in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_metric":
                name = next((keyword.value for keyword in node.keywords if keyword.arg == "name"), None)
                names.update(_names(name, f"{path.relative_to(LIBRARY)}:{node.lineno}"))
    return {name for name in names if FAILURE.search(name) or name in ALSO_FAILURES}


def test_the_library_emits_failure_metrics_and_the_template_has_queues_and_state_machines() -> None:
    # the lists below are read, not empty by accident
    assert {"SyncRequestsFailed", "UsageRequestsFailed", "FieldActivitiesFailed", "RelayRefused", *ALSO_FAILURES} <= _failure_metrics()
    assert len(_dead_letter_queues()) >= 9
    assert len(_source_queues()) >= 9
    assert len(list(TEMPLATE.of_type("AWS::Serverless::StateMachine"))) >= 3


@pytest.mark.parametrize("queue", _dead_letter_queues())
def test_every_dead_letter_queue_alarms_on_a_message(queue: str) -> None:
    assert _watched("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue), f"{queue} has no alarm to AlarmTopicArn"


@pytest.mark.parametrize("queue", _source_queues())
def test_every_queue_alarms_on_a_message_older_than_its_retries(queue: str) -> None:
    assert _watched("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue), f"{queue} has no stuck-message alarm"


@pytest.mark.parametrize("state_machine", [logical_id for logical_id, _ in TEMPLATE.of_type("AWS::Serverless::StateMachine")])
def test_every_state_machine_alarms_on_a_failed_execution(state_machine: str) -> None:
    assert _watched("AWS/States", "ExecutionsFailed", "StateMachineArn", state_machine), f"{state_machine} has no ExecutionsFailed alarm"


@pytest.mark.parametrize("metric", sorted(_failure_metrics()))
def test_every_failure_metric_of_the_library_has_an_alarm(metric: str) -> None:
    alarmed = {
        watched["MetricName"]
        for alarm in _alarms()
        if _notifies_the_topic(alarm)
        for watched in _metrics_of(alarm)
        if watched.get("Namespace") == "utilhub"
    }
    assert metric in alarmed, f"the library emits {metric} but no alarm watches it"


def test_the_monitors_dead_letter_queue_takes_messages_only_from_the_hubs_own_rules() -> None:
    policy = TEMPLATE.resources["MonitorDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        condition = statement.get("Condition", {})
        source = condition.get("ArnLike", {}).get("aws:SourceArn") or condition.get("ArnEquals", {}).get("aws:SourceArn")
        assert source is not None, f"{statement['Sid']}: any EventBridge rule of any account may send"
        assert "AWS::StackName" in repr(source) or "Fn::GetAtt" in repr(source)


@pytest.mark.parametrize("queue", _source_queues())
def test_a_stuck_queue_alarm_fires_after_the_queues_retry_span_not_before(queue: str) -> None:
    properties, stack = _queues()[queue], LocalStack(TEMPLATE)  # values may come from the template's mappings
    receives, visibility = (stack.resolve(v) for v in (properties["RedrivePolicy"]["maxReceiveCount"], properties["VisibilityTimeout"]))
    span = int(receives) * int(visibility) + int(properties.get("DelaySeconds", 0))
    thresholds = [
        int(alarm["Threshold"])
        for alarm in _alarms()
        for watched in _metrics_of(alarm)
        if watched.get("MetricName") == "ApproximateAgeOfOldestMessage"
        and {"Fn::GetAtt": [queue, "QueueName"]} in [d.get("Value") for d in watched.get("Dimensions", [])]
    ]
    assert thresholds == [span], f"{queue}: a message is delivered or dead-lettered within {span} s"
