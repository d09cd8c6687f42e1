"""The operators' view of every pack's transactions (OperationsTransactionsFunction,
functions.operations.transactions.app): transactions driven through the real functions (OC-01 with BRM down, an
MD-01 sync request MDM refuses or takes, an FW-01 activity ODM refuses, an MD-11 usage request CCB refuses) are found by point and state, traced hop by hop, summarized, and an
entity's ids read from the cross-references. Resubmission through the hub's own API is over HTTP
(tests/e2e/test_operations_over_http.py); what is refused before it (404, 409) is here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from localhub.aws import sfn_waits
from localhub.hub import ApiResponse, LocalHub
from tests.conftest import sample_event
from tests.helpers import JSON, post_json, synchronize_service_points
from tests.integration.test_field_work_activities import activity, settled, system
from tests.integration.test_field_work_activities import post as post_activity
from tests.integration.test_meter_data_person_sync import CLAIMS, cycle, person, submit
from tests.integration.test_meter_data_usage_requests import post_batch, usage_request
from tests.integration.test_order_to_cash_fulfillment_orders import brm, line
from tests.integration.test_order_to_cash_fulfillment_orders import submit as submit_order

OPS_CLAIMS = {"client_id": "ops", "scope": "utilhub/ops", "token_use": "access"}


def ops(hub: LocalHub, path: str, query: str = "") -> ApiResponse:
    return hub.call_api("GET", path, claims=OPS_CLAIMS, query=query)


def find(hub: LocalHub, query: str) -> list[dict[str, Any]]:
    answer = ops(hub, "/ops/transactions", query)
    assert answer.status == 200, answer.body
    return answer.json()["items"]  # type: ignore[no-any-return]


def receive(hub: LocalHub, *bodies: dict[str, Any]) -> ApiResponse:
    """MD-01 requests received in a batch: RECEIVED until the monitor's run (one posted alone goes at its intake)."""
    return post_json(hub, "/meter-data/sync-requests:batch", {"requests": list(bodies)}, CLAIMS)


def trace(hub: LocalHub, point: str, transaction_id: str) -> ApiResponse:
    return ops(hub, f"/ops/transactions/{point}/{quote(transaction_id, safe='')}")


def test_an_order_failed_by_a_brm_outage_is_found_and_traced_from_intake_to_brms_answer(hub: LocalHub) -> None:
    # Given an order revision failed by BRM down beyond the workflow's retries
    brm(hub).add_fault({"kind": "down", "count": 100})
    with sfn_waits.scaled(0.001):
        failed = submit_order(hub, {"orderId": "ORD-OPS", "revision": 1, "lines": [line("L1", "SA-OPS", "BA-OPS", "BP-OPS")]})
    assert failed["status"] == "FAILED"

    # When an operator looks for failed OC-01 transactions, and traces the one found
    found = find(hub, "point=OC-01&state=FAILED")
    answer = trace(hub, "OC-01", "ORD-OPS/1")

    # Then it is listed under its id (order/revision) with the reason, and its timeline runs from OSM's intake
    # through every call to BRM (each attempt answered 503) to the workflow's failure
    assert [(t["point"], t["id"], t["state"]) for t in found] == [("OC-01", "ORD-OPS/1", "FAILED")]
    assert found[0]["reason"] == "TargetUnavailable: BRM answered 503"
    assert answer.status == 200, answer.body
    body = answer.json()
    assert (body["state"], body["detailState"]) == ("FAILED", "FAILED")
    steps = [(hop["step"], hop["system"], hop["outcome"]) for hop in body["timeline"]]
    assert steps[0] == ("intake", "OSM", "RUNNING")
    calls = [s for s in steps if s[1] == "BRM"]
    assert len(calls) > 1, steps
    assert {outcome for _, _, outcome in calls} == {"HTTP 503"}, steps
    assert steps[-1] == ("workflow failed", "hub", "FAILED")
    assert [hop["at"] for hop in body["timeline"]] == sorted(hop["at"] for hop in body["timeline"])


