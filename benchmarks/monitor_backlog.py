"""The sync monitor on a backlog: ``--requests`` requests over ``--requests / --per-entity`` entities,
stored at once, then drained by monitor runs and delivery, through the real handlers of the local
hub (in-process, on the embedded AWS), as an initial load would be.

``python -m benchmarks.monitor_backlog [--requests 100000] [--per-entity 5]``

Each entity (a person) has ``--per-entity`` changes, each a new image, all stored before the first
monitor run. Measured: requests per second from the first monitor run to the last request
SYNCHRONIZED at the MDM simulator; monitor runs, pages and the longest run (a run is bounded by
its time budget); AWS calls per request, by function. Accounted for: every request reached MDM
exactly once, none lost, each entity's changes in order (MDM never received an older image after
a newer one) and MDM ends with each entity's newest image.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.aws_calls import API, CLAIMS, JSON_HEADERS, MONITOR, RUNTIME, Recorder
from benchmarks.common import captured, figure, format_table
from localhub.aws.endpoint import embedded_aws, reset
from localhub.simulators.mdm import MdmSimulator

DELIVERY = "MeterDataDeliveryFunction"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def backlog(requests: int, per_entity: int) -> list[dict[str, Any]]:
    """The backlog, newest changes last: change ``v`` of every entity, then change ``v + 1``."""
    entities = max(1, requests // per_entity)
    return [
        {
            "syncRequestId": f"BL-{n:07d}",
            "entityType": "PERSON",
            "entityId": f"BLP-{n % entities:06d}",
            "changedAt": (T0 + timedelta(minutes=n // entities)).isoformat(),
            "data": {"name": f"Person {n % entities} v{n // entities}"},
        }
        for n in range(requests)
    ]


@dataclass
class Result:
    requests: int
    entities: int
    seconds: float
    monitor_runs: int
    pages: int
    longest_run_seconds: float
    out_of_time_runs: int
    redelivered: int
    calls: Counter[tuple[str, str]]
    lost: int
    twice: int
    older_images: int
    not_newest: int


def run(requests: int, per_entity: int) -> Result:
    items = backlog(requests, per_entity)
    entities = len({i["entityId"] for i in items})
    recorder = Recorder()
    with captured(), embedded_aws() as endpoint:
        from localhub.hub import LocalHub

        reset(endpoint)  # what an earlier section of make bench left in the embedded AWS

        hub = LocalHub()
        hub.start()
        try:
            for start in range(0, len(items), 100):  # stored through the batch intake, not measured
                body = json.dumps({"requests": items[start : start + 100]})
                response = hub.call_api("POST", "/meter-data/sync-requests:batch", body=body, headers=JSON_HEADERS, claims=CLAIMS)
                if response.status != 202:
                    raise RuntimeError(f"batch intake answered {response.status}: {response.body[:300]!r}")
            mdm = hub.simulators["MDM"]
            assert isinstance(mdm, MdmSimulator)
            recorder.install()
            runs = pages = out_of_time = redelivered = 0
            longest = 0.0
            started = time.perf_counter()
            while len(mdm.accepted) < requests:
                run_started = time.perf_counter()
                invocation = hub.run_schedule(MONITOR)
                longest = max(longest, time.perf_counter() - run_started)
                if invocation.failed:
                    raise RuntimeError(f"monitor failed: {invocation.error}")
                runs += 1
                pages += invocation.result.get("pages", 0)
                out_of_time += invocation.result.get("out_of_time", 0)
                delivered = hub.drain(max_polls=1_000_000)
                if not delivered and not invocation.result.get("queued"):
                    # a delivery failed (the machine is slow, a call timed out): SQS hands it out again
                    # once its visibility timeout has passed, which here is now
                    redelivered += hub.expire_visibility()
                if runs > 20 * per_entity + 100:
                    raise RuntimeError(f"not drained after {runs} monitor runs: {len(mdm.accepted)} of {requests}")
            seconds = time.perf_counter() - started
            recorder.uninstall()
            accepted = dict(mdm.accepted)
            newest = {i["entityId"]: i["data"]["name"] for i in items}  # the last change of each entity is its newest
            not_newest = sum(1 for e, name in newest.items() if mdm.records[f"PERSON#{e}"]["data"]["ContactName"] != name)
            older = mdm.older_images
        finally:
            recorder.uninstall()
            hub.stop()
    ids = {i["syncRequestId"] for i in items}
    return Result(
        requests=requests,
        entities=entities,
        seconds=seconds,
        monitor_runs=runs,
        pages=pages,
        longest_run_seconds=longest,
        out_of_time_runs=out_of_time,
        redelivered=redelivered,
        calls=Counter((c.function, c.label) for c in recorder.calls),
        lost=len(ids - set(accepted)),
        twice=sum(1 for v in accepted.values() if v != 1),
        older_images=older,
        not_newest=not_newest,
    )


def monitor_calls_per_request(result: Result) -> float:
    """The monitor's own AWS calls per request drained (its empty polls, if any, left out), the journal's writes included:
    what the capacity plan's monitor limit is computed from (:class:`benchmarks.capacity.MonitorBacklog`)."""
    return sum(n for (f, op), n in result.calls.items() if f == MONITOR and "empty" not in op) / result.requests


def report(result: Result) -> str:
    short = {MONITOR: "monitor", DELIVERY: "delivery", RUNTIME: "runtime (Lambda's SQS poller)", API: "api"}
    rows = [
        [short.get(f, f), op, figure(n / result.requests)]
        for (f, op), n in sorted(result.calls.items(), key=lambda kv: (kv[0][0] == RUNTIME, kv[0][0] != MONITOR, kv[0][1]))
        if "empty" not in op
    ]
    for function in (MONITOR, DELIVERY):
        total = sum(n for (f, _), n in result.calls.items() if f == function)
        rows.append([short[function], "total", figure(total / result.requests)])
    table = format_table(["function", "AWS call", "per request"], rows, right={2})
    return (
        f"backlog of {result.requests:,} requests over {result.entities:,} entities, stored at once:\n"
        f"  drained in {result.seconds:.0f} s: {result.requests / result.seconds:.1f} requests/s through the monitor and delivery\n"
        f"  {result.monitor_runs} monitor runs, {result.pages} pages, longest run {result.longest_run_seconds:.1f} s,"
        f" {result.out_of_time_runs} run(s) stopped by the time budget, {result.redelivered} message(s) redelivered\n"
        f"  accounted for: {result.requests - result.lost:,} of {result.requests:,} at MDM, {result.lost} lost,"
        f" {result.twice} sent more than once, {result.older_images} older image(s) after a newer one,"
        f" {result.not_newest} entit(ies) not at their newest image\n{table}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.monitor_backlog", description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000, help="requests in the backlog")
    parser.add_argument("--per-entity", type=int, default=5, help="changes per entity (entities = requests / this)")
    parser.add_argument(
        "--summary", type=Path, default=None, help="write the monitor's calls per request here (JSON, for the capacity plan)"
    )
    args = parser.parse_args(argv)
    result = run(args.requests, args.per_entity)
    print(report(result))
    if args.summary is not None:
        from benchmarks.capacity import MonitorBacklog

        summary = MonitorBacklog(result.requests, args.per_entity, monitor_calls_per_request(result))
        args.summary.write_text(json.dumps(dataclasses.asdict(summary)), encoding="utf-8")
    return 1 if result.lost or result.twice or result.older_images or result.not_newest else 0


if __name__ == "__main__":
    sys.exit(main())
