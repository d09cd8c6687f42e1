"""The local runtime at volume: MD-01 end to end over HTTP, as ``make run`` serves it.

``python -m benchmarks.local_runtime [--sizes 1000,10000,100000] [--window 1000] [--backlog 100000] [--backlog-per-entity 5]
[--one-at-a-time 100] [--batch 100] [--clients 4]``

``--window 0`` measures no window (``--sizes`` is then not used): the backlog and the latencies alone, as
docs/performance.md's latency table (``--window 0 --backlog 300 --backlog-per-entity 5 --one-at-a-time 20 --batch 20``).

It starts ``python -m localhub --no-schedules`` on free ports (one process, as a user runs it),
then, over HTTP only:

1. fills the tables to each size but the largest in turn (batches of ``--batch`` requests, 100, posted by
   ``--clients``, 4, at once, the monitor run through the control API until every request is SYNCHRONIZED, each run once
   the delivery queue is down to ``QUEUE_LOW`` messages: a run while it is full would find most
   entities in flight), and at each
   measures a *window*: ``--window`` fresh requests, from the first post to the last one
   SYNCHRONIZED at the MDM simulator;
2. posts a ``--backlog`` of requests at once (``--backlog-per-entity`` changes of each person, each
   a newer image) and times how long the monitor and delivery take to drain it, counting the AWS
   calls each function makes per request (the control API's throttling at a rate of 0); the backlog
   is most of the fill to the largest size, whose window is measured last; each request's latency,
   from its intake to SYNCHRONIZED (the times its history records), p50 and p99;
3. the latency one request at a time: ``--one-at-a-time`` requests of fresh persons, each posted
   alone once the one before is SYNCHRONIZED, p50 and p99 from intake to SYNCHRONIZED (goal: p50
   at most ``LATENCY_GOAL_SECONDS``);
4. accounts for every message: each request SYNCHRONIZED at MDM exactly once (the simulator
   counts the messages it accepted per sync request), none lost, none sent twice, no person's
   older image received after a newer one;
5. reads the hub's memory after each phase: the RSS of the hub process and of its execution
   environments, and the growth per 1,000 requests between the last two sizes; then sends Ctrl-C
   and times the stop.

It exits non-zero when a target is missed: the hub's RSS over ``RSS_LIMIT_MB``, a stop over
``STOP_LIMIT_SECONDS``, the last window's rate under ``RATE_FLOOR`` of the first's, or a message
lost, twice or out of order.

The functions' own log (their JSON lines, and Lambda's ``platform.report`` record of an invocation that timed out or
lost its environment) goes to ``.benchmarks/local-runtime-functions.log``, the hub's terminal output to
``.benchmarks/local-runtime-hub.log``; a batch answered 500 stops the run with the function's reports of that log.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx

from benchmarks.common import ROOT, figure, format_table

BATCH = 100
CLIENTS = 4
MONITOR = "/_local/schedules/MeterDataSyncMonitorFunction/run"
# the monitor runs this often while the bench waits for MDM, as the template's MonitorScheduleRate (1 minute) runs it:
# a request received, or freed by an acknowledgement, goes at once (docs/sync-requests.md); the monitor is the safety net
SCHEDULE_SECONDS = 60
LATENCY_GOAL_SECONDS = 2.0  # p50 from intake to SYNCHRONIZED, one request at a time (issue 23 item 4)
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# the targets (issue "local runtime at production scale"): the run fails when one is missed
RSS_LIMIT_MB = 2048  # the hub process after every request of the run
STOP_LIMIT_SECONDS = 10  # Ctrl-C to the hub gone
RATE_FLOOR = 0.8  # the last window's rate over the first's


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident set size of one process, in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(k) for k in (task / "children").read_text().split()]
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
    return found


def _healthy(api: str) -> bool:
    """Whether the hub answers its health check (False while it is still starting)."""
    try:
        return httpx.get(f"{api}/_local/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Hub:
    process: subprocess.Popen[bytes]
    api: str
    aws: str
    token: str = ""
    stop_seconds: float = 0.0  # from Ctrl-C to the process gone, once stopped
    function_log: Path | None = None  # where the functions' JSON lines go

    def platform_reports(self, function: str) -> list[str]:
        """Lambda's ``platform.report`` records of ``function`` (its name ends so) in the functions' log: the invocations
        that timed out or lost their environment (the hub's own output says only 500)."""
        if self.function_log is None or not self.function_log.exists():
            return []
        found = []
        for line in self.function_log.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"platform.report"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if str(record.get("record", {}).get("function", "")).endswith(function):
                found.append(line)
        return found

    def bearer(self) -> dict[str, str]:
        """The Authorization header, with a token fetched now: a long run outlives a token (an hour)."""
        self.token = httpx.post(
            f"{self.api}/oauth2/token", data={"grant_type": "client_credentials"}, auth=("local-dev", "local-dev-secret")
        ).json()["access_token"]
        return {"Authorization": f"Bearer {self.token}"}

    def memory(self) -> tuple[float, float]:
        """(hub process RSS, execution environments' RSS) in MB."""
        return rss_mb(self.process.pid), sum(rss_mb(c) for c in children(self.process.pid))


@contextmanager
def started_hub(log: Path, function_log: Path | None = None) -> Iterator[Hub]:
    """``make run``'s hub on free ports, its output to ``log``; the functions' JSON lines to ``function_log`` (None:
    the hub's default, ``.aws-sam/localhub/functions.log``)."""
    api_port, aws_port = _free_port(), _free_port()
    environment = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'common'}{os.pathsep}{ROOT}"}
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - this interpreter running our own module
            [
                sys.executable,
                "-m",
                "localhub",
                "--no-schedules",
                "--port",
                str(api_port),
                "--aws-port",
                str(aws_port),
                *(["--log-file", str(function_log)] if function_log is not None else []),
            ],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = Hub(process, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{aws_port}", function_log=function_log)
    try:
        deadline = time.monotonic() + 120
        while not _healthy(hub.api):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not start; see {log}")
            time.sleep(0.5)
        yield hub
    finally:
        process.send_signal(2)  # Ctrl-C
        stop_started = time.monotonic()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        hub.stop_seconds = time.monotonic() - stop_started
        print(f"  hub stopped {hub.stop_seconds:.1f} s after Ctrl-C", file=sys.stderr)


def _requests(first: int, count: int, per_entity: int = 1, batch_size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    """Requests ``first`` .. ``first + count - 1`` in batches; with ``per_entity`` above 1 they are
    ``per_entity`` changes of each of ``count / per_entity`` persons, each a newer image (change ``v``
    of every person, then change ``v + 1``), as an initial load followed by updates would be."""
    entities = max(1, count // per_entity)
    for start in range(first, first + count, batch_size):
        batch = []
        for n in range(start, min(start + batch_size, first + count)):
            if per_entity == 1:
                entity, version = f"P-{n:07d}", 0
            else:
                entity, version = f"P-{first:07d}-{(n - first) % entities:06d}", (n - first) // entities
            batch.append(
                {
                    "syncRequestId": f"BENCH-{n:07d}",
                    "entityType": "PERSON",
                    "entityId": entity,
                    "changedAt": (T0 + timedelta(minutes=version)).isoformat(),
                    "data": {"name": f"Person {entity} v{version}", "emailAddress": f"p{n}@example.com"},
                }
            )
        yield batch


# the function behind POST /meter-data/sync-requests and its :batch (packs/meter-data.yaml)
INTAKE = "MeterDataSyncRequestsFunction"


def post(hub: Hub, first: int, count: int, per_entity: int = 1, batch_size: int = BATCH, clients: int = CLIENTS) -> float:
    """Post ``count`` requests in batches of ``batch_size`` by ``clients`` clients at once; returns the seconds taken.
    A batch answered other than 2xx, 429 or 503 stops it, with the intake's ``platform.report`` records (a 500 of API
    Gateway is the function's error or its timeout: the record says which)."""
    headers = {**hub.bearer(), "Content-Type": "application/json"}
    started = time.perf_counter()
    with httpx.Client(base_url=hub.api, timeout=120, headers=headers) as client, ThreadPoolExecutor(clients) as pool:

        def send(batch: list[dict[str, Any]]) -> None:
            for _ in range(20):
                response = client.post("/meter-data/sync-requests:batch", content=json.dumps({"requests": batch}))
                if response.status_code == 202 or response.status_code == 200:
                    return
                if response.status_code not in (429, 503):
                    reports = hub.platform_reports(INTAKE)[-5:]
                    raise RuntimeError(
                        f"batch refused: {response.status_code} {response.text[:300]}"
                        + (f"; the intake's platform reports ({hub.function_log}):\n" + "\n".join(reports) if reports else "")
                    )
                time.sleep(float(response.headers.get("retry-after", "1")))
            raise RuntimeError("batch refused 20 times")

        list(pool.map(send, _requests(first, count, per_entity, batch_size)))
    return time.perf_counter() - started


def synchronized_at_mdm(hub: Hub) -> tuple[dict[str, int], int]:
    """(how often MDM stored each sync request, how often it received an entity's older image after a newer one)."""
    state = httpx.get(f"{hub.api}/_local/sim/mdm/state", timeout=300).json()
    return dict(state["acceptedPerSyncRequest"]), int(state["olderImagesReceived"])


@dataclass
class Drain:
    seconds: float = 0.0
    runs: int = 0  # monitor runs
    monitor_seconds: float = 0.0  # the runs' time, in all
    longest_run: float = 0.0
    monitor_queued: int = 0  # requests the monitor's runs queued (the others went at their intake or acknowledgement)


class Schedule:
    """The monitor's schedule: a run every ``SCHEDULE_SECONDS`` (the first one that long after the schedule starts)."""

    def __init__(self, hub: Hub, done: Drain) -> None:
        self._hub = hub
        self._done = done
        self._last = time.perf_counter()

    def tick(self, client: httpx.Client) -> None:
        if time.perf_counter() - self._last < SCHEDULE_SECONDS:
            return
        run_started = time.perf_counter()
        report = client.post(MONITOR).json()
        self._last = time.perf_counter()
        took = self._last - run_started
        self._done.runs += 1
        self._done.monitor_seconds += took
        self._done.longest_run = max(self._done.longest_run, took)
        if report.get("error"):
            raise RuntimeError(f"monitor failed: {report['error']}")
        self._done.monitor_queued += int(report["result"].get("queued", 0))


def drain(hub: Hub, expected: int) -> Drain:
    """Wait until MDM has accepted ``expected`` sync requests, the monitor running on its schedule."""
    started = last_said = time.perf_counter()
    done = Drain()
    schedule = Schedule(hub, done)
    with httpx.Client(base_url=hub.api, timeout=600) as client:
        while True:
            accepted = client.get("/_local/sim/mdm/state", params={"summary": "1"}).json()["acceptedSyncRequests"]
            if accepted >= expected:
                done.seconds = time.perf_counter() - started
                return done
            if time.perf_counter() - last_said > 300:  # a long drain says how far it has come
                last_said = time.perf_counter()
                print(
                    f"    {accepted:,} of {expected:,} at MDM after {last_said - started:.0f} s, {done.runs} monitor runs", file=sys.stderr
                )
            schedule.tick(client)
            time.sleep(0.2)  # deliveries under way


def _history_latency(history: list[dict[str, Any]]) -> float | None:
    """Seconds from a request's intake (its first history entry) to SYNCHRONIZED, None when it is not."""
    done = [h for h in history if h["status"] == "SYNCHRONIZED"]
    if not done:
        return None
    return (datetime.fromisoformat(str(done[-1]["at"])) - datetime.fromisoformat(str(history[0]["at"]))).total_seconds()


def latencies(hub: Hub, ids: list[str]) -> list[float]:
    """Each request's seconds from intake to SYNCHRONIZED, from the history the table holds (BatchGetItem, 100 a call)."""
    dynamodb = boto3.client(  # the embedded endpoint takes any credentials
        "dynamodb",
        endpoint_url=hub.aws,
        region_name="eu-west-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
    )
    with httpx.Client(base_url=hub.api, timeout=60) as client:
        table = client.get("/_local/resources").json()["SyncRequestTable"]
    found: list[float] = []
    for start in range(0, len(ids), 100):
        keys = [{"pk": {"S": f"meter-data#REQ#{i}"}} for i in ids[start : start + 100]]
        request: dict[str, Any] = {table: {"Keys": keys, "ProjectionExpression": "history"}}
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(table, []):
                history = [{k: v["S"] for k, v in h["M"].items() if "S" in v} for h in item["history"]["L"]]
                if (seconds := _history_latency(history)) is not None:
                    found.append(seconds)
            request = response.get("UnprocessedKeys") or {}
    return found


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.5: the median)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1))] if ordered else float("nan")


