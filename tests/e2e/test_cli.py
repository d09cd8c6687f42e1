"""The ``utilhub`` CLI against the local hub over HTTP, as an operator runs it (``--hub`` with the local ``ops``
client): a dead-letter queue redriven, DACS's initial extract started and followed to its summary, and the held-out
scenario: an OC-01 order failed by a BRM outage found with ``find``, followed with ``trace``, resubmitted with
``resubmit`` and found SUCCEEDED."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from localhub.aws import sfn_waits
from localhub.server import LocalRuntime
from localhub.simulators.ccb_extract import ccb_extract_lines, expected_counts
from tests.conftest import sample_event
from tests.helpers import bearer, until
from utilhub_cli.app import cli

ROOT = Path(__file__).parents[2]


def utilhub(runtime: LocalRuntime, aws_endpoint: str, *args: str) -> Any:
    """``utilhub --hub <the local hub> ARGS --json``: its exit code 0, its JSON output."""
    result = CliRunner().invoke(cli, ["--hub", runtime.api_url, "--aws-endpoint", aws_endpoint, *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def dead_letter_depths(anonymous: httpx.Client) -> dict[str, int]:
    answer = anonymous.get("/ops/dead-letters", headers=bearer(anonymous, "ops"))
    assert answer.status_code == 200, answer.text
    return {item["queue"]: item["messages"] for item in answer.json()["items"]}


def test_a_relayed_change_dead_lettered_by_a_ccb_outage_is_redriven_with_utilhub_redrive(
    runtime: LocalRuntime, aws_endpoint: str, client: httpx.Client, anonymous: httpx.Client
) -> None:
    # Given MDM's bill cycle change dead-lettered while CCB was down beyond the relay queue's tries
    assert client.post("/_local/sim/ccb/faults", json={"kind": "down", "count": 1000}).status_code == 201
    change = json.loads(sample_event("meter_data/billing_events/bill-cycle-changes.json")["body"])
    assert client.post("/meter-data/bill-cycle-changes", json=change).status_code == 202
    dead = until(lambda: client.post("/_local/queues/redeliver-now") and dead_letter_depths(anonymous)["meter-data/relay"] == 1, 60, 0.1)
    assert dead, dead_letter_depths(anonymous)
    assert client.delete("/_local/sim/ccb/faults").status_code == 204

    # When the operator redrives the queue with the CLI
    answer = utilhub(runtime, aws_endpoint, "redrive", "meter-data/relay")

    # Then one message went back, and CCB receives the change
    assert {k: v for k, v in answer.items() if k != "taskHandle"} == {"queue": "meter-data/relay", "messages": 1}
    received = until(lambda: client.get("/_local/sim/ccb/state").json()["records"].get("SP_BILL_CYCLE#SP-0001"), 30, 0.1)
    assert received, client.get("/_local/sim/ccb/state").json()
    assert received["billCycle"] == change["billCycle"]
    # And a second redrive finds the queue empty: refused, exit status 1
    again = CliRunner().invoke(cli, ["--hub", runtime.api_url, "redrive", "meter-data/relay"], catch_exceptions=False)
    assert again.exit_code == 1
    assert "409" in again.output


def test_the_initial_extract_is_started_from_a_file_and_followed_to_its_summary(
    runtime: LocalRuntime, aws_endpoint: str, tmp_path: Path
) -> None:
    # Given CCB's extract of 40 persons in a file on the operator's machine
    source = tmp_path / "persons.jsonl"
    source.write_bytes(b"".join(ccb_extract_lines(40)))

    # When the operator starts DA-01 with it, in parts of 10 persons, and follows it
    started = utilhub(
        runtime, aws_endpoint, "extract", "start", "--file", str(source), "--run-id", "initial-cli", "--persons-per-part", "10"
    )
    followed = utilhub(runtime, aws_endpoint, "extract", "follow", "initial-cli", "--interval", "0.1")

    # Then the run read the uploaded file, wrote its 4 parts, and its summary counts every eligible entity
    assert started["runId"] == "initial-cli"
    assert started["sourceKey"].startswith("ccb/initial-cli-")
    assert (followed["status"], followed["parts"], followed["partsWritten"], followed["error"]) == ("SUCCEEDED", 4, 4, None)
    assert {k: followed["summary"][k] for k in expected_counts(40)} == expected_counts(40)
    # And following it again answers the same summary at once
    assert utilhub(runtime, aws_endpoint, "extract", "follow", "initial-cli")["summary"] == followed["summary"]


def test_an_unknown_run_is_not_found(runtime: LocalRuntime, aws_endpoint: str) -> None:
    result = CliRunner().invoke(
        cli, ["--hub", runtime.api_url, "--aws-endpoint", aws_endpoint, "extract", "follow", "initial-nowhere"], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert "no DA-01 run initial-nowhere" in result.output


def test_the_console_script_runs_as_a_process_against_the_hub(runtime: LocalRuntime, tmp_path: Path) -> None:
    # The command as installed runs `utilhub_cli.app:main`; `python -m utilhub_cli` is the same entry
    answer = subprocess.run(  # noqa: S603 - this interpreter running the project's own module
        [sys.executable, "-m", "utilhub_cli", "--hub", runtime.api_url, "redrive", "field-work/nowhere", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert answer.returncode == 1, answer
    assert "error: 404 Not found: No dead-letter queue nowhere in field-work." in answer.stderr


def test_an_order_failed_by_a_brm_outage_is_found_traced_resubmitted_and_succeeds(
    runtime: LocalRuntime, aws_endpoint: str, client: httpx.Client
) -> None:
    order = {
        "orderId": "E2E-CLI",
        "revision": 1,
        "lines": [
            {
                "lineId": "L1",
                "action": "ADD",
                "billingType": "Service Bundle",
                "billingSystemId": "BRM1",
                "serviceAccount": {"id": "E2E-CLI-SA"},
                "billingAccount": {"id": "E2E-CLI-BA"},
                "billingProfile": {
                    "id": "E2E-CLI-BP",
                    "paymentMethod": "Credit Card",
                    "creditCard": {"number": "4111111111111111", "expiry": "1229", "holderName": "E2E Holder"},
                },
            }
        ],
    }
    revision = "/order-to-cash/fulfillment-orders/E2E-CLI/revisions/1"

    def ended() -> Any:
        return until(lambda: (body := client.get(revision).json()).get("status") in ("SUCCEEDED", "FAILED") and body, 30, 0.05)

    with sfn_waits.scaled(0.001):
        # Given an OC-01 order failed by a BRM outage longer than the workflow's retries
        assert client.post("/_local/sim/brm/faults", json={"kind": "down", "count": 1000, "after": 1}).status_code == 201
        assert client.post("/order-to-cash/fulfillment-orders", json=order).status_code == 202
        assert ended()["status"] == "FAILED"
        assert client.delete("/_local/sim/brm/faults").status_code == 204

        # When the operator finds it among the failed OC-01 transactions
        found = utilhub(runtime, aws_endpoint, "find", "--point", "OC-01", "--state", "FAILED")
        mine = [item for item in found if item["id"].startswith("E2E-CLI")]
        assert len(mine) == 1, found
        assert set(mine[0]) == {"point", "id", "state", "reason"}
        assert (mine[0]["point"], mine[0]["state"]) == ("OC-01", "FAILED")
        assert mine[0]["reason"]
        # and follows it: its timeline reaches BRM, whose failure it shows
        traced = utilhub(runtime, aws_endpoint, "trace", "OC-01", mine[0]["id"])
        assert (traced["point"], traced["id"], traced["state"]) == ("OC-01", mine[0]["id"], "FAILED")
        assert any(hop["system"] == "BRM" for hop in traced["timeline"]), traced
        # and resubmits it with the id `find` gave
        resubmitted = utilhub(runtime, aws_endpoint, "resubmit", "OC-01", mine[0]["id"])
        assert (resubmitted["point"], resubmitted["id"]) == ("OC-01", mine[0]["id"])
        assert ended()["status"] == "SUCCEEDED"

    # Then the CLI finds it COMPLETED, its detail state SUCCEEDED
    final = until(lambda: (t := utilhub(runtime, aws_endpoint, "trace", "OC-01", mine[0]["id"]))["state"] == "COMPLETED" and t, 30, 0.1)
    assert final, utilhub(runtime, aws_endpoint, "trace", "OC-01", mine[0]["id"])
    assert final["detailState"] == "SUCCEEDED"
