"""The scripted scenario of every pack, driven over HTTP as an integration team would.

Each scenario returns rows (step, expected, observed, ok); the demo prints them as a table
and exits non-zero if any step did not end as expected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    ccb_url = client.get("/_local/health").json()["simulators"]["CCB"]
    changed_in_ccb = httpx.put(f"{ccb_url}/persons/DEMO-P2", json={"name": "Mary Somerville"}, timeout=30).json()
    rows.append(Row("meter-data", "CCB simulator sends its XML sync request", "202", str(changed_in_ccb.get("hubStatus"))))
    client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
    path = f"/meter-data/sync-requests/{changed_in_ccb.get('syncRequestId')}"
    rows.append(Row("meter-data", "MD-01 from CCB XML", "SYNCHRONIZED", wait_for_status(client, path, {"SYNCHRONIZED", "ERROR"})))
    return rows


def run_monitor_until(client: httpx.Client, path: str, wanted: set[str], runs: int = 8) -> dict[str, Any]:
    """Run the sync monitor until the request at ``path`` is in one of ``wanted`` (or the runs are used up)."""
    state: dict[str, Any] = {}
    for _ in range(runs):
        client.post("/_local/schedules/MeterDataSyncMonitorFunction/run")
        wait_for_status(client, path, wanted, timeout=3)
        state = dict(client.get(path).json())
        if state.get("status") in wanted:
            break
    return state


def meter_data_ordering(client: httpx.Client) -> list[Row]:
    """A service agreement arrives before its service point: it waits, then goes by itself."""
    rows = []
    pack = "meter-data"
    sa = {
        "syncRequestId": "DEMO-SA-1",
        "entityType": "SERVICE_AGREEMENT",
        "entityId": "DEMO-SA1",
        "changedAt": "2026-11-20T12:00:00Z",
        "data": {"accountId": "DEMO-AC1", "servicePointIds": ["DEMO-SP1"], "personId": "DEMO-P1", "saType": "E-RES"},
    }
    posted = client.post("/meter-data/sync-requests", json=sa)
    rows.append(Row(pack, "MD-03 post SA before its service point", "202 PENDING", f"{posted.status_code} {posted.json().get('status')}"))
    waiting = run_monitor_until(client, "/meter-data/sync-requests/DEMO-SA-1", {"WAITING", "SENT", "SYNCHRONIZED", "ERROR"})
    parent = waiting.get("waitingFor", {})
    observed = f"{waiting.get('status')} for {parent.get('entityType')} {parent.get('entityId')}"
    rows.append(Row(pack, "MD-03 SA waits for its service point", "WAITING for SERVICE_POINT DEMO-SP1", observed))
    sp = {
        "syncRequestId": "DEMO-SP-1",
        "entityType": "SERVICE_POINT",
        "entityId": "DEMO-SP1",
        "changedAt": "2026-11-20T12:05:00Z",
        "data": {"premiseId": "DEMO-PR1", "spType": "E-RES"},
    }
    client.post("/meter-data/sync-requests", json=sp)
    point = run_monitor_until(client, "/meter-data/sync-requests/DEMO-SP-1", {"SYNCHRONIZED", "ERROR"})
    rows.append(Row(pack, "MD-02 service point arrives late", "SYNCHRONIZED", str(point.get("status"))))
    released = run_monitor_until(client, "/meter-data/sync-requests/DEMO-SA-1", {"SYNCHRONIZED", "ERROR"})
    statuses = " ".join(h["status"] for h in released.get("history", []))
    rows.append(Row(pack, "MD-03 SA released by itself", "PENDING WAITING SENT SYNCHRONIZED", statuses))
    records = client.get("/_local/sim/mdm/state").json()["records"]
    kind = records.get("SERVICE_AGREEMENT#DEMO-SA1", {}).get("kind")
    rows.append(Row(pack, "MDM simulator holds the usage subscription", "UsageSubscription", str(kind)))
    meter = {
        "syncRequestId": "DEMO-M-1",
        "entityType": "METER",
        "entityId": "DEMO-M1",
        "changedAt": "2026-11-20T12:10:00Z",
        "data": {"badgeNumber": "DEMO-B1", "meterType": "E-SMART", "serviceOrderManaged": True},
    }
    refused = client.post("/meter-data/sync-requests", json=meter)
    pointer = (refused.json().get("errors") or [{}])[0].get("pointer")
    rows.append(
        Row(pack, "MD-07 meter of an SOM-managed service point", "422 #/data/serviceOrderManaged", f"{refused.status_code} {pointer}")
    )
    return rows


def _order_line(line_id: str, sa: str, ba: str, bp: str, action: str = "ADD", **extra: object) -> dict[str, object]:
    return {
        "lineId": line_id,
        "action": action,
        "billingType": "Service Bundle",
        "billingSystemId": "BRM1",
        "serviceAccount": {"id": sa},
        "billingAccount": {"id": ba},
        "billingProfile": {"id": bp},
        **extra,
    }


def _order_result(client: httpx.Client, order_id: str, revision: int) -> dict[str, Any]:
    path = f"/order-to-cash/fulfillment-orders/{order_id}/revisions/{revision}"
    wait_for_status(client, path, {"SUCCEEDED", "FAILED"}, timeout=30)
    return dict(client.get(path).json())


def order_to_cash(client: httpx.Client) -> list[Row]:
    rows = []
    pack = "order-to-cash"
    order = {"orderId": "DEMO-ORD", "revision": 1, "lines": [_order_line("L1", "DEMO-SA", "DEMO-BA", "DEMO-BP")]}
    posted = client.post("/order-to-cash/fulfillment-orders", json=order)
    rows.append(Row(pack, "OC-01 post order revision 1", "202 RUNNING", f"{posted.status_code} {posted.json().get('status')}"))
    first = _order_result(client, "DEMO-ORD", 1)
    created = sorted(f"{o['type']}:{o['sourceId']}" for o in first.get("result", {}).get("created", []))
    rows.append(Row(pack, "OC-02 revision 1 result", "SUCCEEDED", str(first["status"])))
    rows.append(Row(pack, "OC-01 created in BRM", "account:DEMO-BA account:DEMO-SA billinfo:DEMO-BP payinfo:DEMO-BP", " ".join(created)))
    again = client.post("/order-to-cash/fulfillment-orders", json=order)
    rows.append(Row(pack, "OC-01 same revision again", "202", str(again.status_code)))
    other = client.post("/order-to-cash/fulfillment-orders", json={**order, "lines": [_order_line("L1", "DEMO-SA", "OTHER", "DEMO-BP")]})
    rows.append(Row(pack, "OC-01 other body, same revision", "409", str(other.status_code)))
    moved = {
        "orderId": "DEMO-ORD",
        "revision": 2,
        "lines": [_order_line("L1", "DEMO-SA", "DEMO-BA2", "DEMO-BP2", "UPDATE", priorValues={"billingAccountId": "DEMO-BA"})],
    }
    client.post("/order-to-cash/fulfillment-orders", json=moved)
    second = _order_result(client, "DEMO-ORD", 2)
    change = [f"{h['account']}->{h['parent']} {h['change']}" for h in second.get("result", {}).get("hierarchy", [])]
    rows.append(Row(pack, "OC-01 revision 2 moves the service account", "DEMO-SA->DEMO-BA2 CHANGED", " ".join(change)))
    split = {
        "orderId": "DEMO-ORD2",
        "revision": 1,
        "lines": [_order_line("L1", "S1", "B1", "P1"), {**_order_line("L2", "S2", "B1", "P1"), "billingSystemId": "BRM2"}],
    }
    refused = client.post("/order-to-cash/fulfillment-orders", json=split)
    rows.append(Row(pack, "OC-01 one billing profile, two billing systems", "422", str(refused.status_code)))
    return rows


SCENARIOS: dict[str, Callable[[httpx.Client], list[Row]]] = {
    "meter-data": meter_data,
    "meter-data ordering": meter_data_ordering,
    "order-to-cash": order_to_cash,
}


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
