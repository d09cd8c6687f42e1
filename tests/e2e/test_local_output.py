"""Readable local output (``make run``, ``make demo``): the functions' JSON log lines go to the log file, the terminal
gets one short line per hop (time, point, id, system, outcome); ``--verbose`` brings the JSON lines back. A local hub
with a pool of execution environments, as ``python -m localhub`` builds it, drives one person sync request to MDM."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx

from localhub.__main__ import function_logs
from localhub.apigw.identities import application_clients
from localhub.aws.endpoint import reset
from localhub.callers import ApplicationAuth
from localhub.hub import LocalHub
from localhub.lambda_.logs import FunctionLogs
from localhub.lambda_.workers import WorkerPool
from localhub.server import LocalRuntime
from localhub.template import Template
from tests.helpers import until

PERSON = {
    "syncRequestId": "LOG-1",
    "entityType": "PERSON",
    "entityId": "LOG-P1",
    "changedAt": "2026-11-20T09:00:00Z",
    "data": {"name": "Ada Lovelace"},
}


def drive_one_person(logs: FunctionLogs, aws_endpoint: str) -> None:
    """A hub whose environments write to ``logs``; one person sync request, delivered to MDM and acknowledged."""
    reset(aws_endpoint)
    hub = LocalHub(workers=WorkerPool(logs=logs))
    runtime = LocalRuntime(api_port=0, aws_endpoint=aws_endpoint, run_schedules=False, poll_interval=0.05, hub=hub).start()
    try:
        assert runtime.hub.stack is not None
        auth = ApplicationAuth(runtime.api_url, application_clients(runtime.hub.stack))
        with httpx.Client(base_url=runtime.api_url, timeout=30, auth=auth) as client:
            assert client.post("/meter-data/sync-requests", json=PERSON).status_code == 202
            assert client.post("/_local/schedules/MeterDataSyncMonitorFunction/run").status_code == 200
            done = until(lambda: client.get("/meter-data/sync-requests/LOG-1").json()["status"] == "SYNCHRONIZED", 60, 0.05)
            assert done, client.get("/meter-data/sync-requests/LOG-1").json()
            # the acknowledgement's log line is written just after its state
            assert until(lambda: "acknowledged" in (logs.path.read_text() if logs.path else ""), 10, 0.05)
    finally:
        runtime.stop()
        logs.close()


def test_the_json_lines_go_to_the_file_and_the_terminal_shows_one_line_per_hop(aws_endpoint: str, tmp_path: Path) -> None:
    # Given make run's logs: the file the banner names, hop lines on the terminal
    terminal = io.StringIO()
    logs = function_logs(Template.load(), str(tmp_path / "functions.log"), verbose=False)
    logs.terminal = terminal

    # When one person sync request goes to MDM
    drive_one_person(logs, aws_endpoint)

    # Then the file holds the functions' JSON lines, the delivery's acknowledgement among them
    records = [json.loads(line) for line in (tmp_path / "functions.log").read_text().splitlines() if line.startswith("{")]
    acknowledged = [r for r in records if r.get("message") == "acknowledged"]
    assert [(r["syncRequestId"], r["result"]) for r in acknowledged] == [("LOG-1", "POSITIVE")]
    assert any(r.get("message") == "sync monitor run" for r in records)
    # And the terminal has a short line for that hop and no JSON
    shown = terminal.getvalue().splitlines()
    assert shown
    assert not [line for line in shown if line.lstrip().startswith("{")]
    hops = [line.split()[1:] for line in shown if "LOG-1" in line]
    assert ["MeterDataDelivery", "LOG-1", "-", "acknowledged", "result=POSITIVE"] in hops
    # and, when it ran before the runtime stopped, the outcome told to CCB: a hop line of its own
    others = [words for words in hops if words[0] != "MeterDataDelivery"]
    assert all(words[0] == "SyncRequestsCcbOutcomes" and words[-1] == "relayed" for words in others), hops


def test_verbose_brings_the_json_lines_back_to_the_terminal(aws_endpoint: str, tmp_path: Path) -> None:
    # Given make run --verbose
    terminal = io.StringIO()
    logs = function_logs(Template.load(), str(tmp_path / "functions.log"), verbose=True)
    logs.terminal = terminal

    # When one person sync request goes to MDM
    drive_one_person(logs, aws_endpoint)

    # Then the terminal shows the JSON lines themselves, as the file does
    shown = [json.loads(line) for line in terminal.getvalue().splitlines() if line.startswith("{")]
    assert [(r["syncRequestId"], r["result"]) for r in shown if r.get("message") == "acknowledged"] == [("LOG-1", "POSITIVE")]
    assert (tmp_path / "functions.log").read_text().count('"acknowledged"') == 1
