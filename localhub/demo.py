"""The scripted scenario of every pack, driven over HTTP as an integration team would.

Each scenario returns rows (step, expected, observed, ok); the demo prints them as a table
and exits non-zero if any step did not end as expected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from localhub.auth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET
from localhub.server import LocalRuntime


@dataclass
class Row:
    pack: str
    step: str
    expected: str
    observed: str

    @property
    def ok(self) -> bool:
        return self.expected == self.observed


def token(client: httpx.Client) -> str:
    response = client.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET))
    response.raise_for_status()
    return str(response.json()["access_token"])


def wait_for_status(client: httpx.Client, path: str, wanted: set[str], timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    status = "?"
    while time.monotonic() < deadline:
        status = str(client.get(path).json().get("status"))
        if status in wanted:
            return status
        time.sleep(0.2)
    return status


def meter_data(client: httpx.Client) -> list[Row]:
    rows = []
    person = {
        "syncRequestId": "DEMO-1",
        "entityType": "PERSON",
        "entityId": "DEMO-P1",
        "changedAt": "2026-11-20T09:00:00Z",
        "data": {"name": "Ada Lovelace"},
    }
    response = client.post("/meter-data/sync-requests", json=person)
    rows.append(Row("meter-data", "MD-01 post person", "202 PENDING", f"{response.status_code} {response.json().get('status')}"))
    again = client.post("/meter-data/sync-requests", json=person)
    rows.append(Row("meter-data", "MD-01 same id again", "202 PENDING", f"{again.status_code} {again.json().get('status')}"))
    client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
    status = wait_for_status(client, "/meter-data/sync-requests/DEMO-1", {"SYNCHRONIZED", "ERROR"})
    rows.append(Row("meter-data", "MD-01 monitor + delivery", "SYNCHRONIZED", status))
    state = client.get("/_local/sim/mdm/state").json()
    contact = state["records"].get("PERSON#DEMO-P1", {}).get("data", {}).get("ContactName")
    rows.append(Row("meter-data", "MDM simulator holds the contact", "Ada Lovelace", str(contact)))
    unchanged = {**person, "syncRequestId": "DEMO-2", "changedAt": "2026-11-20T10:00:00Z"}
    client.post("/meter-data/sync-requests", json=unchanged)
    client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
    rows.append(
        Row("meter-data", "MD-01 unchanged image", "DISCARDED", wait_for_status(client, "/meter-data/sync-requests/DEMO-2", {"DISCARDED"}))
    )
    client.post("/_local/sim/mdm/faults", json={"kind": "reject", "count": 1, "reason": "demo rejection"})
    changed = {**person, "syncRequestId": "DEMO-3", "changedAt": "2026-11-20T11:00:00Z", "data": {"name": "Ada King"}}
    client.post("/meter-data/sync-requests", json=changed)
    client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
    rows.append(
        Row(
            "meter-data",
            "MD-01 negative acknowledgement",
            "ERROR",
            wait_for_status(client, "/meter-data/sync-requests/DEMO-3", {"ERROR", "SYNCHRONIZED"}),
        )
    )
    client.post("/meter-data/sync-requests/DEMO-3/resubmission")
    client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
    rows.append(
        Row(
            "meter-data",
            "MD-01 resubmitted",
            "SYNCHRONIZED",
            wait_for_status(client, "/meter-data/sync-requests/DEMO-3", {"SYNCHRONIZED", "ERROR"}),
        )
    )
    bad = client.post("/meter-data/sync-requests", json={**person, "syncRequestId": "DEMO-4", "data": {}})
    rows.append(Row("meter-data", "MD-01 invalid person", "422", str(bad.status_code)))
    return rows


SCENARIOS: dict[str, Callable[[httpx.Client], list[Row]]] = {"meter-data": meter_data}


def run_demo(runtime: LocalRuntime) -> int:
    with httpx.Client(base_url=runtime.api_url, timeout=30) as anonymous:
        bearer = token(anonymous)
    rows: list[Row] = []
    with httpx.Client(base_url=runtime.api_url, timeout=30, headers={"Authorization": f"Bearer {bearer}"}) as client:
        for scenario in SCENARIOS.values():
            rows.extend(scenario(client))
    widths = [
        max(len(getattr(r, f)) for r in [*rows, Row("pack", "step", "expected", "observed")])
        for f in ("pack", "step", "expected", "observed")
    ]
    line = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(line.format("pack", "step", "expected", "observed", "ok"))
    for row in rows:
        print(line.format(row.pack, row.step, row.expected, row.observed, "yes" if row.ok else "NO"))
    failed = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0
