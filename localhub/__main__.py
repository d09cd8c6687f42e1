"""``python -m localhub`` (``make run``): the whole hub on this machine. ``--demo``: a scripted
scenario for every pack, then a table of what happened."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from localhub.apigw.auth import LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET
from localhub.hub import LocalHub
from localhub.lambda_.logs import FunctionLogs, function_labels
from localhub.lambda_.workers import WorkerPool
from localhub.server import LocalRuntime
from localhub.template import Template, parameter_refusal


def clients(runtime: LocalRuntime) -> str:
    """One line per client of the template: name, secret, scopes."""
    width = max((len(f"{c.name} / {c.secret}") for c in runtime.hub.clients.values()), default=0)
    return "\n".join(
        f"  {f'{client.name} / {client.secret}':<{width}}  {' '.join(sorted(client.scopes))}" for client in runtime.hub.clients.values()
    )


DEFAULT_LOG_FILE = ".aws-sam/localhub/functions.log"
HOP_HEADER = f"{'time':<8}  {'point':<20} {'id':<24} {'system':<6} outcome"


def function_logs(template: Template, log_file: str, *, verbose: bool) -> FunctionLogs:
    """The functions' output: every JSON line to ``log_file``; on the terminal one hop line each, or (``verbose``) the JSON."""
    descriptions = {
        logical_id: str(resource.get("Properties", {}).get("Description", ""))
        for logical_id, resource in template.of_type("AWS::Serverless::Function")
    }
    return FunctionLogs(Path(log_file), sys.stdout, verbose=verbose, labels=function_labels(descriptions))


def logs_line(logs: FunctionLogs | None) -> str:
    if logs is None or logs.path is None:
        return "  function logs     on this terminal (--in-process)"
    shown = "as they are (--verbose)" if logs.verbose else "one line per hop below; --verbose prints the JSON here"
    return f"  function logs     {logs.path.resolve()}  (JSON lines; {shown})"


def banner(runtime: LocalRuntime, logs: FunctionLogs | None = None) -> str:
    api = runtime.api_url
    return f"""
utilhub local hub is up
  HTTP API          {api}
  web console       {api}/console/   (the operators' pages; locally it takes the ops client's token by itself)
{logs_line(logs)}
  embedded AWS      {runtime.aws_endpoint}   any credentials, region eu-west-1; for example
                    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local .venv/bin/aws --region eu-west-1 \\
                      --endpoint-url {runtime.aws_endpoint} dynamodb list-tables
  control API       {api}/_local/health  /_local/resources  /_local/sim/<system>/state
  simulators        {", ".join(f"{s} {runtime.hub.simulator_url(s)}" for s in runtime.hub.simulators)}

Clients (client credentials at {api}/oauth2/token), each application's with its deployed counterpart's scopes:
{clients(runtime)}
Get a token (local client {LOCAL_CLIENT_ID}: every scope, may act as any system; or an application's, e.g. -u ccb:ccb-local-secret):
  TOKEN=$(curl -s -u {LOCAL_CLIENT_ID}:{LOCAL_CLIENT_SECRET} -d grant_type=client_credentials {api}/oauth2/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

Send a person to MDM (MD-01; sent at its intake, no monitor run needed), and look:
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' {api}/meter-data/sync-requests \\
    -d '{{"syncRequestId":"SR-1","entityType":"PERSON","entityId":"P-1","changedAt":"2026-11-20T09:00:00Z","data":{{"name":"Ada Lovelace"}}}}'
  curl -s -H "Authorization: Bearer $TOKEN" {api}/meter-data/sync-requests/SR-1
Run the monitor now (what waits for it: a batch, a resubmission):
  curl -s -X POST {api}/_local/schedules/MeterDataSyncMonitorFunction/run

Ctrl-C stops everything.
"""


def parameter_overrides(pairs: list[str], template: Template) -> dict[str, str]:
    """``Name=Value`` pairs checked against the template's parameters (their name, ``AllowedValues`` and ``AllowedPattern``),
    as ``sam deploy --parameter-overrides`` takes them."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        spec = template.parameters.get(name)
        if not separator or spec is None:
            raise ValueError(f"{pair!r} is not Name=Value for a parameter of template.yaml ({', '.join(template.parameters)})")
        if (refusal := parameter_refusal(name, spec, value)) is not None:
            raise ValueError(refusal)
        overrides[name] = value
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localhub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="HTTP API port (default 3000)")
    parser.add_argument("--aws-port", type=int, default=4566, help="embedded AWS endpoint port (default 4566)")
    parser.add_argument("--no-schedules", action="store_true", help="run schedules only through the control API")
    parser.add_argument("--demo", action="store_true", help="run the scripted scenario of every pack, print what happened, exit")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print the functions' JSON log lines on the terminal (not one line per hop), and every request of the embedded endpoint and simulators",
    )
    parser.add_argument(
        "--log-file",
        default=DEFAULT_LOG_FILE,
        metavar="PATH",
        help=f"where the functions' JSON log lines go (default {DEFAULT_LOG_FILE})",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="invocations at once per function without ReservedConcurrentExecutions (default 4)"
    )
    parser.add_argument("--max-environments", type=int, default=12, help="execution environments (processes) alive at once (default 12)")
    parser.add_argument(
        "--in-process", action="store_true", help="run functions in this process, one at a time (to step through a handler in a debugger)"
    )
    parser.add_argument(
        "--sfn-retry-scale",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="run Step Functions' Retry waits at this fraction of their length, for fault runs (default 1: as on AWS)",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="template parameters, as sam takes them (e.g. MetersManagedIn=MDM)",
    )
    args = parser.parse_args(argv)
    template = Template.load()
    try:
        overrides = parameter_overrides(args.parameter_overrides, template)
    except ValueError as exc:
        parser.error(str(exc))
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # Powertools warns on every invocation that flushes no metric; on Lambda that goes to the log.
        warnings.filterwarnings("ignore", message="No application metrics to publish")

    logs = None if args.in_process else function_logs(template, args.log_file, verbose=args.verbose)
    workers = None if args.in_process else WorkerPool(default_concurrency=args.concurrency, max_processes=args.max_environments, logs=logs)
    runtime = LocalRuntime(
        host=args.host,
        api_port=args.port,
        aws_port=args.aws_port,
        run_schedules=not args.no_schedules,
        hub=LocalHub(workers=workers, parameters=overrides, sfn_retry_scale=args.sfn_retry_scale),
    )
    runtime.start()
    if args.demo:
        from examples.demo import run_demo

        if logs is not None:
            print(f"{logs_line(logs).strip()}\n{'' if args.verbose else HOP_HEADER}", flush=True)
        try:
            return run_demo(runtime)
        finally:
            runtime.stop()

    print(banner(runtime, logs), flush=True)
    if logs is not None and not args.verbose:
        print(HOP_HEADER, flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    print("stopping...", flush=True)
    for arn in runtime.stop():
        print(f"execution still running, abandoned: {arn}", flush=True)
    if logs is not None:
        logs.close()
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is stopped and nothing is left to write: leave without the interpreter's final
    # collection, which over the embedded AWS's millions of objects takes longer than the stop itself.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
