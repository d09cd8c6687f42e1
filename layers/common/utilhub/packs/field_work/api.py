"""FW-01 and FW-02 over HTTP: field activities in, their events in, an activity's state out, its resubmission."""

from __future__ import annotations

from typing import Any

from utilhub.packs.field_work import activities, notifications
from utilhub.packs.field_work.attachments import AttachmentIn
from utilhub.packs.field_work.model import (
    SYSTEMS,
    ActivityEventIn,
    ActivityIn,
    BillableCompletionIn,
    CustomerInformationIn,
    UnbadgedAssetIn,
)
from utilhub.platform import problems
from utilhub.platform.api_docs import Reply, Request
from utilhub.platform.http import HttpApiResolver, create_api, route

PREFIX = "/field-work"
SCOPE = "utilhub/field-work"  # field activities and their events: CCB, MWM, WAM and ODM
CCB_SCOPE = "utilhub/field-work-ccb"  # what only CCB sends (FW-03, FW-06, FW-09, FW-10)
MWM_SCOPE = "utilhub/field-work-mwm"  # what only MWM sends (FW-04, FW-07, FW-08)
CHARGES_SCOPE = "utilhub/field-work-charges"  # WAM's or ODM's billable charges (FW-05)
ODM_SCOPE = "utilhub/field-work-odm"  # ODM's unbadged assets (FW-11)


def _system(source: str) -> str:
    if source not in SYSTEMS:
        raise problems.not_found(f"No system {source}; the systems are {', '.join(SYSTEMS)}.")
    return source


