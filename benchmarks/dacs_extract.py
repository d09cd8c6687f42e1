"""The DACS extract writer at scale (DA-01, DA-02): records per second per core and peak memory at
100,000 and 1,000,000 entities, each size in a fresh process.

- Writer: :class:`ExtractWriter` writing N records (a pool of 1,000 distinct rows with hostile values,
  each row's id made unique) to a sink that keeps only a byte count and a SHA-256 (what S3ObjectSink
  does besides uploading; its 8 MiB part buffer is constant). Floor: the same rows joined with tabs
  and encoded, no escaping, no header, no batching (the least any TSV writer does).
- Part pipeline: what one DA-01 Map iteration does per person line of CCB's extract: parse and validate
  the line (pydantic), decide eligibility, map to records, write (1 person -> 0 or 3 records).
- Memory: peak of traced Python allocations (tracemalloc) while writing, and the process's peak RSS;
  the growth between the two sizes is what "constant memory" means.

``python -m benchmarks.dacs_extract`` prints the table; ``make bench`` includes it.
"""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator

from benchmarks.common import ROOT, figure, format_table
from utilhub.packs.dacs.extract_file import ExtractWriter, Kind
from utilhub.packs.dacs.records import ContactRecord

HOSTILE = ("Tab\there", "Line\nbreak", "Back\\slash", "Carriage\rreturn", "Ünïcødé 日本 🚰", "Plain Name", "")


class CountingSink:
    """What the S3 sink does with the bytes besides uploading them: count and hash."""

    def __init__(self) -> None:
        self.size = 0
        self._digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self._digest.update(data)


def _pool() -> list[tuple[str | None, ...]]:
    return [
        ContactRecord(
            externalReferenceId=f"{n:010d}",
            changeDateTime="2026-03-01T10:00:00Z",
            name=f"{HOSTILE[n % len(HOSTILE)]} {n}",
            city=HOSTILE[(n + 3) % len(HOSTILE)] or None,
            addressLine1=f"{n} Main St",
            country="GB",
        ).row()
        for n in range(1000)
    ]


def _rows(entities: int) -> Iterator[tuple[str | None, ...]]:
    pool = _pool()
    for n in range(entities):
        row = pool[n % 1000]
        yield (f"{n:010d}", *row[1:])


def _writer(entities: int) -> int:
    sink = CountingSink()
    writer = ExtractWriter(sink, Kind.CONTACT)
    writer.write_all(_rows(entities))
    writer.close()
    return sink.size


def _floor(entities: int) -> int:
    sink = CountingSink()
    for row in _rows(entities):
        sink.write(("\t".join(v or "" for v in row) + "\n").encode())
    return sink.size


def _pipeline(persons: int) -> int:
    from localhub.simulators.ccb_extract import ccb_extract_lines
    from utilhub.packs.dacs.eligibility import eligible_statuses
    from utilhub.packs.dacs.initial import SourcePerson, eligible_records

    statuses = eligible_statuses("ACTIVE")
    sinks = {kind: CountingSink() for kind in Kind}
    writers = {kind: ExtractWriter(sinks[kind], kind) for kind in Kind}
    written = 0
    for line in ccb_extract_lines(persons):
        for record in eligible_records(SourcePerson.model_validate_json(line), statuses):
            writers[record.kind].write(record.row())
            written += 1
    for writer in writers.values():
        writer.close()
    return written


CASES = {"writer": _writer, "floor": _floor, "pipeline": _pipeline}


def _peak_rss() -> int:
    """This process's peak resident set: VmHWM (reset by exec, unlike ru_maxrss, which a child started
    from a large parent inherits), else ru_maxrss."""
    from pathlib import Path

    status = Path("/proc/self/status")
    lines = status.read_text(encoding="ascii").splitlines() if status.exists() else []
    peak = next((int(line.split()[1]) * 1024 for line in lines if line.startswith("VmHWM:")), None)
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(case: str, entities: int, traced: bool) -> dict[str, float]:
    """One measurement in this (fresh) process."""
    work = CASES[case]
    if traced:
        tracemalloc.start()
        work(entities)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"peakTracedBytes": peak, "maxRssBytes": _peak_rss()}
    started = time.process_time()
    result = work(entities)
    cpu = time.process_time() - started
    return {"cpuSeconds": cpu, "perSecond": entities / cpu, "output": result}


