"""Cold-start time of each handler (its import, and the init that builds what it needs from its settings)
against the floor of importing boto3.

Each import runs in a fresh interpreter (as a Lambda cold start does), with the common layer
on the path and tracing disabled; the interpreter's own start-up (``python -c pass``) is
subtracted. The commands are interleaved so the load of the machine weighs on all alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from benchmarks.common import ROOT, Row

HANDLERS = {
    "sync_requests": "functions.meter_data.sync_requests.app",
    "sync_monitor": "functions.meter_data.sync_monitor.app",
    "sync_delivery": "functions.meter_data.sync_delivery.app",
}


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UTILHUB_", "POWERTOOLS_", "AWS_"))}
    env.update(PYTHONPATH=os.pathsep.join(["layers/common", "."]), POWERTOOLS_TRACE_DISABLED="true")
    # what the three functions build at init (their stores, queue and connector; no call is made)
    env.update(
        AWS_DEFAULT_REGION="eu-west-1",
        UTILHUB_SYNC_REQUEST_TABLE="SyncRequestTable",
        UTILHUB_XREF_TABLE="CrossReferenceTable",
        UTILHUB_DELIVERY_QUEUE_URL="https://sqs.eu-west-1.amazonaws.com/123456789012/MdmDeliveryQueue.fifo",
        UTILHUB_MDM_BASE_URL="https://mdm.example.com",
    )
    return env


def _run(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)  # noqa: S603 - our interpreter, fixed code
    return (time.perf_counter() - started) * 1000


def import_times(runs: int) -> list[Row]:
    env = _environment()
    commands = {"pass": "pass", "boto3": "import boto3", **{name: f"import {module}" for name, module in HANDLERS.items()}}
    for code in commands.values():  # bytecode caches and file system caches warm, outside the measurement
        _run(code, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, code in commands.items():
            samples[name].append(_run(code, env))
    median = {name: statistics.median(values) for name, values in samples.items()}
    boto3 = median["boto3"] - median["pass"]
    rows = [Row("4. import boto3 (the floor)", boto3, None, "ms", f"median of {runs}, interpreter start-up subtracted")]
    for name in HANDLERS:
        rows.append(Row(f"4. import {name} handler", median[name] - median["pass"], boto3, "ms", "floor: import boto3"))
    return rows
