"""Each application acts only as itself (docs/security.md, "Clients and scopes"): a token of one application's client naming another
system in a body or a path is a 403 problem naming that system, and nothing is stored, queued or sent;
each application's own calls go through. The clients and their systems are the template's, as the
local hub resolves them (``LocalHub.claims_of``)."""

from __future__ import annotations

import json

from localhub.hub import ApiResponse, LocalHub
from localhub.openapi import api_routes
from localhub.template import Template
from tests.conftest import sample_event
from tests.helpers import JSON, synchronize_service_points
from tests.helpers import post_json as post

CHARGES = json.loads(sample_event("field_work/activities/billing-charges.json")["body"])  # ODM's completion ODM-COMP-77


def refused_as(response: ApiResponse, system: str) -> bool:
    problem = response.json()
    return (
        response.status == 403
        and response.headers["content-type"] == "application/problem+json"
        and problem["claimedSystem"] == system
        and system in problem["detail"]
    )


def linked_activity(hub: LocalHub, activity_id: str) -> dict[str, str]:
    """A CCB meter exchange at SP-1 (synchronized to ODM by FW-06), created in MWM and ODM (FW-01)."""
    synchronize_service_points(hub, "SP-1")
    body = {"sourceSystem": "CCB", "activityId": activity_id, "activityType": "METER-EXCHANGE", "servicePointId": "SP-1"}
    assert post(hub, "/field-work/activities", body, hub.claims_of("CCB")).status == 202
    assert hub.settle(timeout=60) == []
    view = hub.call_api("GET", f"/field-work/activities/CCB/{activity_id}", claims=hub.claims_of("CCB")).json()
    assert view["status"] == "LINKED", view
    return dict(view["links"])


def held_events(hub: LocalHub, system: str, target_id: str) -> list[str]:
    return [e["eventId"] for e in hub.simulators[system].records[f"ACTIVITY#{target_id}"].get("events", [])]


def test_mwm_cannot_post_odms_billable_charges_and_odm_can(hub: LocalHub) -> None:
    # Given ODM's billable completion
    # When MWM's and WAM's tokens post it (as ODM), then ODM's own token, and the queue delivers
    as_mwm = post(hub, "/field-work/billing-charges", CHARGES, hub.claims_of("MWM"))
    as_wam = post(hub, "/field-work/billing-charges", CHARGES, hub.claims_of("WAM"))
    hub.drain()
    billed_before_odm = [m for m in hub.simulators["CCB"].received if m["operation"] == "billable-charges"]
    as_odm = post(hub, "/field-work/billing-charges", CHARGES, hub.claims_of("ODM"))
    hub.drain()

    # Then MWM's token lacks the scope of WAM's and ODM's charges, WAM's is refused naming ODM, and nothing reached
    # CCB until ODM posted it, once
    assert as_mwm.status == 403
    assert "utilhub/field-work-charges" in as_mwm.json()["detail"]
    assert refused_as(as_wam, "ODM"), as_wam.body
    assert billed_before_odm == []
    assert as_odm.status == 202
    assert [m["id"] for m in hub.simulators["CCB"].received if m["operation"] == "billable-charges"] == ["ODM-COMP-77"]


def test_mwm_cannot_cancel_ccbs_activity_as_ccb_nor_create_or_resubmit_one(hub: LocalHub) -> None:
    # Given CCB's activity linked in MWM and ODM
    links = linked_activity(hub, "ID-1")
    cancel = {"eventId": "E-1", "event": "CANCEL", "at": "2026-12-01T08:00:00Z", "reason": "no access"}

    # When MWM's token cancels it as CCB (fromSystem CCB, or no fromSystem under CCB's path), creates one as CCB,
    # and resubmits CCB's activity
    as_ccb = post(hub, "/field-work/activities/CCB/ID-1/events", {**cancel, "fromSystem": "CCB"}, hub.claims_of("MWM"))
    by_path = post(hub, "/field-work/activities/CCB/ID-1/events", {**cancel, "eventId": "E-2"}, hub.claims_of("MWM"))
    created = post(
        hub,
        "/field-work/activities",
        {"sourceSystem": "CCB", "activityId": "ID-2", "activityType": "CONNECT", "servicePointId": "SP-1"},
        hub.claims_of("MWM"),
    )
    resubmitted = hub.call_api("POST", "/field-work/activities/CCB/ID-1/resubmission", claims=hub.claims_of("MWM"))
    hub.drain()

    # Then each is a 403 naming CCB; nothing was forwarded, stored or started
    for response in (as_ccb, by_path, created, resubmitted):
        assert refused_as(response, "CCB"), response.body
    assert held_events(hub, "ODM", links["ODM"]) == []
    view = hub.call_api("GET", "/field-work/activities/CCB/ID-1", claims=hub.claims_of("CCB")).json()
    assert view["status"] == "LINKED"
    assert hub.call_api("GET", "/field-work/activities/CCB/ID-2", claims=hub.claims_of("CCB")).status == 404

    # When MWM cancels as itself, and CCB as itself
    own = post(hub, "/field-work/activities/CCB/ID-1/events", {**cancel, "eventId": "E-3", "fromSystem": "MWM"}, hub.claims_of("MWM"))
    assert own.status == 202, own.body
    hub.drain()
    # Then ODM has MWM's cancellation
    assert held_events(hub, "ODM", links["ODM"]) == ["E-3"]


