"""The cutover from Oracle's packs over HTTP, as an operator and Siebel do it against the local hub: the sample
XREF_DATA export imported with ``utilhub xref import`` (and over the API with the ops client's token), then a change of
an imported customer in Siebel reaches CCB (CU-02 ACCEPTED, not IGNORED); importing again changes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
from click.testing import CliRunner

from localhub.server import LocalRuntime
from tests.conftest import EVENTS
from tests.helpers import bearer, until
from utilhub_cli.app import cli

SAMPLE = EVENTS / "xref_export_sample.csv"


def utilhub(runtime: LocalRuntime, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--hub", runtime.api_url, *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_customer_imported_from_an_xref_export_and_then_updated_in_siebel_reaches_ccb(
    runtime: LocalRuntime, client: httpx.Client, anonymous: httpx.Client
) -> None:
    # Given the sample export of Oracle's XREF_DATA, imported by an operator with the CLI, in parts of whole entities
    imported = utilhub(runtime, "xref", "import", str(SAMPLE), "--rows-per-request", "4")

    # When Siebel changes the name of customer 1-ABC123, which Oracle's packs had synchronized to CCB
    siebel = client.get("/_local/health").json()["simulators"]["SEBL"]
    account = httpx.get(f"{siebel}/accounts/1-ABC123", timeout=30).json()
    changed = httpx.put(f"{siebel}/accounts/1-ABC123", json={**account, "name": "Katherine G. Johnson"}, timeout=30).json()

    # Then every row had its outcome, the Siebel and CCB ids of both customers imported
    assert (imported["rows"], imported["imported"], imported["refused"]) == (19, 8, 0)
    assert imported["parts"] > 1
    assert imported["imported"] + imported["skipped"] == 19
    # And the hub accepted the update (the customer is synchronized) and CCB's person has the new name
    assert changed["hubStatus"] == 202, changed
    assert changed["hubAnswer"]["status"] == "ACCEPTED"
    name = until(
        lambda: (
            (p := client.get("/_local/sim/ccb/state").json()["records"]["PERSON#2840193756"]).get("name") == "Katherine G. Johnson" and p
        ),
        30,
        0.1,
    )
    assert name, client.get("/_local/sim/ccb/state").json()["records"]["PERSON#2840193756"]
    # And the operator finds the link, and an import of the same export over the API changes nothing
    assert utilhub(runtime, "xref", "SEBL", "1-ABC123")["ids"] == {"SEBL": "1-ABC123", "CCB": "2840193756"}
    again = anonymous.post(
        "/ops/cross-references:import",
        content=SAMPLE.read_bytes(),
        headers={**bearer(anonymous, "ops"), "content-type": "text/csv"},
    )
    assert again.status_code == 200, again.text
    assert (again.json()["imported"], again.json()["skipped"]) == (0, 19)
    # And Siebel itself may not import cross-references
    refused = anonymous.post(
        "/ops/cross-references:import", content=SAMPLE.read_bytes(), headers={**bearer(anonymous, "siebel"), "content-type": "text/csv"}
    )
    assert refused.status_code == 403