SCHEMAS: dict[str, dict[str, Any]] = {
    "AttachmentUpload": {
        "type": "object",
        "required": ["attachmentId", "upload", "expiresAt"],
        "properties": {
            "attachmentId": {"type": "string"},
            "upload": {
                "type": "object",
                "description": "A presigned POST: send the file as multipart/form-data to `url` with `fields` first, then `file`.",
                "properties": {"url": {"type": "string"}, "fields": {"type": "object", "additionalProperties": {"type": "string"}}},
            },
            "expiresAt": {"type": "string", "format": "date-time"},
        },
    },
    "NotificationAccepted": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"const": "ACCEPTED"},
            "completionId": {"type": "string"},
            "updateId": {"type": "string"},
            "notificationId": {"type": "string"},
        },
    },
    "FieldActivityAccepted": {
        "type": "object",
        "required": ["activityId", "sourceSystem", "routedTo"],
        "properties": {
            "activityId": {"type": "string"},
            "sourceSystem": {"type": "string"},
            "routedTo": {"type": "array", "items": {"type": "string", "enum": list(SYSTEMS)}},
        },
    },
    "FieldActivityEventAccepted": {
        "type": "object",
        "required": ["activityId", "event", "forwardedTo"],
        "properties": {
            "activityId": {"type": "string"},
            "event": {"type": "string", "enum": ["UPDATE", "CANCEL", "COMPLETE"]},
            "forwardedTo": {"type": "array", "items": {"type": "string"}},
            "sourceSystem": {"type": "string", "description": "When the path named the activity by a linked system's id: its source."},
            "sourceActivityId": {
                "type": "string",
                "description": "When the path named the activity by a linked system's id: the source's id.",
            },
        },
    },
    "FieldActivityResubmitted": {
        "type": "object",
        "required": ["activityId", "sourceSystem", "status", "attempt"],
        "properties": {
            "activityId": {"type": "string"},
            "sourceSystem": {"type": "string"},
            "status": {"const": "CREATING"},
            "attempt": {"type": "integer", "minimum": 2, "description": "1 for the first creation, one more per resubmission."},
        },
    },
    "FieldActivityView": {
        "type": "object",
        "required": ["activityId", "sourceSystem", "status", "routedTo", "links", "history"],
        "properties": {
            "activityId": {"type": "string"},
            "sourceSystem": {"type": "string"},
            "activityType": {"type": "string"},
            "status": {"type": "string", "enum": ["CREATING", "LINKED", "ERROR", "COMPLETED", "CANCELED"]},
            "routedTo": {"type": "array", "items": {"type": "string"}},
            "links": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Each system's id of the activity."},
            "history": {"type": "array", "items": {"type": "object"}},
            "refusals": {"type": "array", "items": {"type": "string"}, "description": "Events a linked system refused."},
            "undelivered": {
                "type": "array",
                "description": (
                    "Events that did not reach every linked system: after the event queue's last try (or held behind such"
                    " an event of the activity) they wait in `field-work/events`' dead-letter queue. A redrive that"
                    " delivers one removes it."
                ),
                "items": {
                    "type": "object",
                    "required": ["eventId", "event", "state", "reason", "at"],
                    "properties": {
                        "eventId": {"type": "string"},
                        "event": {"type": "string"},
                        "state": {"const": "DEAD_LETTERED"},
                        "reason": {"type": "string", "description": "The tries and the last failure, or the event it was held behind."},
                        "at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    },
}
RELAYED = (
    " Accepted at once (202), queued, and delivered once to the target even when sent twice or redelivered (keyed on"
    " the id); retried by the queue while the target is down, then kept in the dead-letter queue."
)
PATH_PARAMETERS = {
    "sourceSystem": {"description": "The system the activity was created in.", "schema": {"type": "string", "enum": list(SYSTEMS)}},
    "activityId": {"description": "Its id there.", "schema": {"type": "string"}},
}
# events, attachments and the activity's state: any system linked to the activity names it by its own id
NAMED_BY_ANY_SYSTEM = {
    "sourceSystem": {
        "description": "The system naming the activity: the one it was created in, or one the hub created it in (linked).",
        "schema": {"type": "string", "enum": list(SYSTEMS)},
    },
    "activityId": {"description": "That system's id of the activity.", "schema": {"type": "string"}},
}


def build_api() -> HttpApiResolver:
    app = create_api(SCOPE)

    @route(
        app,
        "POST",
        f"{PREFIX}/activities",
        request=Request(ActivityIn, "The activity."),
        acts_as=lambda activity: activity.sourceSystem,
        idempotent=True,
        summary="Create a field activity in the systems its routing rule names (FW-01)",
        description=(
            "Routes the activity by its source system and type (routing rules: configuration; ASSET work goes to ODM "
            "under implementation model v2.1, to WAM under v1.9). A Standard workflow creates it in every routed system "
            "and links the ids, or cancels it where it was created and ends in ERROR with the reason. No rule for the "
            "source and type is a 422. The same activity again answers 202 and creates nothing; other content under the "
            "same source and id is a 409."
        ),
        replies=[Reply(202, "Accepted: query the activity.", "FieldActivityAccepted")],
        problems=[409],
        schemas=SCHEMAS,
    )
    def create(activity: ActivityIn) -> tuple[int, Any]:
        return 202, activities.submit(activity)

    @route(
        app,
        "POST",
        f"{PREFIX}/activities/{{sourceSystem}}/{{activityId}}/events",
        request=Request(ActivityEventIn, "The event."),
        # the system the event happened in: the body's fromSystem, else the system in the path (the activity's source, or
        # a linked system naming it by its own id)
        acts_as=lambda event_in, sourceSystem, activityId: event_in.fromSystem or _system(sourceSystem),
        idempotent=True,
        summary="Update, cancel or complete a field activity (FW-02)",
        description=(
            "Recorded once per `eventId` and forwarded, in order, to every other system linked to the activity (a "
            "completion with its readings, remarks and attachment references); an event that comes while the activity "
            "is being created is held and forwarded, in order, once it is linked in every routed system. An unknown "
            "activity is a 404; one completed, canceled or in ERROR (or with a completion or cancellation held) a 409; "
            "the same `eventId` again changes nothing. Each system names the activity by its own id: the source's, or "
            "the id a routed system gave it (`/field-work/activities/MWM/{mwmId}/events`), found through the link the hub "
            "recorded when it created it there; the event comes from the system in the path unless `fromSystem` says "
            "otherwise."
        ),
        replies=[Reply(202, "Accepted: forwarded to the systems listed.", "FieldActivityEventAccepted")],
        problems=[404, 409],
        path_parameters=NAMED_BY_ANY_SYSTEM,
        schemas=SCHEMAS,
    )
    def event(event_in: ActivityEventIn, sourceSystem: str, activityId: str) -> tuple[int, Any]:
        return 202, activities.accept_event(_system(sourceSystem), activityId, event_in)

    @route(
        app,
        "POST",
        f"{PREFIX}/activities/{{sourceSystem}}/{{activityId}}/resubmission",
        operator=True,  # the operations API runs it with the operator's token (docs/operations.md)
        acts_as=lambda sourceSystem, activityId: _system(sourceSystem),  # the activity's source resubmits its creation
        idempotent=True,
        summary="Create a field activity in ERROR again, from where it failed (FW-01)",
        description=(
            "Runs the creation workflow again under a new execution (the next attempt): where the activity is open "
            "in a routed system it is found there and linked, nothing created twice; where the compensation canceled "
            "it, or it was never made, it is created; then it is linked, or canceled where created and in ERROR again "
            "with the reason. Events held while it was being created are delivered once it is linked. An activity "
            "CREATING whose attempt never started or ended without recording its outcome is resubmitted too; one in "
            "creation, linked, completed or canceled is a 409; an unknown one a 404."
        ),
        replies=[Reply(202, "Being created again: query the activity.", "FieldActivityResubmitted")],
        problems=[404, 409],
        path_parameters=PATH_PARAMETERS,
        schemas=SCHEMAS,
    )
    def resubmission(sourceSystem: str, activityId: str) -> tuple[int, Any]:
        return 202, activities.resubmit(_system(sourceSystem), activityId)

    @route(
        app,
        "POST",
        f"{PREFIX}/activities/{{sourceSystem}}/{{activityId}}/attachments",
        scope=MWM_SCOPE,
        request=Request(AttachmentIn, "The file to upload."),
        idempotent=True,
        summary="Ask to upload a file for an activity's completion (FW-07)",
        description=(
            "Files never go through the API: the answer is a presigned POST to the attachment bucket whose policy pins "
            "the key, the content type and the size. Allowed types: PDF, JPEG, PNG, plain text, the name's extension "
            "matching; at most 10 MB by default. The completion then names the attachment by id; the other systems get "
            "its name, type, size and a time-limited download URL. An unknown activity is a 404, a closed one a 409. "
            "The activity is named by the source's id or by the id a linked system gave it."
        ),
        replies=[Reply(201, "Upload with this.", "AttachmentUpload")],
        problems=[404, 409],
        path_parameters=NAMED_BY_ANY_SYSTEM,
        schemas=SCHEMAS,
    )
    def attachment(request: AttachmentIn, sourceSystem: str, activityId: str) -> tuple[int, Any]:
        return 201, activities.new_attachment(_system(sourceSystem), activityId, request)

    @route(
        app,
        "POST",
        f"{PREFIX}/billing-charges",
        scope=CHARGES_SCOPE,
        request=Request(BillableCompletionIn, "The completion and its charges."),
        acts_as=lambda completion: completion.sourceSystem,  # MWM's or WAM's client cannot bill as ODM
        idempotent=True,
        summary="Bill field work WAM/ODM completed (FW-05)",
        description="CCB gets the completion's charges as billable charges, once per `completionId`." + RELAYED,
        replies=[Reply(202, "Accepted.", "NotificationAccepted")],
        schemas=SCHEMAS,
    )
    def billing(completion: BillableCompletionIn) -> tuple[int, Any]:
        return 202, notifications.accept_billable_completion(completion)

    @route(
        app,
        "POST",
        f"{PREFIX}/customer-updates",
        scope=CCB_SCOPE,
        request=Request(CustomerInformationIn, "The customer's details."),
        idempotent=True,
        summary="A customer's new details for MWM's open activities (FW-10)",
        description="MWM's activities at the service point that are still open (linked, not completed or canceled) get them." + RELAYED,
        replies=[Reply(202, "Accepted.", "NotificationAccepted")],
        schemas=SCHEMAS,
    )
    def customer_update(update: CustomerInformationIn) -> tuple[int, Any]:
        return 202, notifications.accept_customer_update(update)

    @route(
        app,
        "POST",
        f"{PREFIX}/unbadged-assets",
        scope=ODM_SCOPE,
        request=Request(UnbadgedAssetIn, "The asset."),
        idempotent=True,
        summary="An asset ODM recorded without a badge number becomes a CCB item (FW-11)",
        description="Implementation model v2.1 only (422 otherwise); CCB gets one item per `notificationId`." + RELAYED,
        replies=[Reply(202, "Accepted.", "NotificationAccepted")],
        schemas=SCHEMAS,
    )
    def unbadged_asset(asset: UnbadgedAssetIn) -> tuple[int, Any]:
        return 202, notifications.accept_unbadged_asset(asset)

    @route(
        app,
        "GET",
        f"{PREFIX}/activities/{{sourceSystem}}/{{activityId}}",
        summary="A field activity's status, links and history",
        description=(
            "CREATING, LINKED, ERROR, COMPLETED or CANCELED; each system's id; every transition and event. Named by the "
            "source's id or by the id a linked system gave it; answered under the source's."
        ),
        replies=[Reply(200, "The activity.", "FieldActivityView")],
        problems=[404],
        path_parameters=NAMED_BY_ANY_SYSTEM,
        schemas=SCHEMAS,
    )
    def activity(sourceSystem: str, activityId: str) -> tuple[int, Any]:
        return 200, activities.view(_system(sourceSystem), activityId)

    return app


api = build_api()
