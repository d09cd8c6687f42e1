"""MD-11 bill run: usage requests posted in batches, fanned out to MDM, determinants at CCB once.

``python -m benchmarks.bill_run [--requests 10000] [--counted 200]``

1. **Throughput over HTTP** (``--requests``): starts ``python -m localhub --no-schedules`` on free ports
   (as ``make run`` serves it), posts a bill run of ``--requests`` usage requests (``:batch`` of 1,000,
   4 clients at once, seeded SAs ``SA-00001`` ..), and waits until CCB's simulator holds the determinants
   of every one. Requests per second = requests / (first post .. last determinants at CCB). Every request
   must be billed once: none missing, none received twice.
2. **AWS calls and cost per request** (``--counted``): the same bill run in-process, every botocore call
   recorded with the function that made it (:class:`benchmarks.aws_calls.Recorder`), after a warm-up;
   the release schedule runs once (its scan is shared by the run). Cost per million requests from
   :func:`benchmarks.cost.cost_per_message` (us-east-1 list prices; each queue at its own rate, FIFO or
   standard; one target answer per request counted, MDM's and CCB's are two), beside its floor
   (:func:`benchmarks.cost.floor_per_message`); ``--summary`` writes that line as JSON for ``make bench``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from benchmarks import cost as cost_model
from benchmarks.aws_calls import RUNTIME, Recorder, Scenario, ScenarioFailed, TableInfo, item_facts, table_info
from benchmarks.common import captured, figure, format_table
from benchmarks.local_runtime import started_hub
from localhub.aws.endpoint import embedded_aws

INTAKE = "MeterDataUsageRequestsFunction"
DELIVERY = "MeterDataUsageDeliveryFunction"
RELEASE = "MeterDataUsageReleaseFunction"
TABLES = ("MeterDataUsageRequestTable", "IdempotencyTable", "SyncRequestTable", "JournalTable")
BATCH = 1000
CLIENTS = 4
CLAIMS = {"scope": "utilhub/meter-data", "client_id": "ccb", "token_use": "access"}
JSON_HEADERS = {"content-type": "application/json"}


def bill_run(prefix: str, count: int) -> list[list[dict[str, Any]]]:
    """``count`` usage requests for October, SA by SA of the seeded set, in batches of 1,000."""
    requests = [
        {
            "usageRequestId": f"{prefix}-{n:06d}",
            "saId": f"SA-{n % 20_000 + 1:05d}",
            "periodStart": "2026-10-01",
            "periodEnd": "2026-11-01",
        }
        for n in range(count)
    ]
    return [requests[i : i + BATCH] for i in range(0, count, BATCH)]


# ------------------------------------------------------------------------------ 1. over HTTP
def throughput(count: int) -> dict[str, Any]:
    log = Path(tempfile.gettempdir()) / "utilhub-bench-bill-run.log"
    with started_hub(log) as hub:
        headers = {**hub.bearer(), "Content-Type": "application/json"}  # fetches the token (hub.token is empty until then)
        started = time.perf_counter()
        with httpx.Client(base_url=hub.api, timeout=300, headers=headers) as client, ThreadPoolExecutor(CLIENTS) as pool:

            def send(batch: list[dict[str, Any]]) -> None:
                for _ in range(20):
                    response = client.post("/meter-data/usage-requests:batch", content=json.dumps({"requests": batch}))
                    if response.status_code == 202:
                        if response.json()["accepted"] != len(batch):
                            raise RuntimeError(f"batch partly refused: {response.text[:300]}")
                        return
                    if response.status_code not in (429, 503):
                        raise RuntimeError(f"batch refused: {response.status_code} {response.text[:300]}")
                    time.sleep(float(response.headers.get("retry-after", "1")))
                raise RuntimeError("batch refused 20 times")

            list(pool.map(send, bill_run("BR", count)))
            posted = time.perf_counter() - started
            state: dict[str, Any] = {}
            deadline = time.monotonic() + max(600, count / 5)
            while time.monotonic() < deadline:
                state = client.get("/_local/sim/ccb/state", params={"summary": "1"}).json()
                if state["usageRequestsBilled"] >= count:
                    break
                time.sleep(0.5)
            seconds = time.perf_counter() - started
    return {
        "requests": count,
        "postSeconds": posted,
        "seconds": seconds,
        "billed": state.get("usageRequestsBilled", 0),
        "received": state.get("billDeterminantsReceived", 0),
        "twice": len(state.get("usageRequestsReceivedTwice", [])),
    }


# ------------------------------------------------------------------------------ 2. counted in-process
def _tables(hub: Any) -> dict[str, TableInfo]:
    import boto3

    client = boto3.session.Session().client("dynamodb")
    tables: dict[str, TableInfo] = {}
    for logical_id in TABLES:
        description = client.describe_table(TableName=hub.resources()[logical_id])["Table"]
        tables[description["TableName"]] = table_info(description)
    return tables


def counted(count: int) -> tuple[Scenario, cost_model.Cost, cost_model.Floor]:
    recorder = Recorder()
    with captured() as output, embedded_aws():
        from localhub.hub import LocalHub

        hub = LocalHub().start()
        recorder.install()
        try:
            with recorder.pause():
                tables = _tables(hub)

            def run(prefix: str, size: int) -> None:
                for batch in bill_run(prefix, size):
                    response = hub.call_api(
                        "POST",
                        "/meter-data/usage-requests:batch",
                        body=json.dumps({"requests": batch}),
                        headers=JSON_HEADERS,
                        claims=CLAIMS,
                    )
                    if response.status != 202 or response.json()["accepted"] != len(batch):
                        raise ScenarioFailed(f"bill run intake answered {response.status}: {response.body[:300]!r}")
                release = hub.run_schedule(RELEASE)
                if release.failed:
                    raise ScenarioFailed(f"the release schedule failed: {release.error}")
                hub.drain(max_polls=10_000)

            run("WARM", 5)  # imports, clients, the targets' secrets, as in warm containers
            recorder.reset()
            logs_before = output.stdout_bytes()
            billed_before = hub.simulators["CCB"].state(summary=True)["billDeterminantsReceived"]
            run("COUNT", count)
            billed = hub.simulators["CCB"].state(summary=True)["billDeterminantsReceived"] - billed_before
            if billed != count:
                raise ScenarioFailed(f"CCB received {billed} determinants for {count} usage requests")
            log_bytes = output.stdout_bytes() - logs_before
            with recorder.pause():
                sizes, histories = item_facts(tables)
            scenario = Scenario(
                "bill run",
                count,
                list(recorder.calls),
                Counter(recorder.invocations),
                dict(recorder.cpu_seconds),
                log_bytes,
                sizes,
                tables,
                histories,
            )
        finally:
            recorder.uninstall()
            hub.stop()
    cpu = cost_model.CpuPerMessage(
        intake=scenario.cpu_seconds.get(INTAKE, 0.0) / count * 1e6, render=scenario.cpu_seconds.get(DELIVERY, 0.0) / count * 1e6
    )
    cost = cost_model.cost_per_message(scenario, cpu, api_function=INTAKE, delivery_function=DELIVERY)
    return scenario, cost, cost_model.floor_per_message(scenario, api_function=INTAKE, delivery_function=DELIVERY)


# ------------------------------------------------------------------------------ report
SHORT = {INTAKE: "intake", DELIVERY: "delivery", RELEASE: "release", RUNTIME: "runtime (Lambda's SQS poller)"}


def report(result: dict[str, Any], scenario: Scenario, cost: cost_model.Cost) -> str:
    lines = [
        f"bill run of {result['requests']:,} usage requests over HTTP: posted in {result['postSeconds']:.1f} s, all at CCB after "
        f"{result['seconds']:.1f} s = {result['requests'] / result['seconds']:.1f} requests/s; billed {result['billed']:,}, "
        f"determinants received {result['received']:,}, received twice {result['twice']}",
        "",
        f"AWS calls per usage request ({scenario.messages} counted in-process, warm)",
    ]
    per = scenario.per_message()
    rows = [[SHORT.get(f, f), op, figure(v)] for (f, op), v in sorted(per.items(), key=lambda kv: (kv[0][0] == RUNTIME, kv[0]))]
    functions_total = sum(v for (f, _), v in per.items() if f != RUNTIME)
    runtime_total = sum(v for (f, op), v in per.items() if f == RUNTIME and "empty" not in op)
    rows.append(["all functions", "total", figure(functions_total)])
    rows.append(["runtime", "total (without empty polls)", figure(runtime_total)])
    lines.append(format_table(["function", "operation", "per request"], rows, right={2}))
    lines.append("")
    lines.append(f"Cost per million usage requests on AWS (USD, {cost_model.REGION} list prices; benchmarks/cost.py)")
    cost_rows = [[service, f"{value * 1e6:.3f}"] for service, value in cost.by_service.items()]
    cost_rows.append(["total", f"{cost.total * 1e6:.2f}"])
    lines.append(format_table(["service", "USD / million"], cost_rows, right={1}))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bill_run", description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000, help="usage requests in the bill run posted over HTTP")
    parser.add_argument("--counted", type=int, default=200, help="usage requests whose AWS calls are counted in-process")
    parser.add_argument("--summary", type=Path, default=None, help="write the bill run's line of the per-point cost table here (JSON)")
    args = parser.parse_args(argv)
    result = throughput(args.requests)
    scenario, cost, floor = counted(args.counted)
    print(report(result, scenario, cost))
    print(f"\nWhere the DynamoDB write units go, per usage request (largest first)\n{cost_model.write_breakdown_table(scenario)}")
    if args.summary is not None:
        from benchmarks import capacity

        point = cost_model.point_figures("MD-11 bill run usage request", scenario, cost, floor)
        measured = capacity.measured(point.point, scenario, point.usd_per_million)
        args.summary.write_text(
            json.dumps({"point": dataclasses.asdict(point), "measured": dataclasses.asdict(measured)}), encoding="utf-8"
        )
    return 1 if result["billed"] != args.requests or result["twice"] or result["received"] != args.requests else 0


if __name__ == "__main__":
    sys.exit(main())