def test_a_sync_request_is_journaled_through_its_lifecycle_and_its_entity_is_cross_referenced(hub: LocalHub) -> None:
    # Given a person synchronized to MDM, and another whose request MDM refused
    assert submit(hub, person("SR-OPS-1", "P-OPS-1")).status == 202
    cycle(hub)
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "contact locked in MDM"})
    assert submit(hub, person("SR-OPS-2", "P-OPS-2")).status == 202
    cycle(hub)

    # When an operator reads each of them, the MD-01 transactions by state, and the first person's ids
    done = trace(hub, "MD-01", "SR-OPS-1").json()
    refused = trace(hub, "MD-01", "SR-OPS-2").json()
    completed, failed = find(hub, "point=MD-01&state=COMPLETED"), find(hub, "point=MD-01&state=FAILED")
    ids = ops(hub, "/ops/cross-references", "system=CCB&id=P-OPS-1")

    # Then the synchronized one is COMPLETED, received from CCB, sent, delivered to MDM and acknowledged
    assert (done["state"], done["detailState"]) == ("COMPLETED", "SYNCHRONIZED")
    assert [(h["step"], h["system"]) for h in done["timeline"]] == [
        ("intake", "CCB"),
        ("sent", "hub"),
        ("call POST /sync-requests", "MDM"),
        ("synchronized", "hub"),
    ], done["timeline"]
    # and the refused one FAILED with MDM's answer in its timeline and its reason
    assert (refused["state"], refused["detailState"]) == ("FAILED", "ERROR")
    # (MDM answers a refusal as a negative acknowledgement: the call succeeded, the request is in ERROR with its reason)
    hops = [(h["step"], h["system"], h["outcome"]) for h in refused["timeline"]]
    assert hops == [
        ("intake", "CCB", "PENDING"),
        ("sent", "hub", "SENT"),
        ("call POST /sync-requests", "MDM", "HTTP 200"),
        ("error", "hub", "ERROR"),
    ], hops
    assert refused["timeline"][-1]["detail"] == refused["reason"] != ""
    assert [t["id"] for t in completed] == ["SR-OPS-1"]
    assert [t["id"] for t in failed] == ["SR-OPS-2"]
    # and the person's id in MDM is the one its acknowledgement named
    assert ids.status == 200, ids.body
    mdm_id = hub.simulators["MDM"].records["PERSON#P-OPS-1"]["mdmId"]
    assert ids.json() == {"system": "CCB", "id": "P-OPS-1", "entityType": "PERSON", "ids": {"CCB": "P-OPS-1", "MDM": mdm_id}}
    # and from MDM's side the same
    assert ops(hub, "/ops/cross-references", f"system=MDM&id={mdm_id}").json()["ids"] == {"CCB": "P-OPS-1", "MDM": mdm_id}


def test_the_summary_counts_each_points_transactions_since_a_time(hub: LocalHub) -> None:
    # Given one MD-01 request synchronized, one refused, and one still pending
    assert submit(hub, person("SR-SUM-1", "P-SUM-1")).status == 202
    cycle(hub)
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "locked"})
    assert submit(hub, person("SR-SUM-2", "P-SUM-2")).status == 202
    cycle(hub)
    assert submit(hub, person("SR-SUM-3", "P-SUM-3")).status == 202

    # When an operator asks for the summary since a while ago, and since a time to come
    summary = ops(hub, "/ops/summary", "since=2020-01-01T00:00:00Z")
    later = ops(hub, "/ops/summary", "since=2999-01-01T00:00:00Z")

    # Then MD-01 counts three received, one completed, one failed, one in flight waiting since it was received
    assert summary.status == 200, summary.body
    points = {p["point"]: p for p in summary.json()["points"]}
    md01 = points["MD-01"]
    assert {k: md01[k] for k in ("received", "completed", "failed", "inFlight")} == {
        "received": 3,
        "completed": 1,
        "failed": 1,
        "inFlight": 1,
    }
    assert md01["oldestWaiting"] == trace(hub, "MD-01", "SR-SUM-3").json()["receivedAt"] is not None
    assert summary.json()["since"] == "2020-01-01T00:00:00+00:00"
    assert later.json()["points"] == []


