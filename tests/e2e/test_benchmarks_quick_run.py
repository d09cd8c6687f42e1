"""``make bench ARGS="--quick --no-runtime --no-backlog"``, as a new user first runs it, goes through every
section it has, ends with the cost of each integration point beside its floor, and exits 0. It checks the
benchmarks run, never how fast: no figure is compared with a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = (
    "CPU and memory",
    "Handler CPU per integration point",
    "Cold start of every handler of the template",
    "AWS calls per message",
    "Cost per million messages on AWS",
    "DACS extract writer",
    "DA-01 through the local runtime",
    "The embedded AWS's changes to moto",
    "MD-11 bill run through make run's hub",
    "Cost per million usage requests on AWS",
    "Other integration points through the real handlers",
    "Cost per integration point on AWS",
    "Capacity plan for a 10-million-customer utility",
)
CPU_POINTS = (
    "MD-01 JSON intake",
    "MD-01 CCB XML intake",
    "MD-11",
    "MD-13",
    "MD-16",
    "FW-06",
    "DA-02",
    "DA-04",
    "FW-01",
    "FW-02",
    "FW-03",
    "CU-01",
    "CU-02",
    "OC-01",
)
POINTS = (
    "MD-01 person sync, single posts",
    "MD-01 single, Idempotency-Key",
    "MD-01 person sync, one batch",
    "MD-11 bill run usage request",
    "MD-13 relay",
    "CU-02 customer update",
    "FW-01 activity",
    "OC-01 order through its workflow",
    "DA-02 person to DACS",
)


def test_the_quick_run_goes_through_every_section() -> None:
    # Given the command of `make bench ARGS="--quick --no-runtime --no-backlog"` (a process of its own, as make runs it)
    # (a user's shell: no endpoint or hub settings a test before this one left in this worker's environment)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "UTILHUB_"))}
    environment = {**inherited, "PYTHONPATH": f"{ROOT / 'layers' / 'common'}{os.pathsep}{ROOT}"}
    command = [sys.executable, "-m", "benchmarks", "--quick", "--no-runtime", "--no-backlog"]

    # When it runs
    completed = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)  # noqa: S603

    # Then it ends without an error, having printed every section it has
    report = completed.stdout
    assert completed.returncode == 0, f"{report[-3000:]}\n{completed.stderr[-3000:]}"
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    missing = [section for section in SECTIONS if section not in report]
    assert missing == [], report[-3000:]
    cpu = report[report.index("Handler CPU per integration point") : report.index("Cold start of every handler")]
    assert [point for point in CPU_POINTS if point not in cpu] == [], cpu
    table = report[report.index("Cost per integration point on AWS") :]
    assert [point for point in POINTS if point not in table] == [], table
    assert "finished in" in report
