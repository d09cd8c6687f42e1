"""``make bench``: every benchmark in one run, printed as tables of ratios to their floors.

``python -m benchmarks`` (full, under two minutes on two cores) or ``--quick`` (a short run
with fewer iterations and messages: for checking that the benchmarks work, not for figures);
``--aws-calls-only``: CPU rows 1 to 3 and 5, MD-01's AWS calls, cost and write units, nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import cost as cost_model
from benchmarks.common import Row, figure, format_table

COMMAND = "PYTHONPATH=layers/common:. .venv/bin/python -m benchmarks"
API = "MeterDataSyncRequestsFunction"
MONITOR = "MeterDataSyncMonitorFunction"
DELIVERY = "MeterDataDeliveryFunction"
SHORT = {API: "api", MONITOR: "monitor", DELIVERY: "delivery", "runtime": "runtime (Lambda's SQS poller)"}


def _ratio_rows(rows: list[Row]) -> str:
    body = [
        [
            row.measure,
            figure(row.hub),
            figure(row.floor) if row.floor is not None else "",
            f"{row.ratio:.2f}" if row.ratio is not None else "",
            row.unit,
            row.note,
        ]
        for row in rows
    ]
    return format_table(["measure", "hub", "floor", "ratio", "unit", "note"], body, right={1, 2, 3})


def _calls_table(scenarios: list[object]) -> str:
    from benchmarks.aws_calls import RUNTIME, Scenario

    runs = [s for s in scenarios if isinstance(s, Scenario)]
    per_message = [s.per_message() for s in runs]
    keys = sorted({k for counts in per_message for k in counts}, key=lambda k: (k[0] == RUNTIME, k[0] != API, k[0] != MONITOR, k[1]))
    rows = [[SHORT.get(f, f), op, *(figure(c.get((f, op), 0.0)) if c.get((f, op)) else "-" for c in per_message)] for f, op in keys]
    total_functions = [sum(v for (f, _), v in c.items() if f != RUNTIME) for c in per_message]
    total_runtime = [sum(v for (f, op), v in c.items() if f == RUNTIME and "empty" not in op) for c in per_message]
    rows.append(["all functions", "total", *(figure(v) for v in total_functions)])
    rows.append(["runtime", "total (without empty polls)", *(figure(v) for v in total_runtime)])
    invocations = [Counter({k: v / s.messages for k, v in s.invocations.items()}) for s in runs]
    for function in (API, MONITOR, DELIVERY):
        rows.append([SHORT[function], "Lambda invocations", *(figure(i[function]) for i in invocations)])
    for function in (API, MONITOR, DELIVERY):
        rows.append(
            [
                SHORT[function],
                "handler CPU ms (local runtime)",
                *(figure(s.cpu_seconds.get(function, 0.0) / s.messages * 1000) for s in runs),
            ]
        )
        rows.append([SHORT[function], "  of which AWS SDK ms", *(figure(s.sdk_cpu_seconds(function) / s.messages * 1000) for s in runs)])
    rows.append(["all functions", "log bytes", *(figure(s.log_bytes / s.messages) for s in runs)])
    return format_table(["function", "per message", *(s.name for s in runs)], rows, right=set(range(2, 2 + len(runs))))


def _cost_table(costs: list[tuple[str, cost_model.Cost]]) -> str:
    services = list(costs[0][1].by_service)
    rows = [[service, *(f"{c.by_service[service] * 1e6:.3f}" for _, c in costs)] for service in services]
    rows.append(["total", *(f"{c.total * 1e6:.2f}" for _, c in costs)])
    rows.append(["", *("" for _ in costs)])
    rows.append(["DynamoDB write units / msg", *(figure(c.dynamodb_units.write) for _, c in costs)])
    for function in (API, MONITOR, DELIVERY):
        rows.append([f"  of which {SHORT[function]}", *(figure(c.write_units_by_function.get(function, 0.0)) for _, c in costs)])
    rows.append(["DynamoDB read units / msg", *(figure(c.dynamodb_units.read) for _, c in costs)])
    for function in (API, MONITOR, DELIVERY):
        rows.append([f"Lambda ms / msg, {SHORT[function]}", *(figure(c.lambda_ms.get(function, 0.0)) for _, c in costs)])
    rows.append(["KMS without data key reuse", *(f"{c.kms_without_reuse * 1e6:.3f}" for _, c in costs)])
    return format_table(["USD per million messages", *(name for name, _ in costs)], rows, right=set(range(1, 1 + len(costs))))


def _points_table(points: list[cost_model.PointFigures]) -> str:
    rows = [
        [
            p.point,
            figure(p.aws_calls),
            figure(p.write_units),
            figure(p.read_units),
            f"{p.usd_per_million:.2f}",
            f"{p.floor_usd_per_million:.2f}",
            f"{p.ratio:.2f}",
            f"{p.oic_usd_per_million:.2f}",
        ]
        for p in points
    ]
    headers = ["integration point", "AWS calls", "write units", "read units", "USD / million", "floor", "ratio", "OIC Standard"]
    return format_table(headers, rows, right=set(range(1, 8)))


def _md01_points(scenarios: list[object], costs: list[tuple[str, cost_model.Cost]]) -> list[cost_model.PointFigures]:
    from benchmarks.aws_calls import Scenario

    runs = [s for s in scenarios if isinstance(s, Scenario)]
    names = {
        "single": "MD-01 person sync, single posts",
        "single + key": "MD-01 single, Idempotency-Key",
        "batch": "MD-01 person sync, one batch",
    }
    return [
        cost_model.point_figures(
            names.get(run.name, f"MD-01 {run.name}"),
            run,
            cost,
            cost_model.floor_per_message(run, api_function=API, delivery_function=DELIVERY),
        )
        for run, (_, cost) in zip(runs, costs, strict=True)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (checks the benchmarks work; figures are rough)")
    parser.add_argument("--messages", type=int, default=None, help="messages per AWS-calls scenario (default 50; 10 with --quick)")
    parser.add_argument(
        "--runtime-sizes",
        default=None,
        help="local runtime section: requests in the tables at each measured window (default 1000,10000,100000; 200,1000 with --quick)",
    )
    parser.add_argument(
        "--runtime-backlog", type=int, default=None, help="local runtime section: backlog drained (default 100000; 1000 with --quick)"
    )
    parser.add_argument("--no-runtime", action="store_true", help="leave out the local runtime section (it takes the longest)")
    parser.add_argument(
        "--dacs-persons",
        type=int,
        default=None,
        help="DA-01 through the local runtime: persons in CCB's extract (default 1000000; 10000 with --quick)",
    )
    parser.add_argument(
        "--backlog-requests",
        type=int,
        default=None,
        help="monitor backlog section: requests stored at once, then drained (default 100000; 1000 with --quick)",
    )
    parser.add_argument("--backlog-per-entity", type=int, default=5, help="monitor backlog section: changes per entity (default 5)")
    parser.add_argument("--no-backlog", action="store_true", help="leave out the monitor backlog section")
    parser.add_argument(
        "--bill-run", type=int, default=None, help="MD-11 bill run: usage requests posted over HTTP (default 10000; 50 with --quick)"
    )
    parser.add_argument("--no-bill-run", action="store_true", help="leave out the MD-11 bill run section")
    parser.add_argument(
        "--point-messages", type=int, default=None, help="other integration points: messages counted per point (default 20; 5 with --quick)"
    )
    parser.add_argument(
        "--no-points", action="store_true", help="leave out the other integration points (MD-13, CU-02, FW-01, OC-01, DA-02)"
    )
    parser.add_argument(
        "--aws-calls-only",
        action="store_true",
        help="CPU rows 1 to 3 (the cost model's CPU), row 5, MD-01's AWS calls, cost and write units, and nothing else",
    )
    args = parser.parse_args(argv)

    from benchmarks import cpu, imports

    plan = cpu.QUICK if args.quick else cpu.FULL
    import_runs = 1 if args.quick else 5
    messages = args.messages or (10 if args.quick else 50)
    started = time.perf_counter()
    flags = (" --quick" if args.quick else "") + (" --aws-calls-only" if args.aws_calls_only else "")
    print(f"utilhub benchmarks ({'quick' if args.quick else 'full'} run): {COMMAND}{flags}")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; ratios are what to compare\n")

    def step(label: str) -> None:
        print(f"  ... {label} ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)

    step("CPU: JSON intake")
    rows = cpu.json_intake(plan)
    step("CPU: XML intake")
    rows += cpu.xml_intake(plan)
    step("CPU: MDM rendering")
    rows += cpu.rendering(plan)
    cpu_figures = cost_model.CpuPerMessage(intake=rows[0].hub, render=next(r.hub for r in rows if r.measure.startswith("3.")))
    from benchmarks import handler_cpu

    if not args.aws_calls_only:
        step("CPU: handler CPU per integration point")
        point_cpu = handler_cpu.with_md01(rows, handler_cpu.measure(plan))
        step("memory")
        rows += cpu.memory(plan)
        step(
            f"cold starts: {'a handler of each pack' if args.quick else 'every handler'}: import and init in fresh interpreters"
            f" ({import_runs} rounds)"
        )
        cold_starts = imports.every_handler(import_runs, quick=args.quick)

    step(f"AWS calls ({messages} messages per scenario)")
    from benchmarks import aws_calls

    measurement = aws_calls.measure(messages)
    scenarios = measurement.scenarios
    warm = measurement.warm_api
    json_floor = rows[0].floor
    rows += [
        Row(
            "5. API handler CPU, JSON intake (warm)",
            warm.cpu_seconds / warm.messages * 1e6,
            json_floor,
            "µs/msg",
            "handler called in-process; floor as in 1",
        ),
        Row(
            "   of which AWS SDK (its store and its release)",
            warm.sdk_cpu_seconds / warm.messages * 1e6,
            None,
            "µs/msg",
            f"the client's side of the calls: {warm.calls_label()}",
        ),
        Row(
            "   without the AWS SDK",
            (warm.cpu_seconds - warm.sdk_cpu_seconds) / warm.messages * 1e6,
            json_floor,
            "µs/msg",
            "Powertools resolver, logging, metrics, the library, the release",
        ),
        Row(
            "   the same, its release left out",
            warm.unreleased_cpu_seconds / warm.messages * 1e6,
            json_floor,
            "µs/msg",
            f"the intake before a request went at once; SDK {warm.unreleased_sdk_cpu_seconds / warm.messages * 1e6:,.0f} µs/msg:"
            f" {warm.calls_label(unreleased=True)}",
        ),
    ]

    print("CPU and memory (ratio = hub / floor; 1.00 would be the floor itself)")
    print(_ratio_rows(rows))
    if not args.aws_calls_only:
        print(
            "\nHandler CPU per integration point, the hub's own work on one message against its floor, AWS calls left out"
            " (python -m benchmarks.handler_cpu; targets: 2x, the two intakes 4x)"
        )
        print(handler_cpu.report(point_cpu))
        print(
            "\nCold start of every handler of the template: import and init, CPU of a fresh interpreter (python -m benchmarks.imports)"
            + ("; quick: one handler of each pack" if args.quick else "")
        )
        print(imports.report(cold_starts))
    print(f"\nAWS calls per message ({messages} person sync requests per scenario, each to SYNCHRONIZED; warm containers)")
    print(_calls_table(list(scenarios)))
    costs = [(s.name, cost_model.cost_per_message(s, cpu_figures, api_function=API, delivery_function=DELIVERY)) for s in scenarios]
    points = _md01_points(list(scenarios), costs)
    print(f"\nCost per million messages on AWS ({cost_model.REGION} on-demand list prices; sources and assumptions in benchmarks/cost.py)")
    print(_cost_table(costs))
    print(
        f"\nLambda duration = CPU from 1 and 3 x {cost_model.CPU_SCALE:g} (512 MB) + {cost_model.AWS_CALL_MS:g} ms per AWS call"
        f" + {cost_model.TARGET_CALL_MS:g} ms for MDM's answer; monitor queries are per run, here shared by {messages} messages."
    )
    for scenario in scenarios:
        print(f"\nWhere MD-01's DynamoDB write units go, {scenario.name} (per message, largest first)")
        print(cost_model.write_breakdown_table(scenario))
    if args.aws_calls_only:
        print("\nMD-01 by integration point (AWS calls, units and USD per message; floor as in the full run)")
        print(_points_table(points))
        return 0
    from benchmarks import capacity

    md01_batch = next(s for s in scenarios if s.name == "batch")
    md01_measured = capacity.measured("MD-01 batch", md01_batch, dict(costs)["batch"].total * 1e6)
    md11_measured: capacity.Measured | None = None
    from benchmarks import dacs_extract

    writer_sizes = [10_000, 50_000] if args.quick else [100_000, 1_000_000]
    step(f"DACS extract writer ({writer_sizes[0]:,} and {writer_sizes[1]:,} records, a fresh process each)")
    print("\nDACS extract writer: records per second per core, peak memory (python -m benchmarks.dacs_extract)")
    print(dacs_extract.report(dacs_extract.run(writer_sizes, writer_sizes[0])))
    persons = args.dacs_persons or (10_000 if args.quick else 1_000_000)
    step(f"DA-01 initial sync of {persons:,} persons through the local runtime")
    initial = dacs_extract.initial_sync_through_the_local_runtime(persons, 100_000 if persons >= 500_000 else 5_000)
    print(
        f"\nDA-01 through the local runtime: {initial['persons']:,} persons in {initial['parts']} parts, {initial['status']} "
        f"in {initial['wallSeconds']:.1f} s wall; counts {initial['counts']} "
        f"{'as the source holds' if initial['countsAsExpected'] else 'DIFFERENT FROM THE SOURCE'}; files joined by {initial['joinedBy']}"
    )
    dacs_failed = initial["status"] != "SUCCEEDED" or not initial["countsAsExpected"]
    step("the embedded AWS's changes to moto, against moto as released")
    from benchmarks import moto_changes

    print("\nThe embedded AWS's changes to moto, against moto 5.2.5 as released (python -m benchmarks.moto_changes)")
    print(moto_changes.report(moto_changes.measure([500, 2000] if args.quick else [1000, 10000])))
    failed = 0
    monitor_measured: capacity.MonitorBacklog | None = None
    if not args.no_backlog:
        size = args.backlog_requests or (1000 if args.quick else 100_000)
        step(f"monitor backlog ({size:,} requests, {args.backlog_per_entity} per entity)")
        command = ["-m", "benchmarks.monitor_backlog", "--requests", str(size), "--per-entity", str(args.backlog_per_entity)]
        print(f"\nThe sync monitor on a backlog, through the real handlers in-process (python {' '.join(command)})", flush=True)
        # a process of its own: an embedded AWS and a hub that no earlier section has used
        with tempfile.TemporaryDirectory(prefix="utilhub-bench-") as directory:
            summary = Path(directory, "backlog.json")
            completed = subprocess.run([sys.executable, *command, "--summary", str(summary)], check=False)  # noqa: S603 - this interpreter, our own module
            if summary.exists():
                monitor_measured = capacity.MonitorBacklog(**json.loads(summary.read_text(encoding="utf-8")))
        failed = 1 if completed.returncode else 0
    if not args.no_bill_run:
        requests = args.bill_run or (50 if args.quick else 10_000)
        step(f"MD-11 bill run ({requests:,} usage requests)")
        command = ["-m", "benchmarks.bill_run", "--requests", str(requests), "--counted", str(20 if args.quick else 200)]
        print(f"\nMD-11 bill run through make run's hub, AWS calls and cost per request (python {' '.join(command)})", flush=True)
        with tempfile.TemporaryDirectory(prefix="utilhub-bench-") as directory:
            summary = Path(directory, "bill-run.json")
            completed = subprocess.run([sys.executable, *command, "--summary", str(summary)], check=False)  # noqa: S603 - this interpreter, our own module
            if summary.exists():
                written = json.loads(summary.read_text(encoding="utf-8"))
                points.append(cost_model.PointFigures(**written["point"]))
                md11_measured = capacity.Measured(**written["measured"])
        failed = failed or (1 if completed.returncode else 0)
    if not args.no_points:
        point_messages = args.point_messages or (5 if args.quick else 20)
        step(f"other integration points ({point_messages} messages each)")
        command = ["-m", "benchmarks.points", "--messages", str(point_messages)]
        print(
            f"\nOther integration points through the real handlers, AWS calls and write units per message (python {' '.join(command)})",
            flush=True,
        )
        with tempfile.TemporaryDirectory(prefix="utilhub-bench-") as directory:
            summary = Path(directory, "points.json")
            completed = subprocess.run([sys.executable, *command, "--summary", str(summary)], check=False)  # noqa: S603 - this interpreter, our own module
            if summary.exists():
                points += [cost_model.PointFigures(**line) for line in json.loads(summary.read_text(encoding="utf-8"))]
        failed = failed or (1 if completed.returncode else 0)
    if not args.no_runtime:
        from benchmarks import local_runtime

        sizes = args.runtime_sizes or ("200,1000" if args.quick else "1000,10000,100000")
        backlog = args.runtime_backlog or (1000 if args.quick else 100_000)
        step(f"local runtime at volume (sizes {sizes}, backlog {backlog:,})")
        result = local_runtime.run(
            [int(s) for s in sizes.split(",")], 200 if args.quick else 1000, backlog, single=10 if args.quick else 100
        )
        print("\nLocal runtime at volume: MD-01 over HTTP through make run's hub (python -m benchmarks.local_runtime)")
        print(local_runtime.report(result))
        failed = failed or (1 if result["failures"] else 0)
    print(
        f"\nCost per integration point on AWS (USD per million messages, {cost_model.REGION} list prices, per message: AWS calls"
        " of the functions and Lambda's SQS poller without its empty polls, DynamoDB request units)"
    )
    print(_points_table(points))
    print(
        "floor: what the architecture cannot avoid, priced the same way (the API requests, each invocation at 1 ms and the"
        f" delivery's wait for the target, per queue one send, receive and delete in batches of {cost_model.SQS_BATCH}, one"
        " single-unit write per state of the message's recorded lifecycle, Lambda's own log lines);"
        f" OIC Standard: ${cost_model.OIC_STANDARD_PER_MESSAGE_PACK_HOUR.usd} per {cost_model.OIC_PACK_MESSAGES:,} messages"
        " an hour, every message of every pack used"
    )
    dacs_measured = capacity.DacsMeasured(
        persons, float(str(initial["wallSeconds"])), 100_000 if persons >= 500_000 else 5_000, float(str(initial["cpuSeconds"]))
    )
    print(
        "\nCapacity plan for a 10-million-customer utility on AWS (benchmarks/capacity.py): each limit's messages per second from"
        " this run's calls per message, the binding one first"
    )
    print(capacity.report(capacity.capacity_plan(md01_measured, md11_measured, dacs_measured, monitor_measured)))
    print(f"finished in {time.perf_counter() - started:.0f} s")
    return 1 if failed or dacs_failed else 0


if __name__ == "__main__":
    sys.exit(main())