def test_the_summary_gives_each_points_flow_per_hour_and_lists_every_point_of_the_catalogue(hub: LocalHub) -> None:
    # Given one MD-01 request synchronized, one refused, and one still pending, all within this hour
    assert submit(hub, person("SR-SER-1", "P-SER-1")).status == 202
    cycle(hub)
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "locked"})
    assert submit(hub, person("SR-SER-2", "P-SER-2")).status == 202
    cycle(hub)
    assert submit(hub, person("SR-SER-3", "P-SER-3")).status == 202
    received_at = datetime.fromisoformat(trace(hub, "MD-01", "SR-SER-3").json()["receivedAt"])

    # When an operator asks for the summary of the last three hours by the hour
    since = (received_at - timedelta(hours=3)).isoformat()
    summary = ops(hub, "/ops/summary", f"since={quote(since)}&bucket=3600")

    # Then MD-01's series has an hour per bucket from since's to now's, its three received and its completed and
    # failed one in the bucket of the hour they happened
    assert summary.status == 200, summary.body
    assert summary.json()["bucket"] == 3600
    series = {p["point"]: p for p in summary.json()["points"]}["MD-01"]["series"]
    assert len(series) in (4, 5), series  # the hour of since to this hour (one more if the hour turned meanwhile)
    assert [datetime.fromisoformat(b["at"]).minute for b in series] == [0] * len(series)
    now = next(b for b in series if datetime.fromisoformat(b["at"]) <= received_at < datetime.fromisoformat(b["at"]) + timedelta(hours=1))
    assert {k: now[k] for k in ("received", "completed", "failed")} == {"received": 3, "completed": 1, "failed": 1}
    assert sum(b["received"] for b in series) == 3
    # and the catalogue lists every integration point of the packs deployed, with or without transactions
    catalogue = summary.json()["catalogue"]
    assert {"MD-01", "MD-21", "OC-01", "OC-02", "CU-01", "FW-11", "DA-01"} <= set(catalogue)
    assert len(catalogue) == len(set(catalogue)) == 40
    # and a bucket out of range, or too many buckets since since, is refused naming the parameter
    for query in ("bucket=10", "bucket=hour", "since=2020-01-01T00:00:00Z&bucket=3600"):
        refused = ops(hub, "/ops/summary", query)
        assert refused.status == 422, (query, refused.body)
        assert refused.json()["errors"][0]["pointer"] == "#/queryStringParameters/bucket"


def test_a_listing_is_paged_with_a_cursor_until_the_last_page(hub: LocalHub) -> None:
    # Given five MD-01 requests received, each in a batch of its own (a batch waits for the monitor's run: RECEIVED)
    for n in range(5):
        assert receive(hub, person(f"SR-PAGE-{n}", f"P-PAGE-{n}")).status == 202

    # When they are listed two at a time, following the cursor
    pages: list[dict[str, Any]] = []
    query = "point=MD-01&state=RECEIVED&limit=2"
    while True:
        answer = ops(hub, "/ops/transactions", query)
        assert answer.status == 200, answer.body
        pages.append(answer.json())
        if "cursor" not in answer.json():
            break
        query = f"point=MD-01&state=RECEIVED&limit=2&cursor={quote(answer.json()['cursor'])}"

    # Then each request is listed once, newest first, and the last page has no cursor
    listed = [item["id"] for page in pages for item in page["items"]]
    assert sorted(listed) == [f"SR-PAGE-{n}" for n in range(5)]
    assert [len(page["items"]) for page in pages][:2] == [2, 2]
    stamps = [item["updatedAt"] for item in pages[0]["items"] + pages[1]["items"]]
    assert stamps == sorted(stamps, reverse=True)


