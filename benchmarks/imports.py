"""Cold-start time of each handler (its import, and the init that builds what it needs from its settings)
against the floor of importing boto3.

Every function the template deploys is measured (the list and each function's environment as the local hub
resolves them, read from a hub started once on an embedded AWS; the imports themselves make no AWS call). Each
import runs in a fresh interpreter (as a Lambda cold start does), with the common layer on the path and tracing
disabled; the interpreter's own start-up (``python -c pass``) is subtracted. What is measured is the child's CPU
time (user + system): on a shared machine a process also waits for a core, which wall time counts and CPU time
does not. The commands are interleaved so the load of the machine weighs on all alike, and a first pass of each,
not counted, writes the bytecode caches (as an installed package ships them).

``python -m benchmarks.imports [--runs 3] [--module functions.x.y.app ...]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from benchmarks.common import ROOT, Row, captured, figure, format_table

if TYPE_CHECKING:
    from localhub.hub import LocalHub

TARGET_RATIO = 1.25  # the target for a handler's cold start against import boto3
FLOOR = "import boto3 (the floor)"


def _environment() -> dict[str, str]:
    """The environment every command shares: the layer on the path, tracing off, bytecode caches written."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UTILHUB_", "POWERTOOLS_", "AWS_")) and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }
    env.update(PYTHONPATH=os.pathsep.join(["layers/common", "."]), POWERTOOLS_TRACE_DISABLED="true", AWS_DEFAULT_REGION="eu-west-1")
    return env


def _run(code: str, env: Mapping[str, str]) -> float:
    """CPU milliseconds (user + system) of a fresh interpreter running ``code``."""
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=dict(env))  # noqa: S603 - our interpreter, fixed code
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, code)
    return (usage.ru_utime + usage.ru_stime) * 1000


def handlers_of(hub: LocalHub) -> dict[str, tuple[str, dict[str, str]]]:
    """Every function ``hub`` runs (what its template deploys): its handler's module and its resolved environment."""
    return {spec.logical_id: (spec.module, dict(spec.environment)) for spec in hub.functions()}


def template_handlers() -> dict[str, tuple[str, dict[str, str]]]:
    """:func:`handlers_of` the template, from a local hub started for the purpose on an embedded AWS, whose resources
    are forgotten after (moto's are the process's: a later section's hub provisions the same names afresh)."""
    from localhub.aws.endpoint import embedded_aws, reset
    from localhub.hub import LocalHub

    with captured(), embedded_aws() as endpoint:
        hub = LocalHub().start()
        try:
            return handlers_of(hub)
        finally:
            hub.stop()
            reset(endpoint)


def commands(handlers: Mapping[str, tuple[str, Mapping[str, str]]]) -> dict[str, tuple[str, dict[str, str]]]:
    """The command of each measure: the interpreter's start-up, the floor, and each handler with its environment."""
    base = _environment()
    found: dict[str, tuple[str, dict[str, str]]] = {"pass": ("pass", base), FLOOR: ("import boto3", base)}
    for logical_id, (module, environment) in sorted(handlers.items()):
        found[logical_id] = (f"import {module}", {**base, **environment, "POWERTOOLS_TRACE_DISABLED": "true"})
    return found


def one_per_pack(handlers: Mapping[str, tuple[str, Mapping[str, str]]]) -> dict[str, tuple[str, Mapping[str, str]]]:
    """A handler of each pack (``functions/<pack>/``): the first by logical id; what a quick run measures."""
    chosen: dict[str, tuple[str, tuple[str, Mapping[str, str]]]] = {}
    for logical_id, (module, environment) in sorted(handlers.items()):
        chosen.setdefault(module.split(".")[1], (logical_id, (module, environment)))
    return dict(chosen.values())


def _measure(to_run: Mapping[str, tuple[str, Mapping[str, str]]], runs: int) -> dict[str, float]:
    """Median CPU milliseconds of each (code, environment), the commands interleaved."""
    for code, env in to_run.values():  # bytecode and file system caches warm, outside the measurement
        _run(code, env)
    samples: dict[str, list[float]] = {name: [] for name in to_run}
    for _ in range(runs):
        for name, (code, env) in to_run.items():
            samples[name].append(_run(code, env))
    return {name: statistics.median(values) for name, values in samples.items()}


def every_handler(runs: int, handlers: Mapping[str, tuple[str, Mapping[str, str]]] | None = None, *, quick: bool = False) -> list[Row]:
    """Row 4: the import and init of every handler of the template (``quick``: of one handler per pack), against
    ``import boto3``, in one run."""
    found = template_handlers() if handlers is None else handlers
    median = _measure(commands(one_per_pack(found) if quick else found), runs)
    start_up = median.pop("pass")
    boto3 = median.pop(FLOOR) - start_up
    rows = [Row(f"4. {FLOOR}", boto3, None, "ms", f"CPU, median of {runs}, interpreter start-up subtracted")]
    rows += [Row(f"4. {name}", value - start_up, boto3, "ms", "import and init") for name, value in median.items()]
    return rows


def over_target(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.ratio is not None and r.ratio > TARGET_RATIO]


def report(rows: list[Row]) -> str:
    body = [[r.measure, figure(r.hub), figure(r.floor) if r.floor else "", f"{r.ratio:.2f}" if r.ratio else "", r.note] for r in rows]
    table = format_table(["handler (import and init)", "CPU ms", "floor ms", "ratio", "note"], body, right={1, 2, 3})
    return f"{table}\nover {TARGET_RATIO} x import boto3: {len(over_target(rows))} of {len(rows) - 1}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.imports", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters per command (the median is kept)")
    parser.add_argument("--module", action="append", default=[], help="only the functions whose handler is this module")
    args = parser.parse_args(argv)
    handlers = template_handlers()
    if args.module:
        handlers = {name: spec for name, spec in handlers.items() if spec[0] in args.module}
    print(report(every_handler(args.runs, handlers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
