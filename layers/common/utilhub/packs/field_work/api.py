"""FW-01 and FW-02 over HTTP: field activities in, their events in, an activity's state out, its resubmission."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

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
from utilhub.platform import identity, problems
from utilhub.platform.http import Body, create_api, json_response, once_per_key, parsed, read_body

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


def build_api() -> APIGatewayHttpResolver:
    app = create_api(
        SCOPE,
        {
            f"POST {PREFIX}/activities/{{sourceSystem}}/{{activityId}}/attachments": MWM_SCOPE,
            f"POST {PREFIX}/billing-charges": CHARGES_SCOPE,
            f"POST {PREFIX}/customer-updates": CCB_SCOPE,
            f"POST {PREFIX}/unbadged-assets": ODM_SCOPE,
        },
    )

    @app.post(f"{PREFIX}/activities")
    def create() -> Response[str]:
        body = read_body(app, xml=False)
        activity = parsed(ActivityIn, body.json)
        identity.require_caller_acts_as(app, activity.sourceSystem)
        return once_per_key(app, body, lambda: (202, activities.submit(activity)))

    @app.post(f"{PREFIX}/activities/<sourceSystem>/<activityId>/events")
    def event(sourceSystem: str, activityId: str) -> Response[str]:
        body = read_body(app, xml=False)
        event_in = parsed(ActivityEventIn, body.json)
        # the system the event happened in: the body's fromSystem, else the activity's source in the path
        identity.require_caller_acts_as(app, event_in.fromSystem or _system(sourceSystem))
        return once_per_key(app, body, lambda: (202, activities.accept_event(_system(sourceSystem), activityId, event_in)))

    @app.post(f"{PREFIX}/activities/<sourceSystem>/<activityId>/resubmission")
    def resubmission(sourceSystem: str, activityId: str) -> Response[str]:
        identity.require_caller_acts_as(app, _system(sourceSystem))  # the activity's source resubmits its creation
        return once_per_key(app, Body(raw=b""), lambda: (202, activities.resubmit(_system(sourceSystem), activityId)))

    @app.post(f"{PREFIX}/activities/<sourceSystem>/<activityId>/attachments")
    def attachment(sourceSystem: str, activityId: str) -> Response[str]:
        body = read_body(app, xml=False)
        request = parsed(AttachmentIn, body.json)
        return once_per_key(app, body, lambda: (201, activities.new_attachment(_system(sourceSystem), activityId, request)))

    @app.post(f"{PREFIX}/billing-charges")
    def billing() -> Response[str]:
        body = read_body(app, xml=False)
        completion = parsed(BillableCompletionIn, body.json)
        identity.require_caller_acts_as(app, completion.sourceSystem)  # MWM's or WAM's client cannot bill as ODM
        return once_per_key(app, body, lambda: (202, notifications.accept_billable_completion(completion)))

    @app.post(f"{PREFIX}/customer-updates")
    def customer_update() -> Response[str]:
        body = read_body(app, xml=False)
        update = parsed(CustomerInformationIn, body.json)
        return once_per_key(app, body, lambda: (202, notifications.accept_customer_update(update)))

    @app.post(f"{PREFIX}/unbadged-assets")
    def unbadged_asset() -> Response[str]:
        body = read_body(app, xml=False)
        asset = parsed(UnbadgedAssetIn, body.json)
        return once_per_key(app, body, lambda: (202, notifications.accept_unbadged_asset(asset)))

    @app.get(f"{PREFIX}/activities/<sourceSystem>/<activityId>")
    def activity(sourceSystem: str, activityId: str) -> Response[str]:
        return json_response(200, activities.view(_system(sourceSystem), activityId))

    return app


api = build_api()