def test_unknown_transactions_and_invalid_filters_are_refused(hub: LocalHub) -> None:
    # Given a request still PENDING (received in a batch, which waits for the monitor's run)
    assert receive(hub, person("SR-OPS-P", "P-OPS-P")).status == 202

    # Then an unknown transaction is a 404 to read and to resubmit, a pending one a 409 to resubmit
    assert trace(hub, "MD-01", "SR-NOWHERE").status == 404
    unknown = hub.call_api("POST", "/ops/transactions/OC-01/ORD-NONE%2F1/resubmission", body=b"", claims=OPS_CLAIMS)
    assert (unknown.status, unknown.json()["detail"]) == (404, "No transaction ORD-NONE/1 at OC-01.")
    pending = hub.call_api("POST", "/ops/transactions/MD-01/SR-OPS-P/resubmission", body=b"", claims=OPS_CLAIMS)
    assert pending.status == 409
    assert "RECEIVED" in pending.json()["detail"]
    # a bulk resubmission takes FAILED only
    bulk = hub.call_api("POST", "/ops/transactions:resubmit", body='{"state": "COMPLETED"}', headers=JSON, claims=OPS_CLAIMS)
    assert bulk.status == 422
    # and a bad filter or cursor is a 422 naming the parameter
    for query, name in (
        ("state=DONE", "state"),
        ("point=oc1", "point"),
        ("limit=501", "limit"),
        ("since=yesterday", "since"),
        ("cursor=xyz", "cursor"),
    ):
        refused = ops(hub, "/ops/transactions", query)
        assert refused.status == 422, (query, refused.body)
        assert refused.json()["errors"][0]["pointer"] == f"#/queryStringParameters/{name}"
    assert ops(hub, "/ops/cross-references", "system=CCB&id=P-NOWHERE").status == 404


def test_only_an_operator_reads_the_transactions(hub: LocalHub) -> None:
    ccb = {"client_id": "ccb", "scope": "utilhub/meter-data", "token_use": "access"}
    assert hub.call_api("GET", "/ops/transactions", claims=ccb).status == 403
    assert hub.call_api("GET", "/ops/summary", claims=ccb).status == 403


def test_the_handler_answers_its_sample_event_as_lambda_invokes_it(hub: LocalHub) -> None:
    listing = hub.invoke("OperationsTransactionsFunction", sample_event("operations/transactions/list.json")).result
    assert listing["statusCode"] == 200, listing
    assert '"items": []' in listing["body"] or '"items":[]' in listing["body"]


def test_a_field_activity_a_routed_system_refused_is_failed_with_each_systems_answer(hub: LocalHub) -> None:
    # Given ODM refusing the next activity while MWM takes it: the activity ends in ERROR, MWM's canceled
    synchronize_service_points(hub, "SP-1")
    system(hub, "ODM").add_fault({"kind": "reject", "count": 1, "reason": "service point unknown at ODM"})
    assert post_activity(hub, activity("A-OPS")).status == 202
    assert settled(hub, "CCB", "A-OPS")["status"] == "ERROR"

    # When an operator finds the failed FW-01 transactions and traces the activity
    found = find(hub, "point=FW-01&state=FAILED")
    body = trace(hub, "FW-01", "CCB/A-OPS").json()

    # Then it is listed as <source>/<id>, and its timeline has CCB's intake, each system's answer and the error
    assert [(t["id"], t["state"]) for t in found] == [("CCB/A-OPS", "FAILED")]
    assert (body["state"], body["detailState"]) == ("FAILED", "ERROR")
    hops = [(h["step"], h["system"], h["outcome"]) for h in body["timeline"]]
    assert hops[0] == ("intake", "CCB", "CREATING")
    assert {(system_, outcome) for _, system_, outcome in hops if system_ in ("MWM", "ODM")} >= {
        ("MWM", "HTTP 201"),
        ("ODM", "HTTP 422"),
    }, hops
    assert hops[-1][0::2] == ("error", "ERROR")
    assert "ODM" in body["reason"]


