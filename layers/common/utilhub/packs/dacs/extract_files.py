"""The files of one extract run under ``extract/`` of the exchange bucket: one per record kind that
has records, each streamed to S3 as it is written (constant memory), each appearing only when the
run closes it (so the transfer never sees half a file)."""

from __future__ import annotations

from typing import Any

from utilhub.packs.dacs.extract_file import ExtractWriter, Kind, file_name
from utilhub.packs.dacs.records import DacsRecord
from utilhub.packs.dacs.s3_sink import S3ObjectSink

EXTRACT = "extract/"


class ExtractFiles:
    def __init__(self, s3: Any, bucket: str, run_id: str, *, part_size: int = 8 * 1024 * 1024) -> None:
        self._s3, self._bucket, self.run_id = s3, bucket, run_id
        self._part_size = part_size
        self._open: dict[Kind, tuple[S3ObjectSink, ExtractWriter]] = {}
        self.completed: dict[Kind, tuple[str, int]] = {}

    def key(self, kind: Kind) -> str:
        return EXTRACT + file_name(kind, self.run_id)

    def write(self, record: DacsRecord) -> None:
        kind = record.kind
        if kind not in self._open:
            sink = S3ObjectSink(self._s3, self._bucket, self.key(kind), part_size=self._part_size)
            self._open[kind] = (sink, ExtractWriter(sink, kind))
        self._open[kind][1].write(record.row())

    def close(self) -> dict[str, int]:
        """Complete every file, contacts first (what a metered service refers to exists before it); returns key -> records.

        When one cannot be completed, the files before it are complete (``completed``: kind -> key and
        records) and it and those after it stay open, for :meth:`abort`."""
        for kind in Kind:
            if kind in self._open:
                sink, writer = self._open[kind]
                records = writer.close()
                sink.close()
                del self._open[kind]
                self.completed[kind] = (sink.key, records)
        return dict(self.completed.values())

    def was_completed(self, kind: Kind) -> bool:
        """Whether the bucket ever held this run's ``kind`` file complete (a version of its key under ``extract/``,
        though it may have been moved since: the bucket keeps the versions of a moved file for days)."""
        key = self.key(kind)
        listed = self._s3.list_object_versions(Bucket=self._bucket, Prefix=key)
        return any(version["Key"] == key for version in listed.get("Versions", []))

    def abort(self) -> None:
        for sink, _ in self._open.values():
            sink.abort()
        self._open.clear()
