"""DA-01, CCB's initial extract for DACS, as an operator starts and follows it: the ``DacsInitialSyncStateMachine``
execution named after the run, over CCB's JSON Lines extract under ``ccb/`` of the ``DacsExchangeBucket``
(docs/packs/dacs.md). The run has no HTTP route: the CLI starts it with Step Functions and reads its progress from
what the run writes, the ranges it planned (``work/<run>/ranges.json``) and the counts of each part written
(``work/<run>/counts/part-<n>.json``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utilhub_cli.hub import ApiError, Deployment

STATE_MACHINE = "DacsInitialSyncStateMachine"
BUCKET = "DacsExchangeBucket"
SOURCE_PREFIX = "ccb/"
WORK_PREFIX = "work/"
RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")  # an extract file's run: letters, digits, _ . - (and an execution name)


@dataclass(frozen=True)
class Progress:
    """Where a run is: its execution's status, the parts it planned (None before the plan) and those written."""

    run_id: str
    status: str
    parts: int | None
    written: int
    output: dict[str, Any] | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.status == "RUNNING"

    def as_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "status": self.status,
            "parts": self.parts,
            "partsWritten": self.written,
            "summary": self.output,
            "error": self.error,
        }


class InitialExtract:
    """DA-01 runs of one hub."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self._sfn: Any = None
        self._s3: Any = None
        self._names: dict[str, str] = {}

    @property
    def sfn(self) -> Any:
        if self._sfn is None:
            self._sfn = self.deployment.aws("stepfunctions")
        return self._sfn

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self.deployment.aws("s3")
        return self._s3

    def _resource(self, logical_id: str) -> str:
        if logical_id not in self._names:
            self._names[logical_id] = self.deployment.resource(logical_id)
        return self._names[logical_id]

    def upload(self, path: Path, source_key: str) -> None:
        """Put CCB's extract file ``path`` at ``source_key`` of the exchange bucket."""
        with path.open("rb") as body:
            self.s3.upload_fileobj(body, self._resource(BUCKET), source_key)

    def start(self, run_id: str, source_key: str, persons_per_part: int) -> str:
        """Start run ``run_id`` (its execution's name) over ``source_key``; its execution ARN."""
        if not RUN_ID.match(run_id):
            raise ApiError(400, "not a run id", f"{run_id!r}: letters, digits, '_', '.', '-', up to 80")
        if not source_key.startswith(SOURCE_PREFIX):
            raise ApiError(400, "not a CCB extract", f"{source_key!r} is not under {SOURCE_PREFIX} of the exchange bucket")
        started = self.sfn.start_execution(
            stateMachineArn=self._resource(STATE_MACHINE),
            name=run_id,
            input=json.dumps({"runId": run_id, "sourceKey": source_key, "personsPerPart": persons_per_part}),
        )
        return str(started["executionArn"])

    def execution_arn(self, run_id: str) -> str:
        """The ARN of run ``run_id``'s execution: the state machine's, as an execution named after the run."""
        machine = self._resource(STATE_MACHINE)
        return machine.replace(":stateMachine:", ":execution:", 1) + f":{run_id}"

    def progress(self, run_id: str) -> Progress:
        try:
            execution = self.sfn.describe_execution(executionArn=self.execution_arn(run_id))
        except self.sfn.exceptions.ExecutionDoesNotExist:
            raise ApiError(404, "no such run", f"no DA-01 run {run_id}") from None
        status = str(execution["status"])
        output = json.loads(execution["output"]) if status == "SUCCEEDED" and execution.get("output") else None
        error = " ".join(str(execution[k]) for k in ("error", "cause") if execution.get(k)) or None
        parts = self._planned_parts(run_id)
        written = self._written_parts(run_id)
        if output is not None:
            parts = int(output.get("parts", parts or 0))
            written = parts
        return Progress(run_id=run_id, status=status, parts=parts, written=written, output=output, error=error)

    def _planned_parts(self, run_id: str) -> int | None:
        try:
            body = self.s3.get_object(Bucket=self._resource(BUCKET), Key=f"{WORK_PREFIX}{run_id}/ranges.json")["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        ranges = json.loads(body)
        return len(ranges) if isinstance(ranges, list) else None

    def _written_parts(self, run_id: str) -> int:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self._resource(BUCKET), Prefix=f"{WORK_PREFIX}{run_id}/counts/")
        return sum(1 for page in pages for item in page.get("Contents", []) if item["Key"].endswith(".json"))
