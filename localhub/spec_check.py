"""``python -m localhub.spec_check`` (``make schemathesis``): does the hub answer as ``docs/openapi.json`` says?

schemathesis generates requests from the document for every operation, valid ones and ones that break it
(positive and negative data), sends them to a local hub with a token of the local client that holds every
scope, and checks each answer: no server error, a documented status code, content type, body and headers,
and a request that breaks the document refused. The hub is started here on free ports (embedded AWS,
simulators, no schedules: each run sees the same state), or the run goes to one already running (``--url``).

The run is reproducible: ``--seed`` fixes the generation (``--deterministic``: the same cases whatever the
seed). ``tests/e2e/test_spec_conformance.py`` makes a bounded run of it in ``make test``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from localhub.apigw.auth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET
from localhub.template import ROOT

OPENAPI = ROOT / "docs" / "openapi.json"
CONFIG = ROOT / "tools" / "schemathesis.toml"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
)
PHASES = ("examples", "coverage", "fuzzing")
DEFAULT_SEED = 22
# A function's first invocation starts its execution environment; on a busy machine that outlasts
# schemathesis's 10 s default. The hub's synchronous routes keep their own time budgets.
REQUEST_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Failure:
    code: str  # schemathesis's failure code, e.g. ST103
    title: str
    count: int
    operations: tuple[str, ...]


@dataclass(frozen=True)
class SpecRun:
    """What a run found, from schemathesis's JSON report."""

    operations: int  # tested
    selected: int
    cases: int  # generated
    failures: tuple[Failure, ...]
    errors: tuple[str, ...]
    output: str  # schemathesis's own report (text)

    @property
    def failed_cases(self) -> int:
        return sum(failure.count for failure in self.failures)

    def summary(self) -> str:
        lines = [
            f"operations tested {self.operations}/{self.selected}, cases {self.cases}, "
            f"failures {self.failed_cases}, errors {len(self.errors)}"
        ]
        lines += [f"  {f.code} {f.title} ({f.count}): {', '.join(f.operations)}" for f in self.failures]
        lines += [f"  error: {error}" for error in self.errors]
        return "\n".join(lines)


def local_token(api_url: str) -> str:
    """A client-credentials token of the local client that holds every scope."""
    answer = httpx.post(
        f"{api_url}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET),
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def command(
    api_url: str,
    token: str,
    report: Path,
    *,
    max_examples: int,
    seed: int,
    deterministic: bool,
    workers: int,
    phases: tuple[str, ...] = PHASES,
) -> list[str]:
    """The ``schemathesis run`` command line of a run (the token is passed as a header)."""
    args = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        str(OPENAPI),
        "--url",
        api_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--mode",
        "all",
        "--phases",
        ",".join(phases),
        "--max-examples",
        str(max_examples),
        "--workers",
        str(workers),
        "--request-timeout",
        str(REQUEST_TIMEOUT_SECONDS),
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    # deterministic: no randomness and no example database; else the seed fixes the randomness, and no
    # database of earlier runs' examples (.hypothesis/) changes what a run tries
    args += ["--generation-deterministic"] if deterministic else ["--seed", str(seed), "--generation-database", "none"]
    return args


def check_spec(
    api_url: str,
    *,
    max_examples: int,
    seed: int = DEFAULT_SEED,
    deterministic: bool = False,
    workers: int = 1,
    phases: tuple[str, ...] = PHASES,
    token: str | None = None,
) -> SpecRun:
    """Run schemathesis over every operation of ``docs/openapi.json`` against the hub at ``api_url``.

    ``phases``: schemathesis's ``examples`` (the document's examples), ``coverage`` (each parameter's and
    property's boundary and invalid values, a fixed set whatever ``max_examples``) and ``fuzzing``
    (``max_examples`` generated cases per operation and mode)."""
    with tempfile.TemporaryDirectory(prefix="utilhub-spec-") as folder:
        report = Path(folder) / "report.json"
        args = command(
            api_url,
            token or local_token(api_url),
            report,
            max_examples=max_examples,
            seed=seed,
            deterministic=deterministic,
            workers=workers,
            phases=phases,
        )
        done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=folder, env={**os.environ, "NO_COLOR": "1"})  # noqa: S603 - our own argv
        if not report.exists():
            raise RuntimeError(f"schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return parse_report(json.loads(report.read_text(encoding="utf-8")), done.stdout)


def parse_report(report: dict[str, Any], output: str = "") -> SpecRun:
    """A :class:`SpecRun` from schemathesis's JSON run report."""
    failures = tuple(
        Failure(code=str(f["code"]), title=str(f["title"]), count=int(f["count"]), operations=tuple(f.get("operations", [])))
        for f in report.get("failures", [])
    )
    errors = tuple(json.dumps(error, sort_keys=True)[:500] for error in report.get("errors", []))
    return SpecRun(
        operations=int(report["operations"]["tested"]),
        selected=int(report["operations"]["selected"]),
        cases=int(report["test_cases"]["generated"]),
        failures=failures,
        errors=errors,
        output=output,
    )


@contextmanager
def local_hub(*, in_process: bool = False) -> Iterator[str]:
    """The hub as ``make run`` starts it (functions in their own execution environments; ``in_process``:
    in this process, one invocation at a time), on free ports, without schedules; yields its API URL."""
    from localhub.hub import LocalHub
    from localhub.lambda_.workers import WorkerPool
    from localhub.server import LocalRuntime

    hub = LocalHub(workers=None if in_process else WorkerPool())
    runtime = LocalRuntime(api_port=0, aws_port=0, run_schedules=False, hub=hub).start()
    try:
        yield runtime.api_url
    finally:
        runtime.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localhub.spec_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--max-examples", type=int, default=50, help="generated cases per operation and phase (default 50)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"generation seed (default {DEFAULT_SEED})")
    parser.add_argument("--deterministic", action="store_true", help="the same cases whatever the seed")
    parser.add_argument("--workers", type=int, default=2, help="requests in flight at once (default 2)")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"schemathesis's phases, comma-separated (default {','.join(PHASES)})")
    parser.add_argument("--url", help="a hub already running (e.g. make run's http://127.0.0.1:3000); default: start one")
    parser.add_argument("--in-process", action="store_true", help="run the functions in this process, one at a time (a busy machine)")
    parser.add_argument("--verbose", action="store_true", help="print schemathesis's own report too")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request of the embedded AWS
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    def run(url: str) -> SpecRun:
        return check_spec(
            url,
            max_examples=args.max_examples,
            seed=args.seed,
            deterministic=args.deterministic,
            workers=args.workers,
            phases=tuple(args.phases.split(",")),
        )

    if args.url:
        result = run(args.url.rstrip("/"))
    else:
        with local_hub(in_process=args.in_process) as url:
            result = run(url)
    if args.verbose or result.failures or result.errors:
        print(result.output)
    print(result.summary())
    return 1 if result.failures or result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
