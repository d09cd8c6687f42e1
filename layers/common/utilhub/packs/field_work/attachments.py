"""FW-07 attachments with a completion: files go to S3 through a presigned upload, never through the API.

- :func:`new_upload`: for an open activity, a file of an allowed type (a malware-safe allow list: PDF,
  JPEG, PNG, plain text; the name's extension must match) and size (``attachment_max_bytes``) gets an
  attachment id and a presigned POST whose policy pins the key, the content type and the size range.
- :func:`check_completion_attachments`: a completion may name only attachments of its activity that were
  uploaded (the object is there, of the declared type and size); otherwise a 422 at the attachment.
- :func:`references`: what the completion carries to the other systems: each attachment's id, name,
  type, size and a presigned download URL valid for ``attachment_download_expiry_seconds``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from utilhub.packs.field_work import wiring
from utilhub.packs.field_work.model import AttachmentRef
from utilhub.platform import problems
from utilhub.platform.settings import get_settings

# content type -> the file name extensions it may carry; nothing executable, scriptable (HTML, SVG) or macro-bearing
KEY_PREFIX = "ATTACHMENT#"  # where attachment items start in the cross-reference table
ALLOWED = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "text/plain": (".txt",),
}


class AttachmentIn(BaseModel):
    """``POST /field-work/activities/{sourceSystem}/{activityId}/attachments``: the file to be uploaded."""

    model_config = {"extra": "forbid", "str_strip_whitespace": True}

    fileName: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._()\-]*$")
    contentType: str = Field(min_length=1, max_length=100)
    sizeBytes: int = Field(ge=1)


def _bucket() -> str:
    return get_settings().field_work.require("field_work_attachment_bucket")


def new_upload(source: str, activity_id: str, activity_status: str, request: AttachmentIn) -> dict[str, Any]:
    settings = get_settings()
    if activity_status in ("COMPLETED", "CANCELED", "ERROR"):
        raise problems.conflict(f"Activity {activity_id} is {activity_status}: it takes no more attachments.")
    errors = []
    extensions = ALLOWED.get(request.contentType.lower())
    if extensions is None:
        errors.append(problems.FieldError("#/contentType", f"must be one of {', '.join(ALLOWED)}"))
    elif not request.fileName.lower().endswith(extensions):
        errors.append(problems.FieldError("#/fileName", f"a {request.contentType} file ends with {' or '.join(extensions)}"))
    if request.sizeBytes > settings.field_work.attachment_max_bytes:
        errors.append(problems.FieldError("#/sizeBytes", f"at most {settings.field_work.attachment_max_bytes} bytes"))
    if errors:
        raise problems.invalid("The attachment cannot be taken.", errors)
    attachment_id = f"ATT-{uuid.uuid4().hex[:20]}"
    key = f"attachments/{source}/{activity_id}/{attachment_id}"
    content_type = request.contentType.lower()
    wiring.attachment_table().put_item(
        Item={
            "pk": KEY_PREFIX + attachment_id,
            "activity": f"{source}#{activity_id}",
            "key": key,
            "fileName": request.fileName,
            "contentType": content_type,
            "sizeBytes": request.sizeBytes,
        }
    )
    expires = settings.field_work.attachment_upload_expiry_seconds
    upload = wiring.s3().generate_presigned_post(
        Bucket=_bucket(),
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", request.sizeBytes, request.sizeBytes]],
        ExpiresIn=expires,
    )
    return {
        "attachmentId": attachment_id,
        "upload": {"url": upload["url"], "fields": upload["fields"]},
        "expiresAt": (datetime.now(UTC) + timedelta(seconds=expires)).isoformat(),
    }


def _record(attachment_id: str) -> dict[str, Any] | None:
    item = wiring.attachment_table().get_item(Key={"pk": KEY_PREFIX + attachment_id}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def check_completion_attachments(source: str, activity_id: str, attachments: list[AttachmentRef]) -> None:
    errors = []
    for n, ref in enumerate(attachments):
        pointer = f"#/attachments/{n}/attachmentId"
        record = _record(ref.attachmentId)
        if record is None or record["activity"] != f"{source}#{activity_id}":
            errors.append(problems.FieldError(pointer, f"no attachment {ref.attachmentId} of this activity"))
            continue
        try:
            head = wiring.s3().head_object(Bucket=_bucket(), Key=record["key"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                raise
            errors.append(problems.FieldError(pointer, f"{ref.attachmentId} was not uploaded"))
            continue
        if int(head["ContentLength"]) != int(record["sizeBytes"]) or head.get("ContentType", "").lower() != record["contentType"]:
            errors.append(problems.FieldError(pointer, f"{ref.attachmentId} is not the file that was announced (type or size differ)"))
    if errors:
        raise problems.invalid("The completion names attachments that cannot be taken.", errors)


def references(attachments: list[AttachmentRef]) -> list[AttachmentRef]:
    """The completion's attachments with what a receiving system needs to fetch each one."""
    s3 = wiring.s3()
    found = []
    for ref in attachments:
        record = _record(ref.attachmentId)
        if record is None:
            raise LookupError(f"attachment {ref.attachmentId} is not recorded")
        url = s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": _bucket(), "Key": record["key"]},
            ExpiresIn=get_settings().field_work.attachment_download_expiry_seconds,
        )
        found.append(
            AttachmentRef(
                attachmentId=ref.attachmentId,
                fileName=record["fileName"],
                contentType=record["contentType"],
                sizeBytes=int(record["sizeBytes"]),
                url=url,
            )
        )
    return found