def measure(case: str, entities: int, traced: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "benchmarks.dacs_extract", "--child", case, str(entities), "1" if traced else "0"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603 - our own module
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def run(sizes: list[int], pipeline_persons: int) -> list[list[str]]:
    rows: list[list[str]] = []
    results = {size: (measure("writer", size, False), measure("floor", size, False), measure("writer", size, True)) for size in sizes}
    for size, (speed, floor, memory) in results.items():
        rows.append(
            [
                f"writer, {size:,} records",
                figure(speed["perSecond"]),
                figure(floor["perSecond"]),
                f"{floor['perSecond'] / speed['perSecond']:.2f}",
                figure(memory["peakTracedBytes"] / 1e6),
                figure(memory["maxRssBytes"] / 1e6),
            ]
        )
    if len(sizes) >= 2:
        small, large = results[sizes[0]][2], results[sizes[-1]][2]
        growth = large["peakTracedBytes"] / small["peakTracedBytes"] - 1
        rss = large["maxRssBytes"] / small["maxRssBytes"] - 1
        rows.append([f"peak memory growth {sizes[0]:,} -> {sizes[-1]:,}", "", "", "", f"{growth:+.1%}", f"{rss:+.1%}"])
    speed = measure("pipeline", pipeline_persons, False)
    memory = measure("pipeline", pipeline_persons, True)
    rows.append(
        [
            f"DA-01 part, {pipeline_persons:,} persons",
            figure(speed["output"] / speed["cpuSeconds"]),
            "",
            "",
            figure(memory["peakTracedBytes"] / 1e6),
            figure(memory["maxRssBytes"] / 1e6),
        ]
    )
    return rows


def initial_sync_through_the_local_runtime(persons: int, persons_per_part: int) -> dict[str, object]:
    """DA-01 over ``persons`` persons through the local runtime (embedded AWS, moto's ASL interpreter,
    the steps in-process): wall time, the process's CPU time (every thread's: the steps and the embedded AWS, what one
    full core would take on a machine no other process shares) and the run's counts against what the source holds."""
    import boto3

    from localhub.aws.endpoint import embedded_aws, reset
    from localhub.hub import LocalHub
    from localhub.simulators.ccb_extract import ccb_extract_lines, expected_counts

    with embedded_aws() as endpoint:
        reset(endpoint)  # moto's backends are per process: another section may have used them
        hub = LocalHub().start()
        try:
            s3 = boto3.client("s3")
            bucket = hub.resources()["DacsExchangeBucket"]
            s3.put_object(Bucket=bucket, Key="ccb/bench.jsonl", Body=b"".join(ccb_extract_lines(persons)))
            sfn = boto3.client("stepfunctions")
            started, cpu_started = time.perf_counter(), time.process_time()
            arn = sfn.start_execution(
                stateMachineArn=hub.resources()["DacsInitialSyncStateMachine"],
                name="bench",
                input=json.dumps({"runId": "bench", "sourceKey": "ccb/bench.jsonl", "personsPerPart": persons_per_part}),
            )["executionArn"]
            while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
                time.sleep(0.2)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            summary = json.loads(execution.get("output") or "{}")
        finally:
            hub.stop()
    expected = expected_counts(persons)
    return {
        "persons": persons,
        "status": execution["status"],
        "wallSeconds": wall,
        "cpuSeconds": cpu,
        "parts": summary.get("parts"),
        "counts": {k: summary.get(k) for k in expected},
        "countsAsExpected": {k: summary.get(k) for k in expected} == expected,
        "joinedBy": {key.rsplit("/", 1)[-1]: file.get("joinedBy") for key, file in summary.get("files", {}).items()},
    }


def report(rows: list[list[str]]) -> str:
    headers = ["measure", "records/s per core", "floor records/s", "floor/hub", "peak traced MB", "peak RSS MB"]
    return format_table(headers, rows, right={1, 2, 3, 4, 5})


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1")))
    else:
        print(report(run([100_000, 1_000_000], 100_000)))
        print(json.dumps(initial_sync_through_the_local_runtime(20_000, 5_000)))  # make bench runs 1,000,000
