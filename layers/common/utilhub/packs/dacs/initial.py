"""DA-01 initial synchronization: every eligible CCB entity into the three extract files, as a Standard
state machine with a Distributed Map (``statemachines/dacs-initial-sync.asl.json``) over the source.

The source is CCB's extract in S3 as JSON Lines, one line per person with the service agreements of
the person and the service points of those agreements (:class:`SourcePerson`), in person id order.

Eligibility (Oracle's integration's "eligible entities", :mod:`utilhub.packs.dacs.eligibility`, the rule DA-02
applies too): a person is eligible when at least one of their service agreements has an eligible status
(``ACTIVE`` unless configured otherwise); its eligible agreements are eligible, and the service points those
agreements serve. Other persons, agreements and service points are not written.

1. :meth:`InitialSync.plan` streams the source once and cuts it into id ranges of ``persons_per_part``
   persons (each the low and high person id and the byte range holding them, as the original batch
   takes low and high id parameters), written as ``work/<run>/ranges.json`` for the Map's ItemReader.
2. :meth:`InitialSync.part` (one Map iteration, a child execution) reads its byte range as a stream and
   writes the eligible records to three part files ``work/<run>/<kind>/part-<n>.tsv`` (the first part
   carries the headers) and its counts to ``work/<run>/counts/part-<n>.json``. Memory is one S3 part
   buffer per file, whatever the range's size.
3. :meth:`InitialSync.join` joins each kind's parts into ``extract/<kind>-<run>.tsv`` server-side
   (multipart upload with UploadPartCopy) when every part but the last reaches S3's 5 MiB minimum,
   else by streaming the parts through (constant memory), then adds up the counts into
   ``work/<run>/summary.json``, the run's answer.

A restarted run (the same run id) rewrites the same keys with the same bytes; a run whose summary
exists answers it without writing anything again.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from utilhub.packs.dacs.eligibility import agreement_eligible, eligible_statuses
from utilhub.packs.dacs.extract_file import FILE_PREFIX, RUN_ID, ExtractWriter, Kind, file_name
from utilhub.packs.dacs.mapping import to_record
from utilhub.packs.dacs.records import ExternalId
from utilhub.packs.dacs.s3_sink import MIN_PART, S3ObjectSink
from utilhub.platform.text import text_only

WORK = "work/"
EXTRACT = "extract/"
_CHUNK = 1 << 20


class SourceServiceAgreement(BaseModel):
    model_config = ConfigDict(extra="allow")
    saId: ExternalId
    changedAt: AwareDatetime
    status: str = Field(max_length=30)


class SourceServicePoint(BaseModel):
    model_config = ConfigDict(extra="allow")
    spId: ExternalId
    changedAt: AwareDatetime


class SourcePerson(BaseModel):
    """One line of CCB's initial extract: a person, their service agreements and those agreements' service points."""

    model_config = ConfigDict(extra="ignore")
    personId: ExternalId
    changedAt: AwareDatetime
    person: dict[str, Any]
    serviceAgreements: list[SourceServiceAgreement] = Field(default_factory=list)
    servicePoints: list[SourceServicePoint] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _text(cls, data: Any) -> Any:
        """The file comes from CCB, not through the API: the same text rule as every route's body."""
        return text_only(data)


class PartRange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runId: str = Field(pattern=RUN_ID.pattern)
    index: int = Field(ge=0)
    lowId: str
    highId: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)  # inclusive, as an HTTP Range
    sourceKey: str


def eligible_records(source: SourcePerson, statuses: frozenset[str]) -> Iterator[Any]:
    """The DACS records of one source line (agreements of ``statuses`` are eligible): nothing for an ineligible person."""
    active = [sa for sa in source.serviceAgreements if agreement_eligible(sa.status, statuses)]
    if not active:
        return
    yield to_record("PERSON", source.personId, source.changedAt, source.person)
    served = dict.fromkeys(sp for sa in active for sp in (sa.model_extra or {}).get("servicePointIds", []))
    for point in source.servicePoints:
        if point.spId in served:
            yield to_record("SERVICE_POINT", point.spId, point.changedAt, point.model_extra or {})
    for sa in active:
        data = {"personId": source.personId, "status": sa.status, **(sa.model_extra or {})}
        yield to_record("SERVICE_AGREEMENT", sa.saId, sa.changedAt, data)


