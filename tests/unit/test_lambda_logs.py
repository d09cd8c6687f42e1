"""The functions' output as ``make run`` shows it (localhub.lambda_.logs): every line to the log file, one hop line
per JSON record on the terminal, or (verbose) the JSON itself."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from localhub.lambda_.logs import FunctionLogs, function_labels, hop_line

ACKNOWLEDGED = {
    "level": "INFO",
    "message": "acknowledged",
    "timestamp": "2026-12-07 05:38:20,666+0000",
    "function_name": "utilhub-local-MeterDataDeliveryFunction",
    "syncRequestId": "SR-1",
    "result": "POSITIVE",
}

METRIC = {"_aws": {"Timestamp": 1796622252262, "CloudWatchMetrics": []}, "service": "utilhub", "SyncRequestsQueued": [1.0]}


def test_a_json_record_is_one_hop_line_with_time_point_id_system_and_outcome() -> None:
    line = hop_line(
        "FW-02",
        {
            "level": "WARNING",
            "message": "event refused by a linked system",
            "timestamp": "2026-12-07 05:38:20,666+0000",
            "activityId": "A-1",
            "target": "MWM",
        },
    )
    assert line.split() == ["05:38:20", "FW-02", "A-1", "MWM", "WARN", "event", "refused", "by", "a", "linked", "system"]


def test_a_workflow_step_names_its_order_billing_system_and_task() -> None:
    line = hop_line("OC-01", {"message": "brm step", "task": "ensureAccount", "order": "ORD-1#2", "billingSystemId": "BRM1"})
    assert line.split()[1:] == ["OC-01", "ORD-1#2", "BRM1", "brm", "step", "task=ensureAccount"]


def test_an_order_revision_is_named_as_the_operations_api_names_it() -> None:
    line = hop_line("OC-01", {"message": "revision failed", "orderId": "ORD-1", "revision": 2, "error": "TargetUnavailable"})
    assert "ORD-1/2" in line.split()
    assert line.endswith("revision failed error=TargetUnavailable")


def test_a_function_is_labelled_by_the_catalogue_ids_its_description_names_else_by_its_name() -> None:
    labels = function_labels(
        {
            "OrderToCashOrdersFunction": "OSM fulfillment order revisions in (OC-01) and resubmitted, their status and result out (OC-02)",
            "MeterDataDeliveryFunction": "Sends queued sync requests to MDM and records the acknowledgement",
        }
    )
    assert labels == {"OrderToCashOrdersFunction": "OC-01,OC-02", "MeterDataDeliveryFunction": "MeterDataDelivery"}


def test_the_file_holds_every_line_and_the_terminal_one_hop_line_per_json_record(tmp_path: Path) -> None:
    # Given the logs of make run (not verbose)
    terminal = io.StringIO()
    logs = FunctionLogs(tmp_path / "logs" / "functions.log", terminal, labels={"MeterDataDeliveryFunction": "MD-01..10"})

    # When an environment writes a JSON record, a line that is not JSON and a metric, through a pipe as a worker's stdout
    read, write = os.pipe()
    reader = logs.follow("MeterDataDeliveryFunction", os.fdopen(read, "rb"))
    with os.fdopen(write, "wb") as stdout:
        stdout.write(json.dumps(ACKNOWLEDGED).encode() + b"\nTraceback (most recent call last):\n" + json.dumps(METRIC).encode() + b"\n")
    reader.join(5)
    logs.close()

    # Then the file holds every line as written, and the terminal only the hop line
    assert (tmp_path / "logs" / "functions.log").read_text().splitlines() == [
        json.dumps(ACKNOWLEDGED),
        "Traceback (most recent call last):",
        json.dumps(METRIC),
    ]
    assert terminal.getvalue().split() == ["05:38:20", "MD-01..10", "SR-1", "-", "acknowledged", "result=POSITIVE"]


def test_verbose_prints_the_json_lines_on_the_terminal_and_still_writes_the_file(tmp_path: Path) -> None:
    terminal = io.StringIO()
    logs = FunctionLogs(tmp_path / "functions.log", terminal, verbose=True)

    logs.write("MeterDataDeliveryFunction", json.dumps(ACKNOWLEDGED) + "\n")
    logs.close()

    assert terminal.getvalue() == json.dumps(ACKNOWLEDGED) + "\n"
    assert (tmp_path / "functions.log").read_text() == json.dumps(ACKNOWLEDGED) + "\n"