def test_a_usage_request_ccb_refused_is_failed_with_mdms_and_ccbs_answers(hub: LocalHub) -> None:
    # Given CCB refusing the next determinants it receives
    hub.simulators["CCB"].add_fault({"kind": "reject", "count": 1, "reason": "bill segment locked"})
    assert post_batch(hub, [usage_request(77)]).status == 202
    hub.drain()

    # When an operator traces the usage request
    body = trace(hub, "MD-11", "UR-00077").json()

    # Then it FAILED with CCB's status, after MDM's determinants
    assert (body["state"], body["detailState"], body["reason"]) == ("FAILED", "ERROR", "CCB refused the determinants: HTTP 422")
    hops = [(h["step"], h["system"], h["outcome"]) for h in body["timeline"]]
    assert hops == [
        ("intake", "CCB", "PENDING"),
        ("sent", "hub", "SENT"),
        ("call POST /usage/bill-determinants", "MDM", "HTTP 200"),
        ("call POST /bill-determinants", "CCB", "HTTP 422"),
        ("error", "hub", "ERROR"),
    ], hops


def test_relayed_notifications_are_journaled_from_acceptance_to_delivery_or_refusal(hub: LocalHub) -> None:
    from tests.integration.test_meter_data_billing_relays import bill_status, sample_body, settle_relay
    from tests.integration.test_meter_data_billing_relays import post as post_relayed

    # Given CCB down for its next call, and MDM refusing the next bill status update
    hub.simulators["CCB"].add_fault({"kind": "down", "count": 1})
    hub.simulators["MDM"].add_fault({"kind": "reject", "count": 1, "reason": "usage transaction UT-404 is not final"})

    # When MDM sends a bill cycle change (MD-20) and CCB a bill status (MD-16), and the relay delivers until settled
    assert post_relayed(hub, "/meter-data/bill-cycle-changes", sample_body("bill-cycle-changes.json")).status == 202
    assert bill_status(hub, "UT-404", {"eventId": "E-404", "event": "SEGMENT_FROZEN"}).status == 202
    assert [(t["id"], t["state"]) for t in find(hub, "point=MD-20")] == [("MDM-BCC-3001", "RECEIVED")]
    settle_relay(hub)

    # Then the bill cycle change is completed, its timeline from acceptance through CCB's 503, the failed try, and
    # the call that got through to its delivery
    assert [(t["id"], t["state"]) for t in find(hub, "point=MD-20")] == [("MDM-BCC-3001", "COMPLETED")]
    delivered = trace(hub, "MD-20", "MDM-BCC-3001").json()
    assert (delivered["state"], delivered["detailState"]) == ("COMPLETED", "DELIVERED")
    steps = [(hop["step"], hop["system"], hop["outcome"]) for hop in delivered["timeline"]]
    assert steps == [
        ("accepted", "hub", "QUEUED"),
        ("call POST /bill-cycle-changes", "CCB", "HTTP 503"),
        ("delivery", "hub", "RETRY"),
        ("call POST /bill-cycle-changes", "CCB", "HTTP 201"),
        ("delivered", "hub", "DELIVERED"),
    ], steps

    # And the refused bill status is failed with MDM's answer, kept in the dead-letter queue (redriven, not resubmitted)
    [refused] = find(hub, "point=MD-16&state=FAILED")
    assert (refused["id"], refused["reason"]) == ("UT-404/E-404", "HTTP 422; kept in the dead-letter queue")
    answer = trace(hub, "MD-16", "UT-404/E-404")
    assert answer.status == 200, answer.body
    body = answer.json()
    assert [(hop["step"], hop["system"], hop["outcome"]) for hop in body["timeline"]] == [
        ("accepted", "hub", "QUEUED"),
        ("call POST /usage-transactions/UT-404/bill-usage", "MDM", "HTTP 422"),
        ("refused", "hub", "REFUSED"),
    ]
    assert "resubmit" not in body or not body["resubmit"]