def test_wam_cannot_acknowledge_what_was_sent_to_odm(hub: LocalHub) -> None:
    # Given a CCB service point sync request sent to ODM (model v2.1), its answer to follow
    hub.simulators["ODM"].add_fault({"kind": "accept_later", "count": 1})
    request = {
        "syncRequestId": "ID-SP1",
        "entityType": "SERVICE_POINT",
        "entityId": "SP-0101",
        "changedAt": "2026-12-01T08:00:00Z",
        "data": {"premiseId": "PR-0101", "spType": "E-RES"},
    }
    assert post(hub, "/field-work/sync-requests", request, hub.claims_of("CCB")).status == 202
    hub.run_schedule("FieldWorkSpSyncMonitorFunction")
    hub.drain()
    ack = {"result": "POSITIVE", "targetId": "OSP-1"}

    # When WAM's token acknowledges it, then ODM's
    as_wam = post(hub, "/field-work/sync-requests/ID-SP1/acknowledgement", ack, hub.claims_of("WAM"))
    status_after_wam = hub.call_api("GET", "/field-work/sync-requests/ID-SP1", claims=hub.claims_of("CCB")).json()["status"]
    as_odm = post(hub, "/field-work/sync-requests/ID-SP1/acknowledgement", ack, hub.claims_of("ODM"))

    # Then WAM is refused naming ODM and changed nothing; ODM's acknowledgement completes it
    assert refused_as(as_wam, "ODM"), as_wam.body
    assert status_after_wam == "SENT"
    assert (as_odm.status, as_odm.json()["status"]) == (200, "SYNCHRONIZED")


def test_only_dacs_acknowledges_dacs_records(hub: LocalHub) -> None:
    # When a token of a client allowed the scope but not the system (local-dev aside, none is) posts DACS's
    # acknowledgements: here CCB's token given the scope, as a misconfigured client would be
    claims = {**hub.claims_of("CCB"), "scope": "utilhub/dacs-ack"}
    response = post(hub, "/dacs/acknowledgements", {"acknowledgements": []}, claims)
    # Then it is refused naming DACS
    assert refused_as(response, "DACS"), response.body


def test_a_client_the_deployment_does_not_know_is_refused_and_local_dev_acts_as_any_system(hub: LocalHub) -> None:
    # Given a token of a client not in UTILHUB_CLIENT_SYSTEMS, with every scope, and local-dev's
    every_scope = " ".join(sorted({scope for client in hub.clients.values() for scope in client.scopes}))
    stranger = {"client_id": "stranger", "scope": every_scope, "token_use": "access"}
    local_dev = {"client_id": "local-dev", "scope": every_scope, "token_use": "access"}

    # When each reads a sync request and posts ODM's charges
    read = hub.call_api("GET", "/meter-data/sync-requests/NONE", claims=stranger)
    charges = post(hub, "/field-work/billing-charges", CHARGES, stranger)
    by_local_dev = post(hub, "/field-work/billing-charges", CHARGES, local_dev)

    # Then the stranger is refused on every route; local-dev (only in the local runtime) may act as ODM
    assert (read.status, read.json()["type"]) == (403, "https://utilhub.dev/problems/unknown-client")
    assert charges.status == 403
    assert by_local_dev.status == 202


def test_the_operators_client_is_refused_on_the_applications_routes(hub: LocalHub) -> None:
    ops = hub.claims_of_client("ops")
    assert hub.call_api("GET", "/ops/dead-letters", claims=ops).status == 200
    assert post(hub, "/field-work/billing-charges", CHARGES, ops).status == 403
    assert hub.call_api("GET", "/meter-data/sync-requests/NONE", claims=ops).status == 403


def test_every_route_requires_in_the_library_the_scope_the_template_gives_it(hub: LocalHub) -> None:
    # Given every scope of the template
    every_scope = {scope for route in api_routes(Template.load()) for scope in route.scopes}
    wrong: list[str] = []
    for route in api_routes(Template.load()):
        # When a token holding every scope but the route's calls it (past API Gateway, as if its authorizer let it)
        claims = {"client_id": "local-dev", "scope": " ".join(sorted(every_scope - set(route.scopes))), "token_use": "access"}
        path = route.path.replace("{", "").replace("}", "")  # each parameter its own name: a valid id
        body = b"{}" if route.method == "POST" else None
        response = hub.call_api(route.method, path, body=body, headers=JSON, claims=claims)
        # Then the function refuses it for the route's own scope (defence in depth, the same scope as the template's)
        if response.status != 403 or route.scopes[0] not in response.json().get("detail", ""):
            wrong.append(f"{route.route_key}: {response.status} {response.body[:120]!r}")
    assert wrong == []