@dataclass
class Latency:
    requests: int
    p50: float
    p99: float
    monitor_runs: int  # the schedule's runs while they were measured


def one_at_a_time(hub: Hub, first: int, count: int) -> Latency:
    """``count`` requests of fresh persons, each posted alone once the one before is SYNCHRONIZED (polled every 20 ms),
    the monitor on its schedule; each one's seconds from intake to SYNCHRONIZED, by its history."""
    done = Drain()
    schedule = Schedule(hub, done)
    found: list[float] = []
    headers = {**hub.bearer(), "Content-Type": "application/json"}
    with httpx.Client(base_url=hub.api, timeout=60, headers=headers) as client:
        for n in range(first, first + count):
            body = {
                "syncRequestId": f"BENCH-{n:07d}",
                "entityType": "PERSON",
                "entityId": f"P-ONE-{n:07d}",
                "changedAt": T0.isoformat(),
                "data": {"name": f"Person {n}", "emailAddress": f"p{n}@example.com"},
            }
            response = client.post("/meter-data/sync-requests", content=json.dumps(body))
            if response.status_code != 202:
                raise RuntimeError(f"intake refused: {response.status_code} {response.text[:300]}")
            deadline = time.perf_counter() + 3 * SCHEDULE_SECONDS
            while True:
                state = client.get(f"/meter-data/sync-requests/BENCH-{n:07d}").json()
                if state["status"] == "SYNCHRONIZED":
                    found.append(_history_latency(state["history"]) or 0.0)
                    break
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"BENCH-{n:07d} not SYNCHRONIZED after {3 * SCHEDULE_SECONDS} s: {state['status']}")
                schedule.tick(client)
                time.sleep(0.02)
    return Latency(count, percentile(found, 0.5), percentile(found, 0.99), done.runs)


