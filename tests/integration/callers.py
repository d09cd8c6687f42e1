"""Who sends a call, as the catalogue says (docs/packs/field-work.md for field work): the tests post each call with the
claims of that application's client (``LocalHub.claims_of``, derived from the template), so a route whose
scope the sender's client lacks, or a check refusing a system its own call, fails a test."""

from __future__ import annotations

from typing import Any

from localhub.hub import ApiResponse, LocalHub
from tests.helpers import post_json

FIELD_SYSTEMS = ("CCB", "MWM", "WAM", "ODM")


def field_work_sender(path: str, body: Any = None) -> str:
    """The system sending ``path`` of the field work pack (CCB for a system that is none of the field systems)."""
    fields = body if isinstance(body, dict) else {}
    parts = path.strip("/").split("/")  # field-work, activities, {sourceSystem}, {activityId}, ...
    if path == "/field-work/activities" or path == "/field-work/billing-charges":
        sender = fields.get("sourceSystem")
    elif parts[1] == "activities" and parts[-1] in ("events", "resubmission"):
        sender = fields.get("fromSystem") or parts[2]
    elif parts[-1] == "attachments" or path in ("/field-work/meter-validations", "/field-work/service-points"):
        sender = "MWM"  # FW-04, FW-07, FW-08
    elif path == "/field-work/unbadged-assets":
        sender = "ODM"  # FW-11
    else:
        sender = "CCB"  # FW-03, FW-06, FW-09, FW-10, and reading an activity
    return sender if sender in FIELD_SYSTEMS else "CCB"


def field_work_claims(hub: LocalHub, path: str, body: Any = None) -> dict[str, str]:
    return hub.claims_of(field_work_sender(path, body))


def post_field_work(hub: LocalHub, path: str, body: Any = None) -> ApiResponse:
    """``POST path`` of the field work pack with ``body`` as JSON, as the system that sends it."""
    return post_json(hub, path, body, field_work_claims(hub, path, body))
