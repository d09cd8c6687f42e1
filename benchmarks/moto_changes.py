"""The embedded AWS's changes to moto, measured against moto as released, side by side.

``python -m benchmarks.moto_changes [--sizes 1000,10000]``: for each table size, the milliseconds
of a 1-item ``TransactWriteItems`` and of a status-index ``Query`` (a partition of 50 items),
first with moto 5.2.5 as released, then with ``localhub``'s changes, each in a process of its own
(moto in-process, no HTTP). What matters is how each grows with the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from benchmarks.common import ROOT, figure, format_table

PARTITION = 50


def _probe(sizes: list[int], patched: bool) -> dict[int, dict[str, float]]:
    """Runs in a fresh process: moto with or without the changes."""
    import boto3
    from moto import mock_aws

    if patched:
        from localhub.aws.patches import dynamodb as moto_dynamodb
        from localhub.aws.patches import models as moto_models

        moto_models.install()
        moto_dynamodb.install()
    figures: dict[int, dict[str, float]] = {}
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName="requests",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "gpk", "gsk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "ByStatus",
                    "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}, {"AttributeName": "gsk", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        stored = 0
        for size in sizes:
            while stored < size:
                item: dict[str, Any] = {"pk": {"S": f"R{stored:08d}"}, "data": {"S": "x" * 300}}
                if stored < PARTITION:
                    item |= {"gpk": {"S": "PENDING#0"}, "gsk": {"S": f"{stored:08d}"}}
                client.put_item(TableName="requests", Item=item)
                stored += 1
            rounds = 20
            started = time.perf_counter()
            for n in range(rounds):
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": "requests",
                                "Key": {"pk": {"S": f"R{n:08d}"}},
                                "UpdateExpression": "SET inFlight = :i",
                                "ConditionExpression": "attribute_exists(pk)",
                                "ExpressionAttributeValues": {":i": {"S": f"{size}-{n}"}},
                            }
                        }
                    ]
                )
            transaction = (time.perf_counter() - started) / rounds * 1000
            started = time.perf_counter()
            for _ in range(rounds):
                found = client.query(
                    TableName="requests",
                    IndexName="ByStatus",
                    KeyConditionExpression="gpk = :p",
                    ExpressionAttributeValues={":p": {"S": "PENDING#0"}},
                )
                assert found["Count"] == PARTITION
            query = (time.perf_counter() - started) / rounds * 1000
            figures[size] = {"transaction": transaction, "query": query}
    return figures


def measure(sizes: list[int]) -> dict[str, dict[int, dict[str, float]]]:
    results: dict[str, dict[int, dict[str, float]]] = {}
    for name, patched in (("moto 5.2.5", False), ("with localhub's changes", True)):
        output = subprocess.run(  # noqa: S603 - this interpreter running this module
            [sys.executable, "-m", "benchmarks.moto_changes", "--probe", "1" if patched else "0", "--sizes", ",".join(map(str, sizes))],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[name] = {int(k): v for k, v in json.loads(output.strip().splitlines()[-1]).items()}
    return results


def report(results: dict[str, dict[int, dict[str, float]]]) -> str:
    rows = []
    for name, by_size in results.items():
        sizes = sorted(by_size)
        for measure in ("transaction", "query"):
            first = by_size[sizes[0]][measure]
            rows.append(
                [
                    name,
                    "1-item TransactWriteItems" if measure == "transaction" else f"index Query ({PARTITION} items)",
                    *(figure(by_size[s][measure]) for s in sizes),
                    f"{by_size[sizes[-1]][measure] / first:.2f}",
                ]
            )
    sizes = sorted(next(iter(results.values())))
    headers = ["moto", "ms per call", *(f"{s:,} items" for s in sizes), f"ratio {sizes[-1]:,} / {sizes[0]:,}"]
    return format_table(headers, rows, right=set(range(2, 3 + len(sizes))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.moto_changes", description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--probe", choices=("0", "1"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.probe is not None:
        print(json.dumps(_probe(sizes, args.probe == "1")))
        return 0
    print(report(measure(sizes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