@dataclass
class Window:
    in_tables: int
    seconds: float
    hub_mb: float
    environments_mb: float

    def rate(self, window: int) -> float:
        return window / self.seconds


def run(
    sizes: list[int], window: int, backlog: int, per_entity: int = 5, single: int = 100, batch_size: int = BATCH, clients: int = CLIENTS
) -> dict[str, Any]:
    """Windows at every size but the largest, then the backlog (which fills the tables toward the
    largest size, so a 100,000 backlog is also most of the fill to 100,000), then the window at the
    largest size: about ``max(sizes, windows + backlog)`` requests in all, not their sum. The backlog is
    ``per_entity`` changes of each of its persons, so it also shows per-entity order kept at volume. ``window`` 0:
    no window (``sizes`` not used), the backlog and the latency one at a time alone."""
    log = ROOT / ".benchmarks" / "local-runtime-hub.log"
    function_log = ROOT / ".benchmarks" / "local-runtime-functions.log"
    log.parent.mkdir(exist_ok=True)
    windows: list[Window] = []
    posted = 0

    def window_at(hub: Hub, size: int) -> None:
        nonlocal posted
        fill = max(0, size - posted)
        if fill:
            post(hub, posted, fill, batch_size=batch_size, clients=clients)
            posted += fill
            drain(hub, posted)
        started = time.perf_counter()
        post(hub, posted, window, batch_size=batch_size, clients=clients)
        posted += window
        drain(hub, posted)
        windows.append(Window(posted - window, time.perf_counter() - started, *hub.memory()))
        print(f"  window at {posted - window:,} in the tables: {window / windows[-1].seconds:.1f} requests/s", file=sys.stderr)

    function_log.unlink(missing_ok=True)  # this run's records only
    with started_hub(log, function_log) as hub:
        start_mb = hub.memory()
        for size in sizes[:-1] if window else []:
            window_at(hub, size)
        # the functions' AWS calls are counted (throttling at a rate of 0) from the backlog's post to its drain
        httpx.post(f"{hub.api}/_local/aws/throttling", json={"rate": 0}, timeout=60).raise_for_status()
        post_seconds = post(hub, posted, backlog, per_entity, batch_size, clients)
        posted += backlog
        drained = drain(hub, posted)
        backlog_calls = httpx.get(f"{hub.api}/_local/aws/throttling", timeout=60).json()["seen"]
        httpx.delete(f"{hub.api}/_local/aws/throttling", timeout=60).raise_for_status()
        backlog_latency = latencies(hub, [f"BENCH-{n:07d}" for n in range(posted - backlog, posted)])
        single_latency = one_at_a_time(hub, posted, single)
        posted += single
        print(f"  one at a time: p50 {single_latency.p50:.2f} s, p99 {single_latency.p99:.2f} s", file=sys.stderr)
        after_backlog = hub.memory()
        print(f"  backlog of {backlog:,} drained in {drained.seconds:.0f} s; hub RSS {after_backlog[0]:.0f} MB", file=sys.stderr)
        if window:
            window_at(hub, sizes[-1])
        at_end = hub.memory()
        accepted, older_images = synchronized_at_mdm(hub)
    expected = {f"BENCH-{n:07d}" for n in range(posted)}
    lost = sorted(expected - set(accepted))
    twice = sorted(k for k, v in accepted.items() if v != 1)
    failures = [
        f"{what}: {value}"
        for what, value, failed in [
            ("lost", len(lost), bool(lost)),
            ("accepted more than once", len(twice), bool(twice)),
            ("older images after newer ones", older_images, bool(older_images)),
            (f"hub RSS over {RSS_LIMIT_MB:,} MB", f"{at_end[0]:.0f} MB", at_end[0] > RSS_LIMIT_MB),
            (f"stop over {STOP_LIMIT_SECONDS} s after Ctrl-C", f"{hub.stop_seconds:.1f} s", hub.stop_seconds > STOP_LIMIT_SECONDS),
            (
                f"p50 one at a time over {LATENCY_GOAL_SECONDS:g} s",
                f"{single_latency.p50:.2f} s",
                single_latency.p50 > LATENCY_GOAL_SECONDS,
            ),
            (
                f"rate fell more than {1 - RATE_FLOOR:.0%} from the first window to the last",
                f"{windows[0].seconds / windows[-1].seconds:.2f}" if windows else "no window",
                bool(windows) and windows[0].seconds / windows[-1].seconds < RATE_FLOOR,
            ),
        ]
        if failed
    ]
    return {
        "failures": failures,
        "stop_seconds": hub.stop_seconds,
        "windows": windows,
        "window": window,
        "backlog": backlog,
        "per_entity": per_entity,
        "batch_size": batch_size,
        "clients": clients,
        "older_images": older_images,
        "backlog_post_seconds": post_seconds,
        "drained": drained,
        "backlog_latency": Latency(len(backlog_latency), percentile(backlog_latency, 0.5), percentile(backlog_latency, 0.99), drained.runs),
        "single_latency": single_latency,
        "backlog_calls": backlog_calls,
        "start_mb": start_mb,
        "at_end_mb": at_end,
        "posted": posted,
        "lost": lost,
        "twice": twice,
    }


