"""An S3 object written as a stream in constant memory: parts of ``part_size`` bytes are uploaded as
they fill (a multipart upload), so a file of any size needs one part of memory. A file smaller than
one part is a single PutObject carrying its SHA-256 as the ``sha256`` metadata (the transfer verifies
the copy against it). The object appears only when :meth:`S3ObjectSink.close` completes it: a writer
that fails leaves nothing under the key (:meth:`S3ObjectSink.abort` drops the parts)."""

from __future__ import annotations

import hashlib
from typing import Any

MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last


class S3ObjectSink:
    def __init__(
        self, s3: Any, bucket: str, key: str, *, part_size: int = 8 * 1024 * 1024, content_type: str = "text/tab-separated-values"
    ) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"a part is at least {MIN_PART} bytes")
        self._s3, self.bucket, self.key = s3, bucket, key
        self._part_size = part_size
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self._digest.update(data)
        self.size += len(data)
        while len(self._buffer) >= self._part_size:
            self._upload_part(bytes(self._buffer[: self._part_size]))
            del self._buffer[: self._part_size]

    def _upload_part(self, data: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, ContentType=self._content_type)["UploadId"]
        number = len(self._parts) + 1
        etag = self._s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=data)["ETag"]
        self._parts.append({"PartNumber": number, "ETag": etag})

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:
        """Complete the object (it appears under its key now)."""
        if self._upload_id is None:
            self._s3.put_object(
                Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), ContentType=self._content_type, Metadata={"sha256": self.sha256}
            )
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self._s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
        self._buffer = bytearray()

    def abort(self) -> None:
        """Drop what was uploaded: nothing appears under the key."""
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None
        self._buffer = bytearray()
