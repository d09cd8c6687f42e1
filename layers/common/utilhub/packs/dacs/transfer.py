"""DA-03: an extract file created under ``extract/`` is moved to ``upload/``, verified, never lost.

S3 notifies the transfer queue of each object created under ``extract/``; the handler moves each
notified file with :class:`ExtractFileMover`:

1. copy ``extract/<name>`` to ``upload/<name>`` with boto3's managed copy: server-side, a single
   CopyObject below ``COPY_CONFIG``'s threshold and a multipart copy of ``UploadPartCopy`` parts from it
   on (CopyObject refuses sources over 5 GB), the source pinned by its ETag for the whole copy; the object
   appears whole or not at all (a failed multipart copy is aborted), carrying the source's SHA-256 as its
   ``sha256`` metadata;
2. verify the copy: the same size, and the SHA-256 of the bytes now under ``upload/`` equal to the
   source's (the writer's ``sha256`` metadata, or computed from the source when it has none);
3. only then delete the source.

A failure at any step raises, so SQS redelivers the notification and the move resumes where it
stopped (a copy already made and verified is not made again); after the queue's receive count the
notification goes to the DLQ with the file still under ``extract/``. DACS may take the copy from
``upload/`` before the move is tried again (the source's deletion failed, the function was stopped):
the bucket's versions then show a copy of the source under ``upload/`` (made since the source was written,
of its size, and for a file written and copied whole of its ETag), so the move deletes the source and
answers ``ALREADY_TAKEN`` instead of copying it again, which DACS would load a second time. A copy that does not verify is
deleted and the move fails.

A notification delivered again once the move is done (S3 and SQS deliver at least once; a record of the
first answer lasts a day) is answered by the idempotency record, or else by the bucket itself:

- the file is under ``upload/`` and not under ``extract/``: ``ALREADY_IN_UPLOAD``, done;
- it is in neither, but the (versioned) bucket remembers both a version of it under ``extract/`` and one
  under ``upload/``: the move was made and DACS has taken the file since: ``ALREADY_TAKEN``, done.

Only this mover deletes under ``extract/``, and only after a verified copy, so a file in neither place
with no trace under ``upload/`` did not reach DACS. Trying again cannot change that, so such a
notification is not retried; it is answered with what happened, logged as an error and counted in
the ``DacsTransferFileMissing`` metric, which ``DacsTransferFileMissingAlarm`` watches:

- ``DELETED_UNMOVED``: the file was under ``extract/`` and was deleted there before it was moved (the
  outcome names its version, which the bucket keeps for 7 days: copying it back under ``extract/`` moves it);
- ``NEVER_EXISTED``: the bucket never held it (a notification nobody's file explains).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote_plus

from boto3.s3.transfer import TransferConfig
from pydantic import BaseModel, ConfigDict, Field

from utilhub.platform.observability import MetricUnit, logger, metrics

EXTRACT = "extract/"
UPLOAD = "upload/"
_CHUNK = 1 << 20
# Parts of 64 MiB copied ten at a time: a 5 GB file is 80 UploadPartCopy calls; past 640 GB the transfer
# manager enlarges the parts to stay within S3's 10,000. The copy is server-side: no byte passes through
# the function, whose memory holds one chunk of the checksum reads.
COPY_CONFIG = TransferConfig(multipart_threshold=64 * _CHUNK, multipart_chunksize=64 * _CHUNK, max_concurrency=10)


class S3Object(BaseModel):
    model_config = ConfigDict(extra="allow")
    key: str = Field(min_length=1)
    size: int = Field(default=0, ge=0)
    eTag: str | None = None
    sequencer: str | None = None


class S3Bucket(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=3)


class S3Entity(BaseModel):
    model_config = ConfigDict(extra="allow")
    bucket: S3Bucket
    object: S3Object


class S3EventRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    eventSource: Literal["aws:s3"]
    eventName: str
    s3: S3Entity

    @property
    def key(self) -> str:
        return unquote_plus(self.s3.object.key)  # keys arrive URL-encoded, spaces as '+'


class S3Notification(BaseModel):
    """The body of an S3 event notification on SQS; S3's test event (sent when notifications are set
    up) has no records and an ``Event`` of ``s3:TestEvent``."""

    model_config = ConfigDict(extra="allow")
    Records: list[S3EventRecord] = Field(default_factory=list)
    Event: str | None = None


class TransferNotVerified(RuntimeError):
    """The copy under ``upload/`` differs from the source: it was deleted, the source kept."""


@dataclass(frozen=True)
class _Head:
    size: int
    sha256: str | None
    content_type: str | None
    etag: str | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True)
class MoveResult:
    source: str
    target: str
    outcome: Literal["MOVED", "ALREADY_IN_UPLOAD", "ALREADY_TAKEN", "NOT_AN_EXTRACT", "DELETED_UNMOVED", "NEVER_EXISTED"]
    size: int = 0
    sha256: str | None = None
    version: str | None = None  # DELETED_UNMOVED: the source's last version, to restore

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def target_key(source: str) -> str:
    return UPLOAD + source.removeprefix(EXTRACT)


class ExtractFileMover:
    def __init__(self, s3: Any, bucket: str, *, copy_config: TransferConfig = COPY_CONFIG) -> None:
        self._s3 = s3
        self.bucket = bucket
        self._copy_config = copy_config

    def _head(self, key: str) -> _Head | None:
        from botocore.exceptions import ClientError

        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return _Head(
            int(head["ContentLength"]),
            head.get("Metadata", {}).get("sha256"),
            head.get("ContentType"),
            head.get("ETag"),
            head.get("LastModified"),
        )

    def sha256(self, key: str) -> str:
        """The SHA-256 of the object's bytes, read as a stream."""
        digest = hashlib.sha256()
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(chunk_size=_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def move(self, source: str) -> MoveResult:
        """Move ``extract/<name>`` to ``upload/<name>``; safe to repeat at any point of a failed move."""
        if not source.startswith(EXTRACT) or source.endswith("/"):
            logger.warning("not an extract file", extra={"key": source})
            return MoveResult(source, "", "NOT_AN_EXTRACT")
        target = target_key(source)
        head = self._head(source)
        if head is None:
            moved = self._head(target)
            if moved is None:
                return self._not_found(source, target)
            return MoveResult(source, target, "ALREADY_IN_UPLOAD", moved.size, moved.sha256)
        expected = head.sha256 or self.sha256(source)
        copy = self._head(target)
        if copy is None and self._copied_before(head, target):
            self._s3.delete_object(Bucket=self.bucket, Key=source)
            logger.info("extract file copied and taken by DACS before its source was deleted", extra={"key": source, "target": target})
            return MoveResult(source, target, "ALREADY_TAKEN", head.size, expected)
        if copy is None or copy.size != head.size or copy.sha256 != expected:
            self._s3.copy(
                CopySource={"Bucket": self.bucket, "Key": source},
                Bucket=self.bucket,
                Key=target,
                ExtraArgs={
                    "MetadataDirective": "REPLACE",  # single copy; a multipart copy sets the metadata it is given
                    "Metadata": {"sha256": expected},
                    "ContentType": head.content_type or "text/tab-separated-values; charset=utf-8",
                },
                Config=self._copy_config,
            )
            copy = self._head(target)
        actual = self.sha256(target) if copy is not None and copy.size == head.size else None
        if copy is None or actual != expected:
            if copy is not None:
                self._s3.delete_object(Bucket=self.bucket, Key=target)
            raise TransferNotVerified(f"{target}: size {copy.size if copy else None} / {head.size}, sha256 {actual} / {expected}")
        self._s3.delete_object(Bucket=self.bucket, Key=source)
        logger.info("extract file moved", extra={"key": source, "target": target, "size": head.size})
        return MoveResult(source, target, "MOVED", head.size, expected)

    def _versions(self, key: str) -> list[dict[str, Any]]:
        """The versions the bucket keeps of ``key`` (not its delete markers), newest first."""
        pages = self._s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key)
        return [v for page in pages for v in page.get("Versions", []) if v["Key"] == key]

    def _copied_before(self, source: _Head, target: str) -> bool:
        """Whether a whole copy of this source was under ``upload/`` and is gone: DACS took it, and copying
        again would make DACS load it twice. A version of the target made since the source was written, of
        the source's size (and, for a source written whole and copied whole, its ETag: the MD5 of the same
        bytes; a copy that failed verification differs from it)."""
        single = source.etag is not None and "-" not in source.etag and source.size < self._copy_config.multipart_threshold
        for version in self._versions(target):
            if int(version["Size"]) != source.size:
                continue
            if source.last_modified is not None and version["LastModified"] < source.last_modified:
                continue  # a file of the same name before this one
            if single and version.get("ETag") != source.etag:
                continue
            return True
        return False

    def _not_found(self, source: str, target: str) -> MoveResult:
        """The file is in neither place: moved and taken by DACS since, or lost to the flow (not retried, alarmed)."""
        existed = self._versions(source)
        if existed and self._versions(target):
            logger.info("extract file already moved and taken by DACS", extra={"key": source, "target": target})
            return MoveResult(source, target, "ALREADY_TAKEN", int(existed[0]["Size"]))
        if existed:
            version = str(existed[0]["VersionId"])
            logger.error(
                "extract file deleted before it was moved: restore its version under extract/",
                extra={"key": source, "versionId": version},
            )
            result = MoveResult(source, target, "DELETED_UNMOVED", int(existed[0]["Size"]), version=version)
        else:
            logger.error("notified extract file never existed in the bucket", extra={"key": source, "bucket": self.bucket})
            result = MoveResult(source, target, "NEVER_EXISTED")
        metrics.add_metric(name="DacsTransferFileMissing", unit=MetricUnit.Count, value=1)
        return result