def report(result: dict[str, Any]) -> str:
    windows: list[Window] = result["windows"]
    window = result["window"]
    first = windows[0].rate(window) if windows else 0.0
    rows = [
        [
            f"{w.in_tables:,}",
            figure(w.rate(window)),
            f"{w.rate(window) / first:.2f}",
            figure(w.hub_mb),
            figure(w.environments_mb),
        ]
        for w in windows
    ]
    table = (
        "no window measured (--window 0)\n"
        if not windows
        else format_table(
            ["requests already in the tables", "MD-01 requests/s end to end", "ratio to first", "hub RSS MB", "environments RSS MB"],
            rows,
            right={1, 2, 3, 4},
        )
    )
    growth = ""
    if len(windows) >= 2 and windows[-1].in_tables > windows[-2].in_tables:
        per_thousand = (windows[-1].hub_mb - windows[-2].hub_mb) / ((windows[-1].in_tables - windows[-2].in_tables) / 1000)
        growth = f"hub RSS growth between the last two sizes: {per_thousand:.1f} MB per 1,000 requests\n"
    hub_mb, env_mb = result["at_end_mb"]
    drained: Drain = result["drained"]
    per_function: dict[str, float] = {}
    call_rows = []
    for entry in result["backlog_calls"]:
        function = str(entry["function"]).removeprefix("utilhub-local-")
        per_request = entry["count"] / result["backlog"]
        per_function[function] = per_function.get(function, 0.0) + per_request
        call_rows.append([function, entry["operation"], figure(per_request)])
    call_rows += [[function, "total", figure(n)] for function, n in sorted(per_function.items())]
    calls = format_table(["function", "AWS call (backlog: post to drained)", "per request"], call_rows, right={2})
    single: Latency = result["single_latency"]
    in_backlog: Latency = result["backlog_latency"]
    latency = format_table(
        ["intake to SYNCHRONIZED", "requests", "p50 s", "p99 s", "monitor runs meanwhile"],
        [
            ["one at a time", f"{single.requests:,}", f"{single.p50:.2f}", f"{single.p99:.2f}", str(single.monitor_runs)],
            ["in the backlog", f"{in_backlog.requests:,}", f"{in_backlog.p50:.2f}", f"{in_backlog.p99:.2f}", str(in_backlog.monitor_runs)],
        ],
        right={1, 2, 3, 4},
    )
    return (
        f"{table}\n{growth}"
        f"backlog of {result['backlog']:,} ({result['per_entity']} changes of each of {result['backlog'] // result['per_entity']:,} persons,"
        f" batches of {result['batch_size']} by {result['clients']} clients):"
        f" posted in {result['backlog_post_seconds']:.0f} s, drained in {drained.seconds:.0f} s"
        f" ({result['backlog'] / drained.seconds:.1f} requests/s through the monitor and delivery; {drained.runs} monitor runs"
        f" every {SCHEDULE_SECONDS} s, {drained.monitor_seconds:.0f} s in all, the longest {drained.longest_run:.0f} s, which queued"
        f" {drained.monitor_queued:,} of the requests: the others went at their intake or their entity's acknowledgement)\n"
        f"{latency}\n"
        f"after {result['posted']:,} requests: hub RSS {hub_mb:.0f} MB (at start {result['start_mb'][0]:.0f} MB),"
        f" execution environments {env_mb:.0f} MB\n"
        f"accounted for: {result['posted'] - len(result['lost']):,} of {result['posted']:,} SYNCHRONIZED at MDM,"
        f" {len(result['lost'])} lost, {len(result['twice'])} accepted more than once,"
        f" {result['older_images']} older image(s) received after a newer one\n"
        f"hub stopped {result['stop_seconds']:.1f} s after Ctrl-C\n"
        f"{calls}\n"
        f"targets: {'all met' if not result['failures'] else 'MISSED ' + '; '.join(result['failures'])}"
        f" (hub RSS under {RSS_LIMIT_MB:,} MB, stop within {STOP_LIMIT_SECONDS} s, last window's rate at least"
        f" {RATE_FLOOR:.0%} of the first's (when windows are measured), p50 one at a time at most {LATENCY_GOAL_SECONDS:g} s, nothing lost, nothing twice,"
        " no older image after a newer one)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.local_runtime", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000", help="requests in the tables at each measured window")
    parser.add_argument("--window", type=int, default=1000, help="requests per measured window")
    parser.add_argument("--backlog", type=int, default=100_000, help="requests posted at once, then drained")
    parser.add_argument("--backlog-per-entity", type=int, default=5, help="changes per person in the backlog")
    parser.add_argument("--one-at-a-time", type=int, default=100, help="requests posted one at a time for the latency")
    parser.add_argument("--batch", type=int, default=BATCH, help="requests per batch post (the intake takes up to 100)")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="batch posts sent at once")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= BATCH:
        parser.error(f"--batch must be 1 to {BATCH}")
    result = run(
        [int(s) for s in args.sizes.split(",")],
        args.window,
        args.backlog,
        args.backlog_per_entity,
        args.one_at_a_time,
        args.batch,
        args.clients,
    )
    print(report(result))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
