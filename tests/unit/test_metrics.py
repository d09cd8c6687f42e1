"""The metrics and the dashboards (docs/metrics.md): every metric a dashboard or an alarm reads in the hub's namespace
is emitted by the code, every metric the code emits is documented, and each pack's dashboard shows the pack's dead-letter
queues, workflows and alarms."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localhub.template import ROOT, expand_for_each, load_yaml, template_files
from utilhub.syncrequests.monitor import MonitorReport

LIBRARY = ROOT / "layers" / "common" / "utilhub"
DOCS = ROOT / "docs" / "metrics.md"
NAMESPACE = "utilhub"
PACKS = sorted((ROOT / "packs").glob("*.yaml"))


def _names_in(node: ast.expr) -> Iterator[str]:
    """The metric names a ``name=`` argument can give: a literal, either side of a conditional, or an f-string as a
    pattern (its formatted parts any name)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield re.escape(node.value)
    elif isinstance(node, ast.IfExp):
        yield from _names_in(node.body)
        yield from _names_in(node.orelse)
    elif isinstance(node, ast.JoinedStr):
        yield "".join(re.escape(str(v.value)) if isinstance(v, ast.Constant) else "[A-Za-z]+" for v in node.values)


def emitted() -> dict[str, str]:
    """Every metric name (a pattern) a call of the library gives with ``name=`` and ``unit=``, with where."""
    found: dict[str, str] = {}
    for path in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            if "name" in keywords and "unit" in keywords:
                for pattern in _names_in(keywords["name"]):
                    found[pattern] = str(path.relative_to(ROOT))
    return found


def emitted_names() -> set[str]:
    """The names the patterns stand for where the code says which: the sync monitor's report, one metric per field."""
    return {f"SyncRequests{name.title().replace('_', '')}" for name in MonitorReport().as_dict()}


def documented() -> set[str]:
    return set(re.findall(r"^\| `([A-Za-z]+)` \|", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE))


def _pack(path: Path) -> dict[str, Any]:
    return expand_for_each(load_yaml(path.read_text(encoding="utf-8")))


def _dashboard_metrics(body: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(namespace, metric name, dimension value) of every metric row of a dashboard's widgets, the rows' "." read as
    the previous row's value; a search expression gives each ``MetricName="..."`` it names."""
    for widget in body["widgets"]:
        previous: list[Any] = []
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                expression = row[0]["expression"]
                schema = re.search(r"\{([^,}]+)", expression)
                assert schema, expression
                for name in re.findall(r'"([A-Za-z]+)"', expression):
                    yield schema.group(1), name, None
                continue
            options = isinstance(row[-1], dict) and not any(k == "Ref" or k.startswith("Fn::") for k in row[-1])
            values = row[:-1] if options else list(row)
            values = [previous[i] if v == "." else v for i, v in enumerate(values)]
            previous = values
            yield values[0], values[1], values[3] if len(values) > 3 else None


def read_by_templates() -> dict[str, str]:
    """Every metric of the hub's namespace an alarm or a dashboard of the templates reads, with which resource."""
    read: dict[str, str] = {}
    for path in template_files():
        for logical_id, resource in _pack(path).get("Resources", {}).items():
            properties = resource.get("Properties", {})
            if resource.get("Type") == "AWS::CloudWatch::Alarm" and properties.get("Namespace") == NAMESPACE:
                read[properties["MetricName"]] = logical_id
            if resource.get("Type") == "AWS::CloudWatch::Dashboard":
                for namespace, name, _ in _dashboard_metrics(properties["DashboardBody"]["Fn::ToJsonString"]):
                    if namespace == NAMESPACE:
                        read[name] = logical_id
    return read


def test_every_metric_a_dashboard_or_alarm_reads_is_emitted_by_the_code() -> None:
    # Given the names the code emits (a literal, or a pattern for a name it builds)
    patterns = emitted()
    # When each metric of the namespace the templates' alarms and dashboards read is looked for
    read = read_by_templates()
    assert {"TransactionsFailed", "TransactionLatency", "SyncRequestsOldestWaitingSeconds", "JournalWriteFailed"} <= set(read)
    # Then the code emits it
    missing = {name: where for name, where in read.items() if not any(re.fullmatch(p, name) for p in patterns)}
    assert not missing, f"read by the templates, emitted nowhere: {missing}"


def test_every_metric_the_code_emits_is_documented_and_every_documented_one_is_emitted() -> None:
    patterns = emitted()
    names = documented()
    assert len(names) >= 40
    # Each literal name, each pattern and each name the monitor's report gives has its row in docs/metrics.md
    undocumented = {p: where for p, where in patterns.items() if not any(re.fullmatch(p, n) for n in names)}
    undocumented |= dict.fromkeys(emitted_names() - names, "syncrequests/monitor.py")
    assert not undocumented, f"emitted, not in docs/metrics.md: {undocumented}"
    # and each row names a metric the code emits
    stale = {n for n in names if not any(re.fullmatch(p, n) for p in patterns)}
    assert not stale, f"in docs/metrics.md, emitted nowhere: {stale}"


def test_the_inventory_sees_a_metric_the_code_would_emit_and_the_docs_miss(tmp_path: Path) -> None:
    # Given a call emitting a literal name, one by a conditional, one by an f-string
    source = 'm.add_metric(name="NotDocumented", unit="Count", value=1)\nm.add_metric(name="A" if x else "B", unit=u, value=1)\n'
    source += 'm.add_metric(name=f"Parts{p.title()}", unit=u, value=1)\nm.add_dimension(name="point", value=p)\n'
    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call) and {k.arg for k in n.keywords} >= {"name", "unit"}]
    # Then each gives its names (a dimension is no metric), and the literal one is not documented
    found = [p for call in calls for p in _names_in(next(k.value for k in call.keywords if k.arg == "name"))]
    assert found == ["NotDocumented", "A", "B", "Parts[A-Za-z]+"]
    assert "NotDocumented" not in documented()


@pytest.mark.parametrize("path", PACKS, ids=lambda p: p.stem)
def test_each_pack_has_one_dashboard_showing_its_dead_letters_workflows_and_alarms(path: Path) -> None:
    # Given a pack's template
    resources = _pack(path)["Resources"]
    dashboards = [
        r["Properties"]["DashboardBody"]["Fn::ToJsonString"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    # Then it has one dashboard
    assert len(dashboards) == 1
    body = dashboards[0]
    shown = list(_dashboard_metrics(body))
    # whose widgets show each of its dead-letter queues' depth
    dead_letters = {id_ for id_, r in resources.items() if r["Type"] == "AWS::SQS::Queue" and id_.endswith("DeadLetterQueue")}
    depths = {v["Fn::GetAtt"][0] for ns, name, v in shown if (ns, name) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")}
    assert depths == dead_letters
    # each of its state machines' failed executions
    machines = {id_ for id_, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"}
    assert {v["Ref"] for ns, name, v in shown if (ns, name) == ("AWS/States", "ExecutionsFailed")} == machines
    # and every alarm of the pack in its alarm widget
    alarms = {id_ for id_, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    listed = [arn["Fn::GetAtt"][0] for w in body["widgets"] if w["type"] == "alarm" for arn in w["properties"]["alarms"]]
    assert sorted(listed) == sorted(alarms)
    # and a metric of the hub read by its flow is the pack's own
    assert {v for ns, name, v in shown if ns == NAMESPACE and name.startswith("SyncRequests")} <= {path.stem}
    # and every metric widget names its region
    assert all(w["properties"].get("region") == {"Ref": "AWS::Region"} for w in body["widgets"] if w["type"] == "metric")