def test_a_customer_order_failed_by_ccb_and_an_update_retried_past_ccb_down_are_journaled(hub: LocalHub) -> None:
    from tests.integration.test_customer_siebel_customers import account, ccb, order, post_order, post_update

    # Given an order whose second customer meets CCB down, then a customer synchronized and CCB down for one call
    ccb(hub).add_fault({"kind": "down", "count": 3, "after": 2})
    assert post_order(hub, order("SO-OPS-1", account("OPS-B1"), account("OPS-B2"))).status == 502
    assert post_order(hub, order("SO-OPS-2", account("OPS-G1"))).status == 200
    ccb(hub).add_fault({"kind": "down", "count": 1})

    # When an update comes for it, and the queue redelivers it after the failure
    assert post_update(hub, "OPS-G1", {"updateId": "U-OPS", "changedAt": "2099-01-01T00:00:00Z", "name": "Grace Hopper"}).status == 202
    hub.drain()
    hub.expire_visibility()
    hub.drain()

    # Then the failed order is FAILED with CCB's outage as its reason, its first customer created before it
    [failed] = find(hub, "point=CU-01&state=FAILED")
    assert (failed["id"], failed["reason"]) == ("SO-OPS-1", "502 Bad gateway: CCB answered an error: CCB answered 503")
    steps = [(hop["step"], hop["system"], hop["outcome"]) for hop in trace(hub, "CU-01", "SO-OPS-1").json()["timeline"]]
    assert steps[0] == ("intake", "Siebel", "SYNCHRONIZING")
    assert ("customer OPS-B1", "CCB", "CREATED") in steps
    assert "HTTP 503" in {outcome for _, system, outcome in steps if system == "CCB"}
    assert steps[-1] == ("failed", "hub", "ERROR")
    # and the other order COMPLETED, naming what each customer became
    [done] = find(hub, "point=CU-01&state=COMPLETED")
    assert (done["id"], done["reason"]) == ("SO-OPS-2", "OPS-G1 CREATED")

    # And the update is COMPLETED (applied), its timeline from Siebel's intake through the failed try to the delivery
    answer = trace(hub, "CU-02", "OPS-G1/U-OPS")
    assert answer.status == 200, answer.body
    update = answer.json()
    assert (update["state"], update["detailState"]) == ("COMPLETED", "APPLIED")
    update_steps = [(hop["step"], hop["system"], hop["outcome"]) for hop in update["timeline"]]
    assert update_steps[0] == ("intake", "Siebel", "QUEUED")
    assert ("delivery", "hub", "RETRYING") in update_steps
    assert update_steps[-1] == ("delivered", "CCB", "APPLIED")


def test_a_moved_dacs_file_and_one_deleted_before_its_move_are_journaled_by_their_keys(hub: LocalHub) -> None:
    import boto3

    from tests.integration.test_dacs_file_transfer import bucket, contacts, extract_bytes, notifications_of, put_extract, redeliver
    from utilhub.packs.dacs.extract_file import Kind

    # Given a contacts file written under extract/ and moved, and another deleted there before its notification came
    data = extract_bytes(Kind.CONTACT, contacts(2))
    put_extract(hub, "contacts-ops1.tsv", data)
    hub.drain()
    put_extract(hub, "contacts-ops2.tsv", data)
    assert len(notifications_of(hub)) == 1  # its notification still queued
    version = boto3.client("s3").head_object(Bucket=bucket(hub), Key="extract/contacts-ops2.tsv")["VersionId"]
    boto3.client("s3").delete_object(Bucket=bucket(hub), Key="extract/contacts-ops2.tsv")
    redeliver(hub, [])  # delivers the queued notification

    # When an operator looks for DA-03 transactions
    completed, failed = find(hub, "point=DA-03&state=COMPLETED"), find(hub, "point=DA-03&state=FAILED")

    # Then the moved file is completed under its key, its timeline the move to upload/
    assert [(t["id"], t["reason"]) for t in completed] == [("extract/contacts-ops1.tsv", f"upload/contacts-ops1.tsv, {len(data)} bytes")]
    answer = trace(hub, "DA-03", "extract/contacts-ops1.tsv")
    assert answer.status == 200, answer.body
    assert [(h["step"], h["system"], h["outcome"]) for h in answer.json()["timeline"]] == [("move", "S3", "MOVED")]
    # and the deleted one failed, naming the version to restore
    assert [(t["id"], t["reason"]) for t in failed] == [
        ("extract/contacts-ops2.tsv", f"deleted under extract/ before it was moved: restore its version {version} under extract/")
    ]
