"""RFC 9457 problem details: the one shape of every error the hub answers with.

Raise a :class:`Problem` (or one of its subclasses) anywhere below a handler; the HTTP
layer turns it into ``application/problem+json``. ``errors`` lists each invalid field as
``{"pointer", "detail"}`` (RFC 9457 section 3, example of an extension member).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://utilhub.dev/problems/"


@dataclass
class FieldError:
    pointer: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.detail}


@dataclass(eq=False)
class Problem(Exception):
    status: int
    title: str
    detail: str
    slug: str = "error"
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None  # seconds: answered as the Retry-After header (a 409 in progress, a 503)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        body.update(self.extra)
        return body


def bad_request(detail: str, errors: list[FieldError] | None = None) -> Problem:
    return Problem(400, "Malformed request", detail, "malformed-request", errors or [])


def invalid(detail: str, errors: list[FieldError] | None = None) -> Problem:
    return Problem(422, "Invalid request", detail, "invalid-request", errors or [])


def not_found(detail: str) -> Problem:
    return Problem(404, "Not found", detail, "not-found")


def conflict(detail: str) -> Problem:
    return Problem(409, "Conflict", detail, "conflict")


def too_large(limit: int) -> Problem:
    return Problem(413, "Payload too large", f"The body exceeds the limit of {limit} bytes.", "payload-too-large")


def unsupported_media_type(content_type: str, accepted: list[str]) -> Problem:
    return Problem(
        415,
        "Unsupported media type",
        f"Content-Type {content_type or '(none)'} is not accepted here; use one of: {', '.join(accepted)}.",
        "unsupported-media-type",
    )


def unavailable(detail: str) -> Problem:
    return Problem(503, "Service unavailable", detail, "unavailable")


def unauthorized(detail: str) -> Problem:
    return Problem(401, "Unauthorized", detail, "unauthorized")


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail, "forbidden")


def from_validation_error(exc: ValidationError, root: str = "") -> Problem:
    """A 422 listing every field pydantic refused, as JSON pointers into the request body."""
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        path = "/".join(_escape(str(part)) for part in err["loc"])
        errors.append(FieldError(pointer=f"#{root}/{path}" if path else f"#{root}", detail=err["msg"]))
    return invalid(f"{len(errors)} field(s) are invalid.", errors)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")
