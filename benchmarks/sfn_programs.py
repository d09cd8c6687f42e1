"""Executions per second of one small state machine on moto's Step Functions interpreter, with the definition parsed
for every execution (moto 5.2.5 as released) and parsed once (:mod:`localhub.aws.patches.stepfunctions_programs`).

``python -m benchmarks.sfn_programs [--executions 200]``: each in a process of its own (moto in-process, no HTTP),
the same state machine (a ``Pass``, a ``Choice`` and a ``Map`` of two ``Pass`` states: a few states, as the hub's
workflows have) started ``--executions`` times one after the other, each waited for to end. What matters is the
ratio of the two rates.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from benchmarks.common import ROOT, format_table

DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"items": [1, 2, 3], "done": False}, "ResultPath": "$.plan", "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.plan.done", "BooleanEquals": True, "Next": "End"}], "Default": "Each"},
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.plan.items",
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "StartAt": "Take",
                "States": {
                    "Take": {"Type": "Pass", "Parameters": {"item.$": "$"}, "Next": "Keep"},
                    "Keep": {"Type": "Pass", "End": True},
                },
            },
            "ResultPath": "$.results",
            "Next": "End",
        },
        "End": {"Type": "Succeed"},
    },
}


def _probe(executions: int, patched: bool) -> dict[str, float]:
    """Runs in a fresh process: moto with or without the change."""
    import boto3
    from moto import mock_aws

    if patched:
        from localhub.aws.patches import stepfunctions_programs

        stepfunctions_programs.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="eu-west-1")
        arn = sfn.create_state_machine(name="bench", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/bench")[
            "stateMachineArn"
        ]

        def run_one(n: int) -> str:
            execution = sfn.start_execution(stateMachineArn=arn, name=f"e{n}", input="{}")["executionArn"]
            while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
                time.sleep(0.001)
            return str(status)

        run_one(-1)  # imports and first-use costs, outside the measurement
        started = time.perf_counter()
        statuses = {run_one(n) for n in range(executions)}
        elapsed = time.perf_counter() - started
    if statuses != {"SUCCEEDED"}:
        raise RuntimeError(f"executions ended {sorted(statuses)}")
    return {"executions": executions, "seconds": elapsed, "perSecond": executions / elapsed}


def measure(executions: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, patched in (("moto 5.2.5 (parsed per execution)", False), ("parsed once", True)):
        output = subprocess.run(  # noqa: S603 - this interpreter running this module
            [sys.executable, "-m", "benchmarks.sfn_programs", "--probe", "1" if patched else "0", "--executions", str(executions)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[name] = json.loads(output.strip().splitlines()[-1])
    return results


def report(results: dict[str, dict[str, float]]) -> str:
    first = next(iter(results.values()))["perSecond"]
    rows = [
        [name, f"{r['executions']:.0f}", f"{r['seconds']:.2f}", f"{r['perSecond']:.1f}", f"{r['perSecond'] / first:.2f}"]
        for name, r in results.items()
    ]
    return format_table(["moto", "executions", "seconds", "per second", "ratio"], rows, right={1, 2, 3, 4})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sfn_programs", description=__doc__)
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--probe", choices=("0", "1"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe is not None:
        print(json.dumps(_probe(args.executions, args.probe == "1")))
        return 0
    print(report(measure(args.executions)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