def _lines(body: Any, start: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line without LF) of a streamed body whose first byte is at ``start``."""
    rest = b""
    offset = start
    for chunk in body.iter_chunks(chunk_size=_CHUNK):
        data = rest + chunk
        begin = 0
        while (end := data.find(b"\n", begin)) != -1:
            yield offset, data[begin:end]
            offset += end - begin + 1
            begin = end + 1
        rest = data[begin:]
    if rest:
        yield offset, rest


class InitialSync:
    def __init__(self, s3: Any, bucket: str, statuses: frozenset[str] | None = None) -> None:
        self._s3 = s3
        self.bucket = bucket
        # the agreement statuses DACS takes (eligibility.py): the function's setting unless given
        self._statuses = eligible_statuses() if statuses is None else statuses

    # ------------------------------------------------------------------ 1. plan
    def plan(self, run_id: str, source_key: str, persons_per_part: int) -> dict[str, Any]:
        if not RUN_ID.match(run_id):
            raise ValueError(f"run id {run_id!r} may hold only letters, digits, '_', '.' and '-'")
        if persons_per_part < 1:
            raise ValueError("personsPerPart must be at least 1")
        if self._exists(self._summary_key(run_id)):
            return {"runId": run_id, "bucket": self.bucket, "rangesKey": self._ranges_key(run_id), "done": True}
        ranges: list[dict[str, Any]] = []
        first: tuple[int, bytes] | None = None
        last: tuple[int, bytes] | None = None
        count = 0
        body = self._s3.get_object(Bucket=self.bucket, Key=source_key)["Body"]
        for offset, line in _lines(body, 0):
            if not line.strip():
                continue
            if first is None:
                first = (offset, line)
            last = (offset, line)
            count += 1
            if count == persons_per_part:
                ranges.append(self._range(run_id, len(ranges), source_key, first, last))
                first, count = None, 0
        if first is not None and last is not None:
            ranges.append(self._range(run_id, len(ranges), source_key, first, last))
        self._s3.put_object(
            Bucket=self.bucket, Key=self._ranges_key(run_id), Body=json.dumps(ranges).encode(), ContentType="application/json"
        )
        return {"runId": run_id, "bucket": self.bucket, "rangesKey": self._ranges_key(run_id), "parts": len(ranges), "done": False}

    @staticmethod
    def _range(run_id: str, index: int, source_key: str, first: tuple[int, bytes], last: tuple[int, bytes]) -> dict[str, Any]:
        low = SourcePerson.model_validate_json(first[1]).personId
        high = SourcePerson.model_validate_json(last[1]).personId
        end = last[0] + len(last[1])  # the range ends on its last line's LF
        return PartRange(runId=run_id, index=index, lowId=low, highId=high, start=first[0], end=end, sourceKey=source_key).model_dump()

    # ------------------------------------------------------------------ 2. one part
    def part(self, item: dict[str, Any]) -> dict[str, Any]:
        part = PartRange.model_validate(item)
        body = self._s3.get_object(Bucket=self.bucket, Key=part.sourceKey, Range=f"bytes={part.start}-{part.end}")["Body"]
        sinks: dict[Kind, tuple[S3ObjectSink, ExtractWriter]] = {}
        for kind in Kind:
            sink = S3ObjectSink(self._s3, self.bucket, self._part_key(part.runId, kind, part.index))
            sinks[kind] = (sink, ExtractWriter(sink, kind, header=part.index == 0))
        counts: Counter[str] = Counter()
        try:
            for _, line in _lines(body, part.start):
                if not line.strip():
                    continue
                source = SourcePerson.model_validate_json(line)
                if not part.lowId <= source.personId <= part.highId:
                    raise ValueError(f"person {source.personId} outside the part's range {part.lowId}..{part.highId}")
                counts["personsRead"] += 1
                eligible = False
                for record in eligible_records(source, self._statuses):
                    eligible = True
                    sinks[record.kind][1].write(record.row())
                    counts[record.kind.value] += 1
                counts["personsIneligible"] += not eligible
            for sink, writer in sinks.values():
                writer.close()
                sink.close()
        except Exception:
            for sink, _ in sinks.values():
                sink.abort()
            raise
        summary = {"index": part.index, "lowId": part.lowId, "highId": part.highId, **counts}
        self._s3.put_object(Bucket=self.bucket, Key=self._counts_key(part.runId, part.index), Body=json.dumps(summary).encode())
        return summary

    # ------------------------------------------------------------------ 3. join and summary
    def join(self, run_id: str) -> dict[str, Any]:
        if self._exists(self._summary_key(run_id)):
            return json.loads(self._s3.get_object(Bucket=self.bucket, Key=self._summary_key(run_id))["Body"].read())  # type: ignore[no-any-return]
        totals: Counter[str] = Counter()
        parts = 0
        for key in self._keys(f"{WORK}{run_id}/counts/"):
            counts = json.loads(self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
            parts += 1
            totals.update({k: v for k, v in counts.items() if k not in ("index", "lowId", "highId")})
        files: dict[str, dict[str, Any]] = {}
        for kind in Kind:
            target = EXTRACT + file_name(kind, run_id)
            files[target] = {
                "records": totals.get(kind.value, 0),
                **self._join_parts(self._keys(f"{WORK}{run_id}/{FILE_PREFIX[kind]}/"), target),
            }
        summary = {
            "runId": run_id,
            "parts": parts,
            "personsRead": totals.get("personsRead", 0),
            "personsIneligible": totals.get("personsIneligible", 0),
            "contacts": totals.get(Kind.CONTACT.value, 0),
            "meteredServicePoints": totals.get(Kind.METERED_SERVICE_POINT.value, 0),
            "meteredServices": totals.get(Kind.METERED_SERVICE.value, 0),
            "files": files,
            "completedAt": datetime.now().astimezone().isoformat(),
        }
        self._s3.put_object(
            Bucket=self.bucket, Key=self._summary_key(run_id), Body=json.dumps(summary).encode(), ContentType="application/json"
        )
        return summary

    def _join_parts(self, keys: list[str], target: str) -> dict[str, Any]:
        sizes = [int(self._s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"]) for key in keys]
        if keys and all(size >= MIN_PART for size in sizes[:-1]):
            upload = self._s3.create_multipart_upload(Bucket=self.bucket, Key=target, ContentType="text/tab-separated-values")["UploadId"]
            try:
                done = [
                    {
                        "PartNumber": number,
                        "ETag": self._s3.upload_part_copy(
                            Bucket=self.bucket,
                            Key=target,
                            UploadId=upload,
                            PartNumber=number,
                            CopySource={"Bucket": self.bucket, "Key": key},
                        )["CopyPartResult"]["ETag"],
                    }
                    for number, key in enumerate(keys, 1)
                ]
                self._s3.complete_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload, MultipartUpload={"Parts": done})
            except Exception:
                self._s3.abort_multipart_upload(Bucket=self.bucket, Key=target, UploadId=upload)
                raise
            return {"bytes": sum(sizes), "joinedBy": "UploadPartCopy"}
        sink = S3ObjectSink(self._s3, self.bucket, target)
        try:
            for key in keys:
                for chunk in self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].iter_chunks(chunk_size=_CHUNK):
                    sink.write(chunk)
            sink.close()
        except Exception:
            sink.abort()
            raise
        return {"bytes": sink.size, "joinedBy": "stream"}

    # ------------------------------------------------------------------ keys
    def _keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def _exists(self, key: str) -> bool:
        return bool(self._s3.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1).get("KeyCount", 0))

    @staticmethod
    def _ranges_key(run_id: str) -> str:
        return f"{WORK}{run_id}/ranges.json"

    @staticmethod
    def _summary_key(run_id: str) -> str:
        return f"{WORK}{run_id}/summary.json"

    @staticmethod
    def _counts_key(run_id: str, index: int) -> str:
        return f"{WORK}{run_id}/counts/part-{index:06d}.json"

    @staticmethod
    def _part_key(run_id: str, kind: Kind, index: int) -> str:
        return f"{WORK}{run_id}/{FILE_PREFIX[kind]}/part-{index:06d}.tsv"


def run_step(sync: InitialSync, event: dict[str, Any]) -> dict[str, Any]:
    """One step of the state machine: ``{"step": "plan"|"part"|"join", ...}``."""
    step = event.get("step")
    if step == "plan":
        return sync.plan(str(event["runId"]), str(event["sourceKey"]), int(event.get("personsPerPart", 100_000)))
    if step == "part":
        return sync.part(event["range"])
    if step == "join":
        return sync.join(str(event["runId"]))
    raise ValueError(f"unknown step {step!r}: plan, part or join")
