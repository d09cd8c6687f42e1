"""Cold-start time of each handler (its import, and the init that builds what it needs from its settings)
against the floor of importing boto3.

Each import runs in a fresh interpreter (as a Lambda cold start does), with the common layer
on the path and tracing disabled; the interpreter's own start-up (``python -c pass``) is
subtracted. The commands are interleaved so the load of the machine weighs on all alike.

``python -m benchmarks.imports [--runs 3] [--all]``: ``--all`` measures every function of the template,
each with its own environment as the local hub resolves it (read from a hub started once on an
embedded AWS; the imports themselves make no AWS call); without it, the three MD-01 handlers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from benchmarks.common import ROOT, Row, captured, figure, format_table

TARGET_RATIO = 1.25  # the target for a handler's cold start against import boto3
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


def template_handlers() -> dict[str, tuple[str, dict[str, str]]]:
    """Every function of the template: its handler's module and its environment as the local hub resolves it."""
    from localhub.aws.endpoint import embedded_aws
    from localhub.hub import LocalHub

    with captured(), embedded_aws():
        hub = LocalHub().start()
        try:
            return {spec.logical_id: (spec.module, dict(spec.environment)) for spec in hub.functions()}
        finally:
            hub.stop()


def _measure(commands: dict[str, tuple[str, dict[str, str]]], runs: int) -> dict[str, float]:
    """Median milliseconds of each (code, environment), the commands interleaved."""
    for code, env in commands.values():  # bytecode caches and file system caches warm, outside the measurement
        _run(code, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (code, env) in commands.items():
            samples[name].append(_run(code, env))
    return {name: statistics.median(values) for name, values in samples.items()}


def import_times(runs: int) -> list[Row]:
    env = _environment()
    commands = {
        "pass": ("pass", env),
        "boto3": ("import boto3", env),
        **{name: (f"import {module}", env) for name, module in HANDLERS.items()},
    }
    median = _measure(commands, runs)
    boto3 = median["boto3"] - median["pass"]
    rows = [Row("4. import boto3 (the floor)", boto3, None, "ms", f"median of {runs}, interpreter start-up subtracted")]
    for name in HANDLERS:
        rows.append(Row(f"4. import {name} handler", median[name] - median["pass"], boto3, "ms", "floor: import boto3"))
    return rows


def every_handler(runs: int) -> list[Row]:
    """:func:`import_times` for every function of the template, each with its own environment."""
    base = {k: v for k, v in _environment().items() if not k.startswith("UTILHUB_")}
    commands: dict[str, tuple[str, dict[str, str]]] = {"pass": ("pass", base), "boto3": ("import boto3", base)}
    for logical_id, (module, environment) in sorted(template_handlers().items()):
        commands[logical_id] = (f"import {module}", {**base, **environment, "POWERTOOLS_TRACE_DISABLED": "true"})
    median = _measure(commands, runs)
    boto3 = median["boto3"] - median["pass"]
    rows = [Row("import boto3 (the floor)", boto3, None, "ms", f"median of {runs}, interpreter start-up subtracted")]
    for name in commands:
        if name not in ("pass", "boto3"):
            rows.append(Row(name, median[name] - median["pass"], boto3, "ms", "floor: import boto3"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.imports", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters per command (the median is kept)")
    parser.add_argument("--all", action="store_true", help="every function of the template, not only the three MD-01 handlers")
    args = parser.parse_args(argv)
    rows = every_handler(args.runs) if args.all else import_times(args.runs)
    body = [[r.measure, figure(r.hub), figure(r.floor) if r.floor else "", f"{r.ratio:.2f}" if r.ratio else "", r.note] for r in rows]
    print(format_table(["handler (import and init)", "ms", "floor ms", "ratio", "note"], body, right={1, 2, 3}))
    over = [r.measure for r in rows if r.ratio is not None and r.ratio > TARGET_RATIO]
    print(f"over {TARGET_RATIO} x import boto3: {len(over)} of {len(rows) - 1}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
